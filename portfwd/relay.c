/*
 * relay.c - a forwarded connection: bytes both ways between two sockets
 *
 * Theory of operation
 *
 * Each direction is independent: bytes go from its source socket into a
 * pipe and from the pipe into its destination with splice(), so the data
 * is never copied through user space. The pipe is the direction's buffer:
 * while it is full the source is not read (backpressure reaches the sender
 * through TCP's window), and while the destination cannot take more the
 * pipe is not emptied. Because neither direction ever waits for the other,
 * bulk transfers both ways at once cannot deadlock.
 *
 * When a source reaches end of file and its pipe has drained, the
 * destination gets shutdown(SHUT_WR): half-close passes through, so a
 * client that sends a request and then shuts down its side still gets the
 * reply. When both directions have ended the relay is done. An error on
 * either socket (a reset, a broken pipe) ends it at once with that error,
 * and the owner decides how to pass it on (a TCP peer gets a reset).
 *
 * A direction starts with a small buffer instead, copying through user
 * space: most forwarded connections carry a request and its answer, and
 * for those a read and a send cost less than creating, filling, draining
 * and closing a pipe. The first read that fills the buffer shows bulk:
 * once the buffer has drained, the direction splices from then on.
 *
 * Sockets that cannot splice (some transports lack it) fall back to a
 * plain buffer for that direction, and so does a direction that cannot
 * have a pipe (no descriptor left); nothing else changes. VMN_RELAY_COPY
 * set in the environment (read at the first relay) makes every direction
 * copy, so that tests can run that path on sockets that splice.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "relay.h"

struct direction {
	struct relay	*r;
	int		 src, dst;
	int		 pipe[2];	/* splice mode: -1 until first needed */
	size_t		 cap;		/* pipe or buffer capacity */
	size_t		 inflight;	/* bytes read, not yet written */
	uint8_t		*buf;		/* copy or small mode: the buffer */
	size_t		 off;		/* copy or small mode: first unwritten */
	bool		 copy;		/* splice() unavailable */
	bool		 small;		/* no bulk seen yet: RELAY_SMALL_SIZE */
	bool		 bulk;		/* small, and a read filled it */
	bool		 grown;		/* asked for a RELAY_PIPE_SIZE pipe */
	bool		 eof;		/* source ended */
	bool		 shut;		/* destination shut down: done */
	struct event	*rd;		/* readable: src */
	struct event	*wr;		/* writable: dst */
	uint64_t	 bytes;
};

struct relay {
	int			fd[2];
	struct direction	dir[2];		/* [A]: A to B, [B]: B to A */
	relay_done_fn		done;
	void			*arg;
	bool			finished;
	int			err;
	enum relay_end		err_end;
	struct event		*done_ev;	/* done() runs from the loop */
};

static void pump(struct direction *d);

/* Whether VMN_RELAY_COPY asks for the copy path everywhere. */
static bool
copy_forced(void)
{
	static int forced = -1;
	const char *v;

	if (forced < 0) {
		v = getenv("VMN_RELAY_COPY");
		forced = v && *v && strcmp(v, "0") != 0;
		if (forced)
			log_info("relay: copying through user space "
			    "(VMN_RELAY_COPY), not splicing");
	}
	return forced;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	r->done(r, r->err, r->err_end, r->arg);	/* may free r */
}

/* Stops both directions; the owner hears of it from the loop, never here. */
static void
finish(struct relay *r, int err, enum relay_end end)
{
	int i;

	if (r->finished)
		return;
	r->finished = true;
	r->err = err;
	r->err_end = end;
	for (i = 0; i < 2; i++) {
		event_del(r->dir[i].rd);
		event_del(r->dir[i].wr);
	}
	event_active(r->done_ev, EV_TIMEOUT, 0);
}

