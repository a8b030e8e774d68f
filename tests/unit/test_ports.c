/*
 * test_ports.c - port ranges, slices and the reserved-ports merge
 * (mirrored/ports.c)
 *
 * Covers: parsing the kernel's ip_local_reserved_ports format and refusing
 * what it would refuse; adding ranges that overlap or touch (merged) and
 * removing parts of them (a middle splits one in two); formatting back;
 * slices cut from the top of the ephemeral range, leaving the host one;
 * and the merge that adds our slices and takes out only what we added,
 * never a range the administrator had reserved before us.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "ports.h"

static const char *
fmt(const struct port_ranges *r)
{
	static char buf[1024];

	assert_true(ports_format(r, buf, sizeof(buf)) >= 0);
	return buf;
}

static void
test_parse_format(void **state)
{
	struct port_ranges r;

	assert_int_equal(ports_parse("", &r), 0);
	assert_int_equal(r.n, 0);
	assert_string_equal(fmt(&r), "");
	assert_int_equal(ports_parse("8080,22, 61000-61999\n", &r), 0);
	assert_string_equal(fmt(&r), "22,8080,61000-61999");
	/* Overlapping and touching ranges come out merged. */
	assert_int_equal(ports_parse("10-20,21,15-30,40", &r), 0);
	assert_string_equal(fmt(&r), "10-30,40");
	assert_int_equal(ports_parse("65535", &r), 0);
	assert_string_equal(fmt(&r), "65535");
	assert_int_equal(ports_parse("65536", &r), -EINVAL);
	assert_int_equal(ports_parse("20-10", &r), -EINVAL);
	assert_int_equal(ports_parse("1,,2", &r), -EINVAL);
	assert_int_equal(ports_parse("1;2", &r), -EINVAL);
	assert_int_equal(ports_parse("-5", &r), -EINVAL);
}

static void
test_add_remove(void **state)
{
	struct port_ranges r = { 0 };

	assert_int_equal(ports_add(&r, 100, 200), 0);
	assert_int_equal(ports_add(&r, 300, 400), 0);
	assert_int_equal(ports_add(&r, 201, 299), 0);	/* joins both */
	assert_string_equal(fmt(&r), "100-400");
	ports_remove(&r, 150, 160);			/* a middle */
	assert_string_equal(fmt(&r), "100-149,161-400");
	ports_remove(&r, 90, 120);			/* a bottom */
	assert_string_equal(fmt(&r), "121-149,161-400");
	ports_remove(&r, 390, 500);			/* a top */
	assert_string_equal(fmt(&r), "121-149,161-389");
	ports_remove(&r, 100, 170);			/* all of one */
	assert_string_equal(fmt(&r), "171-389");
	ports_remove(&r, 0, 65535);
	assert_int_equal(r.n, 0);
}

static void
test_full(void **state)
{
	struct port_ranges r = { 0 };
	unsigned i;

	for (i = 0; i < PORTS_MAX_RANGES; i++)
		assert_int_equal(ports_add(&r, (uint16_t)(i * 10),
		    (uint16_t)(i * 10 + 1)), 0);
	assert_int_equal(ports_add(&r, 5000, 5001), -E2BIG);
	/* Merging needs no room. */
	assert_int_equal(ports_add(&r, 2, 9), 0);
	assert_int_equal(r.n, PORTS_MAX_RANGES - 1);
}

static void
test_slices(void **state)
{
	struct port_range s;

	/* Linux's default range: 32768-60999, 28,232 ports. */
	assert_int_equal(ports_slice(32768, 60999, 4096, 0, &s), 0);
	assert_int_equal(s.lo, 56904);
	assert_int_equal(s.hi, 60999);
	assert_int_equal(ports_slice(32768, 60999, 4096, 1, &s), 0);
	assert_int_equal(s.lo, 52808);
	assert_int_equal(s.hi, 56903);
	assert_int_equal(ports_slice(32768, 60999, 4096, 4, &s), 0);
	assert_int_equal(s.lo, 40520);
	assert_int_equal(s.hi, 44615);
	/* A sixth would leave the host fewer than 4,096 of its own. */
	assert_int_equal(ports_slice(32768, 60999, 4096, 5, &s), -ENOSPC);
	assert_int_equal(ports_slice(60000, 61000, 4096, 0, &s), -ENOSPC);
	assert_int_equal(ports_slice(100, 50, 10, 0, &s), -EINVAL);
}

static void
test_reserve_merge(void **state)
{
	struct port_ranges cur, before = { 0 }, want = { 0 }, result, ours;

	/* The administrator reserved 8080 and 57000 before us. */
	assert_int_equal(ports_parse("8080,57000", &cur), 0);
	ports_add(&want, 56904, 60999);
	ports_reserve_merge(&cur, &before, &want, &result, &ours);
	assert_string_equal(fmt(&result), "8080,56904-60999");
	/* 57000 was not ours: never to be taken out by us. */
	assert_string_equal(fmt(&ours), "56904-56999,57001-60999");

	/* Next time, another slice too, and the administrator added 22. */
	cur = result;
	ports_add(&cur, 22, 22);
	before = ours;
	ports_add(&want, 52808, 56903);
	ports_reserve_merge(&cur, &before, &want, &result, &ours);
	assert_string_equal(fmt(&result), "22,8080,52808-60999");
	assert_string_equal(fmt(&ours), "52808-56999,57001-60999");

	/* Nothing wanted any more (SIGTERM): only the others' remain. */
	cur = result;
	before = ours;
	want.n = 0;
	ports_reserve_merge(&cur, &before, &want, &result, &ours);
	assert_string_equal(fmt(&result), "22,8080,57000");
	assert_int_equal(ours.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_add_remove),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_slices),
		cmocka_unit_test(test_reserve_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
