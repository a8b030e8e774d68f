/*
 * fwdconn.c - one forwarded connection, at either end of a forward
 *
 * Theory of operation
 *
 * A forwarded connection joins a local socket (a TCP connection on this
 * side's loopback, or a connected UDP socket) to a channel: a connection
 * of its own over the VM's vsock, hvsock or unix transport. Both ends of
 * a forward run the same state machine in one of two roles:
 *
 *   open    a local program connected to us (host: a forwarded port;
 *           guest: a reverse forward). We open the channel, send HELLO
 *           and FWD in one write, and wait for the answers. Where the
 *           peer allows it (set->early: the guest), the program's bytes
 *           follow at once, relayed one way while the answers are
 *           awaited, so that its request costs no extra round trip; a
 *           refusal still resets it.
 *   answer  a channel came (guest: on its forward port; host: an rfwd
 *           session, whose HELLO and FWD host-netd's session code read).
 *           We connect to the loopback port FWD names, 127.0.0.1 first and
 *           then ::1 when no family is asked for, and answer HELLO and FWD
 *           in one write: 0 when connected, an errno when not.
 *
 *   open:   [DIRECT] --> CHANNEL --> REPLY -.             .--> RESETTING
 *              '--------------------------- +--> RELAY --+
 *   answer: REQUEST --> [QUEUED] --> CONNECTING          '--> (freed)
 *
 * REQUEST (answer, guest only): reading HELLO and FWD off the channel.
 * CHANNEL (open): the connector is opening the channel. REPLY (open): the
 * answers are awaited. QUEUED (answer): waiting for a turn to connect.
 * CONNECTING (answer): the local connect is under way. RELAY: relay.c
 * moves TCP bytes with splice(); UDP goes as datagrams framed on the
 * channel (dgram.c). Setup, up to RELAY, has a deadline
 * (CHAN_HANDSHAKE_MS); past it, or on any failure, the local socket is
 * reset, as a refused connection would be, and the channel closed (the
 * answer side says why first when it can). The owner hears how setup
 * ended once, through ops->setup_done, for its counters and logs.
 *
 * Pacing. A burst of connections to a server with a small listen backlog
 * (5 is common) overflows its accept queue: SYNs are dropped, and a SYN
 * cookie or a SYN-ACK answered after the queue filled ends in a reset.
 * A direct client's connect() backs off; a relay that opens them all at
 * once loses them. So an answering end keeps at most FWDCONN_PACE
 * connects in flight per local port, the rest QUEUED in order. On
 * loopback the handshake is done by the time connect() returns, unless
 * the SYN was dropped; then the connect is abandoned and made again after
 * FWDCONN_ATTEMPT_MIN_MS, doubling, rather than after the kernel's one
 * second retransmission, so a port drains as fast as its server accepts.
 * A connection that has to wait answers the HELLO at once (FWD later):
 * the opener then knows the peer is at work and waits up to
 * FWDCONN_CONNECT_MS, as long as connect() itself would, and so does
 * the answering end.
 *
 * Directly. Where the opener can reach the peer's server itself (a VM's
 * server listening on all its addresses, behind a tap of the host's), it
 * connects to it first, DIRECT: no channel, no peer relay, the guest's
 * kernel alone on the path, as with QEMU's own forwarding. That TCP
 * connection then stands in for the channel in the relay, both ends
 * sockets, so a reset passes on as with a handed-off one. A direct
 * connect that fails (a guest firewall refusing it, or dropping it for
 * FWDCONN_DIRECT_MS) tells the owner, and the connection carries on as
 * ever, over a channel: a failure costs time, never the connection.
 *
 * Handing off. Over a unix channel to a peer that takes it
 * (set->handoff), the opener sends its local TCP socket along with the
 * request. The answering end connects as usual, answers, closes the
 * channel, and relays the opener's socket to its own: one relay in one
 * process, the other end's relay and the channel gone from the path. The
 * opener closes its copy once answered (a refusal is reset, as ever). In
 * that relay a reset on either socket resets the other. A connection the
 * guest accepted itself, on a listening socket the host handed over
 * (handoff.c), starts here too, with no channel at all (fwdconn_take).
 *
 * Who owns the descriptors: the connection owns its local socket and its
 * channel from the moment it is created (on failure too: it closes them).
 * In RELAY the relay owns both (relay_free() closes them), or for UDP the
 * datagram stream owns the channel. Once freed, nothing is left open.
 *
 * Resets. A channel has no way to say "reset" in band, so the end whose
 * local socket is reset (a server aborting, say) tells the other end on
 * the control channel (ops->send_reset, a FWD_RESET event) and keeps the
 * channel open, RESETTING, reading and dropping what still comes, until
 * the peer, told first, has reset its own local socket and closed the
 * channel, or FWDCONN_RESET_WAIT_MS have passed. Were the channel simply
 * closed, the peer could see an orderly end of file before the notice and
 * pass on a clean close instead. An end told of a reset (fwdconn_reset())
 * resets its local socket and closes the channel at once. A channel that
 * ends or breaks is no reset: the local socket is closed in order.
 */
