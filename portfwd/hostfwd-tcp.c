/*
 * hostfwd-tcp.c - host-netd: TCP connections to forwarded ports, and
 * reverse forwards
 *
 * Each TCP connection accepted on a forwarded port opens a channel to the
 * guest's forward port (HELLO role fwd, FWD naming the guest port); each
 * rfwd session the guest opens, once host-netd's session code has read
 * its HELLO, is handed here with its FWD and connects to the host's
 * 127.0.0.1:port (::1 if that is refused), if the configuration allows
 * it. Either way fwdconn.c carries the connection from there; this file
 * counts and records how it fares.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "accept.h"
#include "conn.h"
#include "hostfwd-int.h"
#include "log.h"

static void
conn_setup_done(void *arg, struct fwdconn *fc, enum fwdconn_result res,
    int err, const char *msg)
{
	struct hostfwd *hf = arg;
	const struct fwd_target *t = fwdconn_target(fc);
	struct rfwd_state *r;

	if (!(t->conn_id & FWD_ID_GUEST)) {
		/* A host program's connection to a forwarded port. */
		if (res == FWDCONN_HANDED)
			hostfwd_counters.handed++;
		if (res == FWDCONN_RELAYING && fwdconn_is_direct(fc))
			hostfwd_counters.direct++;
		if (res == FWDCONN_RELAYING || res == FWDCONN_HANDED)
			return;
		hostfwd_counters.refused++;
		if (res == FWDCONN_NO_CHANNEL)
			vmn_log_limited(&hf->conn_log, log_debug,
			    "vm %s: no channel to the guest: %s", hf->vm,
			    strerror(err));
		else
			vmn_log_limited(&hf->conn_log, log_debug,
			    "vm %s: forward %u to guest port %u: %s",
			    hf->vm, t->conn_id, t->port,
			    res == FWDCONN_REFUSED ? "refused by the guest" :
			    msg ? msg : strerror(err));
		return;
	}
	/* A reverse forward's connection to a host service. */
	r = rfwds_find(hf->rfwds, hf->nrfwds, t->proto, t->port);
	if (res == FWDCONN_RELAYING) {
		hostfwd_counters.reverse++;
		hf->stats.reverse++;
		if (r) {
			r->conns++;
			r->error[0] = '\0';
		}
		return;
	}
	hostfwd_counters.reverse_failed++;
	if (r && res == FWDCONN_REFUSED)
		snprintf(r->error, sizeof(r->error), "host port %u: %s",
		    t->port, strerror(err));
}

/* The host end of conn_id was reset: the guest resets its own. */
static void
conn_send_reset(void *arg, uint32_t conn_id)
{
	struct hostfwd *hf = arg;

	hostfwd_counters.resets++;
	hf->send_reset(hf->arg, conn_id);
}

/*
 * The guest's server did not take a direct connection (its firewall, or
 * it no longer listens on every address): its port goes over vsock for a
 * while, each connection paying no second wait.
 */
static void
conn_direct_failed(void *arg, const struct fwd_target *t, int err)
{
	struct hostfwd *hf = arg;
	unsigned i, oldest = 0;

	hostfwd_counters.direct_failed++;
	for (i = 0; i < DIRECT_FAILS; i++) {
		if (hf->direct_failed[i].port == t->port) {
			oldest = i;
			break;
		}
		if (hf->direct_failed[i].at_ms <
		    hf->direct_failed[oldest].at_ms)
			oldest = i;
	}
	hf->direct_failed[oldest].port = t->port;
	hf->direct_failed[oldest].at_ms = vmn_monotonic_ms();
	vmn_log_limited(&hf->conn_log, log_debug, "vm %s: guest port %u not "
	    "reached directly (%s): over the channel", hf->vm, t->port,
	    strerror(err));
}

static const struct fwdconn_ops conn_ops = {
	.setup_done = conn_setup_done,
	.send_reset = conn_send_reset,
	.direct_failed = conn_direct_failed,
};

int
hostfwd_tcp_init(struct hostfwd *hf)
{
	int rc;

	if ((rc = fwdconn_set_init(&hf->conns, hf->base, HOSTFWD_MAX_CONNS,
	    &conn_ops, hf)) < 0)
		return rc;
	hf->conns.vm_id = hf->vm;
	hf->conns.open_role = VMN_ROLE_FWD;
	hf->conns.answer_role = VMN_ROLE_RFWD;
	/* guest-netd reads HELLO and FWD exactly (fwdconn_answer). */
	hf->conns.early = true;
	hf->conn_log = (struct vmn_ratelimit)VMN_RATELIMIT_INIT(CONN_LOG_BURST,
	    CONN_LOG_MS);
	return 0;
}

