/*
 * vmn-vhost-guest.c - QEMU and a guest's vsock driver in one process, for
 * testing vmnet-vsockd with a guest that a real kernel never is
 *
 *   vmn-vhost-guest [-v] [-t SECONDS] --socket PATH --uds PATH
 *       [--echo-port P] [--expect-cid N] SCENARIO...
 *
 * As the vhost-user front-end it connects to --socket, negotiates
 * features, reads the guest CID from the config space, shares a 4 MiB
 * memfd as guest RAM (gpa 0) and sets up queue 0 (rx: buffers it lends)
 * and queue 1 (tx: packets it sends) with eventfds for kicks and calls.
 * As the guest it speaks virtio-vsock on those queues, checking every
 * packet the device sends (addresses, lengths, the state of the
 * connection, the credit it gave). As host programs it listens at
 * --uds's PATH_P (echo, sink or source servers) and connects to --uds.
 *
 * Scenarios (one result line each, "ok NAME: ..." or "FAIL NAME: ..."):
 *   connect       REQUEST -> RESPONSE; 4 streams of 512 KiB echoed at once
 *                 (--echo-port: an outside echo server, else our own),
 *                 checksums compared; SHUTDOWN both -> RST; a half-close
 *   refused       REQUEST with nothing at PATH_P, a file there, a stale
 *                 socket, another CID -> RST; RW to no connection -> RST
 *   host-connect  "CONNECT 1234\n" (early data behind it) -> REQUEST; no
 *                 "OK" before our RESPONSE; 512 KiB each way; EOF ->
 *                 SHUTDOWN; a refused, an unanswered (5 s), a bad CONNECT
 *   credit        a host program that never reads: filling exactly the
 *                 credit is no reset, one byte more is; a guest ignoring
 *                 credit is reset; other connections keep working
 *   guest-credit  our buf_alloc 4096 (and 5000), credit returned only by
 *                 CREDIT_UPDATE: never more in flight; 1 MiB exact
 *   many          1100 REQUESTs at once: 1024 RESPONSE, 76 RST; echo and
 *                 refusal while full; all closed; 1024 again
 *   malformed     bad src_cid, len past the buffer, len short of it, len
 *                 past 64 KiB, unknown ops, RW to nothing, SEQPACKET,
 *                 control packets with data, bad chains on tx and rx,
 *                 out-of-protocol packets: RST or dropped, the device's
 *                 state consistent with what it told the guest
 *   corrupt       a tx descriptor whose next is out of range, an rx chain
 *                 that loops (zero-length), an avail entry out of range,
 *                 an avail index that runs ahead, a tx chain that loops
 *                 through buffers: the device stops, drops its connections,
 *                 refuses host programs; it recovers after a reconnect, a
 *                 ring restart (as on a reboot) and RESET_DEVICE
 *   frontend      vhost-user misuse: a failing SET_MEM_TABLE while running,
 *                 an unknown request, SET_VRING_NUM on a started ring, an
 *                 oversized message
 *   all           each of them in turn, in one session
 *
 * Every packet from the device is checked whatever the scenario: its CIDs,
 * type and op, header len against the used length, the connection's state,
 * our credit; any violation fails the scenario. Used buffers that come
 * without a call (interrupt) are a warning on the result line. A failed
 * scenario is followed by a new front-end session for the next one.
 *
 * Exit status: 0 all passed, 1 a scenario failed, 2 usage or setup.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "virtq.h"
#include "vsockdev.h"

/* vhost-user, from the specification (not from the back-end's headers). */
#define FE_GET_FEATURES			1
#define FE_SET_FEATURES			2
#define FE_SET_OWNER			3
#define FE_SET_MEM_TABLE		5
#define FE_SET_VRING_NUM		8
#define FE_SET_VRING_ADDR		9
#define FE_SET_VRING_BASE		10
#define FE_GET_VRING_BASE		11
#define FE_SET_VRING_KICK		12
#define FE_SET_VRING_CALL		13
#define FE_GET_PROTOCOL_FEATURES	15
#define FE_SET_PROTOCOL_FEATURES	16
#define FE_SET_VRING_ENABLE		18
#define FE_GET_CONFIG			24
#define FE_RESET_DEVICE			34
#define FE_VERSION			0x1
#define FE_FLAG_REPLY			0x4
#define FE_FLAG_NEED_REPLY		0x8
#define FE_F_PROTOCOL_FEATURES		(1ull << 30)
#define FE_F_VERSION_1			(1ull << 32)
#define FE_PF_REPLY_ACK			(1ull << 3)
#define FE_PF_CONFIG			(1ull << 9)
#define FE_PF_RESET_DEVICE		(1ull << 13)

/* What the device promises (vsockdev.c's theory of operation). */
#define HOST_CID		2
#define DEV_BUF_ALLOC		(256 * 1024)
#define DEV_MAX_CONNS		1024
#define DEV_CLOSE_MS		5000
#define DEV_CONNECT_MS		5000
#define TYPE_STREAM		1
#define TYPE_SEQPACKET		2
#define SHUT_RCV_F		1
#define SHUT_SEND_F		2
#define LOCAL_PORT_MIN		(1u << 30)

/* Guest RAM: 4 MiB at gpa 0. */
#define MEM_SIZE	(4u << 20)
#define RXQ		0
#define TXQ		1
#define RXQ_NUM		512
#define TXQ_NUM		256
#define RX_BUFS		(RXQ_NUM / 2)	/* heads 2b (and 2b+1 when split) */
#define RX_BUF_SIZE	4096
#define TX_SLOTS	(TXQ_NUM / 2)	/* heads 2s, data in 2s+1 */
#define TX_SLOT_SIZE	8192
#define TX_DATA_OFF	64
#define TX_DATA_MAX	(TX_SLOT_SIZE - TX_DATA_OFF)
#define RX_DESC		0x000000u
#define RX_AVAIL	0x002000u
#define RX_USED		0x003000u
#define TX_DESC		0x006000u
#define TX_AVAIL	0x007000u
#define TX_USED		0x008000u
#define RX_HDRS		0x00a000u	/* split rx buffers: their headers */
#define SCRATCH		0x010000u	/* crafted packets */
#define SCRATCH_SIZE	0x030000u
#define RX_BUF_BASE	0x040000u
#define TX_BASE		0x140000u

#define EV_RING		16384
#define MAX_REPLIES	8192
#define ECHO_BUF	65536

/* ---- bookkeeping ---------------------------------------------------------- */

struct gvq {
	unsigned		 num;
	uint64_t		 desc_gpa, avail_gpa, used_gpa;
	struct vring_desc	*desc;
	struct vring_avail	*avail;
	struct vring_used	*used;
	uint16_t		 avail_idx;	/* next we publish */
	uint16_t		 last_used;	/* next we read */
	int			 kick, call;
	bool			 irq;		/* call fired, not yet scanned */
	int64_t			 stale_since;	/* used entries, no call yet */
	unsigned		 lost_irqs;
};

enum gstate { G_CONNECTING, G_REQ_IN, G_OPEN, G_CLOSED };

/* A guest socket. */
struct gconn {
	uint32_t	 gport, hport;
	enum gstate	 state;
	bool		 resp, rst;
	int64_t		 rst_ms;
	unsigned	 nrst;
	uint32_t	 shut;		/* SHUTDOWN flags the device sent */
	uint32_t	 resp_buf_alloc, req_buf_alloc;
	/* our receive side */
	uint32_t	 buf_alloc, fwd_cnt, fwd_adv;
	bool		 auto_credit;
	uint64_t	 rx_bytes, rfnv;
	bool		 rcheck, echo;
	uint32_t	 rseed;
	bool		 rbad;
	uint64_t	 rbad_off;
	unsigned	 credit_viol;
	uint32_t	 max_in_flight;
	unsigned	 creq, cupd;
	/* our send side */
	uint32_t	 peer_buf_alloc, peer_fwd_cnt;
	uint32_t	 tx_cnt;
	uint32_t	 tseed;
	uint64_t	 tx_stream, tfnv;
	uint32_t	 max_usage;	/* sent - fwd_cnt seen, at worst */
	struct hsock	*h;		/* its host side, when ours */
};

enum hrole { H_LISTEN, H_ECHO, H_SINK, H_SOURCE, H_CLIENT };

/* A host program's socket. */
struct hsock {
	int		 fd;
	enum hrole	 role;
	uint32_t	 port;
	char		 path[128];
	/* listeners: what accepted sockets do */
	enum hrole	 child_role;
	uint64_t	 child_total;
	uint32_t	 child_seed;
	struct hsock	*parent;
	unsigned	 naccepted;
	unsigned	 seq;		/* accepted: its parent's count then */
	bool		 taken;
	/* reading */
	bool		 reading, echo, rcheck;
	uint32_t	 rseed;
	uint64_t	 rcvd, rfnv;
	bool		 rbad;
	uint64_t	 rbad_off;
	bool		 eof, err;
	/* writing */
	uint32_t	 tseed;
	uint64_t	 total, sent;
	bool		 shut_after, shut_done, write_after_ok;
	uint8_t		*pend;
	size_t		 pend_off, pend_len;
	/* "OK <port>\n" */
	bool		 want_ok, got_ok;
	char		 line[64];
	size_t		 linelen;
	uint32_t	 ok_port;
};

enum gl_mode { GL_ACCEPT, GL_REFUSE, GL_SILENT, GL_MANUAL };

/* A guest listening port, for host -> guest connections. */
struct glisten {
	uint32_t	 port;
	enum gl_mode	 mode;
	uint32_t	 buf_alloc;
	bool		 auto_credit, rcheck;
	uint32_t	 rseed, tseed;
};

struct gevent {
	uint64_t	 seq;
	uint64_t	 src_cid;
	uint32_t	 sport, dport, flags, len, buf_alloc, fwd_cnt;
	uint16_t	 op, type;
};

static struct {
	const char	*sock_path, *uds;
	uint32_t	 echo_port;
	uint64_t	 expect_cid;
	int		 timeout_s;
	/* front-end */
	int		 vu;
	bool		 reply_ack;
	uint64_t	 features, pfeatures;
	uint64_t	 cid;
	int		 memfd;
	uint8_t		*mem;
	struct gvq	 q[2];
	bool		 rx_posted[RX_BUFS];
	uint8_t		 rx_bad[RX_BUFS];
	unsigned	 rx_bad_back, rx_empty;
	bool		 tx_busy[TX_SLOTS];
	unsigned	 tx_next;
	/* the back-end */
	bool		 dead;
	char		 dead_why[160];
	unsigned	 proto_errs;
	char		 proto_first[256];
	/* guest */
	struct gconn	**gc;
	unsigned	 ngc, gccap;
	struct glisten	 gl[8];
	unsigned	 ngl;
	uint32_t	 next_port;
	struct vsock_hdr replies[MAX_REPLIES];
	unsigned	 nreplies;
	struct gevent	 ev[EV_RING];
	uint64_t	 ev_seq;
	/* host */
	struct hsock	**hs;
	unsigned	 nhs, hscap;
	/* the scenario */
	int64_t		 deadline;
	bool		 timed_out;
	bool		 sc_failed;
	char		 fail_msg[1024];
	char		 summary[512];
	char		 warn[256];
	uint32_t	 rnd;
} G = { .vu = -1, .memfd = -1, .timeout_s = 90, .next_port = 40000 };

static int verbose;