#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "dgram.h"
#include "fwdconn.h"
#include "relay.h"
#include "sockets.h"
#include "transport.h"

enum fc_state {
	FC_DIRECT,	/* open: connecting straight to the peer's server */
	FC_REQUEST,	/* answer: reading the opener's HELLO and FWD */
	FC_CHANNEL,	/* open: opening the channel */
	FC_REPLY,	/* open: waiting for the answers to HELLO and FWD */
	FC_QUEUED,	/* answer: waiting for a turn to connect */
	FC_CONNECTING,	/* answer: connecting to the local port */
	FC_RELAY,
	FC_RESETTING,	/* told the peer of our reset; waiting for it */
};

/* The connects to one local port: those under way, those waiting. */
struct fwd_pace {
	LIST_ENTRY(fwd_pace)	 entry;
	uint16_t		 port;
	unsigned		 inflight;
	TAILQ_HEAD(, fwdconn)	 queue;
};

struct fwdconn {
	LIST_ENTRY(fwdconn)	 entry;
	TAILQ_ENTRY(fwdconn)	 qentry;	/* QUEUED: in pace->queue */
	struct fwdconn_set	*set;
	void			*owner;
	enum fc_state		 state;
	struct fwd_target	 t;
	bool			 hello_answered; /* open: the peer is at work */
	bool			 handing;	/* open: local went with FWD */
	bool			 direct;	/* open: chan is the server's */
	const struct vmn_endpoint *ep;		/* open: the channel's, */
	uint32_t		 ep_port;	/* its port, */
	unsigned		 attempts;	/* and tries */
	bool			 handed;	/* answer: relaying passed */
	int			 passed;	/* answer: the opener's socket */
	bool			 taken;		/* passed is ours alone */
	/* answer */
	struct chan_hello	 hello;		/* our answer to the HELLO */
	bool			 got_hello;	/* the opener's HELLO came */
	bool			 hello_sent;	/* answered ahead of FWD */
	uint32_t		 fwd_seq;	/* the FWD to answer */
	uint8_t			 family;	/* connecting to 127.0.0.1 or ::1 */
	int			 first_err;	/* 127.0.0.1's, when ::1 is next */
	struct fwd_pace		*pace;		/* QUEUED, or holding a turn */
	bool			 has_turn;
	unsigned		 attempt_ms;	/* for the SYN's answer */
	/* descriptors and events */
	int			 local;
	int			 chan;
	struct chan_reader	 cr;
	struct event		*ev;		/* the step under way */
	struct event		*deadline;
	struct vmn_connector	*connector;	/* open: the channel */
	struct relay		*relay;		/* TCP */
	struct dgram_stream	*ds;		/* UDP: the channel */
	struct event		*udp_ev;	/* UDP: the local socket */
};

static void	connect_local(struct fwdconn *fc);
static void	pace_leave(struct fwdconn *fc);