static void
rd_cb(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void
wr_cb(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/*
 * Pipes start at the kernel's default size: most forwarded connections
 * are short, and big pipes count against the owner's pipe page limit,
 * past which new pipes get only a couple of pages.
 */
static int
open_pipe(struct direction *d)
{
	int sz;

	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	if ((sz = fcntl(d->pipe[1], F_GETPIPE_SZ)) > 0)
		d->cap = (size_t)sz;
	return 0;
}

/* A direction that fills its pipe carries bulk: fewer, bigger splices. */
static void
grow_pipe(struct direction *d)
{
	int sz;

	d->grown = true;	/* once: if refused, the pipe stays as it is */
	if ((sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE)) > 0)
		d->cap = (size_t)sz;
}

/* The copy path's buffer, on first use. -1 (errno set) without memory. */
static int
copy_buffer(struct direction *d)
{
	if (!d->buf && !(d->buf = malloc(RELAY_COPY_SIZE))) {
		errno = ENOMEM;
		return -1;
	}
	d->copy = true;
	d->cap = RELAY_COPY_SIZE;
	return 0;
}

/* Reads into the buffer's free end; one that fills the small one is bulk. */
static ssize_t
fill_buffer(struct direction *d)
{
	size_t end = d->off + d->inflight;
	ssize_t n;

	if (end == d->cap && d->off > 0) {	/* compact */
		memmove(d->buf, d->buf + d->off, d->inflight);
		d->off = 0;
		end = d->inflight;
	}
	n = read(d->src, d->buf + end, d->cap - end);
	if (d->small && n == (ssize_t)(d->cap - end))
		d->bulk = true;
	return n;
}

/* Moves source -> buffer. >0: moved, 0: end of file, -1: errno says. */
static ssize_t
fill(struct direction *d)
{
	ssize_t n;

	if (d->small) {
		if (!d->buf && !(d->buf = malloc(RELAY_SMALL_SIZE))) {
			/* No memory for it: splice (no buffer) at once. */
			d->small = false;
			d->cap = RELAY_PIPE_SIZE;
			return fill(d);
		}
		return fill_buffer(d);
	}
	if (!d->copy && (d->pipe[0] >= 0 || open_pipe(d) == 0)) {
		n = splice(d->src, NULL, d->pipe[1], NULL, d->cap - d->inflight,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n >= 0 || errno != EINVAL || d->inflight > 0)
			return n;
		/* This socket cannot splice: copy instead. */
	}
	/* (Or no descriptor was left for a pipe: copy rather than fail.) */
	if (!d->copy)
		d->off = 0;
	if (copy_buffer(d) < 0)
		return -1;
	return fill_buffer(d);
}

/* Bulk through the small buffer: splice once it has drained. */
static void
to_splice(struct direction *d)
{
	free(d->buf);
	d->buf = NULL;
	d->off = 0;
	d->small = d->bulk = false;
	d->cap = RELAY_PIPE_SIZE;	/* until the pipe says what it holds */
}

/* Moves buffer -> destination. */
static ssize_t
drain(struct direction *d)
{
	ssize_t n;

	if (!d->copy && !d->small) {
		/*
		 * Never SPLICE_F_MORE: it corks a TCP destination, which then
		 * holds a short reply for up to 200 ms waiting for more that a
		 * relay cannot promise.
		 */
		n = splice(d->pipe[0], NULL, d->dst, NULL, d->inflight,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	} else {
		n = send(d->dst, d->buf + d->off, d->inflight,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			d->off += (size_t)n;
			if (d->inflight == (size_t)n)
				d->off = 0;
		}
	}
	return n;
}

static void
pump(struct direction *d)
{
	struct relay *r = d->r;
	enum relay_end src_end = d == &r->dir[0] ? RELAY_A : RELAY_B;
	bool read_blocked = false, write_blocked = false, progress;
	ssize_t n;

	do {
		progress = false;
		if (!d->eof && !read_blocked && d->inflight < d->cap) {
			n = fill(d);
			if (n > 0) {
				d->inflight += (size_t)n;
				d->bytes += (uint64_t)n;
				progress = true;
				if (d->inflight >= d->cap && !d->copy &&
				    !d->small && !d->grown)
					grow_pipe(d);
			} else if (n == 0) {
				d->eof = true;
			} else if (errno == EAGAIN || errno == EINTR) {
				read_blocked = true;
			} else {
				finish(r, -errno, src_end);
				return;
			}
		}
		if (d->inflight > 0 && !write_blocked) {
			n = drain(d);
			if (n > 0) {
				d->inflight -= (size_t)n;
				progress = true;
				if (d->bulk && d->inflight == 0)
					to_splice(d);
			} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				write_blocked = true;
			} else if (n < 0) {
				finish(r, -errno, src_end == RELAY_A ? RELAY_B :
				    RELAY_A);
				return;
			}
		}
	} while (progress);

	if (d->eof && d->inflight == 0 && !d->shut) {
		/* Half-close passes through. */
		shutdown(d->dst, SHUT_WR);
		d->shut = true;
		if (r->dir[0].shut && r->dir[1].shut) {
			finish(r, 0, RELAY_A);
			return;
		}
	}
	/* Read while there is room; wait for writable only when blocked. */
	if (!d->eof && d->inflight < d->cap)
		event_add(d->rd, NULL);
	else
		event_del(d->rd);
	if (write_blocked)
		event_add(d->wr, NULL);
	else
		event_del(d->wr);
}

static void
direction_init(struct relay *r, struct direction *d, int src, int dst,
    struct event_base *base)
{
	d->r = r;
	d->src = src;
	d->dst = dst;
	d->pipe[0] = d->pipe[1] = -1;
	d->copy = copy_forced();	/* the buffer comes with the first bytes */
	d->small = !d->copy;
	d->cap = d->small ? RELAY_SMALL_SIZE : RELAY_COPY_SIZE;
	d->rd = event_new(base, src, EV_READ | EV_PERSIST, rd_cb, d);
	d->wr = event_new(base, dst, EV_WRITE | EV_PERSIST, wr_cb, d);
}

/* Takes both sockets (non-blocking); nothing moves until relay_start(). */
struct relay *
relay_new(struct event_base *base, int fd_a, int fd_b, relay_done_fn done,
    void *arg)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd[RELAY_A] = fd_a;
	r->fd[RELAY_B] = fd_b;
	r->done = done;
	r->arg = arg;
	direction_init(r, &r->dir[0], fd_a, fd_b, base);
	direction_init(r, &r->dir[1], fd_b, fd_a, base);
	r->done_ev = event_new(base, -1, 0, done_cb, r);
	if (!r->dir[0].rd || !r->dir[0].wr || !r->dir[1].rd || !r->dir[1].wr ||
	    !r->done_ev) {
		r->fd[0] = r->fd[1] = -1;	/* the caller keeps them */
		relay_free(r, 0);
		return NULL;
	}
	return r;
}