static void pump(int ms);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
dbg(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "[%lld] ", (long long)(now_ms() % 100000));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Records a failed check (all of them, "; " between); always -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	size_t n = strlen(G.fail_msg);
	va_list ap;

	if (n && n < sizeof(G.fail_msg) - 3) {
		strcpy(G.fail_msg + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	if (n < sizeof(G.fail_msg) - 1)
		vsnprintf(G.fail_msg + n, sizeof(G.fail_msg) - n, fmt, ap);
	va_end(ap);
	G.sc_failed = true;
	dbg("FAIL: %s", G.fail_msg + n);
	return -1;
}

static void summary(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
summary(const char *fmt, ...)
{
	size_t n = strlen(G.summary);
	va_list ap;

	if (n && n < sizeof(G.summary) - 3) {
		strcpy(G.summary + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	if (n < sizeof(G.summary) - 1)
		vsnprintf(G.summary + n, sizeof(G.summary) - n, fmt, ap);
	va_end(ap);
}

/* Not a failure, but worth a word in the result line. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warn(const char *fmt, ...)
{
	size_t n = strlen(G.warn);
	va_list ap;

	if (n && n < sizeof(G.warn) - 3) {
		strcpy(G.warn + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	if (n < sizeof(G.warn) - 1)
		vsnprintf(G.warn + n, sizeof(G.warn) - n, fmt, ap);
	va_end(ap);
}

/* A protocol violation by the device (checked after each scenario). */
static void proto(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
proto(const char *fmt, ...)
{
	va_list ap;

	if (!G.proto_errs++) {
		va_start(ap, fmt);
		vsnprintf(G.proto_first, sizeof(G.proto_first), fmt, ap);
		va_end(ap);
		dbg("device protocol violation: %s", G.proto_first);
	}
}

static uint32_t
rnd(void)
{
	G.rnd = G.rnd * 1103515245u + 12345u;
	return G.rnd >> 8;
}

/* Waits up to ms for cond (re-evaluated after each pump). */
#define WAIT_FOR(ms, cond) __extension__ ({				\
	int64_t end_ = now_ms() + (ms);					\
	bool ok_;							\
	while (!(ok_ = (cond)) && now_ms() < end_ && !G.dead &&		\
	    !G.timed_out)						\
		pump(10);						\
	ok_;								\
})

static void
settle(int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end && !G.dead)
		pump((int)(end - now_ms()));
}

/* ---- data streams ------------------------------------------------------------ */

static uint64_t
pat_word(uint32_t seed, uint64_t w)
{
	uint64_t x = w * 0x9e3779b97f4a7c15ull + ((uint64_t)seed << 32 | seed);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void
pat_fill(uint32_t seed, uint64_t off, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, off++)
		p[i] = (uint8_t)(pat_word(seed, off >> 3) >> ((off & 7) * 8));
}

/* The first byte of p that is not stream seed at off; n if none. */
static size_t
pat_mismatch(uint32_t seed, uint64_t off, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, off++)
		if (p[i] != (uint8_t)(pat_word(seed, off >> 3) >> ((off & 7) * 8)))
			return i;
	return n;
}

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	if (!h)
		h = 0xcbf29ce484222325ull;
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t
stream_fnv(uint32_t seed, uint64_t n)
{
	uint8_t buf[4096];
	uint64_t h = 0, off = 0;
	size_t k;

	while (off < n) {
		k = n - off > sizeof(buf) ? sizeof(buf) : (size_t)(n - off);
		pat_fill(seed, off, buf, k);
		h = fnv(h, buf, k);
		off += k;
	}
	return h;
}

/* ---- events: every packet the device sent ------------------------------------ */

static void
ev_add(const struct gevent *e)
{
	struct gevent *d = &G.ev[G.ev_seq % EV_RING];

	*d = *e;
	d->seq = G.ev_seq++;
}

static const struct gevent *
ev_find(uint64_t since, uint16_t op, uint32_t sport, uint32_t dport)
{
	uint64_t s = G.ev_seq > EV_RING ? G.ev_seq - EV_RING : 0;
	const struct gevent *e;

	if (s < since)
		s = since;
	for (; s < G.ev_seq; s++) {
		e = &G.ev[s % EV_RING];
		if (e->op == op && e->sport == sport && e->dport == dport)
			return e;
	}
	return NULL;
}

/* ---- the vhost-user front-end ------------------------------------------------- */

static int
fe_send(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
    const int *fds, unsigned nfds)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr	align;
	} cbuf;
	uint32_t hdr[3] = { htole32(req), htole32(flags | FE_VERSION),
	    htole32(size) };
	struct iovec iov[2] = {
		{ hdr, sizeof(hdr) },
		{ (void *)(uintptr_t)payload, size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (G.vu < 0)
		return -1;
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(G.vu, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(hdr) + size)) {
		snprintf(G.dead_why, sizeof(G.dead_why), "vhost-user send of "
		    "request %u: %s", req, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

static int
read_full(int fd, void *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = recv(fd, (uint8_t *)buf + off, len - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		off += (size_t)n;
	}
	return 0;
}

/* The reply to req: its payload, exactly size bytes. */
static int
fe_reply(uint32_t req, void *payload, uint32_t size)
{
	uint32_t hdr[3];
	uint8_t junk[4096];
	int rc;

	if ((rc = read_full(G.vu, hdr, sizeof(hdr))) < 0) {
		snprintf(G.dead_why, sizeof(G.dead_why), "no reply to request "
		    "%u: %s", req, rc == -ECONNRESET ? "back-end hung up" :
		    strerror(-rc));
		return -1;
	}
	if (le32toh(hdr[0]) != req ||
	    le32toh(hdr[1]) != (FE_VERSION | FE_FLAG_REPLY) ||
	    le32toh(hdr[2]) != size) {
		snprintf(G.dead_why, sizeof(G.dead_why), "reply to request %u: "
		    "request %u flags %#x size %u (want %u)", req,
		    le32toh(hdr[0]), le32toh(hdr[1]), le32toh(hdr[2]), size);
		if (le32toh(hdr[2]) <= sizeof(junk))
			(void)read_full(G.vu, junk, le32toh(hdr[2]));
		return -1;
	}
	if (size && read_full(G.vu, payload, size) < 0) {
		snprintf(G.dead_why, sizeof(G.dead_why), "short reply to "
		    "request %u", req);
		return -1;
	}
	return 0;
}

/*
 * A request without a reply of its own; with REPLY_ACK, waits for the
 * status: 0 done, 1 refused (*status), -1 the session failed.
 */
static int
fe_req(uint32_t req, const void *p, uint32_t size, const int *fds,
    unsigned nfds, uint64_t *status)
{
	uint64_t st = 0;

	if (fe_send(req, G.reply_ack ? FE_FLAG_NEED_REPLY : 0, p, size, fds,
	    nfds) < 0)
		return -1;
	if (G.reply_ack && fe_reply(req, &st, sizeof(st)) < 0)
		return -1;
	st = le64toh(st);
	if (status)
		*status = st;
	else if (st) {
		snprintf(G.dead_why, sizeof(G.dead_why), "the back-end refused "
		    "request %u (status %" PRIu64 ")", req, st);
		return -1;
	}
	return 0;
}

static int
fe_get_u64(uint32_t req, uint64_t *v)
{
	if (fe_send(req, 0, NULL, 0, NULL, 0) < 0 ||
	    fe_reply(req, v, sizeof(*v)) < 0)
		return -1;
	*v = le64toh(*v);
	return 0;
}

static int
fe_u64(uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	v = htole64(v);
	return fe_req(req, &v, sizeof(v), fds, nfds, NULL);
}

static int
fe_state(uint32_t req, uint32_t idx, uint32_t num)
{
	uint32_t p[2] = { htole32(idx), htole32(num) };

	return fe_req(req, p, sizeof(p), NULL, 0, NULL);
}

static int
fe_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int64_t end = now_ms() + 5000;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", G.sock_path);
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		close(fd);
		if (now_ms() > end) {
			snprintf(G.dead_why, sizeof(G.dead_why), "%s: %s",
			    G.sock_path, strerror(errno));
			return -1;
		}
		usleep(20000);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	G.vu = fd;
	G.dead = false;
	G.reply_ack = false;
	return 0;
}

static int
fe_negotiate(void)
{
	uint8_t cfg[12 + 8], out[12 + 8];
	uint64_t f, pf, want;
	uint32_t v;

	G.reply_ack = false;
	if (fe_send(FE_SET_OWNER, 0, NULL, 0, NULL, 0) < 0 ||
	    fe_get_u64(FE_GET_FEATURES, &f) < 0)
		return -1;
	if (!(f & FE_F_VERSION_1) || !(f & FE_F_PROTOCOL_FEATURES)) {
		snprintf(G.dead_why, sizeof(G.dead_why), "features %#" PRIx64
		    " lack VERSION_1 or PROTOCOL_FEATURES", f);
		return -1;
	}
	if (fe_get_u64(FE_GET_PROTOCOL_FEATURES, &pf) < 0)
		return -1;
	want = pf & (FE_PF_REPLY_ACK | FE_PF_CONFIG | FE_PF_RESET_DEVICE);
	if (!(want & FE_PF_CONFIG)) {
		snprintf(G.dead_why, sizeof(G.dead_why), "protocol features "
		    "%#" PRIx64 " lack CONFIG", pf);
		return -1;
	}
	if (fe_u64(FE_SET_PROTOCOL_FEATURES, want, NULL, 0) < 0)
		return -1;
	G.pfeatures = want;
	G.reply_ack = (want & FE_PF_REPLY_ACK) != 0;
	/* struct vhost_user_config: offset, size, flags, then the space. */
	memset(cfg, 0, sizeof(cfg));
	v = htole32(8);
	memcpy(cfg + 4, &v, 4);
	if (fe_send(FE_GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0) < 0 ||
	    fe_reply(FE_GET_CONFIG, out, sizeof(out)) < 0)
		return -1;
	if (memcmp(out, cfg, 12) != 0) {
		snprintf(G.dead_why, sizeof(G.dead_why), "GET_CONFIG reply "
		    "names another part of the config space");
		return -1;
	}
	memcpy(&G.cid, out + 12, 8);
	G.cid = le64toh(G.cid);
	if (G.cid < 3 || G.cid >= UINT32_MAX ||
	    (G.expect_cid && G.cid != G.expect_cid)) {
		snprintf(G.dead_why, sizeof(G.dead_why), "guest CID %" PRIu64
		    " from GET_CONFIG", G.cid);
		return -1;
	}
	G.features = FE_F_VERSION_1 | FE_F_PROTOCOL_FEATURES;
	return fe_u64(FE_SET_FEATURES, G.features, NULL, 0);
}

static int
fe_mem_table(int fd, uint64_t size)
{
	uint8_t p[8 + 32];
	uint64_t r[4] = { 0, htole64(size), htole64((uintptr_t)G.mem), 0 };
	uint32_t n = htole32(1);

	memset(p, 0, sizeof(p));
	memcpy(p, &n, 4);
	memcpy(p + 8, r, sizeof(r));
	return fe_req(FE_SET_MEM_TABLE, p, sizeof(p), &fd, 1, NULL);
}

static int
fe_mem(void)
{
	if (G.mem)
		munmap(G.mem, MEM_SIZE);
	if (G.memfd >= 0)
		close(G.memfd);
	G.mem = NULL;
	if ((G.memfd = memfd_create("vmn-guest-ram", MFD_CLOEXEC)) < 0 ||
	    ftruncate(G.memfd, MEM_SIZE) < 0 ||
	    (G.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    G.memfd, 0)) == MAP_FAILED) {
		G.mem = NULL;
		snprintf(G.dead_why, sizeof(G.dead_why), "guest RAM: %s",
		    strerror(errno));
		return -1;
	}
	return fe_mem_table(G.memfd, MEM_SIZE);
}

static void
set_desc(struct gvq *q, unsigned i, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	q->desc[i].addr = htole64(addr);
	q->desc[i].len = htole32(len);
	q->desc[i].flags = htole16(flags);
	q->desc[i].next = htole16(next);
}

static void
vq_publish(struct gvq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->num] = htole16(head);
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx),
	    __ATOMIC_RELEASE);
}

static void
vq_kick(const struct gvq *q)
{
	if (q->kick >= 0)
		eventfd_write(q->kick, 1);
}

enum rxbad { RXB_OK, RXB_TINY, RXB_READABLE, RXB_OUTSIDE };

/* Rx buffer b's descriptors (as kind G.rx_bad[b]). */
static void
rx_desc(unsigned b)
{
	struct gvq *q = &G.q[RXQ];
	unsigned d = 2 * b;
	uint64_t buf = RX_BUF_BASE + (uint64_t)b * RX_BUF_SIZE;

	switch (G.rx_bad[b]) {
	case RXB_TINY:
		set_desc(q, d, buf, 20, VRING_DESC_F_WRITE, 0);
		break;
	case RXB_READABLE:
		set_desc(q, d, RX_HDRS + b * 64u, VSOCK_HDR_LEN,
		    VRING_DESC_F_NEXT, (uint16_t)(d + 1));
		set_desc(q, d + 1, buf, RX_BUF_SIZE - VSOCK_HDR_LEN,
		    VRING_DESC_F_WRITE, 0);
		break;
	case RXB_OUTSIDE:
		set_desc(q, d, MEM_SIZE + 8192, RX_BUF_SIZE, VRING_DESC_F_WRITE,
		    0);
		break;
	default:
		if (b & 1) {	/* header and data apart, as older Linux */
			set_desc(q, d, RX_HDRS + b * 64u, VSOCK_HDR_LEN,
			    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
			    (uint16_t)(d + 1));
			set_desc(q, d + 1, buf, RX_BUF_SIZE - VSOCK_HDR_LEN,
			    VRING_DESC_F_WRITE, 0);
		} else
			set_desc(q, d, buf, RX_BUF_SIZE, VRING_DESC_F_WRITE, 0);
		break;
	}
}

/* Lends rx buffer b. */
static void
rx_post(unsigned b)
{
	rx_desc(b);
	G.rx_posted[b] = true;
	vq_publish(&G.q[RXQ], (uint16_t)(2 * b));
}

static int
new_eventfd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return *fd < 0 ? -1 : 0;
}

/* Fresh rings in guest RAM, all rx buffers lent, the back-end told. */
static int
fe_rings(void)
{
	static const uint64_t lay[2][3] = {
		{ RX_DESC, RX_AVAIL, RX_USED },
		{ TX_DESC, TX_AVAIL, TX_USED },
	};
	unsigned i, qi;

	for (qi = 0; qi < 2; qi++) {
		struct gvq *q = &G.q[qi];

		q->num = qi == RXQ ? RXQ_NUM : TXQ_NUM;
		q->desc_gpa = lay[qi][0];
		q->avail_gpa = lay[qi][1];
		q->used_gpa = lay[qi][2];
		q->desc = (struct vring_desc *)(G.mem + q->desc_gpa);
		q->avail = (struct vring_avail *)(G.mem + q->avail_gpa);
		q->used = (struct vring_used *)(G.mem + q->used_gpa);
		memset(q->desc, 0, sizeof(struct vring_desc) * q->num);
		memset(q->avail, 0, 6 + 2 * q->num);
		memset(q->used, 0, 6 + 8 * q->num);
		q->avail_idx = q->last_used = 0;
		q->irq = false;
		q->stale_since = 0;
		if (new_eventfd(&q->kick) < 0 || new_eventfd(&q->call) < 0)
			return -1;
	}
	memset(G.rx_posted, 0, sizeof(G.rx_posted));
	memset(G.rx_bad, 0, sizeof(G.rx_bad));
	memset(G.tx_busy, 0, sizeof(G.tx_busy));
	for (i = 0; i < RX_BUFS; i++)
		rx_post(i);
	for (qi = 0; qi < 2; qi++) {
		struct gvq *q = &G.q[qi];
		uint64_t a[5] = {
			htole64(qi),	/* index, then flags (0) */
			htole64((uintptr_t)G.mem + q->desc_gpa),
			htole64((uintptr_t)G.mem + q->used_gpa),
			htole64((uintptr_t)G.mem + q->avail_gpa),
			0,
		};

		if (fe_state(FE_SET_VRING_NUM, qi, q->num) < 0 ||
		    fe_state(FE_SET_VRING_BASE, qi, 0) < 0 ||
		    fe_req(FE_SET_VRING_ADDR, a, sizeof(a), NULL, 0, NULL) < 0 ||
		    fe_u64(FE_SET_VRING_KICK, qi, &q->kick, 1) < 0 ||
		    fe_u64(FE_SET_VRING_CALL, qi, &q->call, 1) < 0)
			return -1;
	}
	for (qi = 0; qi < 2; qi++)
		if (fe_state(FE_SET_VRING_ENABLE, qi, 1) < 0)
			return -1;
	return 0;
}

/* Stops both rings (GET_VRING_BASE), as QEMU does before a reset. */
static int
fe_stop_rings(uint32_t base[2])
{
	unsigned qi;

	for (qi = 0; qi < 2; qi++) {
		uint32_t p[2] = { htole32(qi), 0 }, r[2];

		if (fe_send(FE_GET_VRING_BASE, 0, p, sizeof(p), NULL, 0) < 0 ||
		    fe_reply(FE_GET_VRING_BASE, r, sizeof(r)) < 0)
			return -1;
		if (le32toh(r[0]) != qi) {
			snprintf(G.dead_why, sizeof(G.dead_why),
			    "GET_VRING_BASE %u answered for queue %u", qi,
			    le32toh(r[0]));
			return -1;
		}
		base[qi] = le32toh(r[1]);
	}
	return 0;
}

static void conns_drop(void);

static int
fe_setup(void)
{
	conns_drop();
	if ((G.vu < 0 && fe_connect() < 0) || fe_negotiate() < 0 ||
	    fe_mem() < 0 || fe_rings() < 0)
		return -1;
	dbg("front-end up: guest CID %" PRIu64, G.cid);
	return 0;
}

/* The front-end hangs up: guest RAM and rings go with it. */
static void
fe_close(void)
{
	unsigned qi;

	if (G.vu >= 0)
		close(G.vu);
	G.vu = -1;
	for (qi = 0; qi < 2; qi++) {
		struct gvq *q = &G.q[qi];

		if (q->kick >= 0)
			close(q->kick);
		if (q->call >= 0)
			close(q->call);
		q->kick = q->call = -1;
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
	}
	if (G.mem)
		munmap(G.mem, MEM_SIZE);
	G.mem = NULL;
	if (G.memfd >= 0)
		close(G.memfd);
	G.memfd = -1;
	conns_drop();
}