/* The local socket sees a reset rather than an orderly close. */
static void
reset_local(struct fwdconn *fc)
{
	struct linger lg = { 1, 0 };

	if (fc->local >= 0)
		setsockopt(fc->local, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* The relay ends; what it carried stays in the set's counters. */
static void
relay_end(struct fwdconn *fc, unsigned reset)
{
	fc->set->done.from_local += relay_bytes(fc->relay, RELAY_A);
	fc->set->done.to_local += relay_bytes(fc->relay, RELAY_B);
	relay_free(fc->relay, reset);
	fc->relay = NULL;
}

/* reset: RELAY_RESET_A to reset the local socket, or 0. */
static void
fc_free(struct fwdconn *fc, unsigned reset)
{
	struct fwdconn_set *set = fc->set;

	pace_leave(fc);
	LIST_REMOVE(fc, entry);
	set->n--;
	if (fc->ev)
		event_free(fc->ev);
	if (fc->deadline)
		event_free(fc->deadline);
	if (fc->udp_ev)
		event_free(fc->udp_ev);
	vmn_connector_free(fc->connector);
	if (fc->relay) {
		relay_end(fc, reset);
		fc->local = fc->chan = -1;
	}
	if (fc->ds) {
		dgram_stream_free(fc->ds);
		fc->chan = -1;
	}
	if (reset & RELAY_RESET_A)
		reset_local(fc);
	if (fc->local >= 0)
		close(fc->local);
	if (fc->chan >= 0)
		close(fc->chan);
	if (fc->passed >= 0) {
		/* Refused: reset it, or let the opener, who has it too. */
		if (fc->taken) {
			struct linger lg = { 1, 0 };

			setsockopt(fc->passed, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
		}
		close(fc->passed);
	}
	free(fc);
	if (set->n == 0 && set->peak >= FWDCONN_TRIM_AFTER) {
		set->peak = 0;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
}

/* Setup is over, and not in a relay: the owner hears why, then it ends. */
static void
fail(struct fwdconn *fc, enum fwdconn_result res, int err, const char *msg)
{
	struct fwdconn_set *set = fc->set;

	if (set->ops->setup_done)
		set->ops->setup_done(set->arg, fc, res, err, msg);
	fc_free(fc, RELAY_RESET_A);
}

static void
arm_deadline(struct fwdconn *fc, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(fc->deadline, &tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;

	if (fc->state == FC_RESETTING)
		fc_free(fc, 0);
	else
		fail(fc, FWDCONN_TIMEOUT, ETIMEDOUT, "setup timed out");
}

/* Watches fd for the next step (none: -1), in place of the last one's. */
static int
watch(struct fwdconn *fc, int fd, short what, event_callback_fn cb,
    const struct timeval *tv)
{
	if (fc->ev)
		event_free(fc->ev);
	fc->ev = NULL;
	if (fd < 0)
		return 0;
	if (!(fc->ev = event_new(fc->set->base, fd, what, cb, fc)))
		return -ENOMEM;
	event_add(fc->ev, tv);
	return 0;
}

static struct fwdconn *
fc_new(struct fwdconn_set *set, int local, int chan, void *owner)
{
	struct fwdconn *fc;

	if (set->n >= set->max || !(fc = calloc(1, sizeof(*fc))))
		return NULL;
	fc->set = set;
	fc->owner = owner;
	fc->local = local;
	fc->chan = chan;
	fc->passed = -1;
	chan_reader_init(&fc->cr);
	if (!(fc->deadline = evtimer_new(set->base, deadline_cb, fc))) {
		free(fc);
		return NULL;
	}
	LIST_INSERT_HEAD(&set->conns, fc, entry);
	if (++set->n > set->peak)
		set->peak = set->n;
	arm_deadline(fc, CHAN_HANDSHAKE_MS);
	return fc;
}

/* ---- relaying, and resets ------------------------------------------------ */

/* Waits for the peer to close the channel once it knows of the reset. */
static void
resetting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;	/* what was in flight dies with the connection */
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		fc_free(fc, 0);
}

static void
relay_done(struct relay *r, int err, enum relay_end end, void *arg)
{
	struct fwdconn *fc = arg;
	struct fwdconn_set *set = fc->set;

	if (fc->state == FC_REPLY) {
		/* Early bytes only: the answer is still to come. */
		if (end == RELAY_B)
			return;	/* the channel broke: reply_cb says why */
		set->ops->send_reset(set->arg, fc->t.conn_id);
		fail(fc, FWDCONN_FAILED, -err,
		    "reset before the peer answered");
		return;
	}
	if (fc->handed || fc->direct) {
		if (fc->handed && set->ops->handed_end)
			set->ops->handed_end(set->arg, fc->t.conn_id,
			    relay_bytes(r, RELAY_B), relay_bytes(r, RELAY_A));
		/* Both ends are sockets of ours: a reset passes on. */
		fc_free(fc, err == 0 ? 0 : end == RELAY_A ? RELAY_RESET_B :
		    RELAY_RESET_A);
		return;
	}
	if (err == 0 || end == RELAY_B) {
		/* A clean end, or the channel broke: nothing to tell. */
		fc_free(fc, 0);
		return;
	}
	/* The local socket was reset: tell the peer first, then let go. */
	set->ops->send_reset(set->arg, fc->t.conn_id);
	fc->chan = dup(fc->chan);
	relay_end(fc, RELAY_RESET_A);
	fc->local = -1;
	fc->state = FC_RESETTING;
	if (fc->chan < 0 ||
	    watch(fc, fc->chan, EV_READ | EV_PERSIST, resetting_cb, NULL) < 0) {
		fc_free(fc, 0);
		return;
	}
	arm_deadline(fc, FWDCONN_RESET_WAIT_MS);
}

static void
udp_local_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	uint8_t buf[DGRAM_MAX];
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
			return;		/* errors (ICMP unreachable): ignored */
		fc->set->done.from_local += (uint64_t)n;
		dgram_stream_send(fc->ds, buf, (size_t)n);
	}
}

static void
udp_chan_cb(void *arg, const uint8_t *d, size_t len)
{
	struct fwdconn *fc = arg;

	fc->set->done.to_local += len;
	send(fc->local, d, len, MSG_DONTWAIT);
}

static void
udp_closed_cb(void *arg, int err)
{
	fc_free(arg, 0);
}

/* Connected both ways: relay from now on. */
static void
start_relay(struct fwdconn *fc)
{
	struct fwdconn_set *set = fc->set;

	watch(fc, -1, 0, NULL, NULL);
	evtimer_del(fc->deadline);
	fc->state = FC_RELAY;
	if (fc->t.proto == IPPROTO_UDP) {
		fc->ds = dgram_stream_new(set->base, fc->chan, udp_chan_cb,
		    udp_closed_cb, fc);
		fc->udp_ev = event_new(set->base, fc->local,
		    EV_READ | EV_PERSIST, udp_local_cb, fc);
		if (!fc->ds || !fc->udp_ev) {
			fail(fc, FWDCONN_FAILED, ENOMEM, "out of memory");
			return;
		}
		event_add(fc->udp_ev, NULL);
	} else if (!fc->relay) {
		/* A: the local socket; B: the channel. */
		fc->relay = relay_new(set->base, fc->local, fc->chan, relay_done,
		    fc);
		if (!fc->relay) {
			fail(fc, FWDCONN_FAILED, ENOMEM, "out of memory");
			return;
		}
	}
	if (set->ops->setup_done)
		set->ops->setup_done(set->arg, fc, FWDCONN_RELAYING, 0, NULL);
	fc->owner = NULL;	/* it was counted against it while set up */
	if (fc->relay)
		relay_start(fc->relay);
}

/* The peer says its end of conn_id was reset: reset ours. */
bool
fwdconn_reset(struct fwdconn_set *set, uint32_t conn_id)
{
	struct fwdconn *fc;

	LIST_FOREACH(fc, &set->conns, entry) {
		if (fc->t.conn_id != conn_id || fc->state == FC_RESETTING)
			continue;
		if (fc->state == FC_RELAY)
			fc_free(fc, RELAY_RESET_A);
		else
			fail(fc, FWDCONN_FAILED, ECONNRESET, "reset by the peer");
		return true;
	}
	return false;
}

/* ---- open: a local program connected; a channel to the peer --------------- */

/* The answers to our HELLO and FWD. */
static void
reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	const char *why = NULL;
	char msg[256];
	int rc, err;

	while ((rc = chan_read_reply(&fc->cr, fd, &err, msg, sizeof(msg),
	    &why)) == CHAN_HELLO_ANSWERED) {
		/* Alone: the peer connects and answers FWD when it can. */
		if (!fc->hello_answered)
			arm_deadline(fc, FWDCONN_CONNECT_MS);
		fc->hello_answered = true;
	}
	if (rc == CHAN_FWD_ANSWERED && fc->relay && relay_finished(fc->relay))
		fail(fc, FWDCONN_FAILED, EPIPE, "the channel broke");
	else if (rc == CHAN_FWD_ANSWERED && fc->handing) {
		/* The peer relays it now; our copy goes. */
		if (fc->set->ops->setup_done)
			fc->set->ops->setup_done(fc->set->arg, fc,
			    FWDCONN_HANDED, 0, NULL);
		fc_free(fc, 0);
	} else if (rc == CHAN_FWD_ANSWERED)
		start_relay(fc);
	else if (rc == CHAN_FWD_REFUSED)
		fail(fc, FWDCONN_REFUSED, err,
		    msg[0] ? vmn_str_printable(msg) : NULL);
	else if (rc < 0)
		fail(fc, FWDCONN_FAILED, -rc, why);
}

static void
chan_connected(int fd, void *arg)
{
	struct fwdconn *fc = arg;
	struct fwdconn_set *set = fc->set;
	int rc;

	vmn_connector_free(fc->connector);
	fc->connector = NULL;
	fc->chan = fd;
	fc->state = FC_REPLY;
	fc->handing = set->handoff && fc->t.proto == IPPROTO_TCP;
	if ((rc = chan_send_request(fd, set->open_role, set->vm_id,
	    &fc->t, fc->handing ? fc->local : -1)) < 0 ||
	    (rc = watch(fc, fd, EV_READ | EV_PERSIST, reply_cb, NULL)) < 0) {
		fail(fc, FWDCONN_FAILED, -rc, "cannot send the request");
		return;
	}
	/* The client's first bytes follow the request (no memory: later). */
	if (set->early && !fc->handing && fc->t.proto == IPPROTO_TCP &&
	    (fc->relay = relay_new(set->base, fc->local, fd, relay_done, fc)))
		relay_start_from(fc->relay, RELAY_A);
}

static void
chan_failed(int err, void *arg)
{
	fail(arg, FWDCONN_NO_CHANNEL, -err, NULL);
}

static int
open_channel(struct fwdconn *fc)
{
	fc->state = FC_CHANNEL;
	fc->connector = vmn_connector_new(fc->set->base, fc->ep, fc->ep_port,
	    fc->attempts, chan_connected, chan_failed, fc);
	if (!fc->connector) {
		fc_free(fc, RELAY_RESET_A);
		return -ENOMEM;
	}
	return 0;
}

static struct fwdconn *
open_new(struct fwdconn_set *set, int local, const struct fwd_target *t,
    const struct vmn_endpoint *ep, uint32_t port, unsigned attempts,
    void *owner)
{
	struct linger lg = { 1, 0 };
	struct fwdconn *fc;

	if (!(fc = fc_new(set, local, -1, owner))) {
		setsockopt(local, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(local);
		return NULL;
	}
	fc->t = *t;
	fc->ep = ep;
	fc->ep_port = port;
	fc->attempts = attempts;
	fwd_nodelay(local);
	return fc;
}

/*
 * A connection a local program made (local is ours from now on, on failure
 * too): a channel to the peer's port on ep, asking for t. ep must last as
 * long as the set.
 */
int
fwdconn_open(struct fwdconn_set *set, int local, const struct fwd_target *t,
    const struct vmn_endpoint *ep, uint32_t port, unsigned attempts,
    void *owner)
{
	struct fwdconn *fc;

	if (!(fc = open_new(set, local, t, ep, port, attempts, owner)))
		return -ENOBUFS;
	return open_channel(fc);
}

/* The direct connect failed: the owner hears why, the channel takes over. */
static void
direct_failed(struct fwdconn *fc, int err)
{
	struct fwdconn_set *set = fc->set;

	watch(fc, -1, 0, NULL, NULL);
	close(fc->chan);
	fc->chan = -1;
	if (set->ops->direct_failed)
		set->ops->direct_failed(set->arg, &fc->t, err);
	open_channel(fc);
}

static void
direct_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	int err = (what & EV_WRITE) ? fwd_connect_error(fd) : ETIMEDOUT;

	if (err) {
		direct_failed(fc, err);
		return;
	}
	fc->direct = true;
	fwd_nodelay(fd);
	start_relay(fc);
}

/*
 * As fwdconn_open(), but first straight to the peer's server on its
 * address server, port t->port (see "Directly" above); TCP only.
 */
int
fwdconn_open_direct(struct fwdconn_set *set, int local,
    const struct fwd_target *t, const struct vmn_ip *server,
    const struct vmn_endpoint *ep, uint32_t port, unsigned attempts,
    void *owner)
{
	struct timeval tv = { FWDCONN_DIRECT_MS / 1000,
	    (FWDCONN_DIRECT_MS % 1000) * 1000 };
	struct sockaddr_storage ss;
	socklen_t sslen = fwd_sockaddr(server, t->port, &ss);
	struct fwdconn *fc;
	int s, err;

	if (!(fc = open_new(set, local, t, ep, port, attempts, owner)))
		return -ENOBUFS;
	fc->state = FC_DIRECT;
	if ((s = socket(server->family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return open_channel(fc);
	fc->chan = s;
	if (connect(s, (struct sockaddr *)&ss, sslen) == 0 ||
	    errno == EINPROGRESS) {
		if (watch(fc, s, EV_WRITE, direct_cb, &tv) == 0)
			return 0;
		err = ENOMEM;
	} else
		err = errno;
	direct_failed(fc, err);
	return 0;
}

/* ---- answer: a channel came; connect to the local port -------------------- */

static struct fwd_pace *
pace_get(struct fwdconn_set *set, uint16_t port)
{
	struct fwd_pace *p;

	LIST_FOREACH(p, &set->paces, entry)
		if (p->port == port)
			return p;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->port = port;
	TAILQ_INIT(&p->queue);
	LIST_INSERT_HEAD(&set->paces, p, entry);
	return p;
}

static void
pace_put(struct fwdconn_set *set, struct fwd_pace *p)
{
	if (p->inflight || !TAILQ_EMPTY(&p->queue) || set->kicking)
		return;		/* in use; kick_cb sweeps after its loop */
	LIST_REMOVE(p, entry);
	free(p);
}

/* Its turn ends (or it stops waiting for one): the next may go. */
static void
pace_leave(struct fwdconn *fc)
{
	struct fwdconn_set *set = fc->set;
	struct fwd_pace *p = fc->pace;

	if (!p)
		return;
	fc->pace = NULL;
	if (fc->has_turn) {
		fc->has_turn = false;
		p->inflight--;
		/* From the loop: a connect may finish inside another's. */
		if (!TAILQ_EMPTY(&p->queue))
			event_active(set->kick, EV_TIMEOUT, 0);
	} else {
		TAILQ_REMOVE(&p->queue, fc, qentry);
	}
	pace_put(set, p);
}

/* Turns came free: the connections waiting for them connect. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn_set *set = arg;
	struct fwd_pace *p, *next;
	struct fwdconn *fc;

	set->kicking = true;
	LIST_FOREACH(p, &set->paces, entry)
		while (p->inflight < FWDCONN_PACE &&
		    (fc = TAILQ_FIRST(&p->queue))) {
			TAILQ_REMOVE(&p->queue, fc, qentry);
			p->inflight++;
			fc->has_turn = true;
			connect_local(fc);	/* may end its turn, or fc */
		}
	set->kicking = false;
	for (p = LIST_FIRST(&set->paces); p; p = next) {
		next = LIST_NEXT(p, entry);
		pace_put(set, p);
	}
}

/*
 * The connection has to wait: answer the HELLO now, so that the opener
 * waits for FWD's answer as long as we may take. 0, or -errno and fc is
 * gone.
 */
static int
answer_later(struct fwdconn *fc)
{
	int rc;

	if (fc->hello_sent)
		return 0;
	/* Taken (no channel): nobody to tell. */
	if (fc->chan >= 0 &&
	    (rc = chan_send_hello_reply(fc->chan, &fc->hello)) < 0) {
		fail(fc, FWDCONN_FAILED, -rc, "cannot answer");
		return rc;
	}
	fc->hello_sent = true;
	arm_deadline(fc, FWDCONN_CONNECT_MS);
	return 0;
}

static int
send_answer(struct fwdconn *fc, int err)
{
	return chan_send_reply(fc->chan, fc->hello_sent ? NULL : &fc->hello,
	    fc->fwd_seq, err, err ? strerror(err) : NULL);
}

static void
connect_failed(struct fwdconn *fc, int err)
{
	/* No family asked for: 127.0.0.1 first, then ::1. */
	if (fc->t.family == 0 && fc->family == AF_INET) {
		fc->first_err = err;
		fc->family = AF_INET6;
		connect_local(fc);
		return;
	}
	/* A host without IPv6 on lo: 127.0.0.1's answer is the one. */
	if (fc->first_err && (err == EADDRNOTAVAIL || err == EAFNOSUPPORT))
		err = fc->first_err;
	pace_leave(fc);
	if (fc->chan >= 0)
		send_answer(fc, err);
	fail(fc, FWDCONN_REFUSED, err, NULL);
}

static void
connected(struct fwdconn *fc)
{
	int rc;

	pace_leave(fc);
	if (fc->chan >= 0 && (rc = send_answer(fc, 0)) < 0) {
		fail(fc, FWDCONN_FAILED, -rc, "cannot answer");
		return;
	}
	if (fc->passed >= 0 && fc->t.proto == IPPROTO_TCP) {
		struct linger lg = { 0, 0 };

		/* The opener's socket is the other end: the channel is done. */
		if (fc->chan >= 0)
			close(fc->chan);
		/* Its timeout may have meant a reset: ours to decide now. */
		setsockopt(fc->passed, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		fc->chan = fc->passed;
		fc->passed = -1;
		fc->handed = true;
	}
	start_relay(fc);
}

static void
connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	int err;

	if (what == EV_TIMEOUT) {
		/* The SYN went unanswered: a full accept queue. Again. */
		close(fc->local);
		fc->local = -1;
		fc->attempt_ms *= 2;
		if (fc->attempt_ms > FWDCONN_ATTEMPT_MAX_MS)
			fc->attempt_ms = FWDCONN_ATTEMPT_MAX_MS;
		connect_local(fc);
		return;
	}
	if ((err = fwd_connect_error(fd))) {
		close(fc->local);
		fc->local = -1;
		connect_failed(fc, err);
		return;
	}
	connected(fc);
}

static void
connect_local(struct fwdconn *fc)
{
	struct timeval tv;
	struct pollfd pfd;
	int fd, rc;

	fc->state = FC_CONNECTING;
	if ((fd = fwd_connect_local(fc->family, fc->t.proto, fc->t.port)) < 0) {
		connect_failed(fc, -fd);
		return;
	}
	fc->local = fd;
	if (fc->t.proto == IPPROTO_UDP) {
		connected(fc);
		return;
	}
	/* Loopback connects within connect() unless the SYN was dropped. */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 0) == 1) {
		connected_cb(fd, EV_WRITE, fc);
		return;
	}
	if (answer_later(fc) < 0)
		return;
	if (!fc->attempt_ms)
		fc->attempt_ms = FWDCONN_ATTEMPT_MIN_MS;
	tv.tv_sec = fc->attempt_ms / 1000;
	tv.tv_usec = (fc->attempt_ms % 1000) * 1000;
	if ((rc = watch(fc, fd, EV_WRITE, connected_cb, &tv)) < 0)
		fail(fc, FWDCONN_FAILED, -rc, "out of memory");
}

