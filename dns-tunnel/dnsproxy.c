/*
 * dnsproxy.c - guest-netd: the DNS tunnel's near end
 *
 * Theory of operation
 *
 * When the host's configuration says "tunnel", guest-netd serves DNS on
 * the tunnel address (10.255.255.254 by default, on lo) over UDP and TCP
 * and resolv.conf points there. Every query is checked (a malformed one is
 * answered FORMERR at once), given a slot in a fixed table and a tunnel id,
 * and sent over the dns channel, a connection of its own to host-netd
 * (HELLO role dns). The answer comes back under the same tunnel id and goes
 * to whoever asked: the UDP client's address or the TCP connection, so two
 * queries with the same DNS id from one socket (glibc sends A and AAAA
 * that way) each get their own answer.
 *
 * A query unanswered after DNSPROXY_TIMEOUT_MS gets SERVFAIL; when the
 * channel drops, every query sent on it gets SERVFAIL at once, and queries
 * that arrive while it is down wait (within their deadline) for the
 * reconnection. An answer larger than a UDP client's buffer (512 bytes, or
 * what its EDNS record says) is replaced by an empty truncated reply, so
 * the client asks again over TCP and gets it whole.
 *
 * Nothing here grows without bound: the slot table, the TCP clients and
 * their idle time are all capped.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "accept.h"
#include "conn.h"
#include "dnsmsg.h"
#include "dnsproxy.h"
#include "log.h"
#include "netconf.h"
#include "transport.h"
#include "wire.h"

#define SLOT_BITS	11
_Static_assert(DNSPROXY_MAX_INFLIGHT == 1 << SLOT_BITS, "slot table size");
#define UDP_BATCH	64	/* datagrams per recvmmsg/sendmmsg */
#define UDP_SLOT	4096	/* a batched datagram; larger ones go alone */
/*
 * A resolver library fires queries in bursts (a browser opening a page,
 * a build resolving its mirrors); at ~768 bytes of kernel memory per
 * datagram the default 208 KiB buffer holds under 300 of them.
 */
#define UDP_RCVBUF	(4 << 20)

enum dq_state { DQ_FREE, DQ_WAITING, DQ_SENT };

struct tcp_client;

struct dq {
	TAILQ_ENTRY(dq)		 entry;		/* free list, or in arrival order */
	enum dq_state		 state;
	uint32_t		 id;
	uint64_t		 deadline_ms;
	uint16_t		 udp_limit;
	struct tcp_client	*tc;		/* NULL: a UDP client */
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	size_t			 qlen;
	uint8_t			*q;
};
TAILQ_HEAD(dq_list, dq);

struct tcp_client {
	LIST_ENTRY(tcp_client)	 entry;
	struct dnsproxy		*px;
	struct bufferevent	*bev;
	unsigned		 pending;
	bool			 eof;		/* no more queries; answer, close */
};

struct dnsproxy {
	struct event_base	*base;
	struct vmn_endpoint	 host;
	uint32_t		 host_port;
	const char		*vm_id;
	bool			 active;
	struct vmn_ip		 addr;
	int			 udp_fd, tcp_fd;
	struct event		*udp_ev, *tcp_ev;
	struct vmn_connector	*connector;
	struct vmn_conn		*conn;
	bool			 ready;		/* HELLO answered */
	uint32_t		 hello_seq;
	uint32_t		 next_seq;	/* tunnel ids: seq << SLOT_BITS | slot */
	struct dq		 slots[DNSPROXY_MAX_INFLIGHT];
	struct dq_list		 free, inflight;
	struct event		*timeout_ev;
	LIST_HEAD(, tcp_client)	 tcp;
	unsigned		 ntcp;
	struct dnsproxy_stats	 stats;
	/* replies gathered during a loop pass, sent with one sendmmsg */
	struct event		*udp_flush_ev;
	unsigned		 ntx;
	struct mmsghdr		 txmsg[UDP_BATCH];
	struct iovec		 txiov[UDP_BATCH];
	struct sockaddr_storage	 txaddr[UDP_BATCH];
	uint8_t			 txbuf[UDP_BATCH][UDP_SLOT];
	/* queries read with one recvmmsg */
	struct mmsghdr		 rxmsg[UDP_BATCH];
	struct iovec		 rxiov[UDP_BATCH];
	struct sockaddr_storage	 rxaddr[UDP_BATCH];
	uint8_t			 rxbuf[UDP_BATCH][UDP_SLOT];
	uint8_t			 rx[DNS_MAX_MSG + 1];
	uint8_t			 out[DNS_MAX_MSG + 2];
	uint8_t			 frame[VMN_MAX_FRAME];
};

