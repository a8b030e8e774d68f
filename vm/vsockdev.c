/*
 * vsockdev.c - a virtio-vsock device whose host side is hybrid vsock
 *
 * Theory of operation
 *
 * The guest's vsock driver talks to us over two virtqueues: on tx it
 * sends packets (a 44-byte header, maybe data), on rx it lends buffers for
 * the packets we send. Each connection of the guest is, on the host, an
 * AF_UNIX stream socket:
 *
 *   guest -> host port P   we connect to uds_path_P (host-netd listens
 *                          there), and answer RESPONSE or RST;
 *   host -> guest port P   a host program connects to uds_path and writes
 *                          "CONNECT P\n"; we send REQUEST to the guest and
 *                          answer the program "OK <our port>\n" once the
 *                          guest sends RESPONSE, or hang up on RST.
 *
 * Data from the guest is written to the socket straight out of the
 * guest's buffers; what the socket cannot take at once is kept in the
 * connection's buffer, VSOCK_BUF_ALLOC bytes, the credit we advertise. The
 * guest may not send more than that credit (buf_alloc minus what it sent
 * and we have not forwarded, fwd_cnt); one that does is reset. So the tx
 * queue is always served at once and no connection can hold up another.
 * As bytes reach the socket, fwd_cnt grows, and we tell the guest
 * (CREDIT_UPDATE) once half the buffer has been freed unannounced.
 *
 * Data to the guest is read from the socket straight into its rx buffers,
 * never more than the guest's credit for the connection. A connection
 * with bytes to read and credit, or a control packet to send, waits in
 * line for rx buffers (round robin); while it waits its socket is not
 * polled, so a guest that stops lending buffers or credit stops the
 * host's writers through the socket's own backpressure.
 *
 * Closing follows Linux's virtio transport: SHUTDOWN with SEND from the
 * guest becomes shutdown(SHUT_WR) once its bytes are through; SHUTDOWN
 * with both flags (close()) is answered with RST once they are, or after
 * VSOCK_CLOSE_MS; end of file on the socket becomes SHUTDOWN SEND; a
 * socket error, or RST from the guest, ends the connection at once.
 *
 * A guest that misbehaves costs only its own connections: malformed
 * packets are dropped and answered with RST, credit overruns reset the
 * connection, requests beyond VSOCK_MAX_CONNS are refused, and a corrupt
 * ring stops the device until the guest resets it.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "accept.h"
#include "log.h"
#include "transport.h"
#include "vsockdev.h"

#define RXQ		0
#define TXQ		1
#define NBUCKETS	256
#define RST_QUEUE	256		/* resets for no connection of ours */
#define LOCAL_PORT_MIN	(1u << 30)	/* host ports for host -> guest */
#define HANDSHAKE_MAX	32		/* "CONNECT 4294967295\n" */

enum vc_state {
	VC_HANDSHAKE,		/* host program: reading "CONNECT P\n" */
	VC_TO_GUEST,		/* REQUEST sent (or queued), awaiting guest */
	VC_OPEN,
	VC_CLOSING,		/* guest closed: draining, then RST */
};

/* Control packets waiting for an rx buffer, in the order they go out. */
enum {
	PEND_REQUEST	= 1 << 0,
	PEND_RESPONSE	= 1 << 1,
	PEND_CREDIT_REQ	= 1 << 2,
	PEND_CREDIT_UPD	= 1 << 3,
	PEND_SHUTDOWN	= 1 << 4,
	PEND_RST	= 1 << 5,	/* last: the connection ends with it */
};

struct vconn {
	LIST_ENTRY(vconn)	 hash;
	TAILQ_ENTRY(vconn)	 rxq;		/* waiting for rx buffers */
	LIST_ENTRY(vconn)	 all;
	struct vsockdev		*dev;
	enum vc_state		 state;
	uint32_t		 host_port;	/* ours (CID 2) */
	uint32_t		 guest_port;
	bool			 hashed;
	bool			 in_rxq;
	int			 fd;		/* the host side; -1 once closed */
	struct event		*rd, *wr, *timer;
	struct event		*hs_ev;		/* VC_HANDSHAKE: reading it */
	bool			 dead;		/* reset: only the RST is left */
	bool			 readable;	/* fd has bytes (or EOF) for us */
	unsigned		 pending;	/* PEND_* */
	uint32_t		 shutdown_flags;	/* for PEND_SHUTDOWN */
	/* guest -> host */
	uint8_t			*buf;		/* ring of VSOCK_BUF_ALLOC */
	size_t			 buf_off, buf_len;
	uint32_t		 rx_cnt;	/* bytes the guest sent us */
	uint32_t		 fwd_cnt;	/* ... that reached the socket */
	uint32_t		 fwd_cnt_sent;	/* last fwd_cnt the guest saw */
	bool			 peer_no_send;	/* guest: SHUTDOWN SEND */
	bool			 peer_no_rcv;	/* guest: SHUTDOWN RCV */
	bool			 shut_wr_done;
	/* host -> guest */
	uint32_t		 peer_buf_alloc, peer_fwd_cnt;
	uint32_t		 tx_cnt;	/* bytes we sent the guest */
	bool			 eof;		/* socket ended; SHUTDOWN sent */
	/* handshake */
	size_t			 hslen;
	char			 hs[HANDSHAKE_MAX];
};

