/*
 * test_conn.c - unit tests for the framed event-loop connection
 * (common/conn.c)
 *
 * Covers: frames written whole or a byte at a time reach the message
 * callback parsed; the close callback runs once with the reason the
 * connection ended for: the peer leaving, a malformed frame, a handler's
 * error, and a close after flush, whose reason must survive the flush (it
 * was once lost, so host-netd logged "connection closed: " with nothing
 * after it when it refused a HELLO), with the queued frame delivered first.
 *
 * Both ends are a socketpair(2) in this process, driven by one event base.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"
#include "conn.h"

struct seen {
	unsigned	msgs;
	uint16_t	last_type;
	uint32_t	last_seq;
	unsigned	closes;
	int		err;
	char		why[128];
	int		handler_rc;	/* what the message callback returns */
};

static int
on_msg(struct vmn_conn *c, const struct vmn_msg *m, void *arg)
{
	struct seen *s = arg;

	s->msgs++;
	s->last_type = m->hdr.type;
	s->last_seq = m->hdr.seq;
	return s->handler_rc;
}

static void
on_close(struct vmn_conn *c, int err, const char *why, void *arg)
{
	struct seen *s = arg;

	s->closes++;
	s->err = err;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

struct fixture {
	struct event_base	*base;
	struct vmn_conn		*conn;
	int			 peer;
	struct seen		 seen;
};

static int
setup(void **state)
{
	static struct fixture f;
	int sv[2];

	memset(&f, 0, sizeof(f));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		return -1;
	f.base = event_base_new();
	f.peer = sv[1];
	f.conn = vmn_conn_new(f.base, sv[0], "test", on_msg, on_close,
	    &f.seen);
	if (!f.base || !f.conn)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	vmn_conn_free(f->conn);
	close(f->peer);
	event_base_free(f->base);
	return 0;
}

/* Runs the loop until the close callback ran or nothing is left to do. */
static void
run(struct fixture *f)
{
	int i;

	for (i = 0; i < 50 && !f->seen.closes; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static size_t
frame(uint8_t *buf, size_t len, uint16_t type, uint32_t seq)
{
	struct vmn_buf b;
	int n;

	vmn_buf_init(&b, buf, len);
	vmn_msg_begin(&b, type, VMN_F_REQUEST, seq);
	vmn_put_u32(&b, VMN_A_GEN, 7);
	n = vmn_msg_end(&b);
	assert_true(n > 0);
	return (size_t)n;
}

static void
test_frames_reach_handler(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[256];
	size_t n = frame(buf, sizeof(buf), VMN_MSG_CONFIG_BEGIN, 5), i;

	assert_int_equal(write(f->peer, buf, n), (ssize_t)n);
	/* The same frame a byte at a time: reassembled, not misparsed. */
	n = frame(buf, sizeof(buf), VMN_MSG_CONFIG_COMMIT, 6);
	for (i = 0; i < n; i++) {
		assert_int_equal(write(f->peer, buf + i, 1), 1);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	}
	run(f);
	assert_int_equal(f->seen.msgs, 2);
	assert_int_equal(f->seen.last_type, VMN_MSG_CONFIG_COMMIT);
	assert_int_equal(f->seen.last_seq, 6);
	assert_int_equal(f->seen.closes, 0);
}

static void
test_peer_gone(void **state)
{
	struct fixture *f = *state;

	shutdown(f->peer, SHUT_WR);
	run(f);
	assert_int_equal(f->seen.closes, 1);
	assert_true(f->seen.why[0] != '\0');
}

static void
test_malformed_frame(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[VMN_HDR_LEN];

	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(write(f->peer, junk, sizeof(junk)),
	    (ssize_t)sizeof(junk));
	run(f);
	assert_int_equal(f->seen.closes, 1);
	assert_true(f->seen.err < 0);
	assert_true(f->seen.why[0] != '\0');
}

static void
test_handler_error(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[256];
	size_t n = frame(buf, sizeof(buf), VMN_MSG_CONFIG_BEGIN, 1);

	f->seen.handler_rc = -EPROTO;
	assert_int_equal(write(f->peer, buf, n), (ssize_t)n);
	run(f);
	assert_int_equal(f->seen.msgs, 1);
	assert_int_equal(f->seen.closes, 1);
	assert_int_equal(f->seen.err, -EPROTO);
}

/* The refusal's reason reaches the close callback, after the frame went. */
static void
test_close_after_flush_keeps_reason(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[256];
	struct vmn_hdr h;
	const char *why = NULL;
	ssize_t n;

	assert_int_equal(vmn_conn_send_error(f->conn, VMN_MSG_HELLO, 3, EPERM,
	    "no such VM"), 0);
	vmn_conn_close_after_flush(f->conn, "refused: no such VM");
	run(f);
	assert_int_equal(f->seen.closes, 1);
	assert_int_equal(f->seen.err, 0);
	assert_string_equal(f->seen.why, "refused: no such VM");
	n = read(f->peer, buf, sizeof(buf));
	assert_true(n >= VMN_HDR_LEN);
	assert_int_equal(vmn_hdr_decode(buf, (size_t)n, &h, &why), 0);
	assert_int_equal(h.type, VMN_MSG_HELLO);
	assert_true(h.flags & VMN_F_ERROR);
}

int
main(void)
{
#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_frames_reach_handler),
		T(test_peer_gone),
		T(test_malformed_frame),
		T(test_handler_error),
		T(test_close_after_flush_keeps_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
