/*
 * engine.c - host-netd's unprivileged engine: the process guests talk to
 *
 * Forked by the parent before its event loop exists, it becomes the user
 * vmnetd-engine (nobody where that user is not made: make install makes
 * it), keeps no capability, cannot be traced or dumped, and runs under
 * the system call filter below. It owns every guest connection (session.c),
 * the DNS tunnel (dns-tunnel/) and port forwarding (portfwd/hostfwd*.c):
 * all the code that reads guest bytes. What it cannot do itself it asks
 * the parent over the rpc socket, which checks the VM's configuration
 * first: a channel to a guest connected (the guest's socket may be
 * root's), a forwarded port bound (below 1024, or shared with mirrored
 * mode's placeholders, which are root's). privsep.h has the messages.
 *
 * The engine lives as long as its parent: the command socket closing is
 * its end. A crashed engine ends the parent too (privsep.c): every guest
 * reconnects to the host-netd that the service manager starts again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "engine.h"
#include "host-netd.h"
#include "landlock.h"
#include "log.h"
#include "relay.h"
#include "resolver.h"
#include "seccomp.h"

#define ENGINE_USER	"vmnetd-engine"
#define ENGINE_RPC_TIMEOUT_MS 5000

static struct engine the_engine;
struct engine *engine;
static uint8_t msg[PS_MAX_MSG] PS_ALIGNED;

/* ---- its VMs ------------------------------------------------------------ */

static void
send_fwd_reset(void *arg, uint32_t conn_id)
{
	struct evm *vm = arg;

	session_send_event(vm->control, VMN_EV_FWD_RESET, conn_id);
}

static void
fwd_note(void *arg, enum hostfwd_note note, const struct hostfwd_port_info *pi)
{
	struct ps_fwd_note n;

	memset(&n, 0, sizeof(n));
	n.note = note;
	ps_port_from(&n.port, pi);
	engine_notice(arg, PS_N_FWD_NOTE, &n, sizeof(n));
}

struct evm *
evm_new(uint32_t id, const struct ps_vm_new *v)
{
	struct evm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		fatal("calloc");
	vm->id = id;
	memcpy(vm->name, v->name, sizeof(vm->name));
	vm->name[PS_NAME_MAX] = '\0';
	vm->channel = v->channel;
	vm->guest_port = v->guest_port;
	vm->dns_tunnel = v->dns_tunnel;
	vm->listen_fd = -1;
	LIST_INIT(&vm->sessions);
	vm->fwd = hostfwd_new(engine->base, vm->name, &vm->channel,
	    vm->guest_port, send_fwd_reset, vm);
	vm->dns_budget = dnstun_budget_new();
	if (!vm->fwd || !vm->dns_budget)
		fatalx("out of memory for vm %s", vm->name);
	hostfwd_set_notify(vm->fwd, fwd_note, vm);
	TAILQ_INSERT_TAIL(&engine->vms, vm, entry);
	return vm;
}

void
evm_free(struct evm *vm)
{
	session_close_all(vm);
	session_unlisten(vm);
	TAILQ_REMOVE(&engine->vms, vm, entry);
	hostfwd_free(vm->fwd);
	dnstun_budget_free(vm->dns_budget);
	free(vm);
}

struct evm *
evm_find(uint32_t id)
{
	struct evm *vm;

	TAILQ_FOREACH(vm, &engine->vms, entry)
		if (vm->id == id)
			return vm;
	return NULL;
}

struct evm *
evm_find_name(const char *name)
{
	struct evm *vm;

	TAILQ_FOREACH(vm, &engine->vms, entry)
		if (strcmp(vm->name, name) == 0)
			return vm;
	return NULL;
}

struct evm *
evm_find_cid(uint32_t cid)
{
	struct evm *vm;

	TAILQ_FOREACH(vm, &engine->vms, entry)
		if (vm->channel.kind == VMN_TR_VSOCK && vm->channel.cid == cid)
			return vm;
	return NULL;
}

/*
 * Notices the parent has not read yet wait here, in order: the engine
 * never blocks on them (the parent may be waiting for it to read).
 */
