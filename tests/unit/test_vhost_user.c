/*
 * test_vhost_user.c - unit tests for the back-end's side of the vhost-user
 * protocol (vm/vhost-user.c)
 *
 * Covers: feature and protocol-feature negotiation (what is offered, an
 * unoffered bit refused); REPLY_ACK (a status only when negotiated and
 * asked for, 0 or 1); SET_MEM_TABLE (a memfd mapped, count mismatches
 * refused, fds always closed); SET_VRING_NUM limits; queue indices out of
 * range; GET_CONFIG (the exact reply, the header echoed, the size limit);
 * SET_CONFIG and a wrong protocol version refused; when the device runs
 * (memory, size, addresses, kick fd and enable for both queues, each one
 * withheld in turn; enabled at once without protocol features), a kick fd
 * waking its queue (and replaced while running), SET_VRING_ENABLE 0
 * stopping it; GET_VRING_BASE (the last avail index, the device stopped
 * once); SET_VRING_ADDR resuming from the ring's used index; a queue the
 * guest broke working again once set up again; RESET_OWNER/RESET_DEVICE;
 * and vu_read_msg() on a message with an fd and on an oversized one.
 *
 * A struct vu_dev is driven with vu_handle() as vu's own loop would after
 * reading a message; d.fd is one end of a socketpair and the test reads
 * the replies from the other. The device's callbacks only count calls.
 * Wire values (flags, feature bits, reply layout) are spelled out here
 * from docs/interop/vhost-user.rst rather than taken from the header.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"
#include "vhost-user.h"

/* Message flags: version 1, reply, need reply. */
#define V		0x1u
#define F_REPLY		0x4u
#define F_NEED_REPLY	0x8u

/* Feature bits. */
#define F_DEV0		(1ull << 0)	/* a device feature our device offers */
#define F_PROTOCOL	(1ull << 30)	/* VHOST_USER_F_PROTOCOL_FEATURES */
#define F_VERSION_1	(1ull << 32)	/* VIRTIO_F_VERSION_1 */
#define PF_REPLY_ACK	(1ull << 3)
#define PF_CONFIG	(1ull << 9)

/* The requests' wire numbers: the tests use the header's names. */
_Static_assert(VHOST_USER_GET_FEATURES == 1, "request number");
_Static_assert(VHOST_USER_SET_FEATURES == 2, "request number");
_Static_assert(VHOST_USER_SET_OWNER == 3, "request number");
_Static_assert(VHOST_USER_RESET_OWNER == 4, "request number");
_Static_assert(VHOST_USER_SET_MEM_TABLE == 5, "request number");
_Static_assert(VHOST_USER_SET_VRING_NUM == 8, "request number");
_Static_assert(VHOST_USER_SET_VRING_ADDR == 9, "request number");
_Static_assert(VHOST_USER_SET_VRING_BASE == 10, "request number");
_Static_assert(VHOST_USER_GET_VRING_BASE == 11, "request number");
_Static_assert(VHOST_USER_SET_VRING_KICK == 12, "request number");
_Static_assert(VHOST_USER_SET_VRING_CALL == 13, "request number");
_Static_assert(VHOST_USER_SET_VRING_ERR == 14, "request number");
_Static_assert(VHOST_USER_GET_PROTOCOL_FEATURES == 15, "request number");
_Static_assert(VHOST_USER_SET_PROTOCOL_FEATURES == 16, "request number");
_Static_assert(VHOST_USER_SET_VRING_ENABLE == 18, "request number");
_Static_assert(VHOST_USER_GET_CONFIG == 24, "request number");
_Static_assert(VHOST_USER_SET_CONFIG == 25, "request number");
_Static_assert(VHOST_USER_RESET_DEVICE == 34, "request number");

/* Guest RAM: one region; queue q's rings at q * 0x4000 + 0, 0x1000, 0x2000. */
#define RAM_GPA		0x40000000ull
#define RAM_UVA		0x7f1234560000ull
#define RAM_SIZE	0x10000u
#define DESC_OFF(q)	(0x4000u * (q))
#define AVAIL_OFF(q)	(0x4000u * (q) + 0x1000u)
#define USED_OFF(q)	(0x4000u * (q) + 0x2000u)
#define BUF_OFF		0x8000u
#define QNUM		8

static bool
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static int
new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static int
new_memfd(size_t size)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* ---- the device: callbacks that count --------------------------------------- */

struct rec {
	unsigned	kicks[VU_MAX_QUEUES];
	unsigned	stops;
	unsigned	configs;
	uint32_t	config_off, config_len;
};

/* Config byte i of the device is 0x40 + i (mod 256). */
static void
t_get_config(void *arg, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct rec *r = arg;
	uint32_t i;

	r->configs++;
	r->config_off = off;
	r->config_len = len;
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(0x40 + off + i);
}

static void
t_kick(void *arg, unsigned q)
{
	struct rec *r = arg;

	assert_true(q < VU_MAX_QUEUES);
	r->kicks[q]++;
}

static void
t_stop(void *arg)
{
	struct rec *r = arg;

	r->stops++;
}