struct rst_entry {
	uint64_t	src_cid;	/* the host side's, as the guest named it */
	uint32_t	src_port, dst_port;
};

struct vsockdev {
	struct event_base	*base;
	struct vu_dev		*vu;
	uint64_t		 guest_cid;
	char			 uds[VMN_PATH_MAX];
	int			 listen_fd;
	struct event		*listen_ev;
	struct event		*rx_ev, *tx_ev;	/* more work: next turn */
	LIST_HEAD(, vconn)	 buckets[NBUCKETS];
	LIST_HEAD(, vconn)	 conns;
	TAILQ_HEAD(, vconn)	 rxq;
	unsigned		 nconns;
	uint32_t		 next_local_port;
	struct rst_entry	 rst[RST_QUEUE];
	unsigned		 rst_head, rst_len;
	bool			 running;
	bool			 broken_logged;
	struct vsockdev_stats	 st;
};

static void conn_free(struct vconn *c);
static void rx_schedule(struct vconn *c);
static void rx_flush(struct vsockdev *dev);

/* ---- connections --------------------------------------------------------- */

static unsigned
bucket(uint32_t host_port, uint32_t guest_port)
{
	return (host_port * 2654435761u ^ guest_port * 40503u) % NBUCKETS;
}

static struct vconn *
conn_find(struct vsockdev *dev, uint32_t host_port, uint32_t guest_port)
{
	struct vconn *c;

	LIST_FOREACH(c, &dev->buckets[bucket(host_port, guest_port)], hash)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void
conn_hash(struct vconn *c)
{
	LIST_INSERT_HEAD(&c->dev->buckets[bucket(c->host_port, c->guest_port)],
	    c, hash);
	c->hashed = true;
}

static bool
local_port_used(struct vsockdev *dev, uint32_t port)
{
	struct vconn *c;

	LIST_FOREACH(c, &dev->conns, all)
		if (c->hashed && c->host_port == port)
			return true;
	return false;
}

static uint32_t
local_port(struct vsockdev *dev)
{
	do {
		if (++dev->next_local_port < LOCAL_PORT_MIN ||
		    dev->next_local_port == UINT32_MAX)
			dev->next_local_port = LOCAL_PORT_MIN;
	} while (local_port_used(dev, dev->next_local_port));
	return dev->next_local_port;
}

static void
conn_close_fd(struct vconn *c)
{
	if (c->rd)
		event_free(c->rd);
	if (c->wr)
		event_free(c->wr);
	if (c->hs_ev)
		event_free(c->hs_ev);
	c->rd = c->wr = c->hs_ev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->readable = false;
}

static void
conn_free(struct vconn *c)
{
	struct vsockdev *dev = c->dev;

	conn_close_fd(c);
	if (c->timer)
		event_free(c->timer);
	if (c->hashed)
		LIST_REMOVE(c, hash);
	if (c->in_rxq)
		TAILQ_REMOVE(&dev->rxq, c, rxq);
	LIST_REMOVE(c, all);
	dev->nconns--;
	free(c->buf);
	free(c);
}

static void sock_read_cb(evutil_socket_t fd, short what, void *arg);
static void sock_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

static struct vconn *
conn_new(struct vsockdev *dev, int fd)
{
	struct vconn *c;

	if (dev->nconns >= VSOCK_MAX_CONNS || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->dev = dev;
	c->fd = fd;
	c->rd = event_new(dev->base, fd, EV_READ | EV_PERSIST, sock_read_cb, c);
	c->wr = event_new(dev->base, fd, EV_WRITE | EV_PERSIST, sock_write_cb, c);
	c->timer = evtimer_new(dev->base, conn_timer_cb, c);
	LIST_INSERT_HEAD(&dev->conns, c, all);
	dev->nconns++;
	if (!c->rd || !c->wr || !c->timer) {
		c->fd = -1;		/* the caller still owns it */
		conn_free(c);
		return NULL;
	}
	return c;
}

static void
arm_timer(struct vconn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* Queues a control packet for the guest. */
static void
conn_pend(struct vconn *c, unsigned what)
{
	c->pending |= what;
	rx_schedule(c);
}

/* Ends the connection: the host side now, the guest with an RST. */
static void
conn_reset(struct vconn *c)
{
	if (c->dead)
		return;
	conn_close_fd(c);
	evtimer_del(c->timer);
	c->dead = true;
	c->pending = PEND_RST;		/* nothing else matters now */
	c->dev->st.resets++;
	rx_schedule(c);
}

static uint32_t
peer_credit(const struct vconn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/* ---- the host side's socket -------------------------------------------- */

/* Writes what the buffer holds; false if the connection was reset. */
static bool
buf_flush(struct vconn *c)
{
	struct iovec iov[2];
	size_t first;
	ssize_t n;
	int k = 1;

	while (c->buf_len) {
		first = VSOCK_BUF_ALLOC - c->buf_off;
		if (first > c->buf_len)
			first = c->buf_len;
		iov[0].iov_base = c->buf + c->buf_off;
		iov[0].iov_len = first;
		if (first < c->buf_len) {
			iov[1].iov_base = c->buf;
			iov[1].iov_len = c->buf_len - first;
			k = 2;
		}
		n = writev(c->fd, iov, k);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			conn_reset(c);
			return false;
		}
		c->buf_off = (c->buf_off + (size_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (size_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	return true;
}

static void
buf_append(struct vconn *c, const struct iovec *iov, unsigned n, size_t skip)
{
	size_t tail, k;
	unsigned i;

	for (i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		while (len) {
			tail = (c->buf_off + c->buf_len) % VSOCK_BUF_ALLOC;
			k = VSOCK_BUF_ALLOC - tail;
			if (k > len)
				k = len;
			memcpy(c->buf + tail, p, k);
			c->buf_len += k;
			p += k;
			len -= k;
		}
	}
}

/* Half the buffer freed and not told: the guest may be waiting for it. */
static void
maybe_credit_update(struct vconn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 2)
		conn_pend(c, PEND_CREDIT_UPD);
}

/* The guest's bytes are through: finish what its SHUTDOWN asked for. */
static void
after_drain(struct vconn *c)
{
	if (c->buf_len || c->fd < 0)
		return;
	if (c->state == VC_CLOSING) {
		conn_reset(c);		/* RST answers its close */
		return;
	}
	if (c->peer_no_send && !c->shut_wr_done) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_done = true;
	}
}

static void
sock_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vconn *c = arg;

	if (!buf_flush(c))
		return;
	if (!c->buf_len)
		event_del(c->wr);
	maybe_credit_update(c);
	after_drain(c);
}

static void
sock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vconn *c = arg;

	/* Read when the guest can take it: in line for rx buffers. */
	event_del(c->rd);
	c->readable = true;
	rx_schedule(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vconn *c = arg;

	switch (c->state) {
	case VC_HANDSHAKE:
		log_debug("vsock: host program sent no CONNECT line");
		conn_free(c);
		break;
	case VC_TO_GUEST:
		log_debug("vsock: guest port %u did not answer", c->guest_port);
		c->dev->st.refused++;
		conn_reset(c);		/* withdraws the REQUEST */
		break;
	case VC_CLOSING:
		conn_reset(c);		/* drained or not */
		break;
	case VC_OPEN:
		break;
	}
}

/* Our socket is open both ways: start reading it. */
static void
conn_open(struct vconn *c)
{
	c->state = VC_OPEN;
	evtimer_del(c->timer);
	event_add(c->rd, NULL);
}

/* ---- packets to the guest ------------------------------------------------- */

static void
fill_hdr(struct vsock_hdr *h, const struct vsockdev *dev, uint64_t src_cid,
    uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(src_cid);
	h->dst_cid = htole64(dev->guest_cid);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->type = htole16(VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

static void
conn_hdr(struct vsock_hdr *h, struct vconn *c, uint16_t op)
{
	fill_hdr(h, c->dev, VSOCK_HOST_CID, c->host_port, c->guest_port, op);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
}

static void
rx_schedule(struct vconn *c)
{
	if (c->in_rxq)
		return;
	TAILQ_INSERT_TAIL(&c->dev->rxq, c, rxq);
	c->in_rxq = true;
	if (c->dev->running)
		event_active(c->dev->rx_ev, 0, 0);
}

static void
rx_unschedule(struct vconn *c)
{
	if (!c->in_rxq)
		return;
	TAILQ_REMOVE(&c->dev->rxq, c, rxq);
	c->in_rxq = false;
}

/* Whether c has bytes it may send the guest now. */
static bool
wants_data(const struct vconn *c)
{
	return c->readable && c->state == VC_OPEN && !c->eof &&
	    !c->peer_no_rcv && peer_credit(c) > 0;
}

/* Emits c's most urgent control packet into chain ch. */
static void
emit_control(struct vconn *c, const struct virtq_chain *ch, struct virtq *vq)
{
	struct vsock_hdr h;
	unsigned what;

	for (what = 1; !(c->pending & what); what <<= 1)
		;
	c->pending &= ~what;
	switch (what) {
	case PEND_REQUEST:
		conn_hdr(&h, c, VSOCK_OP_REQUEST);
		break;
	case PEND_RESPONSE:
		conn_hdr(&h, c, VSOCK_OP_RESPONSE);
		break;
	case PEND_CREDIT_REQ:
		conn_hdr(&h, c, VSOCK_OP_CREDIT_REQUEST);
		break;
	case PEND_CREDIT_UPD:
		conn_hdr(&h, c, VSOCK_OP_CREDIT_UPDATE);
		break;
	case PEND_SHUTDOWN:
		conn_hdr(&h, c, VSOCK_OP_SHUTDOWN);
		h.flags = htole32(c->shutdown_flags);
		break;
	default:
		conn_hdr(&h, c, VSOCK_OP_RST);
		break;
	}
	iov_from_buf(ch->in, ch->nin, 0, &h, sizeof(h));
	virtq_push(vq, ch->head, sizeof(h));
}

enum emit { EMIT_NOTHING, EMIT_SENT, EMIT_FREED };

/*
 * Reads c's socket into chain ch: EMIT_SENT if the chain was used (a
 * packet, or end of file as SHUTDOWN), EMIT_FREED if an error ended the
 * connection (the chain carried its RST), EMIT_NOTHING if there was
 * nothing to read after all (the chain is not used).
 */
static enum emit
emit_data(struct vconn *c, const struct virtq_chain *ch, struct virtq *vq)
{
	struct iovec iov[VIRTQ_MAX_IOV];
	struct vsock_hdr h;
	size_t max = ch->in_len - VSOCK_HDR_LEN;
	unsigned k;
	ssize_t n;

	if (max > VSOCK_MAX_PKT)
		max = VSOCK_MAX_PKT;
	if (max > peer_credit(c))
		max = peer_credit(c);
	if (max == 0) {
		virtq_push(vq, ch->head, 0);	/* a buffer too small to use */
		return EMIT_SENT;
	}
	k = iov_tail(ch->in, ch->nin, VSOCK_HDR_LEN, iov, VIRTQ_MAX_IOV);
	k = iov_trim(iov, k, max);
	do {
		n = readv(c->fd, iov, (int)k);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		c->readable = false;
		event_add(c->rd, NULL);
		return EMIT_NOTHING;
	}
	if (n < 0) {
		/* The host program is gone: reset the guest's end. */
		conn_close_fd(c);
		c->dev->st.resets++;
		conn_hdr(&h, c, VSOCK_OP_RST);
		iov_from_buf(ch->in, ch->nin, 0, &h, sizeof(h));
		virtq_push(vq, ch->head, sizeof(h));
		conn_free(c);
		return EMIT_FREED;
	}
	if (n == 0) {
		/* End of file: no more from this side. */
		c->eof = true;
		c->readable = false;
		conn_hdr(&h, c, VSOCK_OP_SHUTDOWN);
		h.flags = htole32(VSOCK_SHUTDOWN_SEND);
		iov_from_buf(ch->in, ch->nin, 0, &h, sizeof(h));
		virtq_push(vq, ch->head, sizeof(h));
		return EMIT_SENT;
	}
	conn_hdr(&h, c, VSOCK_OP_RW);
	h.len = htole32((uint32_t)n);
	iov_from_buf(ch->in, ch->nin, 0, &h, sizeof(h));
	virtq_push(vq, ch->head, VSOCK_HDR_LEN + (uint32_t)n);
	c->tx_cnt += (uint32_t)n;
	c->dev->st.bytes_to_guest += (uint64_t)n;
	if (!peer_credit(c))
		c->pending |= PEND_CREDIT_REQ;	/* stalled: ask once */
	return EMIT_SENT;
}

static void
rx_flush(struct vsockdev *dev)
{
	struct virtq *vq = &dev->vu->vq[RXQ];
	struct virtq_chain ch;
	struct vsock_hdr h;
	struct vconn *c;
	unsigned budget = VSOCK_BATCH;
	int rc;

	if (!dev->running)
		return;
	while (budget && (dev->rst_len || !TAILQ_EMPTY(&dev->rxq))) {
		c = TAILQ_FIRST(&dev->rxq);
		/* Nothing to send after all: out of line, no buffer spent. */
		if (!dev->rst_len && !c->pending && !wants_data(c)) {
			rx_unschedule(c);
			continue;
		}
		if ((rc = virtq_pop(vq, &dev->vu->mem, &ch)) <= 0)
			break;		/* no buffers: the guest kicks when it has */
		budget--;
		if (ch.in_len < VSOCK_HDR_LEN || ch.nout) {
			virtq_push(vq, ch.head, 0);	/* not an rx buffer */
			continue;
		}
		if (dev->rst_len) {
			struct rst_entry *e = &dev->rst[dev->rst_head];

			fill_hdr(&h, dev, e->src_cid, e->src_port, e->dst_port,
			    VSOCK_OP_RST);
			iov_from_buf(ch.in, ch.nin, 0, &h, sizeof(h));
			virtq_push(vq, ch.head, sizeof(h));
			dev->rst_head = (dev->rst_head + 1) % RST_QUEUE;
			dev->rst_len--;
			continue;
		}
		rx_unschedule(c);
		if (c->pending) {
			bool last = c->pending == PEND_RST;

			emit_control(c, &ch, vq);
			if (last) {
				conn_free(c);
				continue;
			}
		} else {
			switch (emit_data(c, &ch, vq)) {
			case EMIT_NOTHING:
				virtq_unpop(vq);
				continue;
			case EMIT_FREED:
				continue;
			case EMIT_SENT:
				break;
			}
		}
		/*
		 * Round robin: to the back of the line if there is more. One
		 * readable without credit waits, unpolled, for the guest's.
		 */
		if (c->pending || wants_data(c))
			rx_schedule(c);
	}
	virtq_notify(vq);	/* bad chains given back count too */
	if (!budget)
		event_active(dev->rx_ev, 0, 0);	/* the rest next turn */
}

static void
rst_queue(struct vsockdev *dev, const struct vsock_hdr *from_guest)
{
	struct rst_entry *e;

	if (dev->rst_len == RST_QUEUE)
		return;		/* the guest times out instead */
	e = &dev->rst[(dev->rst_head + dev->rst_len++) % RST_QUEUE];
	e->src_cid = le64toh(from_guest->dst_cid);
	e->src_port = le32toh(from_guest->dst_port);
	e->dst_port = le32toh(from_guest->src_port);
	dev->st.resets++;
	if (dev->running)
		event_active(dev->rx_ev, 0, 0);
}

/* ---- packets from the guest ------------------------------------------------ */

static void
guest_connect(struct vsockdev *dev, const struct vsock_hdr *h)
{
	char path[VMN_PATH_MAX + VMN_PORT_SUFFIX_MAX + 1];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint32_t port = le32toh(h->dst_port);
	struct vconn *c;
	int fd;

	snprintf(path, sizeof(path), "%s_%" PRIu32, dev->uds, port);
	if (strlen(path) >= sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		rst_queue(dev, h);
		return;
	}
	strcpy(sun.sun_path, path);
	/* A unix connect completes at once, or fails (EAGAIN: no room). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_debug("vsock: guest port %u -> host port %u: %s",
		    le32toh(h->src_port), port, strerror(errno));
		close(fd);
		dev->st.refused++;
		rst_queue(dev, h);
		return;
	}
	if (!(c = conn_new(dev, fd))) {
		close(fd);
		dev->st.refused++;
		rst_queue(dev, h);
		return;
	}
	c->host_port = port;
	c->guest_port = le32toh(h->src_port);
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	conn_hash(c);
	dev->st.conns_from_guest++;
	conn_open(c);
	conn_pend(c, PEND_RESPONSE);
}

/* RW: the payload goes to the socket, the rest into the buffer. */
static void
guest_data(struct vconn *c, const struct virtq_chain *ch, uint32_t len)
{
	struct iovec iov[VIRTQ_MAX_IOV];
	size_t written = 0;
	unsigned k;
	ssize_t n;

	if (c->state != VC_OPEN || c->peer_no_send) {
		c->dev->st.bad_packets++;
		conn_reset(c);
		return;
	}
	if (len == 0)
		return;
	if (len > VSOCK_BUF_ALLOC - (c->rx_cnt - c->fwd_cnt)) {
		log_warnx("vsock: guest port %u sent past its credit: reset",
		    c->guest_port);
		c->dev->st.credit_violations++;
		conn_reset(c);
		return;
	}
	c->rx_cnt += len;
	c->dev->st.bytes_from_guest += len;
	if (c->fd < 0)
		return;
	/* The payload is len bytes; whatever else the chain holds is not. */
	k = iov_tail(ch->out, ch->nout, VSOCK_HDR_LEN, iov, VIRTQ_MAX_IOV);
	k = iov_trim(iov, k, len);
	if (!c->buf_len) {
		do {
			n = writev(c->fd, iov, (int)k);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			conn_reset(c);
			return;
		}
		if (n > 0) {
			written = (size_t)n;
			c->fwd_cnt += (uint32_t)n;
		}
	}
	if (written < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			conn_reset(c);
			return;
		}
		buf_append(c, iov, k, written);
		event_add(c->wr, NULL);
	}
	maybe_credit_update(c);
}

static void
guest_shutdown(struct vconn *c, uint32_t flags)
{
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->peer_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->peer_no_send = true;
	if (c->peer_no_rcv && c->peer_no_send) {
		/* close() in the guest: drain, then answer with RST. */
		c->state = VC_CLOSING;
		c->readable = false;
		if (c->rd)
			event_del(c->rd);
		arm_timer(c, VSOCK_CLOSE_MS);
	}
	after_drain(c);
}

static void
guest_packet(struct vsockdev *dev, const struct virtq_chain *ch)
{
	struct vsock_hdr h;
	struct vconn *c;
	uint32_t len;
	uint16_t op;

	if (ch->out_len < VSOCK_HDR_LEN) {
		dev->st.bad_packets++;
		return;
	}
	iov_to_buf(ch->out, ch->nout, 0, &h, sizeof(h));
	len = le32toh(h.len);
	op = le16toh(h.op);
	if (le64toh(h.src_cid) != dev->guest_cid ||
	    le16toh(h.type) != VSOCK_TYPE_STREAM || len > VSOCK_MAX_PKT ||
	    len > ch->out_len - VSOCK_HDR_LEN ||
	    (op != VSOCK_OP_RW && len != 0)) {
		dev->st.bad_packets++;
		/* On a connection of ours: it ends, both sides. */
		if (le64toh(h.dst_cid) == VSOCK_HOST_CID && (c = conn_find(dev,
		    le32toh(h.dst_port), le32toh(h.src_port))))
			conn_reset(c);
		else if (op != VSOCK_OP_RST)
			rst_queue(dev, &h);
		return;
	}
	if (le64toh(h.dst_cid) != VSOCK_HOST_CID) {
		/* No other guests here: as if nothing listened. */
		if (op != VSOCK_OP_RST)
			rst_queue(dev, &h);
		return;
	}
	c = conn_find(dev, le32toh(h.dst_port), le32toh(h.src_port));
	if (op == VSOCK_OP_REQUEST) {
		if (c) {
			dev->st.bad_packets++;
			conn_reset(c);
			return;
		}
		guest_connect(dev, &h);
		return;
	}
	if (!c) {
		if (op != VSOCK_OP_RST)
			rst_queue(dev, &h);
		return;
	}
	if (c->dead) {
		if (op == VSOCK_OP_RST)
			conn_free(c);	/* no need for ours any more */
		return;
	}
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	switch (op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != VC_TO_GUEST || (c->pending & PEND_REQUEST)) {
			dev->st.bad_packets++;
			conn_reset(c);
			return;
		}
		{
			char ok[32];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			/* A fresh socket takes a few bytes. */
			if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL) != n) {
				conn_reset(c);
				return;
			}
		}
		dev->st.conns_to_guest++;
		conn_open(c);
		break;
	case VSOCK_OP_RST:
		if (c->state == VC_TO_GUEST)
			dev->st.refused++;
		conn_free(c);		/* the host program sees the close */
		return;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(c, le32toh(h.flags));
		break;
	case VSOCK_OP_RW:
		guest_data(c, ch, len);
		return;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		conn_pend(c, PEND_CREDIT_UPD);
		break;
	default:
		dev->st.bad_packets++;
		conn_reset(c);
		return;
	}
	/* New credit may let a waiting reader go on. */
	if (wants_data(c))
		rx_schedule(c);
}

static void
device_broken(struct vsockdev *dev, unsigned q)
{
	struct vconn *c;

	if (!dev->broken_logged)
		log_warnx("vsock: the guest corrupted its %s queue (%s): "
		    "stopped until it resets the device", q == RXQ ? "rx" :
		    "tx", dev->vu->vq[q].why);
	dev->broken_logged = true;
	dev->running = false;
	while ((c = LIST_FIRST(&dev->conns)))
		conn_free(c);
	dev->rst_len = 0;
}

static void
tx_process(struct vsockdev *dev)
{
	struct virtq *vq = &dev->vu->vq[TXQ];
	struct virtq_chain ch;
	unsigned budget = VSOCK_BATCH;
	int rc;

	while (dev->running && budget--) {
		if ((rc = virtq_pop(vq, &dev->vu->mem, &ch)) < 0) {
			device_broken(dev, TXQ);
			break;
		}
		if (rc == 0)
			break;
		guest_packet(dev, &ch);
		virtq_push(vq, ch.head, 0);
	}
	virtq_notify(vq);
	if (dev->running && virtq_pending(vq))
		event_active(dev->tx_ev, 0, 0);
	if (dev->running && dev->vu->vq[RXQ].broken)
		device_broken(dev, RXQ);
}

static void
rx_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vsockdev *dev = arg;

	rx_flush(dev);
	if (dev->running && dev->vu->vq[RXQ].broken)
		device_broken(dev, RXQ);
}

static void
tx_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	tx_process(arg);
}

/* ---- host programs connecting to guest ports ------------------------------- */

/* "CONNECT P\n", read without taking a byte past the newline. */
static void
handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vconn *c = arg;
	struct vsockdev *dev = c->dev;
	char *nl, *end;
	unsigned long port;
	ssize_t n;

	n = recv(fd, c->hs + c->hslen, sizeof(c->hs) - 1 - c->hslen, MSG_PEEK);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_free(c);
		return;
	}
	c->hs[c->hslen + (size_t)n] = '\0';
	if (!(nl = strchr(c->hs + c->hslen, '\n'))) {
		if (c->hslen + (size_t)n >= sizeof(c->hs) - 1)
			goto bad;
		/* Consume what was peeked; wait for the rest. */
		if (recv(fd, c->hs + c->hslen, (size_t)n, 0) != n)
			goto bad;
		c->hslen += (size_t)n;
		return;
	}
	n = nl - (c->hs + c->hslen) + 1;
	if (recv(fd, c->hs + c->hslen, (size_t)n, 0) != n)
		goto bad;
	*nl = '\0';
	if (strncmp(c->hs, "CONNECT ", 8) != 0)
		goto bad;
	errno = 0;
	port = strtoul(c->hs + 8, &end, 10);
	if (errno || end == c->hs + 8 || *end || port > UINT32_MAX - 1)
		goto bad;
	event_del(c->hs_ev);
	if (!dev->running) {
		dev->st.refused++;
		conn_free(c);		/* no guest to ask: refused */
		return;
	}
	c->state = VC_TO_GUEST;
	c->guest_port = (uint32_t)port;
	c->host_port = local_port(dev);
	conn_hash(c);
	arm_timer(c, VSOCK_CONNECT_MS);
	conn_pend(c, PEND_REQUEST);
	return;
