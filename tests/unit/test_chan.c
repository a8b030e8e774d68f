/*
 * test_chan.c - unit tests for the start of fwd and rfwd channels
 * (portfwd/chan.c)
 *
 * Covers: a request (HELLO and FWD) and an answer (HELLO reply and FWD
 * reply or error) each leave in one write, so the peer wakes once for
 * them; chan_read() parses them one frame at a time and never takes a
 * byte past the handshake, which belongs to the relayed connection, also
 * when the frames arrive a byte at a time; chan_read_reply() tells the
 * answers apart (HELLO, FWD, a refusal with its errno and reason, the
 * channel's end); bad frames (wrong magic, a length past CHAN_FRAME_MAX)
 * end the channel; fwd_target_parse() takes only what makes sense.
 *
 * Both ends are a socketpair(2) in this process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "testutil.h"
#include "chan.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
}

/* How many bytes wait in fd, without taking them. */
static ssize_t
pending(int fd)
{
	uint8_t buf[4096];

	return recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
}

static const struct fwd_target target = {
	.proto = IPPROTO_TCP, .family = AF_INET6, .port = 3000,
	.conn_id = 42,
};

/*
 * Frames from one write: a SOCK_SEQPACKET pair keeps each write a record
 * of its own, so one recv() shows what one write carried.
 */
static int
frames_in_one_write(int (*send_fn)(int fd), uint16_t types[2])
{
	uint8_t buf[4096];
	struct vmn_hdr h;
	struct vmn_msg m;
	const char *why = NULL;
	size_t off = 0;
	ssize_t len;
	int sv[2], n = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0,
	    sv), 0);
	assert_int_equal(send_fn(sv[0]), 0);
	len = recv(sv[1], buf, sizeof(buf), 0);
	assert_true(len > 0);
	while (off < (size_t)len) {
		assert_int_equal(vmn_hdr_decode(buf + off, (size_t)len - off,
		    &h, &why), 0);
		assert_int_equal(vmn_msg_parse(buf + off, VMN_HDR_LEN + h.length,
		    &m, &why), 0);
		if (n < 2)
			types[n] = m.hdr.type;
		n++;
		off += VMN_HDR_LEN + h.length;
	}
	assert_int_equal(off, (size_t)len);
	close(sv[0]);
	close(sv[1]);
	return n;
}

static int
send_request(int fd)
{
	return chan_send_request(fd, VMN_ROLE_FWD, "dev", &target, -1);
}

static int
send_reply(int fd)
{
	struct chan_hello hello = { .seq = 1, .role = VMN_ROLE_FWD };

	return chan_send_reply(fd, &hello, 2, 0, NULL);
}

static int
send_refusal(int fd)
{
	struct chan_hello hello = { .seq = 1, .role = VMN_ROLE_RFWD };

	return chan_send_reply(fd, &hello, 2, EPERM, "not allowed");
}

static void
test_one_write(void **state)
{
	uint16_t types[2];

	(void)state;
	assert_int_equal(frames_in_one_write(send_request, types), 2);
	assert_int_equal(types[0], VMN_MSG_HELLO);
	assert_int_equal(types[1], VMN_MSG_FWD);
	assert_int_equal(frames_in_one_write(send_reply, types), 2);
	assert_int_equal(types[0], VMN_MSG_HELLO);
	assert_int_equal(types[1], VMN_MSG_FWD);
	assert_int_equal(frames_in_one_write(send_refusal, types), 2);
	assert_int_equal(types[1], VMN_MSG_FWD);
}

