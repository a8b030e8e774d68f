/*
 * test_virtq.c - unit tests for split virtqueues and guest memory, the
 * device's side (vm/virtq.c, vm/guestmem.c)
 *
 * Covers: guestmem translation (inside a region, straddling its ends or
 * two regions, ranges that wrap around 2^64, mmap_offset), the region
 * table checks (overlap, wrap, too many regions, fds always closed);
 * virtq_map()'s alignment, size and range checks; popping readable and
 * readable+writable chains, push, unpop and notify; a guest that corrupts
 * the ring (next out of range, a loop, an avail index running ahead, a
 * head out of range: the queue breaks for good) and one that only makes
 * bad chains (address outside RAM, INDIRECT, readable after writable,
 * too many buffers: returned used with length 0, the queue carries on);
 * and iov_to_buf()/iov_from_buf()/iov_tail().
 *
 * Guest RAM is a memfd mapped twice: by guestmem_set() (the device's view,
 * the one virtq.c uses) and here (the driver's view). The test plays the
 * driver: it lays out rings and descriptors through its own mapping with
 * little-endian stores done byte by byte, and reads the used ring back the
 * same way, so nothing is checked through the code under test. Every
 * 32-bit word of the buffer area holds its own offset, so an iovec that
 * points at the wrong bytes shows.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"
#include "guestmem.h"
#include "virtq.h"

#define GPA_BASE	0x100000ull		/* guest physical address */
#define UVA_BASE	0x7f0000000000ull	/* the front-end's address */
#define MEM_SIZE	0x100000u		/* 1 MiB of guest RAM */
#define DESC_OFF	0x0000u			/* room for 128 descriptors */
#define AVAIL_OFF	0x1000u
#define USED_OFF	0x2000u
#define BUF_OFF		0x10000u		/* buffers from here on */

/* ---- memfds ---------------------------------------------------------------- */

static int
new_memfd(size_t size)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Our own mapping of fd, kept after guestmem_set() closes the fd. */
static uint8_t *
map_memfd(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static bool
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* ---- the fixture: 1 MiB of RAM at GPA_BASE, a queue we can start ---------- */

struct fx {
	struct guestmem	 gm;
	uint8_t		*drv;		/* the driver's view of guest RAM */
	struct virtq	 vq;
	uint16_t	 avail_idx;	/* the driver's, published in avail */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guestmem_desc d = { GPA_BASE, MEM_SIZE, UVA_BASE, 0 };
	char err[96];
	uint32_t off;
	int fd;

	assert_non_null(f);
	fd = new_memfd(MEM_SIZE);
	f->drv = map_memfd(fd, MEM_SIZE);
	assert_rc(guestmem_set(&f->gm, &d, &fd, 1, err, sizeof(err)), 0);
	for (off = BUF_OFF; off < MEM_SIZE; off += 4)
		put32(f->drv + off, off);
	virtq_init(&f->vq);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	guestmem_clear(&f->gm);
	munmap(f->drv, MEM_SIZE);
	free(f);
	return 0;
}

/* Rings at their usual offsets, num entries, mapped, started, enabled. */
static void
queue_start(struct fx *f, uint16_t num)
{
	memset(f->drv, 0, BUF_OFF);
	f->avail_idx = 0;
	f->vq.num = num;
	f->vq.desc_uva = UVA_BASE + DESC_OFF;
	f->vq.avail_uva = UVA_BASE + AVAIL_OFF;
	f->vq.used_uva = UVA_BASE + USED_OFF;
	assert_rc(virtq_map(&f->vq, &f->gm), 0);
	f->vq.started = true;
	f->vq.enabled = true;
}

/* Descriptor i: len bytes at guest physical address gpa. */
static void
desc_gpa(struct fx *f, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *p = f->drv + DESC_OFF + 16 * i;

	put64(p, gpa);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
}

/* Descriptor i: len bytes at offset off of guest RAM. */
static void
desc(struct fx *f, unsigned i, uint32_t off, uint32_t len, uint16_t flags,
    uint16_t next)
{
	desc_gpa(f, i, GPA_BASE + off, len, flags, next);
}

/* Makes the chain starting at head available, as a driver does. */
static void
avail_publish(struct fx *f, uint16_t head)
{
	put16(f->drv + AVAIL_OFF + 4 + 2 * (f->avail_idx % f->vq.num), head);
	f->avail_idx++;
	put16(f->drv + AVAIL_OFF + 2, f->avail_idx);
}

static void
avail_flags(struct fx *f, uint16_t flags)
{
	put16(f->drv + AVAIL_OFF, flags);
}

static uint16_t
used_idx(const struct fx *f)
{
	return get16(f->drv + USED_OFF + 2);
}

static void
assert_used_elem(const struct fx *f, unsigned slot, uint32_t id, uint32_t len)
{
	const uint8_t *e = f->drv + USED_OFF + 4 + 8 * slot;

	assert_int_equal(get32(e), id);
	assert_int_equal(get32(e + 4), len);
}

/* The iovec is len bytes of guest RAM at offset off (the driver's view). */
static void
assert_iov_at(const struct fx *f, const struct iovec *iov, uint32_t off,
    size_t len)
{
	assert_int_equal(iov->iov_len, len);
	assert_memory_equal(iov->iov_base, f->drv + off, len);
}

/* ---- guestmem ----------------------------------------------------------------- */

/* Ranges inside the region translate to the right bytes; any range that
 * pokes out of it at either end does not; gpa and uva are not mixed up. */
static void
test_guestmem_translate(void **state)
{
	struct fx *f = *state;
	const uint8_t *p;

	p = guestmem_gpa(&f->gm, GPA_BASE, MEM_SIZE);
	assert_non_null(p);
	assert_memory_equal(p + BUF_OFF, f->drv + BUF_OFF, 256);
	p = guestmem_gpa(&f->gm, GPA_BASE + 0x10004, 8);
	assert_non_null(p);
	assert_int_equal(get32(p), 0x10004);
	assert_int_equal(get32(p + 4), 0x10008);
	/* the last bytes, exactly */
	p = guestmem_gpa(&f->gm, GPA_BASE + MEM_SIZE - 4, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), MEM_SIZE - 4);

	/* straddling the end, past it, before the start, too long */
	assert_null(guestmem_gpa(&f->gm, GPA_BASE + MEM_SIZE - 4, 5));
	assert_null(guestmem_gpa(&f->gm, GPA_BASE + MEM_SIZE, 1));
	assert_null(guestmem_gpa(&f->gm, GPA_BASE - 1, 2));
	assert_null(guestmem_gpa(&f->gm, GPA_BASE - 0x1000, 1));
	assert_null(guestmem_gpa(&f->gm, GPA_BASE, (uint64_t)MEM_SIZE + 1));

	/* QEMU's addresses: the same bytes, under another name */
	p = guestmem_uva(&f->gm, UVA_BASE + 0x10008, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0x10008);
	assert_null(guestmem_uva(&f->gm, UVA_BASE + MEM_SIZE - 2, 4));
	assert_null(guestmem_uva(&f->gm, GPA_BASE + 0x10000, 4));
	assert_null(guestmem_gpa(&f->gm, UVA_BASE + 0x10000, 4));
}

