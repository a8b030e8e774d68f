/*
 * guestfwd.c - guest-netd: the guest's end of port forwarding
 *
 * Theory of operation
 *
 * Listeners. A portwatch (watch.c) reports the guest's listening sockets;
 * while the control session is up each change goes to host-netd as an
 * event, and after every HELLO the whole list goes again, closed by a
 * LISTENERS_SYNCED event so the host can drop what is gone.
 *
 * Forwarded connections. host-netd opens a channel to the guest's port
 * 7701 for every connection a host program makes to a forwarded port:
 * HELLO (role fwd), then FWD naming protocol, family, port and a
 * connection id. guest-netd connects to that port on the guest's loopback
 * and answers FWD, and from then on relays: TCP with splice() (relay.c),
 * UDP as datagrams framed on the channel (dgram.c).
 *
 * Reverse forwards. For each one the configuration names, guest-netd
 * listens on 127.0.0.1:guest_port (and ::1); every connection opens a
 * channel to the host (HELLO role rfwd, FWD naming the host port) and is
 * relayed the same way once the host has connected. At most
 * GUESTFWD_RFWD_PENDING wait for the host at once; more wait unaccepted.
 * A connection the host cannot make is reset, as a refused one would be.
 *
 * Resets. A channel has no way to say "reset" in band, so the side that
 * sees a reset (a guest server aborting, say) sends a FWD_RESET event on
 * the control channel and keeps the fwd channel open: the peer, told
 * first, resets its own socket and closes the channel. Were the channel
 * simply closed, the peer could see an orderly end of file before the
 * reset notice and pass on a clean close instead. After
 * GUESTFWD_RESET_WAIT_MS the channel is closed regardless.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
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
#include "guestfwd.h"
#include "log.h"
#include "netconf.h"
#include "relay.h"
#include "transport.h"
#include "watch.h"

enum gc_state {
	GC_HANDSHAKE,	/* fwd: reading HELLO and FWD from the host */
	GC_CONNECTING,	/* connecting to the local port (fwd) or host (rfwd) */
	GC_REPLY,	/* rfwd: reading the host's HELLO and FWD replies */
	GC_RELAY,
	GC_RESETTING,	/* told the peer; waiting for it to close */
};

struct gconn {
	LIST_ENTRY(gconn)	 entry;
	struct guestfwd		*gf;
	enum gc_state		 state;
	bool			 reverse;	/* rfwd: we opened the channel */
	struct rfwd_listener	*rl;		/* rfwd: pending on it; else NULL */
	struct fwd_target	 t;
	bool			 hello;		/* fwd: the host's HELLO came */
	uint32_t		 hello_seq;	/* fwd: the HELLO to answer */
	uint32_t		 fwd_seq;	/* the FWD request to answer */
	int			 chan;
	int			 local;
	int			 tried_v6;
	struct chan_reader	 cr;
	struct event		*ev;
	struct event		*deadline;
	struct vmn_connector	*connector;	/* rfwd: to the host */
	struct relay		*relay;
	struct dgram_stream	*ds;		/* UDP */
	struct event		*udp_ev;
};

struct rfwd_listener {
	LIST_ENTRY(rfwd_listener) entry;
	struct guestfwd		*gf;
	struct vmn_nc_rfwd	 f;
	int			 fd[2];		/* 127.0.0.1, ::1 */
	struct event		*ev[2];
	unsigned		 pending;	/* awaiting the host */
	bool			 accepting;
	bool			 keep;		/* mark and sweep */
};

struct guestfwd {
	struct event_base		*base;
	struct vmn_endpoint		 host;
	uint32_t			 host_port;
	uint32_t			 guest_port;
	const char			*vm_id;
	guestfwd_event_fn		 send_event;
	void				*arg;
	bool				 session_up;
	int				 listen_fd;
	struct event			*listen_ev;
	struct portwatch		*watch;
	LIST_HEAD(, gconn)		 conns;
	unsigned			 nconns;
	uint32_t			 next_id;	/* rfwd ids */
	LIST_HEAD(, rfwd_listener)	 rfwds;
	unsigned			 rfwd_pending;	/* awaiting the host */
};

