/*
 * hostfwd-udp.c - host-netd: UDP flows on forwarded ports
 *
 * A forwarded UDP port has no connections, only datagrams from client
 * addresses. Each client address is a flow with a channel of its own to
 * the guest (HELLO role fwd, FWD naming the guest port), datagrams framed
 * on it (dgram.c); replies go back to the client from the socket its
 * datagrams came to. Up to UDP_QUEUE_MAX datagrams wait while the channel
 * is set up; a flow ends after HOSTFWD_UDP_IDLE_MS of silence, or with
 * the socket it answers through.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "dgram.h"
#include "hostfwd-int.h"

#define UDP_QUEUE_MAX	16	/* datagrams waiting for their channel */

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

/* The flows answering through b end with it (b NULL: all of hp's). */
void
hostfwd_udp_close(struct hport *hp, const struct hbind *b)
{
	struct hudp *u, *next;

	for (u = LIST_FIRST(&hp->udp); u; u = next) {
		next = LIST_NEXT(u, entry);
		if (!b || u->b == b)
			hudp_free(u);
	}
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
	u->hp->hf->stats.bytes_from_guest += len;
	sendto(u->b->fd, d, len, MSG_DONTWAIT, (struct sockaddr *)&u->client,
	    u->clientlen);
}

static void
hudp_closed_cb(void *arg, int err)
{
	hudp_free(arg);
}

/* The guest's answers; once FWD is answered, datagrams both ways. */
static void
hudp_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hudp *u = arg;
	const char *why;
	char msg[8];
	unsigned i;
	int rc, err;

	while ((rc = chan_read_reply(&u->cr, fd, &err, msg, sizeof(msg),
	    &why)) == CHAN_HELLO_ANSWERED)
		;
	if (rc == 0)
		return;
	if (rc != CHAN_FWD_ANSWERED) {
		hostfwd_counters.refused++;
		hudp_free(u);
		return;
	}
	event_free(u->ev);
	u->ev = NULL;
	if (!(u->ds = dgram_stream_new(u->hp->hf->base, fd, hudp_dgram_cb,
	    hudp_closed_cb, u))) {
		hudp_free(u);
		return;
	}
	for (i = 0; i < u->nqueued; i++) {
		dgram_stream_send(u->ds, u->q[i], u->qlen[i]);
		free(u->q[i]);
	}
	u->nqueued = 0;
}

static void
hudp_connected(int fd, void *arg)
{
	struct hudp *u = arg;

	vmn_connector_free(u->connector);
	u->connector = NULL;
	u->chan = fd;
	if (chan_send_request(fd, VMN_ROLE_FWD, u->hp->hf->vm, &u->t, -1) < 0 ||
	    !(u->ev = event_new(u->hp->hf->base, fd, EV_READ | EV_PERSIST,
	    hudp_reply_cb, u))) {
		hudp_free(u);
		return;
	}
	event_add(u->ev, NULL);
}

static void
hudp_failed(int err, void *arg)
{
	hostfwd_counters.refused++;
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
	u->t.family = hostfwd_target_family(hp);
	u->t.port = hp->guest_port;
	u->t.conn_id = hostfwd_next_id(hf);
	LIST_INSERT_HEAD(&hp->udp, u, entry);
	hp->nudp++;
	if (!(u->idle = evtimer_new(hf->base, hudp_idle_cb, u))) {
		hudp_free(u);
		return NULL;
	}
	hp->conns++;
	hf->stats.connections++;
	hostfwd_counters.udp_flows++;
	hudp_touch(u);
	u->connector = vmn_connector_new(hf->base, &hf->chan, hf->guest_port,
	    HOSTFWD_CHAN_ATTEMPTS, hudp_connected, hudp_failed, u);
	if (!u->connector) {
		hudp_free(u);
		return NULL;
	}
	return u;
}

/* Datagrams to a forwarded UDP port: each to its client's flow. */
void
hostfwd_udp_read_cb(evutil_socket_t fd, short what, void *arg)
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
		hp->hf->stats.bytes_to_guest += (uint64_t)n;
		if (u->ds) {
			dgram_stream_send(u->ds, buf, (size_t)n);
		} else if (u->nqueued < UDP_QUEUE_MAX &&
		    (u->q[u->nqueued] = malloc((size_t)n))) {
			memcpy(u->q[u->nqueued], buf, (size_t)n);
			u->qlen[u->nqueued++] = (size_t)n;
		}
	}
}
