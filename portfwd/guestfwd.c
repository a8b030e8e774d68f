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
 * connection id. guest-netd answers it (fwdconn.c): connects to that port
 * on the guest's loopback, answers FWD, and relays from then on.
 *
 * Reverse forwards. For each one the configuration names, guest-netd
 * listens on 127.0.0.1:guest_port (and ::1); every connection opens a
 * channel to the host (HELLO role rfwd, FWD naming the host port) and is
 * relayed the same way once the host has connected. At most
 * GUESTFWD_RFWD_PENDING wait for the host at once; more wait unaccepted.
 * A connection the host cannot make is reset, as a refused one would be.
 *
 * Resets pass both ways as FWD_RESET events on the control channel (see
 * fwdconn.c).
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

#include "accept.h"
#include "chan.h"
#include "fwdconn.h"
#include "guestfwd.h"
#include "handoff.h"
#include "log.h"
#include "netconf.h"
#include "ratelimit.h"
#include "relay.h"
#include "sockets.h"
#include "transport.h"
#include "watch.h"

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

/* What connections accepted on one of the host's sockets carried. */
#define GUESTFWD_TALLY		16
#define GUESTFWD_TALLY_MS	500
struct fwd_tally {
	uint32_t	id;		/* FWD_ID_ACCEPTED | the socket's */
	uint64_t	counts[3];	/* bytes in, out; connections */
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
	struct fwdconn_set		 conns;
	struct handoff			*handoff;	/* the host's sockets */
	struct fwd_tally		 tally[GUESTFWD_TALLY];
	unsigned			 ntally;
	struct event			*tally_ev;
	uint32_t			 next_id;	/* rfwd ids */
	LIST_HEAD(, rfwd_listener)	 rfwds;
	unsigned			 rfwd_pending;	/* awaiting the host */
	struct vmn_ratelimit		 conn_log;	/* connection failures */
};

static void rfwd_refresh(struct guestfwd *gf);

/* Sends what the tally holds: one event per listening socket. */
static void
tally_flush(struct guestfwd *gf)
{
	unsigned i;

	for (i = 0; i < gf->ntally; i++)
		gf->send_event(gf->arg, VMN_EV_FWD_BYTES, NULL,
		    gf->tally[i].id, gf->tally[i].counts);
	gf->ntally = 0;
}

static void
tally_cb(evutil_socket_t fd, short what, void *arg)
{
	tally_flush(arg);
}

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
		    VMN_EV_LISTENER_DEL, l, 0, NULL);
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
		gf->send_event(gf->arg, VMN_EV_LISTENER_ADD, &l[i], 0, NULL);
	gf->send_event(gf->arg, VMN_EV_LISTENERS_SYNCED, NULL, 0, NULL);
}

void
guestfwd_session_down(struct guestfwd *gf)
{
	gf->session_up = false;
}

/* ---- connections -------------------------------------------------------- */

static void
conn_setup_done(void *arg, struct fwdconn *fc, enum fwdconn_result res,
    int err, const char *msg)
{
	struct guestfwd *gf = arg;
	struct rfwd_listener *rl = fwdconn_owner(fc);
	const struct fwd_target *t = fwdconn_target(fc);
	bool reverse = (t->conn_id & FWD_ID_GUEST) != 0;

	/* A reverse connection got its answer (or died): maybe accept again. */
	if (rl) {
		rl->pending--;
		gf->rfwd_pending--;
		rfwd_refresh(gf);
	}
	switch (res) {
	case FWDCONN_RELAYING:
	case FWDCONN_HANDED:	/* the guest never hands over */
		break;
	case FWDCONN_REFUSED:
		if (reverse)
			vmn_log_limited(&gf->conn_log, log_warnx,
			    "reverse forward to host port %u: %s", t->port,
			    msg ? msg : "refused");
		break;
	case FWDCONN_NO_CHANNEL:
		vmn_log_limited(&gf->conn_log, log_debug, "reverse forward to "
		    "host port %u: no channel: %s", t->port, strerror(err));
		break;
	case FWDCONN_FAILED:
		vmn_log_limited(&gf->conn_log, log_debug, "%s channel: %s",
		    reverse ? "reverse forward" : "forward",
		    msg ? msg : strerror(err));
		break;
	case FWDCONN_TIMEOUT:
		vmn_log_limited(&gf->conn_log, log_debug,
		    "forward %u: setup timed out", t->conn_id);
		break;
	}
}