/* The request is in: connect now, or when the port's turn comes. */
static void
start_connect(struct fwdconn *fc)
{
	struct fwd_pace *p;

	fc->family = fc->t.family ? fc->t.family : AF_INET;
	if (fc->t.proto != IPPROTO_TCP ||
	    !(p = pace_get(fc->set, fc->t.port))) {
		connect_local(fc);	/* no memory for pacing: at once */
		return;
	}
	fc->pace = p;
	if (p->inflight < FWDCONN_PACE) {
		p->inflight++;
		fc->has_turn = true;
		connect_local(fc);
		return;
	}
	fc->state = FC_QUEUED;
	TAILQ_INSERT_TAIL(&p->queue, fc, qentry);
	answer_later(fc);
}

/* The opener's HELLO, then its FWD. */
static void
request_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwdconn *fc = arg;
	struct fwdconn_set *set = fc->set;
	const char *why = NULL;
	struct vmn_msg m;
	int rc;

	while ((rc = chan_read(&fc->cr, fd, &m, &why, &fc->passed)) == 1) {
		if (m.hdr.type == VMN_MSG_HELLO && (m.hdr.flags & VMN_F_REQUEST) &&
		    vmn_attr_u8(&m.tb[VMN_A_ROLE]) == VMN_ROLE_HANDOFF &&
		    !fc->got_hello && set->ops->take_channel) {
			/* Not a connection: the host's listening sockets. */
			set->ops->take_channel(set->arg, fc->chan);
			fc->chan = -1;
			fc_free(fc, 0);
			return;
		}
		if (m.hdr.type == VMN_MSG_HELLO && (m.hdr.flags & VMN_F_REQUEST) &&
		    vmn_attr_u8(&m.tb[VMN_A_ROLE]) == set->answer_role &&
		    !fc->got_hello) {
			fc->got_hello = true;
			fc->hello.seq = m.hdr.seq;	/* answered with FWD */
			continue;
		}
		if (m.hdr.type == VMN_MSG_FWD && (m.hdr.flags & VMN_F_REQUEST) &&
		    fc->got_hello && fwd_target_parse(&m, &fc->t) == 0) {
			fc->fwd_seq = m.hdr.seq;
			watch(fc, -1, 0, NULL, NULL);
			start_connect(fc);
			return;
		}
		why = "unexpected frame";
		rc = -EPROTO;
		break;
	}
	if (rc < 0)
		fail(fc, FWDCONN_FAILED, -rc, why);
}