static const struct vu_ops t_ops = {
	.features = F_DEV0 | F_VERSION_1,
	.nqueues = 2,
	.get_config = t_get_config,
	.kick = t_kick,
	.stop = t_stop,
};

/* ---- the fixture ---------------------------------------------------------------- */

struct fx {
	struct event_base	*base;
	struct vu_dev		 d;
	struct rec		 rec;
	int			 peer;		/* the front-end's end of d.fd */
	uint8_t			*ram;		/* guest RAM, the driver's view */
	int			 kick[2], call[2];	/* fds handed over */
};

static struct fx *
fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_rc(vu_init(&f->d, f->base, -1, &t_ops, &f->rec), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	    0);
	f->d.fd = sv[0];
	f->peer = sv[1];
	f->kick[0] = f->kick[1] = f->call[0] = f->call[1] = -1;
	return f;
}

static void
fx_free(struct fx *f)
{
	vu_free(&f->d);
	close(f->peer);
	event_base_free(f->base);
	if (f->ram)
		munmap(f->ram, RAM_SIZE);
	free(f);
}

static int
setup(void **state)
{
	*state = fx_new();
	return 0;
}

static int
teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* ---- messages in --------------------------------------------------------------- */

static int
msg(struct fx *f, uint32_t req, uint32_t flags, const uint8_t *p,
    uint32_t size, int *fds, unsigned nfds)
{
	return vu_handle(&f->d, req, flags, p, size, fds, nfds);
}

static int
msg_u64(struct fx *f, uint32_t req, uint32_t flags, uint64_t v)
{
	uint8_t p[8];

	put64(p, v);
	return msg(f, req, flags, p, sizeof(p), NULL, 0);
}

/* A vring state: index, num. */
static int
msg_state(struct fx *f, uint32_t req, uint32_t flags, uint32_t idx,
    uint32_t num)
{
	uint8_t p[8];

	put32(p, idx);
	put32(p + 4, num);
	return msg(f, req, flags, p, sizeof(p), NULL, 0);
}

/* A vring address: index, flags, descriptor, used, available, log. */
static int
msg_addr(struct fx *f, uint32_t idx, uint64_t desc, uint64_t used,
    uint64_t avail)
{
	uint8_t p[40];

	put32(p, idx);
	put32(p + 4, 0);
	put64(p + 8, desc);
	put64(p + 16, used);
	put64(p + 24, avail);
	put64(p + 32, 0);
	return msg(f, VHOST_USER_SET_VRING_ADDR, V, p, sizeof(p), NULL, 0);
}

/* KICK, CALL or ERR: a u64 index (| 0x100: no fd), and fd unless -1. */
static int
msg_fd(struct fx *f, uint32_t req, uint64_t v, int fd)
{
	int fds[1] = { fd };
	uint8_t p[8];

	put64(p, v);
	return msg(f, req, V, p, sizeof(p), fds, fd >= 0 ? 1 : 0);
}

/* A memory table: count, padding, then gpa, size, uva, mmap offset each. */
static int
msg_mem(struct fx *f, uint32_t flags, uint32_t count,
    const struct guestmem_desc *r, unsigned nr, int *fds, unsigned nfds)
{
	uint8_t p[8 + 32 * (GUESTMEM_MAX_REGIONS + 1)];
	unsigned i;

	assert_true(nr <= GUESTMEM_MAX_REGIONS + 1);
	put32(p, count);
	put32(p + 4, 0);
	for (i = 0; i < nr; i++) {
		put64(p + 8 + 32 * i, r[i].gpa);
		put64(p + 8 + 32 * i + 8, r[i].size);
		put64(p + 8 + 32 * i + 16, r[i].uva);
		put64(p + 8 + 32 * i + 24, r[i].mmap_offset);
	}
	return msg(f, VHOST_USER_SET_MEM_TABLE, flags, p, 8 + 32 * nr, fds,
	    nfds);
}

/* Hands the device a fresh RAM memfd, which the test maps too. */
static int
set_mem(struct fx *f)
{
	static const struct guestmem_desc r = { RAM_GPA, RAM_SIZE, RAM_UVA, 0 };
	int fd = new_memfd(RAM_SIZE);

	if (f->ram)
		munmap(f->ram, RAM_SIZE);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(f->ram != MAP_FAILED);
	return msg_mem(f, V, 1, &r, 1, &fd, 1);
}

/* ---- replies out ---------------------------------------------------------------- */

/* Reads one reply, whose header must name req with flags version|reply;
 * returns its payload size. */
static uint32_t
reply(struct fx *f, uint32_t req, uint8_t *payload, uint32_t max)
{
	uint8_t hdr[12];
	uint32_t size;

	assert_int_equal(recv(f->peer, hdr, sizeof(hdr), MSG_DONTWAIT), 12);
	assert_int_equal(get32(hdr), req);
	assert_int_equal(get32(hdr + 4), V | F_REPLY);
	size = get32(hdr + 8);
	assert_true(size <= max);
	if (size)
		assert_int_equal(recv(f->peer, payload, size, MSG_DONTWAIT),
		    size);
	return size;
}

static uint64_t
reply_u64(struct fx *f, uint32_t req)
{
	uint8_t p[8];

	assert_int_equal(reply(f, req, p, sizeof(p)), 8);
	return get64(p);
}

