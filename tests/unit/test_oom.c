/*
 * test_oom.c - constructors that run out of memory half way leak nothing
 *
 * libevent takes its allocator from event_set_mem_functions(), so this
 * test can make its n-th allocation fail, for every n until the call
 * succeeds, and count what libevent still holds afterwards: a constructor
 * that fails must give back every event it made before (dnsproxy_new()
 * once leaked its first event when the second could not be had, and
 * dnstun_init() did not check its own). Under the sanitizer build,
 * LeakSanitizer checks the rest of the memory as well.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "testutil.h"
#include "dnsproxy.h"
#include "resolver.h"
#include "transport.h"

static struct {
	long	fail_at;	/* this allocation fails; -1: none */
	long	count;		/* allocations since armed */
	long	live;		/* allocations not freed yet */
} A = { .fail_at = -1 };

static void *
t_malloc(size_t n)
{
	void *p;

	if (A.fail_at >= 0 && A.count++ == A.fail_at)
		return NULL;
	if ((p = malloc(n)))
		A.live++;
	return p;
}

static void *
t_realloc(void *old, size_t n)
{
	void *p;

	if (A.fail_at >= 0 && A.count++ == A.fail_at)
		return NULL;
	p = realloc(old, n);
	if (p && !old)
		A.live++;
	return p;
}

static void
t_free(void *p)
{
	if (p)
		A.live--;
	free(p);
}

static void
arm(long n)
{
	A.fail_at = n;
	A.count = 0;
}

static void
test_dnsproxy_new(void **state)
{
	struct event_base *base = *state;
	struct vmn_endpoint ep;
	const char *why;
	struct dnsproxy *px;
	long n, before;

	assert_int_equal(vmn_endpoint_parse("unix:/nonexistent/x", &ep, &why),
	    0);
	for (n = 0; ; n++) {
		before = A.live;
		arm(n);
		px = dnsproxy_new(base, &ep, 7700, NULL);
		arm(-1);
		if (px) {
			dnsproxy_free(px);
			assert_int_equal(A.live, before);
			break;
		}
		if (A.live != before)
			fail_msg("dnsproxy_new failing at allocation %ld kept "
			    "%ld of libevent's", n, A.live - before);
	}
	assert_true(n >= 2);	/* the failures were really tried */
}

static void
test_dnstun_init(void **state)
{
	struct event_base *base = *state;
	long n, before;
	int rc;

	for (n = 0; ; n++) {
		before = A.live;
		arm(n);
		rc = dnstun_init(base, "/nonexistent/resolv.conf");
		arm(-1);
		if (rc == 0) {
			dnstun_shutdown();
			assert_int_equal(A.live, before);
			break;
		}
		if (A.live != before)
			fail_msg("dnstun_init failing at allocation %ld kept "
			    "%ld of libevent's", n, A.live - before);
		dnstun_shutdown();	/* harmless after a failed init */
	}
	assert_true(n >= 2);
}

static int
setup(void **state)
{
	struct event_base *base;

	if (!(base = event_base_new()))
		return -1;
	*state = base;
	return 0;
}

static int
teardown(void **state)
{
	event_base_free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dnsproxy_new, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dnstun_init, setup,
		    teardown),
	};

	/* Before libevent allocates anything. */
	event_set_mem_functions(t_malloc, t_realloc, t_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