/* A channel the peer opened (chan is ours from now on, on failure too). */
int
fwdconn_answer(struct fwdconn_set *set, int chan)
{
	struct fwdconn *fc;

	if (!(fc = fc_new(set, -1, chan, NULL))) {
		close(chan);
		return -ENOBUFS;
	}
	fc->state = FC_REQUEST;
	fc->hello.role = set->answer_role;
	fc->hello.caps = VMN_CAP_PORTFWD;
	fc->hello.vm_id = set->vm_id;
	if (watch(fc, chan, EV_READ | EV_PERSIST, request_cb, NULL) < 0) {
		fc_free(fc, 0);
		return -ENOMEM;
	}
	return 0;
}

/*
 * A connection accepted here on a listening socket the opener handed
 * over (client is ours from now on, on failure too): connect to t and
 * relay, resetting client if that fails.
 */
int
fwdconn_take(struct fwdconn_set *set, int client, const struct fwd_target *t)
{
	struct linger lg = { 1, 0 };
	struct fwdconn *fc;

	if (!(fc = fc_new(set, -1, -1, NULL))) {
		setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(client);
		return -ENOBUFS;
	}
	fc->passed = client;
	fc->taken = true;
	fc->t = *t;
	fwd_nodelay(client);
	start_connect(fc);
	return 0;
}

