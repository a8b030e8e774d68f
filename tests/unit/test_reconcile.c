/*
 * test_reconcile.c - unit tests for which ports host-netd forwards
 * (portfwd/reconcile.c)
 *
 * Covers: the guest's listeners as reported (a port per protocol, its
 * families as bits, a removal per family, a full table, a new session's
 * list replacing the old one without dropping what is listed again);
 * which listeners get an automatic forward and on which loopback families
 * (auto-forward off, static forwards holding 127.0.0.1, ::1, both, or an
 * unspecified address, statics elsewhere or for another port or protocol
 * holding nothing; ports below the host's ip_unprivileged_port_start only
 * when the rules allow them, UDP 67, 68, 5353 and 5355 never); reverse forwards keeping their counters and last
 * error across a reload.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "testutil.h"
#include "reconcile.h"

static struct hostfwd_static
st(uint8_t proto, uint16_t host_port, uint16_t guest_port, const char *addr)
{
	struct hostfwd_static s = {
		.proto = proto, .host_port = host_port, .guest_port = guest_port,
	};

	assert_int_equal(vmn_ip_parse(addr, &s.addr), 0);
	return s;
}

static void
test_listeners(void **state)
{
	struct glisteners gl;
	struct glistener *l;

	assert_int_equal(glisteners_init(&gl, 3), 0);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 80), 1);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET6, 80), 0);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET6, 80), 0);
	assert_int_equal(glisteners_add(&gl, IPPROTO_UDP, AF_INET, 80), 1);
	assert_int_equal(gl.n, 2);
	l = glisteners_find(&gl, IPPROTO_TCP, 80);
	assert_non_null(l);
	assert_int_equal(l->families, FAM_BOTH);
	assert_null(glisteners_find(&gl, IPPROTO_TCP, 81));

	/* A family goes; the port stays for the other one. */
	glisteners_del(&gl, IPPROTO_TCP, AF_INET, 80);
	l = glisteners_find(&gl, IPPROTO_TCP, 80);
	assert_non_null(l);
	assert_int_equal(l->families, FAM_V6);
	glisteners_del(&gl, IPPROTO_TCP, AF_INET6, 80);
	assert_null(glisteners_find(&gl, IPPROTO_TCP, 80));
	assert_non_null(glisteners_find(&gl, IPPROTO_UDP, 80));
	glisteners_del(&gl, IPPROTO_TCP, AF_INET6, 9999);	/* unknown */
	assert_int_equal(gl.n, 1);

	/* Full: a new port is refused, a known one still takes a family. */
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 1), 1);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 2), 1);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 3),
	    -ENOSPC);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET6, 2), 0);
	glisteners_free(&gl);
}

static void
test_new_session(void **state)
{
	struct glisteners gl;

	assert_int_equal(glisteners_init(&gl, 8), 0);
	glisteners_add(&gl, IPPROTO_TCP, AF_INET, 80);
	glisteners_add(&gl, IPPROTO_TCP, AF_INET, 443);
	glisteners_add(&gl, IPPROTO_UDP, AF_INET, 53);

	/* The guest comes back listing 443 and 8080 only. */
	glisteners_mark_stale(&gl);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 443), 0);
	assert_int_equal(glisteners_add(&gl, IPPROTO_TCP, AF_INET, 8080), 1);
	assert_int_equal(gl.n, 4);	/* nothing goes before SYNCED */
	glisteners_sweep(&gl);
	assert_int_equal(gl.n, 2);
	assert_non_null(glisteners_find(&gl, IPPROTO_TCP, 443));
	assert_non_null(glisteners_find(&gl, IPPROTO_TCP, 8080));
	assert_null(glisteners_find(&gl, IPPROTO_TCP, 80));
	assert_null(glisteners_find(&gl, IPPROTO_UDP, 53));
	glisteners_free(&gl);
}

static enum auto_verdict
decide(const struct auto_rules *r, uint8_t families, uint8_t proto,
    uint16_t port, uint8_t *held)
{
	struct glistener l = { .proto = proto, .port = port,
	    .families = families };
	struct auto_want w;

	auto_decide(r, families ? &l : NULL, proto, port, &w);
	if (held)
		*held = w.held;
	if (families)
		assert_int_equal(w.families, families);
	return w.verdict;
}

static void
test_auto_basics(void **state)
{
	struct auto_rules r = { .enabled = true, .unpriv_start = 1024 };
	uint8_t held;

	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 8000, &held),
	    AUTO_FORWARD);
	assert_int_equal(held, 0);
	assert_int_equal(decide(&r, FAM_V6, IPPROTO_UDP, 8000, NULL),
	    AUTO_FORWARD);
	assert_int_equal(decide(&r, 0, IPPROTO_TCP, 8000, NULL),
	    AUTO_NOT_LISTENING);
	r.enabled = false;
	assert_int_equal(decide(&r, FAM_BOTH, IPPROTO_TCP, 8000, NULL),
	    AUTO_DISABLED);
}

