/*
 * guestmem.c - the guest's RAM as QEMU shares it with a vhost-user backend
 *
 * QEMU passes each RAM region as a file descriptor (memfd or hugetlbfs)
 * with the guest physical address it backs and QEMU's own address for it.
 * Descriptors carry guest physical addresses; SET_VRING_ADDR carries
 * QEMU's. Every translation checks that the whole range lies inside one
 * region: the guest chooses these numbers, and a range that wraps or
 * straddles regions is refused rather than trusted.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guestmem.h"

void
guestmem_clear(struct guestmem *gm)
{
	unsigned i;

	for (i = 0; i < gm->n; i++)
		munmap(gm->r[i].map, gm->r[i].maplen);
	memset(gm, 0, sizeof(*gm));
}

int
guestmem_set(struct guestmem *gm, const struct guestmem_desc *d,
    const int *fds, unsigned n, char *err, size_t errlen)
{
	unsigned i, j;
	int rc = 0;

	guestmem_clear(gm);
	if (n == 0 || n > GUESTMEM_MAX_REGIONS) {
		snprintf(err, errlen, "%u memory regions (1 to %d)", n,
		    GUESTMEM_MAX_REGIONS);
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct guestmem_region *r = &gm->r[i];
		struct stat st;
		void *p;

		if (d[i].size == 0 || d[i].gpa + d[i].size < d[i].gpa ||
		    d[i].uva + d[i].size < d[i].uva ||
		    d[i].mmap_offset + d[i].size < d[i].mmap_offset ||
		    d[i].mmap_offset + d[i].size > SIZE_MAX) {
			snprintf(err, errlen, "memory region %u: bad bounds", i);
			rc = -EINVAL;
			break;
		}
		for (j = 0; j < i; j++)
			if (d[i].gpa < gm->r[j].d.gpa + gm->r[j].d.size &&
			    gm->r[j].d.gpa < d[i].gpa + d[i].size)
				break;
		if (j < i) {
			snprintf(err, errlen, "memory regions %u and %u overlap",
			    j, i);
			rc = -EINVAL;
			break;
		}
		/*
		 * A mapping past the file's end maps, and its first access
		 * is SIGBUS: the region must fit in what the fd holds.
		 */
		if (fstat(fds[i], &st) < 0 || (S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size < d[i].mmap_offset + d[i].size)) {
			snprintf(err, errlen, "memory region %u: larger than "
			    "its file", i);
			rc = -EINVAL;
			break;
		}
		/* Mapped from 0: mmap_offset need not be page-aligned. */
		r->maplen = (size_t)(d[i].mmap_offset + d[i].size);
		p = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fds[i], 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			snprintf(err, errlen, "memory region %u: mmap: %s", i,
			    strerror(errno));
			break;
		}
		r->map = p;
		r->host = (uint8_t *)p + d[i].mmap_offset;
		r->d = d[i];
		gm->n = i + 1;
	}
	if (rc < 0)
		guestmem_clear(gm);
out:
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static void *
lookup(const struct guestmem *gm, uint64_t addr, uint64_t len, bool uva)
{
	const struct guestmem_region *r;
	uint64_t start;
	unsigned i;

	if (addr + len < addr)
		return NULL;
	for (i = 0; i < gm->n; i++) {
		r = &gm->r[i];
		start = uva ? r->d.uva : r->d.gpa;
		if (addr >= start && addr - start <= r->d.size &&
		    len <= r->d.size - (addr - start))
			return r->host + (addr - start);
	}
	return NULL;
}

void *
guestmem_gpa(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	return lookup(gm, gpa, len, false);
}

void *
guestmem_uva(const struct guestmem *gm, uint64_t uva, uint64_t len)
{
	return lookup(gm, uva, len, true);
}
