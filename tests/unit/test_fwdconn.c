/*
 * test_fwdconn.c - unit tests for opening a forwarded connection
 * (portfwd/fwdconn.c, the opener's side)
 *
 * Covers: with set->early (host-netd to guest-netd) the local program's
 * first bytes reach the channel right behind HELLO and FWD, before the
 * peer has answered, and without it they wait for the answer; a refusal
 * after those early bytes still resets the local program's connection;
 * an answer then carries both directions, the early bytes arriving once.
 * Directly (fwdconn_open_direct): a server that takes the connection gets
 * it with no channel opened and relays both ways, a reset on it reaching
 * the client; one that refuses it is told to the owner, and the channel
 * takes over with HELLO and FWD as ever.
 *
 * The local program is a TCP connection on 127.0.0.1 in this process; the
 * peer is a unix socket listener read with chan_read(), as guest-netd
 * reads it, and answered with chan_send_reply().
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "testutil.h"
#include "fwdconn.h"
#include "transport.h"

#define PEER_PORT	7701

struct bench {
	struct event_base	*base;
	struct fwdconn_set	 set;
	struct vmn_endpoint	 ep;
	char			 dir[64];
	int			 peer_listen;
	int			 client;	/* the local program */
	int			 chan;		/* the peer's end */
	struct chan_hello	 hello;
	uint32_t		 fwd_seq;
	int			 result;	/* setup_done's, or -1 */
	int			 direct_err;	/* direct_failed's, or 0 */
};

static void
setup_done(void *arg, struct fwdconn *fc, enum fwdconn_result res, int err,
    const char *msg)
{
	struct bench *b = arg;

	b->result = (int)res;
}

static void
send_reset(void *arg, uint32_t conn_id)
{
}

static void
direct_failed(void *arg, const struct fwd_target *t, int err)
{
	struct bench *b = arg;

	b->direct_err = err;
}

static const struct fwdconn_ops ops = {
	.setup_done = setup_done,
	.send_reset = send_reset,
	.direct_failed = direct_failed,
};

/* Turns the loop until fd has n bytes to read (or 2 s pass). */
static void
spin_until_pending(struct bench *b, int fd, size_t n)
{
	uint8_t buf[256];
	int i;

	for (i = 0; i < 2000; i++) {
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		if (recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) >=
		    (ssize_t)n)
			return;
		usleep(1000);
	}
}

