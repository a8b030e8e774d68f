/*
 * guest-netd.c - the guest's network daemon: configuration from the host
 *
 * Connects to host-netd (vsock by default), introduces itself with HELLO
 * and then applies every configuration transaction the host sends,
 * answering each COMMIT with the generation it applied or the error that
 * stopped it. When the host goes away the configuration stays as it is and
 * the daemon reconnects with backoff; the host sends the full state again
 * after every HELLO.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "apply.h"
#include "cli.h"
#include "conn.h"
#include "dnsproxy.h"
#include "guestfwd.h"
#include "log.h"
#include "netconf.h"
#include "nl.h"
#include "seccomp.h"
#include "transport.h"
#include "watch.h"
#include "wire.h"

#define DEFAULT_HOST		"vsock:2"	/* the host, on --host-port */
#define DEFAULT_RESOLV_CONF	"/etc/resolv.conf"
#define DEFAULT_PROXY_ENV	"/etc/profile.d/vmnetd-proxy.sh"
#define DEFAULT_APT_PROXY	"/etc/apt/apt.conf.d/95vmnetd-proxy"
#define DEFAULT_PIDFILE		"/run/guest-netd.pid"
/* Why a namespace guest must not write files of the host's /etc. */
#define SHARED_ETC_DNS \
	"it is the host's (this network namespace shares the host's /etc): " \
	"create /etc/netns/NAME/resolv.conf, which ip netns exec mounts " \
	"over it, or pass --resolv-conf"
#define SHARED_ETC_PROXY \
	"it is in the host's /etc (this network namespace shares it): " \
	"create /etc/netns/NAME/profile.d, which ip netns exec mounts over " \
	"/etc/profile.d, or pass --proxy-env"
#define GUEST_CAPS		(VMN_CAP_CONFIG | VMN_CAP_DNS_TUNNEL | \
				 VMN_CAP_PORTFWD | VMN_CAP_RFWD | \
				 VMN_CAP_FWD_HANDOFF)

struct guest {
	struct event_base	*base;
	struct vmn_endpoint	 host;
	uint32_t		 host_port;	/* host-netd's: control, dns, rfwd */
	uint32_t		 guest_port;	/* ours: forwarded connections */
	const char		*vm_id;
	const char		*resolv_conf;
	const char		*proxy_env;
	const char		*apt_proxy;
	const char		*systemctl;	/* NULL: no systemd to tell */
	struct vmn_connector	*connector;
	struct vmn_conn		*conn;
	uint32_t		 hello_seq;
	int			 hello_done;
	int			 in_txn;
	int			 txn_err;
	char			 txn_why[256];
	struct vmn_netconf	 pending;
	uint32_t		 applied_gen;
	struct vmn_nl		 nl;
	struct dnsproxy		*dns;
	struct guestfwd		*fwd;
	uint8_t			 txbuf[4096];
};

static struct guest guest;

static const char *
usage_text(void)
{
	static char text[1024];

	snprintf(text, sizeof(text),
	    "usage: guest-netd [-dv] [--host URI] [--host-port N] [--guest-port N]\n"
	    "                  [--vm-id NAME] [--pidfile PATH]\n"
	    "                  [--resolv-conf PATH] [--proxy-env PATH]\n"
	    "                  [--apt-proxy PATH] [--systemctl PATH]\n"
	    "  --host URI          host-netd's channel (default %s)\n"
	    "  --host-port N       host-netd's port on it (default %u)\n"
	    "  --guest-port N      where forwarded connections arrive (default %u)\n"
	    "  --vm-id NAME        name to give in HELLO (optional)\n"
	    "  --resolv-conf PATH  where DNS settings go (default %s)\n"
	    "  --proxy-env PATH    where proxy settings go (default %s)\n"
	    "  --apt-proxy PATH    where apt's proxy settings go (default %s)\n"
	    "  --systemctl PATH    tells systemd the proxy (default: systemctl,\n"
	    "                      under systemd and not on a unix: channel)\n"
	    "  --pidfile PATH      lock held while running (default %s)\n"
	    "  -d                  stay in the foreground, log to stderr\n"
	    "                      (otherwise: detach, log to syslog)\n"
	    "  -v                  more verbose logging\n"
	    "  -h, --help          this text\n"
	    "      --version       guest-netd's version\n",
	    DEFAULT_HOST, VMN_PORT_HOST, VMN_PORT_GUEST, DEFAULT_RESOLV_CONF,
	    DEFAULT_PROXY_ENV, DEFAULT_APT_PROXY, DEFAULT_PIDFILE);
	return text;
}

