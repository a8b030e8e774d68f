/*
 * fuzz_vu.h - a vhost-user vsock device and the guest's side of its queues,
 * for fuzz_vsock.c, fuzz_vhost_user.c and fuzz_hvsock.c
 *
 * A struct vu_dev is driven by vu_handle() as vu's own loop would after
 * reading a message (tests/unit/test_vhost_user.c does the same); its fd is
 * one end of a socketpair whose other end swallows the replies. Behind it
 * is the real vsockdev (vm/vsockdev.c), listening on a unix socket in the
 * harness's private directory for host programs ("CONNECT P\n"), and
 * connecting guest connections to port P to PATH_P.
 *
 * Guest RAM is a memfd mapped twice: the device gets it with
 * SET_MEM_TABLE, the harness keeps its own mapping (the guest's view) and
 * lays out the rings and buffers there, with little-endian stores, as a
 * driver does. Layout: queue q's descriptor table at q * QSPAN, its avail
 * ring at + 0x1000, its used ring at + 0x2000; buffers from BUF_OFF on.
 */
#ifndef VMN_FUZZ_VU_H
#define VMN_FUZZ_VU_H

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "fuzz.h"
#include "vhost-user.h"
#include "vsockdev.h"

#define RAM_GPA		0x0ull
#define RAM_UVA		0x7f5500000000ull
#define RAM_SIZE	0x100000u		/* 1 MiB */
#define QSPAN		0x4000u
#define QNUM		64u
#define BUF_OFF		0x10000u
#define GUEST_CID	3u
#define RXQ_		0
#define TXQ_		1

static uint8_t *ram;		/* the guest's view */
static int ram_fd = -1;
static struct event_base *base;

struct vufx {
	struct vu_dev		 vu;
	struct vsockdev		*dev;
	int			 peer;	/* the front-end's end of vu.fd */
	int			 kick[2];	/* ours; the device has copies */
	int			 call[2];
	uint16_t		 avail_idx[2];	/* the driver's, published */
	uint16_t		 used_seen[2];	/* used entries read back */
	char			 uds[96];
};

static inline void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	return get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

static inline uint64_t
get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Guest RAM, once for the run; cleared by each input that uses it. */
static inline void
fuzz_vu_init(void)
{
	if (!(base = event_base_new()))
		abort();
	if ((ram_fd = memfd_create("guest-ram", MFD_CLOEXEC)) < 0 ||
	    ftruncate(ram_fd, RAM_SIZE) < 0)
		abort();
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd,
	    0);
	if (ram == MAP_FAILED)
		abort();
}

/* One request, as vu's loop hands it over; fds are the device's after. */
static inline int
vu_req(struct vufx *x, uint32_t req, const void *payload, uint32_t size,
    int *fds, unsigned nfds)
{
	return vu_handle(&x->vu, req, VHOST_USER_VERSION, payload, size, fds,
	    nfds);
}

static inline int
vu_req_u64(struct vufx *x, uint32_t req, uint64_t v, int fd)
{
	uint8_t p[8];

	put_le64(p, v);
	return vu_req(x, req, p, sizeof(p), &fd, fd >= 0 ? 1 : 0);
}

static inline int
vu_req_state(struct vufx *x, uint32_t req, uint32_t idx, uint32_t num)
{
	uint8_t p[8];

	put_le32(p, idx);
	put_le32(p + 4, num);
	return vu_req(x, req, p, sizeof(p), NULL, 0);
}

static inline void
vu_set_mem(struct vufx *x)
{
	uint8_t p[8 + 32];
	int fd = fcntl(ram_fd, F_DUPFD_CLOEXEC, 0);

	memset(p, 0, sizeof(p));
	put_le32(p, 1);
	put_le64(p + 8, RAM_GPA);
	put_le64(p + 16, RAM_SIZE);
	put_le64(p + 24, RAM_UVA);
	put_le64(p + 32, 0);
	vu_req(x, VHOST_USER_SET_MEM_TABLE, p, sizeof(p), &fd, 1);
}

static inline void
vu_set_addr(struct vufx *x, unsigned q)
{
	uint8_t p[40];

	memset(p, 0, sizeof(p));
	put_le32(p, q);
	put_le64(p + 8, RAM_UVA + q * QSPAN);		/* descriptors */
	put_le64(p + 16, RAM_UVA + q * QSPAN + 0x2000);	/* used */
	put_le64(p + 24, RAM_UVA + q * QSPAN + 0x1000);	/* avail */
	vu_req(x, VHOST_USER_SET_VRING_ADDR, p, sizeof(p), NULL, 0);
}

