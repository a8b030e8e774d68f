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

/*
 * Little-endian fields stored and loaded byte by byte, as a driver or a
 * front-end lays them out: tests of virtio code must not share the code
 * under test's own conversions.
 */
static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static inline uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

#define assert_rc(expr, want) do {					\
	int rc_ = (expr), want_ = (want);				\
	if (rc_ != want_)						\
		fail_msg("%s = %d (%s), expected %d (%s)", #expr, rc_,	\
		    rc_ < 0 ? strerror(-rc_) : "ok", want_,		\
		    want_ < 0 ? strerror(-want_) : "ok");		\
} while (0)

#endif
