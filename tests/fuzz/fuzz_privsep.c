/*
 * fuzz_privsep.c - host-netd's parent on what a hostile engine sends
 * (host-netd/privsep.c's notice and request handlers, and what they drive)
 *
 * The engine reads guest bytes; the parent must assume it compromised.
 * A message the parent cannot take at all (a type it does not know, a
 * wrong size, a broken frame) stops it on purpose, as OpenBSD's daemons do
 * (fatalx: the service manager starts both again); this harness sends only
 * messages of known types and exact sizes, and fuzzes what is in them:
 * VM ids (the VM's, none, another), generations, errnos, messages,
 * listeners, forward notes (their strings unterminated), and the sockets
 * asked for: a channel connected for a VM, a port bound on any address
 * and port, shared or not.
 *
 * Reaches: notice() (a guest up and gone, configurations acked and failed,
 * listeners, forward notes: vm.c's state machine, events.c, mirror.c's
 * listener bookkeeping) and serve() (vm_may_bind() in vm.c, and the bind
 * or connect it allows) through the parent's own event loop, with one VM
 * (NAT, a unix channel in the harness's directory, no forwards) whose
 * link is never made (ifindex set by hand, so configurations are built
 * and sent: the harness reads them as the engine would).
 *
 * Input: operations, a byte each, then their arguments:
 *   0 u8 kind, u8 which VM, bytes: a notice (kind picks one of the six)
 *   1 u8 kind, u8 which VM, bytes: a request (connect or bind)
 *   2 the loop runs
 *
 * Checks: every request gets one answer, with its seq, and a socket only
 * when it succeeded; a socket bound for the VM, which has no forwards, is
 * on loopback and at or above the host's unprivileged ports, and never
 * shared (SO_REUSEPORT: the VM is not mirrored); a configuration is acked
 * only once sent (gen_applied <= gen); the VM's state stays one it has;
 * nothing leaks.
 */
#include "config.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "fuzz.h"
#include "fuzz_hostd.h"
#include "privsep.h"
#include "sysctl.h"

/* ---- the harness: the engine's ends ---------------------------------------- */

static struct hostd the_hostd;
static struct vm *vm;
static int cmd = -1, notices = -1, rpc = -1;	/* the engine's ends */
static uint32_t seq;
static uint8_t buf[PS_MAX_MSG] PS_ALIGNED;

static const uint32_t notice_types[] = { PS_N_GUEST_UP, PS_N_GUEST_GONE,
    PS_N_ACKED, PS_N_FAILED, PS_N_LISTENER, PS_N_FWD_NOTE };

static size_t
notice_size(uint32_t type)
{
	switch (type) {
	case PS_N_ACKED:
		return sizeof(struct ps_gen);
	case PS_N_FAILED:
		return sizeof(struct ps_result);
	case PS_N_LISTENER:
		return sizeof(struct ps_listener);
	case PS_N_FWD_NOTE:
		return sizeof(struct ps_fwd_note);
	default:
		return 0;
	}
}

static uint32_t
pick_vm(uint8_t which)
{
	return which % 4 == 0 ? 0 : which % 4 == 1 ? vm->id + 1 : vm->id;
}

/* What the parent tells the engine: read, as the engine would. */
static void
drain_commands(void)
{
	struct ps_hdr h = { 0 };
	int fd;

	while (ps_recv(cmd, &h, buf, sizeof(buf), &fd) >= 0) {
		CHECK(h.type >= PS_VM_NEW && h.type <= PS_Q_PROBE);
		if (fd >= 0)
			close(fd);
	}
}

static void
loop(void)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		event_base_loop(hostd->base, EVLOOP_NONBLOCK);
	drain_commands();
	/* Time does not pass here; no retry may start the VM for real. */
	evtimer_del(vm->retry_ev);
	CHECK(vm->state < VM_S__MAX);
	CHECK(vm->gen_applied <= vm->gen);
}

