/*
 * hostfwd.c - host-netd: the host's end of port forwarding, per VM
 *
 * Theory of operation
 *
 * Ports. A VM's forwarded ports come from its guest (every listener
 * guest-netd reports is bound on the host's 127.0.0.1 and ::1 under the
 * same number: "auto") and from the configuration ("static": a host port,
 * on 127.0.0.1 or the address the configuration names, to a guest port).
 * Nothing is ever bound on another address unless the configuration says
 * so. The guest's listeners are kept as reported, and the auto ports are
 * derived from them: turning auto-forward off and on again, or removing a
 * static forward that held the same loopback port (the configuration
 * wins), brings them back without the guest's help. A port the host
 * already uses is reported (log, netctl forwards and vms) and tried again
 * every HOSTFWD_RETRY_MS until it is free. When the guest's session starts
 * again its listeners arrive as a fresh list: ports it no longer has are
 * dropped once the list is complete (LISTENERS_SYNCED).
 *
 * Connections. Each TCP connection accepted on a forwarded port opens a
 * channel to the guest's port 7701 (through the VM's vsock, hybrid vsock
 * or unix channel): HELLO (role fwd) and FWD (protocol, family, guest
 * port, connection id). Once the guest answers that it has connected,
 * relay.c moves the bytes; if it cannot connect, the host program's
 * connection is reset, as if the port were closed. UDP: each client
 * address is a flow with its own channel, datagrams framed on it
 * (dgram.c), ended after HOSTFWD_UDP_IDLE_MS of silence.
 *
 * Reverse forwards. The guest opens the channel (role rfwd) for a port the
 * configuration allows; host-netd connects to 127.0.0.1:port on the host
 * (::1 if that is refused) and relays the same way.
 *
 * Resets go as FWD_RESET events on the control channel, the fwd channel
 * kept open until the peer has acted (see guestfwd.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "chan.h"
#include "dgram.h"
#include "hostfwd.h"
#include "log.h"
#include "relay.h"
#include "transport.h"

#define UDP_QUEUE_MAX	16	/* datagrams waiting for their channel */
#define LISTENERS_MAX	1024	/* guest listeners remembered per VM */

enum hport_kind { HP_AUTO, HP_STATIC, HP_REVERSE };
static const char *const kind_names[] = { "auto", "static", "reverse" };

struct hport;

struct hbind {
	struct hport		*hp;
	struct vmn_ip		 addr;
	bool			 held;		/* auto: a static forward's */
	int			 fd;
	struct event		*ev;
};

struct hudp;

struct hport {
	TAILQ_ENTRY(hport)	 entry;
	struct hostfwd		*hf;
	enum hport_kind		 kind;
	uint8_t			 proto;
	uint16_t		 host_port;
	uint16_t		 guest_port;
	uint8_t			 families;	/* auto: 1 IPv4, 2 IPv6 */
	bool			 keep;		/* static: mark and sweep */
	unsigned		 nbind;
	struct hbind		 bind[2];
	char			 error[160];	/* empty: active */
	uint64_t		 conns;
	LIST_HEAD(, hudp)	 udp;
	unsigned		 nudp;
};

enum hc_state { HC_CONNECTING, HC_HANDSHAKE, HC_RELAY, HC_RESETTING };

struct hconn {
	LIST_ENTRY(hconn)	 entry;
	struct hostfwd		*hf;
	enum hc_state		 state;
	bool			 reverse;
	bool			 tried_v6;	/* reverse: after 127.0.0.1 */
	struct fwd_target	 t;
	uint32_t		 seq;		/* reverse: the FWD to answer */
	struct chan_hello	 hello;		/* reverse: and the HELLO */
	int			 local;		/* the host-side TCP socket */
	int			 chan;
	struct vmn_connector	*connector;
	struct chan_reader	 cr;
	struct event		*ev;
	struct event		*deadline;
	struct relay		*relay;
};

struct hudp {
	LIST_ENTRY(hudp)	 entry;
	struct hport		*hp;
	struct hbind		*b;		/* the socket its client uses */
	struct sockaddr_storage	 client;
	socklen_t		 clientlen;
	struct fwd_target	 t;
	struct vmn_connector	*connector;
	int			 chan;
	struct chan_reader	 cr;
	struct event		*ev;
	struct event		*idle;
	struct dgram_stream	*ds;
	unsigned		 nqueued;
	size_t			 qlen[UDP_QUEUE_MAX];
	uint8_t			*q[UDP_QUEUE_MAX];
};

/* A listening socket the guest reported. */
struct glistener {
	uint8_t			 proto;
	uint8_t			 families;	/* 1 IPv4, 2 IPv6 */
	uint16_t		 port;
	bool			 stale;		/* not listed since the HELLO */
};