static void
test_auto_privileged(void **state)
{
	struct auto_rules r = { .enabled = true, .unpriv_start = 1024 };

	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 22, NULL),
	    AUTO_PRIVILEGED);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, 1023, NULL),
	    AUTO_PRIVILEGED);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 1024, NULL),
	    AUTO_FORWARD);
	/* The sysctl says where privilege ends. */
	r.unpriv_start = 80;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 80, NULL),
	    AUTO_FORWARD);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 79, NULL),
	    AUTO_PRIVILEGED);
	r.unpriv_start = 0;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 1, NULL),
	    AUTO_FORWARD);
	/* The configuration allows them. */
	r.unpriv_start = 1024;
	r.privileged = true;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 22, NULL),
	    AUTO_FORWARD);
	/* Still the guest's port only while it listens. */
	assert_int_equal(decide(&r, 0, IPPROTO_TCP, 22, NULL),
	    AUTO_NOT_LISTENING);
}

static void
test_auto_ignored(void **state)
{
	struct auto_rules r = { .enabled = true, .privileged = true,
	    .unpriv_start = 1024 };
	static const uint16_t udp[] = { 67, 68, 5353, 5355 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(udp); i++) {
		assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, udp[i], NULL),
		    AUTO_IGNORED);
		assert_non_null(auto_ignored(IPPROTO_UDP, udp[i]));
	}
	assert_string_equal(auto_ignored(IPPROTO_UDP, 5353), "mDNS");
	/* UDP only: a TCP service on 5353 is somebody's server. */
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 5353, NULL),
	    AUTO_FORWARD);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, 5354, NULL),
	    AUTO_FORWARD);
	assert_null(auto_ignored(IPPROTO_TCP, 5355));
}

static void
test_auto_statics(void **state)
{
	struct hostfwd_static s[4];
	struct auto_rules r = { .enabled = true, .unpriv_start = 1024,
	    .st = s };
	uint8_t held;

	/* A static forward on 127.0.0.1 holds IPv4; ::1 is the guest's. */
	s[0] = st(IPPROTO_TCP, 9500, 9200, "127.0.0.1");
	r.nst = 1;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 9500, &held),
	    AUTO_FORWARD);
	assert_int_equal(held, FAM_V4);
	/* Not for another port or protocol. */
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 9501, &held),
	    AUTO_FORWARD);
	assert_int_equal(held, 0);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, 9500, &held),
	    AUTO_FORWARD);
	assert_int_equal(held, 0);

	/* And on ::1 too: nothing is left for the guest's own port. */
	s[1] = st(IPPROTO_TCP, 9500, 9300, "::1");
	r.nst = 2;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 9500, &held),
	    AUTO_HELD);
	assert_int_equal(held, FAM_BOTH);

	/* An unspecified address covers its family's loopback. */
	s[0] = st(IPPROTO_UDP, 5000, 5000, "0.0.0.0");
	s[1] = st(IPPROTO_UDP, 5000, 5001, "::");
	assert_int_equal(decide(&r, FAM_V6, IPPROTO_UDP, 5000, &held),
	    AUTO_HELD);

	/* A static forward on another address holds no loopback port. */
	s[0] = st(IPPROTO_TCP, 7000, 7000, "192.0.2.1");
	s[1] = st(IPPROTO_TCP, 7000, 7000, "2001:db8::1");
	assert_int_equal(decide(&r, FAM_BOTH, IPPROTO_TCP, 7000, &held),
	    AUTO_FORWARD);
	assert_int_equal(held, 0);
	assert_int_equal(statics_holding(s, 2, IPPROTO_TCP, 7000), 0);
}

static void
test_covers_loopback(void **state)
{
	static const struct {
		const char	*addr;
		bool		 covers;
	} cases[] = {
		{ "127.0.0.1", true }, { "::1", true }, { "0.0.0.0", true },
		{ "::", true }, { "127.0.0.2", false }, { "10.0.0.1", false },
		{ "fe80::1", false },
	};
	struct vmn_ip ip;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(vmn_ip_parse(cases[i].addr, &ip), 0);
		if (static_covers_loopback(&ip) != cases[i].covers)
			fail_msg("%s", cases[i].addr);
	}
}

