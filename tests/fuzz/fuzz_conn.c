/*
 * fuzz_conn.c - the frame reader of the event-loop connection (common/conn.c)
 *
 * Reaches: read_cb()'s reads and dispatch(): frames reassembled from
 * pieces of any size, vmn_hdr_decode() on each header, vmn_msg_parse() on
 * each whole frame, the owner's callback, a handler's error, a close after
 * flush in the middle of the input, end of file; vmn_conn_send() answering
 * from inside the callback.
 *
 * The connection is one end of a socketpair driven by its own event base;
 * the harness writes the input into the other end in pieces, running the
 * loop after each. Input: byte 0 seeds the piece sizes, byte 1 says which
 * frames the handler answers with an error (seq % 256 == byte 1, when it
 * is not 0) and which ones close after flush (PING requests); the rest is
 * the byte stream.
 *
 * Checks: the frames delivered are exactly, in order, those a plain
 * sequential parse of the same stream yields up to the first frame that
 * ends the connection; the close callback runs once, after the last
 * frame; nothing is left open.
 */
#include "config.h"

#include <sys/socket.h>

#include <event2/event.h>

#include "conn.h"
#include "fuzz.h"

#define MAX_SEEN	4096

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_conn: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static struct event_base *base;

struct run {
	uint8_t		 fail_seq;	/* 0: never */
	unsigned	 nseen;
	uint16_t	 type[MAX_SEEN];
	uint32_t	 seq[MAX_SEEN];
	unsigned	 closes;
	unsigned	 msgs_after_close;
	int		 err;
};

/* What the handler does with a frame: 0, an error, or close after flush. */
static int
verdict(const struct run *r, const struct vmn_hdr *h)
{
	if (r->fail_seq && (h->seq & 0xff) == r->fail_seq)
		return -EPROTO;
	if (h->type == VMN_MSG_PING && (h->flags & VMN_F_REQUEST) &&
	    (h->seq & 0x100))
		return 1;	/* answered, then closed after flush */
	return 0;
}

static int
on_msg(struct vmn_conn *c, const struct vmn_msg *m, void *arg)
{
	struct run *r = arg;
	uint8_t buf[64];
	struct vmn_buf b;
	int v;

	if (r->closes)
		r->msgs_after_close++;
	if (r->nseen < MAX_SEEN) {
		r->type[r->nseen] = m->hdr.type;
		r->seq[r->nseen] = m->hdr.seq;
	}
	r->nseen++;
	v = verdict(r, &m->hdr);
	if (v < 0)
		return v;
	if (m->hdr.type == VMN_MSG_PING && (m->hdr.flags & VMN_F_REQUEST)) {
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_PING, VMN_F_REPLY, m->hdr.seq);
		if (vmn_conn_send_buf(c, &b) < 0)
			return -EIO;
		if (v == 1)
			vmn_conn_close_after_flush(c, "asked to");
	}
	return 0;
}

static void
on_close(struct vmn_conn *c, int err, const char *why, void *arg)
{
	struct run *r = arg;

	CHECK(why != NULL);
	r->closes++;
	r->err = err;
}

/* What conn.c should deliver: a sequential parse, as the wire defines it. */
static unsigned
expected(const struct run *r, const uint8_t *p, size_t len, uint16_t *type,
    uint32_t *seq)
{
	const char *why = NULL;
	struct vmn_hdr h;
	struct vmn_msg m;
	size_t off = 0, flen;
	unsigned n = 0;

	while (len - off >= VMN_HDR_LEN) {
		if (vmn_hdr_decode(p + off, len - off, &h, &why) < 0)
			break;
		flen = VMN_HDR_LEN + (size_t)h.length;
		if (flen > len - off ||
		    vmn_msg_parse(p + off, flen, &m, &why) < 0)
			break;
		if (n < MAX_SEEN) {
			type[n] = m.hdr.type;
			seq[n] = m.hdr.seq;
		}
		n++;
		if (verdict(r, &m.hdr) != 0)
			break;
		off += flen;
	}
	return n;
}

static void
drain(int fd)
{
	static uint8_t junk[65536];

	while (read(fd, junk, sizeof(junk)) > 0)
		;
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
	static uint16_t etype[MAX_SEEN];
	static uint32_t eseq[MAX_SEEN];
	static struct run r;
	struct vmn_conn *c;
	uint32_t rng;
	size_t off = 0, piece;
	unsigned n, i;
	ssize_t w;
	int sv[2];

	if (size < 2)
		return 0;
	fuzz_fd_mark();
	memset(&r, 0, sizeof(r));
	rng = data[0] * 2654435761u + 1;
	r.fail_seq = data[1];
	data += 2;
	size -= 2;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	if (!(c = vmn_conn_new(base, sv[0], "fuzz", on_msg, on_close, &r)))
		abort();
	while (off < size && !r.closes) {
		/* Pieces of 1 byte to 64 KiB, some tiny, some whole frames. */
		rng = rng * 1103515245u + 12345u;
		piece = (rng >> 16) % 4 == 0 ? 1 + (rng >> 8) % 7 :
		    1 + (rng >> 4) % 65536;
		if (piece > size - off)
			piece = size - off;
		w = write(sv[1], data + off, piece);
		if (w > 0)
			off += (size_t)w;
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain(sv[1]);
	}
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 64 && !r.closes; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain(sv[1]);
	}
	CHECK(r.closes == 1);
	CHECK(r.msgs_after_close == 0);

	n = expected(&r, data, off, etype, eseq);
	CHECK(r.nseen == n);
	for (i = 0; i < n && i < MAX_SEEN; i++)
		CHECK(r.type[i] == etype[i] && r.seq[i] == eseq[i]);

	vmn_conn_free(c);
	close(sv[1]);
	/* Nothing of this connection may still be scheduled. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	fuzz_fd_check();
	return 0;
}