/* A reverse forward the configuration allows, and how it fares. */
struct hrfwd {
	struct hostfwd_rfwd	 f;
	uint64_t		 conns;
	char			 error[96];	/* last failure; empty: fine */
};

struct hostfwd {
	struct event_base	*base;
	char			 vm[64];
	struct vmn_endpoint	 chan;
	uint32_t		 guest_port;
	hostfwd_reset_fn	 send_reset;
	void			*arg;
	bool			 auto_forward;
	struct glistener	*listeners;
	unsigned		 nlisteners;
	bool			 listeners_full;	/* warned once */
	TAILQ_HEAD(, hport)	 ports;
	unsigned		 nports;
	LIST_HEAD(, hconn)	 conns;
	unsigned		 nconns;
	uint32_t		 next_id;
	struct hrfwd		 rfwds[HOSTFWD_MAX_RFWDS];
	unsigned		 nrfwds;
	struct event		*retry_ev;
};

static struct hostfwd_stats stats;

static void hport_free(struct hport *hp);

static void
set_loopback(struct vmn_ip *ip, int family)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)family;
	if (family == AF_INET)
		ip->u.v4.s_addr = htonl(INADDR_LOOPBACK);
	else
		ip->u.v6 = in6addr_loopback;
}

static const char *
proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

/* ---- connections --------------------------------------------------------- */

static void
hconn_free(struct hconn *hc, unsigned reset)
{
	LIST_REMOVE(hc, entry);
	hc->hf->nconns--;
	if (hc->ev)
		event_free(hc->ev);
	if (hc->deadline)
		event_free(hc->deadline);
	vmn_connector_free(hc->connector);
	if (hc->relay) {
		relay_free(hc->relay, reset);
		hc->local = hc->chan = -1;
	}
	if (hc->local >= 0) {
		if (reset & RELAY_RESET_A) {
			struct linger lg = { 1, 0 };

			setsockopt(hc->local, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
		}
		close(hc->local);
	}
	if (hc->chan >= 0)
		close(hc->chan);
	free(hc);
}

static void
hconn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *hc = arg;

	/* Setup took too long: to the host program it is a refusal. */
	if (hc->state != HC_RESETTING) {
		if (hc->reverse)
			stats.reverse_failed++;
		else
			stats.refused++;
	}
	hconn_free(hc, hc->state == HC_RESETTING ? 0 : RELAY_RESET_A);
}

static struct hconn *
hconn_new(struct hostfwd *hf, int local)
{
	struct timeval tv = { CHAN_HANDSHAKE_MS / 1000, 0 };
	struct hconn *hc;

	if (hf->nconns >= HOSTFWD_MAX_CONNS || !(hc = calloc(1, sizeof(*hc))))
		return NULL;
	hc->hf = hf;
	hc->local = local;
	hc->chan = -1;
	chan_reader_init(&hc->cr);
	hc->deadline = evtimer_new(hf->base, hconn_deadline_cb, hc);
	evtimer_add(hc->deadline, &tv);
	LIST_INSERT_HEAD(&hf->conns, hc, entry);
	hf->nconns++;
	return hc;
}

static void
resetting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *hc = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		hconn_free(hc, 0);
}

static void
relay_done(struct relay *r, int err, enum relay_end end, void *arg)
{
	struct hconn *hc = arg;
	struct timeval tv = { HOSTFWD_RESET_WAIT_MS / 1000, 0 };
	int chan;

	if (err == 0 || end == RELAY_B) {
		hconn_free(hc, 0);
		return;
	}
	/* The host-side socket was reset: tell the guest, then let go. */
	stats.resets++;
	hc->hf->send_reset(hc->hf->arg, hc->t.conn_id);
	chan = dup(hc->chan);
	relay_free(hc->relay, RELAY_RESET_A);
	hc->relay = NULL;
	hc->local = -1;
	hc->chan = chan;
	if (chan < 0) {
		hconn_free(hc, 0);
		return;
	}
	hc->state = HC_RESETTING;
	hc->ev = event_new(hc->hf->base, chan, EV_READ | EV_PERSIST,
	    resetting_cb, hc);
	event_add(hc->ev, NULL);
	evtimer_add(hc->deadline, &tv);
}

static void
start_relay(struct hconn *hc)
{
	if (hc->ev) {
		event_free(hc->ev);
		hc->ev = NULL;
	}
	evtimer_del(hc->deadline);
	hc->state = HC_RELAY;
	if (!(hc->relay = relay_new(hc->hf->base, hc->local, hc->chan,
	    relay_done, hc))) {
		hconn_free(hc, RELAY_RESET_A);
		return;
	}
	relay_start(hc->relay);
}

