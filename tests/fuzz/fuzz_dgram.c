/*
 * fuzz_dgram.c - UDP datagrams framed on a stream channel (portfwd/dgram.c)
 *
 * Reaches: rd_cb()'s reassembly of "u16 length, datagram" records read in
 * pieces of any size, the refusal of a zero or oversized length (the
 * channel ends), end of file; dgram_stream_send() framing each datagram
 * received back onto the stream, and its flush.
 *
 * A forwarded UDP flow's channel comes from the guest (host-netd's
 * hostfwd-udp.c) or from the host (guest-netd's fwdconn.c), so either end
 * may be hostile. The dgram stream is one end of a socketpair; the harness
 * writes the input into the other end in pieces (byte 0 seeds their sizes)
 * and reads back what the stream sends.
 *
 * Checks: the datagrams delivered are exactly those a plain reading of the
 * records yields, byte for byte, up to the first bad length (which must
 * end the channel with -EPROTO) or the end of the input; each datagram,
 * echoed with dgram_stream_send(), comes back framed as it went in.
 */
#include "config.h"

#include <sys/socket.h>

#include <event2/event.h>

#include "chan.h"
#include "dgram.h"
#include "fuzz.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_dgram: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static struct event_base *base;

struct run {
	const uint8_t		*input;	/* the records, for comparison */
	size_t			 pos;	/* where the next record starts */
	unsigned		 ndgrams;
	int			 closed;
	int			 err;
	struct dgram_stream	*ds;
	uint8_t			*echo;	/* what we should read back */
	size_t			 echo_len;
};

static void
on_dgram(void *arg, const uint8_t *d, size_t len)
{
	struct run *r = arg;
	size_t want;

	CHECK(!r->closed);
	CHECK(len >= 1 && len <= DGRAM_MAX);
	want = (size_t)r->input[r->pos] << 8 | r->input[r->pos + 1];
	CHECK(len == want);
	CHECK(memcmp(d, r->input + r->pos + DGRAM_HDR, len) == 0);
	r->pos += DGRAM_HDR + len;
	r->ndgrams++;
	/* Echoed as a forwarder would send a reply: framed the same way. */
	if (dgram_stream_send(r->ds, d, len) == 0 &&
	    r->echo_len + DGRAM_HDR + len <= 2 * DGRAM_QUEUE_MAX) {
		r->echo[r->echo_len] = (uint8_t)(len >> 8);
		r->echo[r->echo_len + 1] = (uint8_t)len;
		memcpy(r->echo + r->echo_len + DGRAM_HDR, d, len);
		r->echo_len += DGRAM_HDR + len;
	}
}

static void
on_closed(void *arg, int err)
{
	struct run *r = arg;

	r->closed++;
	r->err = err;
}

/* Reads what the stream sent back and compares it with the echo. */
static void
read_back(int fd, struct run *r, size_t *got)
{
	static uint8_t buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		CHECK(*got + (size_t)n <= r->echo_len);
		CHECK(memcmp(buf, r->echo + *got, (size_t)n) == 0);
		*got += (size_t)n;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	if (!(base = event_base_new()))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t echo[2 * DGRAM_QUEUE_MAX + 65536];
	struct run r;
	size_t off = 0, piece, got = 0, pos, len;
	uint32_t rng;
	unsigned i, want = 0;
	bool bad = false;
	ssize_t w;
	int sv[2];

	if (size < 1)
		return 0;
	fuzz_fd_mark();
	rng = data[0] * 2246822519u + 7;
	data++;
	size--;
	memset(&r, 0, sizeof(r));
	r.input = data;
	r.echo = echo;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	if (!(r.ds = dgram_stream_new(base, sv[0], on_dgram, on_closed, &r)))
		abort();
	while (off < size && !r.closed) {
		rng = rng * 1103515245u + 12345u;
		piece = (rng >> 16) % 3 == 0 ? 1 + (rng >> 8) % 3 :
		    1 + (rng >> 4) % 70000;
		if (piece > size - off)
			piece = size - off;
		w = write(sv[1], data + off, piece);
		if (w > 0)
			off += (size_t)w;
		event_base_loop(base, EVLOOP_NONBLOCK);
		read_back(sv[1], &r, &got);
	}
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 64 && !r.closed; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		read_back(sv[1], &r, &got);
	}
	CHECK(r.closed == 1);

	/* The records, read plainly. */
	for (pos = 0; size - pos >= DGRAM_HDR; pos += DGRAM_HDR + len) {
		len = (size_t)data[pos] << 8 | data[pos + 1];
		if (len == 0 || len > DGRAM_MAX) {
			bad = true;
			break;
		}
		if (len > size - pos - DGRAM_HDR)
			break;
		want++;
	}
	CHECK(r.ndgrams == want);
	CHECK(bad ? r.err == -EPROTO : r.err == 0);

	dgram_stream_free(r.ds);	/* closes sv[0] */
	read_back(sv[1], &r, &got);
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	fuzz_fd_check();
	return 0;
}
