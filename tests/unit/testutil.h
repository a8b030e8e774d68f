/*
 * testutil.h - what every cmocka unit test here shares
 *
 * cmocka.h needs stdarg, stddef, setjmp and stdint before it; assert_rc()
 * compares -errno style results and names both errors when they differ.
 */
#ifndef VMN_TESTUTIL_H
#define VMN_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define assert_rc(expr, want) do {					\
	int rc_ = (expr), want_ = (want);				\
	if (rc_ != want_)						\
		fail_msg("%s = %d (%s), expected %d (%s)", #expr, rc_,	\
		    rc_ < 0 ? strerror(-rc_) : "ok", want_,		\
		    want_ < 0 ? strerror(-want_) : "ok");		\
} while (0)

#endif