bad:
	log_debug("vsock: a host program sent no proper CONNECT line");
	conn_free(c);
}

static void
listen_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct vsockdev *dev = arg;
	struct vconn *c;
	int fd, i;

	for (i = 0; i < 64; i++) {
		if ((fd = vmn_accept(dev->listen_ev, NULL, NULL)) < 0)
			return;
		if (!dev->running || !(c = conn_new(dev, fd))) {
			close(fd);	/* refused: no device, or too many */
			dev->st.refused++;
			continue;
		}
		c->hs_ev = event_new(dev->base, fd, EV_READ | EV_PERSIST,
		    handshake_cb, c);
		if (!c->hs_ev) {
			conn_free(c);
			continue;
		}
		c->state = VC_HANDSHAKE;
		event_add(c->hs_ev, NULL);
		arm_timer(c, VSOCK_CONNECT_MS);
	}
}

/* ---- the device -------------------------------------------------------------- */

static void
vsock_get_config(void *arg, uint32_t off, uint8_t *buf, uint32_t len)
{
	struct vsockdev *dev = arg;
	uint8_t cfg[8];
	uint64_t cid = htole64(dev->guest_cid);

	/* struct virtio_vsock_config: le64 guest_cid. */
	memcpy(cfg, &cid, sizeof(cfg));
	if (off < sizeof(cfg))
		memcpy(buf, cfg + off, len < sizeof(cfg) - off ? len :
		    sizeof(cfg) - off);
}