/* The guest says its end was reset: reset ours. */
void
hostfwd_reset(struct hostfwd *hf, uint32_t conn_id)
{
	if (fwdconn_reset(&hf->conns, conn_id))
		hostfwd_counters.resets++;
}

/*
 * Where a connection to guest port t->port may go directly: the guest's
 * address, when its server listens on every address of that family (one
 * of the target's, for an automatic forward) and has not failed so lately.
 */
static const struct vmn_ip *
direct_server(const struct hostfwd *hf, const struct fwd_target *t)
{
	const struct glistener *l;
	uint8_t fams;
	unsigned i;

	if (!hf->direct4.family && !hf->direct6.family)
		return NULL;
	if (!(l = glisteners_find(&hf->listeners, IPPROTO_TCP, t->port)))
		return NULL;
	for (i = 0; i < DIRECT_FAILS; i++)
		if (hf->direct_failed[i].port == t->port &&
		    vmn_monotonic_ms() - hf->direct_failed[i].at_ms <
		    HOSTFWD_DIRECT_RETRY_MS)
			return NULL;
	fams = l->wild;
	if (t->family == AF_INET)
		fams &= FAM_V4;
	else if (t->family == AF_INET6)
		fams &= FAM_V6;
	if ((fams & FAM_V4) && hf->direct4.family)
		return &hf->direct4;
	if ((fams & FAM_V6) && hf->direct6.family)
		return &hf->direct6;
	return NULL;
}

/* A host program connected to a forwarded TCP port. */
void
hostfwd_tcp_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct hbind *b = arg;
	struct hport *hp = b->hp;
	struct hostfwd *hf = hp->hf;
	struct fwd_target t = {
		.proto = IPPROTO_TCP,
		.family = hostfwd_target_family(hp),
		.port = hp->guest_port,
	};
	const struct vmn_ip *server;
	int fd, i, rc;

	for (i = 0; i < 64; i++) {
		if ((fd = vmn_accept(b->ev, NULL, NULL)) < 0)
			return;
		hp->conns++;
		hf->stats.connections++;
		hostfwd_counters.connections++;
		t.conn_id = hostfwd_next_id(hf);
		if ((server = direct_server(hf, &t)))
			rc = fwdconn_open_direct(&hf->conns, fd, &t, server,
			    &hf->chan, hf->guest_port, HOSTFWD_CHAN_ATTEMPTS,
			    NULL);
		else
			rc = fwdconn_open(&hf->conns, fd, &t, &hf->chan,
			    hf->guest_port, HOSTFWD_CHAN_ATTEMPTS, NULL);
		if (rc < 0)
			hostfwd_counters.refused++;	/* reset at once */
	}
}

/*
 * The FWD request of a reverse-forward session, whose HELLO (seq
 * hello_seq) is answered with it: from here on the socket carries raw
 * bytes, so it leaves the framed connection (the guest sends nothing
 * more until it is answered) and connects to the host port, if the
 * configuration allows it. -errno for a request that is not one.
 */
int
hostfwd_reverse(struct hostfwd *hf, struct vmn_conn *c, uint32_t hello_seq,
    uint32_t caps, const struct vmn_msg *m)
{
	struct chan_hello hello = {
		.seq = hello_seq, .role = VMN_ROLE_RFWD, .caps = caps,
		.vm_id = hf->vm,
	};
	struct fwd_target t;
	int fd;

	if (m->hdr.type != VMN_MSG_FWD || !(m->hdr.flags & VMN_F_REQUEST) ||
	    fwd_target_parse(m, &t) < 0)
		return -EPROTO;
	if ((fd = fcntl(vmn_conn_fd(c), F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	vmn_conn_fail(c, 0, "handed to a relay");
	if (!rfwds_find(hf->rfwds, hf->nrfwds, t.proto, t.port)) {
		vmn_log_limited(&hf->conn_log, log_warnx, "vm %s: reverse "
		    "forward to host port %u/%s refused: not in the "
		    "configuration", hf->vm, t.port,
		    hostfwd_proto_name(t.proto));
		chan_send_reply(fd, &hello, m->hdr.seq, EPERM,
		    "not allowed by host-netd.conf");
		close(fd);
		return 0;
	}
	if (t.proto != IPPROTO_TCP || !(t.conn_id & FWD_ID_GUEST)) {
		chan_send_reply(fd, &hello, m->hdr.seq, EAGAIN,
		    "cannot take it now");
		close(fd);
		return 0;
	}
	/* The guest asks for no family: 127.0.0.1, then ::1. */
	t.family = 0;
	fwdconn_answer_target(&hf->conns, fd, &hello, m->hdr.seq, &t, NULL);
	return 0;
}
