/*
 * conn.c - framed connections over bufferevents
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"
#include "log.h"

struct vmn_conn {
	struct bufferevent	*bev;
	struct event		*close_ev;
	vmn_conn_msg_fn		 on_msg;
	vmn_conn_close_fn	 on_close;
	void			*arg;
	uint32_t		 seq;
	uint64_t		 frames_in;
	int			 failed;	/* close is scheduled */
	int			 flushing;	/* close once output drains */
	int			 err;
	char			 why[128];
	char			 name[64];
};

static void
close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vmn_conn *c = arg;

	c->on_close(c, c->err, c->why, c->arg);
}

/* Ends the connection: no more reading or writing; on_close runs soon. */
void
vmn_conn_fail(struct vmn_conn *c, int err, const char *why)
{
	if (c->failed)
		return;
	c->failed = 1;
	c->err = err;
	snprintf(c->why, sizeof(c->why), "%s", why ? why : "closed");
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->close_ev, EV_TIMEOUT, 0);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct vmn_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdrbuf[VMN_HDR_LEN];
	struct vmn_msg m;
	struct vmn_hdr h;
	const char *why = NULL;
	size_t total;
	uint8_t *frame;
	int rc;

	while (!c->failed && !c->flushing) {
		if (evbuffer_get_length(in) < VMN_HDR_LEN)
			return;
		evbuffer_copyout(in, hdrbuf, VMN_HDR_LEN);
		if ((rc = vmn_hdr_decode(hdrbuf, VMN_HDR_LEN, &h, &why)) < 0) {
			vmn_conn_fail(c, rc, why);
			return;
		}
		total = VMN_HDR_LEN + (size_t)h.length;
		if (evbuffer_get_length(in) < total)
			return;
		frame = evbuffer_pullup(in, (ssize_t)total);
		if ((rc = vmn_msg_parse(frame, total, &m, &why)) < 0) {
			vmn_conn_fail(c, rc, why);
			return;
		}
		c->frames_in++;
		rc = c->on_msg(c, &m, c->arg);
		evbuffer_drain(in, total);
		if (rc < 0) {
			vmn_conn_fail(c, rc, strerror(-rc));
			return;
		}
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct vmn_conn *c = arg;

	if (c->flushing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		vmn_conn_fail(c, 0, c->why);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct vmn_conn *c = arg;

	if (what & BEV_EVENT_EOF)
		vmn_conn_fail(c, 0, "closed by peer");
	else if (what & BEV_EVENT_TIMEOUT)
		vmn_conn_fail(c, -ETIMEDOUT, "timed out");
	else if (what & BEV_EVENT_ERROR)
		vmn_conn_fail(c, -(errno ? errno : EIO),
		    strerror(errno ? errno : EIO));
}

struct vmn_conn *
vmn_conn_new(struct event_base *base, int fd, const char *name,
    vmn_conn_msg_fn on_msg, vmn_conn_close_fn on_close, void *arg)
{
	struct vmn_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->close_ev = event_new(base, -1, 0, close_cb, c);
	if (!c->bev || !c->close_ev) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->close_ev)
			event_free(c->close_ev);
		free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	/* Never hold more than two frames of unparsed input. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * VMN_MAX_FRAME);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void
vmn_conn_free(struct vmn_conn *c)
{
	if (!c)
		return;
	bufferevent_free(c->bev);
	event_free(c->close_ev);
	free(c);
}

void
vmn_conn_set_arg(struct vmn_conn *c, void *arg)
{
	c->arg = arg;
}

int
vmn_conn_send(struct vmn_conn *c, const uint8_t *frame, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->failed || c->flushing)
		return -EPIPE;
	if (evbuffer_get_length(out) + len > VMN_CONN_OUTPUT_MAX) {
		vmn_conn_fail(c, -ENOBUFS, "peer is not reading");
		return -ENOBUFS;
	}
	if (bufferevent_write(c->bev, frame, len) < 0) {
		vmn_conn_fail(c, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* Finishes the frame in b and queues it. */
int
vmn_conn_send_buf(struct vmn_conn *c, struct vmn_buf *b)
{
	int len = vmn_msg_end(b);

	if (len < 0) {
		log_warnx("%s: cannot encode %s: %s", c->name,
		    vmn_msg_name(b->len >= VMN_HDR_LEN ?
		    (unsigned)(b->data[4] << 8 | b->data[5]) : 0),
		    strerror(-len));
		return len;
	}
	return vmn_conn_send(c, b->data, (size_t)len);
}

/* Answers request seq of the given type with an error (errno and text). */
int
vmn_conn_send_error(struct vmn_conn *c, uint16_t type, uint32_t seq, int err,
    const char *msg)
{
	uint8_t storage[VMN_HDR_LEN + VMN_MAX_STRING + 64];
	struct vmn_buf b;
	int len;

	vmn_buf_init(&b, storage, sizeof(storage));
	if ((len = vmn_build_error(&b, type, seq, err, msg)) < 0)
		return len;
	return vmn_conn_send(c, b.data, (size_t)len);
}

/* vmn_emit_fn adapter: conn is a struct vmn_conn. */
int
vmn_conn_emit(void *conn, const uint8_t *frame, size_t len)
{
	return vmn_conn_send(conn, frame, len);
}

/* Stops reading, sends what is queued, then closes. */
void
vmn_conn_close_after_flush(struct vmn_conn *c, const char *why)
{
	if (c->failed || c->flushing)
		return;
	c->flushing = 1;
	snprintf(c->why, sizeof(c->why), "%s", why);
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		vmn_conn_fail(c, 0, c->why);
}

/* Closes the connection when nothing arrives for ms (0: never). */
void
vmn_conn_set_idle_timeout(struct vmn_conn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	bufferevent_set_timeouts(c->bev, ms ? &tv : NULL, NULL);
}

uint32_t
vmn_conn_next_seq(struct vmn_conn *c)
{
	if (++c->seq == 0)
		c->seq = 1;
	return c->seq;
}

const char *
vmn_conn_name(const struct vmn_conn *c)
{
	return c->name;
}

int
vmn_conn_fd(const struct vmn_conn *c)
{
	return bufferevent_getfd(c->bev);
}

uint64_t
vmn_conn_frames_in(const struct vmn_conn *c)
{
	return c->frames_in;
}

size_t
vmn_conn_pending_output(const struct vmn_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}
