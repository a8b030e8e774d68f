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
	uint32_t	vals[4];
};

#define VMN_SYSCALL(name)	{ SYS_##name, -1, 0, { 0 } }
#define VMN_SYSCALL_ARG(name, a, n, ...) \
	{ SYS_##name, (a), (n), { __VA_ARGS__ } }

int	vmn_seccomp_allow(const char *who, const struct vmn_syscall *list,
	    size_t n);

#endif
