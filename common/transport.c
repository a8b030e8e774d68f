/*
 * transport.c - vsock, hybrid vsock and unix channels; async connects
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <event2/event.h>

#include "log.h"
#include "transport.h"

static int
parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int
vmn_endpoint_parse(const char *uri, struct vmn_endpoint *ep, const char **why)
{
	const char *rest;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(uri, "vsock:", 6) == 0) {
		char cid[16];
		const char *colon;

		rest = uri + 6;
		ep->kind = VMN_TR_VSOCK;
		colon = strchr(rest, ':');
		if ((colon ? (size_t)(colon - rest) : strlen(rest)) >= sizeof(cid)) {
			*why = "bad vsock CID";
			return -EINVAL;
		}
		snprintf(cid, sizeof(cid), "%.*s",
		    (int)(colon ? colon - rest : (long)strlen(rest)), rest);
		if (parse_u32(cid, &ep->cid) < 0) {
			*why = "bad vsock CID";
			return -EINVAL;
		}
		if (colon && (parse_u32(colon + 1, &ep->port) < 0 ||
		    ep->port == 0)) {
			*why = "bad vsock port";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(uri, "hvsock:", 7) == 0) {
		ep->kind = VMN_TR_HVSOCK;
		rest = uri + 7;
	} else if (strncmp(uri, "unix:", 5) == 0) {
		ep->kind = VMN_TR_UNIX;
		rest = uri + 5;
	} else {
		*why = "unknown transport (expected vsock:, hvsock: or unix:)";
		return -EINVAL;
	}
	if (rest[0] != '/') {
		*why = "socket path must be absolute";
		return -EINVAL;
	}
	/* Room for the "_PORT" suffix and the NUL. */
	if (strlen(rest) + VMN_PORT_SUFFIX_MAX >= VMN_PATH_MAX) {
		*why = "socket path too long";
		return -ENAMETOOLONG;
	}
	strcpy(ep->path, rest);
	return 0;
}

const char *
vmn_endpoint_str(const struct vmn_endpoint *ep, char *buf, size_t len)
{
	switch (ep->kind) {
	case VMN_TR_VSOCK:
		if (ep->port)
			snprintf(buf, len, "vsock:%u:%u", ep->cid, ep->port);
		else
			snprintf(buf, len, "vsock:%u", ep->cid);
		break;
	case VMN_TR_HVSOCK:
		snprintf(buf, len, "hvsock:%s", ep->path);
		break;
	case VMN_TR_UNIX:
		snprintf(buf, len, "unix:%s", ep->path);
		break;
	default:
		snprintf(buf, len, "none");
	}
	return buf;
}