static uint32_t
port_arg(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 65535 || s[0] == '-')
		fatalx("%s %s: a port is 1 to 65535", opt, s);
	return (uint32_t)v;
}

/*
 * Whether writing path (its default, default_path) would write the host's
 * /etc: a namespace guest (unix: channel) shares the host's /etc unless ip
 * netns exec mounted the namespace's own file (or directory) over mounted.
 * A path given on the command line is the administrator's choice.
 */
static bool
host_etc(const struct guest *g, const char *path, const char *default_path,
    const char *mounted)
{
	return g->host.kind == VMN_TR_UNIX && strcmp(path, default_path) == 0 &&
	    !file_is_mounted_over(mounted);
}

/*
 * apt's settings go where apt reads them: not on a system without apt,
 * nor into the host's when the guest shares its /etc.
 */
static bool
apt_here(const struct guest *g)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;

	if (host_etc(g, g->apt_proxy, DEFAULT_APT_PROXY, "/etc/apt/apt.conf.d"))
		return false;
	if (!(slash = strrchr(g->apt_proxy, '/')))
		return true;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - g->apt_proxy),
	    g->apt_proxy);
	return !dir[0] || (stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
}

static int
reply_gen(struct guest *g, uint16_t type, uint32_t seq, uint32_t gen)
{
	struct vmn_buf b;

	vmn_buf_init(&b, g->txbuf, sizeof(g->txbuf));
	vmn_msg_begin(&b, type, VMN_F_REPLY, seq);
	vmn_put_u32(&b, VMN_A_GEN, gen);
	return vmn_conn_send_buf(g->conn, &b);
}

static bool online_logged;
static struct timespec started;	/* CLOCK_MONOTONIC, for the online log */

static void
log_applied(const struct vmn_netconf *nc)
{
	char buf[VMN_PREFIX_STRLEN], line[512];
	size_t off = 0;
	unsigned i;

	line[0] = '\0';
	for (i = 0; i < nc->naddrs && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s",
		    vmn_prefix_ntop(&nc->addrs[i].pfx, buf, sizeof(buf)));
	log_info("configuration %u applied:%s%s", nc->gen,
	    line[0] ? line : " no addresses",
	    nc->dns.present ? ", resolv.conf written" : "");
	if (!online_logged) {
		struct timespec now, boot;
		long ms;

		online_logged = true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - started.tv_sec) * 1000 +
		    (now.tv_nsec - started.tv_nsec) / 1000000;
		/*
		 * Boot to online, as vmnet-run's users (and benchmarks) see
		 * it; only in a VM: a namespace guest (unix: channel) shares
		 * the host's kernel, whose uptime says nothing about it.
		 */
		if (guest.host.kind != VMN_TR_UNIX &&
		    clock_gettime(CLOCK_BOOTTIME, &boot) == 0)
			log_info("online %ld.%03ld s after the kernel started, "
			    "%ld ms after guest-netd started", (long)boot.tv_sec,
			    boot.tv_nsec / 1000000, ms);
		else
			log_info("online %ld ms after guest-netd started", ms);
	}
}