static void gconn_free(struct gconn *gc);
static void rfwd_pending_done(struct gconn *gc);

/* ---- listeners --------------------------------------------------------- */

static void
watch_cb(const struct listener *l, bool added, void *arg)
{
	struct guestfwd *gf = arg;

	log_debug("port %u/%s %s", l->port,
	    l->proto == IPPROTO_TCP ? "tcp" : "udp",
	    added ? "listening" : "closed");
	if (gf->session_up)
		gf->send_event(gf->arg, added ? VMN_EV_LISTENER_ADD :
		    VMN_EV_LISTENER_DEL, l, 0);
}

/* The host connected (again): it gets every listener, then SYNCED. */
void
guestfwd_session_up(struct guestfwd *gf)
{
	const struct listener *l;
	unsigned i, n;

	gf->session_up = true;
	if (!gf->watch)
		return;
	portwatch_scan(gf->watch);	/* fresh, not up to 100 ms old */
	n = portwatch_list(gf->watch, &l);
	for (i = 0; i < n; i++)
		gf->send_event(gf->arg, VMN_EV_LISTENER_ADD, &l[i], 0);
	gf->send_event(gf->arg, VMN_EV_LISTENERS_SYNCED, NULL, 0);
}

void
guestfwd_session_down(struct guestfwd *gf)
{
	gf->session_up = false;
}

/* ---- connections -------------------------------------------------------- */

static void
gconn_free(struct gconn *gc)
{
	struct guestfwd *gf = gc->gf;

	rfwd_pending_done(gc);
	LIST_REMOVE(gc, entry);
	gf->nconns--;
	if (gc->ev)
		event_free(gc->ev);
	if (gc->deadline)
		event_free(gc->deadline);
	if (gc->udp_ev)
		event_free(gc->udp_ev);
	vmn_connector_free(gc->connector);
	if (gc->relay) {
		relay_free(gc->relay, 0);
		gc->chan = gc->local = -1;
	}
	if (gc->ds) {
		dgram_stream_free(gc->ds);
		gc->chan = -1;
	}
	if (gc->chan >= 0)
		close(gc->chan);
	if (gc->local >= 0)
		close(gc->local);
	free(gc);
}

/* The local client sees a reset, as if the port were closed. */
static void
gconn_reset_local(struct gconn *gc)
{
	struct linger lg = { 1, 0 };

	if (gc->local >= 0)
		setsockopt(gc->local, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;

	if (gc->state != GC_RESETTING) {
		log_debug("forward %u: setup timed out", gc->t.conn_id);
		if (gc->reverse)
			gconn_reset_local(gc);
	}
	gconn_free(gc);
}

static void
arm_deadline(struct gconn *gc, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(gc->deadline, &tv);
}

/* Waits for the peer to close the channel once it knows of the reset. */
static void
resetting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;	/* what was in flight dies with the connection */
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		gconn_free(gc);
}

static void
start_resetting(struct gconn *gc)
{
	gc->state = GC_RESETTING;
	if (gc->ev)
		event_free(gc->ev);
	gc->ev = event_new(gc->gf->base, gc->chan, EV_READ | EV_PERSIST,
	    resetting_cb, gc);
	event_add(gc->ev, NULL);
	arm_deadline(gc, GUESTFWD_RESET_WAIT_MS);
}

static void
relay_done(struct relay *r, int err, enum relay_end end, void *arg)
{
	struct gconn *gc = arg;
	int chan;

	if (err == 0 || end == RELAY_B) {
		/* Clean end, or the channel broke: nothing to tell. */
		gconn_free(gc);
		return;
	}
	/* The local socket was reset: tell the host first, then let go. */
	log_debug("forward %u: reset (%s)", gc->t.conn_id, strerror(-err));
	gc->gf->send_event(gc->gf->arg, VMN_EV_FWD_RESET, NULL, gc->t.conn_id);
	chan = dup(gc->chan);
	relay_free(gc->relay, RELAY_RESET_A);
	gc->relay = NULL;
	gc->local = -1;
	gc->chan = chan;
	if (chan < 0)
		gconn_free(gc);
	else
		start_resetting(gc);
}