/* A range whose end wraps around 2^64 back into the region is refused,
 * and so is a region whose own range would wrap. */
static void
test_guestmem_wrap(void **state)
{
	struct fx *f = *state;
	struct guestmem gm = { 0 };
	struct guestmem_desc d;
	char err[96];
	int fd;

	/* GPA_BASE + 0x10 + (2^64 - 8) wraps to GPA_BASE + 8: inside */
	assert_null(guestmem_gpa(&f->gm, GPA_BASE + 0x10, UINT64_MAX - 7));
	assert_null(guestmem_uva(&f->gm, UVA_BASE + 0x10, UINT64_MAX - 7));
	assert_null(guestmem_gpa(&f->gm, UINT64_MAX, 2));
	assert_null(guestmem_gpa(&f->gm, UINT64_MAX - 1, UINT64_MAX));

	d = (struct guestmem_desc){ UINT64_MAX - 0xfff, 0x2000, UVA_BASE, 0 };
	fd = new_memfd(0x2000);
	assert_rc(guestmem_set(&gm, &d, &fd, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm.n, 0);
	assert_true(fd_closed(fd));

	d = (struct guestmem_desc){ GPA_BASE, 0x2000, UINT64_MAX - 0xfff, 0 };
	fd = new_memfd(0x2000);
	assert_rc(guestmem_set(&gm, &d, &fd, 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm.n, 0);
	assert_true(fd_closed(fd));
}

/* Two regions, adjacent in gpa, one starting at an unaligned offset into
 * its fd: each translates to its own bytes, a range across both does not. */
static void
test_guestmem_two_regions(void **state)
{
	struct guestmem gm = { 0 };
	struct guestmem_desc d[2] = {
		{ 0x0, 0x2000, 0x10000000, 0 },
		{ 0x2000, 0x1ff0, 0x20000000, 0x1004 },
	};
	uint8_t *a, *b;
	const uint8_t *p;
	int fds[2];
	char err[96];
	uint32_t off;

	(void)state;
	fds[0] = new_memfd(0x2000);
	fds[1] = new_memfd(0x3000);
	a = map_memfd(fds[0], 0x2000);
	b = map_memfd(fds[1], 0x3000);
	for (off = 0; off < 0x2000; off += 4)
		put32(a + off, 0xa0000000u | off);
	for (off = 0; off < 0x3000; off += 4)
		put32(b + off, 0xb0000000u | off);
	assert_rc(guestmem_set(&gm, d, fds, 2, err, sizeof(err)), 0);
	assert_int_equal(gm.n, 2);
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));

	p = guestmem_gpa(&gm, 0x0, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xa0000000u);
	p = guestmem_gpa(&gm, 0x1ffc, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xa0001ffcu);
	/* the second region starts 0x1004 bytes into its fd */
	p = guestmem_gpa(&gm, 0x2000, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xb0001004u);
	p = guestmem_gpa(&gm, 0x2000 + 0x1fec, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xb0002ff0u);
	p = guestmem_uva(&gm, 0x20000008, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xb000100cu);
	/* writes go to the fd */
	put32(guestmem_gpa(&gm, 0x2010, 4), 0x12345678);
	assert_int_equal(get32(b + 0x1014), 0x12345678);

	/* contiguous in gpa, but two mappings: not one range */
	assert_null(guestmem_gpa(&gm, 0x1ffc, 8));
	assert_null(guestmem_gpa(&gm, 0x2000 + 0x1fec, 5));
	assert_null(guestmem_gpa(&gm, 0x3ff0, 1));

	guestmem_clear(&gm);
	assert_int_equal(gm.n, 0);
	munmap(a, 0x2000);
	munmap(b, 0x3000);
}