int
vmn_endpoint_port_path(const struct vmn_endpoint *ep, uint32_t port,
    char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s_%u", ep->path, port);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

static int
new_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * A listening unix socket at exactly path (a stale socket is replaced),
 * mode 0660. The mode is the umask's doing as bind() creates the socket,
 * never a chmod() by path after it, which would follow a symbolic link
 * put there in between.
 */
int
vmn_listen_path(const char *path, int backlog)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, rc;

	if ((rc = unix_addr(path, &sun)) < 0)
		return rc;
	/* A socket left by a previous run is ours to replace; nothing else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(path);
	}
	if ((fd = new_socket(AF_UNIX)) < 0)
		return fd;
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* A listening, non-blocking socket for connections to `port`, or -errno. */
int
vmn_listen(const struct vmn_endpoint *ep, uint32_t port, int backlog)
{
	char path[VMN_PATH_MAX];
	struct sockaddr_vm svm;
	int fd, rc, one = 1;

	switch (ep->kind) {
	case VMN_TR_UNIX:
	case VMN_TR_HVSOCK:
		if ((rc = vmn_endpoint_port_path(ep, port, path, sizeof(path))) < 0)
			return rc;
		return vmn_listen_path(path, backlog);
	case VMN_TR_VSOCK:
		if ((fd = new_socket(AF_VSOCK)) < 0)
			return fd;
		memset(&svm, 0, sizeof(svm));
		svm.svm_family = AF_VSOCK;
		svm.svm_cid = VMADDR_CID_ANY;
		svm.svm_port = port;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 ||
		    listen(fd, backlog) < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
		return fd;
	default:
		return -EINVAL;
	}
}

/* Removes the socket file of a unix or hvsock listener. */
void
vmn_unlisten(const struct vmn_endpoint *ep, uint32_t port)
{
	char path[VMN_PATH_MAX];

	if ((ep->kind == VMN_TR_UNIX || ep->kind == VMN_TR_HVSOCK) &&
	    vmn_endpoint_port_path(ep, port, path, sizeof(path)) == 0)
		unlink(path);
}

/* ---- asynchronous connect ------------------------------------------- */

enum conn_state {
	CS_IDLE,		/* waiting for the backoff timer */
	CS_CONNECTING,		/* connect() in progress */
	CS_HANDSHAKE,		/* hvsock: waiting for "OK <n>\n" */
};

struct vmn_connector {
	struct event_base	*base;
	struct vmn_endpoint	 ep;
	uint32_t		 port;
	unsigned		 max_attempts;	/* 0: forever */
	unsigned		 attempts;
	unsigned		 delay_ms;
	enum conn_state		 state;
	int			 fd;
	struct event		*timer;
	struct event		*io;
	struct timeval		 connected_at;
	char			 line[32];
	size_t			 linelen;
	vmn_connected_fn	 ok;
	vmn_connect_failed_fn	 failed;
	void			*arg;
};

static void connector_attempt(struct vmn_connector *c);

static void
connector_reset_io(struct vmn_connector *c)
{
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
connector_retry(struct vmn_connector *c, int err)
{
	struct timeval tv;

	connector_reset_io(c);
	c->state = CS_IDLE;
	if (c->max_attempts && c->attempts >= c->max_attempts) {
		if (c->failed)
			c->failed(err, c->arg);	/* may free c */
		return;
	}
	tv.tv_sec = c->delay_ms / 1000;
	tv.tv_usec = (c->delay_ms % 1000) * 1000;
	c->delay_ms = c->delay_ms * 2 > VMN_BACKOFF_MAX_MS ?
	    VMN_BACKOFF_MAX_MS : c->delay_ms * 2;
	evtimer_add(c->timer, &tv);
}

static void
connector_done(struct vmn_connector *c)
{
	int fd = c->fd;

	c->fd = -1;
	connector_reset_io(c);
	c->state = CS_IDLE;
	event_base_gettimeofday_cached(c->base, &c->connected_at);
	c->ok(fd, c->arg);	/* may free c */
}

static void
handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vmn_connector *c = arg;
	unsigned n;
	char tail;

	if (what & EV_TIMEOUT) {
		connector_retry(c, -ETIMEDOUT);
		return;
	}
	/* One byte at a time: bytes after the line belong to the stream. */
	while (c->linelen < sizeof(c->line) - 1) {
		ssize_t r = read(fd, &c->line[c->linelen], 1);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			connector_retry(c, r == 0 ? -ECONNRESET : -errno);
			return;
		}
		if (c->line[c->linelen++] == '\n') {
			c->line[c->linelen] = '\0';
			if (sscanf(c->line, "OK %u%c", &n, &tail) == 2 &&
			    tail == '\n') {
				connector_done(c);
			} else {
				log_debug("hvsock %s: refused port %u: %.*s",
				    c->ep.path, c->port,
				    (int)strcspn(c->line, "\n"), c->line);
				connector_retry(c, -ECONNREFUSED);
			}
			return;
		}
	}
	connector_retry(c, -EPROTO);
}

