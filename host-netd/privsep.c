/*
 * privsep.c - host-netd's parent and its engine: the messages between them
 *
 * The parent's side: it tells the engine about VMs (their channels'
 * listeners, forwards, DNS mode, configurations to push), asks it for
 * counters and forwarded ports when netctl wants them, hears what guests
 * did, and makes the sockets the engine may not: each request is checked
 * against the VM it names (vm_may_bind() in vm.c). privsep.h has the
 * design; engine.c, the other side.
 *
 * The parent never blocks on the engine for long: a query is answered
 * within PS_QUERY_TIMEOUT_MS or fails, and while it waits (or while its
 * commands do not fit) it still answers the engine's requests, which the
 * engine may be waiting on.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fdpass.h"
#include "host-netd.h"
#include "log.h"
#include "privsep.h"
#include "sockets.h"
#include "sysctl.h"

_Static_assert(sizeof(struct ps_config) <= PS_MAX_MSG, "a config fits");
_Static_assert(sizeof(struct ps_ports) <= PS_MAX_MSG, "every port fits");

static struct {
	pid_t		 pid;
	int		 cmd, notice, rpc;
	struct event	*notice_ev, *rpc_ev;
	uint32_t	 seq;
} ps = { .pid = -1, .cmd = -1, .notice = -1, .rpc = -1 };

/* One buffer each: a notice's body is in use while a query is answered. */
static uint8_t notice_buf[PS_MAX_MSG] PS_ALIGNED, rpc_buf[4096] PS_ALIGNED,
    answer_buf[PS_MAX_MSG] PS_ALIGNED;

/* ---- messages ------------------------------------------------------------ */

/* One message (and a socket: passfd >= 0); -EAGAIN if full and !wait. */
int
ps_send(int fd, bool wait, uint32_t type, uint32_t vm, uint32_t seq,
    const void *body, size_t len, int passfd)
{
	struct ps_hdr h = { type, vm, seq, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) },
	    { (void *)(uintptr_t)body, len } };
	ssize_t n;

	if ((n = vmn_sendmsg_fd(fd, iov, len ? 2 : 1, passfd,
	    wait ? 0 : MSG_DONTWAIT)) < 0)
		return -errno;
	return n == (ssize_t)(sizeof(h) + len) ? 0 : -EMSGSIZE;
}

/*
 * One message, without waiting: the body's length, -EAGAIN (none), or
 * another -errno (-EPIPE: the other end is gone). A socket passed with it
 * goes to *fdp (-1: none, or none could be taken: no descriptor left); a
 * message that does not fit is an error.
 */