/* Overlapping regions are refused, nothing stays mapped (not even the
 * previous table), and every fd is closed. */
static void
test_guestmem_overlap(void **state)
{
	struct guestmem gm = { 0 };
	struct guestmem_desc ok = { 0x0, 0x2000, 0x10000000, 0 };
	struct guestmem_desc partial[2] = {
		{ 0x0, 0x2000, 0x10000000, 0 },
		{ 0x1000, 0x2000, 0x20000000, 0 },
	};
	struct guestmem_desc inside[2] = {
		{ 0x10000, 0x1000, 0x20000000, 0 },
		{ 0x0, 0x20000, 0x10000000, 0 },
	};
	char err[96];
	int fd, fds[2];

	(void)state;
	fd = new_memfd(0x2000);
	assert_rc(guestmem_set(&gm, &ok, &fd, 1, err, sizeof(err)), 0);
	assert_int_equal(gm.n, 1);

	fds[0] = new_memfd(0x2000);
	fds[1] = new_memfd(0x2000);
	assert_rc(guestmem_set(&gm, partial, fds, 2, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(gm.n, 0);
	assert_null(guestmem_gpa(&gm, 0x0, 1));
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));

	fds[0] = new_memfd(0x1000);
	fds[1] = new_memfd(0x20000);
	assert_rc(guestmem_set(&gm, inside, fds, 2, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(gm.n, 0);
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));
}

