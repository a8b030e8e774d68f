/*
 * vhost-user.c - the back-end's side of the vhost-user protocol
 *
 * QEMU (the front-end) connects to our socket and drives the device with
 * small request messages: features, the guest's memory as file
 * descriptors, and for each virtqueue its size, its addresses, where to
 * start, an eventfd the guest kicks and one we signal. Requests arrive
 * whole (QEMU writes each with one sendmsg and waits for any reply), so
 * they are read with blocking calls under a receive timeout.
 *
 * Ring states follow the specification: a ring is started by its kick fd
 * and stopped by GET_VRING_BASE; with VHOST_USER_F_PROTOCOL_FEATURES
 * negotiated it is enabled only by SET_VRING_ENABLE, otherwise at once.
 * The device runs while all its rings are ready, and is told when that
 * stops (a reset, a reboot, QEMU gone) so that it can drop what it holds.
 *
 * QEMU is trusted as the host's own process; sizes and counts are checked
 * all the same. A request we cannot honour is refused (with REPLY_ACK, QEMU
 * hears of it) and leaves the device in a state it can run in, or stopped;
 * a malformed message or a dead socket ends the session, never the program.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "accept.h"
#include "log.h"
#include "vhost-user.h"

#define RECV_TIMEOUT_MS		2000

static const char *
req_name(uint32_t req)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
		[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
		[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
		[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
	};

	return req < sizeof(names) / sizeof(*names) && names[req] ?
	    names[req] : "unknown";
}

#define OUR_PROTOCOL_FEATURES \
	((1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | \
	 (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE))

/* ---- wire ----------------------------------------------------------------- */

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void
wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void
wr64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void
close_fds(int *fds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

static int
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = recv(fd, buf + off, len - off, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

int
vu_read_msg(int fd, uint32_t *req, uint32_t *flags, uint8_t *payload,
    uint32_t *size, int *fds, unsigned *nfds)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr	align;
	} cbuf;
	uint8_t hdr[VHOST_USER_HDR_SIZE];
	struct iovec iov = { hdr, sizeof(hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int rc;

	*nfds = 0;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < VHOST_USER_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(fds, *nfds);
		*nfds = 0;
		return -EMSGSIZE;
	}
	if ((size_t)n < sizeof(hdr) &&
	    (rc = read_full(fd, hdr + n, sizeof(hdr) - (size_t)n)) < 0)
		goto fail;
	*req = rd32(hdr);
	*flags = rd32(hdr + 4);
	*size = rd32(hdr + 8);
	if (*size > VHOST_USER_MAX_PAYLOAD) {
		rc = -EMSGSIZE;
		goto fail;
	}
	if (*size && (rc = read_full(fd, payload, *size)) < 0)
		goto fail;
	return 1;
fail:
	close_fds(fds, *nfds);
	*nfds = 0;
	return rc;
}

static int
send_reply(struct vu_dev *d, uint32_t req, const void *payload, uint32_t size)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_HDR_SIZE +
	    VHOST_USER_CONFIG_MAX];
	ssize_t n;

	if (size > sizeof(buf) - VHOST_USER_HDR_SIZE)
		return -EMSGSIZE;
	wr32(buf, req);
	wr32(buf + 4, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY);
	wr32(buf + 8, size);
	memcpy(buf + VHOST_USER_HDR_SIZE, payload, size);
	do {
		n = send(d->fd, buf, VHOST_USER_HDR_SIZE + size, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)(VHOST_USER_HDR_SIZE + size) ? 0 : -EIO;
}

static int
reply_u64(struct vu_dev *d, uint32_t req, uint64_t v)
{
	uint8_t p[8];

	wr64(p, v);
	return send_reply(d, req, p, sizeof(p));
}

/* ---- queues ------------------------------------------------------------------ */

bool
vu_queue_ready(const struct vu_dev *d, unsigned q)
{
	return q < d->ops->nqueues && virtq_ready(&d->vq[q]);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vu_dev *d = arg;
	eventfd_t v;
	unsigned q;

	eventfd_read(fd, &v);
	for (q = 0; q < d->ops->nqueues; q++)
		if (d->vq[q].kick_fd == fd && d->running)
			d->ops->kick(d->arg, q);
}

/* Runs the device while every queue is ready, and says when it stops. */
static void
update_running(struct vu_dev *d)
{
	bool now = d->fd >= 0;
	unsigned q;

	for (q = 0; q < d->ops->nqueues; q++)
		now = now && vu_queue_ready(d, q);
	if (now == d->running)
		return;
	d->running = now;
	if (!now) {
		log_debug("vhost-user: device stopped");
		d->ops->stop(d->arg);
		return;
	}
	log_debug("vhost-user: device running");
	for (q = 0; q < d->ops->nqueues; q++)
		d->ops->kick(d->arg, q);
}