ssize_t
ps_recv(int fd, struct ps_hdr *h, void *body, size_t max, int *fdp)
{
	struct iovec iov[2] = { { h, sizeof(*h) }, { body, max } };
	int flags = 0;
	ssize_t n;

	*fdp = -1;
	if ((n = vmn_recvmsg_fd(fd, iov, 2, fdp, MSG_DONTWAIT, &flags)) < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((flags & MSG_TRUNC) ||
	    n < (ssize_t)sizeof(*h) || h->len != (size_t)n - sizeof(*h)) {
		if (*fdp >= 0)
			close(*fdp);
		*fdp = -1;
		return -EBADMSG;
	}
	return n - (ssize_t)sizeof(*h);
}

static void
copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void
ps_port_from(struct ps_port *p, const struct hostfwd_port_info *pi)
{
	memset(p, 0, sizeof(*p));
	p->proto = pi->proto;
	p->addr = pi->addr;
	p->host_port = pi->host_port;
	p->guest_port = pi->guest_port;
	p->conns = pi->conns;
	copy_str(p->kind, sizeof(p->kind), pi->kind);
	copy_str(p->state, sizeof(p->state), pi->state);
}

/* The strings stay p's: the engine's are cut to their buffers first. */
void
ps_port_to(struct ps_port *p, struct hostfwd_port_info *pi)
{
	p->kind[sizeof(p->kind) - 1] = '\0';
	p->state[sizeof(p->state) - 1] = '\0';
	vmn_str_printable(p->state);
	memset(pi, 0, sizeof(*pi));
	pi->proto = p->proto;
	pi->addr = p->addr;
	pi->host_port = p->host_port;
	pi->guest_port = p->guest_port;
	pi->conns = p->conns;
	pi->kind = strcmp(p->kind, "auto") == 0 ? "auto" :
	    strcmp(p->kind, "static") == 0 ? "static" :
	    strcmp(p->kind, "runtime") == 0 ? "runtime" :
	    strcmp(p->kind, "reverse") == 0 ? "reverse" : "?";
	pi->state = p->state[0] ? p->state : NULL;
}

/* ---- the engine's requests --------------------------------------------- */

static void
reply(const struct ps_hdr *h, int rc, int fd)
{
	struct ps_result r;

	memset(&r, 0, sizeof(r));
	r.rc = rc;
	if (ps_send(ps.rpc, true, h->type, h->vm, h->seq, &r, sizeof(r),
	    rc >= 0 ? fd : -1) < 0)
		fatalx("the engine does not take answers");
	if (fd >= 0)
		close(fd);
}

static void
serve(const struct ps_hdr *h, const void *body, size_t len)
{
	const struct ps_connect *c = body;
	const struct ps_bind *b = body;
	struct vm *vm = vm_find_id(h->vm);
	char err[256];
	int fd = -1, rc;

	if (h->type == PS_R_CONNECT && len == sizeof(*c)) {
		/* The VM's own channel, whatever the engine sent. */
		rc = vm ? vmn_connect_start(&vm->conf.channel, c->port, &fd) :
		    -ENOENT;
		reply(h, rc, fd);
		return;
	}
	if (h->type == PS_R_BIND && len == sizeof(*b)) {
		rc = -ENOENT;
		if (vm && (rc = vm_may_bind(vm, &b->addr, b->proto, b->port,
		    b->reuseport, err, sizeof(err))) < 0)
			log_warnx("vm %s: the engine asked for a socket it may "
			    "not have: %s", vm->conf.name, err);
		if (rc == 0 && (fd = fwd_bind_local(&b->addr, b->proto,
		    b->port, b->backlog < 1 || b->backlog > 4096 ? 4096 :
		    b->backlog, b->reuseport)) < 0)
			rc = fd;
		reply(h, rc, fd);
		return;
	}
	fatalx("the engine sent request %u, %zu bytes", h->type, len);
}

/* One request, if one waits: 1, 0 (none) or -errno (the engine ended). */
static int
serve_one(void)
{
	struct ps_hdr h = { 0 };
	ssize_t n;
	int fd;

	if ((n = ps_recv(ps.rpc, &h, rpc_buf, sizeof(rpc_buf), &fd)) < 0)
		return n == -EAGAIN ? 0 : (int)n;
	if (fd >= 0)
		close(fd);	/* it passes none */
	serve(&h, rpc_buf, (size_t)n);
	return 1;
}

static void __attribute__((noreturn))
engine_gone(int err)
{
	fatalx("the engine is gone or stuck (%s): host-netd stops; its links "
	    "and nftables stay for the next start", strerror(-err));
}

static void
rpc_cb(evutil_socket_t fd, short what, void *arg)
{
	int i, rc;

	for (i = 0; i < 64; i++)
		if ((rc = serve_one()) <= 0) {
			if (rc < 0)
				engine_gone(rc);
			return;
		}
}

/* ---- what the guests did --------------------------------------------------- */

static void
guest_gone(struct vm *vm)
{
	vm->guest = false;
	vm->commit_pending = false;
	vm->announced = false;
	/* The reason a guest failed stays visible until it is fixed. */
	if (vm->state == VM_S_CONFIGURING || vm->state == VM_S_ONLINE ||
	    vm->state == VM_S_FAILED)
		vm_set_state(vm, VM_S_WAITING,
		    vm->state == VM_S_FAILED ? vm->error : NULL);
}

static void
notice(const struct ps_hdr *h, void *body, size_t len)
{
	struct vm *vm = vm_find_id(h->vm);
	struct ps_fwd_note *fn = body;
	struct ps_listener *l = body;
	struct ps_result *r = body;
	struct ps_gen *g = body;
	struct hostfwd_port_info pi;

	if (!vm)
		return;		/* freed since: its news are old */
	switch (h->type) {
	case PS_N_GUEST_UP:
		vm->guest = true;
		vm_push_config(vm);	/* now, or once its link is up */
		return;
	case PS_N_GUEST_GONE:
		guest_gone(vm);
		return;
	case PS_N_ACKED:
		if (len != sizeof(*g))
			break;
		if (vm->commit_pending && g->gen == vm->gen)
			vm_config_acked(vm, g->gen);
		return;
	case PS_N_FAILED:
		if (len != sizeof(*r))
			break;
		r->msg[sizeof(r->msg) - 1] = '\0';
		if (vm->commit_pending && r->value == vm->gen)
			vm_config_failed(vm, r->rc < 0 ? -r->rc : EIO,
			    vmn_str_printable(r->msg));
		return;
	case PS_N_LISTENER:
		if (len != sizeof(*l))
			break;
		if (l->proto == IPPROTO_TCP || l->proto == IPPROTO_UDP)
			mirror_listener(vm, l->added, l->proto, l->port);
		return;
	case PS_N_FWD_NOTE:
		if (len != sizeof(*fn))
			break;
		if (fn->note > HOSTFWD_RESOLVED)
			return;
		ps_port_to(&fn->port, &pi);
		events_forward(vm->conf.name, fn->note, &pi);
		return;
	}
	fatalx("the engine sent notice %u, %zu bytes", h->type, len);
}

static void
notice_cb(evutil_socket_t s, short what, void *arg)
{
	struct ps_hdr h = { 0 };
	ssize_t n;
	int fd, i;

	for (i = 0; i < 64; i++) {
		if ((n = ps_recv(ps.notice, &h, notice_buf, sizeof(notice_buf),
		    &fd)) < 0) {
			if (n != -EAGAIN)
				engine_gone((int)n);
			return;
		}
		if (fd >= 0)
			close(fd);
		notice(&h, notice_buf, (size_t)n);
	}
}

/* ---- telling and asking ------------------------------------------------ */

/* Waits for events on cmd while answering the engine's requests. */
static int
wait_cmd(short events, int *left_ms)
{
	struct pollfd pfd[2] = { { ps.cmd, events, 0 }, { ps.rpc, POLLIN, 0 } };
	struct timespec t0, t1;
	int n, rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = poll(pfd, 2, *left_ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*left_ms -= (int)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (n < 0 && errno != EINTR)
		return -errno;
	if (n > 0 && (pfd[1].revents & (POLLIN | POLLHUP)) &&
	    (rc = serve_one()) < 0)
		engine_gone(rc);
	if (*left_ms <= 0 && !(pfd[0].revents & (events | POLLHUP)))
		return -ETIMEDOUT;
	return 0;
}

static int
tell(uint32_t type, uint32_t vm, uint32_t seq, const void *body, size_t len,
    int fd)
{
	int left = PS_QUERY_TIMEOUT_MS, rc;

	if (ps.cmd < 0)
		return -ENOTCONN;
	while ((rc = ps_send(ps.cmd, false, type, vm, seq, body, len, fd)) == -EAGAIN)
		if ((rc = wait_cmd(POLLOUT, &left)) < 0)
			break;
	/* A command lost would leave the two apart: better to start again. */
	if (rc < 0)
		engine_gone(rc);
	return rc;
}

/* A query and its answer, of exactly len bytes (at most: ports). */
static ssize_t
ask(uint32_t type, uint32_t vm, const void *q, size_t qlen, void *a,
    size_t len)
{
	int left = PS_QUERY_TIMEOUT_MS, fd, rc;
	uint32_t seq = ++ps.seq;
	struct ps_hdr h = { 0 };
	ssize_t n;

	if ((rc = tell(type, vm, seq, q, qlen, -1)) < 0)
		return rc;
	for (;;) {
		n = ps_recv(ps.cmd, &h, answer_buf, sizeof(answer_buf), &fd);
		if (fd >= 0)
			close(fd);
		if (n == -EPIPE || n == -ECONNRESET)
			engine_gone((int)n);
		if (n >= 0 && h.seq == seq && h.type == type) {
			if ((size_t)n > len)
				fatalx("the engine answered %u with %zd bytes",
				    type, n);
			memcpy(a, answer_buf, (size_t)n);
			return n;
		}
		if (n >= 0 || n == -EAGAIN) {
			if (n < 0 && (rc = wait_cmd(POLLIN, &left)) < 0) {
				log_warnx("the engine did not answer in time");
				return rc;
			}
			continue;	/* n >= 0: an answer too late before */
		}
		return n;
	}
}

int
engine_spawn(int foreground, int verbose)
{
	int cmd, notice, rpc;
	pid_t pid = engine_start(foreground, verbose, &cmd, &notice, &rpc);

	engine_attach(pid, cmd, notice, rpc);
	return pid;
}

/* The parent's ends of the three pairs (a harness: an engine of its own). */
void
engine_attach(pid_t pid, int cmd, int notice, int rpc)
{
	ps.pid = pid;
	ps.cmd = cmd;
	ps.notice = notice;
	ps.rpc = rpc;
}

/* In the loop: what the guests did, and what the engine asks. */
void
engine_listen(struct event_base *base)
{
	ps.notice_ev = event_new(base, ps.notice, EV_READ | EV_PERSIST,
	    notice_cb, NULL);
	ps.rpc_ev = event_new(base, ps.rpc, EV_READ | EV_PERSIST, rpc_cb,
	    NULL);
	if (!ps.notice_ev || !ps.rpc_ev)
		fatalx("out of memory");
	event_add(ps.notice_ev, NULL);
	event_add(ps.rpc_ev, NULL);
}

/* The engine ends with its command socket; it is waited for. */
void
engine_stop(void)
{
	if (ps.notice_ev)
		event_free(ps.notice_ev);
	if (ps.rpc_ev)
		event_free(ps.rpc_ev);
	ps.notice_ev = ps.rpc_ev = NULL;
	if (ps.cmd >= 0) {
		close(ps.cmd);
		close(ps.notice);
		close(ps.rpc);
		ps.cmd = ps.notice = ps.rpc = -1;
	}
	if (ps.pid > 0)
		waitpid(ps.pid, NULL, 0);
	ps.pid = -1;
}

void
engine_vm_new(const struct vm *vm)
{
	struct ps_vm_new v;

	memset(&v, 0, sizeof(v));
	copy_str(v.name, sizeof(v.name), vm->conf.name);
	v.channel = vm->conf.channel;
	v.guest_port = hostd->conf->guest_port;
	v.dns_tunnel = vm->conf.dns == DNS_MODE_TUNNEL;
	tell(PS_VM_NEW, vm->id, 0, &v, sizeof(v), -1);
}

void
engine_vm_free(const struct vm *vm)
{
	tell(PS_VM_FREE, vm->id, 0, NULL, 0, -1);
}

void
engine_vm_listen(const struct vm *vm, int fd)
{
	tell(PS_VM_LISTEN, vm->id, 0, NULL, 0, fd);
}

void
engine_vm_stop(const struct vm *vm)
{
	tell(PS_VM_STOP, vm->id, 0, NULL, 0, -1);
}

void
engine_vm_dns(const struct vm *vm)
{
	struct ps_vm_dns d = { vm->conf.dns == DNS_MODE_TUNNEL };

	tell(PS_VM_DNS, vm->id, 0, &d, sizeof(d), -1);
}

void
engine_vm_forwards(const struct vm *vm, const struct ps_vm_forwards *f)
{
	tell(PS_VM_FORWARDS, vm->id, 0, f, sizeof(*f), -1);
}

int
engine_push_config(const struct vm *vm, uint32_t gen,
    const struct vmn_netconf *nc)
{
	static struct ps_config c;

	c.gen = gen;
	c.nc = *nc;
	return tell(PS_CONFIG, vm->id, 0, &c, sizeof(c), -1);
}

void
engine_drop_control(const struct vm *vm)
{
	tell(PS_DROP_CONTROL, vm->id, 0, NULL, 0, -1);
}

void
engine_vsock_listen(int fd)
{
	tell(fd >= 0 ? PS_VSOCK_LISTEN : PS_VSOCK_UNLISTEN, 0, 0, NULL, 0, fd);
}

void
engine_dns_reload(void)
{
	tell(PS_DNS_RELOAD, 0, 0, NULL, 0, -1);
}

/* Counters over every VM; zero when the engine does not answer. */
void
engine_stats(struct ps_stats *s)
{
	if (ask(PS_Q_STATS, 0, NULL, 0, s, sizeof(*s)) != (ssize_t)sizeof(*s))
		memset(s, 0, sizeof(*s));
}

_Static_assert(PS_MAX_VMS >= MAX_VMS, "an answer holds every VM");

/* Every VM's counters; none when the engine does not answer. */
void
engine_vms_stats(struct ps_vms_stats *all)
{
	ssize_t n = ask(PS_Q_VM_STATS, 0, NULL, 0, all, sizeof(*all));

	if (n < (ssize_t)sizeof(all->n) || all->n > PS_MAX_VMS ||
	    (size_t)n != PS_VMS_STATS_LEN(all->n))
		all->n = 0;
}

/* One VM's counters among them: zeros for a VM the engine did not name. */
const struct ps_vm_stats *
ps_vms_stats_of(const struct ps_vms_stats *all, const struct vm *vm)
{
	static const struct ps_vm_stats none;
	uint32_t i;

	for (i = 0; i < all->n; i++)
		if (all->vm[i].vm == vm->id)
			return &all->vm[i];
	return &none;
}

void
engine_foreach_port(const struct vm *vm, hostfwd_port_fn fn, void *arg)
{
	static struct ps_ports p;
	struct hostfwd_port_info pi;
	ssize_t n;
	uint32_t i;

	n = ask(PS_Q_PORTS, vm->id, NULL, 0, &p, sizeof(p));
	if (n < (ssize_t)sizeof(p.n) ||
	    p.n > sizeof(p.port) / sizeof(p.port[0]) ||
	    (size_t)n != PS_PORTS_LEN(p.n))
		return;
	for (i = 0; i < p.n; i++) {
		ps_port_to(&p.port[i], &pi);
		fn(arg, &pi);
	}
}

/* A static forward's port as netctl shows it; its strings are p's. */
bool
engine_port_info(const struct vm *vm, const struct hostfwd_static *st,
    struct ps_port *p, struct hostfwd_port_info *pi)
{
	if (ask(PS_Q_PORT_INFO, vm->id, st, sizeof(*st), p, sizeof(*p)) !=
	    (ssize_t)sizeof(*p) || !p->kind[0])
		return false;
	ps_port_to(p, pi);
	return true;
}

int
engine_probe(const struct vm *vm, const struct hostfwd_static *st,
    char *err, size_t errlen)
{
	struct ps_result r;

	if (ask(PS_Q_PROBE, vm->id, st, sizeof(*st), &r, sizeof(r)) !=
	    (ssize_t)sizeof(r)) {
		snprintf(err, errlen, "the engine did not answer");
		return -ETIMEDOUT;
	}
	r.msg[sizeof(r.msg) - 1] = '\0';
	snprintf(err, errlen, "%s", vmn_str_printable(r.msg));
	return r.rc > 0 ? 0 : r.rc;
}