struct queued {
	STAILQ_ENTRY(queued)	 entry;
	uint32_t		 type, vm;
	size_t			 len;
	uint8_t			 body[];
};
static STAILQ_HEAD(, queued) queue = STAILQ_HEAD_INITIALIZER(queue);
static size_t queued_bytes;
static struct event *notice_ev;

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queued *q;
	int rc;

	while ((q = STAILQ_FIRST(&queue))) {
		rc = ps_send(engine->notice, false, q->type, q->vm, 0, q->body,
		    q->len, -1);
		if (rc == -EAGAIN) {
			event_add(notice_ev, NULL);
			return;
		}
		if (rc < 0)
			fatalx("engine: the parent is gone");
		STAILQ_REMOVE_HEAD(&queue, entry);
		queued_bytes -= q->len;
		free(q);
	}
}

/* Told to the parent; a parent gone is the engine's end. */
void
engine_notice(const struct evm *vm, uint32_t type, const void *body,
    size_t len)
{
	struct queued *q;
	int rc = -EAGAIN;

	if (STAILQ_EMPTY(&queue))
		rc = ps_send(engine->notice, false, type, vm->id, 0, body, len,
		    -1);
	if (rc == 0)
		return;
	if (rc != -EAGAIN)
		fatalx("engine: the parent is gone");
	if (queued_bytes > 64u << 20)
		fatalx("engine: the parent reads nothing");
	if (!(q = malloc(sizeof(*q) + len)))
		fatal("malloc");
	q->type = type;
	q->vm = vm->id;
	q->len = len;
	if (len)
		memcpy(q->body, body, len);
	queued_bytes += len;
	STAILQ_INSERT_TAIL(&queue, q, entry);
	event_add(notice_ev, NULL);
}

/* ---- what it asks the parent ------------------------------------------ */

/*
 * A request on rpc and its answer: rc, and a socket if there is one. A
 * parent that does not answer in time (stopped: the host asleep) fails
 * this request only; its late answer is recognised by its seq and dropped.
 */