/* At most GUESTMEM_MAX_REGIONS regions, at least one; fds closed. */
static void
test_guestmem_region_count(void **state)
{
	struct guestmem gm = { 0 };
	struct guestmem_desc d[GUESTMEM_MAX_REGIONS + 1];
	int fds[GUESTMEM_MAX_REGIONS + 1];
	char err[96];
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(d); i++) {
		d[i] = (struct guestmem_desc){ 0x10000ull * i, 0x1000,
		    0x10000000ull + 0x10000ull * i, 0 };
		fds[i] = new_memfd(0x1000);
	}
	assert_rc(guestmem_set(&gm, d, fds, GUESTMEM_MAX_REGIONS + 1, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(gm.n, 0);
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		assert_true(fd_closed(fds[i]));

	/* exactly the maximum is fine, and each region is there */
	for (i = 0; i < GUESTMEM_MAX_REGIONS; i++)
		fds[i] = new_memfd(0x1000);
	assert_rc(guestmem_set(&gm, d, fds, GUESTMEM_MAX_REGIONS, err,
	    sizeof(err)), 0);
	assert_int_equal(gm.n, GUESTMEM_MAX_REGIONS);
	for (i = 0; i < GUESTMEM_MAX_REGIONS; i++)
		assert_non_null(guestmem_gpa(&gm, 0x10000ull * i + 0xfff, 1));
	assert_null(guestmem_gpa(&gm, 0x10000ull * GUESTMEM_MAX_REGIONS, 1));

	assert_rc(guestmem_set(&gm, d, fds, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm.n, 0);
}

/* ---- virtq_map ---------------------------------------------------------------- */

/*
 * A region whose mmap_offset is odd: rings aligned in the front-end's
 * addresses land misaligned in ours, and are refused.
 */
static void
test_map_misaligned_region(void **state)
{
	struct guestmem gm = { 0 };
	struct guestmem_desc d = { GPA_BASE, MEM_SIZE, UVA_BASE, 1 };
	struct virtq vq;
	char err[96];
	int fd = new_memfd(MEM_SIZE + 1);

	(void)state;
	assert_rc(guestmem_set(&gm, &d, &fd, 1, err, sizeof(err)), 0);
	virtq_init(&vq);
	vq.num = 8;
	vq.desc_uva = UVA_BASE + DESC_OFF;
	vq.avail_uva = UVA_BASE + AVAIL_OFF;
	vq.used_uva = UVA_BASE + USED_OFF;
	assert_rc(virtq_map(&vq, &gm), -EINVAL);
	assert_null(vq.desc);
	assert_null(vq.avail);
	assert_null(vq.used);
	guestmem_clear(&gm);
}

/* The spec's alignments (16, 2, 4) are enforced, and the queue size. */
static void
test_map_alignment(void **state)
{
	struct fx *f = *state;
	struct virtq *vq = &f->vq;

	vq->num = 8;
	vq->desc_uva = UVA_BASE + DESC_OFF;
	vq->avail_uva = UVA_BASE + AVAIL_OFF;
	vq->used_uva = UVA_BASE + USED_OFF;
	assert_rc(virtq_map(vq, &f->gm), 0);
	assert_non_null(vq->desc);
	assert_non_null(vq->avail);
	assert_non_null(vq->used);

	vq->desc_uva = UVA_BASE + DESC_OFF + 8;
	assert_rc(virtq_map(vq, &f->gm), -EINVAL);
	assert_null(vq->desc);
	vq->desc_uva = UVA_BASE + DESC_OFF + 16;
	assert_rc(virtq_map(vq, &f->gm), 0);

	vq->avail_uva = UVA_BASE + AVAIL_OFF + 1;
	assert_rc(virtq_map(vq, &f->gm), -EINVAL);
	assert_null(vq->avail);
	vq->avail_uva = UVA_BASE + AVAIL_OFF + 2;
	assert_rc(virtq_map(vq, &f->gm), 0);

	vq->used_uva = UVA_BASE + USED_OFF + 2;
	assert_rc(virtq_map(vq, &f->gm), -EINVAL);
	assert_null(vq->used);
	vq->used_uva = UVA_BASE + USED_OFF + 4;
	assert_rc(virtq_map(vq, &f->gm), 0);

	vq->num = 0;
	assert_rc(virtq_map(vq, &f->gm), -EINVAL);
	assert_null(vq->desc);

	/* the largest queue fits in 1 MiB laid out like this */
	vq->desc_uva = UVA_BASE;			/* 512 KiB */
	vq->avail_uva = UVA_BASE + 0x80000;		/* 64 KiB + 6 */
	vq->used_uva = UVA_BASE + 0x98000;		/* 256 KiB + 6 */
	vq->num = VIRTQ_MAX_SIZE;
	assert_rc(virtq_map(vq, &f->gm), 0);
	vq->num = VIRTQ_MAX_SIZE + 1;
	assert_rc(virtq_map(vq, &f->gm), -EINVAL);
	assert_null(vq->desc);
}

/* Each ring must lie wholly in guest memory, the event words included,
 * and is looked up by the front-end's address, not the guest's. */
static void
test_map_range(void **state)
{
	struct fx *f = *state;
	struct virtq *vq = &f->vq;

	vq->num = 8;
	vq->avail_uva = UVA_BASE + AVAIL_OFF;
	vq->used_uva = UVA_BASE + USED_OFF;

	/* 8 descriptors: 128 bytes */
	vq->desc_uva = UVA_BASE + MEM_SIZE - 128;
	assert_rc(virtq_map(vq, &f->gm), 0);
	vq->desc_uva = UVA_BASE + MEM_SIZE - 112;
	assert_rc(virtq_map(vq, &f->gm), -EFAULT);
	assert_null(vq->desc);
	assert_null(vq->avail);
	assert_null(vq->used);
	vq->desc_uva = UVA_BASE + DESC_OFF;

	/* flags, idx, 8 entries, used_event: 22 bytes */
	vq->avail_uva = UVA_BASE + MEM_SIZE - 22;
	assert_rc(virtq_map(vq, &f->gm), 0);
	vq->avail_uva = UVA_BASE + MEM_SIZE - 20;
	assert_rc(virtq_map(vq, &f->gm), -EFAULT);
	assert_null(vq->desc);
	vq->avail_uva = UVA_BASE + AVAIL_OFF;

	/* flags, idx, 8 elements, avail_event: 70 bytes */
	vq->used_uva = UVA_BASE + MEM_SIZE - 72;
	assert_rc(virtq_map(vq, &f->gm), 0);
	vq->used_uva = UVA_BASE + MEM_SIZE - 68;
	assert_rc(virtq_map(vq, &f->gm), -EFAULT);
	vq->used_uva = UVA_BASE + USED_OFF;

	/* a guest physical address is not where the front-end has it */
	vq->desc_uva = GPA_BASE + DESC_OFF;
	assert_rc(virtq_map(vq, &f->gm), -EFAULT);
	assert_null(vq->desc);
}

/* ---- pop, push, unpop, notify --------------------------------------------- */

/* A chain of two readable buffers, linked out of order: both iovecs point
 * at the driver's bytes, the lengths add up, and nothing is used yet. */
static void
test_pop_readable(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	queue_start(f, 8);
	desc(f, 5, BUF_OFF + 0x100, 100, VRING_DESC_F_NEXT, 2);
	desc(f, 2, BUF_OFF + 0x800, 52, 0, 0xffff);	/* next unused */
	avail_publish(f, 5);

	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nout, 2);
	assert_int_equal(c.nin, 0);
	assert_int_equal(c.out_len, 152);
	assert_int_equal(c.in_len, 0);
	assert_iov_at(f, &c.out[0], BUF_OFF + 0x100, 100);
	assert_iov_at(f, &c.out[1], BUF_OFF + 0x800, 52);
	assert_int_equal(f->vq.last_avail, 1);
	assert_int_equal(used_idx(f), 0);
	assert_false(f->vq.broken);
}

/* Readable then writable buffers land in out[] and in[]; what the device
 * writes through in[] is what the driver finds, and no byte more. */
static void
test_pop_readable_writable(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	uint8_t fill[500];
	unsigned i;

	queue_start(f, 8);
	desc(f, 3, BUF_OFF + 0x40, 16, VRING_DESC_F_NEXT, 6);
	desc(f, 6, BUF_OFF + 0x1000, 200,
	    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF_OFF + 0x2000, 300, VRING_DESC_F_WRITE, 0);
	avail_publish(f, 3);

	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 500);
	assert_iov_at(f, &c.out[0], BUF_OFF + 0x40, 16);
	assert_iov_at(f, &c.in[0], BUF_OFF + 0x1000, 200);
	assert_iov_at(f, &c.in[1], BUF_OFF + 0x2000, 300);

	memset(fill, 0xab, sizeof(fill));
	assert_int_equal(iov_from_buf(c.in, c.nin, 0, fill, sizeof(fill)), 500);
	for (i = 0; i < 200; i++)
		assert_int_equal(f->drv[BUF_OFF + 0x1000 + i], 0xab);
	for (i = 0; i < 300; i++)
		assert_int_equal(f->drv[BUF_OFF + 0x2000 + i], 0xab);
	assert_int_equal(get32(f->drv + BUF_OFF + 0x1000 + 200),
	    BUF_OFF + 0x1000 + 200);
	assert_int_equal(get32(f->drv + BUF_OFF + 0x2000 - 4),
	    BUF_OFF + 0x2000 - 4);
	assert_int_equal(get32(f->drv + BUF_OFF + 0x2000 + 300),
	    BUF_OFF + 0x2000 + 300);
}