static void
queue_stop(struct vu_dev *d, unsigned q)
{
	struct virtq *vq = &d->vq[q];

	vq->started = false;
	if (d->kick_ev[q]) {
		event_free(d->kick_ev[q]);
		d->kick_ev[q] = NULL;
	}
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	vq->kick_fd = -1;
}

static void
queue_reset(struct vu_dev *d, unsigned q)
{
	queue_stop(d, q);
	if (d->vq[q].call_fd >= 0)
		close(d->vq[q].call_fd);
	virtq_init(&d->vq[q]);
}

/* The device's state; what was negotiated for the session stays. */
static void
reset_all(struct vu_dev *d)
{
	unsigned q;

	for (q = 0; q < VU_MAX_QUEUES; q++)
		queue_reset(d, q);
	guestmem_clear(&d->mem);
	d->features = 0;	/* SET_FEATURES comes with every start */
	update_running(d);
}

static void
map_queue(struct vu_dev *d, unsigned q)
{
	struct virtq *vq = &d->vq[q];

	if (!vq->desc_uva || !d->mem.n)
		return;
	if (virtq_map(vq, &d->mem) < 0) {
		vq->broken = true;
		snprintf(vq->why, sizeof(vq->why), "ring addresses outside "
		    "guest memory");
		log_warnx("vhost-user: queue %u: %s", q, vq->why);
		return;
	}
	vq->broken = false;
}

/* ---- requests ------------------------------------------------------------------ */

