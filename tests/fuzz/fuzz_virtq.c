/*
 * fuzz_virtq.c - split virtqueues in guest memory (vm/virtq.c, guestmem.c)
 *
 * Reaches: virtq_map() (size, alignment, rings inside guest memory),
 * virtq_pop() (the avail index running ahead, heads and nexts out of
 * range, loops, INDIRECT, buffers outside guest memory or straddling its
 * end, readable after writable, more than VIRTQ_MAX_IOV buffers),
 * virtq_push(), virtq_unpop(), virtq_pending(), virtq_notify(), and the
 * scatter/gather helpers on the chains popped; the guest rewriting its
 * rings and buffers between two pops, as a hostile one may at any time.
 *
 * Guest RAM is a 64 KiB memfd at guest physical address GPA_BASE (front-
 * end address UVA_BASE), mapped twice as in tests/unit/test_virtq.c: by
 * guestmem_set(), the device's view, and here, the guest's. Input:
 *
 *   u8  num - 1 (queue size 1..256)     u16 the avail index to start at
 *   u8  ring layout: bit 0 misaligns the descriptor table (refused),
 *       bits 1-2 move the avail and used rings
 *   u16 L, then L bytes written into guest RAM from offset 0 (descriptor
 *       table at 0, avail ring at 0x1000, used ring at 0x2000, buffers
 *       from 0x4000; descriptors' addresses are guest physical)
 *   then operations, a byte each: 0 pop (and use the chain: read what it
 *   offers, write into what it lends, push), 1 pop and keep, 2 unpop,
 *   3 the guest writes: u16 offset, u8 length, bytes, 4 notify, 5 pending
 *
 * Checks: a chain's buffers all lie inside guest memory, readable ones
 * first, at most VIRTQ_MAX_IOV each way, their lengths summed right; a
 * broken queue stays broken; the used index counts every push.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "virtq.h"

#define GPA_BASE	0x10000ull
#define UVA_BASE	0x7f0000000000ull
#define MEM_SIZE	0x10000u
#define AVAIL_OFF	0x1000u
#define USED_OFF	0x2000u

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_virtq: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static struct guestmem gm;
static uint8_t *drv;		/* the guest's view */
static int call_fd;

static void
check_iov(const struct iovec *iov, unsigned n, size_t total)
{
	const uint8_t *lo = gm.r[0].host, *hi = lo + MEM_SIZE;
	size_t sum = 0;
	unsigned i;

	CHECK(n <= VIRTQ_MAX_IOV);
	for (i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;

		CHECK(iov[i].iov_len > 0);
		CHECK(p >= lo && p < hi && iov[i].iov_len <= (size_t)(hi - p));
		sum += iov[i].iov_len;
	}
	CHECK(sum == total);
}

/* Does with a chain what a device does: reads it, writes its answer. */
static uint32_t
use_chain(const struct virtq_chain *c)
{
	static uint8_t buf[VIRTQ_MAX_IOV * MEM_SIZE / 16];
	struct iovec tail[VIRTQ_MAX_IOV];
	size_t got, put, len;
	unsigned k;

	len = c->out_len < sizeof(buf) ? c->out_len : sizeof(buf);
	got = iov_to_buf(c->out, c->nout, 0, buf, len);
	CHECK(got == len);
	if (c->out_len > 44) {
		k = iov_tail(c->out, c->nout, 44, tail, VIRTQ_MAX_IOV);
		k = iov_trim(tail, k, c->out_len - 44 - 1);
		check_iov(tail, k, c->out_len - 44 - 1);
	}
	len = c->in_len < sizeof(buf) ? c->in_len : sizeof(buf);
	put = iov_from_buf(c->in, c->nin, 0, buf, len);
	CHECK(put == len);
	return (uint32_t)put;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct guestmem_desc d = { GPA_BASE, MEM_SIZE, UVA_BASE, 0 };
	char err[128];
	int fd;

	fuzz_init();
	if ((fd = memfd_create("guest-ram", MFD_CLOEXEC)) < 0 ||
	    ftruncate(fd, MEM_SIZE) < 0)
		abort();
	drv = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (drv == MAP_FAILED)
		abort();
	if (guestmem_set(&gm, &d, &fd, 1, err, sizeof(err)) < 0)
		abort();
	if ((call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain ch;
	struct virtq vq;
	struct fz f;
	const uint8_t *blob;
	size_t len;
	uint16_t used0, off;
	uint32_t pushes = 0;
	uint8_t layout, op;
	bool broken = false, have = false;
	unsigned ops = 0;
	eventfd_t ev;
	int rc;

	fz_init(&f, data, size);
	memset(drv, 0, MEM_SIZE);
	virtq_init(&vq);
	vq.num = (uint16_t)(fz_u8(&f) + 1);
	vq.last_avail = fz_u16(&f);
	layout = fz_u8(&f);
	vq.desc_uva = UVA_BASE + (layout & 1 ? 8 : 0);
	vq.avail_uva = UVA_BASE + AVAIL_OFF + (layout & 2 ? 0x800 : 0);
	vq.used_uva = UVA_BASE + USED_OFF + (layout & 4 ? 0x1000 : 0);
	vq.call_fd = call_fd;
	blob = fz_bytes(&f, fz_u16(&f), &len);
	memcpy(drv, blob, len < MEM_SIZE ? len : MEM_SIZE);
	if (virtq_map(&vq, &gm) < 0) {
		CHECK(!vq.desc && !vq.avail && !vq.used);
		return 0;
	}
	vq.started = vq.enabled = true;
	vq.used_idx = used0 = vq.used->idx;

	while (!fz_empty(&f) && ops++ < 1024) {
		op = fz_u8(&f) % 6;
		switch (op) {
		case 0:
		case 1:
			rc = virtq_pop(&vq, &gm, &ch);
			if (broken)
				CHECK(rc == -EFAULT);
			if (rc < 0) {
				CHECK(rc == -EFAULT && vq.broken);
				broken = true;
				have = false;
				break;
			}
			have = rc == 1;
			if (!have)
				break;
			CHECK(ch.head < vq.num);
			check_iov(ch.out, ch.nout, ch.out_len);
			check_iov(ch.in, ch.nin, ch.in_len);
			if (op == 0) {
				virtq_push(&vq, ch.head, use_chain(&ch));
				pushes++;
				have = false;
			}
			break;
		case 2:
			if (have) {
				virtq_unpop(&vq);
				have = false;
			}
			break;
		case 3:
			off = fz_u16(&f) % MEM_SIZE;
			blob = fz_bytes(&f, fz_u8(&f), &len);
			if (len > MEM_SIZE - off)
				len = MEM_SIZE - off;
			memcpy(drv + off, blob, len);
			break;
		case 4:
			virtq_notify(&vq);
			break;
		case 5:
			(void)virtq_pending(&vq);
			break;
		}
	}
	/* Ours, and the bad chains given back: nothing else, none lost. */
	CHECK((uint16_t)(vq.used_idx - used0) ==
	    (uint16_t)(pushes + vq.chains_bad));
	eventfd_read(call_fd, &ev);
	return 0;
}