/* Nothing available: 0. Available but the queue not started: 0 too,
 * and the chain is still there once it is. */
static void
test_pop_nothing(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	queue_start(f, 8);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
	assert_int_equal(f->vq.last_avail, 0);
	assert_false(virtq_pending(&f->vq));

	desc(f, 0, BUF_OFF, 8, 0, 0);
	avail_publish(f, 0);
	assert_true(virtq_pending(&f->vq));
	f->vq.started = false;
	assert_false(virtq_pending(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
	f->vq.started = true;
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
	assert_false(virtq_pending(&f->vq));
}

/* push writes the element (id, len) at used_idx % num, then used->idx;
 * both 16-bit index wrap and ring wrap land in the right slot. */
static void
test_push(void **state)
{
	struct fx *f = *state;
	unsigned i;

	queue_start(f, 8);
	virtq_push(&f->vq, 5, 123);
	assert_int_equal(used_idx(f), 1);
	assert_used_elem(f, 0, 5, 123);
	virtq_push(&f->vq, 2, 0xdeadbeef);
	assert_int_equal(used_idx(f), 2);
	assert_used_elem(f, 1, 2, 0xdeadbeef);
	assert_used_elem(f, 0, 5, 123);
	for (i = 2; i < 9; i++)
		virtq_push(&f->vq, (uint16_t)i, 1000 + i);
	assert_int_equal(used_idx(f), 9);
	assert_used_elem(f, 0, 8, 1008);	/* the ninth, around the ring */
	assert_used_elem(f, 7, 7, 1007);
	assert_int_equal(get16(f->drv + USED_OFF), 0);	/* flags untouched */

	f->vq.used_idx = 0xffff;
	virtq_push(&f->vq, 4, 44);
	assert_int_equal(used_idx(f), 0);
	assert_used_elem(f, 7, 4, 44);
}

/* unpop puts the last chain back: the same head pops again, then the next. */
static void
test_unpop(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	queue_start(f, 8);
	desc(f, 0, BUF_OFF, 8, 0, 0);
	desc(f, 1, BUF_OFF + 0x100, 8, VRING_DESC_F_WRITE, 0);
	avail_publish(f, 0);
	avail_publish(f, 1);

	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 0);
	virtq_unpop(&f->vq);
	assert_true(virtq_pending(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.nout, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 1);
	assert_int_equal(c.nin, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
	assert_int_equal(used_idx(f), 0);
}

/*
 * notify signals the call eventfd once for whatever was pushed since the
 * last time, unless the driver set NO_INTERRUPT; with nothing pushed it
 * stays quiet.
 */
static void
test_notify(void **state)
{
	struct fx *f = *state;
	eventfd_t v;
	int efd;

	queue_start(f, 8);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd >= 0);
	f->vq.call_fd = efd;

	virtq_notify(&f->vq);		/* nothing pushed: nothing to say */
	assert_int_equal(eventfd_read(efd, &v), -1);
	assert_int_equal(errno, EAGAIN);

	virtq_push(&f->vq, 0, 0);
	virtq_push(&f->vq, 1, 0);
	virtq_notify(&f->vq);
	virtq_notify(&f->vq);		/* already told */
	assert_int_equal(eventfd_read(efd, &v), 0);
	assert_int_equal(v, 1);

	avail_flags(f, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&f->vq, 2, 0);
	virtq_notify(&f->vq);
	assert_int_equal(eventfd_read(efd, &v), -1);
	assert_int_equal(errno, EAGAIN);

	avail_flags(f, 0);
	virtq_push(&f->vq, 3, 0);
	virtq_notify(&f->vq);
	assert_int_equal(eventfd_read(efd, &v), 0);
	assert_int_equal(v, 1);

	/* no call fd: nothing to do, nothing done */
	f->vq.call_fd = -1;
	virtq_push(&f->vq, 4, 0);
	virtq_notify(&f->vq);
	assert_int_equal(eventfd_read(efd, &v), -1);
	close(efd);
}

/* ---- a guest that corrupts the ring: the queue breaks, for good ------------ */

/* pop fails with -EFAULT, says why, and keeps failing for a good chain. */
static void
assert_broken_for_good(struct fx *f)
{
	struct virtq_chain c;

	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), -EFAULT);
	assert_true(f->vq.broken);
	assert_true(f->vq.why[0] != '\0');
	assert_false(virtq_ready(&f->vq));
	assert_false(virtq_pending(&f->vq));

	desc(f, 0, BUF_OFF, 8, 0, 0);
	f->avail_idx = get16(f->drv + AVAIL_OFF + 2);
	f->vq.last_avail = f->avail_idx;
	avail_publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), -EFAULT);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), -EFAULT);
}