static void
vsock_kick(void *arg, unsigned q)
{
	struct vsockdev *dev = arg;

	if (dev->vu->vq[RXQ].broken || dev->vu->vq[TXQ].broken) {
		if (!dev->broken_logged)
			device_broken(dev, dev->vu->vq[RXQ].broken ? RXQ : TXQ);
		return;		/* until the guest resets the device */
	}
	if (!dev->running) {
		dev->running = true;
		dev->broken_logged = false;
		log_info("vsock: guest CID %" PRIu64 " is up", dev->guest_cid);
	}
	if (q == TXQ)
		tx_process(dev);
	else
		rx_flush(dev);
}

static void
vsock_stop(void *arg)
{
	struct vsockdev *dev = arg;
	struct vconn *c, *next;

	if (dev->running)
		log_info("vsock: guest CID %" PRIu64 " is down; its %u "
		    "connections are closed", dev->guest_cid, dev->nconns);
	dev->running = false;
	dev->rst_len = 0;
	/* Every connection goes; host programs see their socket close. */
	for (c = LIST_FIRST(&dev->conns); c; c = next) {
		next = LIST_NEXT(c, all);
		conn_free(c);
	}
}

const struct vu_ops vsockdev_vu_ops = {
	.features = 1ull << VIRTIO_F_VERSION_1,
	.nqueues = 2,		/* rx, tx; QEMU keeps the event queue */
	.get_config = vsock_get_config,
	.kick = vsock_kick,
	.stop = vsock_stop,
};

