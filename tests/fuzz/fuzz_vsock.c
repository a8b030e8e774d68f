/*
 * fuzz_vsock.c - virtio-vsock packets from guest memory (vm/vsockdev.c)
 *
 * Reaches: tx_process() and guest_packet() on packets the guest writes
 * (every op, bad CIDs, types, lengths past the chain or past 64 KiB,
 * control packets with data, headers split across descriptors), the
 * connections they drive both ways (REQUEST to a host port with a server
 * and without, RESPONSE to a host program's CONNECT, RW and the credit it
 * may not overrun, SHUTDOWN either way, RST, CREDIT_REQUEST and _UPDATE),
 * rx_flush() filling the rx buffers the guest lends with control packets,
 * data and resets, the queue of resets for unknown connections; the host
 * side's "CONNECT P\n" handshake, data, half-close and hang-up; and the
 * device stopped and started again under its connections (GET_VRING_BASE,
 * RESET_DEVICE, SET_VRING_ENABLE).
 *
 * The device is the real one behind vu_handle() (fuzz_vu.h), running on
 * a 1 MiB guest RAM with 64-entry queues; a host server listens at the
 * device's PATH_5000 (guest port 5000 -> host port 5000 connects). The
 * input is a list of operations, a byte each, then its arguments:
 *
 *   0 tx packet: u8 how (bit 0: header and payload in two descriptors,
 *     bit 1: the 44-byte header taken raw from the input, bit 2: sent
 *     again and again, u8 times more), then either the raw header or
 *     u32 src_port, u32 dst_port, u8 op, u32 flags, u32 buf_alloc,
 *     u32 fwd_cnt; u16 payload length, the payload
 *   1 rx buffers: u8 count (1-8), u16 size of each
 *   2 a host program connects: u8 length, that many bytes sent at once
 *   3 a host socket writes: u8 which, u16 length, bytes
 *   4 a host socket: u8 which; shuts its writing side, or closes it
 *   5 host sockets stop reading what they are sent, or start again
 *   6 the front-end: u8 what: stop/start a queue, reset, disable/enable
 *
 * Checks, as a guest's driver would make them (vmn-vhost-guest's rules):
 * every packet the device puts in an rx buffer is from CID 2 (a reset: or
 * the CID the guest wrote to) to CID 3, of type stream, a known op, with a length that matches what was used and
 * data only in RW; nothing is used past what was lent; and when the input
 * is done and the device freed, no descriptor is left open.
 */
#include "config.h"

#include <sys/un.h>

#include "fuzz_vu.h"
#include "transport.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_vsock: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define HOST_PORT	5000u
#define MAX_SOCKS	16
#define TX_BUF		(BUF_OFF)		/* 32 slots of 4 KiB */
#define RX_BUF		(BUF_OFF + 0x20000u)	/* 64 slots of 4 KiB */
#define SLOT		0x1000u

static int server = -1;		/* the host's server on guest port 5000 */
static unsigned next_rx, next_tx;	/* the driver's next descriptors */
static bool host_reads;			/* host sockets read what they get */
static uint32_t rx_size[QNUM];		/* what each rx descriptor lends */

struct socks {
	int	fd[MAX_SOCKS];
	unsigned n;
};

static void
socks_add(struct socks *s, int fd)
{
	if (fd < 0)
		return;
	if (s->n == MAX_SOCKS) {
		close(fd);
		return;
	}
	s->fd[s->n++] = fd;
}

static void
socks_close(struct socks *s, unsigned i)
{
	close(s->fd[i]);
	s->fd[i] = s->fd[--s->n];
}