/* The guest's HELLO reply, then its FWD reply. */
static void
handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *hc = arg;
	const char *why = NULL;
	struct vmn_msg m;
	int rc;

	while ((rc = chan_read(&hc->cr, fd, &m, &why)) == 1) {
		if (m.hdr.type == VMN_MSG_HELLO && !(m.hdr.flags & VMN_F_ERROR))
			continue;
		if (m.hdr.type == VMN_MSG_FWD && !(m.hdr.flags & VMN_F_ERROR)) {
			start_relay(hc);
			return;
		}
		/* Nothing listens there in the guest: the client sees RST. */
		why = "refused by the guest";
		break;
	}
	if (rc == 0)
		return;
	stats.refused++;	/* refused, or the channel broke or lied */
	log_debug("vm %s: forward %u to guest port %u: %s", hc->hf->vm,
	    hc->t.conn_id, hc->t.port, why ? why : "failed");
	hconn_free(hc, RELAY_RESET_A);
}

static void
chan_connected(int fd, void *arg)
{
	struct hconn *hc = arg;

	vmn_connector_free(hc->connector);
	hc->connector = NULL;
	hc->chan = fd;
	if (chan_send_request(fd, VMN_ROLE_FWD, hc->hf->vm, &hc->t) < 0) {
		hconn_free(hc, RELAY_RESET_A);
		return;
	}
	hc->state = HC_HANDSHAKE;
	hc->ev = event_new(hc->hf->base, fd, EV_READ | EV_PERSIST,
	    handshake_cb, hc);
	event_add(hc->ev, NULL);
}

static void
chan_failed(int err, void *arg)
{
	struct hconn *hc = arg;

	log_debug("vm %s: no channel to the guest: %s", hc->hf->vm,
	    strerror(-err));
	stats.refused++;
	hconn_free(hc, RELAY_RESET_A);
}

/* Which of the guest's listeners to connect to: IPv4 if it has one. */
static uint8_t
target_family(const struct hport *hp)
{
	if (hp->kind != HP_AUTO)
		return 0;	/* the guest tries 127.0.0.1, then ::1 */
	return (hp->families & 1) ? AF_INET : AF_INET6;
}

static uint32_t
next_id(struct hostfwd *hf)
{
	hf->next_id = (hf->next_id + 1) & ~FWD_ID_GUEST;
	if (hf->next_id == 0)
		hf->next_id = 1;
	return hf->next_id;
}

static void
tcp_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct hbind *b = arg;
	struct hport *hp = b->hp;
	struct hostfwd *hf = hp->hf;
	struct hconn *hc;
	int fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!(hc = hconn_new(hf, fd))) {
			close(fd);
			continue;
		}
		fwd_nodelay(fd);
		hp->conns++;
		stats.connections++;
		hc->t.proto = IPPROTO_TCP;
		hc->t.family = target_family(hp);
		hc->t.port = hp->guest_port;
		hc->t.conn_id = next_id(hf);
		hc->connector = vmn_connector_new(hf->base, &hf->chan,
		    hf->guest_port, HOSTFWD_CHAN_ATTEMPTS, chan_connected,
		    chan_failed, hc);
		if (!hc->connector)
			hconn_free(hc, RELAY_RESET_A);
	}
}

/* The guest says its end was reset: reset ours. */
void
hostfwd_reset(struct hostfwd *hf, uint32_t conn_id)
{
	struct hconn *hc;

	LIST_FOREACH(hc, &hf->conns, entry)
		if (hc->t.conn_id == conn_id && hc->state != HC_RESETTING) {
			stats.resets++;
			hconn_free(hc, RELAY_RESET_A);
			return;
		}
}

/* ---- reverse forwards ------------------------------------------------------ */

static struct hrfwd *
rfwd_find(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	unsigned i;

	for (i = 0; i < hf->nrfwds; i++)
		if (hf->rfwds[i].f.proto == proto && hf->rfwds[i].f.port == port)
			return &hf->rfwds[i];
	return NULL;
}

static void
rfwd_failed(struct hconn *hc, int err)
{
	struct hrfwd *r = rfwd_find(hc->hf, hc->t.proto, hc->t.port);

	stats.reverse_failed++;
	if (r)
		snprintf(r->error, sizeof(r->error), "host port %u: %s",
		    hc->t.port, strerror(err));
	chan_send_reply(hc->chan, &hc->hello, hc->seq, err, strerror(err));
	hconn_free(hc, 0);
}

static void reverse_connected_cb(evutil_socket_t fd, short what, void *arg);

static int
reverse_connect(struct hconn *hc, int family)
{
	int local;

	if ((local = fwd_connect_local(family, IPPROTO_TCP, hc->t.port)) < 0)
		return local;
	if (hc->ev)
		event_free(hc->ev);
	hc->local = local;
	hc->ev = event_new(hc->hf->base, local, EV_WRITE, reverse_connected_cb,
	    hc);
	if (!hc->ev)
		return -ENOMEM;
	event_add(hc->ev, NULL);
	return 0;
}