static void px_connected(int fd, void *arg);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- answering the guest's programs ---------------------------------- */

static void tcp_close(struct tcp_client *tc);

static void
tcp_write(struct tcp_client *tc, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

	bufferevent_write(tc->bev, hdr, 2);
	bufferevent_write(tc->bev, msg, len);
}

static void
udp_flush(struct dnsproxy *px)
{
	unsigned sent = 0;
	int n;

	while (sent < px->ntx) {
		n = sendmmsg(px->udp_fd, px->txmsg + sent, px->ntx - sent,
		    MSG_DONTWAIT);
		if (n <= 0) {
			log_debug("dns: replies lost: %s", strerror(errno));
			break;
		}
		sent += (unsigned)n;
	}
	px->ntx = 0;
}

static void
udp_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_flush(arg);
}

/* Queues a UDP reply for the end of this loop pass. */
static void
udp_send(struct dnsproxy *px, const uint8_t *msg, size_t len,
    const struct sockaddr_storage *to, socklen_t tolen)
{
	unsigned i;

	if (len > UDP_SLOT) {
		if (sendto(px->udp_fd, msg, len, MSG_DONTWAIT,
		    (const struct sockaddr *)to, tolen) < 0)
			log_debug("dns: reply: %s", strerror(errno));
		return;
	}
	if (px->ntx == UDP_BATCH)
		udp_flush(px);
	i = px->ntx++;
	memcpy(px->txbuf[i], msg, len);
	px->txiov[i].iov_base = px->txbuf[i];
	px->txiov[i].iov_len = len;
	px->txaddr[i] = *to;
	memset(&px->txmsg[i], 0, sizeof(px->txmsg[i]));
	px->txmsg[i].msg_hdr.msg_name = &px->txaddr[i];
	px->txmsg[i].msg_hdr.msg_namelen = tolen;
	px->txmsg[i].msg_hdr.msg_iov = &px->txiov[i];
	px->txmsg[i].msg_hdr.msg_iovlen = 1;
	if (i == 0)
		event_active(px->udp_flush_ev, EV_WRITE, 0);
}

/* Sends msg to whoever asked dq (UDP, with truncation, or TCP). */
static void
reply(struct dnsproxy *px, struct dq *dq, const uint8_t *msg, size_t len)
{
	if (len == 0 || (!dq->tc && dq->fromlen == 0))
		return;		/* nothing to say, or nobody left to hear it */
	if (dq->tc) {
		tcp_write(dq->tc, msg, len);
		return;
	}
	if (len > dq->udp_limit) {
		len = dns_truncated_reply(msg, len, px->out, sizeof(px->out));
		msg = px->out;
		px->stats.truncated++;
		if (len == 0)
			return;
	}
	udp_send(px, msg, len, &dq->from, dq->fromlen);
}

static void
dq_free(struct dnsproxy *px, struct dq *dq)
{
	struct tcp_client *tc = dq->tc;

	TAILQ_REMOVE(&px->inflight, dq, entry);
	free(dq->q);
	dq->q = NULL;
	dq->state = DQ_FREE;
	dq->tc = NULL;
	TAILQ_INSERT_TAIL(&px->free, dq, entry);
	if (tc) {
		tc->pending--;
		if (tc->eof && tc->pending == 0 &&
		    evbuffer_get_length(bufferevent_get_output(tc->bev)) == 0)
			tcp_close(tc);
	}
}

static void
dq_servfail(struct dnsproxy *px, struct dq *dq)
{
	size_t n = dns_error_reply(dq->q, dq->qlen, DNS_RCODE_SERVFAIL,
	    px->out, sizeof(px->out));

	px->stats.servfail++;
	reply(px, dq, px->out, n);
	dq_free(px, dq);
}