static int
handle_commit(struct guest *g, const struct vmn_msg *m)
{
	struct vmn_netconf *nc = &g->pending;
	uint32_t gen = vmn_attr_u32(&m->tb[VMN_A_GEN]);
	const char *why = NULL;
	char err[512];
	int rc, rc2;

	if (!g->in_txn || gen != nc->gen)
		return vmn_conn_send_error(g->conn, VMN_MSG_CONFIG_COMMIT, m->hdr.seq,
		    EPROTO, "commit without a matching begin");
	g->in_txn = 0;
	if (g->txn_err)
		return vmn_conn_send_error(g->conn, VMN_MSG_CONFIG_COMMIT, m->hdr.seq,
		    -g->txn_err, g->txn_why);
	if ((rc = vmn_netconf_check(nc, &why)) < 0)
		return vmn_conn_send_error(g->conn, VMN_MSG_CONFIG_COMMIT, m->hdr.seq, rc,
		    why);

	rc = apply_netconf(&g->nl, nc, err, sizeof(err));
	if (rc == 0 && nc->dns.present &&
	    host_etc(g, g->resolv_conf, DEFAULT_RESOLV_CONF,
	    "/etc/resolv.conf")) {
		rc = -EPERM;
		snprintf(err, sizeof(err), "not writing %s: %s",
		    g->resolv_conf, SHARED_ETC_DNS);
	}
	if (rc == 0 && nc->dns.present &&
	    (rc = resolvconf_write(g->resolv_conf, &nc->dns)) < 0)
		snprintf(err, sizeof(err), "writing %s: %s", g->resolv_conf,
		    strerror(-rc));
	if (rc == 0)
		rc = dnsproxy_configure(g->dns, &nc->dns, err, sizeof(err));
	if (rc == 0)
		rc = guestfwd_configure(g->fwd, nc, err, sizeof(err));
	if (rc == 0 && (rc = snat_apply(nc->snats, nc->nsnats)) < 0)
		snprintf(err, sizeof(err), "masquerading for containers: %s",
		    strerror(-rc));
	if (rc == 0 && nc->proxy.present &&
	    host_etc(g, g->proxy_env, DEFAULT_PROXY_ENV, "/etc/profile.d")) {
		rc = -EPERM;
		snprintf(err, sizeof(err), "not writing %s: %s",
		    g->proxy_env, SHARED_ETC_PROXY);
	}
	if (rc == 0 && nc->proxy.present &&
	    (rc = proxyenv_write(g->proxy_env, &nc->proxy)) < 0)
		snprintf(err, sizeof(err), "writing %s: %s", g->proxy_env,
		    strerror(-rc));
	if (rc == 0 && nc->proxy.present && apt_here(g) &&
	    (rc = proxyenv_apt_write(g->apt_proxy, &nc->proxy)) < 0)
		snprintf(err, sizeof(err), "writing %s: %s", g->apt_proxy,
		    strerror(-rc));
	/* The files are what counts; services started later are a bonus. */
	if (rc == 0 && nc->proxy.present && g->systemctl &&
	    (rc2 = proxyenv_systemd(&nc->proxy)) < 0)
		log_warnx("%s set-environment: %s; services started from now "
		    "on do not get the proxy", g->systemctl, strerror(-rc2));
	if (rc < 0) {
		log_warnx("configuration %u failed: %s", gen, err);
		return vmn_conn_send_error(g->conn, VMN_MSG_CONFIG_COMMIT, m->hdr.seq, rc,
		    err);
	}
	g->applied_gen = gen;
	log_applied(nc);
	return reply_gen(g, VMN_MSG_CONFIG_COMMIT, m->hdr.seq, gen);
}

static int
handle_hello_reply(struct guest *g, const struct vmn_msg *m)
{
	char vm[65] = "";

	if (m->hdr.seq != g->hello_seq) {
		log_warnx("host: hello reply for an unknown request");
		return -EPROTO;
	}
	if (m->hdr.flags & VMN_F_ERROR) {
		char msg[VMN_MAX_STRING + 1] = "";

		vmn_attr_str(&m->tb[VMN_A_ERRMSG], msg, sizeof(msg));
		log_warnx("host refused us: %s", msg);
		return -ECONNREFUSED;
	}
	vmn_attr_str(&m->tb[VMN_A_VM_ID], vm, sizeof(vm));
	g->hello_done = 1;
	log_info("connected to host-netd as vm %s", vm[0] ? vm : "?");
	guestfwd_session_up(g->fwd);
	return 0;
}

