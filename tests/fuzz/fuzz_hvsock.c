/*
 * fuzz_hvsock.c - the hybrid vsock handshake, both ends
 *
 * Host programs reach a guest port P through a hybrid vsock socket
 * (Firecracker's, cloud-hypervisor's, or vmnet-vsockd's): connect, send
 * "CONNECT P\n", read "OK <n>\n", and the stream is the connection from
 * the next byte on. Both ends read a line from the other one, byte by byte
 * or by peeking, and must never take a byte past it: those belong to the
 * connection.
 *
 * Reaches, with the input as what the other end sends:
 *  1. host-netd's and guest-netd's end (common/transport.c): the connector
 *     of an hvsock: endpoint against a fake back-end that reads our
 *     "CONNECT 1234\n" and answers with the input, then hangs up;
 *     handshake_cb()'s line reading, its sscanf, success or refusal.
 *  2. vmnet-vsockd's end (vm/vsockdev.c): a host program sends the input
 *     to a running device; handshake_cb()'s peeking and consuming, the
 *     port's parse, the REQUEST to the guest; the harness, as the guest,
 *     lends rx buffers, answers RESPONSE, and takes the data that follows.
 *
 * Checks: the connector succeeds exactly when the first line is within 31
 * bytes and reads "OK <number>\n", and then the descriptor it hands over
 * yields exactly the bytes after that line. The device sends a REQUEST
 * only for a line within 31 bytes that starts with "CONNECT ", and to the
 * port the line names; after the guest's RESPONSE the host program reads
 * "OK <the REQUEST's source port>\n", and the guest receives exactly the
 * bytes the program sent after its line.
 */
#include "config.h"

#include <sys/un.h>

#include "fuzz_vu.h"
#include "transport.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_hvsock: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define RX_BUF		(BUF_OFF + 0x20000u)
#define TX_BUF		(BUF_OFF)
#define SLOT		0x1000u

static int backend = -1;	/* the fake hvsock back-end's listener */
static char backend_path[128];

/* ---- 1. the connector ---------------------------------------------------- */

struct conn_result {
	int	ok;		/* 1: connected, fd is ours */
	int	failed;
	int	fd;
	int	err;
};

static void
on_connected(int fd, void *arg)
{
	struct conn_result *r = arg;

	r->ok++;
	r->fd = fd;
}

static void
on_failed(int err, void *arg)
{
	struct conn_result *r = arg;

	r->failed++;
	r->err = err;
}