/* A socket the parent bound for the VM: only what it may have. */
static void
check_bound(int fd)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = sizeof(ss);
	int one = 0;
	uint16_t port;

	CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	if (ss.ss_family == AF_INET) {
		CHECK(sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
		port = ntohs(sin->sin_port);
	} else {
		CHECK(ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
		port = ntohs(sin6->sin6_port);
	}
	CHECK(port >= vmn_unprivileged_port_start());
	len = sizeof(one);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, &len) == 0 &&
	    one == 0);
}

static void
request(struct fz *f)
{
	uint8_t kind = fz_u8(f), which = fz_u8(f);
	uint32_t type = kind & 1 ? PS_R_BIND : PS_R_CONNECT;
	size_t len = type == PS_R_BIND ? sizeof(struct ps_bind) :
	    sizeof(struct ps_connect), got;
	const uint8_t *p = fz_bytes(f, len, &got);
	struct ps_result r;
	struct ps_hdr h = { 0 };
	ssize_t n;
	int fd;

	memset(buf, 0, len);
	memcpy(buf, p, got);
	CHECK(ps_send(rpc, true, type, pick_vm(which), ++seq, buf, len, -1) == 0);
	loop();
	n = ps_recv(rpc, &h, &r, sizeof(r), &fd);
	CHECK(n == sizeof(r) && h.seq == seq && h.type == type);
	CHECK((fd >= 0) == (r.rc >= 0));
	if (fd >= 0 && type == PS_R_BIND)
		check_bound(fd);
	if (fd >= 0)
		close(fd);
	CHECK(ps_recv(rpc, &h, &r, sizeof(r), &fd) == -EAGAIN);
}

static void
notice(struct fz *f)
{
	uint32_t type = notice_types[fz_u8(f) % 6];
	uint8_t which = fz_u8(f);
	size_t len = notice_size(type), got;
	const uint8_t *p = fz_bytes(f, len, &got);

	memset(buf, 0, len);
	memcpy(buf, p, got);
	CHECK(ps_send(notices, true, type, pick_vm(which), 0, buf, len,
	    -1) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char text[512], err[1024];
	struct vm_conf *vc;
	int sv[3][2], i, n;

	fuzz_init();
	hostd = &the_hostd;
	TAILQ_INIT(&hostd->vms);
	hostd->vsock_fd = -1;
	hostd->started = time(NULL);
	if (!(hostd->base = event_base_new()))
		abort();
	hostd->conf = conf_new();
	for (i = 0; i < 3; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv[i]) < 0)
			abort();
	engine_attach(-1, sv[0][0], sv[1][0], sv[2][0]);
	cmd = sv[0][1];
	notices = sv[1][1];
	rpc = sv[2][1];
	engine_listen(hostd->base);
	n = snprintf(text, sizeof(text),
	    "vm \"fz\" {\n"
	    "\tlink veth netns fz\n"
	    "\tchannel \"unix:%s/fz\"\n"
	    "\tipv6 yes\n"
	    "}\n", fuzz_dir);
	if (!(vc = parse_vm_text("fuzz", text, (size_t)n, err, sizeof(err)))) {
		dprintf(2, "fuzz_privsep: %s\n", err);
		abort();
	}
	vm = vm_new(vc);
	free(vc);
	vmn_prefix_parse("172.16.5.0/24", &vm->subnet4);
	vmn_prefix_parse("fd00:1:2:3::/64", &vm->subnet6);
	vm->ifindex = 1;
	vm->mtu = 1500;
	TAILQ_INSERT_TAIL(&hostd->vms, vm, entry);
	vm_set_state(vm, VM_S_WAITING, NULL);
	drain_commands();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned ops = 0;
	struct fz f;

	fuzz_fd_mark();
	fz_init(&f, data, size);
	while (!fz_empty(&f) && ops++ < 128) {
		switch (fz_u8(&f) % 3) {
		case 0:
			notice(&f);
			break;
		case 1:
			request(&f);
			break;
		case 2:
			break;
		}
		loop();
	}
	/* The guest gone: the VM waits again, as at the start. */
	CHECK(ps_send(notices, true, PS_N_GUEST_GONE, vm->id, 0, NULL, 0,
	    -1) == 0);
	loop();
	CHECK(!vm->guest && !vm->commit_pending);
	fuzz_fd_check();
	return 0;
}