static int
perr(struct vu_dev *d, uint32_t req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(struct vu_dev *d, uint32_t req, const char *fmt, ...)
{
	char msg[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(d->error, sizeof(d->error), "%s: %s", req_name(req), msg);
	log_warnx("vhost-user: %s", d->error);
	return -EPROTO;
}

static int
set_mem_table(struct vu_dev *d, const uint8_t *p, uint32_t size, int *fds,
    unsigned nfds)
{
	struct guestmem_desc desc[GUESTMEM_MAX_REGIONS];
	char err[96];
	uint32_t n, i;
	int rc;

	if (size < 8)
		return perr(d, VHOST_USER_SET_MEM_TABLE, "payload too short");
	n = rd32(p);
	if (n == 0 || n > GUESTMEM_MAX_REGIONS || size < 8 + n * 32 || nfds != n)
		return perr(d, VHOST_USER_SET_MEM_TABLE, "%u regions, %u fds, "
		    "%u bytes", n, nfds, size);
	for (i = 0; i < n; i++) {
		desc[i].gpa = rd64(p + 8 + i * 32);
		desc[i].size = rd64(p + 8 + i * 32 + 8);
		desc[i].uva = rd64(p + 8 + i * 32 + 16);
		desc[i].mmap_offset = rd64(p + 8 + i * 32 + 24);
	}
	rc = guestmem_set(&d->mem, desc, fds, n, err, sizeof(err));
	for (i = 0; i < nfds; i++)
		fds[i] = -1;		/* closed by guestmem_set */
	if (rc < 0) {
		/* The old table is gone too: no ring may point into it. */
		for (i = 0; i < d->ops->nqueues; i++)
			virtq_unmap(&d->vq[i]);
		update_running(d);
		return perr(d, VHOST_USER_SET_MEM_TABLE, "%s", err);
	}
	for (i = 0; i < d->ops->nqueues; i++)
		map_queue(d, i);
	log_debug("vhost-user: %u memory region%s", n, n == 1 ? "" : "s");
	update_running(d);
	return 0;
}

/* The queue a vring request names, or -1 (logged). */
static int
vring_index(struct vu_dev *d, uint32_t req, uint32_t idx)
{
	if (idx >= d->ops->nqueues) {
		perr(d, req, "no queue %u", idx);
		return -1;
	}
	return (int)idx;
}

static int
set_vring_fd(struct vu_dev *d, uint32_t req, const uint8_t *p, uint32_t size,
    int *fds, unsigned nfds)
{
	uint64_t v;
	int q, fd;

	if (size < 8)
		return perr(d, req, "payload too short");
	v = rd64(p);
	if ((q = vring_index(d, req, (uint32_t)(v & VHOST_USER_VRING_IDX_MASK))) < 0)
		return -EPROTO;
	if (v & VHOST_USER_VRING_NOFD) {
		if (nfds)
			return perr(d, req, "an fd with NOFD");
		fd = -1;
	} else {
		if (nfds != 1)
			return perr(d, req, "%u fds", nfds);
		fd = fds[0];
		fds[0] = -1;
	}
	switch (req) {
	case VHOST_USER_SET_VRING_KICK:
		queue_stop(d, q);
		d->vq[q].kick_fd = fd;
		d->vq[q].started = true;
		if (fd >= 0) {
			d->kick_ev[q] = event_new(d->base, fd,
			    EV_READ | EV_PERSIST, kick_cb, d);
			if (!d->kick_ev[q])
				return -ENOMEM;
			event_add(d->kick_ev[q], NULL);
		} else {
			log_warnx("vhost-user: queue %d without a kick fd: "
			    "served when the other queue is kicked", q);
		}
		break;
	case VHOST_USER_SET_VRING_CALL:
		if (d->vq[q].call_fd >= 0)
			close(d->vq[q].call_fd);
		d->vq[q].call_fd = fd;
		break;
	default:		/* SET_VRING_ERR: nothing to report there */
		if (fd >= 0)
			close(fd);
		break;
	}
	update_running(d);
	if (req == VHOST_USER_SET_VRING_KICK && d->running)
		d->ops->kick(d->arg, (unsigned)q);	/* buffers may wait */
	return 0;
}

static int
handle(struct vu_dev *d, uint32_t req, const uint8_t *p, uint32_t size,
    int *fds, unsigned nfds, bool *replied)
{
	uint8_t out[VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_CONFIG_MAX];
	uint32_t idx, num, off, len;
	struct virtq *vq;
	uint64_t v;
	int q;

	*replied = false;
	switch (req) {
	case VHOST_USER_GET_FEATURES:
		*replied = true;
		return reply_u64(d, req, d->ops->features |
		    (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	case VHOST_USER_SET_FEATURES:
		if (size < 8)
			return perr(d, req, "payload too short");
		v = rd64(p);
		if (v & ~(d->ops->features |
		    (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
			return perr(d, req, "features %#llx not offered",
			    (unsigned long long)v);
		d->features = v;
		/* Without protocol features there is no SET_VRING_ENABLE. */
		if (!(v & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
			for (idx = 0; idx < d->ops->nqueues; idx++)
				d->vq[idx].enabled = true;
		update_running(d);
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(d, req, OUR_PROTOCOL_FEATURES);
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (size < 8)
			return perr(d, req, "payload too short");
		d->protocol_features = rd64(p) & OUR_PROTOCOL_FEATURES;
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(d, req, d->ops->nqueues);
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		reset_all(d);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(d, p, size, fds, nfds);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		if (size < 8)
			return perr(d, req, "payload too short");
		idx = rd32(p);
		num = rd32(p + 4);
		if ((q = vring_index(d, req, idx)) < 0)
			return -EPROTO;
		vq = &d->vq[q];
		if (req == VHOST_USER_SET_VRING_NUM) {
			if (num == 0 || num > VIRTQ_MAX_SIZE || vq->started)
				return perr(d, req, "size %u for queue %d%s", num,
				    q, vq->started ? " (started)" : "");
			vq->num = (uint16_t)num;
			virtq_unmap(vq);
			map_queue(d, (unsigned)q);
		} else if (req == VHOST_USER_SET_VRING_BASE) {
			if (num > 0xffff || vq->started)
				return perr(d, req, "base %u for queue %d", num, q);
			vq->last_avail = (uint16_t)num;
		} else if (req == VHOST_USER_SET_VRING_ENABLE) {
			vq->enabled = num != 0;
			update_running(d);
		} else {
			/* Stops the ring; the front-end resumes from here. */
			queue_stop(d, (unsigned)q);
			update_running(d);
			wr32(out, idx);
			wr32(out + 4, vq->last_avail);
			*replied = true;
			return send_reply(d, req, out, 8);
		}
		return 0;
	case VHOST_USER_SET_VRING_ADDR:
		if (size < 40)
			return perr(d, req, "payload too short");
		if ((q = vring_index(d, req, rd32(p))) < 0)
			return -EPROTO;
		vq = &d->vq[q];
		vq->desc_uva = rd64(p + 8);
		vq->used_uva = rd64(p + 16);
		vq->avail_uva = rd64(p + 24);
		map_queue(d, (unsigned)q);
		if (vq->used)		/* carry on from where the ring is */
			vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx,
			    __ATOMIC_ACQUIRE));
		update_running(d);
		return 0;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return set_vring_fd(d, req, p, size, fds, nfds);
	case VHOST_USER_GET_CONFIG:
		if (size < VHOST_USER_CONFIG_HDR_SIZE)
			return perr(d, req, "payload too short");
		off = rd32(p);
		len = rd32(p + 4);
		if (len > VHOST_USER_CONFIG_MAX ||
		    size != VHOST_USER_CONFIG_HDR_SIZE + len)
			return perr(d, req, "%u bytes at %u", len, off);
		memset(out, 0, sizeof(out));
		memcpy(out, p, VHOST_USER_CONFIG_HDR_SIZE);
		d->ops->get_config(d->arg, off, out + VHOST_USER_CONFIG_HDR_SIZE,
		    len);
		*replied = true;
		return send_reply(d, req, out, VHOST_USER_CONFIG_HDR_SIZE + len);
	case VHOST_USER_SET_CONFIG:
		return perr(d, req, "the config space is read-only");
	default:
		return perr(d, req, "request %u not supported", req);
	}
}

int
vu_handle(struct vu_dev *d, uint32_t req, uint32_t flags,
    const uint8_t *payload, uint32_t size, int *fds, unsigned nfds)
{
	bool replied;
	int rc;

	if ((flags & VHOST_USER_FLAG_VERSION_MASK) != VHOST_USER_VERSION) {
		close_fds(fds, nfds);
		return perr(d, req, "protocol version %u",
		    flags & VHOST_USER_FLAG_VERSION_MASK);
	}
	log_debug("vhost-user: %s (%u bytes, %u fds)", req_name(req), size,
	    nfds);
	rc = handle(d, req, payload, size, fds, nfds, &replied);
	close_fds(fds, nfds);		/* those not taken */
	/* REPLY_ACK: a status for requests that have no reply of their own. */
	if (!replied && (flags & VHOST_USER_FLAG_NEED_REPLY) &&
	    (d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
	    reply_u64(d, req, rc < 0 ? 1 : 0) < 0)
		return -EIO;
	return rc;
}

/* ---- the session ------------------------------------------------------------- */

static void listen_cb(evutil_socket_t fd, short what, void *arg);

static void
disconnect(struct vu_dev *d, const char *why)
{
	log_info("vhost-user: front-end gone (%s)", why);
	event_free(d->ev);
	d->ev = NULL;
	close(d->fd);
	d->fd = -1;
	reset_all(d);
	d->features = d->protocol_features = 0;
	event_add(d->listen_ev, NULL);
	if (d->on_disconnect)
		d->on_disconnect(d->on_disconnect_arg);
}

static void
msg_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vu_dev *d = arg;
	uint8_t payload[VHOST_USER_MAX_PAYLOAD];
	uint32_t req, flags, size;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
	int rc;

	rc = vu_read_msg(fd, &req, &flags, payload, &size, fds, &nfds);
	if (rc <= 0) {
		disconnect(d, rc == 0 ? "closed" : strerror(-rc));
		return;
	}
	/* Refusals are answered (REPLY_ACK); only a dead socket ends it. */
	if (vu_handle(d, req, flags, payload, size, fds, nfds) == -EIO)
		disconnect(d, "cannot reply");
}

static void
listen_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct vu_dev *d = arg;
	struct timeval tv = { RECV_TIMEOUT_MS / 1000, 0 };
	int fd;

	if ((fd = vmn_accept(d->listen_ev, NULL, NULL)) < 0)
		return;
	/* Blocking, bounded: a request is read whole or the session ends. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	d->fd = fd;
	d->error[0] = '\0';
	if (!(d->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, msg_cb, d))) {
		close(fd);
		d->fd = -1;
		return;
	}
	event_add(d->ev, NULL);
	vmn_accept_stop(d->listen_ev);
	event_del(d->listen_ev);	/* one front-end at a time */
	log_info("vhost-user: front-end connected");
}

int
vu_init(struct vu_dev *d, struct event_base *base, int listen_fd,
    const struct vu_ops *ops, void *arg)
{
	unsigned q;

	memset(d, 0, sizeof(*d));
	d->base = base;
	d->ops = ops;
	d->arg = arg;
	d->fd = -1;
	d->listen_fd = listen_fd;
	for (q = 0; q < VU_MAX_QUEUES; q++)
		virtq_init(&d->vq[q]);
	if (listen_fd < 0)
		return 0;		/* driven by vu_handle() alone */
	d->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
	    listen_cb, d);
	if (!d->listen_ev)
		return -ENOMEM;
	event_add(d->listen_ev, NULL);
	return 0;
}

void
vu_free(struct vu_dev *d)
{
	unsigned q;

	if (d->ev)
		event_free(d->ev);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	for (q = 0; q < VU_MAX_QUEUES; q++)
		queue_reset(d, q);
	guestmem_clear(&d->mem);
	if (d->listen_ev) {
		vmn_accept_stop(d->listen_ev);
		event_free(d->listen_ev);
	}
	if (d->listen_fd >= 0)
		close(d->listen_fd);
}
