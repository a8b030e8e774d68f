/*
 * ports.h - mirrored mode: port ranges, the guests' slices, the host's
 * reserved ports
 */
#ifndef VMN_PORTS_H
#define VMN_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTS_MAX_RANGES	64
#define PORTS_SLICE_SIZE	4096	/* a guest's ephemeral ports, as WSL */

struct port_range {
	uint16_t	lo, hi;
};

/* Sorted, disjoint, not adjacent: the form the kernel prints. */
struct port_ranges {
	unsigned		n;
	struct port_range	r[PORTS_MAX_RANGES];
};

int	ports_parse(const char *s, struct port_ranges *out);
int	ports_format(const struct port_ranges *r, char *buf, size_t len);
int	ports_add(struct port_ranges *r, uint16_t lo, uint16_t hi);
void	ports_remove(struct port_ranges *r, uint16_t lo, uint16_t hi);
void	ports_union(struct port_ranges *r, const struct port_ranges *more);
void	ports_minus(struct port_ranges *r, const struct port_ranges *less);
int	ports_slice(uint16_t eph_lo, uint16_t eph_hi, unsigned size,
	    unsigned k, struct port_range *out);
void	ports_reserve_merge(const struct port_ranges *current,
	    const struct port_ranges *ours_before,
	    const struct port_ranges *want, struct port_ranges *result,
	    struct port_ranges *ours_after);

#endif