/*
 * A channel whose HELLO and FWD were read already (chan is ours from now
 * on, on failure too): connect to t, answer with hello.
 */
int
fwdconn_answer_target(struct fwdconn_set *set, int chan,
    const struct chan_hello *hello, uint32_t fwd_seq,
    const struct fwd_target *t, void *owner)
{
	struct fwdconn *fc;

	if (!(fc = fc_new(set, -1, chan, owner))) {
		chan_send_reply(chan, hello, fwd_seq, EAGAIN,
		    "cannot take it now");
		close(chan);
		return -ENOBUFS;
	}
	fc->hello = *hello;
	fc->fwd_seq = fwd_seq;
	fc->t = *t;
	start_connect(fc);
	return 0;
}

/* ---- the set ---------------------------------------------------------------- */

int
fwdconn_set_init(struct fwdconn_set *set, struct event_base *base,
    unsigned max, const struct fwdconn_ops *ops, void *arg)
{
	memset(set, 0, sizeof(*set));
	set->base = base;
	set->max = max;
	set->ops = ops;
	set->arg = arg;
	LIST_INIT(&set->conns);
	LIST_INIT(&set->paces);
	if (!(set->kick = event_new(base, -1, 0, kick_cb, set)))
		return -ENOMEM;
	return 0;
}