static void
assert_no_reply(struct fx *f)
{
	uint8_t b;

	assert_int_equal(recv(f->peer, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* ---- bringing the device up --------------------------------------------------- */

enum step {
	S_MEM, S_NUM0, S_NUM1, S_ADDR0, S_ADDR1, S_KICK0, S_KICK1,
	S_ENABLE0, S_ENABLE1, NSTEPS
};

static const char *const step_name[NSTEPS] = {
	"SET_MEM_TABLE", "SET_VRING_NUM 0", "SET_VRING_NUM 1",
	"SET_VRING_ADDR 0", "SET_VRING_ADDR 1", "SET_VRING_KICK 0",
	"SET_VRING_KICK 1", "SET_VRING_ENABLE 0", "SET_VRING_ENABLE 1",
};

static void
step(struct fx *f, int s)
{
	unsigned q;

	switch (s) {
	case S_MEM:
		assert_rc(set_mem(f), 0);
		break;
	case S_NUM0:
	case S_NUM1:
		q = (unsigned)(s - S_NUM0);
		assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, q, QNUM), 0);
		break;
	case S_ADDR0:
	case S_ADDR1:
		q = (unsigned)(s - S_ADDR0);
		assert_rc(msg_addr(f, q, RAM_UVA + DESC_OFF(q),
		    RAM_UVA + USED_OFF(q), RAM_UVA + AVAIL_OFF(q)), 0);
		break;
	case S_KICK0:
	case S_KICK1:
		q = (unsigned)(s - S_KICK0);
		f->kick[q] = new_eventfd();
		assert_rc(msg_fd(f, VHOST_USER_SET_VRING_KICK, q, f->kick[q]), 0);
		break;
	case S_ENABLE0:
	case S_ENABLE1:
		q = (unsigned)(s - S_ENABLE0);
		assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, q, 1), 0);
		break;
	default:
		fail();
	}
}

/* What QEMU does first: owner, protocol features, features, call fds. */
static void
negotiate(struct fx *f, bool protocol)
{
	unsigned q;

	assert_rc(msg(f, VHOST_USER_SET_OWNER, V, NULL, 0, NULL, 0), 0);
	if (protocol)
		assert_rc(msg_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, V,
		    PF_REPLY_ACK | PF_CONFIG), 0);
	assert_rc(msg_u64(f, VHOST_USER_SET_FEATURES, V,
	    F_VERSION_1 | (protocol ? F_PROTOCOL : 0)), 0);
	for (q = 0; q < 2; q++) {
		f->call[q] = new_eventfd();
		assert_rc(msg_fd(f, VHOST_USER_SET_VRING_CALL, q, f->call[q]), 0);
	}
}

/* negotiate(), then every step but skip (-1: none); no SET_VRING_ENABLE
 * without protocol features. */
static void
bring_up(struct fx *f, bool protocol, int skip)
{
	int s;

	negotiate(f, protocol);
	for (s = 0; s < NSTEPS; s++)
		if (s != skip && (protocol || (s != S_ENABLE0 && s != S_ENABLE1)))
			step(f, s);
}

static void
assert_running(struct fx *f)
{
	assert_true(f->d.running);
	assert_true(vu_queue_ready(&f->d, 0));
	assert_true(vu_queue_ready(&f->d, 1));
	assert_false(vu_queue_ready(&f->d, 2));
	assert_true(f->rec.kicks[0] >= 1);
	assert_true(f->rec.kicks[1] >= 1);
	assert_int_equal(f->rec.stops, 0);
}

/* ---- negotiation ------------------------------------------------------------------ */

/* GET_FEATURES offers the device's features plus PROTOCOL_FEATURES. */
static void
test_get_features(void **state)
{
	struct fx *f = *state;

	assert_rc(msg(f, VHOST_USER_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_true(reply_u64(f, VHOST_USER_GET_FEATURES) ==
	    (F_DEV0 | F_PROTOCOL | F_VERSION_1));
	assert_no_reply(f);
}

/* SET_FEATURES takes a subset of what was offered, nothing else. */
static void
test_set_features(void **state)
{
	struct fx *f = *state;

	assert_rc(msg_u64(f, VHOST_USER_SET_FEATURES, V, F_VERSION_1 | 2),
	    -EPROTO);
	assert_true(f->d.error[0] != '\0');
	assert_true(f->d.features == 0);
	assert_rc(msg_u64(f, VHOST_USER_SET_FEATURES, V, 1ull << 33), -EPROTO);
	assert_true(f->d.features == 0);
	assert_rc(msg(f, VHOST_USER_SET_FEATURES, V, (const uint8_t *)"1234",
	    4, NULL, 0), -EPROTO);

	assert_rc(msg_u64(f, VHOST_USER_SET_FEATURES, V,
	    F_DEV0 | F_PROTOCOL | F_VERSION_1), 0);
	assert_true(f->d.features == (F_DEV0 | F_PROTOCOL | F_VERSION_1));
	assert_no_reply(f);
}

/* GET_PROTOCOL_FEATURES offers REPLY_ACK and CONFIG. */
static void
test_protocol_features(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_rc(msg(f, VHOST_USER_GET_PROTOCOL_FEATURES, V, NULL, 0, NULL, 0),
	    0);
	v = reply_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_true(v & PF_REPLY_ACK);
	assert_true(v & PF_CONFIG);
	assert_no_reply(f);
	assert_rc(msg_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, V,
	    PF_REPLY_ACK | PF_CONFIG), 0);
	assert_true(f->d.protocol_features == (PF_REPLY_ACK | PF_CONFIG));
	assert_no_reply(f);

	/* bits it did not offer (MQ, bit 0) are not taken */
	assert_false(v & 1);
	assert_rc(msg_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, V,
	    PF_REPLY_ACK | 1), 0);
	assert_true(f->d.protocol_features == PF_REPLY_ACK);
}