static void
arm_timeout(struct dnsproxy *px)
{
	struct dq *head = TAILQ_FIRST(&px->inflight);
	uint64_t now = now_ms(), wait;
	struct timeval tv;

	if (!head) {
		evtimer_del(px->timeout_ev);
		return;
	}
	wait = head->deadline_ms > now ? head->deadline_ms - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)((wait % 1000) * 1000);
	evtimer_add(px->timeout_ev, &tv);
}

/* Every query has the same timeout, so the oldest expires first. */
static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnsproxy *px = arg;
	struct dq *dq;
	uint64_t now = now_ms();

	while ((dq = TAILQ_FIRST(&px->inflight)) && dq->deadline_ms <= now)
		dq_servfail(px, dq);
	arm_timeout(px);
}

/* ---- the channel to host-netd ----------------------------------------- */

static int
send_query(struct dnsproxy *px, struct dq *dq)
{
	struct vmn_buf b;

	vmn_buf_init(&b, px->frame, sizeof(px->frame));
	vmn_msg_begin(&b, VMN_MSG_DNS, VMN_F_REQUEST, 0);
	vmn_put_u32(&b, VMN_A_DNS_ID, dq->id);
	vmn_put_u8(&b, VMN_A_PROTO, dq->tc ? IPPROTO_TCP : IPPROTO_UDP);
	vmn_put(&b, VMN_A_PAYLOAD, dq->q, dq->qlen);
	if (vmn_conn_send_buf(px->conn, &b) < 0)
		return -EIO;
	dq->state = DQ_SENT;
	return 0;
}

static void
send_waiting(struct dnsproxy *px)
{
	struct dq *dq;

	TAILQ_FOREACH(dq, &px->inflight, entry)
		if (dq->state == DQ_WAITING && send_query(px, dq) < 0)
			return;
}

static int
handle_answer(struct dnsproxy *px, const struct vmn_msg *m)
{
	uint32_t id = vmn_attr_u32(&m->tb[VMN_A_DNS_ID]);
	struct dq *dq = &px->slots[id & (DNSPROXY_MAX_INFLIGHT - 1)];
	const struct vmn_attr *p = &m->tb[VMN_A_PAYLOAD];

	if (dq->state != DQ_SENT || dq->id != id)
		return 0;	/* timed out meanwhile: too late */
	if (p->len >= DNS_HDR_LEN)
		px->stats.answers++;
	reply(px, dq, p->data, p->len);
	dq_free(px, dq);
	return 0;
}

static int
px_msg(struct vmn_conn *c, const struct vmn_msg *m, void *arg)
{
	struct dnsproxy *px = arg;
	char msg[VMN_MAX_STRING + 1];

	if (!px->ready) {
		if (m->hdr.type != VMN_MSG_HELLO || !(m->hdr.flags & VMN_F_REPLY) ||
		    m->hdr.seq != px->hello_seq)
			return -EPROTO;
		if (m->hdr.flags & VMN_F_ERROR) {
			vmn_attr_str(&m->tb[VMN_A_ERRMSG], msg, sizeof(msg));
			log_warnx("dns: host refused the tunnel: %s", msg);
			return -ECONNREFUSED;
		}
		px->ready = true;
		log_info("dns: tunnel to host-netd up");
		send_waiting(px);
		return 0;
	}
	if (m->hdr.type == VMN_MSG_DNS && (m->hdr.flags & VMN_F_REPLY))
		return handle_answer(px, m);
	log_debug("dns: ignoring %s on the dns channel",
	    vmn_msg_name(m->hdr.type));
	return 0;
}

/* The channel is gone: what was sent on it will never be answered. */
static void
px_close(struct vmn_conn *c, int err, const char *why, void *arg)
{
	struct dnsproxy *px = arg;
	struct dq *dq, *next;

	if (px->ready)
		log_warnx("dns: tunnel to host-netd lost (%s)", why);
	vmn_conn_free(c);
	px->conn = NULL;
	px->ready = false;
	for (dq = TAILQ_FIRST(&px->inflight); dq; dq = next) {
		next = TAILQ_NEXT(dq, entry);
		if (dq->state == DQ_SENT)
			dq_servfail(px, dq);
	}
	arm_timeout(px);
	if (px->active)
		vmn_connector_again(px->connector);
}

