/*
 * fdpass.h - a descriptor riding on a unix socket's bytes (SCM_RIGHTS)
 */
#ifndef VMN_FDPASS_H
#define VMN_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

ssize_t	vmn_sendmsg_fd(int fd, struct iovec *iov, size_t iovcnt, int pass,
	    int flags);
ssize_t	vmn_recvmsg_fd(int fd, struct iovec *iov, size_t iovcnt, int *passed,
	    int flags, int *msg_flags);

#endif
