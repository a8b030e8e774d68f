/*
 * isolation.c - host-netd's parent: give up the privileges and system
 * calls it does not need
 *
 * Once set up, the parent still creates links, changes addresses and
 * replaces its nftables table (CAP_NET_ADMIN), binds forwarded ports that
 * may be below 1024 for the engine (CAP_NET_BIND_SERVICE) and uses raw
 * sockets for diagnostics (CAP_NET_RAW); every other capability goes
 * (common/caps.c), and the system call filter below lets it create and
 * execute nothing. It stays uid 0, held to the permission bits of root's
 * files, and reads no guest's bytes: the engine does (engine.c), as an
 * unprivileged user with no capability, and the parent reads only the
 * engine's fixed-size messages (privsep.c).
 */
#include "config.h"

#include <sys/socket.h>
#include <linux/capability.h>

#include "host-netd.h"
#include "caps.h"
#include "seccomp.h"

static const int keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, CAP_NET_RAW };

int
isolation_drop_caps(void)
{
	return vmn_caps_keep(keep, sizeof(keep) / sizeof(keep[0]));
}

/*
 * What host-netd's event loop calls once set up, beside common/seccomp.c's
 * list. Sockets: channels (unix, vsock), forwarded ports and the DNS
 * tunnel's upstreams (IPv4, IPv6), rtnetlink, nftables and sock_diag
 * (netlink), mirrored mode's raw checks (packet). Links: taps
 * (/dev/net/tun and its ioctls), veths moved into a guest's namespace
 * (setns into it and back). Files: the state directory, the registry,
 * sysctls, /etc/resolv.conf and the proxy files watched with inotify.
 * Processes: a registered VM's owner watched and signalled through a
 * pidfd. Relays splice through pipes. Nothing is executed and no process
 * is created: execve, fork and clone are not here, nor ptrace, mount or
 * module loading.
 */
static const struct vmn_syscall syscalls[] = {
	VMN_SYSCALL_ARG(socket, 0, 6, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
	    AF_VSOCK, AF_PACKET),
	VMN_SYSCALL(socketpair), VMN_SYSCALLS_SOCKETS, VMN_SYSCALLS_FILES,
	VMN_SYSCALL(fsetxattr), VMN_SYSCALL(fdatasync), VMN_SYSCALL(pread64),
	VMN_SYSCALL(pwrite64), VMN_SYSCALL(fstatfs), VMN_SYSCALL(dup2),
	VMN_SYSCALL(dup3), VMN_SYSCALL(inotify_init1),
	VMN_SYSCALL(inotify_add_watch), VMN_SYSCALL(inotify_rm_watch),
	VMN_SYSCALL(setns), VMN_SYSCALL(pidfd_open),
	VMN_SYSCALL(pidfd_send_signal), VMN_SYSCALL(kill),
	VMN_SYSCALL(getuid), VMN_SYSCALL(geteuid), VMN_SYSCALL(getgid),
	VMN_SYSCALL(getegid), VMN_SYSCALL(uname), VMN_SYSCALL(sysinfo),
	VMN_SYSCALL(prlimit64), VMN_SYSCALL(getrlimit),
	VMN_SYSCALL(sched_getaffinity), VMN_SYSCALL(wait4),
};

/* From now on, a call off the list kills host-netd (common/seccomp.c). */
int
isolation_filter_syscalls(void)
{
	return vmn_seccomp_allow("host-netd", syscalls,
	    sizeof(syscalls) / sizeof(syscalls[0]));
}