/* Host sockets read what they have; the server takes new connections. */
static void
host_side(struct socks *s)
{
	static uint8_t junk[65536];
	unsigned i;
	ssize_t n;
	int fd;

	while ((fd = accept4(server, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		socks_add(s, fd);
	for (i = 0; host_reads && i < s->n; i++) {
		while ((n = read(s->fd[i], junk, sizeof(junk))) > 0)
			;
		if (n == 0) {
			socks_close(s, i);
			i--;
		}
	}
}

/* The rx buffers the device used: each must hold a sound packet. */
static void
check_rx(struct vufx *x)
{
	uint16_t used = q_used_idx(RXQ_);
	uint32_t id, len, hlen;
	const uint8_t *h;
	uint16_t op;

	CHECK((uint16_t)(used - x->used_seen[RXQ_]) <=
	    (uint16_t)(x->avail_idx[RXQ_] - x->used_seen[RXQ_]));
	while (x->used_seen[RXQ_] != used) {
		q_used_elem(RXQ_, x->used_seen[RXQ_]++, &id, &len);
		CHECK(id < QNUM);
		if (len == 0)
			continue;	/* given back unused */
		CHECK(len >= VSOCK_HDR_LEN && len <= rx_size[id]);
		h = ram + RX_BUF + SLOT * id;
		op = get_le16(h + 30);
		hlen = get_le32(h + 24);
		/* A reset for no connection comes from where the guest sent. */
		CHECK(get_le64(h) == VSOCK_HOST_CID || op == VSOCK_OP_RST);
		CHECK(get_le64(h + 8) == GUEST_CID);
		CHECK(get_le16(h + 28) == VSOCK_TYPE_STREAM);
		CHECK(op >= VSOCK_OP_REQUEST && op <= VSOCK_OP_CREDIT_REQUEST);
		CHECK(hlen == len - VSOCK_HDR_LEN);
		CHECK(op == VSOCK_OP_RW || hlen == 0);
	}
}

/* Lends count rx buffers of size bytes each (descriptor = its slot). */
static void
lend_rx(struct vufx *x, unsigned count, unsigned size)
{
	unsigned i, d;

	for (i = 0; i < count; i++) {
		d = next_rx++ % QNUM;
		rx_size[d] = size;
		q_set_desc(RXQ_, d, RAM_GPA + RX_BUF + SLOT * d, size,
		    VRING_DESC_F_WRITE, 0);
		q_publish(x, RXQ_, (uint16_t)d);
	}
	q_kick(x, RXQ_);
}

static void
send_tx(struct vufx *x, struct fz *f)
{
	uint8_t how = fz_u8(f), *hdr;
	unsigned reps = how & 4 ? fz_u8(f) : 0;
	unsigned slot = next_tx++ % 32, d = 2 * slot;
	uint64_t gpa = RAM_GPA + TX_BUF + SLOT * slot;
	const uint8_t *raw, *payload;
	size_t got, plen;

	hdr = ram + TX_BUF + SLOT * slot;
	if (how & 2) {
		raw = fz_bytes(f, VSOCK_HDR_LEN, &got);
		memset(hdr, 0, VSOCK_HDR_LEN);
		memcpy(hdr, raw, got);
	} else {
		put_le64(hdr, GUEST_CID);
		put_le64(hdr + 8, VSOCK_HOST_CID);
		put_le32(hdr + 16, fz_u32(f));		/* src_port */
		put_le32(hdr + 20, fz_u32(f));		/* dst_port */
		put_le16(hdr + 28, VSOCK_TYPE_STREAM);
		put_le16(hdr + 30, fz_u8(f) % 8);	/* op */
		put_le32(hdr + 32, fz_u32(f));		/* flags */
		put_le32(hdr + 36, fz_u32(f));		/* buf_alloc */
		put_le32(hdr + 40, fz_u32(f));		/* fwd_cnt */
	}
	payload = fz_bytes(f, fz_u16(f) % (SLOT - VSOCK_HDR_LEN + 1), &plen);
	memcpy(hdr + VSOCK_HDR_LEN, payload, plen);
	if (!(how & 2))
		put_le32(hdr + 24, (uint32_t)plen);	/* len */
	if (how & 1) {
		q_set_desc(TXQ_, d, gpa, VSOCK_HDR_LEN, VRING_DESC_F_NEXT,
		    (uint16_t)(d + 1));
		q_set_desc(TXQ_, d + 1, gpa + VSOCK_HDR_LEN, (uint32_t)plen, 0,
		    0);
	} else {
		q_set_desc(TXQ_, d, gpa, (uint32_t)(VSOCK_HDR_LEN + plen), 0,
		    0);
	}
	do {
		q_publish(x, TXQ_, (uint16_t)d);
		q_kick(x, TXQ_);
		vufx_loop(x, 1);
	} while (reps--);
}

static int
host_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* What QEMU does around a guest's reboot or a device reset. */
static void
front_end(struct vufx *x, uint8_t what)
{
	unsigned q = what & 1;

	switch ((what >> 1) % 4) {
	case 0:		/* the ring stops, the guest reboots, it starts again */
		vu_req_state(x, VHOST_USER_GET_VRING_BASE, q, 0);
		vufx_drain_peer(x);
		memset(ram + q * QSPAN, 0, QSPAN);
		x->avail_idx[q] = x->used_seen[q] = 0;
		vu_start_queue(x, q);
		break;
	case 1:		/* a device reset, then set up again */
		vu_req(x, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0);
		vu_req_u64(x, VHOST_USER_SET_FEATURES,
		    1ull << VIRTIO_F_VERSION_1, -1);
		vu_set_mem(x);
		x->avail_idx[0] = x->avail_idx[1] = 0;
		x->used_seen[0] = x->used_seen[1] = 0;
		memset(ram, 0, BUF_OFF);
		vu_start_queue(x, RXQ_);
		vu_start_queue(x, TXQ_);
		break;
	case 2:
		vu_req_state(x, VHOST_USER_SET_VRING_ENABLE, q, 0);
		break;
	case 3:
		vu_req_state(x, VHOST_USER_SET_VRING_ENABLE, q, 1);
		break;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[128];

	fuzz_init();
	fuzz_vu_init();
	snprintf(path, sizeof(path), "%s/vsock_%u", fuzz_dir, HOST_PORT);
	if ((server = vmn_listen_path(path, 128)) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vufx x;
	struct socks s = { .n = 0 };
	const uint8_t *p;
	struct fz f;
	size_t len;
	unsigned ops = 0, i;
	ssize_t n;
	uint8_t v;
	int fd;

	fuzz_fd_mark();
	fz_init(&f, data, size);
	next_rx = next_tx = 0;
	host_reads = true;
	memset(rx_size, 0, sizeof(rx_size));
	vufx_new(&x, true);
	vufx_loop(&x, 2);
	while (!fz_empty(&f) && ops++ < 256) {
		switch (fz_u8(&f) % 7) {
		case 0:
			send_tx(&x, &f);
			break;
		case 1:
			v = fz_u8(&f);
			lend_rx(&x, 1 + v % 8, VSOCK_HDR_LEN +
			    fz_u16(&f) % (SLOT - VSOCK_HDR_LEN + 1));
			break;
		case 2:
			p = fz_bytes(&f, fz_u8(&f), &len);
			if ((fd = host_connect(x.uds)) >= 0) {
				if (len && write(fd, p, len) < 0)
					break;
				socks_add(&s, fd);
			}
			break;
		case 3:
			v = fz_u8(&f);
			p = fz_bytes(&f, fz_u16(&f), &len);
			if (s.n && len)
				n = write(s.fd[v % s.n], p, len);
			(void)n;
			break;
		case 4:
			v = fz_u8(&f);
			if (!s.n)
				break;
			if (v & 0x80)
				shutdown(s.fd[v % s.n], SHUT_WR);
			else
				socks_close(&s, v % s.n);
			break;
		case 5:
			host_reads = !host_reads;
			break;
		case 6:
			front_end(&x, fz_u8(&f));
			break;
		}
		vufx_loop(&x, 2);
		host_side(&s);
		check_rx(&x);
	}
	vufx_free(&x);
	for (i = 0; i < s.n; i++)
		close(s.fd[i]);
	s.n = 0;
	host_side(&s);		/* connections the server had not taken */
	for (i = 0; i < s.n; i++)
		close(s.fd[i]);
	fuzz_fd_check();
	return 0;
}