/* Called by the host: our end of connection conn_id must be reset. */
void
guestfwd_reset(struct guestfwd *gf, uint32_t conn_id)
{
	struct gconn *gc;

	LIST_FOREACH(gc, &gf->conns, entry) {
		if (gc->t.conn_id != conn_id || gc->state == GC_RESETTING)
			continue;
		if (gc->relay) {
			relay_free(gc->relay, RELAY_RESET_A);
			gc->relay = NULL;
			gc->chan = gc->local = -1;
		}
		gconn_free(gc);
		return;
	}
}

static void
udp_local_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;
	uint8_t buf[DGRAM_MAX];
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
			return;		/* errors (ICMP unreachable): ignored */
		dgram_stream_send(gc->ds, buf, (size_t)n);
	}
}

static void
udp_chan_cb(void *arg, const uint8_t *d, size_t len)
{
	struct gconn *gc = arg;

	send(gc->local, d, len, MSG_DONTWAIT);
}

static void
udp_closed_cb(void *arg, int err)
{
	gconn_free(arg);
}

/* Connected both ways: relay from now on. */
static void
start_relay(struct gconn *gc)
{
	if (gc->ev) {
		event_free(gc->ev);
		gc->ev = NULL;
	}
	evtimer_del(gc->deadline);
	gc->state = GC_RELAY;
	rfwd_pending_done(gc);
	if (gc->t.proto == IPPROTO_UDP) {
		gc->ds = dgram_stream_new(gc->gf->base, gc->chan, udp_chan_cb,
		    udp_closed_cb, gc);
		gc->udp_ev = event_new(gc->gf->base, gc->local,
		    EV_READ | EV_PERSIST, udp_local_cb, gc);
		if (!gc->ds || !gc->udp_ev) {
			gconn_free(gc);
			return;
		}
		event_add(gc->udp_ev, NULL);
		return;
	}
	/* A: the guest-side socket; B: the channel. */
	if (!(gc->relay = relay_new(gc->gf->base, gc->local, gc->chan,
	    relay_done, gc))) {
		gconn_free(gc);
		return;
	}
	relay_start(gc->relay);
}

static void connect_local(struct gconn *gc, uint8_t family);

/* Answers the host's HELLO and FWD at once: 0 connected, or an errno. */
static int
send_reply(struct gconn *gc, int err)
{
	struct chan_hello hello = {
		.seq = gc->hello_seq, .role = VMN_ROLE_FWD,
		.caps = VMN_CAP_PORTFWD, .vm_id = gc->gf->vm_id,
	};

	return chan_send_reply(gc->chan, &hello, gc->fwd_seq, err,
	    err ? strerror(err) : NULL);
}

static void
local_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		close(gc->local);
		gc->local = -1;
		/* Unspecified family: 127.0.0.1 first, then ::1. */
		if (gc->t.family == 0 && !gc->tried_v6) {
			connect_local(gc, AF_INET6);
			return;
		}
		send_reply(gc, err);
		gconn_free(gc);
		return;
	}
	if (send_reply(gc, 0) < 0) {
		gconn_free(gc);
		return;
	}
	start_relay(gc);
}

static void
connect_local(struct gconn *gc, uint8_t family)
{
	struct pollfd pfd;
	int fd;

	if (family == AF_INET6)
		gc->tried_v6 = 1;
	fd = fwd_connect_local(family, gc->t.proto, gc->t.port);
	if (fd < 0) {
		if (gc->t.family == 0 && family == AF_INET) {
			connect_local(gc, AF_INET6);
			return;
		}
		send_reply(gc, -fd);
		gconn_free(gc);
		return;
	}
	gc->local = fd;
	if (gc->t.proto == IPPROTO_UDP) {
		if (send_reply(gc, 0) < 0)
			gconn_free(gc);
		else
			start_relay(gc);
		return;
	}
	gc->state = GC_CONNECTING;
	/* Loopback mostly connects within connect(): then go on at once. */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 0) == 1) {
		local_connected_cb(fd, EV_WRITE, gc);	/* may free gc */
		return;
	}
	if (gc->ev)
		event_free(gc->ev);
	gc->ev = event_new(gc->gf->base, fd, EV_WRITE, local_connected_cb, gc);
	event_add(gc->ev, NULL);
}

