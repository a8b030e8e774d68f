/*
 * test_subnet.c - unit tests for subnet, MAC and ULA selection
 * (host-netd/subnet.c)
 *
 * Covers: subnet_pick() in the default pool (slot = hint mod 4096, skipping
 * past host routes that collide: the hinted /24, a covering /16, a /32
 * inside a slot, wrap-around), default and split-default routes not
 * counting as collisions while any narrower wide route does, a route equal
 * to the pool exhausting it, IPv6
 * routes not affecting IPv4, stability for one name, argument checks;
 * subnet_collides() (default routes never collide); name_hash() against FNV-1a
 * values worked out by hand; random_mac() and random_ula48() bit patterns.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"
#include "host-netd.h"

#define SLOTS		4096	/* /24s in a /12 */

static struct vmn_prefix pool;

static int
setup_pool(void **state)
{
	(void)state;
	return vmn_prefix_parse(HOSTD_POOL4, &pool);
}

static void
pfx(const char *s, struct vmn_prefix *p)
{
	if (vmn_prefix_parse(s, p) < 0)
		fail_msg("bad prefix in test: %s", s);
}

/* Fills avoid[] from a NULL-terminated list of strings. */
static size_t
avoid_list(struct vmn_prefix *avoid, const char *const *list)
{
	size_t n = 0;

	for (; *list; list++)
		pfx(*list, &avoid[n++]);
	return n;
}

/* The /24 at slot s of 172.16.0.0/12. */
static void
slot_prefix(unsigned s, char *buf, size_t len)
{
	snprintf(buf, len, "172.%u.%u.0/24", 16 + s / 256, s % 256);
}

static void
assert_pick(const struct vmn_prefix *got, const char *want)
{
	char buf[VMN_PREFIX_STRLEN];

	vmn_prefix_ntop(got, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("picked %s, expected %s", buf, want);
}

static void
assert_pick_slot(const struct vmn_prefix *got, unsigned slot)
{
	char want[VMN_PREFIX_STRLEN];

	slot_prefix(slot, want, sizeof(want));
	assert_pick(got, want);
}

static void
test_pick_empty(void **state)
{
	static const uint32_t hints[] = {
		0, 1, 255, 256, 300, 4095, 4096, 4097, 8191, 123456789,
		0x80000000u, 0xffffffffu,
	};
	struct vmn_prefix out;
	unsigned i;

	(void)state;
	assert_int_equal(pool.plen, 12);
	for (i = 0; i < ARRAY_SIZE(hints); i++) {
		memset(&out, 0xee, sizeof(out));
		assert_rc(subnet_pick(&pool, 24, NULL, 0, hints[i], &out), 0);
		assert_int_equal(out.ip.family, AF_INET);
		assert_int_equal(out.plen, 24);
		assert_pick_slot(&out, hints[i] % SLOTS);
		/* Inside the pool, no host bits. */
		assert_true(vmn_prefix_contains(&pool, &out.ip));
		assert_int_equal(out.ip.u.b[3], 0);
	}
	/* Spot checks written out. */
	assert_rc(subnet_pick(&pool, 24, NULL, 0, 0, &out), 0);
	assert_pick(&out, "172.16.0.0/24");
	assert_rc(subnet_pick(&pool, 24, NULL, 0, 300, &out), 0);
	assert_pick(&out, "172.17.44.0/24");
	assert_rc(subnet_pick(&pool, 24, NULL, 0, 0xffffffffu, &out), 0);
	assert_pick(&out, "172.31.255.0/24");
}

static void
test_pick_other_sizes(void **state)
{
	struct vmn_prefix p, out;

	(void)state;
	/* Host bits in the pool are ignored. */
	pfx("172.20.1.2/12", &p);
	assert_rc(subnet_pick(&p, 24, NULL, 0, 5, &out), 0);
	assert_pick(&out, "172.16.5.0/24");

	/* /16s from a /8: 256 slots. */
	pfx("10.0.0.0/8", &p);
	assert_rc(subnet_pick(&p, 16, NULL, 0, 0x1234, &out), 0);
	assert_pick(&out, "10.52.0.0/16");

	/* /30s from a /24: slot 5 is .20. */
	pfx("192.168.7.0/24", &p);
	assert_rc(subnet_pick(&p, 30, NULL, 0, 64 + 5, &out), 0);
	assert_pick(&out, "192.168.7.20/30");

	/* /32s from a /31. */
	pfx("192.168.7.0/31", &p);
	assert_rc(subnet_pick(&p, 32, NULL, 0, 3, &out), 0);
	assert_pick(&out, "192.168.7.1/32");
}

static void
test_pick_skips_collisions(void **state)
{
	struct vmn_prefix avoid[8], out;
	size_t n;

	(void)state;
	/* The hinted /24 itself. */
	n = avoid_list(avoid, (const char *const[]){ "172.16.5.0/24", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), 0);
	assert_pick(&out, "172.16.6.0/24");

	/* A /16 covering the hinted slot and 255 more. */
	n = avoid_list(avoid, (const char *const[]){ "172.17.0.0/16", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 256 + 10, &out), 0);
	assert_pick(&out, "172.18.0.0/24");

	/* A single host inside the slot. */
	n = avoid_list(avoid, (const char *const[]){ "172.16.7.9/32", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 7, &out), 0);
	assert_pick(&out, "172.16.8.0/24");
	assert_rc(subnet_pick(&pool, 24, avoid, n, 6, &out), 0);
	assert_pick(&out, "172.16.6.0/24");

	/* A route with host bits set (as the kernel may report a /25). */
	n = avoid_list(avoid, (const char *const[]){ "172.16.9.200/25", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 9, &out), 0);
	assert_pick(&out, "172.16.10.0/24");

	/* Several in a row, in any order. */
	n = avoid_list(avoid, (const char *const[]){
	    "172.16.3.128/25", "172.16.1.0/24", "172.16.2.1/32",
	    "172.16.4.0/22", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 1, &out), 0);
	assert_pick(&out, "172.16.8.0/24");

	/* Wrap-around at the end of the pool. */
	n = avoid_list(avoid, (const char *const[]){ "172.31.255.0/24", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 4095, &out), 0);
	assert_pick(&out, "172.16.0.0/24");
	n = avoid_list(avoid, (const char *const[]){
	    "172.31.0.0/16", "172.16.0.0/16", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 4000, &out), 0);
	assert_pick(&out, "172.17.0.0/24");

	/* Routes elsewhere do not matter. */
	n = avoid_list(avoid, (const char *const[]){
	    "10.0.0.0/8", "192.168.0.0/16", "172.32.0.0/16", "172.15.0.0/16",
	    NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), 0);
	assert_pick(&out, "172.16.5.0/24");
}

static void
test_pick_catch_all(void **state)
{
	/* Default routes and OpenVPN's split default (def1). */
	static const char *const catch_all[] = {
		"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1",
	};
	struct vmn_prefix avoid[8], out;
	unsigned i;
	size_t n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(catch_all); i++) {
		pfx(catch_all[i], &avoid[0]);
		assert_rc(subnet_pick(&pool, 24, avoid, 1, 5, &out), 0);
		assert_pick(&out, "172.16.5.0/24");
		/* subnet_collides() agrees. */
		assert_false(subnet_collides(&out, avoid, 1));
	}
	/* All of them together, plus one real collision. */
	n = avoid_list(avoid, (const char *const[]){
	    "0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1",
	    "172.16.5.0/24", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), 0);
	assert_pick(&out, "172.16.6.0/24");
}