/* Turns the loop for a while: what is due has happened by then. */
static void
spin(struct bench *b, unsigned ms)
{
	unsigned i;

	for (i = 0; i < ms; i++) {
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* A listening TCP socket on 127.0.0.1 (a guest's server): its port. */
static int
tcp_server(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return l;
}

/* A TCP connection on 127.0.0.1: *client and the accepted *local. */
static void
tcp_pair(int *client, int *local)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint16_t port;
	int l = tcp_server(&port);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	assert_true((*client = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_true((*local = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0);
	close(l);
}

static void
bench_init(struct bench *b, bool early)
{
	memset(b, 0, sizeof(*b));
	b->result = -1;
	assert_non_null(b->base = event_base_new());
	assert_int_equal(fwdconn_set_init(&b->set, b->base, 8, &ops, b), 0);
	b->set.vm_id = "t";
	b->set.open_role = VMN_ROLE_FWD;
	b->set.answer_role = VMN_ROLE_RFWD;
	b->set.early = early;
	snprintf(b->dir, sizeof(b->dir), "/tmp/test_fwdconn.XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	b->ep.kind = VMN_TR_UNIX;
	snprintf(b->ep.path, sizeof(b->ep.path), "%s/chan", b->dir);
	assert_true((b->peer_listen = vmn_listen(&b->ep, PEER_PORT, 4)) >= 0);
}

/* The peer takes the channel and reads HELLO and FWD off it. */
static void
accept_channel(struct bench *b)
{
	struct pollfd pfd;
	const char *why = NULL;
	struct chan_reader cr;
	struct vmn_msg m;
	int rc, i;

	pfd.fd = b->peer_listen;
	pfd.events = POLLIN;
	for (i = 0; i < 2000 && poll(&pfd, 1, 0) == 0; i++) {
		event_base_loop(b->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true((b->chan = accept4(b->peer_listen, NULL, NULL,
	    SOCK_NONBLOCK)) >= 0);
	chan_reader_init(&cr);
	for (i = 0; i < 2; ) {
		spin_until_pending(b, b->chan, 1);
		rc = chan_read(&cr, b->chan, &m, &why, NULL);
		assert_true(rc >= 0);
		if (rc == 0)
			continue;
		if (i == 0) {
			assert_int_equal(m.hdr.type, VMN_MSG_HELLO);
			b->hello.seq = m.hdr.seq;
			b->hello.role = VMN_ROLE_FWD;
			b->hello.caps = VMN_CAP_PORTFWD;
			b->hello.vm_id = "t";
		} else {
			assert_int_equal(m.hdr.type, VMN_MSG_FWD);
			b->fwd_seq = m.hdr.seq;
		}
		i++;
	}
}

/*
 * The local program connects and sends "ping"; the connection is opened
 * toward the peer, which accepts the channel and reads HELLO and FWD.
 */
static void
open_one(struct bench *b, bool early)
{
	struct fwd_target t = { .proto = IPPROTO_TCP, .family = AF_INET,
	    .port = 3000, .conn_id = 7 };
	int local;

	bench_init(b, early);
	tcp_pair(&b->client, &local);
	assert_int_equal(send(b->client, "ping", 4, 0), 4);
	assert_int_equal(fwdconn_open(&b->set, local, &t, &b->ep, PEER_PORT, 1,
	    NULL), 0);
	accept_channel(b);
}

/* As open_one(), but first directly to 127.0.0.1:port. */
static void
open_direct(struct bench *b, uint16_t port)
{
	struct fwd_target t = { .proto = IPPROTO_TCP, .family = AF_INET,
	    .port = port, .conn_id = 8 };
	struct vmn_ip server = { .family = AF_INET };
	int local;

	server.u.v4.s_addr = htonl(INADDR_LOOPBACK);
	bench_init(b, true);
	tcp_pair(&b->client, &local);
	assert_int_equal(send(b->client, "ping", 4, 0), 4);
	assert_int_equal(fwdconn_open_direct(&b->set, local, &t, &server,
	    &b->ep, PEER_PORT, 1, NULL), 0);
}

static void
close_one(struct bench *b)
{
	char path[128];

	fwdconn_set_free(&b->set);
	event_base_free(b->base);
	close(b->client);
	if (b->chan >= 0)
		close(b->chan);
	close(b->peer_listen);
	assert_int_equal(vmn_endpoint_port_path(&b->ep, PEER_PORT, path,
	    sizeof(path)), 0);
	unlink(path);
	rmdir(b->dir);
}

/* How many bytes wait in fd, without taking them. */
static ssize_t
pending(int fd)
{
	uint8_t buf[256];

	return recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
}

static void
early_bytes_come_before_the_answer(void **state)
{
	struct bench b;
	char buf[8];

	open_one(&b, true);
	spin_until_pending(&b, b.chan, 4);
	assert_int_equal(recv(b.chan, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(b.result, -1);		/* not answered yet */
	close_one(&b);
}

static void
without_early_bytes_wait_for_the_answer(void **state)
{
	struct bench b;

	open_one(&b, false);
	spin(&b, 50);
	assert_true(pending(b.chan) < 0);	/* nothing yet: EAGAIN */
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(chan_send_reply(b.chan, &b.hello, b.fwd_seq, 0,
	    NULL), 0);
	spin_until_pending(&b, b.chan, 4);
	assert_int_equal(pending(b.chan), 4);
	assert_int_equal(b.result, FWDCONN_RELAYING);
	close_one(&b);
}

static void
a_refusal_after_early_bytes_resets_the_client(void **state)
{
	struct bench b;
	char buf[8];

	open_one(&b, true);
	spin_until_pending(&b, b.chan, 4);
	assert_int_equal(chan_send_reply(b.chan, &b.hello, b.fwd_seq,
	    ECONNREFUSED, "nothing listens"), 0);
	close(b.chan);		/* unread early bytes and all */
	b.chan = -1;
	spin(&b, 50);
	assert_int_equal(b.result, FWDCONN_REFUSED);
	assert_int_equal(recv(b.client, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, ECONNRESET);
	close_one(&b);
}

static void
an_answer_relays_both_ways(void **state)
{
	struct bench b;
	char buf[8];

	open_one(&b, true);
	assert_int_equal(chan_send_reply(b.chan, &b.hello, b.fwd_seq, 0,
	    NULL), 0);
	assert_int_equal(send(b.chan, "pong", 4, 0), 4);
	spin_until_pending(&b, b.chan, 4);
	assert_int_equal(recv(b.chan, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "ping", 4);
	spin_until_pending(&b, b.client, 4);
	assert_int_equal(recv(b.client, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(b.result, FWDCONN_RELAYING);
	/* The client's end passes on as the channel's (and nothing more). */
	shutdown(b.client, SHUT_WR);
	spin(&b, 50);
	assert_int_equal(recv(b.chan, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close_one(&b);
}

static void
direct_reaches_the_server_without_a_channel(void **state)
{
	struct bench b;
	struct linger lg = { 1, 0 };
	struct pollfd pfd;
	uint16_t port;
	int l = tcp_server(&port), server, i;
	char buf[8];

	open_direct(&b, port);
	for (i = 0; i < 2000 && (server = accept4(l, NULL, NULL,
	    SOCK_NONBLOCK)) < 0; i++)
		spin(&b, 1);
	assert_true(server >= 0);
	spin_until_pending(&b, server, 4);
	assert_int_equal(recv(server, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(send(server, "pong", 4, 0), 4);
	spin_until_pending(&b, b.client, 4);
	assert_int_equal(recv(b.client, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(b.result, FWDCONN_RELAYING);
	assert_int_equal(b.direct_err, 0);
	pfd.fd = b.peer_listen;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 0);		/* no channel came */
	/* The server resets: so is the client, as a direct one would be. */
	setsockopt(server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(server);
	spin(&b, 50);
	assert_int_equal(recv(b.client, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, ECONNRESET);
	close(l);
	b.chan = -1;
	close_one(&b);
}

static void
a_refused_direct_connect_goes_over_the_channel(void **state)
{
	struct bench b;
	uint16_t port;
	int l = tcp_server(&port);
	char buf[8];

	close(l);		/* the port refuses now */
	open_direct(&b, port);
	accept_channel(&b);
	assert_int_equal(b.direct_err, ECONNREFUSED);
	spin_until_pending(&b, b.chan, 4);
	assert_int_equal(recv(b.chan, buf, sizeof(buf), MSG_DONTWAIT), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(chan_send_reply(b.chan, &b.hello, b.fwd_seq, 0,
	    NULL), 0);
	spin(&b, 20);
	assert_int_equal(b.result, FWDCONN_RELAYING);
	close_one(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(early_bytes_come_before_the_answer),
		cmocka_unit_test(without_early_bytes_wait_for_the_answer),
		cmocka_unit_test(a_refusal_after_early_bytes_resets_the_client),
		cmocka_unit_test(an_answer_relays_both_ways),
		cmocka_unit_test(direct_reaches_the_server_without_a_channel),
		cmocka_unit_test(a_refused_direct_connect_goes_over_the_channel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