/* REPLY_ACK: once negotiated, a request flagged NEED_REPLY that has no
 * reply of its own gets a u64 status, 0 or 1; unflagged ones get none,
 * and before negotiation nothing does. */
static void
test_reply_ack(void **state)
{
	struct fx *f = *state;

	assert_rc(msg(f, VHOST_USER_SET_OWNER, V | F_NEED_REPLY, NULL, 0,
	    NULL, 0), 0);
	assert_no_reply(f);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V | F_NEED_REPLY, 0,
	    0), -EPROTO);
	assert_no_reply(f);

	assert_rc(msg_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, V,
	    PF_REPLY_ACK), 0);
	assert_no_reply(f);

	assert_rc(msg(f, VHOST_USER_SET_OWNER, V | F_NEED_REPLY, NULL, 0,
	    NULL, 0), 0);
	assert_true(reply_u64(f, VHOST_USER_SET_OWNER) == 0);
	assert_no_reply(f);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V | F_NEED_REPLY, 0,
	    0), -EPROTO);
	assert_true(reply_u64(f, VHOST_USER_SET_VRING_NUM) == 1);
	assert_no_reply(f);
	assert_rc(msg(f, VHOST_USER_SET_CONFIG, V | F_NEED_REPLY, NULL, 0,
	    NULL, 0), -EPROTO);
	assert_true(reply_u64(f, VHOST_USER_SET_CONFIG) == 1);
	assert_no_reply(f);

	/* not asked: not told */
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 0, QNUM), 0);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 0, 0), -EPROTO);
	assert_no_reply(f);

	/* a request with a reply of its own gets just that */
	assert_rc(msg(f, VHOST_USER_GET_FEATURES, V | F_NEED_REPLY, NULL, 0,
	    NULL, 0), 0);
	assert_true(reply_u64(f, VHOST_USER_GET_FEATURES) ==
	    (F_DEV0 | F_PROTOCOL | F_VERSION_1));
	assert_no_reply(f);
}

/* ---- memory, rings ---------------------------------------------------------------- */

/* A one-region table maps the memfd: both addresses reach the driver's
 * bytes, and the fd is the device's (closed once mapped). */
static void
test_set_mem_table(void **state)
{
	struct fx *f = *state;
	static const struct guestmem_desc r = { RAM_GPA, RAM_SIZE, RAM_UVA, 0 };
	const uint8_t *p;
	int fd;

	fd = new_memfd(RAM_SIZE);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(f->ram != MAP_FAILED);
	put32(f->ram + 0x1230, 0xfeedf00d);
	assert_rc(msg_mem(f, V, 1, &r, 1, &fd, 1), 0);
	assert_int_equal(f->d.mem.n, 1);
	assert_true(fd_closed(fd));
	p = guestmem_gpa(&f->d.mem, RAM_GPA + 0x1230, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xfeedf00d);
	p = guestmem_uva(&f->d.mem, RAM_UVA + 0x1230, 4);
	assert_non_null(p);
	assert_int_equal(get32(p), 0xfeedf00d);
	assert_null(guestmem_gpa(&f->d.mem, RAM_GPA + RAM_SIZE - 2, 4));
	assert_no_reply(f);
}

/* Region count and fd count must agree, and the payload hold the regions;
 * the fds are closed whatever happens. */
static void
test_set_mem_table_mismatch(void **state)
{
	struct fx *f = *state;
	static const struct guestmem_desc r[2] = {
		{ RAM_GPA, RAM_SIZE, RAM_UVA, 0 },
		{ RAM_GPA + RAM_SIZE, RAM_SIZE, RAM_UVA + RAM_SIZE, 0 },
	};
	int fds[2];

	/* one region, no fd */
	assert_rc(msg_mem(f, V, 1, r, 1, NULL, 0), -EPROTO);
	assert_int_equal(f->d.mem.n, 0);

	/* one region, two fds */
	fds[0] = new_memfd(RAM_SIZE);
	fds[1] = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, V, 1, r, 1, fds, 2), -EPROTO);
	assert_int_equal(f->d.mem.n, 0);
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));

	/* two regions, one fd */
	fds[0] = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, V, 2, r, 2, fds, 1), -EPROTO);
	assert_int_equal(f->d.mem.n, 0);
	assert_true(fd_closed(fds[0]));

	/* two regions said, one sent */
	fds[0] = new_memfd(RAM_SIZE);
	fds[1] = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, V, 2, r, 1, fds, 2), -EPROTO);
	assert_int_equal(f->d.mem.n, 0);
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));

	/* no region */
	assert_rc(msg_mem(f, V, 0, r, 0, NULL, 0), -EPROTO);
	assert_int_equal(f->d.mem.n, 0);

	/* and two regions, two fds, is fine */
	fds[0] = new_memfd(RAM_SIZE);
	fds[1] = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, V, 2, r, 2, fds, 2), 0);
	assert_int_equal(f->d.mem.n, 2);
	assert_true(fd_closed(fds[0]));
	assert_true(fd_closed(fds[1]));
}