/*
 * A wide route that is not a default (a VPN's 172.16.0.0/11, a 160/3) is a
 * real network: VM subnets inside it would hide part of it from the host.
 */
static void
test_pick_wide_routes_collide(void **state)
{
	struct vmn_prefix avoid[8], out;
	size_t n;

	(void)state;
	n = avoid_list(avoid, (const char *const[]){ "172.16.0.0/11", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), -ENOSPC);
	n = avoid_list(avoid, (const char *const[]){ "160.0.0.0/3", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), -ENOSPC);
	/* Half the pool covered by a VPN: the other half is used. */
	n = avoid_list(avoid, (const char *const[]){ "172.16.0.0/13", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), 0);
	assert_pick(&out, "172.24.0.0/24");
	pfx("172.20.0.0/24", &out);
	assert_true(subnet_collides(&out, avoid, n));
}

static void
test_pick_exhausted(void **state)
{
	struct vmn_prefix avoid[8], out;
	size_t n;

	(void)state;
	/* A route for exactly the pool is not a catch-all: it takes it all. */
	n = avoid_list(avoid, (const char *const[]){ "172.16.0.0/12", NULL });
	memset(&out, 0, sizeof(out));
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), -ENOSPC);
	assert_int_equal(out.ip.family, 0);	/* untouched */

	/* Two halves do the same. */
	n = avoid_list(avoid, (const char *const[]){
	    "172.24.0.0/13", "172.16.0.0/13", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), -ENOSPC);

	/* All but one slot: that one is found from any hint. */
	n = avoid_list(avoid, (const char *const[]){
	    "172.16.0.0/13", "172.24.0.0/14", "172.28.0.0/15", "172.30.0.0/16",
	    "172.31.0.0/17", "172.31.128.0/18", "172.31.192.0/19",
	    "172.31.224.0/20", NULL });
	assert_int_equal(n, 8);
	{
		struct vmn_prefix more[12];

		memcpy(more, avoid, sizeof(avoid));
		n = avoid_list(more + 8, (const char *const[]){
		    "172.31.240.0/21", "172.31.248.0/22", "172.31.252.0/23",
		    "172.31.254.0/24", NULL }) + 8;
		assert_rc(subnet_pick(&pool, 24, more, n, 0, &out), 0);
		assert_pick(&out, "172.31.255.0/24");
		assert_rc(subnet_pick(&pool, 24, more, n, 4095, &out), 0);
		assert_pick(&out, "172.31.255.0/24");
		assert_rc(subnet_pick(&pool, 24, more, n, 1234, &out), 0);
		assert_pick(&out, "172.31.255.0/24");
	}
}

