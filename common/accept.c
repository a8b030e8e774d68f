/*
 * accept.c - accepting connections without spinning when descriptors run out
 *
 * Descriptors run out for the whole process at once, so the pause is one
 * for all listeners: those that hit it wait in a list, and one timer puts
 * them all back on the loop. One event base per process is assumed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "accept.h"
#include "log.h"
#include "ratelimit.h"

static struct {
	struct event		**ev;
	unsigned		  n, cap;
	struct event		 *timer;
	struct vmn_ratelimit	  rl;
} paused = { .rl = VMN_RATELIMIT_INIT(1, 10000) };

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned i;

	for (i = 0; i < paused.n; i++)
		event_add(paused.ev[i], NULL);
	paused.n = 0;
}

/* Off the loop until the timer; left on it if even that cannot be had. */
static void
pause_listener(struct event *ev, int err)
{
	struct timeval tv = { VMN_ACCEPT_PAUSE_MS / 1000,
	    (VMN_ACCEPT_PAUSE_MS % 1000) * 1000 };
	unsigned held;

	if (!paused.timer &&
	    !(paused.timer = evtimer_new(event_get_base(ev), resume_cb, NULL)))
		return;
	if (paused.n == paused.cap) {
		unsigned cap = paused.cap ? 2 * paused.cap : 16;
		struct event **p = reallocarray(paused.ev, cap, sizeof(*p));

		if (!p)
			return;
		paused.ev = p;
		paused.cap = cap;
	}
	event_del(ev);
	paused.ev[paused.n++] = ev;
	if (!evtimer_pending(paused.timer, NULL))
		evtimer_add(paused.timer, &tv);
	if (!vmn_ratelimit(&paused.rl, &held))
		return;
	if (held)
		log_warnx("accepting connections: %s; pausing for %d ms "
		    "(%u more pauses since the last said so)", strerror(err),
		    VMN_ACCEPT_PAUSE_MS, held);
	else
		log_warnx("accepting connections: %s; pausing for %d ms",
		    strerror(err), VMN_ACCEPT_PAUSE_MS);
}

/*
 * The next connection on ev's listener: a non-blocking, close-on-exec
 * descriptor, -EAGAIN when none waits, or another -errno after which the
 * listener is paused. Either way the caller stops accepting for now.
 */
int
vmn_accept(struct event *ev, struct sockaddr *sa, socklen_t *salen)
{
	socklen_t len = salen ? *salen : 0;
	int fd;

	for (;;) {
		if (salen)
			*salen = len;
		fd = accept4(event_get_fd(ev), sa, salen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		switch (errno) {
		case EAGAIN:
			return -EAGAIN;
		case EINVAL:
			/* Not listening (any more): nothing to wait for. */
			return -EINVAL;
		/* That connection's trouble (accept(2) lists these): the next. */
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
		case ENETDOWN:
		case ENETUNREACH:
		case EHOSTDOWN:
		case EHOSTUNREACH:
		case ENONET:
		case ENOPROTOOPT:
		case EOPNOTSUPP:
			continue;
		default:
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse. */
			fd = -errno;
			pause_listener(ev, -fd);
			return fd;
		}
	}
}

void
vmn_accept_stop(struct event *ev)
{
	unsigned i = 0;

	while (i < paused.n) {
		if (paused.ev[i] == ev)
			paused.ev[i] = paused.ev[--paused.n];
		else
			i++;
	}
}
