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
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Compares text (len bytes) with the golden file tests/unit/nft/NAME.nft
 * of the source tree (VMN_SRCDIR); VMN_UPDATE_GOLDENS=1 writes it instead.
 */
static inline void
assert_golden(const char *name, const char *text, int len)
{
	static char want[65536];
	const char *src = getenv("VMN_SRCDIR");
	char path[512];
	size_t got;
	FILE *f;

	assert_true(len > 0);
	snprintf(path, sizeof(path), "%s/tests/unit/nft/%s.nft",
	    src ? src : ".", name);
	if (getenv("VMN_UPDATE_GOLDENS")) {
		assert_non_null(f = fopen(path, "w"));
		fwrite(text, 1, (size_t)len, f);
		fclose(f);
		return;
	}
	if (!(f = fopen(path, "r")))
		fail_msg("%s: %s", path, strerror(errno));
	got = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[got] = '\0';
	if (strcmp(text, want) != 0)
		fail_msg("%s differs; rendered:\n%s", path, text);
}

#endif
