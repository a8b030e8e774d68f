/*
 * seccomp.c - a daemon's system calls, listed next to its code
 *
 * A daemon that reads untrusted bytes lists the system calls its event
 * loop makes (common ones for the C library and libevent are added here)
 * and calls vmn_seccomp_allow() once set up, before the first untrusted
 * byte. Any other call, or a call from another ABI (x32, i386 on x86-64),
 * kills the whole process with SIGSYS: a daemon that dies is seen and
 * restarted, where one that got EPERM would carry on in a state nobody
 * tested. The filter is classic BPF, a linear list: a few dozen entries,
 * checked in well under a microsecond.
 *
 * A build with sanitizers gets what their runtimes need at exit (the
 * leak checker stops the world with clone and ptrace), so that the suite
 * runs them with the filters on too.
 *
 * VMN_SECCOMP=0 in the environment leaves the filter off (said in the
 * log), to find a missing call with strace; VMN_SECCOMP=log lets every
 * call through but has the kernel log those off the list (dmesg: "audit:
 * type=1326 ... syscall=N"), to take a census over a whole test run.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "log.h"
#include "seccomp.h"

#if defined(__x86_64__)
#define ARCH_NR		AUDIT_ARCH_X86_64
#define X32_BIT		0x40000000u
#elif defined(__aarch64__)
#define ARCH_NR		AUDIT_ARCH_AARCH64
#endif

/* What the C library, libevent and log.c call on their own. */
static const struct vmn_syscall housekeeping[] = {
	VMN_SYSCALL(brk), VMN_SYSCALL(mmap), VMN_SYSCALL(munmap),
	VMN_SYSCALL(mremap), VMN_SYSCALL(madvise), VMN_SYSCALL(mprotect),
	VMN_SYSCALL(futex), VMN_SYSCALL(clock_gettime),
	VMN_SYSCALL(gettimeofday), VMN_SYSCALL(clock_nanosleep),
	VMN_SYSCALL(getpid), VMN_SYSCALL(gettid), VMN_SYSCALL(getrandom),
	VMN_SYSCALL(rt_sigreturn), VMN_SYSCALL(rt_sigprocmask),
	VMN_SYSCALL(rt_sigaction), VMN_SYSCALL(restart_syscall),
	VMN_SYSCALL(exit), VMN_SYSCALL(exit_group),
	VMN_SYSCALL(epoll_wait), VMN_SYSCALL(epoll_pwait),
	VMN_SYSCALL(epoll_ctl), VMN_SYSCALL(close), VMN_SYSCALL(read),
	VMN_SYSCALL(write), VMN_SYSCALL(readv), VMN_SYSCALL(writev),
	VMN_SYSCALL(fcntl), VMN_SYSCALL(newfstatat), VMN_SYSCALL(fstat),
	VMN_SYSCALL(statx),
	VMN_SYSCALL(lseek),
};

#ifdef __SANITIZE_ADDRESS__
/* The sanitizers' runtimes: reports, and the leak check at exit. */
static const struct vmn_syscall sanitizers[] = {
	VMN_SYSCALL(clone), VMN_SYSCALL(clone3), VMN_SYSCALL(ptrace),
	VMN_SYSCALL(wait4), VMN_SYSCALL(prctl), VMN_SYSCALL(sched_yield),
	VMN_SYSCALL(sigaltstack), VMN_SYSCALL(openat), VMN_SYSCALL(readlink),
	VMN_SYSCALL(getdents64), VMN_SYSCALL(pipe2), VMN_SYSCALL(set_robust_list),
	VMN_SYSCALL(rseq), VMN_SYSCALL(kill), VMN_SYSCALL(tgkill),
	VMN_SYSCALL(getppid), VMN_SYSCALL(sched_getaffinity),
	VMN_SYSCALL(munlock), VMN_SYSCALL(mlock), VMN_SYSCALL(poll),
	VMN_SYSCALL(uname), VMN_SYSCALL(getrlimit), VMN_SYSCALL(prlimit64),
#ifdef SYS_open		/* the legacy calls, where the ABI has them */
	VMN_SYSCALL(open), VMN_SYSCALL(getdents),
#endif
};
#endif

struct prog {
	struct sock_filter	*insn;
	size_t			 n, cap;
	bool			 full;
};

static void
emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->n == p->cap) {
		p->full = true;
		return;
	}
	p->insn[p->n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static void
rules(struct prog *p, const struct vmn_syscall *list, size_t n)
{
	const uint32_t nr_off = offsetof(struct seccomp_data, nr);
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		const struct vmn_syscall *s = &list[i];

		if (s->arg < 0) {
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)s->nr);
			emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
			continue;
		}
		/* Not this call: past the block. Else its argument decides. */
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(2 * s->nvals + 2),
		    (uint32_t)s->nr);
		emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
		    offsetof(struct seccomp_data, args) + 8 * (uint32_t)s->arg);
		for (v = 0; v < s->nvals; v++) {
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, s->vals[v]);
			emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
		}
		emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, nr_off);
	}
}

/*
 * Allows list (and the housekeeping above) from now on, for good; kills
 * the process on anything else. who names the daemon in the log.
 */
int
vmn_seccomp_allow(const char *who, const struct vmn_syscall *list, size_t n)
{
#ifdef ARCH_NR
	struct sock_filter insn[512];
	struct prog p = { insn, 0, sizeof(insn) / sizeof(insn[0]), false };
	struct sock_fprog prog;
	const char *env = getenv("VMN_SECCOMP");
	uint32_t deny = SECCOMP_RET_KILL_PROCESS;

	if (env && strcmp(env, "0") == 0) {
		log_warnx("%s: VMN_SECCOMP=0: no system call filter", who);
		return 0;
	}
	if (env && strcmp(env, "log") == 0) {
		log_warnx("%s: VMN_SECCOMP=log: calls off the list are logged, "
		    "not refused", who);
		deny = SECCOMP_RET_LOG;
	}
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	    offsetof(struct seccomp_data, arch));
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, ARCH_NR);
	emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	    offsetof(struct seccomp_data, nr));
#ifdef X32_BIT
	emit(&p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_BIT);
	emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif
	rules(&p, housekeeping, sizeof(housekeeping) / sizeof(housekeeping[0]));
#ifdef __SANITIZE_ADDRESS__
	rules(&p, sanitizers, sizeof(sanitizers) / sizeof(sanitizers[0]));
#endif
	rules(&p, list, n);
	emit(&p, BPF_RET | BPF_K, 0, 0, deny);
	if (p.full)
		return -E2BIG;
	prog.len = (unsigned short)p.n;
	prog.filter = insn;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	log_debug("%s: system calls filtered (%zu listed, %zu instructions)",
	    who, n, p.n);
	return 0;
#else
	log_warnx("%s: no system call filter for this architecture", who);
	return 0;
#endif
}
