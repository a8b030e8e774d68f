/*
 * virtq.h - split virtqueues, the device's side
 */
#ifndef VMN_VIRTQ_H
#define VMN_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guestmem.h"

#define VIRTQ_MAX_SIZE		32768
#define VIRTQ_MAX_IOV		64	/* buffers per chain we take */

/* The ring layouts (virtio 1.x, little-endian). */
struct vring_desc {
	uint64_t	addr;
	uint32_t	len;
	uint16_t	flags;
	uint16_t	next;
};
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4

struct vring_avail {
	uint16_t	flags;
	uint16_t	idx;
	uint16_t	ring[];
};
#define VRING_AVAIL_F_NO_INTERRUPT	1

struct vring_used_elem {
	uint32_t	id;
	uint32_t	len;
};

struct vring_used {
	uint16_t		flags;
	uint16_t		idx;
	struct vring_used_elem	ring[];
};

struct virtq {
	/* set by the front-end (vhost-user) */
	uint16_t		 num;
	uint64_t		 desc_uva, avail_uva, used_uva;
	uint16_t		 last_avail;	/* next avail entry to take */
	int			 kick_fd;
	int			 call_fd;
	bool			 enabled;
	bool			 started;	/* has a kick fd; not stopped */
	/* derived */
	struct vring_desc	*desc;
	struct vring_avail	*avail;
	struct vring_used	*used;
	uint16_t		 used_idx;	/* ours, published on push */
	bool			 unsignalled;	/* pushed since the last notify */
	bool			 broken;	/* the guest corrupted it */
	char			 why[96];	/* ... how */
	uint64_t		 chains_bad;	/* chains refused, not fatal */
};

/* A chain of buffers: what the device reads, then what it writes. */
struct virtq_chain {
	uint16_t	 head;
	unsigned	 nout, nin;
	struct iovec	 out[VIRTQ_MAX_IOV];	/* device-readable */
	struct iovec	 in[VIRTQ_MAX_IOV];	/* device-writable */
	size_t		 out_len, in_len;
};

void	virtq_init(struct virtq *vq);
/* Finds the rings in guest memory (again, after SET_MEM_TABLE); -EFAULT. */
int	virtq_map(struct virtq *vq, const struct guestmem *gm);
void	virtq_unmap(struct virtq *vq);
bool	virtq_ready(const struct virtq *vq);

/*
 * The next chain the driver made available: 1 and *c filled, 0 if there
 * is none, -EFAULT when the ring itself is corrupt (the queue is broken
 * from then on). A chain that is merely bad (an address outside guest
 * memory, too many buffers, a readable buffer after a writable one) is
 * returned used with length 0 and skipped.
 */
int	virtq_pop(struct virtq *vq, const struct guestmem *gm,
	    struct virtq_chain *c);
/* Puts the chain last popped back, unused (popped, never pushed). */
void	virtq_unpop(struct virtq *vq);
/* Whether the driver has made buffers available that are not taken yet. */
bool	virtq_pending(const struct virtq *vq);
/* Gives a chain back, len bytes written into it. */
void	virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Interrupts the driver if something was pushed since the last time and
 * it wants to hear of used buffers. */
void	virtq_notify(struct virtq *vq);

/* Scatter/gather over a chain's iovecs. */
size_t	iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
	    size_t len);
size_t	iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
	    const void *buf, size_t len);
/* Shortens iov to len bytes in all; how many iovecs are left. */
unsigned iov_trim(struct iovec *iov, unsigned n, size_t len);
/* The part of iov from off on, at most max iovecs; how many it took. */
unsigned iov_tail(const struct iovec *iov, unsigned n, size_t off,
	    struct iovec *out, unsigned max);

#endif