/* next = num is out of range (num - 1 is not). */
static void
test_next_out_of_range(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	queue_start(f, 8);
	desc(f, 0, BUF_OFF, 8, VRING_DESC_F_NEXT, 7);
	desc(f, 7, BUF_OFF + 0x100, 8, 0, 0);
	avail_publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.nout, 2);

	desc(f, 1, BUF_OFF, 8, VRING_DESC_F_NEXT, 8);
	avail_publish(f, 1);
	assert_broken_for_good(f);
	assert_int_equal(used_idx(f), 0);
}

/* A chain of exactly num descriptors is fine; one that loops breaks. */
static void
test_chain_loops(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	unsigned i;

	queue_start(f, 8);
	for (i = 0; i < 8; i++)
		desc(f, i, BUF_OFF + 0x100 * i, 8,
		    i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	avail_publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.nout, 8);
	assert_int_equal(c.out_len, 64);

	desc(f, 2, BUF_OFF, 8, VRING_DESC_F_NEXT, 3);
	desc(f, 3, BUF_OFF, 8, VRING_DESC_F_NEXT, 2);
	avail_publish(f, 2);
	assert_broken_for_good(f);
	assert_int_equal(used_idx(f), 0);
}

/* avail->idx may run ahead of last_avail by num entries, not num + 1. */
static void
test_avail_runs_ahead(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	unsigned i;

	queue_start(f, 8);
	for (i = 0; i < 8; i++) {
		desc(f, i, BUF_OFF + 0x100 * i, 8, 0, 0);
		avail_publish(f, (uint16_t)(7 - i));
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
		assert_int_equal(c.head, 7 - i);
		assert_iov_at(f, &c.out[0], BUF_OFF + 0x100 * (7 - i), 8);
	}
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);

	put16(f->drv + AVAIL_OFF + 2, (uint16_t)(8 + 9));
	assert_broken_for_good(f);
}

/* The 16-bit avail index wraps: entries keep coming from idx % num. */
static void
test_avail_wraps(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	queue_start(f, 8);
	f->vq.last_avail = 0xfffe;
	f->avail_idx = 0xfffe;
	put16(f->drv + AVAIL_OFF + 2, f->avail_idx);
	desc(f, 4, BUF_OFF, 8, 0, 0);
	desc(f, 5, BUF_OFF + 0x100, 8, 0, 0);
	avail_publish(f, 4);		/* ring[6] */
	avail_publish(f, 5);		/* ring[7], idx now 0 */
	assert_int_equal(get16(f->drv + AVAIL_OFF + 2), 0);

	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 4);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
	assert_int_equal(f->vq.last_avail, 0);
	assert_false(f->vq.broken);
}

/* A head that names descriptor num or beyond breaks the queue. */
static void
test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	queue_start(f, 8);
	avail_publish(f, 8);
	assert_broken_for_good(f);
	assert_int_equal(used_idx(f), 0);
}

/* ---- bad chains: returned used, length 0; the queue carries on ------------ */

/* Publishes a good one-buffer chain at descriptor good after the bad ones
 * already published; pop must skip the nbad bad heads (given back in
 * order, length 0, counted) and return the good chain, clean. */
static void
assert_skips_bad(struct fx *f, const uint16_t *bad, unsigned nbad,
    uint16_t good)
{
	struct virtq_chain c;
	uint16_t used0 = used_idx(f);
	uint64_t bad0 = f->vq.chains_bad;
	unsigned i;

	desc(f, good, BUF_OFF + 0x8000, 24, 0, 0);
	avail_publish(f, good);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.head, good);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 0);
	assert_int_equal(c.out_len, 24);
	assert_int_equal(c.in_len, 0);
	assert_iov_at(f, &c.out[0], BUF_OFF + 0x8000, 24);
	assert_false(f->vq.broken);
	assert_int_equal(f->vq.chains_bad, bad0 + nbad);
	assert_int_equal(used_idx(f), (uint16_t)(used0 + nbad));
	for (i = 0; i < nbad; i++)
		assert_used_elem(f, (used0 + i) % f->vq.num, bad[i], 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 0);
}