/* Starts queue q: its size, base, addresses, call and kick eventfds. */
static inline void
vu_start_queue(struct vufx *x, unsigned q)
{
	int fd;

	vu_req_state(x, VHOST_USER_SET_VRING_NUM, q, QNUM);
	vu_req_state(x, VHOST_USER_SET_VRING_BASE, q, x->avail_idx[q]);
	vu_set_addr(x, q);
	if (x->call[q] < 0 && (x->call[q] = eventfd(0,
	    EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		abort();
	fd = fcntl(x->call[q], F_DUPFD_CLOEXEC, 0);
	vu_req_u64(x, VHOST_USER_SET_VRING_CALL, q, fd);
	if (x->kick[q] < 0 && (x->kick[q] = eventfd(0,
	    EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		abort();
	fd = fcntl(x->kick[q], F_DUPFD_CLOEXEC, 0);
	vu_req_u64(x, VHOST_USER_SET_VRING_KICK, q, fd);
}

/*
 * A fresh device. running: negotiated and both queues started, as QEMU
 * leaves it once the guest's driver is up; else only created.
 */
static inline void
vufx_new(struct vufx *x, bool running)
{
	char err[256];
	int sv[2];

	memset(x, 0, sizeof(*x));
	x->kick[0] = x->kick[1] = x->call[0] = x->call[1] = -1;
	memset(ram, 0, RAM_SIZE);
	snprintf(x->uds, sizeof(x->uds), "%s/vsock", fuzz_dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	if (!(x->dev = vsockdev_new(base, &x->vu, GUEST_CID, x->uds, err,
	    sizeof(err)))) {
		dprintf(2, "vsockdev_new: %s\n", err);
		abort();
	}
	if (vu_init(&x->vu, base, -1, &vsockdev_vu_ops, x->dev) < 0)
		abort();
	x->vu.fd = sv[0];
	x->peer = sv[1];
	if (!running)
		return;
	vu_req_u64(x, VHOST_USER_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1, -1);
	vu_set_mem(x);
	vu_start_queue(x, RXQ_);
	vu_start_queue(x, TXQ_);
}

/* Replies the device sent the front-end: read and dropped. */
static inline void
vufx_drain_peer(struct vufx *x)
{
	static uint8_t junk[8192];

	while (read(x->peer, junk, sizeof(junk)) > 0)
		;
}

static inline void
vufx_loop(struct vufx *x, int rounds)
{
	while (rounds-- > 0)
		event_base_loop(base, EVLOOP_NONBLOCK);
	vufx_drain_peer(x);
}

static inline void
vufx_free(struct vufx *x)
{
	unsigned q;

	vu_free(&x->vu);		/* closes vu.fd and the device's fds */
	vsockdev_free(x->dev);
	close(x->peer);
	for (q = 0; q < 2; q++) {
		if (x->kick[q] >= 0)
			close(x->kick[q]);
		if (x->call[q] >= 0)
			close(x->call[q]);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* ---- the driver's side of a queue ------------------------------------------- */

static inline uint8_t *
q_desc(unsigned q, unsigned i)
{
	return ram + q * QSPAN + 16 * (i % QNUM);
}

static inline void
q_set_desc(unsigned q, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *p = q_desc(q, i);

	put_le64(p, gpa);
	put_le32(p + 8, len);
	put_le16(p + 12, flags);
	put_le16(p + 14, next);
}

/* Makes the chain at head available. */
static inline void
q_publish(struct vufx *x, unsigned q, uint16_t head)
{
	uint8_t *avail = ram + q * QSPAN + 0x1000;

	put_le16(avail + 4 + 2 * (x->avail_idx[q] % QNUM), head);
	x->avail_idx[q]++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	put_le16(avail + 2, x->avail_idx[q]);
}

static inline void
q_kick(struct vufx *x, unsigned q)
{
	if (x->kick[q] >= 0)
		eventfd_write(x->kick[q], 1);
}

static inline uint16_t
q_used_idx(unsigned q)
{
	return get_le16(ram + q * QSPAN + 0x2000 + 2);
}

static inline void
q_used_elem(unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = ram + q * QSPAN + 0x2000 + 4 + 8 * (slot % QNUM);

	*id = get_le32(e);
	*len = get_le32(e + 4);
}

#endif
