/*
 * sockets.c - the local sockets of a forward: connect to, listen on
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sockets.h"

socklen_t
fwd_sockaddr(const struct vmn_ip *ip, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = ip->u.v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = ip->u.v6;
		return sizeof(*sin6);
	}
}

/* 127.0.0.1 or ::1. */
void
fwd_loopback(uint8_t family, struct vmn_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	if (family == AF_INET)
		ip->u.v4.s_addr = htonl(INADDR_LOOPBACK);
	else
		ip->u.v6 = in6addr_loopback;
}

/* Latency over batching: forwarded request/response traffic is small. */
void
fwd_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * A non-blocking socket to 127.0.0.1:port or [::1]:port, connecting
 * (TCP: maybe still in progress) or connected (UDP), or -errno.
 */
int
fwd_connect_local(uint8_t family, uint8_t proto, uint16_t port)
{
	struct sockaddr_storage ss;
	struct vmn_ip ip;
	socklen_t sslen;
	int fd, rc;

	fwd_loopback(family, &ip);
	sslen = fwd_sockaddr(&ip, port, &ss);
	fd = socket(family, (proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 &&
	    errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (proto == IPPROTO_TCP)
		fwd_nodelay(fd);
	return fd;
}

/*
 * A non-blocking socket bound to addr:port (TCP: listening), or -errno.
 * reuseport: shared with mirrored mode's holders of the port on the
 * wildcard (also root's, and also SO_REUSEPORT), nobody else.
 */
int
fwd_bind_local(const struct vmn_ip *addr, uint8_t proto, uint16_t port,
    int backlog, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t sslen = fwd_sockaddr(addr, port, &ss);
	int fd, rc, one = 1;

	fd = socket(addr->family, (proto == IPPROTO_TCP ? SOCK_STREAM :
	    SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (proto == IPPROTO_TCP)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* [::]:P must not take 0.0.0.0:P too: each family binds its own. */
	if (addr->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    (proto == IPPROTO_TCP && listen(fd, backlog) < 0)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* How a non-blocking connect on fd ended: 0, or an errno. */
int
fwd_connect_error(int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}