/* Whether the back-end still answers on its vhost-user socket. */
static bool
fe_alive(void)
{
	uint64_t f;

	return G.vu >= 0 && fe_get_u64(FE_GET_FEATURES, &f) == 0;
}

/* ---- guest connections ------------------------------------------------------- */

static struct gconn *
gconn_new(uint32_t gport, uint32_t hport)
{
	struct gconn *c;

	if (G.ngc == G.gccap) {
		unsigned cap = G.gccap ? G.gccap * 2 : 256;
		struct gconn **n = realloc(G.gc, cap * sizeof(*n));

		if (!n)
			abort();
		G.gc = n;
		G.gccap = cap;
	}
	if (!(c = calloc(1, sizeof(*c))))
		abort();
	c->gport = gport;
	c->hport = hport;
	c->buf_alloc = DEV_BUF_ALLOC;
	c->auto_credit = true;
	c->tseed = rnd();
	G.gc[G.ngc++] = c;
	return c;
}

/* The live connection for a 4-tuple, else the newest closed one. */
static struct gconn *
gconn_find(uint32_t gport, uint32_t hport)
{
	struct gconn *closed = NULL;
	unsigned i;

	for (i = G.ngc; i-- > 0;) {
		struct gconn *c = G.gc[i];

		if (c->gport != gport || c->hport != hport)
			continue;
		if (c->state != G_CLOSED)
			return c;
		if (!closed)
			closed = c;
	}
	return closed;
}

static void
hdr_fill(struct vsock_hdr *h, uint64_t dst_cid, uint32_t sport, uint32_t dport,
    uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(G.cid);
	h->dst_cid = htole64(dst_cid);
	h->src_port = htole32(sport);
	h->dst_port = htole32(dport);
	h->type = htole16(TYPE_STREAM);
	h->op = htole16(op);
}

static void
conn_hdr(struct gconn *c, struct vsock_hdr *h, uint16_t op, uint32_t flags,
    uint32_t len)
{
	hdr_fill(h, HOST_CID, c->gport, c->hport, op);
	h->flags = htole32(flags);
	h->len = htole32(len);
	h->buf_alloc = htole32(c->buf_alloc);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_adv = c->fwd_cnt;
}

/* A packet to send from inside pump() (no waiting there). */
static void
reply_queue(const struct vsock_hdr *h)
{
	if (G.nreplies == MAX_REPLIES) {
		proto("more than %d packets to answer at once", MAX_REPLIES);
		return;
	}
	G.replies[G.nreplies++] = *h;
}

/* ---- the tx queue -------------------------------------------------------------- */

static int
tx_slot(bool wait)
{
	int64_t end = now_ms() + 3000;
	unsigned i, s;

	for (;;) {
		if (!G.q[TXQ].desc)
			return -1;
		for (i = 0; i < TX_SLOTS; i++) {
			s = (G.tx_next + i) % TX_SLOTS;
			if (!G.tx_busy[s]) {
				G.tx_busy[s] = true;
				G.tx_next = s + 1;
				return (int)s;
			}
		}
		if (!wait || G.dead || G.timed_out)
			return -1;
		if (now_ms() > end) {
			fail("the device returned no tx buffer for 3 s");
			return -1;
		}
		pump(10);
	}
}

static uint64_t
slot_gpa(int s)
{
	return TX_BASE + (uint64_t)s * TX_SLOT_SIZE;
}

/* Header (and data) into slot s as a chain of one or two, published. */
static void
tx_publish(int s, const struct vsock_hdr *h, const void *data, uint32_t len)
{
	struct gvq *q = &G.q[TXQ];
	uint64_t a = slot_gpa(s);

	memcpy(G.mem + a, h, sizeof(*h));
	if (len) {
		memcpy(G.mem + a + TX_DATA_OFF, data, len);
		set_desc(q, 2u * s, a, VSOCK_HDR_LEN, VRING_DESC_F_NEXT,
		    (uint16_t)(2 * s + 1));
		set_desc(q, 2u * s + 1, a + TX_DATA_OFF, len, 0, 0);
	} else
		set_desc(q, 2u * s, a, VSOCK_HDR_LEN, 0, 0);
	vq_publish(q, (uint16_t)(2 * s));
	vq_kick(q);
}

/* Sends a packet, waiting for a free slot; data at most TX_DATA_MAX. */
static int
tx_send(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	int s;

	if (len > TX_DATA_MAX)
		abort();
	if ((s = tx_slot(true)) < 0)
		return -1;
	tx_publish(s, h, data, len);
	return 0;
}

static void
flush_replies(void)
{
	unsigned i = 0;
	int s;

	while (i < G.nreplies && (s = tx_slot(false)) >= 0)
		tx_publish(s, &G.replies[i++], NULL, 0);
	memmove(G.replies, G.replies + i, (G.nreplies - i) *
	    sizeof(G.replies[0]));
	G.nreplies -= i;
}

static int
g_send(struct gconn *c, uint16_t op, uint32_t flags, const void *data,
    uint32_t len)
{
	struct vsock_hdr h;

	conn_hdr(c, &h, op, flags, len);
	if (op == VSOCK_OP_RW)
		c->tx_cnt += len;
	return tx_send(&h, data, len);
}

static uint32_t
g_credit(const struct gconn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/*
 * One RW of c's stream, at most max bytes (and its credit unless told
 * to ignore it): bytes sent, 0 for no credit now, -1 closed or failed.
 */
static int
g_write_some(struct gconn *c, uint32_t max, bool ignore_credit)
{
	uint8_t buf[TX_DATA_MAX];
	uint32_t k = max > TX_DATA_MAX ? TX_DATA_MAX : max, cr;

	if (c->state != G_OPEN)
		return -1;
	if (!ignore_credit) {
		cr = g_credit(c);
		if (k > cr)
			k = cr;
	}
	if (k == 0)
		return 0;
	pat_fill(c->tseed, c->tx_stream, buf, k);
	if (g_send(c, VSOCK_OP_RW, 0, buf, k) < 0)
		return -1;
	c->tfnv = fnv(c->tfnv, buf, k);
	c->tx_stream += k;
	if (c->tx_cnt - c->peer_fwd_cnt > c->max_usage)
		c->max_usage = c->tx_cnt - c->peer_fwd_cnt;
	return (int)k;
}

/* n bytes of c's stream in packets of varying sizes, within its credit. */
static int
g_write_stream(struct gconn *c, uint64_t n)
{
	int64_t stall = 0;
	uint32_t want;
	int k;

	while (n) {
		want = 1 + rnd() % TX_DATA_MAX;
		if (want > n)
			want = (uint32_t)n;
		if ((k = g_write_some(c, want, false)) < 0)
			return fail("guest port %u: connection closed with "
			    "%" PRIu64 " bytes still to send (%s)", c->gport, n,
			    c->rst ? "RST" : "state");
		if (k == 0) {
			if (!stall) {
				stall = now_ms();
				g_send(c, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
			} else if (now_ms() - stall > 5000)
				return fail("guest port %u: no credit from the "
				    "device for 5 s (%u sent, fwd_cnt %u, "
				    "buf_alloc %u)", c->gport, c->tx_cnt,
				    c->peer_fwd_cnt, c->peer_buf_alloc);
			pump(5);
			continue;
		}
		stall = 0;
		n -= (uint64_t)k;
		pump(0);
		if (G.dead || G.timed_out)
			return fail("%s", G.dead ? G.dead_why : "timed out");
	}
	return 0;
}

/* ---- the rx queue: packets from the device ------------------------------------ */

static const struct glisten *
glisten_find(uint32_t port)
{
	unsigned i;

	for (i = 0; i < G.ngl; i++)
		if (G.gl[i].port == port)
			return &G.gl[i];
	return NULL;
}

static void
incoming_request(const struct vsock_hdr *wh, uint32_t gport, uint32_t hport)
{
	const struct glisten *l = glisten_find(gport);
	struct vsock_hdr h;
	struct gconn *c;

	if (!l) {		/* nothing listens: RST, as Linux does */
		hdr_fill(&h, HOST_CID, gport, hport, VSOCK_OP_RST);
		reply_queue(&h);
		return;
	}
	c = gconn_new(gport, hport);
	c->state = G_REQ_IN;
	c->req_buf_alloc = le32toh(wh->buf_alloc);
	c->peer_buf_alloc = le32toh(wh->buf_alloc);
	c->peer_fwd_cnt = le32toh(wh->fwd_cnt);
	c->buf_alloc = l->buf_alloc;
	c->auto_credit = l->auto_credit;
	c->rcheck = l->rcheck;
	c->rseed = l->rseed;
	c->tseed = l->tseed;
	switch (l->mode) {
	case GL_ACCEPT:
		conn_hdr(c, &h, VSOCK_OP_RESPONSE, 0, 0);
		reply_queue(&h);
		c->state = G_OPEN;
		break;
	case GL_REFUSE:
		conn_hdr(c, &h, VSOCK_OP_RST, 0, 0);
		reply_queue(&h);
		c->state = G_CLOSED;
		break;
	case GL_SILENT:
	case GL_MANUAL:
		break;
	}
}

static void
rx_data(struct gconn *c, const uint8_t *data, uint32_t len)
{
	uint32_t in_flight;
	size_t bad;
	struct vsock_hdr h;

	if (c->state != G_OPEN) {
		proto("RW for guest port %u in state %d", c->gport, c->state);
		return;
	}
	if (c->shut & SHUT_SEND_F)
		proto("RW for guest port %u after the device's SHUTDOWN SEND",
		    c->gport);
	/* What the device may have in flight: what it knew we consumed. */
	in_flight = (uint32_t)(c->rx_bytes + len) - c->fwd_adv;
	if (in_flight > c->max_in_flight)
		c->max_in_flight = in_flight;
	if (in_flight > c->buf_alloc) {
		if (!c->credit_viol++)
			dbg("guest port %u: %u bytes in flight, credit %u",
			    c->gport, in_flight, c->buf_alloc);
	}
	if (c->rcheck && !c->rbad) {
		bad = pat_mismatch(c->rseed, c->rx_bytes, data, len);
		if (bad < len) {
			c->rbad = true;
			c->rbad_off = c->rx_bytes + bad;
		} else if (c->echo && c->rx_bytes + len > c->tx_stream) {
			c->rbad = true;
			c->rbad_off = c->tx_stream;
		}
	}
	c->rfnv = fnv(c->rfnv, data, len);
	c->rx_bytes += len;
	if (c->auto_credit) {
		c->fwd_cnt += len;
		if (c->fwd_cnt - c->fwd_adv >= c->buf_alloc / 4) {
			conn_hdr(c, &h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
			reply_queue(&h);
		}
	}
}

static void
rx_packet(const struct vsock_hdr *wh, const uint8_t *data, uint32_t dlen)
{
	struct gevent e = {
		.src_cid = le64toh(wh->src_cid),
		.sport = le32toh(wh->src_port),
		.dport = le32toh(wh->dst_port),
		.flags = le32toh(wh->flags),
		.len = le32toh(wh->len),
		.buf_alloc = le32toh(wh->buf_alloc),
		.fwd_cnt = le32toh(wh->fwd_cnt),
		.op = le16toh(wh->op),
		.type = le16toh(wh->type),
	};
	struct vsock_hdr h;
	struct gconn *c;

	ev_add(&e);
	dbg("rx op %u %u -> %u len %u flags %u buf_alloc %u fwd_cnt %u",
	    e.op, e.sport, e.dport, e.len, e.flags, e.buf_alloc, e.fwd_cnt);
	if (le64toh(wh->dst_cid) != G.cid)
		proto("packet (op %u) to CID %" PRIu64, e.op,
		    (uint64_t)le64toh(wh->dst_cid));
	if (e.op != VSOCK_OP_RST && e.src_cid != HOST_CID)
		proto("packet (op %u) from CID %" PRIu64, e.op, e.src_cid);
	if (e.type != TYPE_STREAM)
		proto("packet (op %u) of type %u", e.op, e.type);
	if (e.len != dlen) {
		proto("op %u: header len %u, used length says %u", e.op, e.len,
		    dlen);
		return;
	}
	if (e.op != VSOCK_OP_RW && e.len)
		proto("op %u with %u bytes of data", e.op, e.len);
	if (e.op == VSOCK_OP_RW && !e.len)
		proto("RW without data for guest port %u", e.dport);
	if (e.op < VSOCK_OP_REQUEST || e.op > VSOCK_OP_CREDIT_REQUEST) {
		proto("unknown op %u", e.op);
		return;
	}
	c = gconn_find(e.dport, e.sport);
	if (!c || (c->state == G_CLOSED && e.op == VSOCK_OP_REQUEST)) {
		if (e.op == VSOCK_OP_REQUEST)
			incoming_request(wh, e.dport, e.sport);
		else if (e.op != VSOCK_OP_RST) {
			hdr_fill(&h, HOST_CID, e.dport, e.sport, VSOCK_OP_RST);
			reply_queue(&h);
		}
		return;
	}
	if (c->state == G_CLOSED) {
		if (e.op == VSOCK_OP_RST)
			c->nrst++;
		return;		/* late packets of a closed connection */
	}
	c->peer_buf_alloc = e.buf_alloc;
	c->peer_fwd_cnt = e.fwd_cnt;
	switch (e.op) {
	case VSOCK_OP_REQUEST:
		proto("REQUEST for live guest port %u from host port %u",
		    e.dport, e.sport);
		break;
	case VSOCK_OP_RESPONSE:
		if (c->state != G_CONNECTING) {
			proto("RESPONSE to guest port %u in state %d", e.dport,
			    c->state);
			break;
		}
		c->state = G_OPEN;
		c->resp = true;
		c->resp_buf_alloc = e.buf_alloc;
		break;
	case VSOCK_OP_RST:
		c->state = G_CLOSED;
		c->rst = true;
		c->nrst++;
		c->rst_ms = now_ms();
		break;
	case VSOCK_OP_SHUTDOWN:
		if (e.flags & ~(uint32_t)(SHUT_RCV_F | SHUT_SEND_F))
			proto("SHUTDOWN flags %#x", e.flags);
		c->shut |= e.flags;
		break;
	case VSOCK_OP_RW:
		rx_data(c, data, dlen);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		c->cupd++;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->creq++;
		if (c->auto_credit && c->state == G_OPEN) {
			conn_hdr(c, &h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
			reply_queue(&h);
		}
		break;
	}
}

static void
rx_used(uint32_t id, uint32_t len)
{
	struct vsock_hdr h;
	const uint8_t *data;
	unsigned b;
	uint64_t buf;

	if ((id & 1) || id >= RXQ_NUM || !G.rx_posted[id / 2]) {
		proto("rx used id %u: not a buffer we lent", id);
		return;
	}
	b = id / 2;
	G.rx_posted[b] = false;
	buf = RX_BUF_BASE + (uint64_t)b * RX_BUF_SIZE;
	if (G.rx_bad[b]) {
		if (len)
			proto("%u bytes written into an unusable rx buffer "
			    "(kind %u)", len, G.rx_bad[b]);
		else
			G.rx_bad_back++;
		G.rx_bad[b] = RXB_OK;
		rx_post(b);
		return;
	}
	if (len == 0) {
		G.rx_empty++;
	} else if (len < VSOCK_HDR_LEN || len > RX_BUF_SIZE) {
		proto("rx used length %u", len);
	} else {
		if (b & 1) {
			memcpy(&h, G.mem + RX_HDRS + b * 64u, sizeof(h));
			data = G.mem + buf;
		} else {
			memcpy(&h, G.mem + buf, sizeof(h));
			data = G.mem + buf + VSOCK_HDR_LEN;
		}
		rx_packet(&h, data, len - VSOCK_HDR_LEN);
	}
	rx_post(b);
}

static void
tx_used(uint32_t id, uint32_t len)
{
	if ((id & 1) || id >= TXQ_NUM || !G.tx_busy[id / 2]) {
		proto("tx used id %u: not a chain we sent", id);
		return;
	}
	if (len)
		proto("tx used length %u (the device writes nothing there)",
		    len);
	G.tx_busy[id / 2] = false;
}

static void
service_vq(unsigned qi)
{
	struct gvq *q = &G.q[qi];
	uint16_t idx;
	bool any = false;

	if (!q->used)
		return;
	idx = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
	if (idx == q->last_used) {
		q->irq = false;
		q->stale_since = 0;
		return;
	}
	if (!q->irq) {
		/* Entries, but no call: give the device a moment to signal. */
		if (!q->stale_since) {
			q->stale_since = now_ms();
			return;
		}
		if (now_ms() - q->stale_since < 100)
			return;
		q->lost_irqs++;
		dbg("%s queue: used entries without a call", qi == RXQ ? "rx" :
		    "tx");
	}
	q->irq = false;
	q->stale_since = 0;
	if ((uint16_t)(idx - q->last_used) > q->num) {
		proto("%s used index ran %u ahead", qi == RXQ ? "rx" : "tx",
		    (uint16_t)(idx - q->last_used));
		q->last_used = idx;
		return;
	}
	while (q->last_used != idx) {
		const struct vring_used_elem *e = &q->used->ring[q->last_used %
		    q->num];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);

		q->last_used++;
		if (qi == RXQ) {
			rx_used(id, len);
			any = true;
		} else
			tx_used(id, len);
	}
	if (any)
		vq_kick(q);
}

/* ---- host programs ---------------------------------------------------------------- */

static struct hsock *
hs_new(int fd, enum hrole role)
{
	struct hsock *h;

	if (G.nhs == G.hscap) {
		unsigned cap = G.hscap ? G.hscap * 2 : 64;
		struct hsock **n = realloc(G.hs, cap * sizeof(*n));

		if (!n)
			abort();
		G.hs = n;
		G.hscap = cap;
	}
	if (!(h = calloc(1, sizeof(*h))))
		abort();
	h->fd = fd;
	h->role = role;
	h->reading = role != H_SINK && role != H_LISTEN;
	h->echo = role == H_ECHO;
	h->want_ok = role == H_CLIENT;
	G.hs[G.nhs++] = h;
	return h;
}

static void
hs_close(struct hsock *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static void
uds_port_path(char *buf, size_t len, uint32_t port)
{
	snprintf(buf, len, "%s_%u", G.uds, port);
}

/* A host service at PATH_port, as host-netd would listen there. */
static struct hsock *
h_listen(uint32_t port, enum hrole child)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct hsock *h;
	int fd;

	uds_port_path(sun.sun_path, sizeof(sun.sun_path), port);
	unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 4096) < 0) {
		fail("listen at %s: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	h = hs_new(fd, H_LISTEN);
	h->port = port;
	h->child_role = child;
	snprintf(h->path, sizeof(h->path), "%s", sun.sun_path);
	return h;
}

/* A host program connecting to the guest: "CONNECT ..." (and early data). */
static struct hsock *
h_client(const char *line, uint32_t tseed, uint64_t total, size_t early)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint8_t buf[256];
	size_t n = strlen(line);
	struct hsock *h;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", G.uds);
	/* Non-blocking: a full backlog is an error, not a hang. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fail("connect to %s: %s", G.uds, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (early > sizeof(buf) - n)
		early = sizeof(buf) - n;
	memcpy(buf, line, n);
	pat_fill(tseed, 0, buf + n, early);
	h = hs_new(fd, H_CLIENT);
	if (send(fd, buf, n + early, MSG_NOSIGNAL) != (ssize_t)(n + early)) {
		/* Closed at once (refused): as good as an end of file. */
		if (errno != EPIPE && errno != ECONNRESET) {
			fail("write to %s: %s", G.uds, strerror(errno));
			return NULL;
		}
		h->eof = true;
	}
	h->tseed = tseed;
	h->total = total;
	h->sent = early;
	h->write_after_ok = true;
	return h;
}

/* The first socket l accepted after its after-th, not tied to a connection. */
static struct hsock *
h_untaken(const struct hsock *l, unsigned after)
{
	unsigned i;

	for (i = 0; i < G.nhs; i++)
		if (G.hs[i]->parent == l && !G.hs[i]->taken &&
		    G.hs[i]->seq > after)
			return G.hs[i];
	return NULL;
}

static void
h_data(struct hsock *h, const uint8_t *p, size_t n)
{
	size_t bad;

	if (h->rcheck && !h->rbad) {
		bad = pat_mismatch(h->rseed, h->rcvd, p, n);
		if (bad < n) {
			h->rbad = true;
			h->rbad_off = h->rcvd + bad;
		}
	}
	h->rfnv = fnv(h->rfnv, p, n);
	h->rcvd += n;
}

/* "OK <port>\n" first; what follows it is data. */
static void
h_input(struct hsock *h, const uint8_t *p, size_t n)
{
	unsigned long v;
	char *end;

	while (h->want_ok && !h->got_ok && n) {
		char ch = (char)*p++;

		n--;
		if (h->linelen == sizeof(h->line) - 1) {
			h->err = true;
			return;
		}
		h->line[h->linelen++] = ch;
		if (ch != '\n')
			continue;
		h->line[h->linelen] = '\0';
		errno = 0;
		v = strncmp(h->line, "OK ", 3) == 0 ?
		    strtoul(h->line + 3, &end, 10) : 0;
		if (strncmp(h->line, "OK ", 3) != 0 || errno || *end != '\n' ||
		    end == h->line + 3 || v > UINT32_MAX) {
			h->err = true;
			return;
		}
		h->ok_port = (uint32_t)v;
		h->got_ok = true;
	}
	if (n)
		h_data(h, p, n);
}

static void
h_accept(struct hsock *l)
{
	struct hsock *h;
	int fd;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		h = hs_new(fd, l->child_role);
		h->parent = l;
		h->port = l->port;
		h->total = l->child_total;
		h->tseed = l->child_seed;
		h->shut_after = l->child_total > 0;
		h->seq = ++l->naccepted;
	}
}