static void
test_request_then_data(void **state)
{
	struct chan_reader cr;
	struct fwd_target t;
	struct vmn_msg m;
	const char *why = NULL;
	uint8_t buf[4096];
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(chan_send_request(sv[0], VMN_ROLE_FWD, "dev",
	    &target, -1), 0);
	assert_int_equal(send(sv[0], "DATA", 4, 0), 4);

	chan_reader_init(&cr);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_HELLO);
	assert_true(m.hdr.flags & VMN_F_REQUEST);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_ROLE]), VMN_ROLE_FWD);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	assert_int_equal(fwd_target_parse(&m, &t), 0);
	assert_int_equal(t.proto, IPPROTO_TCP);
	assert_int_equal(t.family, AF_INET6);
	assert_int_equal(t.port, 3000);
	assert_int_equal(t.conn_id, 42);
	/* What follows the handshake is the connection's: still there. */
	assert_int_equal(pending(sv[1]), 4);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "DATA", 4);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A handed-over socket rides with the request and comes out of the
 * reader that takes one; a reader that takes none (NULL) still reads.
 */
static void
test_request_passes_socket(void **state)
{
	struct chan_reader cr;
	struct vmn_msg m;
	struct stat a, b;
	const char *why = NULL;
	int sv[2], client[2], passed = -1;

	(void)state;
	pair(sv);
	pair(client);
	assert_int_equal(chan_send_request(sv[0], VMN_ROLE_FWD, "dev",
	    &target, client[0]), 0);
	chan_reader_init(&cr);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, &passed), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_HELLO);
	assert_true(passed >= 0);
	assert_int_equal(fstat(passed, &a), 0);
	assert_int_equal(fstat(client[0], &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);	/* the same socket */
	assert_true(fcntl(passed, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, &passed), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	/* It works as the client's: what it writes, the other end reads. */
	assert_int_equal(write(passed, "hi", 2), 2);
	assert_int_equal(pending(client[1]), 2);
	close(passed);
	/* Not taken: the frames alone, the descriptor dropped. */
	assert_int_equal(chan_send_request(sv[0], VMN_ROLE_FWD, "dev",
	    &target, client[0]), 0);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	close(sv[0]);
	close(sv[1]);
	close(client[0]);
	close(client[1]);
}

/*
 * A peer that sends two descriptors with its frames costs the reader
 * nothing: the first is taken, the other closed (the pipe it wrote to
 * then reads end of file).
 */
static void
test_extra_descriptor_closed(void **state)
{
	uint8_t frames[2 * (VMN_HDR_LEN + CHAN_FRAME_MAX)];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	struct chan_reader cr;
	struct vmn_msg m;
	const char *why = NULL;
	int sv[2], client[2], p[2], fds[2], passed = -1;
	ssize_t len;
	char byte;

	(void)state;
	pair(sv);
	pair(client);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	/* The frames of a request, read back from a socket pair. */
	assert_int_equal(chan_send_request(sv[0], VMN_ROLE_FWD, "dev",
	    &target, -1), 0);
	len = read(sv[1], frames, sizeof(frames));
	assert_true(len > 0);
	iov.iov_base = frames;
	iov.iov_len = (size_t)len;
	memset(&cm, 0, sizeof(cm));
	c = &cm.hdr;		/* CMSG_FIRSTHDR: the buffer holds one */
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	fds[0] = client[0];
	fds[1] = p[1];
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &mh, 0), len);
	close(p[1]);
	chan_reader_init(&cr);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, &passed), 1);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, &passed), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	assert_int_equal(write(passed, "hi", 2), 2);	/* the first: client's */
	assert_int_equal(pending(client[1]), 2);
	assert_int_equal(read(p[0], &byte, 1), 0);	/* the second: closed */
	close(passed);
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
	close(client[0]);
	close(client[1]);
}