static void
px_connected(int fd, void *arg)
{
	struct dnsproxy *px = arg;
	struct vmn_buf b;
	int len;

	px->conn = vmn_conn_new(px->base, fd, "dns", px_msg, px_close, px);
	if (!px->conn) {
		vmn_connector_again(px->connector);
		return;
	}
	px->hello_seq = vmn_conn_next_seq(px->conn);
	vmn_buf_init(&b, px->frame, sizeof(px->frame));
	len = vmn_build_hello(&b, VMN_F_REQUEST, px->hello_seq, VMN_ROLE_DNS,
	    VMN_CAP_DNS_TUNNEL, px->vm_id);
	if (len < 0 || vmn_conn_send(px->conn, b.data, (size_t)len) < 0)
		vmn_conn_fail(px->conn, -EIO, "cannot send hello");
}

/* ---- queries from the guest's programs -------------------------------- */

/* Takes one query; answers it at once if it cannot go to the host. */
static void
query(struct dnsproxy *px, const uint8_t *q, size_t len, struct tcp_client *tc,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct dns_query_info qi;
	struct dq *dq;
	size_t n;

	px->stats.queries++;
	if (dns_parse_query(q, len, &qi) < 0) {
		struct dq tmp = { .tc = tc, .fromlen = fromlen,
		    .udp_limit = DNS_UDP_MIN };

		if (from)
			tmp.from = *from;
		px->stats.formerr++;
		n = dns_error_reply(q, len, DNS_RCODE_FORMERR, px->out,
		    sizeof(px->out));
		if (n == 0)
			px->stats.dropped++;
		reply(px, &tmp, px->out, n);
		return;
	}
	if (!(dq = TAILQ_FIRST(&px->free)) || !(dq->q = malloc(len))) {
		struct dq tmp = { .tc = tc, .fromlen = fromlen,
		    .udp_limit = DNS_UDP_MIN };

		if (from)
			tmp.from = *from;
		px->stats.servfail++;
		n = dns_error_reply(q, len, DNS_RCODE_SERVFAIL, px->out,
		    sizeof(px->out));
		reply(px, &tmp, px->out, n);
		return;
	}
	TAILQ_REMOVE(&px->free, dq, entry);
	memcpy(dq->q, q, len);
	dq->qlen = len;
	dq->id = (px->next_seq++ << SLOT_BITS) | (uint32_t)(dq - px->slots);
	dq->udp_limit = qi.udp_limit;
	dq->deadline_ms = now_ms() + DNSPROXY_TIMEOUT_MS;
	dq->tc = tc;
	if (tc)
		tc->pending++;
	else {
		dq->from = *from;
		dq->fromlen = fromlen;
	}
	dq->state = DQ_WAITING;
	TAILQ_INSERT_TAIL(&px->inflight, dq, entry);
	if (TAILQ_FIRST(&px->inflight) == dq)
		arm_timeout(px);
	if (px->ready)
		send_query(px, dq);
}

static void
udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnsproxy *px = arg;
	int i, n;

	for (i = 0; i < UDP_BATCH; i++) {
		px->rxiov[i].iov_base = px->rxbuf[i];
		px->rxiov[i].iov_len = UDP_SLOT;
		memset(&px->rxmsg[i].msg_hdr, 0, sizeof(px->rxmsg[i].msg_hdr));
		px->rxmsg[i].msg_hdr.msg_name = &px->rxaddr[i];
		px->rxmsg[i].msg_hdr.msg_namelen = sizeof(px->rxaddr[i]);
		px->rxmsg[i].msg_hdr.msg_iov = &px->rxiov[i];
		px->rxmsg[i].msg_hdr.msg_iovlen = 1;
	}
	if ((n = recvmmsg(fd, px->rxmsg, UDP_BATCH, MSG_DONTWAIT, NULL)) <= 0)
		return;
	for (i = 0; i < n; i++) {
		const struct msghdr *h = &px->rxmsg[i].msg_hdr;
		size_t len = px->rxmsg[i].msg_len;

		/* Too short to answer, or larger than any UDP query we take. */
		if (len < DNS_HDR_LEN || (h->msg_flags & MSG_TRUNC)) {
			px->stats.dropped++;
			continue;
		}
		query(px, px->rxbuf[i], len, NULL, &px->rxaddr[i],
		    h->msg_namelen);
	}
}