static void
test_pick_ignores_ipv6(void **state)
{
	struct vmn_prefix avoid[8], out;
	size_t n;

	(void)state;
	/* Including IPv6 prefixes whose leading bytes spell 172.16.5.x. */
	n = avoid_list(avoid, (const char *const[]){
	    "::/0", "ac10:500::/24", "ac10::/12", "::ffff:172.16.5.0/120",
	    "fd00::/8", NULL });
	assert_rc(subnet_pick(&pool, 24, avoid, n, 5, &out), 0);
	assert_pick(&out, "172.16.5.0/24");
	assert_false(subnet_collides(&out, avoid, n));
}

static void
test_pick_stable(void **state)
{
	static const char *const names[] = { "dev", "vm1", "builder", "a" };
	struct vmn_prefix first, again, avoid[1];
	unsigned i, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		uint32_t h = name_hash(names[i]);

		assert_rc(subnet_pick(&pool, 24, NULL, 0, h, &first), 0);
		for (k = 0; k < 5; k++) {
			assert_rc(subnet_pick(&pool, 24, NULL, 0,
			    name_hash(names[i]), &again), 0);
			assert_true(vmn_ip_equal(&first.ip, &again.ip));
			assert_int_equal(first.plen, again.plen);
		}
		assert_pick_slot(&first, h % SLOTS);
	}
	/* "dev": FNV-1a 0xd55997bc, slot 0x7bc = 1980 -> 172.23.188.0/24. */
	assert_rc(subnet_pick(&pool, 24, NULL, 0, name_hash("dev"), &first), 0);
	assert_pick(&first, "172.23.188.0/24");
	/* Taken: the next one, every time. */
	pfx("172.23.188.0/24", &avoid[0]);
	for (k = 0; k < 3; k++) {
		assert_rc(subnet_pick(&pool, 24, avoid, 1, name_hash("dev"),
		    &again), 0);
		assert_pick(&again, "172.23.189.0/24");
	}
}

static void
test_name_hash(void **state)
{
	(void)state;
	/*
	 * FNV-1a, 32 bits: h = 2166136261; for each byte h ^= b, h *= 16777619.
	 * "a": (0x811c9dc5 ^ 0x61) * 0x01000193 = 0x811c9da4 * 0x01000193
	 *      = 0x811c9da4 + (0x811c9da4 << 24) + 0x811c9da4 * 0x193
	 *      = 0xe40c292c (mod 2^32), the published test vector.
	 */
	assert_int_equal(name_hash(""), 0x811c9dc5u);
	assert_int_equal(name_hash("a"), 0xe40c292cu);
	assert_int_equal(name_hash("foobar"), 0xbf9cf968u);	/* published */
	assert_int_equal(name_hash("dev"), 0xd55997bcu);
	assert_int_equal(name_hash("vm1"), 0x511c93a7u);
	/* Bytes are unsigned: a high byte does not sign-extend. */
	assert_int_equal(name_hash("\xff"), (0x811c9dc5u ^ 0xffu) * 16777619u);
	assert_int_not_equal(name_hash("vm1"), name_hash("vm2"));
	assert_int_not_equal(name_hash("ab"), name_hash("ba"));
}

static void
test_pick_bad_args(void **state)
{
	struct vmn_prefix out, p;

	(void)state;
	assert_rc(subnet_pick(&pool, 12, NULL, 0, 0, &out), -EINVAL);
	assert_rc(subnet_pick(&pool, 8, NULL, 0, 0, &out), -EINVAL);
	assert_rc(subnet_pick(&pool, 0, NULL, 0, 0, &out), -EINVAL);
	assert_rc(subnet_pick(&pool, 33, NULL, 0, 0, &out), -EINVAL);
	assert_rc(subnet_pick(&pool, 255, NULL, 0, 0, &out), -EINVAL);
	assert_rc(subnet_pick(&pool, 13, NULL, 0, 3, &out), 0);
	assert_pick(&out, "172.24.0.0/13");
	assert_rc(subnet_pick(&pool, 32, NULL, 0, 0x12345, &out), 0);
	assert_pick(&out, "172.17.35.69/32");
	/* More than 2^32 slots. */
	pfx("0.0.0.0/0", &p);
	assert_rc(subnet_pick(&p, 32, NULL, 0, 7, &out), 0);
	pfx("fd00::/8", &p);
	assert_rc(subnet_pick(&p, 48, NULL, 0, 7, &out), -EINVAL);
	/* A pool without a family. */
	memset(&p, 0, sizeof(p));
	assert_true(subnet_pick(&p, 24, NULL, 0, 0, &out) < 0);
}