static void
h_write(struct hsock *h)
{
	uint8_t buf[65536];
	size_t k;
	ssize_t n;

	while (h->pend_len && h->fd >= 0) {
		n = send(h->fd, h->pend + h->pend_off, h->pend_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				h->err = true;
			return;
		}
		h->pend_off += (size_t)n;
		h->pend_len -= (size_t)n;
	}
	while (h->fd >= 0 && h->sent < h->total &&
	    (!h->write_after_ok || h->got_ok)) {
		k = h->total - h->sent > sizeof(buf) ? sizeof(buf) :
		    (size_t)(h->total - h->sent);
		pat_fill(h->tseed, h->sent, buf, k);
		n = send(h->fd, buf, k, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				h->err = true;
			return;
		}
		h->sent += (uint64_t)n;
	}
	if (h->fd >= 0 && h->shut_after && h->sent == h->total &&
	    !h->shut_done) {
		shutdown(h->fd, SHUT_WR);
		h->shut_done = true;
	}
}

static void
h_service(struct hsock *h, short rev)
{
	uint8_t buf[65536];
	ssize_t n;

	if (h->role == H_LISTEN) {
		h_accept(h);
		return;
	}
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && h->reading && !h->eof &&
	    !h->pend_len) {
		n = recv(h->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			h->eof = true;
			if (n < 0)
				h->err = true;
		} else if (n > 0 && h->echo) {
			if (!h->pend && !(h->pend = malloc(ECHO_BUF)))
				abort();
			memcpy(h->pend, buf, (size_t)n);
			h->pend_off = 0;
			h->pend_len = (size_t)n;
			h->rcvd += (uint64_t)n;
		} else if (n > 0)
			h_input(h, buf, (size_t)n);
	}
	h_write(h);
}

static short
h_events(const struct hsock *h)
{
	short ev = 0;

	if (h->fd < 0)
		return 0;
	if (h->role == H_LISTEN)
		return POLLIN;
	if (h->reading && !h->eof && !h->pend_len)
		ev |= POLLIN;
	if (h->pend_len || (h->sent < h->total && !h->err &&
	    (!h->write_after_ok || h->got_ok)))
		ev |= POLLOUT;
	return ev;
}

