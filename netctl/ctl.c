/*
 * ctl.c - netctl: the connection to host-netd, and how a failure is told
 *
 * The socket is -s, else $VMNETD_SOCKET, else the default. A failure to
 * connect names the socket tried and what the error means (host-netd not
 * running, or not allowed). host-netd's refusals come with its reason and,
 * for a reload or a registration, each "file:line: message" error. Under
 * --json a failure is one JSON object on standard output instead of lines
 * on standard error; the exit status says which kind of failure it was.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netctl.h"

#define MAX_ERRORS	64	/* a refusal's errors shown, at most */

static const char *sock_path = NETCTL_DEFAULT_SOCKET;
static const char *sock_origin;		/* where sock_path came from */
static int ctl_fd = -1;
static uint32_t ctl_seq;
static uint8_t rxbuf[VMN_MAX_FRAME];

void
fail(int status, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (output == OUT_JSON)
		json_error(msg, err, NULL, 0);
	else
		fprintf(stderr, "netctl: %s\n", msg);
	exit(status);
}

/* origin: NULL for -s or the default, else the variable it came from. */
void
ctl_set_socket(const char *path, const char *origin)
{
	sock_path = path;
	sock_origin = origin;
}

/* Connects once, on the first request: usage errors need no host-netd. */
static void
ctl_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char at[PATH_MAX + 64];
	int err;

	if (ctl_fd >= 0)
		return;
	snprintf(at, sizeof(at), "%s%s%s", sock_path,
	    sock_origin ? ", from " : "", sock_origin ? sock_origin : "");
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		fail(EXIT_UNREACHABLE, ENAMETOOLONG, "socket path too long "
		    "(%s)", at);
	strcpy(sun.sun_path, sock_path);
	if ((ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fail(EXIT_FAILED, errno, "socket: %s", strerror(errno));
	if (connect(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return;
	switch ((err = errno)) {
	case ENOENT:
	case ENOTDIR:
		fail(EXIT_UNREACHABLE, err, "host-netd is not running (no "
		    "socket at %s)", at);
	case ECONNREFUSED:
		fail(EXIT_UNREACHABLE, err, "host-netd is not running "
		    "(nothing listens on %s)", at);
	case EACCES:
	case EPERM:
		fail(EXIT_UNREACHABLE, err, "permission denied on %s: add "
		    "yourself to the vmnetd group (and log in again) or run "
		    "as root", at);
	default:
		fail(EXIT_UNREACHABLE, err, "cannot connect to host-netd at "
		    "%s: %s", at, strerror(err));
	}
}

void
ctl_send(struct vmn_buf *b)
{
	int len;

	ctl_connect();
	if ((len = vmn_msg_end(b)) < 0)
		fail(EXIT_FAILED, -len, "cannot encode the request: %s",
		    strerror(-len));
	if (write(ctl_fd, b->data, (size_t)len) != len)
		fail(EXIT_FAILED, errno, "sending to host-netd: %s",
		    strerror(errno));
}

/* A request in storage, for ctl_send() once its attributes are in. */
void
ctl_begin(struct vmn_buf *b, uint8_t *storage, size_t cap, uint16_t type)
{
	vmn_buf_init(b, storage, cap);
	vmn_msg_begin(b, type, VMN_F_REQUEST, ++ctl_seq);
}

/* A request without attributes. */
void
ctl_request(uint16_t type)
{
	uint8_t buf[64];
	struct vmn_buf b;

	ctl_begin(&b, buf, sizeof(buf), type);
	ctl_send(&b);
}

static void
read_full(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		if ((n = read(ctl_fd, p, len)) <= 0)
			fail(EXIT_FAILED, n < 0 ? errno : EPIPE,
			    "host-netd closed the connection");
		p += n;
		len -= (size_t)n;
	}
}

/* An error reply: its summary, then each error it lists. */
static void __attribute__((noreturn))
fail_reply(const struct vmn_msg *m)
{
	static const struct vmn_attr_policy line = { .kind = VMN_AK_STRING,
	    .max_len = VMN_MAX_STRING };
	static char lines[MAX_ERRORS][VMN_MAX_STRING + 1];
	const char *ptrs[MAX_ERRORS];
	char msg[VMN_MAX_STRING + 1];
	int err = (int)vmn_attr_u32(&m->tb[VMN_A_ERRNO]);
	struct vmn_attr_iter it;
	struct vmn_attr a;
	unsigned n = 0, more = 0, i;

	vmn_attr_for_each(&a, &it, &m->tb[VMN_A_ERRORS]) {
		if ((a.type & VMN_ATTR_TYPE_MASK) != VMN_A_ERRMSG ||
		    vmn_attr_check(&a, &line) < 0)
			continue;
		if (n == MAX_ERRORS || vmn_attr_str(&a, lines[n],
		    sizeof(lines[n])) < 0) {
			more++;
			continue;
		}
		ptrs[n] = vmn_str_printable(lines[n]);
		n++;
	}
	if (vmn_attr_str(&m->tb[VMN_A_ERRMSG], msg, sizeof(msg)) < 0 ||
	    !msg[0])
		snprintf(msg, sizeof(msg), "%s", strerror(err));
	vmn_str_printable(msg);
	if (output == OUT_JSON) {
		json_error(msg, err, ptrs, n);
	} else {
		fprintf(stderr, "netctl: %s\n", msg);
		for (i = 0; i < n; i++)
			fprintf(stderr, "%s\n", lines[i]);
		if (more)
			fprintf(stderr, "(%u more)\n", more);
	}
	exit(EXIT_FAILED);
}

/* Reads one reply to our last request; an error reply ends netctl. */
void
ctl_reply(struct vmn_msg *m)
{
	const char *why = NULL;
	struct vmn_hdr h;

	read_full(rxbuf, VMN_HDR_LEN);
	if (vmn_hdr_decode(rxbuf, VMN_HDR_LEN, &h, &why) < 0)
		fail(EXIT_FAILED, EPROTO, "bad reply from host-netd: %s", why);
	read_full(rxbuf + VMN_HDR_LEN, h.length);
	if (vmn_msg_parse(rxbuf, VMN_HDR_LEN + h.length, m, &why) < 0)
		fail(EXIT_FAILED, EPROTO, "bad reply from host-netd: %s", why);
	if (m->hdr.seq != ctl_seq)
		fail(EXIT_FAILED, EPROTO, "reply out of order");
	if (m->hdr.flags & VMN_F_ERROR)
		fail_reply(m);
}