/* Buffers outside guest RAM: straddling its end, or below it, readable
 * or writable, first in the chain or not. */
static void
test_bad_address(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 0, 2, 4 };

	queue_start(f, 8);
	desc(f, 0, BUF_OFF, 8, VRING_DESC_F_NEXT, 1);
	desc_gpa(f, 1, GPA_BASE + MEM_SIZE - 4, 8, 0, 0);
	desc(f, 2, BUF_OFF, 8, VRING_DESC_F_NEXT, 3);
	desc_gpa(f, 3, 0x1000, 8, VRING_DESC_F_WRITE, 0);
	desc_gpa(f, 4, UINT64_MAX - 3, 8, VRING_DESC_F_WRITE, 0);
	avail_publish(f, 0);
	avail_publish(f, 2);
	avail_publish(f, 4);
	assert_skips_bad(f, bad, 3, 7);
}

/* INDIRECT was not negotiated: a chain using it is bad, even if the
 * table it points at is well formed. */
static void
test_indirect(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 0 };
	uint8_t *table = f->drv + BUF_OFF + 0x4000;

	queue_start(f, 8);
	put64(table, GPA_BASE + BUF_OFF);
	put32(table + 8, 8);
	put16(table + 12, 0);
	put16(table + 14, 0);
	desc(f, 0, BUF_OFF + 0x4000, 16, VRING_DESC_F_INDIRECT, 0);
	avail_publish(f, 0);
	assert_skips_bad(f, bad, 1, 7);
}

/* Device-readable buffers must all come before the writable ones. */
static void
test_readable_after_writable(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 1 };

	queue_start(f, 8);
	desc(f, 1, BUF_OFF, 8, VRING_DESC_F_NEXT, 2);
	desc(f, 2, BUF_OFF + 0x100, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	desc(f, 3, BUF_OFF + 0x200, 8, 0, 0);
	avail_publish(f, 1);
	assert_skips_bad(f, bad, 1, 7);
}

/* VIRTQ_MAX_IOV buffers each way are taken; one more readable, or one
 * more writable, makes the chain bad. */
static void
test_too_many_buffers(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	static const uint16_t bad[] = { 0 };
	unsigned i;

	queue_start(f, 128);
	/* exactly VIRTQ_MAX_IOV readable */
	for (i = 0; i < VIRTQ_MAX_IOV; i++)
		desc(f, i, BUF_OFF + 0x10 * i, 4,
		    i + 1 < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	avail_publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.nout, VIRTQ_MAX_IOV);
	assert_int_equal(c.out_len, 4 * VIRTQ_MAX_IOV);
	assert_iov_at(f, &c.out[VIRTQ_MAX_IOV - 1],
	    BUF_OFF + 0x10 * (VIRTQ_MAX_IOV - 1), 4);

	/* exactly VIRTQ_MAX_IOV writable */
	for (i = 0; i < VIRTQ_MAX_IOV; i++)
		desc(f, i, BUF_OFF + 0x10 * i, 4, VRING_DESC_F_WRITE |
		    (i + 1 < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0),
		    (uint16_t)(i + 1));
	avail_publish(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->gm, &c), 1);
	assert_int_equal(c.nin, VIRTQ_MAX_IOV);
	assert_int_equal(c.in_len, 4 * VIRTQ_MAX_IOV);

	/* one readable more */
	for (i = 0; i <= VIRTQ_MAX_IOV; i++)
		desc(f, i, BUF_OFF + 0x10 * i, 4,
		    i < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	avail_publish(f, 0);
	assert_skips_bad(f, bad, 1, 127);

	/* one writable more */
	for (i = 0; i <= VIRTQ_MAX_IOV; i++)
		desc(f, i, BUF_OFF + 0x10 * i, 4, VRING_DESC_F_WRITE |
		    (i < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0),
		    (uint16_t)(i + 1));
	avail_publish(f, 0);
	assert_skips_bad(f, bad, 1, 127);
	assert_int_equal(f->vq.chains_bad, 2);
}

/* ---- scatter/gather ------------------------------------------------------------- */

/* Four buffers "abc", "", "defgh", "ijkl": one stream "abcdefghijkl". */
struct sg {
	char		a[3], b[1], c[5], d[4];
	struct iovec	iov[4];
};

static void
sg_init(struct sg *s)
{
	memcpy(s->a, "abc", 3);
	memcpy(s->c, "defgh", 5);
	memcpy(s->d, "ijkl", 4);
	s->iov[0] = (struct iovec){ s->a, 3 };
	s->iov[1] = (struct iovec){ s->b, 0 };
	s->iov[2] = (struct iovec){ s->c, 5 };
	s->iov[3] = (struct iovec){ s->d, 4 };
}