static void
tcp_close(struct tcp_client *tc)
{
	struct dnsproxy *px = tc->px;
	unsigned i;

	/* Its queries may still be answered: drop the answers. */
	if (tc->pending)
		for (i = 0; i < DNSPROXY_MAX_INFLIGHT; i++)
			if (px->slots[i].state != DQ_FREE &&
			    px->slots[i].tc == tc)
				px->slots[i].tc = NULL, px->slots[i].fromlen = 0;
	LIST_REMOVE(tc, entry);
	px->ntcp--;
	bufferevent_free(tc->bev);
	free(tc);
}

static void
tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_client *tc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2];
	size_t len;

	/* RFC 7766: queries may be pipelined; answers go in any order. */
	while (evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len < DNS_HDR_LEN || tc->pending >= 64) {
			tc->px->stats.dropped++;
			tcp_close(tc);		/* garbage or a flood */
			return;
		}
		if (evbuffer_get_length(in) < 2 + len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, tc->px->rx, len);
		query(tc->px, tc->px->rx, len, tc, NULL, 0);
	}
}

static void
tcp_write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_client *tc = arg;

	if (tc->eof && tc->pending == 0)
		tcp_close(tc);
}

static void
tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_client *tc = arg;

	if ((what & BEV_EVENT_EOF) && tc->pending) {
		/* Half-closed after asking: answer first, then close. */
		tc->eof = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	tcp_close(tc);
}

static void
tcp_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct dnsproxy *px = arg;
	struct timeval idle = { DNSPROXY_TCP_IDLE_MS / 1000, 0 };
	struct tcp_client *tc;
	int fd;

	if ((fd = vmn_accept(px->tcp_ev, NULL, NULL)) < 0)
		return;
	if (px->ntcp >= DNSPROXY_MAX_TCP || !(tc = calloc(1, sizeof(*tc)))) {
		close(fd);
		return;
	}
	tc->px = px;
	tc->bev = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!tc->bev) {
		close(fd);
		free(tc);
		return;
	}
	bufferevent_setwatermark(tc->bev, EV_READ, 0, 2 * (DNS_MAX_MSG + 2));
	bufferevent_setcb(tc->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, tc);
	bufferevent_set_timeouts(tc->bev, &idle, NULL);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&px->tcp, tc, entry);
	px->ntcp++;
}

/* ---- listening -------------------------------------------------------- */