static void
reverse_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *hc = arg;
	socklen_t len = sizeof(int);
	struct hrfwd *r;
	int err = 0, rc;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		close(hc->local);
		hc->local = -1;
		/* A host service may listen on ::1 only. */
		if (!hc->tried_v6) {
			hc->tried_v6 = true;
			if ((rc = reverse_connect(hc, AF_INET6)) == 0)
				return;
			if (rc != -EADDRNOTAVAIL && rc != -EAFNOSUPPORT)
				err = -rc;
		}
		rfwd_failed(hc, err);
		return;
	}
	if (chan_send_reply(hc->chan, &hc->hello, hc->seq, 0, NULL) < 0) {
		hconn_free(hc, RELAY_RESET_A);
		return;
	}
	if ((r = rfwd_find(hc->hf, hc->t.proto, hc->t.port))) {
		r->conns++;
		r->error[0] = '\0';
	}
	stats.reverse++;
	start_relay(hc);
}

/*
 * A reverse-forward channel from the guest, past its HELLO and FWD (fd is
 * ours now): connect to the host port, if the configuration allows it.
 */
void
hostfwd_reverse(struct hostfwd *hf, int fd, const struct chan_hello *hello,
    const struct fwd_target *t, uint32_t seq)
{
	struct hconn *hc;
	int rc;

	if (!rfwd_find(hf, t->proto, t->port)) {
		log_warnx("vm %s: reverse forward to host port %u/%s refused: "
		    "not in the configuration", hf->vm, t->port,
		    proto_name(t->proto));
		chan_send_reply(fd, hello, seq, EPERM,
		    "not allowed by host-netd.conf");
		close(fd);
		return;
	}
	if (t->proto != IPPROTO_TCP || !(t->conn_id & FWD_ID_GUEST) ||
	    !(hc = hconn_new(hf, -1))) {
		chan_send_reply(fd, hello, seq, EAGAIN, "cannot take it now");
		close(fd);
		return;
	}
	hc->reverse = true;
	hc->chan = fd;
	hc->t = *t;
	hc->seq = seq;
	hc->hello = *hello;
	hc->hello.vm_id = hf->vm;	/* outlives a reload's new name */
	if ((rc = reverse_connect(hc, AF_INET)) < 0) {
		hc->tried_v6 = true;
		if ((rc = reverse_connect(hc, AF_INET6)) < 0)
			rfwd_failed(hc, -rc);
	}
}

/* ---- UDP flows -------------------------------------------------------------- */

static void
hudp_free(struct hudp *u)
{
	unsigned i;

	LIST_REMOVE(u, entry);
	u->hp->nudp--;
	if (u->ev)
		event_free(u->ev);
	if (u->idle)
		event_free(u->idle);
	vmn_connector_free(u->connector);
	if (u->ds)
		dgram_stream_free(u->ds);
	else if (u->chan >= 0)
		close(u->chan);
	for (i = 0; i < u->nqueued; i++)
		free(u->q[i]);
	free(u);
}

static void
hudp_touch(struct hudp *u)
{
	struct timeval tv = { HOSTFWD_UDP_IDLE_MS / 1000, 0 };

	evtimer_add(u->idle, &tv);
}

static void
hudp_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	hudp_free(arg);
}

static void
hudp_dgram_cb(void *arg, const uint8_t *d, size_t len)
{
	struct hudp *u = arg;

	hudp_touch(u);
	sendto(u->b->fd, d, len, MSG_DONTWAIT, (struct sockaddr *)&u->client,
	    u->clientlen);
}

static void
hudp_closed_cb(void *arg, int err)
{
	hudp_free(arg);
}

static void
hudp_handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hudp *u = arg;
	const char *why = NULL;
	struct vmn_msg m;
	unsigned i;
	int rc;

	while ((rc = chan_read(&u->cr, fd, &m, &why)) == 1) {
		if (m.hdr.type == VMN_MSG_HELLO && !(m.hdr.flags & VMN_F_ERROR))
			continue;
		if (m.hdr.type != VMN_MSG_FWD || (m.hdr.flags & VMN_F_ERROR))
			break;
		event_free(u->ev);
		u->ev = NULL;
		u->ds = dgram_stream_new(u->hp->hf->base, fd, hudp_dgram_cb,
		    hudp_closed_cb, u);
		if (!u->ds) {
			hudp_free(u);
			return;
		}
		for (i = 0; i < u->nqueued; i++) {
			dgram_stream_send(u->ds, u->q[i], u->qlen[i]);
			free(u->q[i]);
		}
		u->nqueued = 0;
		return;
	}
	if (rc != 0) {
		stats.refused++;
		hudp_free(u);
	}
}

