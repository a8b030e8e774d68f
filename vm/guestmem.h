/*
 * guestmem.h - the guest's RAM as QEMU shares it with a vhost-user backend
 */
#ifndef VMN_GUESTMEM_H
#define VMN_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

#define GUESTMEM_MAX_REGIONS	8	/* VHOST_MEMORY_BASELINE_NREGIONS */

/* One region as SET_MEM_TABLE describes it (little-endian on the wire). */
struct guestmem_desc {
	uint64_t	gpa;		/* guest physical address */
	uint64_t	size;
	uint64_t	uva;		/* QEMU's virtual address for it */
	uint64_t	mmap_offset;	/* where it starts in the fd */
};

struct guestmem_region {
	struct guestmem_desc	 d;
	uint8_t			*host;		/* our mapping of gpa */
	void			*map;		/* what munmap() takes */
	size_t			 maplen;
};

struct guestmem {
	unsigned		n;
	struct guestmem_region	r[GUESTMEM_MAX_REGIONS];
};

/*
 * Maps n regions, each from its fd (always closed). On failure nothing is
 * mapped and err says why; the previous table is gone either way.
 */
int	 guestmem_set(struct guestmem *gm, const struct guestmem_desc *d,
	    const int *fds, unsigned n, char *err, size_t errlen);
void	 guestmem_clear(struct guestmem *gm);

/* [addr, addr+len) inside one region, as our pointer; NULL if not. */
void	*guestmem_gpa(const struct guestmem *gm, uint64_t gpa, uint64_t len);
void	*guestmem_uva(const struct guestmem *gm, uint64_t uva, uint64_t len);

#endif