static void
test_collides(void **state)
{
	struct vmn_prefix p, avoid[4];
	size_t n;

	(void)state;
	pfx("172.16.5.0/24", &p);
	/* A default route never collides: every host has one, and a
	 * configured subnet must still be usable. */
	n = avoid_list(avoid, (const char *const[]){ "0.0.0.0/0", NULL });
	assert_false(subnet_collides(&p, avoid, n));
	n = avoid_list(avoid, (const char *const[]){ "172.16.5.128/25", NULL });
	assert_true(subnet_collides(&p, avoid, n));
	assert_true(subnet_collides(&p, avoid, n));
	n = avoid_list(avoid, (const char *const[]){ "172.16.4.0/24",
	    "172.16.6.0/24", NULL });
	assert_false(subnet_collides(&p, avoid, n));
	assert_false(subnet_collides(&p, NULL, 0));
	/* Only the first navoid entries are looked at. */
	n = avoid_list(avoid, (const char *const[]){ "10.0.0.0/8",
	    "172.16.5.0/24", NULL });
	assert_false(subnet_collides(&p, avoid, 1));
	assert_true(subnet_collides(&p, avoid, 2));
}

static void
test_random_mac(void **state)
{
	uint8_t mac[VMN_MAC_LEN], first[VMN_MAC_LEN];
	unsigned i, same = 0, seen_bits = 0;

	(void)state;
	random_mac(first);
	for (i = 0; i < 2000; i++) {
		random_mac(mac);
		/* Locally administered (bit 1), unicast (bit 0 clear). */
		if ((mac[0] & 0x03) != 0x02)
			fail_msg("draw %u: first byte %02x", i, mac[0]);
		seen_bits |= mac[0] | mac[5] << 8;
		if (memcmp(mac, first, VMN_MAC_LEN) == 0)
			same++;
	}
	/* Random: not the same address over and over, every other bit of the
	 * first byte (and the last byte) varies. */
	assert_true(same < 2);
	assert_int_equal(seen_bits & 0xfc, 0xfc);
	assert_int_equal(seen_bits & 0xff00, 0xff00);
}

static void
test_random_ula48(void **state)
{
	struct vmn_prefix p, first;
	unsigned i, k, same = 0;

	(void)state;
	random_ula48(&first);
	for (i = 0; i < 500; i++) {
		memset(&p, 0xee, sizeof(p));
		random_ula48(&p);
		assert_int_equal(p.ip.family, AF_INET6);
		assert_int_equal(p.plen, 48);
		assert_int_equal(p.ip.u.b[0], 0xfd);
		for (k = 6; k < 16; k++)
			if (p.ip.u.b[k] != 0)
				fail_msg("draw %u: byte %u is %02x", i, k,
				    p.ip.u.b[k]);
		if (memcmp(p.ip.u.b, first.ip.u.b, 16) == 0)
			same++;
	}
	assert_true(same < 2);
	/* fd00::/8 contains it; it is usable with the prefix helpers. */
	{
		struct vmn_prefix fd;
		struct vmn_ip host;

		pfx("fd00::/8", &fd);
		assert_true(vmn_prefix_contains(&fd, &first.ip));
		assert_rc(vmn_prefix_host(&first, 1, &host), 0);
		assert_true(vmn_prefix_contains(&first, &host));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_empty),
		cmocka_unit_test(test_pick_other_sizes),
		cmocka_unit_test(test_pick_skips_collisions),
		cmocka_unit_test(test_pick_catch_all),
		cmocka_unit_test(test_pick_wide_routes_collide),
		cmocka_unit_test(test_pick_exhausted),
		cmocka_unit_test(test_pick_ignores_ipv6),
		cmocka_unit_test(test_pick_stable),
		cmocka_unit_test(test_name_hash),
		cmocka_unit_test(test_pick_bad_args),
		cmocka_unit_test(test_collides),
		cmocka_unit_test(test_random_mac),
		cmocka_unit_test(test_random_ula48),
	};

	return cmocka_run_group_tests_name("subnet", tests, setup_pool, NULL);
}