static void
test_rfwds_reload(void **state)
{
	struct rfwd_state cur[HOSTFWD_MAX_RFWDS];
	struct hostfwd_rfwd rv[HOSTFWD_MAX_RFWDS + 4];
	unsigned n, i;

	memset(cur, 0xa5, sizeof(cur));	/* what was there is overwritten */
	rv[0] = (struct hostfwd_rfwd){ IPPROTO_TCP, 3128, 3128 };
	rv[1] = (struct hostfwd_rfwd){ IPPROTO_TCP, 3129, 13129 };
	n = rfwds_merge(cur, 0, rv, 2);
	assert_int_equal(n, 2);
	assert_int_equal(cur[0].conns, 0);
	assert_string_equal(cur[0].error, "");
	cur[0].conns = 7;
	cur[1].conns = 3;
	snprintf(cur[1].error, sizeof(cur[1].error), "host port 3129: refused");

	/* 3128 goes, 3129 stays (its guest port changed), 3130 comes. */
	rv[0] = (struct hostfwd_rfwd){ IPPROTO_TCP, 3130, 3130 };
	rv[1] = (struct hostfwd_rfwd){ IPPROTO_TCP, 3129, 23129 };
	n = rfwds_merge(cur, n, rv, 2);
	assert_int_equal(n, 2);
	assert_int_equal(cur[0].f.port, 3130);
	assert_int_equal(cur[0].conns, 0);
	assert_string_equal(cur[0].error, "");
	assert_int_equal(cur[1].f.guest_port, 23129);
	assert_int_equal(cur[1].conns, 3);
	assert_string_equal(cur[1].error, "host port 3129: refused");
	assert_ptr_equal(rfwds_find(cur, n, IPPROTO_TCP, 3129), &cur[1]);
	assert_null(rfwds_find(cur, n, IPPROTO_TCP, 3128));
	assert_null(rfwds_find(cur, n, IPPROTO_UDP, 3129));

	/* More than the table holds: the first ones. */
	for (i = 0; i < ARRAY_SIZE(rv); i++)
		rv[i] = (struct hostfwd_rfwd){ IPPROTO_TCP,
		    (uint16_t)(4000 + i), (uint16_t)(4000 + i) };
	n = rfwds_merge(cur, n, rv, ARRAY_SIZE(rv));
	assert_int_equal(n, HOSTFWD_MAX_RFWDS);
	assert_int_equal(cur[HOSTFWD_MAX_RFWDS - 1].f.port,
	    4000 + HOSTFWD_MAX_RFWDS - 1);
}

/*
 * policy(5)'s forwarding rules: the first that matches decides, before the
 * ignore list and the privileged ports; an address goes with the verdict.
 */
static void
test_auto_rules(void **state)
{
	struct hostfwd_rule rules[4];
	struct auto_rules r = { .enabled = true, .unpriv_start = 1024,
	    .rules = rules, .nrules = 4 };
	struct glistener l = { .proto = IPPROTO_TCP, .port = 8080,
	    .families = FAM_V4 };
	struct hostfwd_static st[2] = {
		{ .proto = IPPROTO_TCP, .host_port = 3000, .guest_port = 3000 },
		{ .proto = IPPROTO_TCP, .host_port = 3000, .guest_port = 3000 },
	};
	struct auto_want w;

	memset(rules, 0, sizeof(rules));
	rules[0] = (struct hostfwd_rule){ .ignore = true,
	    .protos = HOSTFWD_TCP, .lo = 3000, .hi = 3999, .where = "a:1" };
	rules[1] = (struct hostfwd_rule){ .lo = 22, .hi = 22 };
	rules[2] = (struct hostfwd_rule){ .protos = HOSTFWD_UDP, .lo = 5353,
	    .hi = 5353 };
	rules[3] = (struct hostfwd_rule){ .protos = HOSTFWD_TCP, .lo = 8080,
	    .hi = 8080 };
	assert_int_equal(vmn_ip_parse("0.0.0.0", &rules[3].addr), 0);

	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 3500, NULL),
	    AUTO_RULE_IGNORED);
	assert_string_equal(auto_rule(&r, IPPROTO_TCP, 3500)->where, "a:1");
	/* TCP only: UDP 3500 falls to the defaults. */
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, 3500, NULL),
	    AUTO_FORWARD);
	/* Forwarded by rule, privileged or on the ignore list or not. */
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 22, NULL),
	    AUTO_FORWARD);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_UDP, 5353, NULL),
	    AUTO_FORWARD);
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 23, NULL),
	    AUTO_PRIVILEGED);
	/* The address comes with the verdict; the loopback is not its. */
	auto_decide(&r, &l, IPPROTO_TCP, 8080, &w);
	assert_int_equal(w.verdict, AUTO_FORWARD);
	assert_ptr_equal(w.rule, &rules[3]);
	/* Static forwards on the loopback hold a loopback rule's port. */
	assert_int_equal(vmn_ip_parse("127.0.0.1", &st[0].addr), 0);
	assert_int_equal(vmn_ip_parse("::1", &st[1].addr), 0);
	r.st = st;
	r.nst = 2;
	rules[0].ignore = false;
	assert_int_equal(decide(&r, FAM_BOTH, IPPROTO_TCP, 3000, NULL),
	    AUTO_HELD);
	/* Not listening, or auto-forward off: rules change nothing. */
	assert_int_equal(decide(&r, 0, IPPROTO_TCP, 22, NULL),
	    AUTO_NOT_LISTENING);
	r.enabled = false;
	assert_int_equal(decide(&r, FAM_V4, IPPROTO_TCP, 22, NULL),
	    AUTO_DISABLED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_new_session),
		cmocka_unit_test(test_auto_basics),
		cmocka_unit_test(test_auto_privileged),
		cmocka_unit_test(test_auto_ignored),
		cmocka_unit_test(test_auto_rules),
		cmocka_unit_test(test_auto_statics),
		cmocka_unit_test(test_covers_loopback),
		cmocka_unit_test(test_rfwds_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
