/*
 * fuzz_vhost_user.c - vhost-user messages from the front-end
 * (vm/vhost-user.c, with the real vsock device and guest memory behind)
 *
 * Reaches: vu_read_msg() (a header split from its payload, sizes past
 * VHOST_USER_MAX_PAYLOAD, payloads shorter than announced, descriptors
 * passed with SCM_RIGHTS, too many of them) and vu_handle() on what it
 * reads: every request, with payloads of any size, features, protocol
 * features and REPLY_ACK, SET_MEM_TABLE (guestmem_set()'s region checks:
 * overlaps, wraps, offsets), rings set up, started, enabled, stopped and
 * reset in any order, GET_CONFIG's offsets and sizes; then kicks, so the
 * device (vm/vsockdev.c) runs on whatever the rings in guest memory say.
 *
 * QEMU is the host's own process, but vhost-user is its one way into
 * vmnet-vsockd, and QEMU runs the guest. The front-end's messages go
 * through a socketpair, one stream per input, as QEMU writes them; the
 * replies are read and dropped. Input: records, a byte each, then:
 *
 *   0 a message: u8 request, u8 flags, u16 size announced, u8 fds
 *     (count % 9; bit 7: memfds of the guest's RAM, else eventfds),
 *     u16 payload length, the payload (the announced size and the real
 *     one may differ: the stream then goes out of step, as it would)
 *   1 the guest writes its RAM: u32 offset, u16 length, bytes
 *   2 the guest kicks: every eventfd passed so far is signalled
 *   3 the loop runs
 *
 * A message that cannot be read leaves its bytes drained, as a new
 * session would start clean. Checks: the sanitizers, and no descriptor
 * left open once the device is freed.
 *
 * The memfds passed are the guest's RAM, RAM_SIZE bytes, whatever sizes
 * the message gives its regions: a front-end may lie. With
 * VMN_FUZZ_VU_TRUSTED_SIZES=1 the harness plays a front-end that does not:
 * the memfd is grown (sparse, up to 64 MiB) to hold every region a
 * SET_MEM_TABLE names, and one naming more is not sent. That is for a
 * campaign that has to get past a device which maps a region beyond the
 * end of its file (tests/fuzz/README.md, what a campaign found).
 */
#include "config.h"

#include <sys/uio.h>

#include "fuzz_vu.h"

#define MAX_EVFDS	16
#define TRUSTED_MAX	(64u << 20)

static int evfds[MAX_EVFDS];
static unsigned nevfds;
static bool trusted_sizes;

/*
 * A front-end that tells the truth: the RAM file grown to hold each region
 * of a SET_MEM_TABLE payload; false if one would not fit in TRUSTED_MAX.
 */
static bool
fit_regions(const uint8_t *p, size_t plen)
{
	uint64_t need = RAM_SIZE, size, off;
	size_t i, n;

	if (plen < 8)
		return true;
	n = get_le32(p);
	for (i = 0; i < n && 8 + 32 * (i + 1) <= plen; i++) {
		size = get_le64(p + 8 + 32 * i + 8);
		off = get_le64(p + 8 + 32 * i + 24);
		if (off + size < off || off + size > TRUSTED_MAX)
			return false;
		if (off + size > need)
			need = off + size;
	}
	return ftruncate(ram_fd, (off_t)need) == 0;
}

/* Sends one message with nfds descriptors of the kind asked for. */
static void
send_msg(int fd, const uint8_t *hdr, const uint8_t *payload, size_t plen,
    unsigned nfds, bool memfds)
{
	union {
		char		buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr	align;
	} cm;
	struct iovec iov[2] = {
		{ (void *)(uintptr_t)hdr, VHOST_USER_HDR_SIZE },
		{ (void *)(uintptr_t)payload, plen },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	struct cmsghdr *c;
	int fds[8];
	unsigned i;

	for (i = 0; i < nfds; i++) {
		if (memfds) {
			fds[i] = fcntl(ram_fd, F_DUPFD_CLOEXEC, 0);
		} else {
			fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (fds[i] >= 0 && nevfds < MAX_EVFDS)
				evfds[nevfds++] = fcntl(fds[i], F_DUPFD_CLOEXEC,
				    0);
		}
		if (fds[i] < 0)
			abort();
	}
	if (nfds) {
		memset(cm.buf, 0, sizeof(cm.buf));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		abort();
	for (i = 0; i < nfds; i++)
		close(fds[i]);		/* the receiver has its own now */
}

/* Reads and handles what the stream holds, as msg_cb would. */
static void
receive(struct vufx *x, int rfd)
{
	static uint8_t payload[VHOST_USER_MAX_PAYLOAD];
	static uint8_t junk[65536];
	uint32_t req, flags, size;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds, n = 0;
	int rc;

	while (n++ < 64) {
		rc = vu_read_msg(rfd, &req, &flags, payload, &size, fds, &nfds);
		if (rc == -EAGAIN && n == 1)
			return;		/* nothing there */
		if (rc <= 0) {
			/* A broken stream: what is left of it goes. */
			while (recv(rfd, junk, sizeof(junk), 0) > 0)
				;
			return;
		}
		vu_handle(&x->vu, req, flags, payload, size, fds, nfds);
		vufx_drain_peer(x);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	fuzz_vu_init();
	trusted_sizes = getenv("VMN_FUZZ_VU_TRUSTED_SIZES") != NULL &&
	    strcmp(getenv("VMN_FUZZ_VU_TRUSTED_SIZES"), "0") != 0;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vufx x;
	uint8_t hdr[VHOST_USER_HDR_SIZE];
	const uint8_t *p;
	struct fz f;
	size_t len;
	unsigned ops = 0, i;
	uint32_t off;
	uint8_t nf;
	int sv[2];

	fuzz_fd_mark();
	fz_init(&f, data, size);
	nevfds = 0;
	/* Pages past the RAM a previous input's regions made go. */
	if (trusted_sizes && ftruncate(ram_fd, RAM_SIZE) < 0)
		abort();
	vufx_new(&x, false);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		abort();
	while (!fz_empty(&f) && ops++ < 128) {
		switch (fz_u8(&f) % 4) {
		case 0:
			put_le32(hdr, fz_u8(&f));		/* request */
			put_le32(hdr + 4, fz_u8(&f));		/* flags */
			put_le32(hdr + 8, fz_u16(&f));		/* size */
			nf = fz_u8(&f);
			p = fz_bytes(&f, fz_u16(&f), &len);
			if (trusted_sizes && (nf & 0x80) && (nf & 0x7f) % 9 &&
			    !fit_regions(p, len))
				break;
			send_msg(sv[1], hdr, p, len, (nf & 0x7f) % 9,
			    (nf & 0x80) != 0);
			receive(&x, sv[0]);
			break;
		case 1:
			off = fz_u32(&f) % RAM_SIZE;
			p = fz_bytes(&f, fz_u16(&f), &len);
			if (len > RAM_SIZE - off)
				len = RAM_SIZE - off;
			memcpy(ram + off, p, len);
			break;
		case 2:
			for (i = 0; i < nevfds; i++)
				if (evfds[i] >= 0)
					eventfd_write(evfds[i], 1);
			break;
		case 3:
			break;
		}
		vufx_loop(&x, 2);
	}
	close(sv[0]);
	close(sv[1]);
	vufx_free(&x);
	for (i = 0; i < nevfds; i++)
		if (evfds[i] >= 0)
			close(evfds[i]);
	fuzz_fd_check();
	return 0;
}