/* Our end of conn_id was reset: the host resets its own. */
static void
conn_send_reset(void *arg, uint32_t conn_id)
{
	struct guestfwd *gf = arg;

	log_debug("forward %u: reset", conn_id);
	gf->send_event(gf->arg, VMN_EV_FWD_RESET, NULL, conn_id, NULL);
}

/* A connection the host handed us ended: its bytes, for its counters. */
static void
conn_handed_end(void *arg, uint32_t conn_id, uint64_t to_local,
    uint64_t from_local)
{
	struct guestfwd *gf = arg;
	struct timeval tv = { 0, GUESTFWD_TALLY_MS * 1000 };
	const uint64_t counts[3] = { to_local, from_local, 1 };
	struct fwd_tally *t;
	unsigned i;

	/*
	 * Handed over one by one: at once. Accepted on the host's sockets:
	 * added up for a while, so that the host does not wake for each.
	 */
	if (!(conn_id & FWD_ID_ACCEPTED) || !gf->tally_ev) {
		gf->send_event(gf->arg, VMN_EV_FWD_BYTES, NULL, conn_id, counts);
		return;
	}
	for (i = 0; i < gf->ntally && gf->tally[i].id != conn_id; i++)
		;
	if (i == GUESTFWD_TALLY) {
		tally_flush(gf);
		i = 0;
	}
	t = &gf->tally[i];
	if (i == gf->ntally) {
		memset(t, 0, sizeof(*t));
		t->id = conn_id;
		gf->ntally++;
	}
	for (i = 0; i < 3; i++)
		t->counts[i] += counts[i];
	if (!evtimer_pending(gf->tally_ev, NULL))
		evtimer_add(gf->tally_ev, &tv);
}

/* The host's handoff channel: its listening sockets. */
static void
conn_take_channel(void *arg, int chan)
{
	struct guestfwd *gf = arg;

	if (gf->handoff)
		handoff_channel(gf->handoff, chan);
	else
		close(chan);
}

static const struct fwdconn_ops conn_ops = {
	.setup_done = conn_setup_done,
	.send_reset = conn_send_reset,
	.handed_end = conn_handed_end,
	.take_channel = conn_take_channel,
};

/* Called by the host: our end of connection conn_id must be reset. */
void
guestfwd_reset(struct guestfwd *gf, uint32_t conn_id)
{
	fwdconn_reset(&gf->conns, conn_id);
}

/* host-netd opened a fwd channel for a connection a host program made. */
static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct guestfwd *gf = arg;
	int fd, i;

	for (i = 0; i < 64; i++) {
		if ((fd = vmn_accept(gf->listen_ev, NULL, NULL)) < 0)
			return;
		fwdconn_answer(&gf->conns, fd);
	}
}

/* ---- reverse forwards ---------------------------------------------------- */

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
			if (on) {
				event_add(rl->ev[i], NULL);
			} else {
				vmn_accept_stop(rl->ev[i]);
				event_del(rl->ev[i]);
			}
		}
	}
}

