/*
 * chan.c - the start of a fwd or rfwd channel
 *
 * The side that opens a channel sends HELLO (its role) and FWD (what to
 * connect to) in one write; the other side answers both, also in one
 * write, once it has connected (or with an errno), and from then on the
 * channel carries the connection's bytes. Frames here are few and small,
 * and always read exactly, so that the first bytes of the connection,
 * which may follow the answer at once, stay in the socket.
 *
 * Over a unix socket the request may carry the opener's local socket
 * (SCM_RIGHTS, VMN_CAP_FWD_HANDOFF): the answering end then relays that
 * socket to its own local one, and the channel ends with the answer.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "chan.h"
#include "fdpass.h"

void
chan_reader_init(struct chan_reader *cr)
{
	cr->have = 0;
	cr->need = VMN_HDR_LEN;
}

/*
 * Reads into the reader; a descriptor passed with the bytes goes to
 * *passed (NULL: none taken; one is kept, any more are closed).
 */
static ssize_t
read_some(struct chan_reader *cr, int fd, int *passed)
{
	struct iovec iov = { cr->buf + cr->have, cr->need - cr->have };

	if (!passed)
		return read(fd, iov.iov_base, iov.iov_len);
	return vmn_recvmsg_fd(fd, &iov, 1, passed, 0, NULL);
}

/*
 * 1: a whole frame is parsed into m (valid until the next call); 0: wait
 * for more; -errno: the channel is unusable (EOF is -ECONNRESET). passed:
 * where a descriptor sent with the frames goes (NULL: none accepted).
 */
int
chan_read(struct chan_reader *cr, int fd, struct vmn_msg *m, const char **why,
    int *passed)
{
	struct vmn_hdr h;
	ssize_t n;
	int rc;

	for (;;) {
		n = read_some(cr, fd, passed);
		if (n == 0) {
			*why = "closed during the handshake";
			return -ECONNRESET;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			*why = "read failed";
			return -errno;
		}
		cr->have += (size_t)n;
		if (cr->have < cr->need)
			continue;
		if (cr->need == VMN_HDR_LEN) {
			if ((rc = vmn_hdr_decode(cr->buf, cr->have, &h, why)) < 0)
				return rc;
			if (h.length > CHAN_FRAME_MAX) {
				*why = "handshake frame too long";
				return -EMSGSIZE;
			}
			cr->need = VMN_HDR_LEN + h.length;
			if (h.length)
				continue;
		}
		rc = vmn_msg_parse(cr->buf, cr->have, m, why);
		chan_reader_init(cr);
		return rc < 0 ? rc : 1;
	}
}

/*
 * The frames of one handshake step go out in one write, so the peer wakes
 * once for them: a connection's setup is a few of these round trips.
 */
static int
send_frames(int fd, const uint8_t *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ?
	    0 : -EIO;
}

/* The same, with descriptor pass riding on the frames (SCM_RIGHTS). */
int
chan_send_fd(int fd, const uint8_t *buf, size_t len, int pass)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	ssize_t n;

	n = vmn_sendmsg_fd(fd, &iov, 1, pass, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;		/* nothing went: the socket is full */
	return n == (ssize_t)len ? 0 : -EIO;
}

int
chan_send_request(int fd, enum vmn_role role, const char *vm_id,
    const struct fwd_target *t, int pass)
{
	uint8_t buf[2 * (VMN_HDR_LEN + CHAN_FRAME_MAX)];
	struct vmn_buf b;
	int hello, fwd;

	vmn_buf_init(&b, buf, sizeof(buf) / 2);
	if ((hello = vmn_build_hello(&b, VMN_F_REQUEST, 1, role,
	    VMN_CAP_PORTFWD | VMN_CAP_RFWD, vm_id)) < 0)
		return hello;
	vmn_buf_init(&b, buf + hello, sizeof(buf) / 2);
	vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REQUEST, 2);
	vmn_put_u8(&b, VMN_A_PROTO, t->proto);
	if (t->family)
		vmn_put_u8(&b, VMN_A_FAMILY, t->family);
	vmn_put_u16(&b, VMN_A_PORT, t->port);
	vmn_put_u32(&b, VMN_A_CONN_ID, t->conn_id);
	if ((fwd = vmn_msg_end(&b)) < 0)
		return fwd;
	if (pass >= 0)
		return chan_send_fd(fd, buf, (size_t)hello + (size_t)fwd,
		    pass);
	return send_frames(fd, buf, (size_t)hello + (size_t)fwd);
}