/* A queue has 1 to 32768 entries. */
static void
test_vring_num(void **state)
{
	struct fx *f = *state;

	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 0, 0), -EPROTO);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 0, 32769), -EPROTO);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 1, 65536), -EPROTO);
	assert_int_equal(f->d.vq[0].num, 0);
	assert_int_equal(f->d.vq[1].num, 0);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 0, 32768), 0);
	assert_int_equal(f->d.vq[0].num, 32768);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 1, 256), 0);
	assert_int_equal(f->d.vq[1].num, 256);
}

/* The device has queues 0 and 1: every vring request naming queue 2 is
 * refused (an fd it carries closed, no reply), the others untouched. */
static void
test_bad_queue_index(void **state)
{
	struct fx *f = *state;
	static const uint32_t fdreqs[] = { VHOST_USER_SET_VRING_KICK,
	    VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_ERR };
	unsigned i;
	int fd;

	assert_rc(msg_state(f, VHOST_USER_SET_VRING_NUM, V, 2, QNUM), -EPROTO);
	assert_true(f->d.error[0] != '\0');
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_BASE, V, 2, 0), -EPROTO);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, 2, 1), -EPROTO);
	assert_rc(msg_state(f, VHOST_USER_GET_VRING_BASE, V, 2, 0), -EPROTO);
	assert_no_reply(f);
	assert_rc(msg_addr(f, 2, RAM_UVA, RAM_UVA + 0x2000, RAM_UVA + 0x1000),
	    -EPROTO);
	for (i = 0; i < ARRAY_SIZE(fdreqs); i++) {
		fd = new_eventfd();
		assert_rc(msg_fd(f, fdreqs[i], 2, fd), -EPROTO);
		assert_true(fd_closed(fd));
		assert_rc(msg_fd(f, fdreqs[i], 2 | 0x100, -1), -EPROTO);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(f->d.vq[i].num, 0);
		assert_true(f->d.vq[i].desc_uva == 0);
		assert_int_equal(f->d.vq[i].kick_fd, -1);
		assert_int_equal(f->d.vq[i].call_fd, -1);
		assert_false(f->d.vq[i].started);
		assert_false(f->d.vq[i].enabled);
	}
}

/* ---- config space ------------------------------------------------------------------ */

static int
msg_get_config(struct fx *f, uint32_t off, uint32_t size, uint32_t flags,
    uint32_t paylen)
{
	uint8_t p[12 + 512];

	memset(p, 0, sizeof(p));
	put32(p, off);
	put32(p + 4, size);
	put32(p + 8, flags);
	return msg(f, VHOST_USER_GET_CONFIG, V, p, 12 + paylen, NULL, 0);
}

/* The reply is 12 + 12 + size bytes, nothing more: the config header
 * echoed, then the bytes the device's callback gave for that offset. */
static void
test_get_config(void **state)
{
	struct fx *f = *state;
	static const uint8_t hdr[12] = { 4, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t cfg[8] = {
		0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
	};
	uint8_t p[12 + 256];
	unsigned i;

	assert_rc(msg_get_config(f, 4, 8, 1, 8), 0);
	assert_int_equal(reply(f, VHOST_USER_GET_CONFIG, p, sizeof(p)), 20);
	assert_memory_equal(p, hdr, 12);
	assert_memory_equal(p + 12, cfg, 8);
	assert_no_reply(f);
	assert_int_equal(f->rec.configs, 1);
	assert_int_equal(f->rec.config_off, 4);
	assert_int_equal(f->rec.config_len, 8);

	/* the largest */
	assert_rc(msg_get_config(f, 0, 256, 0, 256), 0);
	assert_int_equal(reply(f, VHOST_USER_GET_CONFIG, p, sizeof(p)), 268);
	assert_int_equal(get32(p + 4), 256);
	for (i = 0; i < 256; i++)
		assert_int_equal(p[12 + i], (uint8_t)(0x40 + i));
	assert_no_reply(f);
}

/* Over 256 bytes, or a size the payload does not match: refused, no
 * reply, the device not asked. */
static void
test_get_config_bad(void **state)
{
	struct fx *f = *state;

	assert_rc(msg_get_config(f, 0, 257, 0, 257), -EPROTO);
	assert_rc(msg_get_config(f, 0, 8, 0, 4), -EPROTO);
	assert_rc(msg_get_config(f, 0, 4, 0, 8), -EPROTO);
	assert_rc(msg(f, VHOST_USER_GET_CONFIG, V, (const uint8_t *)"12345678",
	    8, NULL, 0), -EPROTO);
	assert_no_reply(f);
	assert_int_equal(f->rec.configs, 0);
}

/* The config space is read-only. */
static void
test_set_config(void **state)
{
	struct fx *f = *state;
	uint8_t p[12 + 4] = { 0, 0, 0, 0, 4, 0, 0, 0 };

	assert_rc(msg(f, VHOST_USER_SET_CONFIG, V, p, sizeof(p), NULL, 0),
	    -EPROTO);
	assert_true(f->d.error[0] != '\0');
	assert_no_reply(f);
}

/* Any version but 1 is refused, with no reply and its fds closed. */
static void
test_bad_version(void **state)
{
	struct fx *f = *state;
	static const struct guestmem_desc r = { RAM_GPA, RAM_SIZE, RAM_UVA, 0 };
	int fd;

	assert_rc(msg(f, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0),
	    -EPROTO);
	assert_rc(msg(f, VHOST_USER_GET_FEATURES, 2, NULL, 0, NULL, 0),
	    -EPROTO);
	assert_rc(msg(f, VHOST_USER_GET_FEATURES, 3 | F_REPLY, NULL, 0, NULL,
	    0), -EPROTO);
	assert_no_reply(f);

	fd = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, 2, 1, &r, 1, &fd, 1), -EPROTO);
	assert_true(fd_closed(fd));
	assert_int_equal(f->d.mem.n, 0);
}