static void
hudp_connected(int fd, void *arg)
{
	struct hudp *u = arg;

	vmn_connector_free(u->connector);
	u->connector = NULL;
	u->chan = fd;
	if (chan_send_request(fd, VMN_ROLE_FWD, u->hp->hf->vm, &u->t) < 0) {
		hudp_free(u);
		return;
	}
	u->ev = event_new(u->hp->hf->base, fd, EV_READ | EV_PERSIST,
	    hudp_handshake_cb, u);
	event_add(u->ev, NULL);
}

static void
hudp_failed(int err, void *arg)
{
	stats.refused++;
	hudp_free(arg);
}

static struct hudp *
hudp_new(struct hport *hp, struct hbind *b, const struct sockaddr_storage *from,
    socklen_t fromlen)
{
	struct hostfwd *hf = hp->hf;
	struct hudp *u;

	if (hp->nudp >= HOSTFWD_MAX_UDP || !(u = calloc(1, sizeof(*u))))
		return NULL;
	u->hp = hp;
	u->b = b;
	u->client = *from;
	u->clientlen = fromlen;
	u->chan = -1;
	chan_reader_init(&u->cr);
	u->t.proto = IPPROTO_UDP;
	u->t.family = target_family(hp);
	u->t.port = hp->guest_port;
	u->t.conn_id = next_id(hf);
	u->idle = evtimer_new(hf->base, hudp_idle_cb, u);
	LIST_INSERT_HEAD(&hp->udp, u, entry);
	hp->nudp++;
	hp->conns++;
	stats.udp_flows++;
	hudp_touch(u);
	u->connector = vmn_connector_new(hf->base, &hf->chan, hf->guest_port,
	    HOSTFWD_CHAN_ATTEMPTS, hudp_connected, hudp_failed, u);
	if (!u->connector) {
		hudp_free(u);
		return NULL;
	}
	return u;
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hbind *b = arg;
	struct hport *hp = b->hp;
	struct sockaddr_storage from;
	uint8_t buf[DGRAM_MAX];
	socklen_t fromlen;
	struct hudp *u;
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n <= 0)
			return;
		LIST_FOREACH(u, &hp->udp, entry)
			if (u->b == b && u->clientlen == fromlen &&
			    memcmp(&u->client, &from, fromlen) == 0)
				break;
		if (!u && !(u = hudp_new(hp, b, &from, fromlen)))
			continue;	/* too many flows: dropped */
		hudp_touch(u);
		if (u->ds) {
			dgram_stream_send(u->ds, buf, (size_t)n);
		} else if (u->nqueued < UDP_QUEUE_MAX &&
		    (u->q[u->nqueued] = malloc((size_t)n))) {
			memcpy(u->q[u->nqueued], buf, (size_t)n);
			u->qlen[u->nqueued++] = (size_t)n;
		}
	}
}

/* ---- ports ------------------------------------------------------------------ */

static void
schedule_retry(struct hostfwd *hf)
{
	struct timeval tv = { HOSTFWD_RETRY_MS / 1000,
	    (HOSTFWD_RETRY_MS % 1000) * 1000 };

	if (!evtimer_pending(hf->retry_ev, NULL))
		evtimer_add(hf->retry_ev, &tv);
}

/* Binds what is not bound yet; a port in use is reported and retried. */
static void
hport_bind(struct hport *hp)
{
	char ip[VMN_IP_STRLEN];
	bool was_conflict = hp->error[0] != '\0';
	unsigned i;
	int fd;

	hp->error[0] = '\0';
	for (i = 0; i < hp->nbind; i++) {
		struct hbind *b = &hp->bind[i];

		if (b->fd >= 0 || b->held)
			continue;
		fd = fwd_bind_local(&b->addr, hp->proto, hp->host_port, 4096);
		if (fd == -EADDRNOTAVAIL && b->addr.family == AF_INET6 &&
		    hp->kind == HP_AUTO)
			continue;	/* no IPv6 on this host's loopback */
		if (fd < 0) {
			snprintf(hp->error, sizeof(hp->error),
			    "%s port %u on %s: %s", proto_name(hp->proto),
			    hp->host_port, vmn_ip_ntop(&b->addr, ip, sizeof(ip)),
			    fd == -EADDRINUSE ? "in use on the host" :
			    strerror(-fd));
			continue;
		}
		b->fd = fd;
		b->ev = event_new(hp->hf->base, fd, EV_READ | EV_PERSIST,
		    hp->proto == IPPROTO_TCP ? tcp_accept_cb : udp_read_cb, b);
		event_add(b->ev, NULL);
	}
	if (hp->error[0]) {
		if (!was_conflict)
			log_warnx("vm %s: cannot forward %s; trying again",
			    hp->hf->vm, hp->error);
		schedule_retry(hp->hf);
	} else if (was_conflict) {
		log_info("vm %s: %s port %u is free now and forwarded",
		    hp->hf->vm, proto_name(hp->proto), hp->host_port);
	}
}

