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
golden(const char *name, const struct steer_guest *g, unsigned n)
{
	static char buf[65536];

	assert_golden(name, buf, steer_render(g, n, buf, sizeof(buf)));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_two_uplinks),
		cmocka_unit_test(test_l3_uplink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
