/*
 * seccomp.h - a daemon's system calls, listed next to its code
 */
#ifndef VMN_SECCOMP_H
#define VMN_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

/*
 * One allowed system call; with arg >= 0, only when that argument (an
 * int: its low 32 bits are compared) is one of vals.
 */
struct vmn_syscall {
	long		nr;
	int		arg;
	unsigned	nvals;
	uint32_t	vals[6];
};

#define VMN_SYSCALL(name)	{ SYS_##name, -1, 0, { 0 } }
#define VMN_SYSCALL_ARG(name, a, n, ...) \
	{ SYS_##name, (a), (n), { __VA_ARGS__ } }

/*
 * Groups for the daemons' lists. Sockets once made: unix ones bound with a
 * umask, connections accepted and made, their I/O, options and waits.
 */
#define VMN_SYSCALLS_SOCKETS \
	VMN_SYSCALL(bind), VMN_SYSCALL(listen), VMN_SYSCALL(connect), \
	VMN_SYSCALL(accept4), VMN_SYSCALL(accept), VMN_SYSCALL(getsockname), \
	VMN_SYSCALL(getpeername), VMN_SYSCALL(setsockopt), \
	VMN_SYSCALL(getsockopt), VMN_SYSCALL(shutdown), VMN_SYSCALL(sendto), \
	VMN_SYSCALL(recvfrom), VMN_SYSCALL(sendmsg), VMN_SYSCALL(recvmsg), \
	VMN_SYSCALL(sendmmsg), VMN_SYSCALL(recvmmsg), VMN_SYSCALL(poll), \
	VMN_SYSCALL(ppoll), VMN_SYSCALL(pselect6), VMN_SYSCALL(select), \
	VMN_SYSCALL(umask), VMN_SYSCALL(ioctl), VMN_SYSCALL(splice), \
	VMN_SYSCALL(pipe2)
/* Files: read, written beside their place and renamed over it, removed. */
#define VMN_SYSCALLS_FILES \
	VMN_SYSCALL(openat), VMN_SYSCALL(unlink), VMN_SYSCALL(unlinkat), \
	VMN_SYSCALL(rename), VMN_SYSCALL(renameat), VMN_SYSCALL(mkdir), \
	VMN_SYSCALL(chmod), VMN_SYSCALL(fchmod), VMN_SYSCALL(fsync), \
	VMN_SYSCALL(ftruncate), VMN_SYSCALL(getdents64), \
	VMN_SYSCALL(readlink), VMN_SYSCALL(statfs), VMN_SYSCALL(access), \
	VMN_SYSCALL(faccessat), VMN_SYSCALL(faccessat2), VMN_SYSCALL(dup)

int	vmn_seccomp_allow(const char *who, const struct vmn_syscall *list,
	    size_t n);

#endif