static void
test_reply_with_hello(void **state)
{
	struct chan_hello hello = {
		.seq = 1, .role = VMN_ROLE_FWD, .caps = VMN_CAP_PORTFWD,
		.vm_id = "dev",
	};
	struct chan_reader cr;
	struct vmn_msg m;
	const char *why = NULL;
	char text[64];
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(chan_send_reply(sv[0], &hello, 2, 0, NULL), 0);
	assert_int_equal(chan_send_reply(sv[0], NULL, 3, ECONNREFUSED,
	    "Connection refused"), 0);
	chan_reader_init(&cr);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_HELLO);
	assert_true(m.hdr.flags & VMN_F_REPLY);
	assert_int_equal(m.hdr.seq, 1);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_ROLE]), VMN_ROLE_FWD);
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	assert_true(m.hdr.flags & VMN_F_REPLY);
	assert_false(m.hdr.flags & VMN_F_ERROR);
	assert_int_equal(m.hdr.seq, 2);
	/* Without a HELLO: the error alone. */
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 1);
	assert_int_equal(m.hdr.type, VMN_MSG_FWD);
	assert_true(m.hdr.flags & VMN_F_ERROR);
	assert_int_equal(m.hdr.seq, 3);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_ERRNO]), ECONNREFUSED);
	vmn_attr_str(&m.tb[VMN_A_ERRMSG], text, sizeof(text));
	assert_string_equal(text, "Connection refused");
	assert_int_equal(chan_read(&cr, sv[1], &m, &why, NULL), 0);	/* no more */
	close(sv[0]);
	close(sv[1]);
}

/* The opener's view of the answers: one result a frame, the reason kept. */
static void
test_read_reply(void **state)
{
	struct chan_hello hello = {
		.seq = 1, .role = VMN_ROLE_FWD, .caps = VMN_CAP_PORTFWD,
	};
	struct chan_reader cr;
	const char *why = NULL;
	char msg[64];
	int sv[2], err = 0;

	(void)state;
	pair(sv);
	assert_int_equal(chan_send_reply(sv[0], &hello, 2, 0, NULL), 0);
	assert_int_equal(chan_send_reply(sv[0], NULL, 3, EHOSTUNREACH,
	    "no route\n"), 0);
	chan_reader_init(&cr);
	assert_int_equal(chan_read_reply(&cr, sv[1], &err, msg, sizeof(msg),
	    &why), CHAN_HELLO_ANSWERED);
	assert_int_equal(chan_read_reply(&cr, sv[1], &err, msg, sizeof(msg),
	    &why), CHAN_FWD_ANSWERED);
	assert_int_equal(chan_read_reply(&cr, sv[1], &err, msg, sizeof(msg),
	    &why), CHAN_FWD_REFUSED);
	assert_int_equal(err, EHOSTUNREACH);
	assert_string_equal(msg, "no route\n");	/* printable: the caller's */
	assert_int_equal(chan_read_reply(&cr, sv[1], &err, msg, sizeof(msg),
	    &why), 0);
	close(sv[0]);
	assert_int_equal(chan_read_reply(&cr, sv[1], &err, msg, sizeof(msg),
	    &why), -ECONNRESET);
	assert_non_null(why);
	close(sv[1]);
}

/* Frames that trickle in a byte at a time parse the same, and exactly. */
static void
test_read_byte_by_byte(void **state)
{
	uint8_t buf[2 * (VMN_HDR_LEN + CHAN_FRAME_MAX)];
	struct chan_reader cr;
	struct vmn_msg m;
	const char *why = NULL;
	ssize_t len, i;
	int sv[2], tx[2], frames = 0, rc;

	(void)state;
	pair(sv);
	pair(tx);
	assert_int_equal(chan_send_request(sv[0], VMN_ROLE_RFWD, NULL,
	    &target, -1), 0);
	len = read(sv[1], buf, sizeof(buf));
	assert_true(len > 0);
	buf[len] = 'X';		/* the connection's first byte */
	chan_reader_init(&cr);
	/* Read as a channel's owner does: no further once FWD is in. */
	for (i = 0; i <= len; i++) {
		assert_int_equal(write(tx[0], &buf[i], 1), 1);
		while (frames < 2 &&
		    (rc = chan_read(&cr, tx[1], &m, &why, NULL)) != 0) {
			assert_int_equal(rc, 1);
			frames++;
		}
	}
	assert_int_equal(frames, 2);
	assert_int_equal(pending(tx[1]), 1);
	close(sv[0]);
	close(sv[1]);
	close(tx[0]);
	close(tx[1]);
}