static struct hport *
hport_new(struct hostfwd *hf, enum hport_kind kind, uint8_t proto,
    uint16_t host_port, uint16_t guest_port, const struct vmn_ip *addr,
    uint8_t held)
{
	struct hport *hp;

	if (hf->nports >= HOSTFWD_MAX_PORTS || !(hp = calloc(1, sizeof(*hp))))
		return NULL;
	hp->hf = hf;
	hp->kind = kind;
	hp->proto = proto;
	hp->host_port = host_port;
	hp->guest_port = guest_port;
	LIST_INIT(&hp->udp);
	hp->bind[0].fd = hp->bind[1].fd = -1;
	hp->bind[0].hp = hp->bind[1].hp = hp;
	if (addr) {
		hp->bind[0].addr = *addr;
		hp->nbind = 1;
	} else {
		set_loopback(&hp->bind[0].addr, AF_INET);
		set_loopback(&hp->bind[1].addr, AF_INET6);
		hp->bind[0].held = held & 1;
		hp->bind[1].held = (held & 2) != 0;
		hp->nbind = 2;
	}
	TAILQ_INSERT_TAIL(&hf->ports, hp, entry);
	hf->nports++;
	hport_bind(hp);
	return hp;
}

static void
hbind_close(struct hbind *b)
{
	struct hudp *u, *next;

	/* UDP flows answer through this socket: they end with it. */
	for (u = LIST_FIRST(&b->hp->udp); u; u = next) {
		next = LIST_NEXT(u, entry);
		if (u->b == b)
			hudp_free(u);
	}
	if (b->ev)
		event_free(b->ev);
	if (b->fd >= 0)
		close(b->fd);
	b->ev = NULL;
	b->fd = -1;
}

/* Stops listening; connections already made carry on. */
static void
hport_free(struct hport *hp)
{
	struct hudp *u;
	unsigned i;

	while ((u = LIST_FIRST(&hp->udp)))
		hudp_free(u);
	for (i = 0; i < hp->nbind; i++)
		hbind_close(&hp->bind[i]);
	TAILQ_REMOVE(&hp->hf->ports, hp, entry);
	hp->hf->nports--;
	free(hp);
}

static struct hport *
hport_find_auto(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_AUTO && hp->proto == proto &&
		    hp->host_port == port)
			return hp;
	return NULL;
}

static struct hport *
hport_find_static(struct hostfwd *hf, uint8_t proto, uint16_t port,
    const struct vmn_ip *addr)
{
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_STATIC && hp->proto == proto &&
		    hp->host_port == port &&
		    vmn_ip_equal(&hp->bind[0].addr, addr))
			return hp;
	return NULL;
}

/* Whether binding addr would take the loopback port an auto forward uses. */
static bool
covers_loopback(const struct vmn_ip *addr)
{
	struct vmn_ip lo;

	if (vmn_ip_is_unspecified(addr))
		return true;
	set_loopback(&lo, addr->family);
	return vmn_ip_equal(addr, &lo);
}

/* Which loopback families (1 IPv4, 2 IPv6) static forwards hold this port on. */
static uint8_t
static_held(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	const struct hport *hp;
	uint8_t held = 0;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_STATIC && hp->proto == proto &&
		    hp->host_port == port && covers_loopback(&hp->bind[0].addr))
			held |= hp->bind[0].addr.family == AF_INET6 ? 2 : 1;
	return held;
}

static uint8_t
hport_held(const struct hport *hp)
{
	return (uint8_t)(hp->bind[0].held | (hp->bind[1].held << 1));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostfwd *hf = arg;
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->error[0])
			hport_bind(hp);
}

static struct glistener *
listener_find(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	unsigned i;

	for (i = 0; i < hf->nlisteners; i++)
		if (hf->listeners[i].proto == proto &&
		    hf->listeners[i].port == port)
			return &hf->listeners[i];
	return NULL;
}

/*
 * Makes the auto port for one guest listener what it should be: there
 * while the guest listens, auto-forward is on and no static forward holds
 * the same loopback port.
 */
static void
auto_reconcile(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	const struct glistener *l = listener_find(hf, proto, port);
	struct hport *hp = hport_find_auto(hf, proto, port);
	uint8_t held = static_held(hf, proto, port);
	bool want = l && l->families && hf->auto_forward && held != 3;

	if (hp && (!want || hport_held(hp) != held)) {
		if (!want)
			log_info("vm %s: %s port %u no longer forwarded",
			    hf->vm, proto_name(proto), port);
		hport_free(hp);
		hp = NULL;
	}
	if (!want)
		return;
	if (!hp) {
		if (!(hp = hport_new(hf, HP_AUTO, proto, port, port, NULL,
		    held))) {
			log_warnx("vm %s: too many forwarded ports; %s port %u "
			    "not forwarded", hf->vm, proto_name(proto), port);
			return;
		}
		if (!hp->error[0])	/* else hport_bind said why not */
			log_info("vm %s: forwarding localhost %s port %u",
			    hf->vm, proto_name(proto), port);
	}
	hp->families = l->families;
}

