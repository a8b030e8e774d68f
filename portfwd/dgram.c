/*
 * dgram.c - UDP datagrams over a stream channel
 *
 * A forwarded UDP flow travels on a stream (a fwd channel), each datagram
 * as a u16 length and its bytes. Sending never blocks: a datagram that
 * does not fit in DGRAM_QUEUE_MAX of unsent bytes is dropped, as the
 * network would drop it. A length of zero or past the UDP maximum ends
 * the channel: the peer is not speaking this framing.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "chan.h"
#include "dgram.h"

struct dgram_stream {
	int			 fd;
	struct evbuffer		*in, *out;
	struct event		*rd, *wr, *closed_ev;
	dgram_fn		 on_dgram;
	dgram_closed_fn		 on_closed;
	void			*arg;
	int			 err;
	int			 dead;
};

static void
closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dgram_stream *ds = arg;

	ds->on_closed(ds->arg, ds->err);
}

static void
fail(struct dgram_stream *ds, int err)
{
	if (ds->dead)
		return;
	ds->dead = 1;
	ds->err = err;
	event_del(ds->rd);
	event_del(ds->wr);
	event_active(ds->closed_ev, EV_TIMEOUT, 0);
}

static void
rd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dgram_stream *ds = arg;
	uint8_t hdr[DGRAM_HDR];
	size_t len;
	int n;

	n = evbuffer_read(ds->in, fd, 65536);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		fail(ds, n == 0 ? 0 : -errno);
		return;
	}
	while (!ds->dead && evbuffer_get_length(ds->in) >= DGRAM_HDR) {
		evbuffer_copyout(ds->in, hdr, DGRAM_HDR);
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0 || len > DGRAM_MAX) {
			fail(ds, -EPROTO);
			return;
		}
		if (evbuffer_get_length(ds->in) < DGRAM_HDR + len)
			return;
		evbuffer_drain(ds->in, DGRAM_HDR);
		ds->on_dgram(ds->arg, evbuffer_pullup(ds->in, (ssize_t)len), len);
		evbuffer_drain(ds->in, len);
	}
}

static void
flush(struct dgram_stream *ds)
{
	int n;

	while (!ds->dead && evbuffer_get_length(ds->out) > 0) {
		n = evbuffer_write(ds->out, ds->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				event_add(ds->wr, NULL);
				return;
			}
			fail(ds, -errno);
			return;
		}
	}
	event_del(ds->wr);
}

static void
wr_cb(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

struct dgram_stream *
dgram_stream_new(struct event_base *base, int fd, dgram_fn on_dgram,
    dgram_closed_fn on_closed, void *arg)
{
	struct dgram_stream *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return NULL;
	ds->fd = fd;
	ds->on_dgram = on_dgram;
	ds->on_closed = on_closed;
	ds->arg = arg;
	ds->in = evbuffer_new();
	ds->out = evbuffer_new();
	ds->rd = event_new(base, fd, EV_READ | EV_PERSIST, rd_cb, ds);
	ds->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, wr_cb, ds);
	ds->closed_ev = event_new(base, -1, 0, closed_cb, ds);
	if (!ds->in || !ds->out || !ds->rd || !ds->wr || !ds->closed_ev) {
		ds->fd = -1;	/* the caller keeps it */
		dgram_stream_free(ds);
		return NULL;
	}
	event_add(ds->rd, NULL);
	return ds;
}

/* Queues one datagram; -ENOBUFS (dropped) when too much is unsent. */
int
dgram_stream_send(struct dgram_stream *ds, const uint8_t *d, size_t len)
{
	uint8_t hdr[DGRAM_HDR] = { (uint8_t)(len >> 8), (uint8_t)len };

	if (ds->dead)
		return -EPIPE;
	if (len == 0 || len > DGRAM_MAX)
		return -EINVAL;
	if (evbuffer_get_length(ds->out) + DGRAM_HDR + len > DGRAM_QUEUE_MAX)
		return -ENOBUFS;
	evbuffer_add(ds->out, hdr, DGRAM_HDR);
	evbuffer_add(ds->out, d, len);
	flush(ds);
	return 0;
}

void
dgram_stream_free(struct dgram_stream *ds)
{
	if (!ds)
		return;
	if (ds->rd)
		event_free(ds->rd);
	if (ds->wr)
		event_free(ds->wr);
	if (ds->closed_ev)
		event_free(ds->closed_ev);
	if (ds->in)
		evbuffer_free(ds->in);
	if (ds->out)
		evbuffer_free(ds->out);
	if (ds->fd >= 0)
		close(ds->fd);
	free(ds);
}