/* ---- when the device runs ---------------------------------------------------------- */

/* With protocol features negotiated the device runs once both queues have
 * memory, addresses, a kick fd and SET_VRING_ENABLE 1: withhold any one
 * (sending it last) and it does not run until that arrives. (The size
 * cannot come last: it is refused once the kick fd started the ring.) */
static void
test_runs_when_all_ready(void **state)
{
	static const int withheld[] = { S_MEM, S_ADDR0, S_ADDR1, S_KICK0,
	    S_KICK1, S_ENABLE0, S_ENABLE1 };
	struct fx *f;
	unsigned i;
	int skip;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(withheld); i++) {
		skip = withheld[i];
		f = fx_new();
		bring_up(f, true, skip);
		if (f->d.running || f->rec.kicks[0] || f->rec.kicks[1])
			fail_msg("running without %s", step_name[skip]);
		step(f, skip);
		if (!f->d.running)
			fail_msg("not running after %s", step_name[skip]);
		assert_running(f);
		fx_free(f);
	}
}

/* Without protocol features there is no SET_VRING_ENABLE: queues start
 * enabled, and the device runs without it. */
static void
test_runs_without_protocol_features(void **state)
{
	struct fx *f = *state;

	bring_up(f, false, S_MEM);
	assert_true(f->d.vq[0].enabled);
	assert_true(f->d.vq[1].enabled);
	assert_false(f->d.running);
	step(f, S_MEM);
	assert_running(f);
}

/* With protocol features queues start disabled. */
static void
test_protocol_features_start_disabled(void **state)
{
	struct fx *f = *state;

	negotiate(f, true);
	assert_false(f->d.vq[0].enabled);
	assert_false(f->d.vq[1].enabled);
}

/* A kick on a queue's eventfd, once running, reaches ops->kick for that
 * queue, and the eventfd is drained. */
static void
test_kick_fd(void **state)
{
	struct fx *f = *state;
	eventfd_t v;
	int old;

	bring_up(f, true, -1);
	assert_running(f);
	memset(f->rec.kicks, 0, sizeof(f->rec.kicks));
	assert_int_equal(eventfd_write(f->kick[1], 1), 0);
	assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	assert_int_equal(f->rec.kicks[1], 1);
	assert_int_equal(f->rec.kicks[0], 0);
	assert_int_equal(eventfd_read(f->kick[1], &v), -1);
	assert_int_equal(errno, EAGAIN);

	/* a new kick fd while running: the old one closed, the queue
	 * kicked at once (buffers may be waiting), the new fd watched */
	old = f->kick[0];
	memset(f->rec.kicks, 0, sizeof(f->rec.kicks));
	step(f, S_KICK0);
	assert_true(fd_closed(old));
	assert_true(f->d.running);
	assert_int_equal(f->rec.kicks[0], 1);
	assert_int_equal(f->rec.kicks[1], 0);
	assert_int_equal(f->rec.stops, 0);
	assert_int_equal(eventfd_write(f->kick[0], 1), 0);
	assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
	    0);
	assert_int_equal(f->rec.kicks[0], 2);
	assert_int_equal(f->rec.kicks[1], 0);
}

/* SET_VRING_ENABLE 0 stops the device (once); 1 runs it again. */
static void
test_disable_stops(void **state)
{
	struct fx *f = *state;

	bring_up(f, true, -1);
	assert_running(f);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, 1, 0), 0);
	assert_false(f->d.running);
	assert_int_equal(f->rec.stops, 1);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, 0, 0), 0);
	assert_int_equal(f->rec.stops, 1);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, 1, 1), 0);
	assert_false(f->d.running);
	memset(f->rec.kicks, 0, sizeof(f->rec.kicks));
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_ENABLE, V, 0, 1), 0);
	assert_true(f->d.running);
	assert_true(f->rec.kicks[0] >= 1 && f->rec.kicks[1] >= 1);
	assert_int_equal(f->rec.stops, 1);
}