static int
guest_msg(struct vmn_conn *c, const struct vmn_msg *m, void *arg)
{
	struct guest *g = arg;
	const char *why = NULL;
	struct vmn_buf b;
	int rc;

	if (!g->hello_done) {
		if (m->hdr.type == VMN_MSG_HELLO && (m->hdr.flags & VMN_F_REPLY))
			return handle_hello_reply(g, m);
		log_warnx("host: %s before hello", vmn_msg_name(m->hdr.type));
		return -EPROTO;
	}
	switch (m->hdr.type) {
	case VMN_MSG_CONFIG_BEGIN:
		vmn_netconf_reset(&g->pending, vmn_attr_u32(&m->tb[VMN_A_GEN]));
		g->in_txn = 1;
		g->txn_err = 0;
		return 0;
	case VMN_MSG_CONFIG_LINK:
	case VMN_MSG_CONFIG_ADDR:
	case VMN_MSG_CONFIG_ROUTE:
	case VMN_MSG_CONFIG_NEIGH:
	case VMN_MSG_CONFIG_DNS:
	case VMN_MSG_CONFIG_PROXY:
	case VMN_MSG_CONFIG_SYSCTL:
	case VMN_MSG_CONFIG_RFWD:
	case VMN_MSG_CONFIG_SNAT:
		if (!g->in_txn) {
			log_warnx("host: %s outside a transaction",
			    vmn_msg_name(m->hdr.type));
			return -EPROTO;
		}
		/* A bad item fails the transaction at COMMIT, with its reason. */
		if (!g->txn_err &&
		    (rc = vmn_netconf_decode_item(&g->pending, m, &why)) < 0) {
			g->txn_err = rc;
			snprintf(g->txn_why, sizeof(g->txn_why), "%s: %s",
			    vmn_msg_name(m->hdr.type), why);
		}
		return 0;
	case VMN_MSG_CONFIG_COMMIT:
		if (!(m->hdr.flags & VMN_F_REQUEST))
			return -EPROTO;
		return handle_commit(g, m);
	case VMN_MSG_EVENT:
		if (vmn_attr_u8(&m->tb[VMN_A_EVENT]) == VMN_EV_FWD_RESET &&
		    vmn_attr_present(&m->tb[VMN_A_CONN_ID]))
			guestfwd_reset(g->fwd,
			    vmn_attr_u32(&m->tb[VMN_A_CONN_ID]));
		return 0;
	case VMN_MSG_PING:
		if (!(m->hdr.flags & VMN_F_REQUEST))
			return 0;
		vmn_buf_init(&b, g->txbuf, sizeof(g->txbuf));
		vmn_msg_begin(&b, VMN_MSG_PING, VMN_F_REPLY, m->hdr.seq);
		return vmn_conn_send_buf(c, &b);
	default:
		log_debug("host: ignoring %s", vmn_msg_name(m->hdr.type));
		return 0;
	}
}

static void
guest_close(struct vmn_conn *c, int err, const char *why, void *arg)
{
	struct guest *g = arg;

	if (g->hello_done)
		log_warnx("lost host-netd (%s); keeping configuration %u, "
		    "reconnecting", why, g->applied_gen);
	else
		log_debug("host-netd connection ended before hello: %s", why);
	vmn_conn_free(c);
	g->conn = NULL;
	g->hello_done = 0;
	g->in_txn = 0;
	guestfwd_session_down(g->fwd);
	vmn_connector_again(g->connector);
}

/*
 * Listener changes, resets and the bytes of handed-over connections, for
 * the host, on the control channel.
 */
static void
send_fwd_event(void *arg, int event, const struct listener *l,
    uint32_t conn_id, const uint64_t *counts)
{
	struct guest *g = arg;
	struct vmn_buf b;

	if (!g->conn || !g->hello_done)
		return;		/* the host gets the full list on HELLO */
	vmn_buf_init(&b, g->txbuf, sizeof(g->txbuf));
	vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 0);
	vmn_put_u8(&b, VMN_A_EVENT, (uint8_t)event);
	if (l) {
		vmn_put_u8(&b, VMN_A_PROTO, l->proto);
		vmn_put_u8(&b, VMN_A_FAMILY, l->family);
		vmn_put_u16(&b, VMN_A_PORT, l->port);
		vmn_put_u8(&b, VMN_A_LISTEN_FLAGS, l->flags);
	}
	if (conn_id)
		vmn_put_u32(&b, VMN_A_CONN_ID, conn_id);
	if (counts) {
		vmn_put_u64(&b, VMN_A_BYTES_IN, counts[0]);
		vmn_put_u64(&b, VMN_A_BYTES_OUT, counts[1]);
		vmn_put_u64(&b, VMN_A_COUNT, counts[2]);
	}
	vmn_conn_send_buf(g->conn, &b);
}

/*
 * What we take: everything, but handed-over connections when
 * VMN_FWD_HANDOFF=0 (as a guest-netd before them: for tests and
 * comparisons).
 */
static uint32_t
guest_caps(void)
{
	const char *env = getenv("VMN_FWD_HANDOFF");

	if (env && strcmp(env, "0") == 0)
		return GUEST_CAPS & ~(uint32_t)VMN_CAP_FWD_HANDOFF;
	return GUEST_CAPS;
}

