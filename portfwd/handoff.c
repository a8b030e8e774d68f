/*
 * handoff.c - guest-netd: the host's listening sockets, accepted on here
 *
 * A namespace guest shares the host's kernel, so host-netd can give it the
 * listening sockets of its forwarded TCP ports themselves, over one channel
 * (HELLO role handoff, then LISTEN frames each carrying a socket, and
 * UNLISTEN when the host takes one back). guest-netd then accepts the
 * host's clients itself and splices each to its server, as pasta does:
 * nothing of host-netd's, and no channel, is on a connection's path, and
 * a connection costs an accept and a connect.
 *
 * The host keeps its own copy of each socket and takes the accepting back
 * when the channel ends, so nothing here outlives guest-netd: a socket it
 * holds is closed on UNLISTEN, when the channel ends, or with the process.
 */
#include "config.h"

#include <errno.h>
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
#include "handoff.h"
#include "log.h"

#define HANDOFF_MAX_LISTENERS	512	/* two per forwarded TCP port */

struct hlistener {
	LIST_ENTRY(hlistener)	 entry;
	struct handoff		*h;
	uint32_t		 id;
	struct fwd_target	 t;
	struct event		*ev;
};

struct handoff {
	struct event_base	*base;
	struct fwdconn_set	*set;
	int			 chan;
	struct chan_reader	 cr;
	struct event		*ev;
	LIST_HEAD(, hlistener)	 listeners;
	unsigned		 n;
};

static void
listener_free(struct hlistener *l)
{
	LIST_REMOVE(l, entry);
	l->h->n--;
	vmn_accept_stop(l->ev);
	close(event_get_fd(l->ev));
	event_free(l->ev);
	free(l);
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hlistener *l = arg;
	int c, i;

	for (i = 0; i < 64; i++) {
		if ((c = vmn_accept(l->ev, NULL, NULL)) == -EINVAL) {
			listener_free(l);	/* the host shut it: taken back */
			return;
		}
		if (c < 0)
			return;
		fwdconn_take(l->h->set, c, &l->t);	/* resets c if it fails */
	}
}

static struct hlistener *
find(struct handoff *h, uint32_t id)
{
	struct hlistener *l;

	LIST_FOREACH(l, &h->listeners, entry)
		if (l->id == id)
			return l;
	return NULL;
}

/* LISTEN: fd is a listening TCP socket of the host's, for guest port. */
static int
listen_on(struct handoff *h, const struct vmn_msg *m, int fd)
{
	struct hlistener *l;
	int type = 0, acc = 0;
	socklen_t len = sizeof(type);
	uint32_t id = vmn_attr_u32(&m->tb[VMN_A_CONN_ID]);

	/* Anything but a listening TCP socket is not what LISTEN means. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return -EINVAL;
	len = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
		return -EINVAL;
	if (find(h, id) || h->n >= HANDOFF_MAX_LISTENERS ||
	    !(l = calloc(1, sizeof(*l))))
		return -ENOBUFS;
	l->h = h;
	l->id = id;
	l->t.proto = IPPROTO_TCP;
	l->t.family = vmn_attr_u8(&m->tb[VMN_A_FAMILY]);
	l->t.port = vmn_attr_u16(&m->tb[VMN_A_GUEST_PORT]);
	l->t.conn_id = FWD_ID_ACCEPTED | id;
	if (!(l->ev = event_new(h->base, fd, EV_READ | EV_PERSIST, accept_cb,
	    l))) {
		free(l);
		return -ENOMEM;
	}
	event_add(l->ev, NULL);
	LIST_INSERT_HEAD(&h->listeners, l, entry);
	h->n++;
	log_debug("handoff: accepting for guest port %u (%u)", l->t.port, id);
	return 0;
}

/* The channel ended: every socket goes back to the host alone. */
static void
channel_end(struct handoff *h, const char *why)
{
	if (h->chan < 0)
		return;
	log_debug("handoff channel closed (%s): %u listening sockets given "
	    "back", why, h->n);
	while (!LIST_EMPTY(&h->listeners))
		listener_free(LIST_FIRST(&h->listeners));
	event_free(h->ev);
	h->ev = NULL;
	close(h->chan);
	h->chan = -1;
}

static void
chan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;
	const char *why = "read";
	struct hlistener *l;
	struct vmn_msg m;
	int rc, passed = -1;

	while ((rc = chan_read(&h->cr, fd, &m, &why, &passed)) == 1) {
		if (m.hdr.type == VMN_MSG_LISTEN && passed >= 0) {
			if ((rc = listen_on(h, &m, passed)) < 0) {
				/*
				 * The host accepts on it no more: ending the
				 * channel gives it all back, else its clients
				 * would wait for nobody.
				 */
				log_warnx("handoff: a listening socket refused "
				    "(%s): giving them all back", strerror(-rc));
				close(passed);
				passed = -1;
				why = "a socket it could not take";
				break;
			}
			passed = -1;
		} else if (m.hdr.type == VMN_MSG_UNLISTEN &&
		    (l = find(h, vmn_attr_u32(&m.tb[VMN_A_CONN_ID]))))
			listener_free(l);
		if (passed >= 0) {
			close(passed);	/* a socket with no LISTEN */
			passed = -1;
		}
	}
	if (passed >= 0)
		close(passed);
	if (rc < 0)
		channel_end(h, why);
}

struct handoff *
handoff_new(struct event_base *base, struct fwdconn_set *set)
{
	struct handoff *h;

	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	h->base = base;
	h->set = set;
	h->chan = -1;
	LIST_INIT(&h->listeners);
	return h;
}

/* A handoff channel whose HELLO was read: it replaces any before it. */
void
handoff_channel(struct handoff *h, int chan)
{
	channel_end(h, "replaced");
	chan_reader_init(&h->cr);
	if (!(h->ev = event_new(h->base, chan, EV_READ | EV_PERSIST, chan_cb,
	    h))) {
		close(chan);
		return;
	}
	h->chan = chan;
	event_add(h->ev, NULL);
	/* Frames already in the socket come with the next read event. */
}

void
handoff_free(struct handoff *h)
{
	if (!h)
		return;
	channel_end(h, "guest-netd ends");
	free(h);
}
