/*
 * virtq.c - split virtqueues, the device's side
 *
 * The rings live in guest memory and the guest may rewrite them at any
 * moment, on purpose or not. So every index is checked against the queue
 * size, every descriptor is read once into a local copy before it is
 * looked at, every buffer address is translated with its length, and a
 * walk along a chain stops after num descriptors (a loop). What cannot be
 * trusted any more (an avail index that runs ahead by more than the ring,
 * a head or next out of range, a loop) breaks the queue until the
 * front-end sets it up again; a chain that is only unusable is returned
 * with nothing written and the queue carries on.
 *
 * Ordering: the driver publishes ring entries before avail->idx, so idx
 * is read with acquire semantics; we publish used entries before used->idx
 * with release semantics, and a full fence separates that store from
 * reading avail->flags to decide on an interrupt.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtq.h"

void
virtq_init(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = -1;
}

static void
set_broken(struct virtq *vq, const char *why)
{
	vq->broken = true;
	snprintf(vq->why, sizeof(vq->why), "%s", why);
}

int
virtq_map(struct virtq *vq, const struct guestmem *gm)
{
	size_t n = vq->num;

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	if (n == 0 || n > VIRTQ_MAX_SIZE)
		return -EINVAL;
	/* The spec's alignment, and what our loads and stores assume. */
	if ((vq->desc_uva & 15) || (vq->avail_uva & 1) || (vq->used_uva & 3))
		return -EINVAL;
	vq->desc = guestmem_uva(gm, vq->desc_uva, sizeof(struct vring_desc) * n);
	/* + 2: used_event and avail_event, present or not. */
	vq->avail = guestmem_uva(gm, vq->avail_uva,
	    sizeof(struct vring_avail) + sizeof(uint16_t) * n + 2);
	vq->used = guestmem_uva(gm, vq->used_uva,
	    sizeof(struct vring_used) + sizeof(struct vring_used_elem) * n + 2);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return -EFAULT;
	}
	/*
	 * Aligned in the front-end's space need not mean aligned here: a
	 * region's mmap_offset is the front-end's to choose.
	 */
	if (((uintptr_t)vq->desc & 15) || ((uintptr_t)vq->avail & 1) ||
	    ((uintptr_t)vq->used & 3)) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return -EINVAL;
	}
	return 0;
}

void
virtq_unmap(struct virtq *vq)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

bool
virtq_ready(const struct virtq *vq)
{
	return vq->desc && vq->started && vq->enabled && !vq->broken;
}

