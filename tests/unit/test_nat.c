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
golden_full(const char *name, const struct vmspec *s, unsigned n,
    const struct port_range *masq, const char *policy,
    const struct fw_counters *keep)
{
	static char buf[256 * 1024];
	struct policy *pol = NULL;
	struct vm store[8];
	struct vm_list vms;
	char err[1024];

	assert_true(n <= 8);
	build(&vms, store, s, n);
	if (policy) {
		pol = parse_policy_text("test.conf", policy, strlen(policy),
		    NULL, err, sizeof(err));
		if (!pol)
			fail_msg("policy: %s", err);
	}
	assert_golden(name, buf, nat_render(&vms, masq, pol, keep, buf,
	    sizeof(buf)));
	policy_free(pol);
}

static void
golden_masq(const char *name, const struct vmspec *s, unsigned n,
    const struct port_range *masq)
{
	golden_full(name, s, n, masq, NULL, NULL);
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

static const struct vmspec three[] = {
	{ "dev", "vmn-dev", VM_MODE_NAT, 5, "172.20.1.0/24",
	  "fd00:1:2:3::/64", { NULL, NULL } },
	{ "ci", "vmn-ci", VM_MODE_NAT, 6, "172.20.2.0/24", NULL,
	  { "web", NULL } },
	{ "web", "vmn-web", VM_MODE_NAT, 7, "172.20.3.0/24",
	  "fd00:1:2:4::/64", { NULL, NULL } },
};

/*
 * Every kind of rule: sets of both families and of ports, prefixes, the
 * host, other VMs (and their copies into the other VM's in chain), reject
 * split into a reset and an ICMP error, rules for some VMs only.
 */
static void
test_policy(void **state)
{
	static const char policy[] =
	    "set corp { 10.0.0.0/8 192.168.0.0/16 fd00::/8 }\n"
	    "set web { 80 443 8000-8999 }\n"
	    "firewall {\n"
	    "	deny out tcp to @corp port 22\n"
	    "	reject out to 192.0.2.0/24 2001:db8::/32\n"
	    "	allow out tcp udp to 1.1.1.1 2606:4700::1111 port 53\n"
	    "}\n"
	    "firewall \"dev\" {\n"
	    "	allow in tcp from 203.0.113.0/24 port @web\n"
	    "	allow out tcp to vm \"web\" port 80\n"
	    "	reject in tcp from host port 22\n"
	    "	deny out to host\n"
	    "	allow in icmp\n"
	    "}\n"
	    "firewall \"web\" {\n"
	    "	deny in from vm \"ci\"\n"
	    "}\n";

	golden_full("policy", three, 3, NULL, policy, NULL);
}

/* The counters' values are carried into the new table. */
static void
test_policy_counters_kept(void **state)
{
	static const char policy[] =
	    "firewall \"ci\" {\n\tdeny out udp port 53\n}\n";
	struct fw_counters keep = { 0 };
	char d[FW_COUNTER_NAME], c[FW_COUNTER_NAME];
	char text[512];
	struct policy *pol;
	char err[256];

	/* The listing as nft gives it, with ci's real counter names. */
	pol = parse_policy_text("t.conf", policy, strlen(policy), NULL, err,
	    sizeof(err));
	assert_non_null(pol);
	fw_drop_counter_name("ci", d);
	fw_counter_name("ci", &pol->rules[0], 0, c);
	snprintf(text, sizeof(text), "table inet vmnetd {\n"
	    "\tcounter %s {\n\t\tpackets 7 bytes 420\n\t}\n"
	    "\tcounter %s {\n\t\tpackets 3 bytes 99\n\t}\n"
	    "\tcounter unrelated {\n\t\tpackets 1 bytes 1\n\t}\n"
	    "}\n", d, c);
	assert_int_equal(fw_counters_parse(text, &keep), 0);
	assert_int_equal(keep.n, 2);
	assert_int_equal(fw_counters_find(&keep, c)->bytes, 99);
	golden_full("policy-kept", three, 3, NULL, policy, &keep);
	fw_counters_free(&keep);
	policy_free(pol);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_vms),
		cmocka_unit_test(test_two_vms),
		cmocka_unit_test(test_only_linked_nat_vms),
		cmocka_unit_test(test_masquerade_range),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_counters_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