struct vsockdev *
vsockdev_new(struct event_base *base, struct vu_dev *vu, uint64_t guest_cid,
    const char *uds_path, char *err, size_t errlen)
{
	struct vsockdev *dev;
	unsigned i;
	int fd;

	if (guest_cid < 3 || guest_cid >= UINT32_MAX) {
		snprintf(err, errlen, "guest CID %" PRIu64 ": 3 to 4294967294",
		    guest_cid);
		return NULL;
	}
	if (strlen(uds_path) + VMN_PORT_SUFFIX_MAX >= VMN_PATH_MAX) {
		snprintf(err, errlen, "%s: too long for a socket path "
		    "(with its _PORT suffixes)", uds_path);
		return NULL;
	}
	if (!(dev = calloc(1, sizeof(*dev)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dev->base = base;
	dev->vu = vu;
	dev->guest_cid = guest_cid;
	snprintf(dev->uds, sizeof(dev->uds), "%s", uds_path);
	for (i = 0; i < NBUCKETS; i++)
		LIST_INIT(&dev->buckets[i]);
	LIST_INIT(&dev->conns);
	TAILQ_INIT(&dev->rxq);
	dev->next_local_port = LOCAL_PORT_MIN;
	dev->listen_fd = -1;
	dev->rx_ev = event_new(base, -1, 0, rx_ev_cb, dev);
	dev->tx_ev = event_new(base, -1, 0, tx_ev_cb, dev);
	if (!dev->rx_ev || !dev->tx_ev) {
		snprintf(err, errlen, "out of memory");
		vsockdev_free(dev);
		return NULL;
	}
	if ((fd = vmn_listen_path(uds_path, VSOCK_LISTEN_BACKLOG)) < 0) {
		snprintf(err, errlen, "%s: %s", uds_path, strerror(-fd));
		vsockdev_free(dev);
		return NULL;
	}
	dev->listen_fd = fd;
	dev->listen_ev = event_new(base, fd, EV_READ | EV_PERSIST, listen_cb,
	    dev);
	if (!dev->listen_ev) {
		snprintf(err, errlen, "out of memory");
		vsockdev_free(dev);
		return NULL;
	}
	event_add(dev->listen_ev, NULL);
	return dev;
}

void
vsockdev_free(struct vsockdev *dev)
{
	struct vconn *c;

	if (!dev)
		return;
	while ((c = LIST_FIRST(&dev->conns)))
		conn_free(c);
	if (dev->listen_ev) {
		vmn_accept_stop(dev->listen_ev);
		event_free(dev->listen_ev);
	}
	if (dev->listen_fd >= 0) {
		close(dev->listen_fd);
		unlink(dev->uds);
	}
	if (dev->rx_ev)
		event_free(dev->rx_ev);
	if (dev->tx_ev)
		event_free(dev->tx_ev);
	free(dev);
}

const struct vsockdev_stats *
vsockdev_stats(const struct vsockdev *dev)
{
	return &dev->st;
}

unsigned
vsockdev_nconns(const struct vsockdev *dev)
{
	return dev->nconns;
}