/*
 * The answer to the channel's HELLO alone, ahead of FWD's: the peer hears
 * that the connection is on its way, only not yet made.
 */
int
chan_send_hello_reply(int fd, const struct chan_hello *hello)
{
	uint8_t buf[VMN_HDR_LEN + CHAN_FRAME_MAX];
	struct vmn_buf b;
	int len;

	vmn_buf_init(&b, buf, sizeof(buf));
	if ((len = vmn_build_hello(&b, VMN_F_REPLY, hello->seq, hello->role,
	    hello->caps, hello->vm_id)) < 0)
		return len;
	return send_frames(fd, buf, (size_t)len);
}

/*
 * The answer to FWD: 0 connected, or -errno with a reason; preceded by the
 * answer to the channel's HELLO when `hello` says what to put in it.
 */
int
chan_send_reply(int fd, const struct chan_hello *hello, uint32_t seq,
    int err, const char *msg)
{
	uint8_t buf[2 * (VMN_HDR_LEN + CHAN_FRAME_MAX)];
	struct vmn_buf b;
	int len = 0, fwd;

	if (hello) {
		vmn_buf_init(&b, buf, sizeof(buf) / 2);
		len = vmn_build_hello(&b, VMN_F_REPLY, hello->seq, hello->role,
		    hello->caps, hello->vm_id);
		if (len < 0)
			return len;
	}
	vmn_buf_init(&b, buf + len, sizeof(buf) / 2);
	if (err) {
		fwd = vmn_build_error(&b, VMN_MSG_FWD, seq, err, msg);
	} else {
		vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REPLY, seq);
		fwd = vmn_msg_end(&b);
	}
	if (fwd < 0)
		return fwd;
	return send_frames(fd, buf, (size_t)len + (size_t)fwd);
}

/*
 * The answers to our HELLO and FWD, one a call, as they come:
 * CHAN_HELLO_ANSWERED, CHAN_FWD_ANSWERED (the peer has connected),
 * CHAN_FWD_REFUSED (it could not: *err is its errno, msg its reason), 0 for
 * more, or -errno when the channel failed (*why says how).
 */
int
chan_read_reply(struct chan_reader *cr, int fd, int *err, char *msg,
    size_t msglen, const char **why)
{
	struct vmn_msg m;
	uint32_t e;
	int rc;

	msg[0] = '\0';
	if ((rc = chan_read(cr, fd, &m, why, NULL)) <= 0)
		return rc;
	if (!(m.hdr.flags & VMN_F_ERROR) && m.hdr.type == VMN_MSG_HELLO)
		return CHAN_HELLO_ANSWERED;
	if (!(m.hdr.flags & VMN_F_ERROR) && m.hdr.type == VMN_MSG_FWD)
		return CHAN_FWD_ANSWERED;
	if (vmn_attr_str(&m.tb[VMN_A_ERRMSG], msg, msglen) < 0)
		msg[0] = '\0';
	e = vmn_attr_u32(&m.tb[VMN_A_ERRNO]);
	*err = e > 0 && e < 4096 ? (int)e : ECONNREFUSED;
	return CHAN_FWD_REFUSED;
}

/* What a FWD request asks for; -EINVAL if it does not make sense. */
int
fwd_target_parse(const struct vmn_msg *m, struct fwd_target *t)
{
	memset(t, 0, sizeof(*t));
	if (!vmn_attr_present(&m->tb[VMN_A_PROTO]) ||
	    !vmn_attr_present(&m->tb[VMN_A_PORT]))
		return -EINVAL;
	t->proto = vmn_attr_u8(&m->tb[VMN_A_PROTO]);
	t->port = vmn_attr_u16(&m->tb[VMN_A_PORT]);
	if (vmn_attr_present(&m->tb[VMN_A_FAMILY]))
		t->family = vmn_attr_u8(&m->tb[VMN_A_FAMILY]);
	if (vmn_attr_present(&m->tb[VMN_A_CONN_ID]))
		t->conn_id = vmn_attr_u32(&m->tb[VMN_A_CONN_ID]);
	if ((t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP) ||
	    t->port == 0 ||
	    (t->family && t->family != AF_INET && t->family != AF_INET6))
		return -EINVAL;
	return 0;
}