/* GET_VRING_BASE replies with the queue index and the next avail entry
 * the device would take (the base it was given plus what it popped), and
 * stops the ring: the device is told once, the kick fd closed. */
static void
test_get_vring_base(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	uint8_t p[8];
	uint8_t *desc, *avail;

	bring_up(f, true, S_KICK0);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_BASE, V, 0, 7), 0);
	step(f, S_KICK0);
	assert_running(f);

	/* the driver: two chains at avail entries 7 and 8 */
	desc = f->ram + DESC_OFF(0);
	avail = f->ram + AVAIL_OFF(0);
	put64(desc, RAM_GPA + BUF_OFF);
	put32(desc + 8, 16);
	put64(desc + 16, RAM_GPA + BUF_OFF + 0x100);
	put32(desc + 16 + 8, 16);
	put16(desc + 16 + 12, 2);		/* writable */
	put16(avail + 4 + 2 * 7, 0);
	put16(avail + 4 + 2 * 0, 1);
	put16(avail + 2, 9);
	assert_int_equal(virtq_pop(&f->d.vq[0], &f->d.mem, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(virtq_pop(&f->d.vq[0], &f->d.mem, &c), 1);
	assert_int_equal(c.head, 1);
	assert_int_equal(c.nin, 1);

	assert_rc(msg_state(f, VHOST_USER_GET_VRING_BASE, V, 0, 0), 0);
	assert_int_equal(reply(f, VHOST_USER_GET_VRING_BASE, p, sizeof(p)), 8);
	assert_int_equal(get32(p), 0);
	assert_int_equal(get32(p + 4), 9);
	assert_no_reply(f);
	assert_false(f->d.running);
	assert_int_equal(f->rec.stops, 1);
	assert_false(f->d.vq[0].started);
	assert_int_equal(f->d.vq[0].kick_fd, -1);
	assert_true(fd_closed(f->kick[0]));

	assert_rc(msg_state(f, VHOST_USER_GET_VRING_BASE, V, 1, 0), 0);
	assert_int_equal(reply(f, VHOST_USER_GET_VRING_BASE, p, sizeof(p)), 8);
	assert_int_equal(get32(p), 1);
	assert_int_equal(get32(p + 4), 0);
	assert_int_equal(f->rec.stops, 1);
}

/* SET_VRING_ADDR carries on from the used index the ring has (a ring
 * handed over after GET_VRING_BASE): the next push goes after it. */
static void
test_vring_addr_resumes_used(void **state)
{
	struct fx *f = *state;
	uint8_t *used;

	bring_up(f, true, S_ADDR1);
	used = f->ram + USED_OFF(1);
	put16(used + 2, 5);
	step(f, S_ADDR1);
	assert_running(f);
	virtq_push(&f->d.vq[1], 3, 77);
	assert_int_equal(get32(used + 4 + 8 * 5), 3);
	assert_int_equal(get32(used + 4 + 8 * 5 + 4), 77);
	assert_int_equal(used[2] | used[3] << 8, 6);
}

/* A queue the guest broke stays broken until the front-end sets it up
 * again (stop, base, addresses, kick); then it works. */
static void
test_broken_queue_recovers(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	uint8_t p[8];
	uint8_t *desc, *avail;

	bring_up(f, true, -1);
	assert_running(f);
	desc = f->ram + DESC_OFF(0);
	avail = f->ram + AVAIL_OFF(0);
	put16(avail + 4, QNUM);			/* a head out of range */
	put16(avail + 2, 1);
	assert_int_equal(virtq_pop(&f->d.vq[0], &f->d.mem, &c), -EFAULT);
	assert_true(f->d.vq[0].broken);

	assert_rc(msg_state(f, VHOST_USER_GET_VRING_BASE, V, 0, 0), 0);
	assert_int_equal(reply(f, VHOST_USER_GET_VRING_BASE, p, sizeof(p)), 8);
	assert_int_equal(f->rec.stops, 1);
	memset(f->ram + DESC_OFF(0), 0, 0x3000);	/* the driver starts over */
	put64(desc, RAM_GPA + BUF_OFF);
	put32(desc + 8, 16);
	put16(avail + 4, 0);
	put16(avail + 2, 1);
	assert_rc(msg_state(f, VHOST_USER_SET_VRING_BASE, V, 0, 0), 0);
	step(f, S_ADDR0);
	step(f, S_KICK0);
	assert_false(f->d.vq[0].broken);
	assert_true(f->d.running);
	assert_int_equal(virtq_pop(&f->d.vq[0], &f->d.mem, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.out_len, 16);
}

/* RESET_OWNER and RESET_DEVICE stop the device and forget everything:
 * features, memory, every queue's settings and fds; it can start again. */
static void
test_reset(void **state)
{
	static const uint32_t reqs[] = { VHOST_USER_RESET_OWNER,
	    VHOST_USER_RESET_DEVICE };
	struct fx *f;
	unsigned i, q;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		f = fx_new();
		bring_up(f, true, -1);
		assert_running(f);
		assert_rc(msg(f, reqs[i], V, NULL, 0, NULL, 0), 0);
		assert_no_reply(f);
		assert_false(f->d.running);
		assert_int_equal(f->rec.stops, 1);
		assert_int_equal(f->d.mem.n, 0);
		assert_true(f->d.features == 0);
		/* Negotiated once per session: a reset keeps it (REPLY_ACK). */
		assert_true(f->d.protocol_features != 0);
		for (q = 0; q < 2; q++) {
			struct virtq *vq = &f->d.vq[q];

			assert_int_equal(vq->num, 0);
			assert_true(vq->desc_uva == 0 && vq->avail_uva == 0 &&
			    vq->used_uva == 0);
			assert_null(vq->desc);
			assert_int_equal(vq->last_avail, 0);
			assert_int_equal(vq->kick_fd, -1);
			assert_int_equal(vq->call_fd, -1);
			assert_false(vq->enabled);
			assert_false(vq->started);
			assert_null(f->d.kick_ev[q]);
			assert_true(fd_closed(f->kick[q]));
			assert_true(fd_closed(f->call[q]));
			assert_false(vu_queue_ready(&f->d, q));
		}

		memset(&f->rec, 0, sizeof(f->rec));
		bring_up(f, true, -1);
		assert_running(f);
		fx_free(f);
	}
}

/* ---- reading messages -------------------------------------------------------------- */

/* vu_read_msg() takes a header, its payload and the fds sent with it;
 * a payload over 4096 bytes is refused. */
static void
test_read_msg(void **state)
{
	struct fx *f = *state;
	uint8_t buf[12 + 8], payload[VHOST_USER_MAX_PAYLOAD];
	union {
		char		b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} cbuf;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	struct timeval tv = { 1, 0 };	/* a bug must not hang the test */
	uint32_t req, flags, size;
	int fds[VHOST_USER_MAX_FDS], efd = new_eventfd();
	unsigned nfds;

	assert_int_equal(setsockopt(f->d.fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);

	put32(buf, VHOST_USER_SET_VRING_KICK);
	put32(buf + 4, V);
	put32(buf + 8, 8);
	put64(buf + 12, 1);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &efd, sizeof(int));
	assert_int_equal(sendmsg(f->peer, &mh, 0), (ssize_t)sizeof(buf));
	close(efd);

	assert_int_equal(vu_read_msg(f->d.fd, &req, &flags, payload, &size, fds,
	    &nfds), 1);
	assert_int_equal(req, VHOST_USER_SET_VRING_KICK);
	assert_int_equal(flags, V);
	assert_int_equal(size, 8);
	assert_true(get64(payload) == 1);
	assert_int_equal(nfds, 1);
	assert_int_equal(eventfd_write(fds[0], 1), 0);	/* a live eventfd */
	close(fds[0]);

	put32(buf, VHOST_USER_SET_CONFIG);
	put32(buf + 8, VHOST_USER_MAX_PAYLOAD + 1);
	assert_int_equal(send(f->peer, buf, 12, 0), 12);
	assert_int_equal(vu_read_msg(f->d.fd, &req, &flags, payload, &size, fds,
	    &nfds), -EMSGSIZE);
	assert_int_equal(nfds, 0);

	/* the peer gone: end of file */
	shutdown(f->peer, SHUT_WR);
	assert_int_equal(vu_read_msg(f->d.fd, &req, &flags, payload, &size, fds,
	    &nfds), 0);
}

/* A SET_MEM_TABLE that guestmem_set() refuses must leave no queue
 * pointing into the unmapped table, and the device stopped. */
static void
test_failed_mem_table_stops_device(void **state)
{
	struct fx *f = *state;
	static const struct guestmem_desc bad = { RAM_GPA, 0, RAM_UVA, 0 };
	int fd;

	bring_up(f, true, -1);
	assert_running(f);
	fd = new_memfd(RAM_SIZE);
	assert_rc(msg_mem(f, V, 1, &bad, 1, &fd, 1), -EPROTO);
	assert_true(fd_closed(fd));
	assert_int_equal(f->d.mem.n, 0);
	assert_null(f->d.vq[0].desc);
	assert_null(f->d.vq[1].desc);
	assert_false(vu_queue_ready(&f->d, 0));
	assert_false(f->d.running);
	assert_int_equal(f->rec.stops, 1);
}

int
main(void)
{
#define T(t)	cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_get_features),
		T(test_set_features),
		T(test_protocol_features),
		T(test_reply_ack),
		T(test_set_mem_table),
		T(test_set_mem_table_mismatch),
		T(test_failed_mem_table_stops_device),
		T(test_vring_num),
		T(test_bad_queue_index),
		T(test_get_config),
		T(test_get_config_bad),
		T(test_set_config),
		T(test_bad_version),
		cmocka_unit_test(test_runs_when_all_ready),
		T(test_runs_without_protocol_features),
		T(test_protocol_features_start_disabled),
		T(test_kick_fd),
		T(test_disable_stops),
		T(test_get_vring_base),
		T(test_vring_addr_resumes_used),
		T(test_broken_queue_recovers),
		cmocka_unit_test(test_reset),
		T(test_read_msg),
	};
#undef T

	return cmocka_run_group_tests_name("vhost-user", tests, NULL, NULL);
}