static int
ask(uint32_t type, uint32_t vm, const void *body, size_t len, int *fdp)
{
	static uint32_t last_seq;
	struct pollfd pfd = { engine->rpc, POLLIN, 0 };
	uint32_t seq = ++last_seq;
	struct ps_result r;
	struct ps_hdr h = { 0 };
	ssize_t n;

	*fdp = -1;
	if (ps_send(engine->rpc, true, type, vm, seq, body, len, -1) < 0)
		fatalx("engine: the parent is gone");
	for (;;) {
		if (poll(&pfd, 1, ENGINE_RPC_TIMEOUT_MS) == 0) {
			log_warnx("engine: the parent did not answer in %d ms",
			    ENGINE_RPC_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		n = ps_recv(engine->rpc, &h, &r, sizeof(r), fdp);
		if (n == -EAGAIN || n == -EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			fatalx("engine: the parent is gone");
		if (h.seq == seq && h.type == type)
			break;
		if (*fdp >= 0)		/* a late answer to a request failed */
			close(*fdp);
		*fdp = -1;
	}
	if (r.rc < 0 && *fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
	return r.rc;
}

/* vmn_connect_via: a channel to one of its VMs, connected by the parent. */
static int
connect_via_parent(const struct vmn_endpoint *ep, uint32_t port, int *fdp)
{
	struct ps_connect c;
	struct evm *vm;
	int rc;

	TAILQ_FOREACH(vm, &engine->vms, entry)
		if (memcmp(&vm->channel, ep, sizeof(*ep)) == 0)
			break;
	if (!vm)
		return -ENOENT;
	memset(&c, 0, sizeof(c));
	c.ep = *ep;
	c.port = port;
	rc = ask(PS_R_CONNECT, vm->id, &c, sizeof(c), fdp);
	if (rc >= 0 && *fdp < 0)
		return -EMFILE;		/* it came, and found no room */
	return rc;
}

/* hostfwd_bind_via: a forwarded port, bound by the parent. */
static int
bind_via_parent(const char *name, const struct vmn_ip *addr, uint8_t proto,
    uint16_t port, int backlog, bool reuseport)
{
	struct evm *vm = evm_find_name(name);
	struct ps_bind b;
	int fd, rc;

	if (!vm)
		return -ENOENT;
	memset(&b, 0, sizeof(b));
	b.addr = *addr;
	b.proto = proto;
	b.port = port;
	b.backlog = backlog;
	b.reuseport = reuseport;
	if ((rc = ask(PS_R_BIND, vm->id, &b, sizeof(b), &fd)) < 0)
		return rc;
	return fd >= 0 ? fd : -EMFILE;
}

/* ---- what the parent says ----------------------------------------------- */

static void
answer(const struct ps_hdr *h, const void *body, size_t len)
{
	if (ps_send(engine->cmd, true, h->type, h->vm, h->seq, body, len, -1) < 0)
		fatalx("engine: the parent is gone");
}

static void
set_forwards(struct evm *vm, const struct ps_vm_forwards *f)
{
	unsigned nst = f->nstatic, nrv = f->nrfwd;

	if (nst > sizeof(f->statics) / sizeof(f->statics[0]))
		nst = 0;
	if (nrv > sizeof(f->rfwds) / sizeof(f->rfwds[0]))
		nrv = 0;
	hostfwd_set_policy(vm->fwd, &f->policy);
	hostfwd_set_direct(vm->fwd, &f->direct4, &f->direct6);
	vm->nrfwds = nrv;
	hostfwd_configure(vm->fwd, f->auto_forward, f->statics, nst, f->rfwds,
	    nrv);
}

static void
add_port(void *arg, const struct hostfwd_port_info *pi)
{
	struct ps_ports *p = arg;

	if (p->n < sizeof(p->port) / sizeof(p->port[0]))
		ps_port_from(&p->port[p->n++], pi);
}

static void
query(const struct ps_hdr *h, struct evm *vm, const void *body, size_t len)
{
	static struct ps_ports ports;
	static struct ps_vms_stats all;
	const struct hostfwd_static *st = body;
	struct hostfwd_port_info pi;
	struct ps_vm_stats *vs;
	struct ps_result r;
	struct ps_stats s;
	struct ps_port p;
	struct evm *e;

	switch (h->type) {
	case PS_Q_STATS:
		s.dns = *dnstun_stats();
		s.fwd = *hostfwd_stats();
		s.conflicts = 0;
		TAILQ_FOREACH(e, &engine->vms, entry)
			s.conflicts += hostfwd_conflicts(e->fwd);
		answer(h, &s, sizeof(s));
		return;
	case PS_Q_VM_STATS:
		all.n = 0;
		TAILQ_FOREACH(e, &engine->vms, entry) {
			if (all.n == PS_MAX_VMS)
				break;
			vs = &all.vm[all.n++];
			memset(vs, 0, sizeof(*vs));
			vs->vm = e->id;
			hostfwd_vm_stats(e->fwd, &vs->fwd);
			dnstun_budget_counts(e->dns_budget, &vs->dns_queries,
			    &vs->dns_failures);
			vs->conflicts = hostfwd_conflicts(e->fwd);
		}
		answer(h, &all, PS_VMS_STATS_LEN(all.n));
		return;
	case PS_Q_PORTS:
		ports.n = 0;
		if (vm)
			hostfwd_foreach(vm->fwd, add_port, &ports);
		answer(h, &ports, PS_PORTS_LEN(ports.n));
		return;
	case PS_Q_PORT_INFO:
		memset(&p, 0, sizeof(p));
		if (vm && len == sizeof(*st) &&
		    hostfwd_port_info(vm->fwd, st, &pi))
			ps_port_from(&p, &pi);
		answer(h, &p, sizeof(p));
		return;
	case PS_Q_PROBE:
		memset(&r, 0, sizeof(r));
		r.rc = -ENOENT;
		if (vm && len == sizeof(*st))
			r.rc = hostfwd_probe(vm->fwd, st, r.msg, sizeof(r.msg));
		answer(h, &r, sizeof(r));
		return;
	}
}

static void
command(const struct ps_hdr *h, const void *body, size_t len, int fd)
{
	struct evm *vm = evm_find(h->vm);

	switch (h->type) {
	case PS_VM_NEW:
		if (!vm && len == sizeof(struct ps_vm_new))
			evm_new(h->vm, body);
		break;
	case PS_VM_FREE:
		if (vm)
			evm_free(vm);
		break;
	case PS_VM_LISTEN:
		if (vm && fd >= 0) {
			session_listen(vm, fd);
			fd = -1;
		}
		break;
	case PS_VM_STOP:
		if (vm) {
			session_close_all(vm);
			session_unlisten(vm);
		}
		break;
	case PS_VM_FORWARDS:
		if (vm && len == sizeof(struct ps_vm_forwards))
			set_forwards(vm, body);
		break;
	case PS_VM_DNS:
		if (vm && len == sizeof(struct ps_vm_dns)) {
			vm->dns_tunnel =
			    ((const struct ps_vm_dns *)body)->dns_tunnel;
			if (!vm->dns_tunnel)
				session_drop_role(vm, VMN_ROLE_DNS);
		}
		break;
	case PS_CONFIG:
		if (vm && len == sizeof(struct ps_config))
			session_send_config(vm,
			    ((const struct ps_config *)body)->gen,
			    &((const struct ps_config *)body)->nc);
		break;
	case PS_DROP_CONTROL:
		if (vm)
			session_drop_control(vm, "configuration not answered");
		break;
	case PS_VSOCK_LISTEN:
		if (fd >= 0) {
			session_vsock_listen(fd);
			fd = -1;
		}
		break;
	case PS_VSOCK_UNLISTEN:
		session_vsock_unlisten();
		break;
	case PS_DNS_RELOAD:
		dnstun_reload();
		break;
	default:
		query(h, vm, body, len);
	}
	if (fd >= 0)
		close(fd);
}

/* The parent is gone: what is left goes, and so does the engine. */
static void __attribute__((noreturn))
engine_exit(void)
{
	struct evm *vm;

	while ((vm = TAILQ_FIRST(&engine->vms)))
		evm_free(vm);
	session_vsock_unlisten();
	dnstun_shutdown();
	exit(0);
}

static void
cmd_cb(evutil_socket_t s, short what, void *arg)
{
	struct ps_hdr h = { 0 };
	ssize_t n;
	int fd, i;

	for (i = 0; i < 64; i++) {
		if ((n = ps_recv(engine->cmd, &h, msg, sizeof(msg), &fd)) < 0) {
			if (n == -EAGAIN)
				return;
			log_debug("engine: the parent is gone (%s)",
			    strerror((int)-n));
			engine_exit();
		}
		command(&h, msg, (size_t)n, fd);
	}
}

/* ---- the process ---------------------------------------------------------- */

/*
 * Its user: vmnetd-engine, else nobody. Not root (a test bed run as a
 * user): that user stays, with nothing to drop.
 */
static void
drop_privileges(void)
{
	const struct passwd *pw;
	uid_t uid = 65534;
	gid_t gid = 65534;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(ENGINE_USER)) || (pw = getpwnam("nobody"))) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (uid == 0)
		fatalx("engine: %s is root", ENGINE_USER);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		fatal("engine: becoming uid %u", (unsigned)uid);
	/* Another process of that user must not trace or read it. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		fatal("engine: prctl");
	if (setresuid(0, 0, 0) == 0)
		fatalx("engine: root could be taken back");
}

/*
 * What the engine calls once set up, beside common/seccomp.c's list:
 * sockets to the DNS tunnel's upstreams, to the host's loopback services
 * (reverse forwards) and to guests' own addresses (forward-direct), and
 * the I/O of all it was given or accepted; /etc/resolv.conf read again.
 * No file is written or removed, no process made, no identity changed.
 */
static const struct vmn_syscall syscalls[] = {
	VMN_SYSCALL_ARG(socket, 0, 3, AF_UNIX, AF_INET, AF_INET6),
	VMN_SYSCALLS_SOCKETS, VMN_SYSCALL(openat), VMN_SYSCALL(dup),
	VMN_SYSCALL(getuid), VMN_SYSCALL(geteuid), VMN_SYSCALL(getgid),
	VMN_SYSCALL(getegid), VMN_SYSCALL(uname), VMN_SYSCALL(sysinfo),
	VMN_SYSCALL(prlimit64), VMN_SYSCALL(getrlimit),
	VMN_SYSCALL(sched_getaffinity),
};

/*
 * Of the file system, the engine keeps reading /etc: c-ares reads
 * resolv.conf (and host.conf, nsswitch.conf) again when it changes; /run,
 * where the resolver managers keep the file resolv.conf links to (a link
 * that may move from one to another while the engine runs); and wherever
 * else it links to now. No file is written, made or removed; no TCP port
 * bound (the parent binds them); no signal sent and no abstract socket
 * reached outside the engine.
 */
static void
confine_files(void)
{
	char target[PATH_MAX], *slash;
	const char *dirs[4] = { "/etc", "/run" };
	size_t n = 2;
	int rc;

	if (realpath("/etc/resolv.conf", target) &&
	    (slash = strrchr(target, '/')) && slash != target) {
		*slash = '\0';
		dirs[n++] = target;	/* beneath /etc or /run: harmless */
	}
#ifdef __SANITIZE_ADDRESS__
	dirs[n++] = "/proc";	/* the leak check reads its maps at exit */
#endif
	if ((rc = vmn_landlock_read_only("vmnetd-engine", dirs, n,
	    VMN_LANDLOCK_NO_TCP_BIND | VMN_LANDLOCK_SCOPED)) < 0)
		fatalx("engine: Landlock: %s", strerror(-rc));
}

static void __attribute__((noreturn))
engine_main(int foreground, int verbose, int cmd, int notice, int rpc)
{
	struct event *ev;
	int rc;

	prctl(PR_SET_NAME, "vmnetd-engine");
	if (!foreground)
		setsid();	/* off the terminal, as the parent will be */
	log_init("host-netd", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	    verbose);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent's to act on */
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);	/* it ends when the parent does */
	/* Out of the way first: one of them may be 3, 4 or 5 already. */
	if ((cmd = fcntl(cmd, F_DUPFD, 6)) < 0 ||
	    (notice = fcntl(notice, F_DUPFD, 6)) < 0 ||
	    (rpc = fcntl(rpc, F_DUPFD, 6)) < 0 || dup2(cmd, 3) < 0 ||
	    dup2(notice, 4) < 0 || dup2(rpc, 5) < 0)
		fatal("engine: dup2");
	close_range(6, ~0u, 0);		/* the parent's: links, nftables */
	engine = &the_engine;
	TAILQ_INIT(&engine->vms);
	engine->cmd = 3;
	engine->notice = 4;
	engine->rpc = 5;
	engine->vsock_fd = -1;
	relay_raise_nofile();
	drop_privileges();
	if (chdir("/") < 0)
		fatal("engine: chdir");
	if (!(engine->base = event_base_new()))
		fatalx("engine: event_base_new failed");
	if (dnstun_init(engine->base, "/etc/resolv.conf") < 0)
		log_warnx("DNS tunnel unavailable: guests get SERVFAIL");
	vmn_connect_via = connect_via_parent;
	hostfwd_bind_via = bind_via_parent;
	confine_files();
	if (!(ev = event_new(engine->base, engine->cmd, EV_READ | EV_PERSIST,
	    cmd_cb, NULL)) || event_add(ev, NULL) < 0 ||
	    !(notice_ev = event_new(engine->base, engine->notice, EV_WRITE,
	    flush_cb, NULL)))
		fatalx("engine: event_new failed");
	if ((rc = vmn_seccomp_allow("vmnetd-engine", syscalls,
	    sizeof(syscalls) / sizeof(syscalls[0]))) < 0)
		fatalx("engine: system call filter: %s", strerror(-rc));
	event_base_dispatch(engine->base);
	exit(0);
}

/*
 * Forks the engine; in the parent, *cmd, *notice and *rpc are its ends
 * of the three pairs (privsep.h), and the engine's pid is returned.
 */
int
engine_start(int foreground, int verbose, int *cmd, int *notice, int *rpc)
{
	int pairs[3][2], i, sz = PS_MAX_MSG + 4096;
	pid_t pid;

	for (i = 0; i < 3; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    pairs[i]) < 0)
			fatal("socketpair");
		setsockopt(pairs[i][0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(pairs[i][1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid == 0) {
		for (i = 0; i < 3; i++)
			close(pairs[i][0]);
		engine_main(foreground, verbose, pairs[0][1], pairs[1][1],
		    pairs[2][1]);
	}
	for (i = 0; i < 3; i++)
		close(pairs[i][1]);
	*cmd = pairs[0][0];
	*notice = pairs[1][0];
	*rpc = pairs[2][0];
	return pid;
}
