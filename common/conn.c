/*
 * conn.c - framed connections on the event loop
 *
 * Not a bufferevent: a socket bufferevent writes only after the next
 * epoll_wait reports the socket writable, one extra loop round (and two
 * epoll_ctl calls) for every burst of frames on every hop. Here frames
 * sent during a loop pass are gathered in the output buffer and written
 * with one writev() by an event activated for the end of that same pass;
 * EV_WRITE is used only while the socket is full. Reads take as much as
 * the socket has (up to READ_CHUNK per call, a bounded number of calls per
 * wakeup) and hand every complete frame to the owner.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conn.h"
#include "log.h"

#define READ_CHUNK	65536
#define READS_PER_WAKEUP 8	/* then other connections get their turn */

struct vmn_conn {
	int			 fd;
	struct event		*read_ev;
	struct event		*write_ev;	/* only while the socket is full */
	struct event		*flush_ev;	/* end of this loop pass */
	struct event		*close_ev;
	struct evbuffer		*in, *out;
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
	/* why may be c->why itself (a close after flush keeps its reason). */
	if (why != c->why)
		snprintf(c->why, sizeof(c->why), "%s", why ? why : "closed");
	event_del(c->read_ev);
	event_del(c->write_ev);
	event_del(c->flush_ev);
	event_active(c->close_ev, EV_TIMEOUT, 0);
}

/* Hands every complete frame in the input to the owner. */
static void
dispatch(struct vmn_conn *c)
{
	uint8_t hdrbuf[VMN_HDR_LEN];
	struct vmn_msg m;
	struct vmn_hdr h;
	const char *why = NULL;
	size_t total;
	uint8_t *frame;
	int rc;

	while (!c->failed && !c->flushing) {
		if (evbuffer_get_length(c->in) < VMN_HDR_LEN)
			return;
		evbuffer_copyout(c->in, hdrbuf, VMN_HDR_LEN);
		if ((rc = vmn_hdr_decode(hdrbuf, VMN_HDR_LEN, &h, &why)) < 0) {
			vmn_conn_fail(c, rc, why);
			return;
		}
		total = VMN_HDR_LEN + (size_t)h.length;
		if (evbuffer_get_length(c->in) < total)
			return;
		frame = evbuffer_pullup(c->in, (ssize_t)total);
		if ((rc = vmn_msg_parse(frame, total, &m, &why)) < 0) {
			vmn_conn_fail(c, rc, why);
			return;
		}
		c->frames_in++;
		rc = c->on_msg(c, &m, c->arg);
		evbuffer_drain(c->in, total);
		if (rc < 0) {
			vmn_conn_fail(c, rc, strerror(-rc));
			return;
		}
	}
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vmn_conn *c = arg;
	struct evbuffer_iovec v[2];
	ssize_t n;
	int i, nv;

	if (what & EV_TIMEOUT) {
		vmn_conn_fail(c, -ETIMEDOUT, "timed out");
		return;
	}
	for (i = 0; i < READS_PER_WAKEUP && !c->failed; i++) {
		/* Never hold more than two frames of unparsed input. */
		if (evbuffer_get_length(c->in) >= 2 * VMN_MAX_FRAME)
			break;
		if ((nv = evbuffer_reserve_space(c->in, READ_CHUNK, v, 2)) < 0) {
			vmn_conn_fail(c, -ENOMEM, "out of memory");
			return;
		}
		n = readv(fd, (struct iovec *)v, nv);
		if (n <= 0) {
			evbuffer_commit_space(c->in, v, 0);
			if (n == 0)
				vmn_conn_fail(c, 0, "closed by peer");
			else if (errno != EAGAIN && errno != EINTR)
				vmn_conn_fail(c, -errno, strerror(errno));
			break;
		}
		if ((size_t)n <= v[0].iov_len) {
			v[0].iov_len = (size_t)n;
			nv = 1;
		} else {
			v[1].iov_len = (size_t)n - v[0].iov_len;
		}
		evbuffer_commit_space(c->in, v, nv);
		dispatch(c);
		if ((size_t)n < READ_CHUNK)
			break;		/* the socket is empty for now */
	}
}

/* Writes what is queued; waits for EV_WRITE only if the socket is full. */
static void
flush(struct vmn_conn *c)
{
	int n;

	while (!c->failed && evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				event_add(c->write_ev, NULL);
				return;
			}
			vmn_conn_fail(c, -errno, strerror(errno));
			return;
		}
	}
	event_del(c->write_ev);
	if (c->flushing && !c->failed)
		vmn_conn_fail(c, 0, c->why);
}

static void
write_cb(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

struct vmn_conn *
vmn_conn_new(struct event_base *base, int fd, const char *name,
    vmn_conn_msg_fn on_msg, vmn_conn_close_fn on_close, void *arg)
{
	struct vmn_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, c);
	c->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
	c->flush_ev = event_new(base, -1, 0, write_cb, c);
	c->close_ev = event_new(base, -1, 0, close_cb, c);
	if (!c->in || !c->out || !c->read_ev || !c->write_ev || !c->flush_ev ||
	    !c->close_ev) {
		vmn_conn_free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	event_add(c->read_ev, NULL);
	return c;
}

void
vmn_conn_free(struct vmn_conn *c)
{
	if (!c)
		return;
	if (c->read_ev)
		event_free(c->read_ev);
	if (c->write_ev)
		event_free(c->write_ev);
	if (c->flush_ev)
		event_free(c->flush_ev);
	if (c->close_ev)
		event_free(c->close_ev);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	close(c->fd);
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
	if (c->failed || c->flushing)
		return -EPIPE;
	if (evbuffer_get_length(c->out) + len > VMN_CONN_OUTPUT_MAX) {
		vmn_conn_fail(c, -ENOBUFS, "peer is not reading");
		return -ENOBUFS;
	}
	if (evbuffer_add(c->out, frame, len) < 0) {
		vmn_conn_fail(c, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	/* Written at the end of this loop pass, with what else is sent. */
	if (!event_pending(c->write_ev, EV_WRITE, NULL))
		event_active(c->flush_ev, EV_WRITE, 0);
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
	event_del(c->read_ev);
	event_active(c->flush_ev, EV_WRITE, 0);
}

/* Closes the connection when nothing arrives for ms (0: never). */
void
vmn_conn_set_idle_timeout(struct vmn_conn *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->failed || c->flushing)
		return;
	event_add(c->read_ev, ms ? &tv : NULL);
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
	return c->fd;
}

uint64_t
vmn_conn_frames_in(const struct vmn_conn *c)
{
	return c->frames_in;
}

size_t
vmn_conn_pending_output(const struct vmn_conn *c)
{
	return evbuffer_get_length(c->out);
}