static void
test_read_bad_frames(void **state)
{
	uint8_t buf[VMN_HDR_LEN + CHAN_FRAME_MAX];
	struct chan_reader cr;
	struct vmn_msg m;
	const char *why;
	struct vmn_buf b;
	int sv[2], len;

	(void)state;
	/* Not our magic. */
	pair(sv);
	assert_int_equal(write(sv[0], "GET / HTTP/1.1\r\n", 16), 16);
	chan_reader_init(&cr);
	why = NULL;
	assert_true(chan_read(&cr, sv[1], &m, &why, NULL) < 0);
	assert_non_null(why);
	close(sv[0]);
	close(sv[1]);

	/* A frame longer than any handshake frame. */
	pair(sv);
	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REQUEST, 1);
	len = vmn_msg_end(&b);
	assert_true(len > 0);
	buf[8] = 0;
	buf[9] = 0;
	buf[10] = (CHAN_FRAME_MAX + 1) >> 8;
	buf[11] = (CHAN_FRAME_MAX + 1) & 0xff;
	assert_int_equal(write(sv[0], buf, (size_t)len), len);
	chan_reader_init(&cr);
	why = NULL;
	assert_rc(chan_read(&cr, sv[1], &m, &why, NULL), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);

	/* The peer goes away mid-frame. */
	pair(sv);
	assert_int_equal(write(sv[0], buf, 5), 5);
	close(sv[0]);
	chan_reader_init(&cr);
	why = NULL;
	assert_rc(chan_read(&cr, sv[1], &m, &why, NULL), -ECONNRESET);
	close(sv[1]);
}

/* A FWD request built with the given fields, parsed by fwd_target_parse. */
static int
parse_fwd(int proto, int family, int port)
{
	uint8_t buf[VMN_HDR_LEN + CHAN_FRAME_MAX];
	struct fwd_target t;
	struct vmn_msg m;
	struct vmn_buf b;
	const char *why;
	int len;

	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REQUEST, 2);
	if (proto >= 0)
		vmn_put_u8(&b, VMN_A_PROTO, (uint8_t)proto);
	if (family >= 0)
		vmn_put_u8(&b, VMN_A_FAMILY, (uint8_t)family);
	if (port >= 0)
		vmn_put_u16(&b, VMN_A_PORT, (uint16_t)port);
	len = vmn_msg_end(&b);
	assert_true(len > 0);
	assert_int_equal(vmn_msg_parse(buf, (size_t)len, &m, &why), 0);
	return fwd_target_parse(&m, &t);
}

static void
test_target_parse(void **state)
{
	(void)state;
	assert_int_equal(parse_fwd(IPPROTO_TCP, -1, 80), 0);
	assert_int_equal(parse_fwd(IPPROTO_UDP, AF_INET, 53), 0);
	assert_int_equal(parse_fwd(IPPROTO_TCP, AF_INET6, 65535), 0);
	assert_int_equal(parse_fwd(-1, -1, 80), -EINVAL);	/* no proto */
	assert_int_equal(parse_fwd(IPPROTO_TCP, -1, -1), -EINVAL);
	assert_int_equal(parse_fwd(IPPROTO_TCP, -1, 0), -EINVAL);
	assert_int_equal(parse_fwd(IPPROTO_ICMP, -1, 80), -EINVAL);
	assert_int_equal(parse_fwd(IPPROTO_TCP, AF_UNIX, 80), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_write),
		cmocka_unit_test(test_request_then_data),
		cmocka_unit_test(test_request_passes_socket),
		cmocka_unit_test(test_extra_descriptor_closed),
		cmocka_unit_test(test_reply_with_hello),
		cmocka_unit_test(test_read_reply),
		cmocka_unit_test(test_read_byte_by_byte),
		cmocka_unit_test(test_read_bad_frames),
		cmocka_unit_test(test_target_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