/* A guest program connected to a reverse forward: a channel to the host. */
static void
rfwd_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct rfwd_listener *rl = arg;
	struct guestfwd *gf = rl->gf;
	struct fwd_target t = { .proto = rl->f.proto, .port = rl->f.port };
	struct event *ev = rl->ev[rl->fd[0] == lfd ? 0 : 1];
	int fd;

	while (rfwd_can_accept(rl)) {
		if ((fd = vmn_accept(ev, NULL, NULL)) < 0)
			return;
		gf->next_id = (gf->next_id + 1) & ~FWD_ID_GUEST;
		t.conn_id = FWD_ID_GUEST | gf->next_id;
		rl->pending++;
		gf->rfwd_pending++;
		if (fwdconn_open(&gf->conns, fd, &t, &gf->host, gf->host_port,
		    2, rl) < 0) {
			rl->pending--;
			gf->rfwd_pending--;
		}
	}
	rfwd_refresh(gf);	/* at a limit: the rest wait in the backlog */
}

/* ---- configuration --------------------------------------------------------- */

static void
rfwd_close(struct guestfwd *gf, struct rfwd_listener *rl)
{
	int i;

	/* Its connections in setup carry on, counted against no listener. */
	gf->rfwd_pending -= rl->pending;
	fwdconn_disown(&gf->conns, rl);

	for (i = 0; i < 2; i++) {
		if (rl->ev[i]) {
			vmn_accept_stop(rl->ev[i]);
			event_free(rl->ev[i]);
		}
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
		fwd_loopback(i == 0 ? AF_INET : AF_INET6, &ip);
		fd = fwd_bind_local(&ip, f->proto, f->guest_port, 128, false);
		if (fd >= 0 && !(rl->ev[i] = event_new(gf->base, fd,
		    EV_READ | EV_PERSIST, rfwd_accept_cb, rl))) {
			close(fd);
			fd = -ENOMEM;
		}
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

	/* guest-netd's own DNS listener is nobody's server to forward. */
	if (gf->watch)
		portwatch_ignore_address(gf->watch, nc->dns.present &&
		    nc->dns.tunnel ? &nc->dns.servers[0] : NULL);
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
	if (fwdconn_set_init(&gf->conns, base, GUESTFWD_MAX_CONNS, &conn_ops,
	    gf) < 0) {
		free(gf);
		return NULL;
	}
	gf->conns.vm_id = vm_id;
	gf->conns.open_role = VMN_ROLE_RFWD;
	gf->conns.answer_role = VMN_ROLE_FWD;
	gf->conn_log = (struct vmn_ratelimit)VMN_RATELIMIT_INIT(10, 10000);
	gf->handoff = handoff_new(base, &gf->conns);	/* NULL: none taken */
	gf->tally_ev = evtimer_new(base, tally_cb, gf);	/* NULL: at once */
	LIST_INIT(&gf->rfwds);
	relay_raise_nofile();
	gf->watch = portwatch_new(base, watch_cb, gf);
	if ((fd = vmn_listen(host, guest_port, 4096)) < 0) {
		log_warnx("cannot listen for forwarded connections on port "
		    "%u: %s", guest_port, strerror(-fd));
	} else if (!(gf->listen_ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    accept_cb, gf))) {
		log_warnx("cannot listen for forwarded connections: out of "
		    "memory");
		close(fd);
		vmn_unlisten(host, guest_port);
	} else {
		gf->listen_fd = fd;
		event_add(gf->listen_ev, NULL);
	}
	return gf;
}

void
guestfwd_free(struct guestfwd *gf)
{
	struct rfwd_listener *rl;

	if (!gf)
		return;
	/* Nothing new comes in while the rest is taken down. */
	if (gf->listen_ev) {
		vmn_accept_stop(gf->listen_ev);
		event_free(gf->listen_ev);
	}
	if (gf->listen_fd >= 0) {
		close(gf->listen_fd);
		vmn_unlisten(&gf->host, gf->guest_port);
	}
	portwatch_free(gf->watch);
	gf->watch = NULL;
	while ((rl = LIST_FIRST(&gf->rfwds)))
		rfwd_close(gf, rl);
	handoff_free(gf->handoff);
	fwdconn_set_free(&gf->conns);
	if (gf->tally_ev)
		event_free(gf->tally_ev);
	free(gf);
}