/* fwd: HELLO then FWD from the host. */
static void
handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;
	const char *why = NULL;
	struct vmn_msg m;
	int rc;

	while ((rc = chan_read(&gc->cr, fd, &m, &why)) == 1) {
		if (m.hdr.type == VMN_MSG_HELLO && (m.hdr.flags & VMN_F_REQUEST) &&
		    vmn_attr_u8(&m.tb[VMN_A_ROLE]) == VMN_ROLE_FWD && !gc->hello) {
			gc->hello = true;
			gc->hello_seq = m.hdr.seq;	/* answered with FWD */
			continue;
		}
		if (m.hdr.type == VMN_MSG_FWD && (m.hdr.flags & VMN_F_REQUEST) &&
		    gc->hello &&
		    fwd_target_parse(&m, &gc->t) == 0) {
			gc->fwd_seq = m.hdr.seq;
			event_del(gc->ev);
			connect_local(gc, gc->t.family ? gc->t.family : AF_INET);
			return;
		}
		why = "unexpected frame";
		break;
	}
	if (rc == 0)
		return;
	log_debug("forward channel: %s", why ? why : "handshake failed");
	gconn_free(gc);
}

static struct gconn *
gconn_new(struct guestfwd *gf, int chan)
{
	struct gconn *gc;

	if (gf->nconns >= GUESTFWD_MAX_CONNS || !(gc = calloc(1, sizeof(*gc))))
		return NULL;
	gc->gf = gf;
	gc->chan = chan;
	gc->local = -1;
	chan_reader_init(&gc->cr);
	gc->deadline = evtimer_new(gf->base, deadline_cb, gc);
	LIST_INSERT_HEAD(&gf->conns, gc, entry);
	gf->nconns++;
	arm_deadline(gc, CHAN_HANDSHAKE_MS);
	return gc;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct guestfwd *gf = arg;
	struct gconn *gc;
	int fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!(gc = gconn_new(gf, fd))) {
			close(fd);
			continue;
		}
		gc->ev = event_new(gf->base, fd, EV_READ | EV_PERSIST,
		    handshake_cb, gc);
		event_add(gc->ev, NULL);
	}
}

/* ---- reverse forwards ---------------------------------------------------- */

/* rfwd: the host's HELLO reply, then its FWD reply. */
static void
reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn *gc = arg;
	const char *why = NULL;
	struct vmn_msg m;
	char msg[256] = "";
	int rc;

	while ((rc = chan_read(&gc->cr, fd, &m, &why)) == 1) {
		if (m.hdr.type == VMN_MSG_HELLO && !(m.hdr.flags & VMN_F_ERROR))
			continue;
		if (m.hdr.type == VMN_MSG_FWD && !(m.hdr.flags & VMN_F_ERROR)) {
			start_relay(gc);
			return;
		}
		vmn_attr_str(&m.tb[VMN_A_ERRMSG], msg, sizeof(msg));
		log_warnx("reverse forward to host port %u: %s", gc->t.port,
		    msg[0] ? vmn_str_printable(msg) : "refused");
		break;
	}
	if (rc == 0)
		return;
	if (why)
		log_debug("reverse forward channel: %s", why);
	gconn_reset_local(gc);
	gconn_free(gc);
}

static void
rfwd_connected(int fd, void *arg)
{
	struct gconn *gc = arg;

	vmn_connector_free(gc->connector);
	gc->connector = NULL;
	gc->chan = fd;
	if (chan_send_request(fd, VMN_ROLE_RFWD, gc->gf->vm_id, &gc->t) < 0) {
		gconn_reset_local(gc);
		gconn_free(gc);
		return;
	}
	gc->state = GC_REPLY;
	gc->ev = event_new(gc->gf->base, fd, EV_READ | EV_PERSIST, reply_cb, gc);
	event_add(gc->ev, NULL);
}

static void
rfwd_failed(int err, void *arg)
{
	struct gconn *gc = arg;

	log_debug("reverse forward to host port %u: no channel: %s",
	    gc->t.port, strerror(-err));
	gconn_reset_local(gc);
	gconn_free(gc);
}