/* Whether h's peer is gone (reads nothing it has not read yet). */
static bool
h_peer_closed(struct hsock *h)
{
	char c;
	ssize_t n;

	if (h->eof)
		return true;
	n = recv(h->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* ---- the loop -------------------------------------------------------------------- */

static void
pump(int ms)
{
	static struct pollfd *pfd;
	static struct hsock **owner;
	static size_t cap;
	size_t n = 0, i, need = 3 + G.nhs;
	unsigned qi;
	char c;

	if (ms > 20)
		ms = 20;
	if (need > cap) {
		struct pollfd *np = realloc(pfd, need * 2 * sizeof(*pfd));
		struct hsock **no;

		if (!np)
			abort();
		pfd = np;
		if (!(no = realloc(owner, need * 2 * sizeof(*owner))))
			abort();
		owner = no;
		cap = need * 2;
	}
	if (G.vu >= 0 && !G.dead) {
		pfd[n].fd = G.vu;
		pfd[n].events = POLLIN;
		owner[n++] = NULL;
	}
	for (qi = 0; qi < 2; qi++)
		if (G.q[qi].call >= 0) {
			pfd[n].fd = G.q[qi].call;
			pfd[n].events = POLLIN;
			owner[n++] = NULL;
		}
	for (i = 0; i < G.nhs; i++) {
		short ev = h_events(G.hs[i]);

		if (!ev)
			continue;
		pfd[n].fd = G.hs[i]->fd;
		pfd[n].events = ev;
		owner[n++] = G.hs[i];
	}
	if (poll(pfd, n, ms) < 0 && errno != EINTR)
		abort();
	for (i = 0; i < n; i++) {
		if (!pfd[i].revents || owner[i])
			continue;
		if (pfd[i].fd == G.vu) {
			ssize_t k = recv(G.vu, &c, 1, MSG_PEEK | MSG_DONTWAIT);

			if (k == 0 || (k < 0 && errno != EAGAIN)) {
				G.dead = true;
				snprintf(G.dead_why, sizeof(G.dead_why),
				    "vmnet-vsockd hung up the vhost-user "
				    "socket");
			} else if (k > 0) {
				proto("a vhost-user message nobody asked for");
			}
			continue;
		}
		for (qi = 0; qi < 2; qi++)
			if (pfd[i].fd == G.q[qi].call) {
				eventfd_t v;

				eventfd_read(G.q[qi].call, &v);
				G.q[qi].irq = true;
			}
	}
	service_vq(TXQ);
	service_vq(RXQ);
	for (i = 0; i < n; i++)
		if (owner[i] && owner[i]->fd >= 0 && pfd[i].revents)
			h_service(owner[i], pfd[i].revents);
	flush_replies();
	if (G.deadline && now_ms() > G.deadline && !G.timed_out) {
		G.timed_out = true;
		fail("scenario timed out after %d s", G.timeout_s);
	}
}

/* ---- guest connections, from the scenarios ---------------------------------------- */

/* REQUEST to host port hport; *out once RESPONSE came (and l's socket). */
static int
g_connect(uint32_t hport, uint32_t buf_alloc, struct hsock *l,
    struct gconn **out)
{
	struct gconn *c = gconn_new(G.next_port++, hport);
	unsigned acc = l ? l->naccepted : 0;

	*out = c;
	c->buf_alloc = buf_alloc;
	if (g_send(c, VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
		return -1;
	if (!WAIT_FOR(3000, c->state != G_CONNECTING))
		return fail("REQUEST to host port %u: no answer in 3 s%s",
		    hport, G.dead ? " (back-end gone)" : "");
	if (!c->resp)
		return fail("REQUEST to host port %u: RST", hport);
	if (c->resp_buf_alloc != DEV_BUF_ALLOC)
		return fail("RESPONSE advertises buf_alloc %u, not %u",
		    c->resp_buf_alloc, DEV_BUF_ALLOC);
	if (l) {
		if (!WAIT_FOR(2000, h_untaken(l, acc) != NULL))
			return fail("host port %u: RESPONSE, but nothing "
			    "connected to its listener", hport);
		if ((c->h = h_untaken(l, acc)))
			c->h->taken = true;
	}
	return 0;
}

static int
g_echo(struct gconn *c, uint64_t n)
{
	uint64_t want = c->tx_stream + n;

	c->echo = c->rcheck = true;
	c->rseed = c->tseed;
	if (g_write_stream(c, n) < 0)
		return -1;
	if (!WAIT_FOR(10000, c->rx_bytes >= want || c->rbad ||
	    c->state != G_OPEN))
		return fail("guest port %u: %" PRIu64 " of %" PRIu64 " bytes "
		    "echoed in 10 s", c->gport, c->rx_bytes, want);
	if (c->rbad)
		return fail("guest port %u: echo differs at byte %" PRIu64,
		    c->gport, c->rbad_off);
	if (c->rx_bytes != want)
		return fail("guest port %u: echo %" PRIu64 " bytes, sent %"
		    PRIu64 "%s", c->gport, c->rx_bytes, want,
		    c->rst ? " (RST)" : "");
	return 0;
}

/*
 * SHUTDOWN both ways; the device answers with RST, at once when all we
 * sent has reached the host program (its timer is for what has not).
 */
static int
g_close(struct gconn *c)
{
	int64_t t0 = now_ms();

	if (c->state != G_OPEN)
		return fail("guest port %u: not open to close", c->gport);
	if (g_send(c, VSOCK_OP_SHUTDOWN, SHUT_RCV_F | SHUT_SEND_F, NULL, 0) < 0)
		return -1;
	if (!WAIT_FOR(DEV_CLOSE_MS + 2000, c->rst))
		return fail("guest port %u: SHUTDOWN both ways, no RST in %d s",
		    c->gport, (DEV_CLOSE_MS + 2000) / 1000);
	if (c->rst_ms - t0 > 2500)
		return fail("guest port %u: SHUTDOWN both ways with nothing left "
		    "to forward, RST only after %lld ms", c->gport,
		    (long long)(c->rst_ms - t0));
	return 0;
}

static void
g_reset(struct gconn *c)
{
	struct vsock_hdr h;

	if (c->state == G_CLOSED)
		return;
	conn_hdr(c, &h, VSOCK_OP_RST, 0, 0);
	tx_send(&h, NULL, 0);
	c->state = G_CLOSED;
}

/* A connection to guest port gport the device asked for (index >= from). */
static struct gconn *
wait_gconn(uint32_t gport, unsigned from, int ms)
{
	int64_t end = now_ms() + ms;
	unsigned i;

	for (;;) {
		for (i = from; i < G.ngc; i++)
			if (G.gc[i]->gport == gport)
				return G.gc[i];
		if (now_ms() > end || G.dead || G.timed_out)
			return NULL;
		pump(10);
	}
}

/* A quick health check: a fresh connection to l's port echoes. */
static int
echo_check(struct hsock *l, uint64_t n)
{
	struct gconn *c;

	if (g_connect(l->port, DEV_BUF_ALLOC, l, &c) < 0 || g_echo(c, n) < 0 ||
	    g_close(c) < 0)
		return -1;
	if (!WAIT_FOR(2000, h_peer_closed(c->h)))
		return fail("host side still open after the RST");
	return 0;
}

/* Forgets every connection; between scenarios and front-end sessions. */
static void
conns_drop(void)
{
	unsigned i;

	for (i = 0; i < G.ngc; i++)
		free(G.gc[i]);
	G.ngc = 0;
	G.ngl = 0;
	G.nreplies = 0;
}

static void
scenario_cleanup(void)
{
	unsigned i;

	if (G.vu >= 0 && !G.dead && G.q[TXQ].desc) {
		for (i = 0; i < G.ngc; i++)
			if (G.gc[i]->state != G_CLOSED)
				g_reset(G.gc[i]);
		settle(100);
	}
	conns_drop();
	for (i = 0; i < G.nhs; i++) {
		hs_close(G.hs[i]);
		if (G.hs[i]->role == H_LISTEN && G.hs[i]->path[0])
			unlink(G.hs[i]->path);
		free(G.hs[i]->pend);
		free(G.hs[i]);
	}
	G.nhs = 0;
}

/* ---- scenarios ------------------------------------------------------------------- */

#define P_OWN_ECHO	7100
#define P_REFUSED	7001
#define P_FILE		7002
#define P_STALE		7003
#define P_CID		7004
#define P_CREDIT_SINK	7200
#define P_CREDIT_ECHO	7201
#define P_GC_SOURCE	7210
#define P_GC_GUEST	7211
#define P_MANY		7300
#define P_MAL_ECHO	7400
#define P_MAL_SINK	7401
#define P_CORRUPT	7500
#define P_FRONTEND	7600

static int
sc_connect(void)
{
	enum { N = 4, SIZE = 512 * 1024, HALF = 100 * 1024 };
	struct gconn *c[N], *hc;
	struct hsock *l = NULL;
	uint32_t port = G.echo_port;
	uint64_t left[N];
	int64_t progress = now_ms();
	uint32_t want;
	bool more, asked = false;
	int i, k;

	if (!port) {
		if (!(l = h_listen(P_OWN_ECHO, H_ECHO)))
			return -1;
		port = P_OWN_ECHO;
	}
	for (i = 0; i < N; i++) {
		if (g_connect(port, DEV_BUF_ALLOC, NULL, &c[i]) < 0)
			return -1;
		c[i]->echo = c[i]->rcheck = true;
		c[i]->rseed = c[i]->tseed;
		left[i] = SIZE;
	}
	/* All at once, packets of varying sizes, each within its credit. */
	do {
		more = false;
		for (i = 0; i < N; i++) {
			if (!left[i])
				continue;
			want = 1 + rnd() % TX_DATA_MAX;
			if (want > left[i])
				want = (uint32_t)left[i];
			k = g_write_some(c[i], want, false);
			if (k < 0)
				return fail("connection %d closed while sending "
				    "(%s)", i, c[i]->rst ? "RST" : "?");
			if (k > 0)
				progress = now_ms();
			left[i] -= (uint64_t)k;
			more = more || left[i];
		}
		if (now_ms() - progress > 1000 && !asked) {
			for (i = 0; i < N; i++)
				g_send(c[i], VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
			asked = true;
		} else if (now_ms() - progress > 5000)
			return fail("no credit from the device for 5 s");
		else if (now_ms() - progress < 1000)
			asked = false;
		pump(0);
		if (G.dead || G.timed_out)
			return fail("%s", G.dead ? G.dead_why : "timed out");
	} while (more);
	if (!WAIT_FOR(15000, c[0]->rx_bytes >= SIZE && c[1]->rx_bytes >= SIZE &&
	    c[2]->rx_bytes >= SIZE && c[3]->rx_bytes >= SIZE))
		return fail("echo incomplete after 15 s: %" PRIu64 "/%" PRIu64
		    "/%" PRIu64 "/%" PRIu64 " of %d", c[0]->rx_bytes,
		    c[1]->rx_bytes, c[2]->rx_bytes, c[3]->rx_bytes, SIZE);
	settle(100);
	for (i = 0; i < N; i++) {
		if (c[i]->rbad)
			return fail("connection %d: echo differs at byte %"
			    PRIu64, i, c[i]->rbad_off);
		if (c[i]->rx_bytes != SIZE || c[i]->rfnv != c[i]->tfnv ||
		    c[i]->tfnv != stream_fnv(c[i]->tseed, SIZE))
			return fail("connection %d: %" PRIu64 " bytes back, "
			    "checksum %016" PRIx64 ", sent %016" PRIx64, i,
			    c[i]->rx_bytes, c[i]->rfnv, c[i]->tfnv);
		if (c[i]->credit_viol)
			return fail("connection %d: the device sent past our "
			    "credit (%u bytes in flight)", i,
			    c[i]->max_in_flight);
	}
	for (i = 0; i < N; i++)
		if (g_close(c[i]) < 0)
			return -1;
	summary("%d connections to host port %u, %d KiB each echoed, checksums "
	    "%016" PRIx64 "... match; SHUTDOWN answered with RST", N, port,
	    SIZE / 1024, c[0]->rfnv);
	/* Half-close: our EOF reaches the server, its EOF comes back. */
	if (g_connect(port, DEV_BUF_ALLOC, NULL, &hc) < 0 ||
	    g_echo(hc, HALF) < 0 ||
	    g_send(hc, VSOCK_OP_SHUTDOWN, SHUT_SEND_F, NULL, 0) < 0)
		return -1;
	if (!WAIT_FOR(5000, (hc->shut & SHUT_SEND_F) || hc->rst))
		return fail("half-close: no SHUTDOWN from the device in 5 s "
		    "after ours (SEND)");
	if (hc->rst)
		return fail("half-close: RST instead of SHUTDOWN");
	if (g_close(hc) < 0)
		return -1;
	summary("half-close: the server's EOF came back as SHUTDOWN");
	return 0;
}

static int
expect_rst(struct gconn *c, const char *what)
{
	if (!WAIT_FOR(2000, c->state == G_CLOSED))
		return fail("%s: no answer in 2 s", what);
	if (c->resp)
		return fail("%s: RESPONSE", what);
	return 0;
}

static int
sc_refused(void)
{
	char path[128];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const struct gevent *e;
	struct hsock *l;
	struct gconn *c, *d;
	struct vsock_hdr h;
	uint64_t mark;
	int fd;

	/* Nothing there. */
	uds_port_path(path, sizeof(path), P_REFUSED);
	unlink(path);
	c = gconn_new(G.next_port++, P_REFUSED);
	mark = G.ev_seq;
	if (g_send(c, VSOCK_OP_REQUEST, 0, NULL, 0) < 0 ||
	    expect_rst(c, "REQUEST to a port nobody listens on") < 0)
		return -1;
	e = ev_find(mark, VSOCK_OP_RST, P_REFUSED, c->gport);
	if (!e || e->src_cid != HOST_CID || e->flags || e->len)
		return fail("the RST does not name host port %u -> guest port "
		    "%u", P_REFUSED, c->gport);
	/* A file, not a socket. */
	uds_port_path(path, sizeof(path), P_FILE);
	if ((fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail("%s: %s", path, strerror(errno));
	close(fd);
	c = gconn_new(G.next_port++, P_FILE);
	if (g_send(c, VSOCK_OP_REQUEST, 0, NULL, 0) < 0 ||
	    expect_rst(c, "REQUEST to a port whose path is a plain file") < 0)
		return -1;
	unlink(path);
	/* A socket file nobody listens on any more. */
	uds_port_path(sun.sun_path, sizeof(sun.sun_path), P_STALE);
	unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return fail("%s: %s", sun.sun_path, strerror(errno));
	close(fd);
	c = gconn_new(G.next_port++, P_STALE);
	if (g_send(c, VSOCK_OP_REQUEST, 0, NULL, 0) < 0 ||
	    expect_rst(c, "REQUEST to a stale socket") < 0)
		return -1;
	unlink(sun.sun_path);
	/* Another CID, though the port listens here. */
	if (!(l = h_listen(P_CID, H_ECHO)))
		return -1;
	c = gconn_new(G.next_port++, P_CID);
	hdr_fill(&h, 5, c->gport, P_CID, VSOCK_OP_REQUEST);
	h.buf_alloc = htole32(DEV_BUF_ALLOC);
	mark = G.ev_seq;
	if (tx_send(&h, NULL, 0) < 0 ||
	    expect_rst(c, "REQUEST to CID 5") < 0)
		return -1;
	e = ev_find(mark, VSOCK_OP_RST, P_CID, c->gport);
	if (e && e->src_cid != 5)
		return fail("the RST for CID 5 comes from CID %" PRIu64,
		    e->src_cid);
	settle(100);
	if (l->naccepted)
		return fail("a REQUEST to CID 5 was connected to host port %u",
		    P_CID);
	/* RW on the refused connection: there is none. */
	d = gconn_new(c->gport, P_REFUSED);
	d->state = G_OPEN;
	d->peer_buf_alloc = DEV_BUF_ALLOC;
	if (g_write_some(d, 100, true) < 0 ||
	    expect_rst(d, "RW for a refused connection") < 0)
		return -1;
	/* And the port that does listen still connects. */
	if (echo_check(l, 4096) < 0)
		return -1;
	summary("RST for: no listener, a plain file, a stale socket, CID 5, "
	    "RW without a connection; a listener still connects");
	return 0;
}

static int
sc_host_connect(void)
{
	enum { SIZE = 512 * 1024, EARLY = 100 };
	uint32_t s1 = rnd(), s2 = rnd();
	struct glisten *gl;
	struct hsock *h, *h2;
	struct gconn *c, *c3;
	int64_t t0;
	unsigned before;

	gl = &G.gl[G.ngl++];
	*gl = (struct glisten){ .port = 1234, .mode = GL_MANUAL,
	    .buf_alloc = DEV_BUF_ALLOC, .auto_credit = true, .rcheck = true,
	    .rseed = s1, .tseed = s2 };
	before = G.ngc;
	if (!(h = h_client("CONNECT 1234\n", s1, SIZE, EARLY)))
		return -1;
	h->rcheck = true;
	h->rseed = s2;
	h->shut_after = true;
	if (!(c = wait_gconn(1234, before, 3000)))
		return fail("\"CONNECT 1234\": no REQUEST for guest port 1234 "
		    "in 3 s%s", h->eof ? " (the host side was closed)" : "");
	if (c->hport < LOCAL_PORT_MIN)
		return fail("REQUEST from host port %u (below 2^30)", c->hport);
	if (c->req_buf_alloc != DEV_BUF_ALLOC)
		return fail("REQUEST advertises buf_alloc %u", c->req_buf_alloc);
	settle(200);
	if (h->linelen || h->rcvd || h->eof)
		return fail("the host program heard something (%zu bytes%s) "
		    "before the guest answered", h->linelen,
		    h->eof ? ", EOF" : "");
	if (g_send(c, VSOCK_OP_RESPONSE, 0, NULL, 0) < 0)
		return -1;
	c->state = G_OPEN;
	if (!WAIT_FOR(2000, h->got_ok || h->err || h->eof))
		return fail("no \"OK\" line in 2 s after RESPONSE");
	if (!h->got_ok)
		return fail("the host program got \"%.*s\", not \"OK <port>\"",
		    (int)h->linelen, h->line);
	if (h->ok_port != c->hport)
		return fail("\"OK %u\", but the REQUEST came from port %u",
		    h->ok_port, c->hport);
	/* Both ways at once; the early bytes are the guest's first. */
	if (g_write_stream(c, SIZE) < 0)
		return -1;
	if (!WAIT_FOR(10000, (c->rx_bytes >= SIZE && h->rcvd >= SIZE) ||
	    c->rbad || h->rbad || c->state == G_CLOSED))
		return fail("after 10 s: guest got %" PRIu64 ", host %" PRIu64
		    " of %d bytes", c->rx_bytes, h->rcvd, SIZE);
	if (c->rbad)
		return fail("guest: host's bytes differ at %" PRIu64 "%s",
		    c->rbad_off, c->rbad_off < EARLY ? " (the early data)" :
		    "");
	if (h->rbad)
		return fail("host: guest's bytes differ at %" PRIu64,
		    h->rbad_off);
	if (c->rx_bytes != SIZE || h->rcvd != SIZE)
		return fail("guest got %" PRIu64 ", host %" PRIu64 " of %d",
		    c->rx_bytes, h->rcvd, SIZE);
	/* The host program's EOF, then the guest's close. */
	if (!WAIT_FOR(3000, c->shut & SHUT_SEND_F))
		return fail("host side shut down writing: no SHUTDOWN SEND in "
		    "3 s");
	if (g_close(c) < 0)
		return -1;
	if (!WAIT_FOR(2000, h->eof))
		return fail("RST from the device, but the host program's "
		    "socket stays open");
	summary("REQUEST from host port %u, no OK before RESPONSE, \"OK %u\"; "
	    "%d KiB each way (early data kept), checksums %016" PRIx64 "/%016"
	    PRIx64 "; EOF -> SHUTDOWN -> RST", c->hport, h->ok_port,
	    SIZE / 1024, c->rfnv, h->rfnv);

	/* The guest refuses. */
	gl = &G.gl[G.ngl++];
	*gl = (struct glisten){ .port = 1235, .mode = GL_REFUSE };
	if (!(h2 = h_client("CONNECT 1235\n", 0, 0, 0)))
		return -1;
	if (!WAIT_FOR(2000, h2->eof || h2->got_ok))
		return fail("guest refused port 1235: host program not closed "
		    "in 2 s");
	if (h2->got_ok)
		return fail("guest refused port 1235, host program got OK");
	/* The guest does not answer: withdrawn after 5 s. */
	gl = &G.gl[G.ngl++];
	*gl = (struct glisten){ .port = 1236, .mode = GL_SILENT };
	t0 = now_ms();
	before = G.ngc;
	if (!(h2 = h_client("CONNECT 1236\n", 0, 0, 0)))
		return -1;
	if (!(c3 = wait_gconn(1236, before, 2000)))
		return fail("\"CONNECT 1236\": no REQUEST");
	if (!WAIT_FOR(DEV_CONNECT_MS + 2000, h2->eof && c3->rst))
		return fail("unanswered REQUEST: after %d s host %s, guest %s",
		    (DEV_CONNECT_MS + 2000) / 1000, h2->eof ? "closed" : "open",
		    c3->rst ? "RST" : "nothing");
	if (now_ms() - t0 < DEV_CONNECT_MS - 1000 || h2->got_ok)
		return fail("unanswered REQUEST: withdrawn after %lld ms%s",
		    (long long)(now_ms() - t0), h2->got_ok ? " with OK" : "");
	/* Not a CONNECT line. */
	before = G.ngc;
	if (!(h2 = h_client("HELLO 1234\n", 0, 0, 0)))
		return -1;
	if (!WAIT_FOR(2000, h2->eof))
		return fail("\"HELLO 1234\": host program not closed in 2 s");
	if (G.ngc != before || h2->got_ok)
		return fail("\"HELLO 1234\" reached the guest");
	if (!(h2 = h_client("CONNECT 123456789012345678901234567890", 0, 0, 0)))
		return -1;
	if (!WAIT_FOR(2000, h2->eof))
		return fail("an endless CONNECT line: not closed in 2 s");
	summary("guest RST -> host closed; no answer -> closed and RST after "
	    "%.1f s; bad lines closed", (double)(c3->rst_ms - t0) / 1000);
	return 0;
}

/* Sends until the device's credit (as CREDIT_UPDATE says now) is spent. */
static int
fill_credit(struct gconn *c, uint32_t leave)
{
	unsigned before, round;
	uint32_t cr;
	int k;

	for (round = 0; round < 64; round++) {
		before = c->cupd;
		if (g_send(c, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0) < 0)
			return -1;
		if (!WAIT_FOR(2000, c->cupd > before || c->state != G_OPEN))
			return fail("CREDIT_REQUEST unanswered for 2 s");
		if (c->state != G_OPEN)
			return fail("reset while filling the credit (%u sent, "
			    "fwd_cnt %u)", c->tx_cnt, c->peer_fwd_cnt);
		cr = g_credit(c);
		if (cr <= leave)
			return cr == leave ? 0 : fail("credit %u, wanted to "
			    "leave %u", cr, leave);
		while (cr > leave) {
			if ((k = g_write_some(c, cr - leave, false)) <= 0)
				return fail("guest port %u closed while "
				    "filling the credit", c->gport);
			cr -= (uint32_t)k;
		}
		settle(50);
	}
	return fail("the credit never ran out (host program not reading)");
}

static int
sc_credit(void)
{
	struct hsock *sink, *echo;
	struct gconn *a, *b, *e;
	uint64_t sent_at_rst;
	uint32_t used_at_rst;
	int k;

	if (!(sink = h_listen(P_CREDIT_SINK, H_SINK)) ||
	    !(echo = h_listen(P_CREDIT_ECHO, H_ECHO)))
		return -1;
	if (g_connect(P_CREDIT_ECHO, DEV_BUF_ALLOC, echo, &e) < 0 ||
	    g_echo(e, 64 * 1024) < 0)
		return -1;
	/* a: up to the credit exactly, then one byte past it. */
	if (g_connect(P_CREDIT_SINK, DEV_BUF_ALLOC, sink, &a) < 0)
		return -1;
	if (fill_credit(a, 0) < 0)
		return -1;
	settle(300);
	if (a->state != G_OPEN)
		return fail("reset at exactly the credit (%u sent, device "
		    "fwd_cnt %u, buf_alloc %u)", a->tx_cnt, a->peer_fwd_cnt,
		    a->peer_buf_alloc);
	summary("a host program not reading: %u bytes taken, %u of them "
	    "buffered by the device, no reset at the edge", a->tx_cnt,
	    a->tx_cnt - a->peer_fwd_cnt);
	if (g_write_some(a, 1, true) != 1)
		return -1;
	if (!WAIT_FOR(2000, a->rst))
		return fail("one byte past the credit: no RST in 2 s");
	/* Its host side goes; what it reads is the stream, in order. */
	a->h->reading = a->h->rcheck = true;
	a->h->rseed = a->tseed;
	if (!WAIT_FOR(3000, a->h->eof))
		return fail("reset connection: host side still open after 3 s "
		    "(read %" PRIu64 ")", a->h->rcvd);
	if (a->h->rbad || a->h->rcvd > a->tx_cnt)
		return fail("reset connection: the host read %" PRIu64 " bytes "
		    "of %u, %s", a->h->rcvd, a->tx_cnt, a->h->rbad ?
		    "differing" : "too many");
	/* b: ignores credit altogether. */
	if (g_connect(P_CREDIT_SINK, DEV_BUF_ALLOC, sink, &b) < 0)
		return -1;
	while (b->state == G_OPEN && b->tx_stream < 4u << 20) {
		if ((k = g_write_some(b, TX_DATA_MAX, true)) < 0)
			break;
		pump(0);
	}
	if (!WAIT_FOR(2000, b->rst))
		return fail("a guest ignoring credit: %" PRIu64 " bytes sent, "
		    "no RST", b->tx_stream);
	sent_at_rst = b->tx_stream;
	used_at_rst = b->max_usage;
	if (used_at_rst <= DEV_BUF_ALLOC)
		return fail("reset though never past the credit it announced "
		    "(at most %u of %u in flight)", used_at_rst, DEV_BUF_ALLOC);
	b->h->reading = true;
	if (!WAIT_FOR(3000, b->h->eof))
		return fail("credit overrun: host side still open after 3 s");
	/* The others carry on. */
	if (g_echo(e, 256 * 1024) < 0 || echo_check(echo, 64 * 1024) < 0)
		return -1;
	summary("one byte past: RST, host side closed (%" PRIu64 " bytes "
	    "reached it); ignoring credit: RST after %" PRIu64 " KiB; other "
	    "connections echo", a->h->rcvd, sent_at_rst / 1024);
	return 0;
}

/* Drives a guest-credit connection: 1 MiB in, credit only by update. */
static int
gc_step(struct gconn *c, bool *first_wait, uint64_t size)
{
	uint32_t in_flight = (uint32_t)c->rx_bytes - c->fwd_adv;
	uint64_t before;

	if (c->credit_viol)
		return fail("guest port %u: the device sent %u bytes with %u of "
		    "credit", c->gport, c->max_in_flight, c->buf_alloc);
	if (in_flight < c->buf_alloc && c->rx_bytes < size)
		return 0;
	if (in_flight == 0)
		return 0;
	if (*first_wait) {
		/* The window is full: nothing more may come. */
		*first_wait = false;
		before = c->rx_bytes;
		settle(400);
		if (c->rx_bytes != before)
			return fail("guest port %u: %" PRIu64 " bytes more with "
			    "no credit left", c->gport, c->rx_bytes - before);
		summary("port %u: stalled at %" PRIu64 " bytes (buf_alloc %u)"
		    ", %u CREDIT_REQUEST", c->gport, before, c->buf_alloc,
		    c->creq);
	}
	c->fwd_cnt = (uint32_t)c->rx_bytes;
	return g_send(c, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
}

static int
sc_guest_credit(void)
{
	enum { SIZE = 1 << 20 };
	uint32_t sa = rnd(), sb = rnd();
	struct hsock *src, *hb;
	struct gconn *a, *b;
	struct glisten *gl;
	bool wa = true, wb = true;
	int64_t last = now_ms();
	uint64_t progress = 0;
	unsigned i;

	/* a: guest -> host, REQUEST with buf_alloc 4096. */
	if (!(src = h_listen(P_GC_SOURCE, H_SOURCE)))
		return -1;
	src->child_total = SIZE;
	src->child_seed = sa;
	a = gconn_new(G.next_port++, P_GC_SOURCE);
	a->buf_alloc = 4096;
	a->auto_credit = false;
	a->rcheck = true;
	a->rseed = sa;
	if (g_send(a, VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
		return -1;
	if (!WAIT_FOR(3000, a->state != G_CONNECTING) || !a->resp)
		return fail("REQUEST with buf_alloc 4096: %s", a->rst ? "RST" :
		    "no answer");
	/* b: host -> guest, RESPONSE with buf_alloc 5000. */
	gl = &G.gl[G.ngl++];
	*gl = (struct glisten){ .port = P_GC_GUEST, .mode = GL_ACCEPT,
	    .buf_alloc = 5000, .auto_credit = false, .rcheck = true,
	    .rseed = sb };
	i = G.ngc;
	if (!(hb = h_client("CONNECT 7211\n", sb, SIZE, 0)))
		return -1;
	hb->shut_after = true;
	if (!(b = wait_gconn(P_GC_GUEST, i, 3000)))
		return fail("\"CONNECT %u\": no REQUEST", P_GC_GUEST);
	while (!(a->rx_bytes == SIZE && (a->shut & SHUT_SEND_F) &&
	    b->rx_bytes == SIZE && (b->shut & SHUT_SEND_F))) {
		if (gc_step(a, &wa, SIZE) < 0 || gc_step(b, &wb, SIZE) < 0)
			return -1;
		if (a->rbad || b->rbad)
			return fail("data differ at byte %" PRIu64,
			    a->rbad ? a->rbad_off : b->rbad_off);
		if (a->state == G_CLOSED || b->state == G_CLOSED)
			return fail("RST (port %u)", a->state == G_CLOSED ?
			    a->gport : b->gport);
		if (a->rx_bytes > SIZE || b->rx_bytes > SIZE)
			return fail("more than 1 MiB received");
		if (a->rx_bytes + b->rx_bytes != progress) {
			progress = a->rx_bytes + b->rx_bytes;
			last = now_ms();
		} else if (now_ms() - last > 3000)
			return fail("stalled: %" PRIu64 " and %" PRIu64 " of %d "
			    "bytes, SHUTDOWN %u/%u", a->rx_bytes, b->rx_bytes,
			    SIZE, a->shut, b->shut);
		pump(2);
		if (G.dead || G.timed_out)
			return fail("%s", G.dead ? G.dead_why : "timed out");
	}
	if (a->credit_viol || b->credit_viol)
		return fail("the device overran our credit");
	if (a->rfnv != stream_fnv(sa, SIZE) || b->rfnv != stream_fnv(sb, SIZE))
		return fail("checksums differ");
	if (g_close(a) < 0 || g_close(b) < 0)
		return -1;
	summary("1 MiB each, never more than 4096/5000 bytes in flight (at "
	    "most %u/%u), content checked, then SHUTDOWN", a->max_in_flight,
	    b->max_in_flight);
	return 0;
}

static void
count_conns(struct gconn **c, unsigned n, unsigned *resp, unsigned *rst,
    unsigned *pending)
{
	unsigned i;

	*resp = *rst = *pending = 0;
	for (i = 0; i < n; i++) {
		if (c[i]->resp)
			(*resp)++;
		else if (c[i]->rst)
			(*rst)++;
		else
			(*pending)++;
	}
}

static unsigned
n_live(struct gconn **c, unsigned n)
{
	unsigned i, k = 0;

	for (i = 0; i < n; i++)
		if (c[i]->state != G_CLOSED)
			k++;
	return k;
}

/* l's accepted sockets whose peer (the device) has not closed them. */
static unsigned
h_open_children(const struct hsock *l)
{
	unsigned i, n = 0;

	for (i = 0; i < G.nhs; i++)
		if (G.hs[i]->parent == l && G.hs[i]->fd >= 0 &&
		    !h_peer_closed(G.hs[i]))
			n++;
	return n;
}

/* n REQUESTs at once; how many got RESPONSE. */
static int
burst(struct hsock *l, struct gconn **c, unsigned n, unsigned *resp,
    unsigned *rst)
{
	unsigned i, pending;

	for (i = 0; i < n; i++) {
		c[i] = gconn_new(G.next_port++, l->port);
		if (g_send(c[i], VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
			return -1;
		if (i % 64 == 0)
			pump(0);
	}
	if (!WAIT_FOR(15000, (count_conns(c, n, resp, rst, &pending),
	    pending == 0)))
		return fail("%u REQUESTs: %u RESPONSE, %u RST, %u unanswered "
		    "after 15 s", n, *resp, *rst, pending);
	return 0;
}

static int
sc_many(void)
{
	enum { N = 1100 };
	struct gconn **c = calloc(N, sizeof(*c)), *x, *y = NULL;
	struct hsock *l, *h;
	unsigned resp, rst, resp2, rst2, i, open;
	int rc = -1;

	if (!c)
		abort();
	if (!(l = h_listen(P_MANY, H_ECHO)))
		goto out;
	if (burst(l, c, N, &resp, &rst) < 0)
		goto out;
	if (resp > DEV_MAX_CONNS || resp + rst != N) {
		fail("%u REQUESTs: %u RESPONSE, %u RST", N, resp, rst);
		goto out;
	}
	if (resp != DEV_MAX_CONNS) {
		fail("%u REQUESTs: only %u RESPONSE (%u RST): the device "
		    "refused below its limit of %d (file descriptors?)", N,
		    resp, rst, DEV_MAX_CONNS);
		goto out;
	}
	settle(300);
	if ((open = h_open_children(l)) != resp) {
		fail("%u RESPONSE, but %u host connections open", resp, open);
		goto out;
	}
	/* Full: still answers, refuses more, echoes. */
	x = gconn_new(G.next_port++, P_MANY);
	if (g_send(x, VSOCK_OP_REQUEST, 0, NULL, 0) < 0 ||
	    expect_rst(x, "REQUEST past the limit") < 0)
		goto out;
	if (!(h = h_client("CONNECT 1234\n", 0, 0, 0)))
		goto out;
	if (!WAIT_FOR(2000, h->eof)) {
		fail("a host program's CONNECT with the device full: not "
		    "closed in 2 s");
		goto out;
	}
	for (i = N / 2; i < N && !y; i++)
		if (c[i]->state == G_OPEN)
			y = c[i];
	if (!y || g_echo(y, 64 * 1024) < 0) {
		fail("no echo with the device full");
		goto out;
	}
	/* Close them: half by RST, half by SHUTDOWN (answered by RST). */
	for (i = 0; i < N; i++) {
		if (c[i]->state != G_OPEN)
			continue;
		if (i % 2)
			g_send(c[i], VSOCK_OP_SHUTDOWN, SHUT_RCV_F | SHUT_SEND_F,
			    NULL, 0);
		else
			g_reset(c[i]);
		if (i % 64 == 0)
			pump(0);
	}
	if (!WAIT_FOR(2000, n_live(c, N) == 0)) {
		fail("%u connections closed by SHUTDOWN got no RST in 2 s",
		    n_live(c, N));
		goto out;
	}
	if (!WAIT_FOR(3000, h_open_children(l) == 0)) {
		fail("all closed by the guest, %u host connections still open",
		    h_open_children(l));
		goto out;
	}
	for (i = 0; i < G.nhs; i++)
		if (G.hs[i]->parent == l)
			hs_close(G.hs[i]);
	/* All the slots are free again. */
	if (burst(l, c, DEV_MAX_CONNS, &resp2, &rst2) < 0)
		goto out;
	if (resp2 != DEV_MAX_CONNS) {
		fail("after closing everything, %u of %d REQUESTs accepted",
		    resp2, DEV_MAX_CONNS);
		goto out;
	}
	for (i = 0; i < DEV_MAX_CONNS; i++) {
		g_reset(c[i]);
		if (i % 64 == 0)
			pump(0);
	}
	settle(300);
	if (echo_check(l, 64 * 1024) < 0)
		goto out;
	summary("%d REQUESTs: %u RESPONSE, %u RST; full: refuses REQUEST and "
	    "CONNECT, echoes; all closed (RST/SHUTDOWN), then %u of %d accepted "
	    "again", N, resp, rst, resp2, DEV_MAX_CONNS);
	rc = 0;
out:
	free(c);
	return rc;
}

/*
 * After a malformed packet on connection c: dropped (c still works, its
 * host side saw nothing of it), or RST (and then the device must have
 * let go of it: the host side is closed).
 */
static int
rst_or_dropped(const char *what, struct gconn *c, uint64_t host_before)
{
	settle(300);
	if (c->rst) {
		if (!WAIT_FOR(1000, h_peer_closed(c->h)))
			return fail("%s: RST to the guest, but the device kept "
			    "the connection (its host side is still open)",
			    what);
		return 0;
	}
	if (c->h->rcvd != host_before)
		return fail("%s: dropped, but %" PRIu64 " bytes of it reached "
		    "the host", what, c->h->rcvd - host_before);
	if (g_echo(c, 2000) < 0)
		return fail("%s: dropped, but the connection no longer works",
		    what);
	return 0;
}

/* A raw chain on tx: up to two descriptors of a slot, published. */
static int
tx_raw(const struct vring_desc *d, unsigned n)
{
	struct gvq *q = &G.q[TXQ];
	int s = tx_slot(true);
	unsigned i;

	if (s < 0)
		return -1;
	for (i = 0; i < n && i < 2; i++) {
		uint16_t fl = d[i].flags;

		set_desc(q, 2u * s + i, d[i].addr, d[i].len, fl,
		    (fl & VRING_DESC_F_NEXT) && d[i].next == 0 ?
		    (uint16_t)(2 * s + 1) : d[i].next);
	}
	vq_publish(q, (uint16_t)(2 * s));
	vq_kick(q);
	return s;
}

/* Header at SCRATCH, data right behind it at SCRATCH + 64. */
static int
tx_crafted(const struct vsock_hdr *h, uint32_t datalen, uint8_t fill)
{
	struct vring_desc d[2] = {
		{ SCRATCH, VSOCK_HDR_LEN, datalen ? VRING_DESC_F_NEXT : 0, 0 },
		{ SCRATCH + 64, datalen, 0, 0 },
	};

	memcpy(G.mem + SCRATCH, h, sizeof(*h));
	if (datalen > SCRATCH_SIZE - 64)
		abort();
	memset(G.mem + SCRATCH + 64, fill, datalen);
	if (tx_raw(d, datalen ? 2 : 1) < 0)
		return -1;
	/* SCRATCH is shared: wait for the device to take it. */
	if (!WAIT_FOR(1000, G.q[TXQ].last_used == G.q[TXQ].avail_idx))
		return fail("the device did not take a crafted chain in 1 s");
	return 0;
}

/* A malformed packet on a fresh connection (op, len, data bytes). */
static int
mal_on_conn(struct hsock *l, const char *what, uint16_t op, uint32_t flags,
    uint32_t hlen, uint32_t datalen)
{
	struct gconn *c;
	struct vsock_hdr h;
	uint64_t before;

	if (g_connect(l->port, DEV_BUF_ALLOC, l, &c) < 0 || g_echo(c, 1000) < 0)
		return -1;
	before = c->h->rcvd;
	conn_hdr(c, &h, op, flags, hlen);
	if (tx_crafted(&h, datalen, 0xee) < 0)
		return -1;
	return rst_or_dropped(what, c, before);
}

/* A packet with no connection: RST or dropped, never a connection. */
static int
mal_alone(struct hsock *l, const char *what, const struct vsock_hdr *h,
    uint32_t datalen)
{
	uint32_t gport = le32toh(h->src_port), hport = le32toh(h->dst_port);
	unsigned acc = l->naccepted;
	uint64_t mark = G.ev_seq;

	if (tx_crafted(h, datalen, 0x55) < 0)
		return -1;
	settle(300);
	if (ev_find(mark, VSOCK_OP_RESPONSE, hport, gport))
		return fail("%s: RESPONSE", what);
	if (l->naccepted != acc) {
		struct hsock *stray;

		while ((stray = h_untaken(l, acc)))
			stray->taken = true;
		return fail("%s: the host listener got a connection", what);
	}
	return 0;
}

static int
sc_malformed(void)
{
	struct hsock *l, *sink;
	struct gconn *c;
	struct vsock_hdr h;
	struct gvq *q;
	uint64_t before, want;
	unsigned i, k, bad_before;
	int s;

	if (!(l = h_listen(P_MAL_ECHO, H_ECHO)) ||
	    !(sink = h_listen(P_MAL_SINK, H_SINK)))
		return -1;
	/* Without a connection. */
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, VSOCK_OP_REQUEST);
	h.src_cid = htole64(G.cid + 1);
	mal_alone(l, "REQUEST from the wrong src_cid", &h, 0);
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, VSOCK_OP_REQUEST);
	h.type = htole16(TYPE_SEQPACKET);
	mal_alone(l, "SEQPACKET REQUEST", &h, 0);
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, VSOCK_OP_RW);
	h.len = htole32(100);
	mal_alone(l, "RW for no connection", &h, 100);
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, 0);
	mal_alone(l, "op 0 for no connection", &h, 0);
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, 99);
	mal_alone(l, "op 99 for no connection", &h, 0);
	hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO, VSOCK_OP_REQUEST);
	h.len = htole32(10);
	mal_alone(l, "REQUEST with data", &h, 10);
	if (G.dead)
		return fail("%s", G.dead_why);
	/* On a working connection. */
	mal_on_conn(l, "RW with len 1000 and 100 bytes", VSOCK_OP_RW, 0, 1000,
	    100);
	mal_on_conn(l, "RW with len 70000 (over 64 KiB)", VSOCK_OP_RW, 0,
	    70000, 70000);
	mal_on_conn(l, "op 42", 42, 0, 0, 0);
	mal_on_conn(l, "CREDIT_UPDATE with 10 bytes of data",
	    VSOCK_OP_CREDIT_UPDATE, 0, 10, 10);
	mal_on_conn(l, "RESPONSE from the guest on its own connection",
	    VSOCK_OP_RESPONSE, 0, 0, 0);
	mal_on_conn(l, "a second REQUEST for a live connection",
	    VSOCK_OP_REQUEST, 0, 0, 0);
	mal_on_conn(l, "SHUTDOWN with flags 0", VSOCK_OP_SHUTDOWN, 0, 0, 0);
	mal_on_conn(l, "SHUTDOWN with unknown flags", VSOCK_OP_SHUTDOWN, 0xfc,
	    0, 0);
	if (G.dead)
		return fail("%s", G.dead_why);
	/* Wrong src_cid on a live connection's ports. */
	if (g_connect(P_MAL_ECHO, DEV_BUF_ALLOC, l, &c) < 0 ||
	    g_echo(c, 1000) < 0)
		return -1;
	before = c->h->rcvd;
	conn_hdr(c, &h, VSOCK_OP_RW, 0, 50);
	h.src_cid = htole64(G.cid + 1);
	if (tx_crafted(&h, 50, 0xee) < 0)
		return -1;
	rst_or_dropped("RW from the wrong src_cid on a live connection's ports",
	    c, before);
	/* RW after the guest's own SHUTDOWN SEND. */
	if (g_connect(P_MAL_ECHO, DEV_BUF_ALLOC, l, &c) < 0 ||
	    g_echo(c, 1000) < 0 ||
	    g_send(c, VSOCK_OP_SHUTDOWN, SHUT_SEND_F, NULL, 0) < 0)
		return -1;
	settle(100);
	before = c->h->rcvd;
	conn_hdr(c, &h, VSOCK_OP_RW, 0, 50);
	if (tx_crafted(&h, 50, 0xee) < 0)
		return -1;
	settle(300);
	if (!c->rst)
		fail("RW after the guest's SHUTDOWN SEND: not reset");
	else if (!WAIT_FOR(1000, h_peer_closed(c->h)))
		fail("RW after SHUTDOWN SEND: RST, host side still open");
	/* len shorter than the data the chain carries: len counts. */
	if (g_connect(P_MAL_ECHO, DEV_BUF_ALLOC, l, &c) < 0 ||
	    g_echo(c, 1000) < 0)
		return -1;
	want = c->tx_stream + 100;
	conn_hdr(c, &h, VSOCK_OP_RW, 0, 100);
	memcpy(G.mem + SCRATCH, &h, sizeof(h));
	pat_fill(c->tseed, c->tx_stream, G.mem + SCRATCH + 64, 100);
	memset(G.mem + SCRATCH + 64 + 100, 0xee, 7900);
	{
		struct vring_desc d[2] = {
			{ SCRATCH, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 0 },
			{ SCRATCH + 64, 8000, 0, 0 },
		};

		c->tx_cnt += 100;
		c->tx_stream += 100;
		if (tx_raw(d, 2) < 0)
			return -1;
	}
	settle(500);
	if (c->state != G_OPEN)
		fail("RW with len 100 in a chain of 8000 bytes: reset");
	else if (c->rx_bytes != want || c->rbad)
		fail("RW with len 100 in a chain of 8000 bytes: %" PRIu64
		    " bytes reached the host and came back (100 sent)%s",
		    c->h->rcvd - (want - 100), c->rbad ? ", not ours" : "");
	/* Chains that are merely bad: returned unused, the queue goes on. */
	{
		static const struct {
			const char		*what;
			struct vring_desc	 d[2];
			unsigned		 n;
		} bad[] = {
			{ "a chain shorter than a header",
			    { { SCRATCH, 20, 0, 0 } }, 1 },
			{ "a buffer outside guest memory",
			    { { MEM_SIZE - 16, VSOCK_HDR_LEN, 0, 0 } }, 1 },
			{ "an INDIRECT descriptor",
			    { { SCRATCH, 32, VRING_DESC_F_INDIRECT, 0 } }, 1 },
			{ "a readable buffer after a writable one",
			    { { SCRATCH, VSOCK_HDR_LEN, VRING_DESC_F_WRITE |
			    VRING_DESC_F_NEXT, 0 }, { SCRATCH + 64, 100, 0, 0 } },
			    2 },
			{ "a device-writable chain",
			    { { SCRATCH, 4096, VRING_DESC_F_WRITE, 0 } }, 1 },
		};

		hdr_fill(&h, HOST_CID, G.next_port++, P_MAL_ECHO,
		    VSOCK_OP_REQUEST);
		memcpy(G.mem + SCRATCH, &h, sizeof(h));
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			k = l->naccepted;
			if ((s = tx_raw(bad[i].d, bad[i].n)) < 0)
				return -1;
			if (!WAIT_FOR(1000, !G.tx_busy[s]))
				fail("tx: %s: not returned in 1 s", bad[i].what);
			if (l->naccepted != k)
				fail("tx: %s: was taken as a REQUEST",
				    bad[i].what);
		}
	}
	/* Unusable rx buffers, next in line: skipped, never written. */
	settle(100);
	q = &G.q[RXQ];
	bad_before = G.rx_bad_back;
	for (i = 0; i < 3; i++) {
		unsigned b = le16toh(q->avail->ring[(uint16_t)(q->last_used + i) %
		    q->num]) / 2;

		G.rx_bad[b] = (uint8_t)(RXB_TINY + i);
		rx_desc(b);	/* lent already: rewritten in place */
	}
	if (echo_check(l, 16 * 1024) < 0)
		return -1;
	if (G.rx_bad_back - bad_before != 3)
		fail("rx: %u of 3 unusable buffers returned unused",
		    G.rx_bad_back - bad_before);
	if (G.dead)
		return fail("%s", G.dead_why);
	/* Last, the worst of them: len short of the data, into a full buffer. */
	if (g_connect(P_MAL_SINK, DEV_BUF_ALLOC, sink, &c) < 0 ||
	    fill_credit(c, 16) < 0)
		return -1;
	for (i = 0; i < 12; i++) {
		struct vring_desc d[2] = {
			{ SCRATCH, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 0 },
			{ SCRATCH + 64, 60000, 0, 0 },
		};

		conn_hdr(c, &h, VSOCK_OP_RW, 0, 1);
		memcpy(G.mem + SCRATCH, &h, sizeof(h));
		pat_fill(c->tseed, c->tx_stream, G.mem + SCRATCH + 64, 1);
		memset(G.mem + SCRATCH + 65, 0xee, 59999);
		c->tx_cnt++;
		c->tx_stream++;
		if (tx_raw(d, 2) < 0 ||
		    !WAIT_FOR(1000, G.q[TXQ].last_used == G.q[TXQ].avail_idx))
			return fail("the device stopped taking tx chains");
	}
	c->h->reading = c->h->rcheck = true;
	c->h->rseed = c->tseed;
	settle(1000);
	if (G.dead)
		fail("12 RWs of len 1 in 60000-byte chains to a full "
		    "connection, then the host read: %s", G.dead_why);
	else if (c->h->rcvd != c->tx_stream || c->h->rbad)
		fail("12 RWs of len 1 in 60000-byte chains to a full "
		    "connection: the host read %" PRIu64 " bytes, the guest "
		    "sent %" PRIu64 "%s", c->h->rcvd, c->tx_stream,
		    c->h->rbad ? " (and not those)" : "");
	if (G.dead)
		return -1;
	/* After all that, a connection works as ever. */
	if (echo_check(l, 256 * 1024) < 0)
		return -1;
	if (G.sc_failed)
		return -1;
	summary("each answered with RST (the connection gone) or dropped; bad "
	    "chains returned; the device still connects");
	return 0;
}

enum corruption { K_TX_NEXT, K_RX_LOOP, K_TX_HEAD, K_TX_IDX, K_TX_LOOP };
enum recovery { R_RECONNECT, R_RESTART, R_RESET };

static const char *const corruption_name[] = {
	"a tx descriptor whose next is out of range",
	"an rx chain that loops (a zero-length descriptor)",
	"a tx avail entry out of range",
	"a tx avail index 1000 ahead",
	"a tx chain that loops (two descriptors with data)",
};
static const char *const recovery_name[] = {
	"reconnect", "ring restart", "RESET_DEVICE",
};

static int
corrupt_round(struct hsock *l, enum corruption k, enum recovery r)
{
	const char *what = corruption_name[k];
	struct gvq *tq = &G.q[TXQ], *rq = &G.q[RXQ];
	struct gconn *c, *probe;
	struct hsock *hc;
	struct vsock_hdr h;
	uint16_t tx_used, rx_used, hd;
	uint32_t base[2];
	unsigned acc;
	int s = -1;

	if (g_connect(l->port, DEV_BUF_ALLOC, l, &c) < 0 ||
	    g_echo(c, 16 * 1024) < 0)
		return -1;
	settle(100);
	switch (k) {
	case K_TX_NEXT:
		/* A REQUEST it would connect, but its chain leads nowhere. */
		if ((s = tx_slot(true)) < 0)
			return -1;
		hdr_fill(&h, HOST_CID, G.next_port++, l->port, VSOCK_OP_REQUEST);
		memcpy(G.mem + slot_gpa(s), &h, sizeof(h));
		set_desc(tq, 2u * s, slot_gpa(s), VSOCK_HDR_LEN,
		    VRING_DESC_F_NEXT, TXQ_NUM + 7);
		vq_publish(tq, (uint16_t)(2 * s));
		vq_kick(tq);
		break;
	case K_RX_LOOP:
		/* The next rx buffer loops; a CREDIT_REQUEST makes it used. */
		hd = le16toh(rq->avail->ring[rq->last_used % rq->num]);
		set_desc(rq, hd, RX_BUF_BASE, 0, VRING_DESC_F_WRITE |
		    VRING_DESC_F_NEXT, hd);
		if (g_send(c, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0) < 0)
			return -1;
		break;
	case K_TX_LOOP:
		if ((s = tx_slot(true)) < 0)
			return -1;
		hdr_fill(&h, HOST_CID, G.next_port++, l->port, VSOCK_OP_REQUEST);
		memcpy(G.mem + slot_gpa(s), &h, sizeof(h));
		set_desc(tq, 2u * s, slot_gpa(s), VSOCK_HDR_LEN,
		    VRING_DESC_F_NEXT, (uint16_t)(2 * s + 1));
		set_desc(tq, 2u * s + 1, slot_gpa(s) + TX_DATA_OFF, 100,
		    VRING_DESC_F_NEXT, (uint16_t)(2 * s));
		vq_publish(tq, (uint16_t)(2 * s));
		vq_kick(tq);
		break;
	case K_TX_HEAD:
		vq_publish(tq, TXQ_NUM + 3);
		vq_kick(tq);
		break;
	case K_TX_IDX:
		__atomic_store_n(&tq->avail->idx,
		    htole16((uint16_t)(tq->avail_idx + 1000)), __ATOMIC_RELEASE);
		vq_kick(tq);
		break;
	}
	/* The device lets go of its connections... */
	if (!WAIT_FOR(2000, h_peer_closed(c->h))) {
		if (s >= 0 && !G.tx_busy[s])
			return fail("%s: returned unused as a merely bad chain, "
			    "not taken for a corrupt ring: the device went on "
			    "(its connections open)", what);
		return fail("%s: the host side of an open connection is still "
		    "open after 2 s", what);
	}
	settle(100);
	/* ...and does nothing more. */
	tx_used = le16toh(tq->used->idx);
	rx_used = le16toh(rq->used->idx);
	acc = l->naccepted;
	probe = gconn_new(G.next_port++, l->port);
	if (g_send(probe, VSOCK_OP_REQUEST, 0, NULL, 0) < 0)
		return -1;
	vq_kick(rq);
	settle(500);
	if (le16toh(tq->used->idx) != tx_used || le16toh(rq->used->idx) !=
	    rx_used || probe->state != G_CONNECTING || l->naccepted != acc)
		return fail("%s: the device went on (tx used %u -> %u, rx used "
		    "%u -> %u, %u host connections)", what, tx_used,
		    le16toh(tq->used->idx), rx_used, le16toh(rq->used->idx),
		    l->naccepted - acc);
	if (!(hc = h_client("CONNECT 1234\n", 0, 0, 0)))
		return -1;
	if (!WAIT_FOR(2000, hc->eof))
		return fail("%s: a host program's CONNECT not refused in 2 s",
		    what);
	if (G.dead || !fe_alive())
		return fail("%s: vmnet-vsockd died (%s)", what, G.dead_why);
	/* Recovery. */
	switch (r) {
	case R_RECONNECT:
		fe_close();
		if (fe_setup() < 0)
			return fail("%s, then a new front-end: %s", what,
			    G.dead_why);
		break;
	case R_RESTART:
		conns_drop();
		if (fe_stop_rings(base) < 0 || fe_rings() < 0)
			return fail("%s, then a ring restart: %s", what,
			    G.dead_why);
		break;
	case R_RESET:
		conns_drop();
		if (fe_send(FE_RESET_DEVICE, 0, NULL, 0, NULL, 0) < 0 ||
		    fe_negotiate() < 0 || fe_mem() < 0 || fe_rings() < 0)
			return fail("%s, then RESET_DEVICE: %s", what,
			    G.dead_why);
		break;
	}
	if (echo_check(l, 64 * 1024) < 0)
		return fail("%s, then %s: no connection works", what,
		    recovery_name[r]);
	summary("%s: stopped, connections dropped; %s: works", what,
	    recovery_name[r]);
	return 0;
}

static int
sc_corrupt(void)
{
	struct hsock *l;

	static const struct {
		enum corruption	k;
		enum recovery	r;
	} rounds[] = {
		{ K_TX_NEXT, R_RECONNECT },
		{ K_RX_LOOP, R_RESTART },
		{ K_TX_HEAD, R_RESET },
		{ K_TX_IDX, R_RECONNECT },
		{ K_TX_LOOP, R_RECONNECT },
	};
	size_t i;

	if (!(l = h_listen(P_CORRUPT, H_ECHO)))
		return -1;
	for (i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++) {
		if (corrupt_round(l, rounds[i].k, rounds[i].r) == 0)
			continue;
		/* Start the next round afresh. */
		fe_close();
		G.dead = false;
		if (fe_setup() < 0)
			return fail("a new front-end: %s", G.dead_why);
	}
	return G.sc_failed ? -1 : 0;
}

static int
sc_frontend(void)
{
	struct hsock *l;
	struct gconn *c, *probe;
	uint64_t st;
	uint32_t base[2], p[2];
	uint8_t big[5000];
	int fd;

	if (!(l = h_listen(P_FRONTEND, H_ECHO)))
		return -1;
	if (g_connect(P_FRONTEND, DEV_BUF_ALLOC, l, &c) < 0 ||
	    g_echo(c, 16 * 1024) < 0)
		return -1;
	/* A SET_MEM_TABLE that fails (a region of size 0) while running. */
	if ((fd = dup(G.memfd)) < 0)
		return fail("dup: %s", strerror(errno));
	{
		uint8_t m[8 + 32];
		uint64_t r[4] = { 0, 0, htole64((uintptr_t)G.mem), 0 };
		uint32_t n = htole32(1);

		memset(m, 0, sizeof(m));
		memcpy(m, &n, 4);
		memcpy(m + 8, r, sizeof(r));
		if (fe_req(FE_SET_MEM_TABLE, m, sizeof(m), &fd, 1, &st) < 0)
			return fail("SET_MEM_TABLE of size 0: %s", G.dead_why);
		close(fd);
		if (!st)
			return fail("SET_MEM_TABLE with a region of size 0 "
			    "accepted");
	}
	/* The guest carries on: a kick on each queue, a REQUEST. */
	probe = gconn_new(G.next_port++, P_FRONTEND);
	g_send(probe, VSOCK_OP_REQUEST, 0, NULL, 0);
	vq_kick(&G.q[RXQ]);
	settle(500);
	if (G.dead || !fe_alive())
		return fail("a failed SET_MEM_TABLE, then a kick: vmnet-vsockd "
		    "died (%s)", G.dead_why);
	/* A good table and a ring restart bring it back. */
	conns_drop();
	if (fe_mem_table(G.memfd, MEM_SIZE) < 0 || fe_stop_rings(base) < 0 ||
	    fe_rings() < 0)
		return fail("after a failed SET_MEM_TABLE: %s", G.dead_why);
	if (echo_check(l, 16 * 1024) < 0)
		return -1;
	summary("a failing SET_MEM_TABLE refused, survived; recovered");
	/* Unknown request: refused, the session goes on. */
	if (fe_req(77, NULL, 0, NULL, 0, &st) < 0 || !st || !fe_alive())
		return fail("request 77: %s", st ? G.dead_why : "acknowledged");
	/* SET_VRING_NUM on a started ring: refused, the device runs on. */
	p[0] = htole32(TXQ);
	p[1] = htole32(64);
	if (fe_req(FE_SET_VRING_NUM, p, sizeof(p), NULL, 0, &st) < 0 || !st)
		return fail("SET_VRING_NUM on a started ring: %s", st ?
		    G.dead_why : "acknowledged");
	if (echo_check(l, 16 * 1024) < 0)
		return -1;
	summary("unknown request and SET_VRING_NUM while started refused");
	/* An oversized message ends the session, not the back-end. */
	memset(big, 0, sizeof(big));
	if (fe_send(FE_SET_OWNER, 0, big, sizeof(big), NULL, 0) < 0)
		return fail("oversized message: %s", G.dead_why);
	if (!WAIT_FOR(3000, G.dead))
		return fail("a 5000-byte message: session not ended in 3 s");
	G.dead = false;
	fe_close();
	if (fe_setup() < 0)
		return fail("after an oversized message, a new front-end: %s",
		    G.dead_why);
	if (echo_check(l, 16 * 1024) < 0)
		return -1;
	summary("an oversized message ended the session; reconnected");
	return 0;
}

/* ---- main --------------------------------------------------------------------------- */

static const struct {
	const char	*name;
	int		(*fn)(void);
} scenarios[] = {
	{ "connect", sc_connect },
	{ "refused", sc_refused },
	{ "host-connect", sc_host_connect },
	{ "credit", sc_credit },
	{ "guest-credit", sc_guest_credit },
	{ "many", sc_many },
	{ "malformed", sc_malformed },
	{ "corrupt", sc_corrupt },
	{ "frontend", sc_frontend },
};
#define NSCENARIOS	(sizeof(scenarios) / sizeof(scenarios[0]))

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: vmn-vhost-guest [-v] [-t SECONDS] --socket "
	    "PATH --uds PATH [--echo-port P]\n"
	    "                       [--expect-cid N] SCENARIO...\n"
	    "scenarios: all");
	for (i = 0; i < NSCENARIOS; i++)
		fprintf(stderr, " %s", scenarios[i].name);
	fputc('\n', stderr);
	exit(2);
}

static int
run(size_t i, bool last)
{
	unsigned proto_before = G.proto_errs, lost[2] = { G.q[RXQ].lost_irqs,
	    G.q[TXQ].lost_irqs };
	int rc;

	G.fail_msg[0] = G.summary[0] = G.warn[0] = '\0';
	G.sc_failed = G.timed_out = false;
	G.deadline = now_ms() + (int64_t)G.timeout_s * 1000;
	if (G.vu < 0 || G.dead) {
		fe_close();
		if (fe_setup() < 0) {
			printf("FAIL %s: no back-end: %s\n", scenarios[i].name,
			    G.dead_why);
			fflush(stdout);
			return -1;
		}
	}
	dbg("---- %s", scenarios[i].name);
	rc = scenarios[i].fn();
	if (rc == 0 && G.sc_failed)
		rc = -1;
	settle(50);
	if (G.dead && !G.sc_failed)
		rc = fail("%s", G.dead_why);
	if (G.proto_errs != proto_before)
		rc = fail("%u protocol violations by the device, the first: %s",
		    G.proto_errs - proto_before, G.proto_first);
	/* fe_close() zeroes nothing of these: counts only grow. */
	if (G.q[RXQ].lost_irqs > lost[0])
		warn("rx: %u times used buffers without a call",
		    G.q[RXQ].lost_irqs - lost[0]);
	if (G.q[TXQ].lost_irqs > lost[1])
		warn("tx: %u times used chains without a call (bad chains "
		    "returned silently)", G.q[TXQ].lost_irqs - lost[1]);
	G.deadline = 0;
	scenario_cleanup();
	printf("%s %s: %s%s%s\n", rc < 0 ? "FAIL" : "ok", scenarios[i].name,
	    rc < 0 ? G.fail_msg : G.summary, G.warn[0] ? "; warning: " : "",
	    G.warn);
	fflush(stdout);
	/* A failure may leave the device stopped: start afresh. */
	if (rc < 0 && !last) {
		fe_close();
		G.dead = false;
	}
	G.proto_errs = 0;
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "uds", required_argument, NULL, 'u' },
		{ "echo-port", required_argument, NULL, 'e' },
		{ "expect-cid", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	size_t want[64], nwant = 0, i, j;
	struct rlimit rl;
	int ch, failed = 0;

	while ((ch = getopt_long(argc, argv, "vt:", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			G.sock_path = optarg;
			break;
		case 'u':
			G.uds = optarg;
			break;
		case 'e':
			G.echo_port = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			G.expect_cid = strtoull(optarg, NULL, 10);
			break;
		case 't':
			G.timeout_s = atoi(optarg);
			if (G.timeout_s <= 0)
				usage();
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (!G.sock_path || !G.uds || optind == argc)
		usage();
	for (; optind < argc; optind++) {
		if (strcmp(argv[optind], "all") == 0) {
			for (i = 0; i < NSCENARIOS && nwant < 64; i++)
				want[nwant++] = i;
			continue;
		}
		for (i = 0; i < NSCENARIOS; i++)
			if (strcmp(argv[optind], scenarios[i].name) == 0)
				break;
		if (i == NSCENARIOS || nwant == 64)
			usage();
		want[nwant++] = i;
	}
	signal(SIGPIPE, SIG_IGN);
	/* "many" holds a thousand host connections. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	G.rnd = (uint32_t)getpid() * 2654435761u;
	G.q[RXQ].kick = G.q[RXQ].call = G.q[TXQ].kick = G.q[TXQ].call = -1;
	if (fe_setup() < 0) {
		printf("FAIL setup: %s\n", G.dead_why);
		return 2;
	}
	for (j = 0; j < nwant; j++)
		if (run(want[j], j + 1 == nwant) < 0)
			failed = 1;
	fe_close();
	scenario_cleanup();
	free(G.gc);
	free(G.hs);
	return failed;
}