static void
log_held(struct hostfwd *hf, const struct hport *holder)
{
	char ip[VMN_IP_STRLEN];

	log_info("vm %s: %s port %u on %s: the configuration forwards it to "
	    "guest port %u; the guest's own port %u is not forwarded there",
	    hf->vm, proto_name(holder->proto), holder->host_port,
	    vmn_ip_ntop(&holder->bind[0].addr, ip, sizeof(ip)),
	    holder->guest_port, holder->host_port);
}

/* Logs the static forwards that keep a guest listener off their ports. */
static void
log_holders(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	const struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_STATIC && hp->proto == proto &&
		    hp->host_port == port && covers_loopback(&hp->bind[0].addr))
			log_held(hf, hp);
}

static void
auto_reconcile_all(struct hostfwd *hf)
{
	struct hport *hp, *next;
	unsigned i;

	for (hp = TAILQ_FIRST(&hf->ports); hp; hp = next) {
		next = TAILQ_NEXT(hp, entry);
		if (hp->kind == HP_AUTO &&
		    !listener_find(hf, hp->proto, hp->host_port))
			auto_reconcile(hf, hp->proto, hp->host_port);
	}
	for (i = 0; i < hf->nlisteners; i++)
		auto_reconcile(hf, hf->listeners[i].proto,
		    hf->listeners[i].port);
}

/* A listener in the guest came or went. */
void
hostfwd_listener(struct hostfwd *hf, bool added, uint8_t proto,
    uint8_t family, uint16_t port)
{
	uint8_t bit = family == AF_INET6 ? 2 : 1;
	struct glistener *l;

	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0 ||
	    (family != AF_INET && family != AF_INET6))
		return;		/* not from a guest-netd: ignored */
	l = listener_find(hf, proto, port);
	if (added) {
		if (!l) {
			if (hf->nlisteners >= LISTENERS_MAX) {
				if (!hf->listeners_full)
					log_warnx("vm %s: more than %d "
					    "listeners; the rest are not "
					    "forwarded", hf->vm, LISTENERS_MAX);
				hf->listeners_full = true;
				return;
			}
			l = &hf->listeners[hf->nlisteners++];
			l->proto = proto;
			l->port = port;
			l->families = 0;
			if (hf->auto_forward)
				log_holders(hf, proto, port);
		}
		l->families |= bit;
		l->stale = false;
	} else {
		if (!l)
			return;
		l->families &= (uint8_t)~bit;
		if (l->families == 0)
			*l = hf->listeners[--hf->nlisteners];
	}
	auto_reconcile(hf, proto, port);
}

/* The guest connected again: its listeners will be listed anew. */
void
hostfwd_session_up(struct hostfwd *hf)
{
	unsigned i;

	for (i = 0; i < hf->nlisteners; i++)
		hf->listeners[i].stale = true;
}

/* The list is complete: what was not in it is gone. */
void
hostfwd_synced(struct hostfwd *hf)
{
	unsigned i = 0;

	while (i < hf->nlisteners) {
		if (hf->listeners[i].stale)
			hf->listeners[i] = hf->listeners[--hf->nlisteners];
		else
			i++;
	}
	hf->listeners_full = false;
	auto_reconcile_all(hf);
}

void
hostfwd_set_guest_port(struct hostfwd *hf, uint32_t port)
{
	if (port && port != hf->guest_port) {
		log_info("vm %s: the guest takes forwarded connections on "
		    "port %u", hf->vm, port);
		hf->guest_port = port;
	}
}