void
relay_start(struct relay *r)
{
	pump(&r->dir[0]);
	if (!r->finished)
		pump(&r->dir[1]);
}

/*
 * Starts the direction from `from` alone: its bytes may go before the
 * other end's can come back (an opener's first bytes, sent while the
 * peer still answers on the same socket). relay_start() adds the other.
 */
void
relay_start_from(struct relay *r, enum relay_end from)
{
	pump(&r->dir[from]);
}

/*
 * Closes both sockets. The ends in reset (RELAY_RESET_A, _B) get a reset
 * rather than an orderly close: the other end of the forward was reset.
 */
void
relay_free(struct relay *r, unsigned reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int i;

	if (!r)
		return;
	if (r->done_ev)
		event_free(r->done_ev);
	for (i = 0; i < 2; i++) {
		struct direction *d = &r->dir[i];

		if (d->rd)
			event_free(d->rd);
		if (d->wr)
			event_free(d->wr);
		if (d->pipe[0] >= 0) {
			close(d->pipe[0]);
			close(d->pipe[1]);
		}
		free(d->buf);
		if (r->fd[i] >= 0) {
			if (reset & (1u << i))
				setsockopt(r->fd[i], SOL_SOCKET, SO_LINGER, &lg,
				    sizeof(lg));
			close(r->fd[i]);
		}
	}
	free(r);
}

/* Whether it ended (done() has run or is about to). */
bool
relay_finished(const struct relay *r)
{
	return r->finished;
}

uint64_t
relay_bytes(const struct relay *r, enum relay_end from)
{
	return r->dir[from].bytes;
}

int
relay_fd(const struct relay *r, enum relay_end end)
{
	return r->fd[end];
}

/* Every forwarded connection holds two sockets and up to four pipe ends. */
void
relay_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("raising the open file limit");
	}
}
