/*
 * ports.c - mirrored mode: port ranges, the guests' slices, the host's
 * reserved ports
 *
 * A mirrored guest shares the host's addresses, so the ports of its own
 * outgoing connections must be ports the host never picks: each guest gets
 * a slice of the host's ephemeral range (ip_local_port_range in the guest)
 * that the host reserves (ip_local_reserved_ports), and the steering sends
 * traffic to those ports to the guest. Slices are cut from the top of the
 * host's range down, one per guest, leaving the host at least a slice.
 *
 * ip_local_reserved_ports may hold the administrator's own ports too:
 * host-netd remembers which ranges it added (ours) and only ever takes
 * those out again; a range that was reserved before it came is not ours.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

/* "1,2-5, 9" as the kernel reads it: commas, optional blanks. */
int
ports_parse(const char *s, struct port_ranges *out)
{
	unsigned long lo, hi;
	char *end;

	out->n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == '\0')
			return 0;
		lo = strtoul(s, &end, 10);
		if (end == s || lo > 65535)
			return -EINVAL;
		hi = lo;
		s = end;
		if (*s == '-') {
			s++;
			hi = strtoul(s, &end, 10);
			if (end == s || hi > 65535 || hi < lo)
				return -EINVAL;
			s = end;
		}
		if (ports_add(out, (uint16_t)lo, (uint16_t)hi) < 0)
			return -E2BIG;
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -EINVAL;
	}
}

int
ports_format(const struct port_ranges *r, char *buf, size_t len)
{
	size_t off = 0;
	unsigned i;
	int n;

	if (len == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (i = 0; i < r->n; i++) {
		if (r->r[i].lo == r->r[i].hi)
			n = snprintf(buf + off, len - off, "%s%u", i ? "," : "",
			    r->r[i].lo);
		else
			n = snprintf(buf + off, len - off, "%s%u-%u",
			    i ? "," : "", r->r[i].lo, r->r[i].hi);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOBUFS;
		off += (size_t)n;
	}
	return (int)off;
}

/* Adds lo..hi, merging what it overlaps or touches. */
int
ports_add(struct port_ranges *r, uint16_t lo, uint16_t hi)
{
	unsigned i = 0, j;

	/* Past every range that ends before lo - 1. */
	while (i < r->n && (unsigned)r->r[i].hi + 1 < lo)
		i++;
	/* Swallow every range that starts by hi + 1. */
	for (j = i; j < r->n && r->r[j].lo <= (unsigned)hi + 1; j++) {
		if (r->r[j].lo < lo)
			lo = r->r[j].lo;
		if (r->r[j].hi > hi)
			hi = r->r[j].hi;
	}
	if (j == i) {
		if (r->n >= PORTS_MAX_RANGES)
			return -E2BIG;
		memmove(&r->r[i + 1], &r->r[i], (r->n - i) * sizeof(r->r[0]));
		r->n++;
	} else if (j > i + 1) {
		memmove(&r->r[i + 1], &r->r[j], (r->n - j) * sizeof(r->r[0]));
		r->n -= j - i - 1;
	}
	r->r[i].lo = lo;
	r->r[i].hi = hi;
	return 0;
}

/* Takes lo..hi out (a range it splits in two may have no room: kept). */
void
ports_remove(struct port_ranges *r, uint16_t lo, uint16_t hi)
{
	unsigned i;

	for (i = 0; i < r->n; i++) {
		struct port_range *x = &r->r[i];

		if (x->hi < lo || x->lo > hi)
			continue;
		if (x->lo >= lo && x->hi <= hi) {		/* all of it */
			memmove(x, x + 1, (r->n - i - 1) * sizeof(*x));
			r->n--;
			i--;
		} else if (x->lo < lo && x->hi > hi) {		/* its middle */
			if (r->n >= PORTS_MAX_RANGES)
				continue;
			memmove(x + 2, x + 1, (r->n - i - 1) * sizeof(*x));
			r->n++;
			x[1].lo = (uint16_t)(hi + 1);
			x[1].hi = x->hi;
			x->hi = (uint16_t)(lo - 1);
			i++;
		} else if (x->lo < lo) {			/* its top */
			x->hi = (uint16_t)(lo - 1);
		} else {					/* its bottom */
			x->lo = (uint16_t)(hi + 1);
		}
	}
}

void
ports_union(struct port_ranges *r, const struct port_ranges *more)
{
	unsigned i;

	for (i = 0; i < more->n; i++)
		ports_add(r, more->r[i].lo, more->r[i].hi);
}

void
ports_minus(struct port_ranges *r, const struct port_ranges *less)
{
	unsigned i;

	for (i = 0; i < less->n; i++)
		ports_remove(r, less->r[i].lo, less->r[i].hi);
}

/*
 * Slice k (0, 1, ...) of the ephemeral range eph_lo..eph_hi, from the top:
 * -ENOSPC when it would leave the host less than a slice of its own.
 */
int
ports_slice(uint16_t eph_lo, uint16_t eph_hi, unsigned size, unsigned k,
    struct port_range *out)
{
	unsigned span, top;

	if (size == 0 || eph_hi < eph_lo)
		return -EINVAL;
	span = (unsigned)eph_hi - eph_lo + 1;
	if ((k + 2) * size > span)
		return -ENOSPC;
	top = eph_hi - k * size;
	out->hi = (uint16_t)top;
	out->lo = (uint16_t)(top - size + 1);
	return 0;
}

/*
 * The reserved ports after our change: what is there (current) without
 * what we put there before (ours_before), plus what we want. ours_after is
 * what of want nobody else had reserved: ours to take out later.
 */
void
ports_reserve_merge(const struct port_ranges *current,
    const struct port_ranges *ours_before, const struct port_ranges *want,
    struct port_ranges *result, struct port_ranges *ours_after)
{
	struct port_ranges others = *current;

	ports_minus(&others, ours_before);
	*ours_after = *want;
	ports_minus(ours_after, &others);
	*result = others;
	ports_union(result, want);
}