static uint16_t
avail_idx(const struct virtq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

bool
virtq_pending(const struct virtq *vq)
{
	return virtq_ready(vq) && avail_idx(vq) != vq->last_avail;
}

enum walk { WALK_OK, WALK_BAD_CHAIN, WALK_BROKEN };

/*
 * Follows the chain from c->head. A chain found bad is still walked to its
 * end (at most num descriptors), so that a loop is told from a chain that
 * is merely too long or unusable: the first breaks the queue.
 */
static enum walk
walk_chain(struct virtq *vq, const struct guestmem *gm, struct virtq_chain *c)
{
	enum walk verdict = WALK_OK;
	struct vring_desc d;
	unsigned count = 0;
	uint16_t i = c->head;
	void *p;

	for (;;) {
		if (count++ >= vq->num) {
			set_broken(vq, "descriptor chain loops");
			return WALK_BROKEN;
		}
		memcpy(&d, &vq->desc[i], sizeof(d));	/* read once */
		d.addr = le64toh(d.addr);
		d.len = le32toh(d.len);
		d.flags = le16toh(d.flags);
		d.next = le16toh(d.next);
		if (verdict == WALK_BAD_CHAIN) {
			/* Only following it now, for a loop. */
		} else if (d.flags & VRING_DESC_F_INDIRECT) {
			verdict = WALK_BAD_CHAIN;	/* not negotiated */
		} else if (d.len) {
			if (!(p = guestmem_gpa(gm, d.addr, d.len))) {
				verdict = WALK_BAD_CHAIN;
			} else if (d.flags & VRING_DESC_F_WRITE) {
				if (c->nin == VIRTQ_MAX_IOV) {
					verdict = WALK_BAD_CHAIN;
				} else {
					c->in[c->nin].iov_base = p;
					c->in[c->nin++].iov_len = d.len;
					c->in_len += d.len;
				}
			} else if (c->nin || c->nout == VIRTQ_MAX_IOV) {
				/* Readable buffers come first, and not too many. */
				verdict = WALK_BAD_CHAIN;
			} else {
				c->out[c->nout].iov_base = p;
				c->out[c->nout++].iov_len = d.len;
				c->out_len += d.len;
			}
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return verdict;
		if (d.next >= vq->num) {
			set_broken(vq, "descriptor next out of range");
			return WALK_BROKEN;
		}
		i = d.next;
	}
}

int
virtq_pop(struct virtq *vq, const struct guestmem *gm, struct virtq_chain *c)
{
	uint16_t idx, head;

	for (;;) {
		if (vq->broken)
			return -EFAULT;
		if (!virtq_ready(vq))
			return 0;
		idx = avail_idx(vq);
		if ((uint16_t)(idx - vq->last_avail) > vq->num) {
			set_broken(vq, "avail index ran ahead of the ring");
			return -EFAULT;
		}
		if (idx == vq->last_avail)
			return 0;
		head = le16toh(__atomic_load_n(
		    &vq->avail->ring[vq->last_avail % vq->num], __ATOMIC_RELAXED));
		vq->last_avail++;
		if (head >= vq->num) {
			set_broken(vq, "avail ring names a descriptor out of range");
			return -EFAULT;
		}
		memset(c, 0, offsetof(struct virtq_chain, out));
		c->head = head;
		c->out_len = c->in_len = 0;
		switch (walk_chain(vq, gm, c)) {
		case WALK_OK:
			return 1;
		case WALK_BAD_CHAIN:
			vq->chains_bad++;
			virtq_push(vq, head, 0);
			continue;
		case WALK_BROKEN:
			return -EFAULT;
		}
	}
}

void
virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}

void
virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e;

	if (!vq->used)
		return;
	e = &vq->used->ring[vq->used_idx % vq->num];
	e->id = htole32(head);
	e->len = htole32(len);
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx),
	    __ATOMIC_RELEASE);
	vq->unsignalled = true;
}

void
virtq_notify(struct virtq *vq)
{
	uint16_t flags;

	if (!vq->avail || vq->call_fd < 0 || !vq->unsignalled)
		return;
	vq->unsignalled = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));
	if (!(flags & VRING_AVAIL_F_NO_INTERRUPT))
		eventfd_write(vq->call_fd, 1);
}

/* ---- scatter/gather ---------------------------------------------------- */

/* Copies between buf and iov from byte off on; to_iov says which way. */
static size_t
iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf,
    size_t len, bool to_iov)
{
	size_t done = 0, k;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, buf + done, k);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t
iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
    size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

size_t
iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf,
    size_t len)
{
	/* Not written through: iov_copy() only reads buf when to_iov. */
	return iov_copy(iov, n, off, (uint8_t *)(uintptr_t)buf, len, true);
}

unsigned
iov_trim(struct iovec *iov, unsigned n, size_t len)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (iov[i].iov_len >= len) {
			iov[i].iov_len = len;
			return len ? i + 1 : i;
		}
		len -= iov[i].iov_len;
	}
	return n;
}

unsigned
iov_tail(const struct iovec *iov, unsigned n, size_t off, struct iovec *out,
    unsigned max)
{
	unsigned i, k = 0;

	for (i = 0; i < n && k < max; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k++].iov_len = iov[i].iov_len - off;
		off = 0;
	}
	return k;
}