static void
connected(int fd, void *arg)
{
	struct guest *g = arg;
	struct vmn_buf b;
	char uri[VMN_URI_MAX];
	int len;

	g->conn = vmn_conn_new(g->base, fd, "host", guest_msg, guest_close, g);
	if (!g->conn) {
		log_warnx("out of memory for the host connection");
		vmn_connector_again(g->connector);
		return;
	}
	log_debug("connected to %s",
	    vmn_endpoint_str(&g->host, uri, sizeof(uri)));
	g->hello_seq = vmn_conn_next_seq(g->conn);
	vmn_buf_init(&b, g->txbuf, sizeof(g->txbuf));
	vmn_build_hello(&b, VMN_F_REQUEST, g->hello_seq, VMN_ROLE_CONTROL,
	    guest_caps(), g->vm_id);
	/* Where the host is to connect for forwards: no second setting. */
	vmn_put_u16(&b, VMN_A_GUEST_PORT, (uint16_t)g->guest_port);
	len = vmn_msg_end(&b);
	if (len < 0 || vmn_conn_send(g->conn, b.data, (size_t)len) < 0)
		vmn_conn_fail(g->conn, -EIO, "cannot send hello");
}

/*
 * One guest-netd per guest: two would take the control session from each
 * other forever. The pidfile stays locked for as long as we run.
 */
static int
lock_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		fatal("%s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("already running (pid %s holds %s)", buf[0] ? buf : "?",
		    path);
	}
	/* fd stays open: the lock lives as long as the process. */
	return fd;
}

/* After daemon(): the pid that holds the lock now. */
static void
write_pidfile(int fd, const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("%s", path);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct guest *g = arg;

	if (sig == SIGHUP) {
		log_info("SIGHUP: nothing to reload (the host sends the "
		    "configuration)");
		return;
	}
	log_info("exiting on signal %d; configuration stays in place",
	    (int)sig);
	event_base_loopbreak(g->base);
}

/*
 * What guest-netd's event loop calls once set up, beside common/seccomp.c's
 * list: its channel to host-netd (vsock, hvsock or unix), the DNS tunnel's
 * listener and the forwarded ports' sockets and relays (IPv4, IPv6, pipes
 * for splice), rtnetlink and sock_diag (its configuration, the listeners
 * it watches), the files it writes (resolv.conf, the proxy's profile
 * fragment and apt's, written beside and renamed over; mountinfo tells a
 * bind mount). Nothing is executed: systemctl runs in a helper forked
 * before the filter (proxyenv.c).
 */