static bool
rfwd_can_accept(const struct rfwd_listener *rl)
{
	return rl->pending < GUESTFWD_RFWD_PENDING &&
	    rl->gf->rfwd_pending < GUESTFWD_RFWD_PENDING_ALL;
}

/* Listeners at their limit wait; the others accept. */
static void
rfwd_refresh(struct guestfwd *gf)
{
	struct rfwd_listener *rl;
	bool on;
	int i;

	LIST_FOREACH(rl, &gf->rfwds, entry) {
		if ((on = rfwd_can_accept(rl)) == rl->accepting)
			continue;
		rl->accepting = on;
		for (i = 0; i < 2; i++) {
			if (!rl->ev[i])
				continue;
			if (on)
				event_add(rl->ev[i], NULL);
			else
				event_del(rl->ev[i]);
		}
	}
}

/* A reverse connection got its answer (or died): maybe accept again. */
static void
rfwd_pending_done(struct gconn *gc)
{
	struct guestfwd *gf = gc->gf;

	if (!gc->rl)
		return;
	gc->rl->pending--;
	gc->rl = NULL;
	gf->rfwd_pending--;
	rfwd_refresh(gf);
}

/* A guest program connected to a reverse forward: a channel to the host. */
static void
rfwd_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct rfwd_listener *rl = arg;
	struct guestfwd *gf = rl->gf;
	struct gconn *gc;
	int fd;

	while (rfwd_can_accept(rl)) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!(gc = gconn_new(gf, -1))) {
			struct linger lg = { 1, 0 };

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		fwd_nodelay(fd);
		gc->reverse = true;
		gc->rl = rl;
		rl->pending++;
		gf->rfwd_pending++;
		gc->local = fd;
		gc->t.proto = rl->f.proto;
		gc->t.port = rl->f.port;
		gf->next_id = (gf->next_id + 1) & ~FWD_ID_GUEST;
		gc->t.conn_id = FWD_ID_GUEST | gf->next_id;
		gc->state = GC_CONNECTING;
		gc->connector = vmn_connector_new(gf->base, &gf->host,
		    gf->host_port, 2, rfwd_connected, rfwd_failed, gc);
		if (!gc->connector) {
			gconn_reset_local(gc);
			gconn_free(gc);
		}
	}
	rfwd_refresh(gf);	/* at a limit: the rest wait in the backlog */
}

/* ---- configuration --------------------------------------------------------- */

static void
rfwd_close(struct guestfwd *gf, struct rfwd_listener *rl)
{
	struct gconn *gc;
	int i;

	/* Its connections in setup carry on, counted against no listener. */
	LIST_FOREACH(gc, &gf->conns, entry)
		if (gc->rl == rl) {
			gc->rl = NULL;
			gf->rfwd_pending--;
		}

	for (i = 0; i < 2; i++) {
		if (rl->ev[i])
			event_free(rl->ev[i]);
		if (rl->fd[i] >= 0)
			close(rl->fd[i]);
	}
	if (gf->watch)
		portwatch_ignore(gf->watch, rl->f.proto, rl->f.guest_port, false);
	LIST_REMOVE(rl, entry);
	free(rl);
	rfwd_refresh(gf);
}

