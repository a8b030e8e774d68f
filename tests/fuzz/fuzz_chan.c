/*
 * fuzz_chan.c - the start of a fwd or rfwd channel (portfwd/chan.c)
 *
 * A forwarded connection's channel starts with two frames each way, HELLO
 * and FWD, read exactly: the connection's own bytes may follow at once and
 * must stay in the socket. On an rfwd channel the guest sends them to
 * host-netd (session.c hands the FWD to hostfwd_reverse()); on a fwd
 * channel host-netd sends them to the guest and reads the answers.
 *
 * Reaches: chan_read() (headers, lengths past CHAN_FRAME_MAX, frames
 * arriving in pieces, descriptors passed with the bytes), vmn_msg_parse()
 * on each, fwd_target_parse() on a FWD (protocol, port, family), and
 * chan_read_reply()'s reading of the answers (HELLO, FWD, an error with
 * its errno and message).
 *
 * Input: byte 0: bit 0 reads answers (chan_read_reply) instead of
 * requests, bit 1 passes a descriptor with the first piece (read with
 * passed != NULL), the rest seed the piece sizes; then the byte stream.
 *
 * Checks: each frame chan_read() returns is the one a plain parse of the
 * stream finds at that point, and it never takes a byte past the frames it
 * returned: what is left in the socket is exactly the rest of the input.
 * An error's errno from the peer comes back within 1..4095.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/eventfd.h>
#include <netinet/in.h>

#include "chan.h"
#include "fdpass.h"
#include "fuzz.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_chan: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static void
send_piece(int fd, const uint8_t *p, size_t len, bool pass)
{
	struct iovec iov = { (void *)(uintptr_t)p, len };
	int efd = -1;

	if (pass && (efd = eventfd(0, EFD_CLOEXEC)) < 0)
		abort();
	if (vmn_sendmsg_fd(fd, &iov, 1, efd, 0) != (ssize_t)len)
		abort();
	if (efd >= 0)
		close(efd);
}

/* Where the frame at off ends, as the wire says; 0 if it cannot be read. */
static size_t
frame_end(const uint8_t *p, size_t len, size_t off)
{
	const char *why = NULL;
	struct vmn_hdr h;

	if (vmn_hdr_decode(p + off, len - off, &h, &why) < 0 ||
	    h.length > CHAN_FRAME_MAX || VMN_HDR_LEN + h.length > len - off)
		return 0;
	return off + VMN_HDR_LEN + h.length;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rest[65536];
	struct chan_reader cr;
	struct fwd_target t;
	struct vmn_msg m, ref;
	const char *why = NULL;
	char msg[VMN_MAX_STRING + 1];
	size_t off = 0, consumed = 0, end, piece, got = 0;
	uint32_t rng;
	bool replies, pass;
	unsigned frames = 0, i;
	int sv[2], passed = -1, rc, err;
	ssize_t n;

	if (size < 1 || size > sizeof(rest))
		return 0;
	fuzz_fd_mark();
	replies = data[0] & 1;
	pass = data[0] & 2;
	rng = (data[0] >> 2) * 2654435761u + 3;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	chan_reader_init(&cr);
	for (i = 0; i < 4096 && frames < 4; i++) {
		if (off < size) {
			rng = rng * 1103515245u + 12345u;
			piece = 1 + (rng >> 16) % 48;
			if (piece > size - off)
				piece = size - off;
			send_piece(sv[1], data + off, piece, pass && off == 0);
			off += piece;
		} else if (off == size) {
			shutdown(sv[1], SHUT_WR);
			off++;
		}
		if (replies) {
			rc = chan_read_reply(&cr, sv[0], &err, msg, sizeof(msg),
			    &why);
			if (rc == CHAN_FWD_REFUSED)
				CHECK(err > 0 && err < 4096 &&
				    strlen(msg) < sizeof(msg));
		} else {
			rc = chan_read(&cr, sv[0], &m, &why,
			    pass ? &passed : NULL);
		}
		if (rc < 0) {
			CHECK(why != NULL);
			break;
		}
		if (rc == 0) {
			if (off > size)
				break;	/* all sent, waiting for more */
			continue;
		}
		/* A frame: the next one of the stream, whole. */
		end = frame_end(data, size, consumed);
		CHECK(end != 0);
		CHECK(vmn_msg_parse(data + consumed, end - consumed, &ref,
		    &why) == 0);
		if (!replies) {
			CHECK(m.hdr.type == ref.hdr.type &&
			    m.hdr.seq == ref.hdr.seq &&
			    m.hdr.length == ref.hdr.length);
			if (m.hdr.type == VMN_MSG_FWD &&
			    fwd_target_parse(&m, &t) == 0)
				CHECK((t.proto == IPPROTO_TCP ||
				    t.proto == IPPROTO_UDP) && t.port != 0);
		}
		consumed = end;
		frames++;
		/* Never a byte past them: the rest is still in the socket. */
		got = 0;
		if (frames == 2 || rc == CHAN_FWD_ANSWERED) {
			while (off < size) {
				send_piece(sv[1], data + off, size - off, false);
				off = size;
			}
			while ((n = read(sv[0], rest + got,
			    sizeof(rest) - got)) > 0)
				got += (size_t)n;
			CHECK(got == size - consumed);
			CHECK(memcmp(rest, data + consumed, got) == 0);
			break;
		}
	}
	if (passed >= 0)
		close(passed);
	close(sv[0]);
	close(sv[1]);
	fuzz_fd_check();
	return 0;
}