static const struct vmn_syscall syscalls[] = {
	VMN_SYSCALL_ARG(socket, 0, 5, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK,
	    AF_VSOCK),
	VMN_SYSCALLS_SOCKETS, VMN_SYSCALLS_FILES,
	VMN_SYSCALL(fchown), VMN_SYSCALL(flock), VMN_SYSCALL(getuid),
	VMN_SYSCALL(geteuid), VMN_SYSCALL(uname),
};
static void
filter_syscalls(void)
{
	int rc;

	if ((rc = vmn_seccomp_allow("guest-netd", syscalls,
	    sizeof(syscalls) / sizeof(syscalls[0]))) < 0)
		fatalx("system call filter: %s", strerror(-rc));
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "host-port", required_argument, NULL, 'o' },
		{ "guest-port", required_argument, NULL, 'g' },
		{ "vm-id", required_argument, NULL, 'i' },
		{ "resolv-conf", required_argument, NULL, 'r' },
		{ "proxy-env", required_argument, NULL, 'p' },
		{ "apt-proxy", required_argument, NULL, 'a' },
		{ "systemctl", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct guest *g = &guest;
	struct event *sigterm, *sigint, *sighup;
	const char *host_uri = DEFAULT_HOST, *pidfile = DEFAULT_PIDFILE;
	const char *why = NULL;
	char uri[VMN_URI_MAX];
	int ch, foreground = 0, verbose = 0, rc, pidfd;

	clock_gettime(CLOCK_MONOTONIC, &started);
	log_init("guest-netd", LOG_TO_STDERR, 0);	/* for option errors */
	g->resolv_conf = DEFAULT_RESOLV_CONF;
	g->proxy_env = DEFAULT_PROXY_ENV;
	g->apt_proxy = DEFAULT_APT_PROXY;
	while ((ch = getopt_long(argc, argv, ":dvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			vmn_cli_help(usage_text());
		case 'V':
			vmn_cli_version("guest-netd");
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'H':
			host_uri = optarg;
			break;
		case 'o':
			g->host_port = port_arg("--host-port", optarg);
			break;
		case 'g':
			g->guest_port = port_arg("--guest-port", optarg);
			break;
		case 'i':
			g->vm_id = optarg;
			break;
		case 'r':
			g->resolv_conf = optarg;
			break;
		case 'p':
			g->proxy_env = optarg;
			break;
		case 'a':
			g->apt_proxy = optarg;
			break;
		case 's':
			g->systemctl = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		default:
			vmn_cli_getopt_error("guest-netd", usage_text(), argv, ch);
		}
	}
	if (optind != argc)
		vmn_cli_usage_error("guest-netd", usage_text(),
		    "unexpected argument \"%s\"", argv[optind]);
	/* stderr until we detach, so that a failed start is seen */
	log_init("guest-netd", LOG_TO_STDERR, verbose);
	if (vmn_endpoint_parse(host_uri, &g->host, &why) < 0)
		fatalx("--host %s: %s", host_uri, why);
	if (g->host.port && g->host_port && g->host.port != g->host_port)
		fatalx("--host %s names port %u, --host-port %u", host_uri,
		    g->host.port, g->host_port);
	if (!g->host_port)
		g->host_port = g->host.port ? g->host.port : VMN_PORT_HOST;
	if (!g->guest_port)
		g->guest_port = VMN_PORT_GUEST;
	/*
	 * Under systemd, its manager learns the proxy too; a namespace guest
	 * (unix: channel) would be telling the host's.
	 */
	if (!g->systemctl && g->host.kind != VMN_TR_UNIX &&
	    access("/run/systemd/system", F_OK) == 0)
		g->systemctl = "systemctl";
	/* On unix and hvsock channels both are paths beside each other. */
	if (g->host_port == g->guest_port)
		fatalx("--guest-port and --host-port must differ (both %u)",
		    g->host_port);
	if (g->vm_id && (strlen(g->vm_id) == 0 || strlen(g->vm_id) > 64))
		fatalx("--vm-id must be 1 to 64 characters");

	if (host_etc(g, g->resolv_conf, DEFAULT_RESOLV_CONF, "/etc/resolv.conf"))
		log_warnx("%s: %s", g->resolv_conf, SHARED_ETC_DNS);
	pidfd = lock_pidfile(pidfile);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = vmn_nl_open(&g->nl, NETLINK_ROUTE, 0)) < 0)
		fatalx("netlink: %s", strerror(-rc));
	if (!(g->base = event_base_new()))
		fatalx("event_base_new failed");
	if (!(g->dns = dnsproxy_new(g->base, &g->host, g->host_port,
	    g->vm_id)))
		fatalx("out of memory");
	if (!(g->fwd = guestfwd_new(g->base, &g->host, g->host_port,
	    g->guest_port, g->vm_id, send_fwd_event, g)))
		fatalx("out of memory");
	g->connector = vmn_connector_new(g->base, &g->host, g->host_port, 0,
	    connected, NULL, g);
	if (!g->connector)
		fatalx("cannot start connecting");
	sigterm = evsignal_new(g->base, SIGTERM, signal_cb, g);
	sigint = evsignal_new(g->base, SIGINT, signal_cb, g);
	sighup = evsignal_new(g->base, SIGHUP, signal_cb, g);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	if (!foreground) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init("guest-netd", LOG_TO_SYSLOG, verbose);
		if (event_reinit(g->base) < 0)
			fatalx("event_reinit failed");
	}
	write_pidfile(pidfd, pidfile);
	if (g->systemctl && (rc = proxyenv_systemd_start(g->systemctl)) < 0)
		log_warnx("cannot start the helper that runs %s: %s",
		    g->systemctl, strerror(-rc));
	filter_syscalls();

	log_info("starting; host %s",
	    vmn_endpoint_str(&g->host, uri, sizeof(uri)));
	event_base_dispatch(g->base);

	if (g->conn)
		vmn_conn_free(g->conn);
	vmn_connector_free(g->connector);
	dnsproxy_free(g->dns);
	guestfwd_free(g->fwd);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(g->base);
	vmn_nl_close(&g->nl);
	return 0;
}