/* Connected: done, or (hybrid vsock) on to the CONNECT handshake. */
static void
connector_connected(struct vmn_connector *c)
{
	struct timeval tv = { VMN_CONNECT_TIMEOUT_MS / 1000,
	    (VMN_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	char line[32];
	int n;

	if (c->ep.kind != VMN_TR_HVSOCK) {
		connector_done(c);
		return;
	}
	n = snprintf(line, sizeof(line), "CONNECT %u\n", c->port);
	if (write(c->fd, line, n) != n) {
		connector_retry(c, -EIO);
		return;
	}
	if (c->io)
		event_free(c->io);
	c->state = CS_HANDSHAKE;
	c->linelen = 0;
	c->io = event_new(c->base, c->fd, EV_READ | EV_PERSIST, handshake_cb,
	    c);
	event_add(c->io, &tv);
}

static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vmn_connector *c = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (what & EV_TIMEOUT) {
		connector_retry(c, -ETIMEDOUT);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		connector_retry(c, -err);
		return;
	}
	connector_connected(c);
}

/*
 * A user's channel: the socket connected to must be theirs (its creator's
 * credentials, fixed at listen(); a link to another socket put in its
 * place is caught here, before a byte is sent).
 */
static int
peer_is(int fd, uint32_t uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	return cred.uid == uid ? 0 : -EACCES;
}

/*
 * Starts connecting to ep's port: 1, connected (*fdp: the socket); 0, in
 * progress (*fdp: wait until writable); or -errno.
 */
int
vmn_connect_start(const struct vmn_endpoint *ep, uint32_t port, int *fdp)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	struct sockaddr_vm *svm = (struct sockaddr_vm *)&ss;
	char path[VMN_PATH_MAX];
	socklen_t sslen;
	int fd, rc;

	memset(&ss, 0, sizeof(ss));
	switch (ep->kind) {
	case VMN_TR_UNIX:
		if ((rc = vmn_endpoint_port_path(ep, port, path,
		    sizeof(path))) < 0 || (rc = unix_addr(path, sun)) < 0)
			return rc;
		sslen = sizeof(*sun);
		break;
	case VMN_TR_HVSOCK:
		if ((rc = unix_addr(ep->path, sun)) < 0)
			return rc;
		sslen = sizeof(*sun);
		break;
	case VMN_TR_VSOCK:
		svm->svm_family = AF_VSOCK;
		svm->svm_cid = ep->cid;
		svm->svm_port = ep->port ? ep->port : port;
		sslen = sizeof(*svm);
		break;
	default:
		return -EINVAL;
	}
	if ((fd = new_socket(ss.ss_family)) < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		if (ep->owned && (rc = peer_is(fd, ep->owner_uid)) < 0) {
			close(fd);
			return rc;
		}
		*fdp = fd;
		return 1;	/* unix sockets connect at once */
	}
	if (errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

/* Who makes the connector's sockets: vmn_connect_start(), or a broker. */
vmn_connect_fn vmn_connect_via = vmn_connect_start;

static int
start_connect(struct vmn_connector *c)
{
	return vmn_connect_via(&c->ep, c->port, &c->fd);
}

static void
connector_attempt(struct vmn_connector *c)
{
	struct timeval tv = { VMN_CONNECT_TIMEOUT_MS / 1000,
	    (VMN_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	int rc;

	c->attempts++;
	if ((rc = start_connect(c)) < 0) {
		connector_retry(c, rc);
		return;
	}
	if (rc == 1) {
		connector_connected(c);		/* may free c */
		return;
	}
	c->state = CS_CONNECTING;
	c->io = event_new(c->base, c->fd, EV_WRITE, connect_cb, c);
	event_add(c->io, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	connector_attempt(arg);
}

/* Starts connecting at once; retries with backoff until max_attempts. */
struct vmn_connector *
vmn_connector_new(struct event_base *base, const struct vmn_endpoint *ep,
    uint32_t port, unsigned max_attempts, vmn_connected_fn ok,
    vmn_connect_failed_fn failed, void *arg)
{
	struct vmn_connector *c = calloc(1, sizeof(*c));
	struct timeval now = { 0, 0 };

	if (!c)
		return NULL;
	c->base = base;
	c->ep = *ep;
	c->port = port;
	c->max_attempts = max_attempts;
	c->delay_ms = VMN_BACKOFF_MIN_MS;
	c->fd = -1;
	c->ok = ok;
	c->failed = failed;
	c->arg = arg;
	c->timer = evtimer_new(base, timer_cb, c);
	if (!c->timer) {
		free(c);
		return NULL;
	}
	/* From the loop, so callbacks never run inside this call. */
	evtimer_add(c->timer, &now);
	return c;
}

/*
 * Connects again after the connection it made has ended. Backoff starts
 * over only if that connection lived a while: a peer that accepts and
 * hangs up at once is not hammered.
 */
void
vmn_connector_again(struct vmn_connector *c)
{
	struct timeval now, tv;

	if (c->state != CS_IDLE || evtimer_pending(c->timer, NULL))
		return;
	event_base_gettimeofday_cached(c->base, &now);
	if (now.tv_sec - c->connected_at.tv_sec >= 2)
		c->delay_ms = VMN_BACKOFF_MIN_MS;
	c->attempts = 0;
	tv.tv_sec = c->delay_ms / 1000;
	tv.tv_usec = (c->delay_ms % 1000) * 1000;
	c->delay_ms = c->delay_ms * 2 > VMN_BACKOFF_MAX_MS ?
	    VMN_BACKOFF_MAX_MS : c->delay_ms * 2;
	evtimer_add(c->timer, &tv);
}

void
vmn_connector_free(struct vmn_connector *c)
{
	if (!c)
		return;
	connector_reset_io(c);
	event_free(c->timer);
	free(c);
}

unsigned
vmn_connector_attempts(const struct vmn_connector *c)
{
	return c->attempts;
}