/* Ends every connection, telling nobody, and what the set holds. */
void
fwdconn_set_free(struct fwdconn_set *set)
{
	struct fwdconn *fc;

	while ((fc = LIST_FIRST(&set->conns)))
		fc_free(fc, 0);
	if (set->kick)
		event_free(set->kick);
	set->kick = NULL;
}

/* The owner goes away: its connections carry on without one. */
void
fwdconn_disown(struct fwdconn_set *set, const void *owner)
{
	struct fwdconn *fc;

	LIST_FOREACH(fc, &set->conns, entry)
		if (fc->owner == owner)
			fc->owner = NULL;
}

/* What the set's connections relayed so far, ended or not. */
void
fwdconn_set_bytes(const struct fwdconn_set *set, struct fwdconn_bytes *b)
{
	const struct fwdconn *fc;

	*b = set->done;
	LIST_FOREACH(fc, &set->conns, entry) {
		if (!fc->relay)
			continue;
		b->from_local += relay_bytes(fc->relay, RELAY_A);
		b->to_local += relay_bytes(fc->relay, RELAY_B);
	}
}

void *
fwdconn_owner(const struct fwdconn *fc)
{
	return fc->owner;
}

const struct fwd_target *
fwdconn_target(const struct fwdconn *fc)
{
	return &fc->t;
}

/* Relaying to the peer's server itself, not over a channel. */
bool
fwdconn_is_direct(const struct fwdconn *fc)
{
	return fc->direct;
}
