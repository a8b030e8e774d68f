/*
 * test_nat.c - the nftables table host-netd renders, against goldens
 *
 * nat_render() turns the VMs into the one batch that replaces table
 * "inet vmnetd". Each case here is a set of VMs and a golden file in
 * tests/unit/nft/ (found through VMN_SRCDIR) with the exact text; a change
 * to the ruleset shows in review as a change to a golden.
 * VMN_UPDATE_GOLDENS=1 writes the files instead of comparing.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "host-netd.h"

struct vmspec {
	const char	*name;
	const char	*ifname;
	enum vm_mode	 mode;
	int		 ifindex;	/* 0: no link yet */
	const char	*subnet4;
	const char	*subnet6;	/* NULL: IPv4 only */
	const char	*allow[2];
};

static void
build(struct vm_list *vms, struct vm *store, const struct vmspec *s,
    unsigned n)
{
	unsigned i, j;

	TAILQ_INIT(vms);
	memset(store, 0, n * sizeof(*store));
	for (i = 0; i < n; i++) {
		struct vm *vm = &store[i];

		snprintf(vm->conf.name, sizeof(vm->conf.name), "%s", s[i].name);
		snprintf(vm->conf.host_ifname, sizeof(vm->conf.host_ifname),
		    "%s", s[i].ifname);
		vm->conf.mode = s[i].mode;
		vm->ifindex = s[i].ifindex;
		assert_int_equal(vmn_prefix_parse(s[i].subnet4, &vm->subnet4),
		    0);
		if (s[i].subnet6)
			assert_int_equal(vmn_prefix_parse(s[i].subnet6,
			    &vm->subnet6), 0);
		for (j = 0; j < 2 && s[i].allow[j]; j++)
			snprintf(vm->conf.allow[vm->conf.nallow++],
			    sizeof(vm->conf.allow[0]), "%s", s[i].allow[j]);
		TAILQ_INSERT_TAIL(vms, vm, entry);
	}
}

static void
golden_masq(const char *name, const struct vmspec *s, unsigned n,
    const struct port_range *masq)
{
	static char buf[65536];
	struct vm store[8];
	struct vm_list vms;

	assert_true(n <= 8);
	build(&vms, store, s, n);
	assert_golden(name, buf, nat_render(&vms, masq, buf, sizeof(buf)));
}

static void
golden(const char *name, const struct vmspec *s, unsigned n)
{
	golden_masq(name, s, n, NULL);
}

static void
test_no_vms(void **state)
{
	golden("empty", NULL, 0);
}

/* Anti-spoofing per family, allow-vm one way only, masquerade. */
static void
test_two_vms(void **state)
{
	static const struct vmspec s[] = {
		{ "g1", "vmn-g1", VM_MODE_NAT, 5, "172.20.1.0/24",
		  "fd00:1:2:3::/64", { "g2", NULL } },
		{ "g2", "vmn-g2", VM_MODE_NAT, 6, "172.20.2.0/24", NULL,
		  { NULL, NULL } },
	};

	golden("two-vms", s, 2);
}

/* A VM without its link yet and one in mode none are not in the table. */
static void
test_only_linked_nat_vms(void **state)
{
	static const struct vmspec s[] = {
		{ "up", "vmn-up", VM_MODE_NAT, 7, "172.20.3.0/24",
		  "fd00:1:2:4::/64", { "pending", "bare" } },
		{ "pending", "vmn-pending", VM_MODE_NAT, 0, "172.20.4.0/24",
		  NULL, { NULL, NULL } },
		{ "bare", "vmn-bare", VM_MODE_NONE, 9, "172.20.5.0/24", NULL,
		  { NULL, NULL } },
	};

	golden("linked-only", s, 3);
}

/* Mirrored guests' slices taken: masquerading keeps below them. */
static void
test_masquerade_range(void **state)
{
	static const struct vmspec s[] = {
		{ "g1", "vmn-g1", VM_MODE_NAT, 5, "172.20.1.0/24", NULL,
		  { NULL, NULL } },
	};
	const struct port_range masq = { 32768, 52807 };

	golden_masq("masq-range", s, 1, &masq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_vms),
		cmocka_unit_test(test_two_vms),
		cmocka_unit_test(test_only_linked_nat_vms),
		cmocka_unit_test(test_masquerade_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
