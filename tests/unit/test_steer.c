/*
 * test_steer.c - the mirrored-mode steering table, against goldens
 *
 * steer_render() turns the mirrored guests into the batch that replaces
 * table "netdev vmnetd_mirror". Each case is a set of guests and a golden
 * in tests/unit/nft/ (VMN_SRCDIR); tests/netns/mirrored.sh loads the
 * goldens into a kernel. VMN_UPDATE_GOLDENS=1 writes them instead.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "steer.h"

static void
golden_policy(const char *name, const struct steer_guest *g, unsigned n,
    const struct policy *pol)
{
	static char buf[65536];

	assert_golden(name, buf, steer_render(g, n, pol, NULL, buf,
	    sizeof(buf)));
}

static void
golden(const char *name, const struct steer_guest *g, unsigned n)
{
	golden_policy(name, g, n, NULL);
}

static void
guest(struct steer_guest *g, const char *name, const char *link,
    const char *uplink, uint16_t lo, uint16_t hi)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->link, sizeof(g->link), "%s", link);
	snprintf(g->uplink, sizeof(g->uplink), "%s", uplink);
	assert_int_equal(vmn_mac_parse("02:5e:00:00:00:01", g->mac), 0);
	g->slice_lo = lo;
	g->slice_hi = hi;
	assert_int_equal(vmn_ip_parse("203.0.113.2", &g->addrs[0]), 0);
	assert_int_equal(vmn_ip_parse("2001:db8:1::2", &g->addrs[1]), 0);
	g->naddrs = 2;
	g->inbound = true;
}

static void
test_none(void **state)
{
	golden("mirror-none", NULL, 0);
}

/* Listeners outside the slice join it in the sets; one inside does not. */
static void
test_one(void **state)
{
	struct steer_guest g;

	guest(&g, "g1", "vmn-g1", "up0", 56832, 60927);
	g.tcp[g.ntcp++] = 8080;
	g.tcp[g.ntcp++] = 57000;
	g.udp[g.nudp++] = 5300;
	golden("mirror-one", &g, 1);
}

/* Two guests on one uplink share its chain; a third has its own. */
static void
test_two_uplinks(void **state)
{
	struct steer_guest g[3];

	guest(&g[0], "g1", "vmn-g1", "up0", 56832, 60927);
	guest(&g[1], "g2", "vmn-g2", "up0", 52736, 56831);
	guest(&g[2], "g3", "vmn-g3", "up1", 48640, 52735);
	g[2].naddrs = 1;	/* IPv4 only */
	g[1].tcp[g[1].ntcp++] = 22;
	golden("mirror-three", g, 3);
}

/*
 * One guest on two uplinks: an Ethernet one, and a VPN's tun (no MACs:
 * routed to its addresses, no ARP or neighbour discovery to answer).
 */
static void
test_l3_uplink(void **state)
{
	struct steer_guest g[2];

	guest(&g[0], "g1", "vmn-g1", "up0", 56832, 60927);
	guest(&g[1], "g1", "vmn-g1+1", "tun0", 56832, 60927);
	g[1].l3 = true;
	assert_int_equal(vmn_mac_parse("02:5e:00:00:00:02", g[1].mac), 0);
	assert_int_equal(vmn_ip_parse("10.8.0.2", &g[1].addrs[0]), 0);
	assert_int_equal(vmn_ip_parse("fd00:8::2", &g[1].addrs[1]), 0);
	g[1].tcp[g[1].ntcp++] = 8080;
	golden("mirror-l3", g, 2);
}

/* A rule of the policy's first scope, with a peer prefix (or none). */
static struct policy_rule *
add_rule(struct policy *pol, enum policy_action action, enum policy_dir dir,
    unsigned protos, const char *peer, uint16_t port)
{
	struct policy_rule *r;

	assert_non_null(r = policy_add_rule(pol));
	r->action = action;
	r->dir = dir;
	r->protos = protos;
	if (peer) {
		r->targets[0].kind = POLICY_T_PREFIX;
		assert_int_equal(vmn_prefix_parse(peer, &r->targets[0].pfx), 0);
		r->ntargets = 1;
	}
	if (port) {
		r->ports[0].lo = r->ports[0].hi = port;
		r->nports = 1;
	}
	return r;
}

/*
 * g1's rules: its listeners through in_0 (the LAN's peers allowed, a port
 * refused, the rest to the host as inbound deny says), what it sends
 * through out_0; g2 has none and is steered as without a policy.
 */
static void
test_policy(void **state)
{
	struct policy_scope only_g1 = { .nvms = 1, .vms = { "g1" } };
	struct steer_guest g[2];
	struct policy *pol;

	guest(&g[0], "g1", "vmn-g1", "up0", 56832, 60927);
	g[0].inbound = false;
	g[0].tcp[g[0].ntcp++] = 8080;
	g[0].tcp[g[0].ntcp++] = 22;
	g[0].udp[g[0].nudp++] = 5300;
	guest(&g[1], "g2", "vmn-g2", "up0", 52736, 56831);
	g[1].tcp[g[1].ntcp++] = 9000;
	assert_non_null(pol = policy_new());
	assert_int_equal(policy_add_scope(pol, &only_g1), 0);
	add_rule(pol, POLICY_ALLOW, POLICY_IN, POLICY_TCP, "203.0.113.0/24",
	    8080);
	add_rule(pol, POLICY_ALLOW, POLICY_IN, POLICY_TCP, "2001:db8:1::/64",
	    8080);
	add_rule(pol, POLICY_REJECT, POLICY_IN, POLICY_TCP, NULL, 22);
	add_rule(pol, POLICY_DENY, POLICY_OUT, POLICY_UDP, "203.0.113.1/32",
	    53);
	add_rule(pol, POLICY_REJECT, POLICY_OUT, 0, "2001:db8:1::1/128", 0);
	golden_policy("mirror-policy", g, 2, pol);
	policy_free(pol);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_two_uplinks),
		cmocka_unit_test(test_l3_uplink),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