/* Static forwards and allowed reverse forwards from the configuration. */
void
hostfwd_configure(struct hostfwd *hf, bool auto_forward,
    const struct hostfwd_static *st, unsigned nst,
    const struct hostfwd_rfwd *rv, unsigned nrv)
{
	struct hport *hp, *next;
	struct hrfwd old[HOSTFWD_MAX_RFWDS];
	unsigned i, j, nold;

	hf->auto_forward = auto_forward;
	/* Statics first (mark and sweep), so that they win their ports. */
	TAILQ_FOREACH(hp, &hf->ports, entry)
		hp->keep = hp->kind != HP_STATIC;
	for (i = 0; i < nst; i++) {
		hp = hport_find_static(hf, st[i].proto, st[i].host_port,
		    &st[i].addr);
		if (hp && hp->guest_port != st[i].guest_port) {
			hport_free(hp);
			hp = NULL;
		}
		if (!hp) {
			struct hport *a = covers_loopback(&st[i].addr) ?
			    hport_find_auto(hf, st[i].proto, st[i].host_port) :
			    NULL;

			/* The configuration's now: the auto port lets go. */
			if (a) {
				struct hbind *b = &a->bind[
				    st[i].addr.family == AF_INET6];

				hbind_close(b);
				b->held = true;
			}
			hp = hport_new(hf, HP_STATIC, st[i].proto,
			    st[i].host_port, st[i].guest_port, &st[i].addr, 0);
			if (a && hp)
				log_held(hf, hp);
		}
		if (hp)
			hp->keep = true;
	}
	for (hp = TAILQ_FIRST(&hf->ports); hp; hp = next) {
		next = TAILQ_NEXT(hp, entry);
		if (!hp->keep)
			hport_free(hp);
	}
	auto_reconcile_all(hf);

	/* Reverse forwards keep their counters and last error across reloads. */
	nold = hf->nrfwds;
	memcpy(old, hf->rfwds, nold * sizeof(*old));
	hf->nrfwds = nrv < HOSTFWD_MAX_RFWDS ? nrv : HOSTFWD_MAX_RFWDS;
	for (i = 0; i < hf->nrfwds; i++) {
		memset(&hf->rfwds[i], 0, sizeof(hf->rfwds[i]));
		hf->rfwds[i].f = rv[i];
		for (j = 0; j < nold; j++)
			if (old[j].f.proto == rv[i].proto &&
			    old[j].f.port == rv[i].port) {
				hf->rfwds[i].conns = old[j].conns;
				memcpy(hf->rfwds[i].error, old[j].error,
				    sizeof(old[j].error));
				break;
			}
	}
}

void
hostfwd_foreach(struct hostfwd *hf, hostfwd_port_fn fn, void *arg)
{
	struct hostfwd_port_info pi;
	struct hport *hp;
	unsigned i;

	TAILQ_FOREACH(hp, &hf->ports, entry) {
		memset(&pi, 0, sizeof(pi));
		pi.proto = hp->proto;
		pi.addr = hp->bind[hp->bind[0].held ? 1 : 0].addr;
		pi.host_port = hp->host_port;
		pi.guest_port = hp->guest_port;
		pi.kind = kind_names[hp->kind];
		pi.state = hp->error[0] ? hp->error : "active";
		pi.conns = hp->conns;
		fn(arg, &pi);
	}
	for (i = 0; i < hf->nrfwds; i++) {
		memset(&pi, 0, sizeof(pi));
		pi.proto = hf->rfwds[i].f.proto;
		set_loopback(&pi.addr, AF_INET);
		pi.host_port = hf->rfwds[i].f.port;
		pi.guest_port = hf->rfwds[i].f.guest_port;
		pi.kind = kind_names[HP_REVERSE];
		pi.state = hf->rfwds[i].error[0] ? hf->rfwds[i].error : "active";
		pi.conns = hf->rfwds[i].conns;
		fn(arg, &pi);
	}
}

unsigned
hostfwd_conflicts(const struct hostfwd *hf)
{
	const struct hport *hp;
	unsigned n = 0;

	if (!hf)
		return 0;
	TAILQ_FOREACH(hp, &hf->ports, entry)
		n += hp->error[0] != '\0';
	return n;
}

const struct hostfwd_stats *
hostfwd_stats(void)
{
	return &stats;
}

struct hostfwd *
hostfwd_new(struct event_base *base, const char *vm_name,
    const struct vmn_endpoint *chan, uint32_t guest_port,
    hostfwd_reset_fn send_reset, void *arg)
{
	struct hostfwd *hf = calloc(1, sizeof(*hf));

	if (!hf)
		return NULL;
	hf->base = base;
	snprintf(hf->vm, sizeof(hf->vm), "%s", vm_name);
	hf->chan = *chan;
	hf->guest_port = guest_port;
	hf->send_reset = send_reset;
	hf->arg = arg;
	hf->auto_forward = true;
	TAILQ_INIT(&hf->ports);
	LIST_INIT(&hf->conns);
	hf->retry_ev = evtimer_new(base, retry_cb, hf);
	hf->listeners = calloc(LISTENERS_MAX, sizeof(*hf->listeners));
	if (!hf->retry_ev || !hf->listeners) {
		if (hf->retry_ev)
			event_free(hf->retry_ev);
		free(hf->listeners);
		free(hf);
		return NULL;
	}
	return hf;
}

void
hostfwd_free(struct hostfwd *hf)
{
	struct hport *hp;
	struct hconn *hc;

	if (!hf)
		return;
	while ((hc = LIST_FIRST(&hf->conns)))
		hconn_free(hc, 0);
	while ((hp = TAILQ_FIRST(&hf->ports)))
		hport_free(hp);
	event_free(hf->retry_ev);
	free(hf->listeners);
	free(hf);
}