static void
connector_side(const uint8_t *data, size_t size)
{
	static uint8_t rest[8192];
	struct conn_result r = { .fd = -1 };
	struct vmn_endpoint ep;
	struct vmn_connector *c;
	const char *why = NULL;
	char uri[160], line[64], req[32];
	const uint8_t *nl;
	size_t got = 0, linelen;
	unsigned n, i;
	ssize_t k;
	char tail;
	int fd = -1;
	bool want;

	snprintf(uri, sizeof(uri), "hvsock:%s", backend_path);
	if (vmn_endpoint_parse(uri, &ep, &why) < 0)
		abort();
	if (!(c = vmn_connector_new(base, &ep, 1234, 1, on_connected,
	    on_failed, &r)))
		abort();
	for (i = 0; i < 16 && fd < 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		fd = accept4(backend, NULL, NULL, SOCK_CLOEXEC);
	}
	CHECK(fd >= 0);
	/* The request, exactly. */
	k = read(fd, req, sizeof(req));
	CHECK(k == 13 && memcmp(req, "CONNECT 1234\n", 13) == 0);
	if (size && write(fd, data, size) < 0)
		abort();
	close(fd);
	for (i = 0; i < 64 && !r.ok && !r.failed; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(r.ok + r.failed == 1);

	/* What it should have made of the answer. */
	nl = memchr(data, '\n', size < 31 ? size : 31);
	want = false;
	if (nl) {
		linelen = (size_t)(nl - data) + 1;
		memcpy(line, data, linelen);
		line[linelen] = '\0';
		want = !memchr(line, '\0', linelen) &&
		    sscanf(line, "OK %u%c", &n, &tail) == 2 && tail == '\n';
	}
	CHECK(r.ok == want);
	if (r.ok) {
		while ((k = read(r.fd, rest + got, sizeof(rest) - got)) > 0)
			got += (size_t)k;
		CHECK(got == size - linelen);
		CHECK(memcmp(rest, nl + 1, got) == 0);
		close(r.fd);
	}
	vmn_connector_free(c);
}

/* ---- 2. the device ---------------------------------------------------------- */

static unsigned next_rx;

static void
lend_rx(struct vufx *x, unsigned count)
{
	unsigned i, d;

	for (i = 0; i < count; i++) {
		d = next_rx++ % QNUM;
		q_set_desc(RXQ_, d, RAM_GPA + RX_BUF + SLOT * d, SLOT,
		    VRING_DESC_F_WRITE, 0);
		q_publish(x, RXQ_, (uint16_t)d);
	}
	q_kick(x, RXQ_);
}

/* The guest answers: RESPONSE, from guest port to host port. */
static void
respond(struct vufx *x, uint32_t guest_port, uint32_t host_port)
{
	uint8_t *h = ram + TX_BUF;

	memset(h, 0, VSOCK_HDR_LEN);
	put_le64(h, GUEST_CID);
	put_le64(h + 8, VSOCK_HOST_CID);
	put_le32(h + 16, guest_port);
	put_le32(h + 20, host_port);
	put_le16(h + 28, VSOCK_TYPE_STREAM);
	put_le16(h + 30, VSOCK_OP_RESPONSE);
	put_le32(h + 36, 1u << 20);		/* buf_alloc: plenty */
	q_set_desc(TXQ_, 0, RAM_GPA + TX_BUF, VSOCK_HDR_LEN, 0, 0);
	q_publish(x, TXQ_, 0);
	q_kick(x, TXQ_);
}

struct seen {
	int		request;	/* REQUESTs seen */
	uint32_t	src_port, dst_port;
	size_t		got;		/* RW bytes */
	uint8_t		data[8192];
	bool		rst, shutdown;
};

static void
read_rx(struct vufx *x, struct seen *s)
{
	uint16_t used = q_used_idx(RXQ_);
	const uint8_t *h;
	uint32_t id, len, hlen;
	uint16_t op;

	while (x->used_seen[RXQ_] != used) {
		q_used_elem(RXQ_, x->used_seen[RXQ_]++, &id, &len);
		if (len < VSOCK_HDR_LEN)
			continue;
		h = ram + RX_BUF + SLOT * (id % QNUM);
		op = get_le16(h + 30);
		hlen = get_le32(h + 24);
		CHECK(hlen == len - VSOCK_HDR_LEN);
		switch (op) {
		case VSOCK_OP_REQUEST:
			s->request++;
			s->src_port = get_le32(h + 16);
			s->dst_port = get_le32(h + 20);
			break;
		case VSOCK_OP_RW:
			CHECK(s->got + hlen <= sizeof(s->data));
			memcpy(s->data + s->got, h + VSOCK_HDR_LEN, hlen);
			s->got += hlen;
			break;
		case VSOCK_OP_RST:
			s->rst = true;
			break;
		case VSOCK_OP_SHUTDOWN:
			s->shutdown = true;
			break;
		}
	}
}

static void
device_side(const uint8_t *data, size_t size)
{
	static struct vufx x;
	static struct seen s;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const uint8_t *nl;
	char line[64], ok[32], *end;
	unsigned long port = 0;
	size_t linelen = 0, okn = 0;
	bool valid = false;
	unsigned i;
	ssize_t k;
	int fd;

	memset(&s, 0, sizeof(s));
	next_rx = 0;
	vufx_new(&x, true);
	vufx_loop(&x, 2);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", x.uds);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		abort();
	if (size && write(fd, data, size) < 0)
		abort();
	lend_rx(&x, 8);
	vufx_loop(&x, 4);
	read_rx(&x, &s);

	/* The line a host program must send. */
	nl = memchr(data, '\n', size < 31 ? size : 31);
	if (nl) {
		linelen = (size_t)(nl - data) + 1;
		memcpy(line, data, linelen - 1);
		line[linelen - 1] = '\0';
		if (strncmp(line, "CONNECT ", 8) == 0 &&
		    strlen(line) == linelen - 1) {
			errno = 0;
			port = strtoul(line + 8, &end, 10);
			valid = !errno && end != line + 8 && !*end &&
			    port <= UINT32_MAX - 1;
		}
	}
	CHECK(s.request == (valid ? 1 : 0));
	if (valid) {
		CHECK(s.dst_port == port);
		respond(&x, s.dst_port, s.src_port);
		for (i = 0; i < 8; i++) {
			lend_rx(&x, 2);
			vufx_loop(&x, 2);
			read_rx(&x, &s);
			while (okn < sizeof(ok) - 1 &&
			    (k = read(fd, ok + okn, sizeof(ok) - 1 - okn)) > 0)
				okn += (size_t)k;
		}
		ok[okn] = '\0';
		snprintf(line, sizeof(line), "OK %u\n", s.src_port);
		CHECK(strcmp(ok, line) == 0);
		CHECK(s.got == size - linelen);
		CHECK(memcmp(s.data, nl + 1, s.got) == 0);
	}
	close(fd);
	vufx_loop(&x, 2);
	vufx_free(&x);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	fuzz_vu_init();
	snprintf(backend_path, sizeof(backend_path), "%s/hv", fuzz_dir);
	if ((backend = vmn_listen_path(backend_path, 16)) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	fuzz_fd_mark();
	connector_side(data, size);
	device_side(data, size);
	fuzz_fd_check();
	return 0;
}