static struct rfwd_listener *
rfwd_open(struct guestfwd *gf, const struct vmn_nc_rfwd *f, char *err,
    size_t errlen)
{
	struct rfwd_listener *rl = calloc(1, sizeof(*rl));
	struct vmn_ip ip;
	int i, fd;

	if (!rl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rl->gf = gf;
	rl->f = *f;
	rl->fd[0] = rl->fd[1] = -1;
	for (i = 0; i < 2; i++) {
		memset(&ip, 0, sizeof(ip));
		ip.family = i == 0 ? AF_INET : AF_INET6;
		if (i == 0)
			ip.u.v4.s_addr = htonl(INADDR_LOOPBACK);
		else
			ip.u.v6 = in6addr_loopback;
		fd = fwd_bind_local(&ip, f->proto, f->guest_port, 128);
		if (fd < 0) {
			if (i == 0) {	/* 127.0.0.1 is the point; ::1 a bonus */
				snprintf(err, errlen, "reverse forward on "
				    "127.0.0.1:%u: %s", f->guest_port,
				    strerror(-fd));
				free(rl);
				return NULL;
			}
			continue;
		}
		rl->fd[i] = fd;
		rl->ev[i] = event_new(gf->base, fd, EV_READ | EV_PERSIST,
		    rfwd_accept_cb, rl);
	}
	LIST_INSERT_HEAD(&gf->rfwds, rl, entry);
	rfwd_refresh(gf);
	/* Ours: never reported back to the host as a guest listener. */
	if (gf->watch)
		portwatch_ignore(gf->watch, f->proto, f->guest_port, true);
	log_info("reverse forward: guest 127.0.0.1:%u -> host port %u",
	    f->guest_port, f->port);
	return rl;
}

/*
 * Makes the reverse forwards listening match the configuration (mark and
 * sweep). A port that cannot be taken fails the configuration with why.
 */
int
guestfwd_configure(struct guestfwd *gf, const struct vmn_netconf *nc,
    char *err, size_t errlen)
{
	struct rfwd_listener *rl, *next;
	unsigned i;
	int rc = 0;

	LIST_FOREACH(rl, &gf->rfwds, entry)
		rl->keep = false;
	for (i = 0; i < nc->nrfwds; i++) {
		const struct vmn_nc_rfwd *f = &nc->rfwds[i];

		LIST_FOREACH(rl, &gf->rfwds, entry)
			if (rl->f.proto == f->proto && rl->f.port == f->port &&
			    rl->f.guest_port == f->guest_port)
				break;
		if (!rl && f->proto != IPPROTO_TCP) {
			snprintf(err, errlen, "reverse forwards are TCP only");
			rc = -EOPNOTSUPP;
			continue;
		}
		if (!rl && !(rl = rfwd_open(gf, f, err, errlen))) {
			rc = -EADDRINUSE;
			continue;
		}
		rl->keep = true;
	}
	for (rl = LIST_FIRST(&gf->rfwds); rl; rl = next) {
		next = LIST_NEXT(rl, entry);
		if (!rl->keep)
			rfwd_close(gf, rl);
	}
	return rc;
}

/* ---- setup ------------------------------------------------------------------ */

struct guestfwd *
guestfwd_new(struct event_base *base, const struct vmn_endpoint *host,
    uint32_t host_port, uint32_t guest_port, const char *vm_id,
    guestfwd_event_fn send_event, void *arg)
{
	struct guestfwd *gf = calloc(1, sizeof(*gf));
	int fd;

	if (!gf)
		return NULL;
	gf->base = base;
	gf->host = *host;
	gf->host_port = host_port;
	gf->guest_port = guest_port;
	gf->vm_id = vm_id;
	gf->send_event = send_event;
	gf->arg = arg;
	gf->listen_fd = -1;
	LIST_INIT(&gf->conns);
	LIST_INIT(&gf->rfwds);
	relay_raise_nofile();
	gf->watch = portwatch_new(base, watch_cb, gf);
	if ((fd = vmn_listen(host, guest_port, 4096)) < 0) {
		log_warnx("cannot listen for forwarded connections on port "
		    "%u: %s", guest_port, strerror(-fd));
	} else {
		gf->listen_fd = fd;
		gf->listen_ev = event_new(base, fd, EV_READ | EV_PERSIST,
		    accept_cb, gf);
		event_add(gf->listen_ev, NULL);
	}
	return gf;
}

void
guestfwd_free(struct guestfwd *gf)
{
	struct rfwd_listener *rl;
	struct gconn *gc;

	if (!gf)
		return;
	while ((gc = LIST_FIRST(&gf->conns)))
		gconn_free(gc);
	while ((rl = LIST_FIRST(&gf->rfwds)))
		rfwd_close(gf, rl);
	if (gf->listen_ev)
		event_free(gf->listen_ev);
	if (gf->listen_fd >= 0) {
		close(gf->listen_fd);
		vmn_unlisten(&gf->host, gf->guest_port);
	}
	portwatch_free(gf->watch);
	free(gf);
}
