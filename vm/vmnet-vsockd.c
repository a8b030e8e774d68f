/*
 * vmnet-vsockd.c - a vhost-user virtio-vsock back-end for one VM
 *
 * Where the host has no /dev/vhost-vsock, QEMU's vhost-user-vsock device
 * hands the guest's vsock to this process, which gives host programs the
 * guest's ports the way Firecracker and cloud-hypervisor do (hybrid
 * vsock): host-netd talks to it exactly as to those VMMs, and inside the
 * guest it is plain AF_VSOCK.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "caps.h"
#include "cli.h"
#include "log.h"
#include "seccomp.h"
#include "transport.h"
#include "vhost-user.h"
#include "vsockdev.h"

static struct {
	struct event_base	*base;
	struct vu_dev		 vu;
	struct vsockdev		*dev;
	const char		*socket_path;
	bool			 once;
} d;

static const char usage_text[] =
    "usage: vmnet-vsockd [-v] --socket PATH --uds PATH [--guest-cid N] "
    "[--once]\n"
    "  --socket PATH    the vhost-user socket QEMU connects to\n"
    "  --uds PATH       hybrid vsock: host programs connect here and say\n"
    "                   \"CONNECT <port>\"; guest connections to host port P\n"
    "                   go to PATH_P\n"
    "  --guest-cid N    the guest's CID (default 3)\n"
    "  --once           exit when QEMU disconnects (and leave SIGINT\n"
    "                   to QEMU: Ctrl-C in a terminal ends it, then us)\n"
    "  -v               more verbose logging (stderr)\n"
    "  -h, --help       this text\n"
    "      --version    vmnet-vsockd's version\n";

/*
 * What the event loop calls once set up, beside common/seccomp.c's list:
 * QEMU's vhost-user messages (descriptors with them: guest memory mapped
 * shared, kick and call eventfds), the guest's connections to host
 * programs (unix sockets only: hybrid vsock) and theirs to the guest.
 * No files are opened, nothing is executed, no other socket family.
 */
static const struct vmn_syscall syscalls[] = {
	VMN_SYSCALL(recvmsg), VMN_SYSCALL(sendmsg), VMN_SYSCALL(recvfrom),
	VMN_SYSCALL(sendto), VMN_SYSCALL(accept4), VMN_SYSCALL(connect),
	VMN_SYSCALL_ARG(socket, 0, 1, AF_UNIX), VMN_SYSCALL(shutdown),
	VMN_SYSCALL(setsockopt), VMN_SYSCALL(getsockopt),
	VMN_SYSCALL(unlink),		/* our socket, at exit */
};

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("exiting on signal %d", (int)sig);
	event_base_loopbreak(d.base);
}

/* --once: QEMU gone is the end of this VM. */
static void
disconnected(void *arg)
{
	if (d.once)
		event_base_loopbreak(d.base);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "uds", required_argument, NULL, 'u' },
		{ "guest-cid", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct vsockdev_stats *st;
	struct event *sigterm, *sigint;
	const char *uds = NULL;
	uint64_t cid = 3;
	char err[256], *end;
	int ch, verbose = 0, fd;

	log_init("vmnet-vsockd", LOG_TO_STDERR, 0);
	while ((ch = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			vmn_cli_help(usage_text);
		case 'V':
			vmn_cli_version("vmnet-vsockd");
		case 's':
			d.socket_path = optarg;
			break;
		case 'u':
			uds = optarg;
			break;
		case 'c':
			errno = 0;
			cid = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				fatalx("--guest-cid %s: a number", optarg);
			break;
		case 'o':
			d.once = true;
			break;
		case 'v':
			verbose++;
			break;
		default:
			vmn_cli_getopt_error("vmnet-vsockd", usage_text, argv, ch);
		}
	}
	if (optind != argc)
		vmn_cli_usage_error("vmnet-vsockd", usage_text,
		    "unexpected argument \"%s\"", argv[optind]);
	if (!d.socket_path || !uds)
		vmn_cli_usage_error("vmnet-vsockd", usage_text,
		    "--socket and --uds are required");
	log_init("vmnet-vsockd", LOG_TO_STDERR, verbose);
	signal(SIGPIPE, SIG_IGN);
	if (!(d.base = event_base_new()))
		fatalx("event_base_new failed");
	if (!(d.dev = vsockdev_new(d.base, &d.vu, cid, uds, err, sizeof(err))))
		fatalx("%s", err);
	if ((fd = vmn_listen_path(d.socket_path, 1)) < 0)
		fatalx("%s: %s", d.socket_path, strerror(-fd));
	if (vu_init(&d.vu, d.base, fd, &vsockdev_vu_ops, d.dev) < 0)
		fatalx("out of memory");
	d.vu.on_disconnect = disconnected;
	sigterm = evsignal_new(d.base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(d.base, SIGINT, signal_cb, NULL);
	if (!sigterm || !sigint)
		fatalx("out of memory");
	evsignal_add(sigterm, NULL);
	/*
	 * Beside QEMU in a terminal's process group, Ctrl-C would stop us
	 * together with it, and QEMU would see its back-end vanish first.
	 */
	if (d.once)
		signal(SIGINT, SIG_IGN);
	else
		evsignal_add(sigint, NULL);
	log_info("guest CID %" PRIu64 "; vhost-user on %s, hybrid vsock on %s",
	    cid, d.socket_path, uds);
	/* Run by root (vmnet-run as root): no capability from now on. */
	if ((fd = vmn_caps_keep(NULL, 0)) < 0)
		fatalx("dropping capabilities: %s", strerror(-fd));
	if ((fd = vmn_seccomp_allow("vmnet-vsockd", syscalls,
	    sizeof(syscalls) / sizeof(syscalls[0]))) < 0)
		fatalx("system call filter: %s", strerror(-fd));

	event_base_dispatch(d.base);

	st = vsockdev_stats(d.dev);
	log_info("connections: %" PRIu64 " from the guest, %" PRIu64 " to it, "
	    "%" PRIu64 " refused; bytes: %" PRIu64 " from the guest, %" PRIu64
	    " to it; %" PRIu64 " resets, %" PRIu64 " bad packets, %" PRIu64
	    " credit overruns", st->conns_from_guest, st->conns_to_guest,
	    st->refused, st->bytes_from_guest, st->bytes_to_guest, st->resets,
	    st->bad_packets, st->credit_violations);
	vu_free(&d.vu);
	unlink(d.socket_path);
	vsockdev_free(d.dev);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(d.base);
	return 0;
}