static int
bind_socket(const struct vmn_ip *addr, int type)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1, rc;

	memset(&ss, 0, sizeof(ss));
	if (addr->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(DNS_PORT);
		sin->sin_addr = addr->u.v4;
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(DNS_PORT);
		sin6->sin6_addr = addr->u.v6;
		sslen = sizeof(*sin6);
	}
	if ((fd = socket(addr->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int size = UDP_RCVBUF;

		/* FORCE: past rmem_max, as root may; else as much as allowed */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		    sizeof(size)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
			    sizeof(size));
	}
	/* The address is ours to add; do not depend on the order. */
	if (addr->family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void
unlisten(struct dnsproxy *px)
{
	if (px->udp_fd >= 0 && px->ntx)
		udp_flush(px);
	if (px->udp_ev)
		event_free(px->udp_ev);
	if (px->tcp_ev) {
		vmn_accept_stop(px->tcp_ev);
		event_free(px->tcp_ev);
	}
	if (px->udp_fd >= 0)
		close(px->udp_fd);
	if (px->tcp_fd >= 0)
		close(px->tcp_fd);
	px->udp_ev = px->tcp_ev = NULL;
	px->udp_fd = px->tcp_fd = -1;
}

static int
listen_on(struct dnsproxy *px, const struct vmn_ip *addr)
{
	int fd;

	unlisten(px);
	if ((fd = bind_socket(addr, SOCK_DGRAM)) < 0)
		return fd;
	px->udp_fd = fd;
	if ((fd = bind_socket(addr, SOCK_STREAM)) < 0) {
		unlisten(px);
		return fd;
	}
	px->tcp_fd = fd;
	px->udp_ev = event_new(px->base, px->udp_fd, EV_READ | EV_PERSIST,
	    udp_cb, px);
	px->tcp_ev = event_new(px->base, px->tcp_fd, EV_READ | EV_PERSIST,
	    tcp_accept_cb, px);
	event_add(px->udp_ev, NULL);
	event_add(px->tcp_ev, NULL);
	px->addr = *addr;
	return 0;
}

static void
stop(struct dnsproxy *px)
{
	struct tcp_client *tc;
	struct dq *dq;

	px->active = false;
	/* Answer what is pending while there are sockets to answer on. */
	while ((dq = TAILQ_FIRST(&px->inflight)))
		dq_servfail(px, dq);
	while ((tc = LIST_FIRST(&px->tcp))) {
		bufferevent_flush(tc->bev, EV_WRITE, BEV_FLUSH);
		tcp_close(tc);
	}
	unlisten(px);
	if (px->conn) {
		vmn_conn_free(px->conn);
		px->conn = NULL;
		px->ready = false;
	}
	if (px->connector) {
		vmn_connector_free(px->connector);
		px->connector = NULL;
	}
	evtimer_del(px->timeout_ev);
}

/*
 * Follows the host's DNS settings: serve on the tunnel address, move to
 * another one, or stop. Errors (the address cannot be bound) come back
 * as text for the configuration's reply.
 */
int
dnsproxy_configure(struct dnsproxy *px, const struct vmn_nc_dns *dns,
    char *err, size_t errlen)
{
	char ip[VMN_IP_STRLEN];
	int rc;

	if (!dns->present || !dns->tunnel || dns->nservers == 0) {
		if (px->active)
			log_info("dns: tunnel stopped");
		stop(px);
		return 0;
	}
	if (px->active && vmn_ip_equal(&px->addr, &dns->servers[0]))
		return 0;
	if ((rc = listen_on(px, &dns->servers[0])) < 0) {
		snprintf(err, errlen, "DNS tunnel on %s port 53: %s",
		    vmn_ip_ntop(&dns->servers[0], ip, sizeof(ip)), strerror(-rc));
		return rc;
	}
	if (!px->connector) {
		px->connector = vmn_connector_new(px->base, &px->host,
		    px->host_port, 0, px_connected, NULL, px);
		if (!px->connector) {
			snprintf(err, errlen, "DNS tunnel: out of memory");
			unlisten(px);
			return -ENOMEM;
		}
	}
	px->active = true;
	log_info("dns: serving on %s port 53 through the host",
	    vmn_ip_ntop(&px->addr, ip, sizeof(ip)));
	return 0;
}

struct dnsproxy *
dnsproxy_new(struct event_base *base, const struct vmn_endpoint *host,
    uint32_t host_port, const char *vm_id)
{
	struct dnsproxy *px = calloc(1, sizeof(*px));
	unsigned i;

	if (!px)
		return NULL;
	px->base = base;
	px->host = *host;
	px->host_port = host_port;
	px->vm_id = vm_id;
	px->udp_fd = px->tcp_fd = -1;
	TAILQ_INIT(&px->free);
	TAILQ_INIT(&px->inflight);
	LIST_INIT(&px->tcp);
	for (i = 0; i < DNSPROXY_MAX_INFLIGHT; i++)
		TAILQ_INSERT_TAIL(&px->free, &px->slots[i], entry);
	px->timeout_ev = evtimer_new(base, timeout_cb, px);
	px->udp_flush_ev = event_new(base, -1, 0, udp_flush_cb, px);
	if (!px->timeout_ev || !px->udp_flush_ev) {
		if (px->timeout_ev)
			event_free(px->timeout_ev);
		if (px->udp_flush_ev)
			event_free(px->udp_flush_ev);
		free(px);
		return NULL;
	}
	return px;
}

void
dnsproxy_free(struct dnsproxy *px)
{
	if (!px)
		return;
	stop(px);
	event_free(px->timeout_ev);
	event_free(px->udp_flush_ev);
	free(px);
}

const struct dnsproxy_stats *
dnsproxy_stats(const struct dnsproxy *px)
{
	return &px->stats;
}