/* Reads from any offset across buffer boundaries, stopping at the end. */
static void
test_iov_to_buf(void **state)
{
	struct sg s;
	char buf[16];

	(void)state;
	sg_init(&s);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(iov_to_buf(s.iov, 4, 0, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "abcdefghijkl", 12);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(iov_to_buf(s.iov, 4, 2, buf, 8), 8);
	assert_memory_equal(buf, "cdefghij\0", 9);
	assert_int_equal(iov_to_buf(s.iov, 4, 3, buf, 1), 1);
	assert_int_equal(buf[0], 'd');
	assert_int_equal(iov_to_buf(s.iov, 4, 10, buf, 8), 2);
	assert_memory_equal(buf, "kl", 2);
	assert_int_equal(iov_to_buf(s.iov, 4, 12, buf, 8), 0);
	assert_int_equal(iov_to_buf(s.iov, 4, 100, buf, 8), 0);
	assert_int_equal(iov_to_buf(s.iov, 4, 0, buf, 0), 0);
	assert_int_equal(iov_to_buf(s.iov, 2, 1, buf, 16), 2);	/* n counts */
	assert_memory_equal(buf, "bc", 2);
}

/* Writes from any offset across buffer boundaries, and never past the end. */
static void
test_iov_from_buf(void **state)
{
	struct sg s;

	(void)state;
	sg_init(&s);
	assert_int_equal(iov_from_buf(s.iov, 4, 4, "WXYZ", 4), 4);
	assert_memory_equal(s.c, "dWXYZ", 5);
	assert_int_equal(iov_from_buf(s.iov, 4, 7, "12", 2), 2);
	assert_memory_equal(s.c, "dWXY1", 5);
	assert_memory_equal(s.d, "2jkl", 4);
	assert_int_equal(iov_from_buf(s.iov, 4, 2, "!?", 2), 2);
	assert_memory_equal(s.a, "ab!", 3);
	assert_memory_equal(s.c, "?WXY1", 5);
	assert_int_equal(iov_from_buf(s.iov, 4, 10, "+-*/", 4), 2);
	assert_memory_equal(s.d, "2j+-", 4);
	assert_int_equal(iov_from_buf(s.iov, 4, 12, "x", 1), 0);
	assert_memory_equal(s.a, "ab!", 3);
}

/* The part from an offset on: the first iovec cut, empty ones dropped,
 * at most max of them. */
static void
test_iov_tail(void **state)
{
	struct sg s;
	struct iovec out[4];

	(void)state;
	sg_init(&s);
	assert_int_equal(iov_tail(s.iov, 4, 4, out, 4), 2);
	assert_ptr_equal(out[0].iov_base, s.c + 1);
	assert_int_equal(out[0].iov_len, 4);
	assert_ptr_equal(out[1].iov_base, s.d);
	assert_int_equal(out[1].iov_len, 4);

	assert_int_equal(iov_tail(s.iov, 4, 3, out, 4), 2);
	assert_ptr_equal(out[0].iov_base, s.c);
	assert_int_equal(out[0].iov_len, 5);

	assert_int_equal(iov_tail(s.iov, 4, 1, out, 4), 3);
	assert_ptr_equal(out[0].iov_base, s.a + 1);
	assert_int_equal(out[0].iov_len, 2);
	assert_ptr_equal(out[1].iov_base, s.c);
	assert_ptr_equal(out[2].iov_base, s.d);

	assert_int_equal(iov_tail(s.iov, 4, 1, out, 1), 1);
	assert_ptr_equal(out[0].iov_base, s.a + 1);
	assert_int_equal(iov_tail(s.iov, 4, 11, out, 4), 1);
	assert_ptr_equal(out[0].iov_base, s.d + 3);
	assert_int_equal(out[0].iov_len, 1);
	assert_int_equal(iov_tail(s.iov, 4, 12, out, 4), 0);
	assert_int_equal(iov_tail(s.iov, 4, 50, out, 4), 0);
}

int
main(void)
{
#define T(t)	cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_guestmem_translate),
		T(test_guestmem_wrap),
		cmocka_unit_test(test_guestmem_two_regions),
		cmocka_unit_test(test_guestmem_overlap),
		cmocka_unit_test(test_guestmem_region_count),
		cmocka_unit_test(test_map_misaligned_region),
		T(test_map_alignment),
		T(test_map_range),
		T(test_pop_readable),
		T(test_pop_readable_writable),
		T(test_pop_nothing),
		T(test_push),
		T(test_unpop),
		T(test_notify),
		T(test_next_out_of_range),
		T(test_chain_loops),
		T(test_avail_runs_ahead),
		T(test_avail_wraps),
		T(test_head_out_of_range),
		T(test_bad_address),
		T(test_indirect),
		T(test_readable_after_writable),
		T(test_too_many_buffers),
		cmocka_unit_test(test_iov_to_buf),
		cmocka_unit_test(test_iov_from_buf),
		cmocka_unit_test(test_iov_tail),
	};
#undef T

	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
