/*
 * fdpass.c - a descriptor riding on a unix socket's bytes (SCM_RIGHTS)
 *
 * What the daemons pass is one socket at a time: host-netd's parent to
 * its engine (privsep), host-netd to guest-netd (a forwarded connection
 * handed off). A receiver keeps the first descriptor a message brings and
 * closes any other, so that a peer sending more costs it nothing.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fdpass.h"

/* sendmsg(2) with pass along (-1: none); EINTR is tried again. */
ssize_t
vmn_sendmsg_fd(int fd, struct iovec *iov, size_t iovcnt, int pass, int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
	struct cmsghdr *c;
	ssize_t n;

	if (pass >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * recvmsg(2); a descriptor that came goes to *passed if that is -1, and
 * is closed otherwise (close-on-exec either way). *msg_flags (if not
 * NULL) gets the message's flags: MSG_TRUNC, say.
 */
ssize_t
vmn_recvmsg_fd(int fd, struct iovec *iov, size_t iovcnt, int *passed,
    int flags, int *msg_flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	size_t i, nfds;
	ssize_t n;
	int f;

	do
		n = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return n;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*passed < 0)
				*passed = f;
			else
				close(f);
		}
	}
	if (msg_flags)
		*msg_flags = mh.msg_flags;
	return n;
}
