/*
 * fuzz_session.c - host-netd's guest-facing session logic on the frames a
 * guest sends (host-netd/session.c in the engine, and what it drives)
 *
 * Reaches, for one VM as the engine runs it (engine.c's evm_new()): the
 * channel's listener and accept (session_listen()), conn.c's reader on
 * each connection, the
 * HELLO state machine (roles, versions, a HELLO naming another VM, the
 * second and third dns channel, a new control session replacing the old
 * one, frames before HELLO), then per role: control (the
 * configuration transaction the parent builds in vm.c, pushed by
 * session_send_config() as the engine's PS_CONFIG does, its COMMIT answered
 * right, wrong, late, with an error, or twice; PING; events: listeners
 * added and removed (portfwd/hostfwd.c's bookkeeping), LISTENERS_SYNCED,
 * FWD_RESET, FWD_BYTES; frames of the wrong kind), dns (the tunnel's
 * query intake, resolver.c's dnstun_query(): FORMERR, REFUSED, SERVFAIL,
 * the VM's budget), rfwd (the FWD that follows HELLO, parsed by
 * fwd_target_parse() and refused: see below), and up to 32 connections.
 *
 * The parent is the harness: it reads the engine's notices (privsep.h)
 * and answers a guest's arrival with a configuration; every notice must
 * be sound (a known type, its exact size, the generation it was sent).
 *
 * It runs without root and without a network: the VM's channel is a unix
 * socket in the harness's directory; its link is never made (vm_start()
 * is never called; ifindex is set by hand so that configuration is built);
 * no resolver is initialised, so every DNS query is answered by the tunnel
 * itself; auto-forward is off, so no host port is ever bound, and the
 * port forwarder is given no reverse forwards, so an rfwd channel's FWD is
 * refused before any connect() (the VM's block has one, so that HELLO on
 * an rfwd channel is accepted). host-netd.c (main, reload) is not linked:
 * the few symbols of it the rest refer to are stubs (fuzz_hostd.h).
 *
 * Input: operations, a byte each, then their arguments:
 *   0 a guest connects (at most 6 at once)
 *   1 u8 which, u16 length, bytes: it writes them
 *   2 u8 which: it closes its connection
 *   3 u8 which, u8 how: it answers the last CONFIG_COMMIT it was sent
 *     (how bit 0: with an error; bit 1: the wrong generation)
 *   4 the loop runs (frames are read; no time passes)
 * After each, the loop runs and every connection reads what host-netd
 * sent it.
 *
 * Checks: every frame host-netd sends parses (vmn_msg_parse()); a HELLO
 * reply carries the role its request (the HELLO of that seq) asked for;
 * the VM never counts more sessions than connections are open, and none
 * once they are all closed; the engine's notices are sound; nothing leaks.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include "engine.h"
#include "fuzz.h"
#include "fuzz_hostd.h"
#include "resolver.h"

#define MAX_GUESTS	6

/* ---- the harness's host-netd ------------------------------------------------ */

static struct hostd the_hostd;
static struct engine the_engine;
static struct vm_conf *vc;
static char listen_path[128];
static int notices = -1;	/* the parent's end */

#define MAX_HELLOS	8

struct guest {
	int		fd;
	uint32_t	commit_seq, commit_gen;
	bool		commit_seen;
	bool		out_bad;	/* what it wrote stopped parsing */
	unsigned	nhellos;	/* HELLOs it sent: seq and role */
	uint32_t	hello_seq[MAX_HELLOS];
	uint8_t		hello_role[MAX_HELLOS];
	size_t		have, sent;
	uint8_t		in[1 << 17];	/* frames from host-netd */
	uint8_t		out[1 << 17];	/* what it wrote, not yet parsed */
};

static struct guest guests[MAX_GUESTS];
static unsigned nguests;
static struct vm *pvm;		/* the parent's: configurations built */
static struct evm *vm;		/* the engine's */
static uint32_t gen;

/*
 * The parent: what the engine says of VM id, checked; a guest up gets its
 * configuration (while the VM is alive: vm is NULL once it is freed).
 */
static void
read_notices(uint32_t id)
{
	static struct vmn_netconf nc;
	union {
		struct ps_result	r;
		struct ps_gen		g;
		struct ps_listener	l;
		struct ps_fwd_note	n;
	} body;
	struct ps_hdr h = { 0 };
	ssize_t n;
	int fd;

	while ((n = ps_recv(notices, &h, &body, sizeof(body), &fd)) >= 0) {
		CHECK(fd < 0 && h.vm == id);
		switch (h.type) {
		case PS_N_GUEST_UP:
			CHECK(n == 0 && vm);
			vm_build_netconf(pvm, &nc);
			session_send_config(vm, ++gen, &nc);
			break;
		case PS_N_GUEST_GONE:
			CHECK(n == 0);
			break;
		case PS_N_ACKED:
			CHECK(n == sizeof(body.g) && body.g.gen == gen);
			break;
		case PS_N_FAILED:
			CHECK(n == sizeof(body.r) && body.r.value == gen &&
			    memchr(body.r.msg, 0, sizeof(body.r.msg)));
			break;
		case PS_N_LISTENER:
			CHECK(n == sizeof(body.l));
			break;
		case PS_N_FWD_NOTE:
			CHECK(n == sizeof(body.n));
			break;
		default:
			CHECK(!"a notice of no known type");
		}
	}
	CHECK(n == -EAGAIN);
}

/* A HELLO answered: the role the guest asked for with that seq. */
static void
check_hello_reply(const struct guest *g, const struct vmn_msg *m)
{
	unsigned i;

	for (i = 0; i < g->nhellos; i++)
		if (g->hello_seq[i] == m->hdr.seq) {
			CHECK(vmn_attr_u8(&m->tb[VMN_A_ROLE]) ==
			    g->hello_role[i]);
			return;
		}
	/* A seq whose HELLO did not parse here either: the host's reader
	 * would have dropped the connection before answering it. */
	CHECK(g->out_bad || g->nhellos == MAX_HELLOS);
}

/* Parses what host-netd sent: every frame must be sound. */
static void
guest_read(struct guest *g)
{
	const char *why = NULL;
	struct vmn_hdr h;
	struct vmn_msg m;
	size_t off = 0, flen;
	ssize_t n;

	while ((n = read(g->fd, g->in + g->have, sizeof(g->in) - g->have)) > 0)
		g->have += (size_t)n;
	while (g->have - off >= VMN_HDR_LEN) {
		CHECK(vmn_hdr_decode(g->in + off, g->have - off, &h, &why) == 0);
		flen = VMN_HDR_LEN + (size_t)h.length;
		if (flen > g->have - off)
			break;
		CHECK(vmn_msg_parse(g->in + off, flen, &m, &why) == 0);
		if (m.hdr.type == VMN_MSG_CONFIG_COMMIT &&
		    (m.hdr.flags & VMN_F_REQUEST)) {
			g->commit_seq = m.hdr.seq;
			g->commit_gen = vmn_attr_u32(&m.tb[VMN_A_GEN]);
			g->commit_seen = true;
		}
		if (m.hdr.type == VMN_MSG_HELLO && !(m.hdr.flags & VMN_F_ERROR))
			check_hello_reply(g, &m);
		off += flen;
	}
	memmove(g->in, g->in + off, g->have - off);
	g->have -= off;
}

/* Follows the frames the guest writes, to know the HELLOs it sent. */
static void
guest_wrote(struct guest *g, const uint8_t *p, size_t len)
{
	const char *why = NULL;
	struct vmn_hdr h;
	struct vmn_msg m;
	size_t off = 0, flen;
	unsigned i;

	if (g->out_bad)
		return;
	if (len > sizeof(g->out) - g->sent)
		len = sizeof(g->out) - g->sent;
	memcpy(g->out + g->sent, p, len);
	g->sent += len;
	while (g->sent - off >= VMN_HDR_LEN) {
		if (vmn_hdr_decode(g->out + off, g->sent - off, &h, &why) < 0) {
			g->out_bad = true;
			return;
		}
		flen = VMN_HDR_LEN + (size_t)h.length;
		if (flen > g->sent - off)
			break;
		if (vmn_msg_parse(g->out + off, flen, &m, &why) < 0) {
			g->out_bad = true;
			return;
		}
		if (m.hdr.type == VMN_MSG_HELLO && g->nhellos < MAX_HELLOS) {
			for (i = 0; i < g->nhellos; i++)
				if (g->hello_seq[i] == m.hdr.seq)
					break;
			if (i == g->nhellos) {	/* the first of a seq counts */
				g->hello_seq[i] = m.hdr.seq;
				g->hello_role[i] = vmn_attr_u8(&m.tb[VMN_A_ROLE]);
				g->nhellos++;
			}
		}
		off += flen;
	}
	memmove(g->out, g->out + off, g->sent - off);
	g->sent -= off;
}

static void
guest_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct guest *g;
	int fd;

	if (nguests == MAX_GUESTS)
		return;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", listen_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);	/* a full backlog: as a guest would see it */
		return;
	}
	g = &guests[nguests++];
	memset(g, 0, offsetof(struct guest, in));
	g->fd = fd;
}

static void
guest_close(unsigned i)
{
	struct guest *g = &guests[i], *last = &guests[--nguests];

	close(g->fd);
	if (g == last)
		return;
	memcpy(g, last, offsetof(struct guest, in));
	memcpy(g->in, last->in, last->have);
	memcpy(g->out, last->out, last->sent);
}

static void
commit_reply(struct guest *g, uint8_t how)
{
	uint8_t buf[256];
	struct vmn_buf b;
	int len;

	if (!g->commit_seen)
		return;
	vmn_buf_init(&b, buf, sizeof(buf));
	if (how & 1) {
		len = vmn_build_error(&b, VMN_MSG_CONFIG_COMMIT, g->commit_seq,
		    EINVAL, "ip: no such device\n\x1b[31m");
	} else {
		vmn_msg_begin(&b, VMN_MSG_CONFIG_COMMIT, VMN_F_REPLY,
		    g->commit_seq);
		vmn_put_u32(&b, VMN_A_GEN, g->commit_gen + (how & 2 ? 1 : 0));
		len = vmn_msg_end(&b);
	}
	if (len > 0 && write(g->fd, buf, (size_t)len) < 0)
		return;
}

static void
loop(void)
{
	unsigned i;

	for (i = 0; i < 3; i++) {
		event_base_loop(engine->base, EVLOOP_NONBLOCK);
		read_notices(vm->id);
	}
	for (i = 0; i < nguests; i++)
		guest_read(&guests[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char text[512], err[1024], path[128];
	int n, sv[2];

	fuzz_init();
	engine = &the_engine;
	TAILQ_INIT(&engine->vms);
	engine->vsock_fd = -1;
	engine->cmd = engine->rpc = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	engine->notice = sv[0];
	notices = sv[1];
	hostd = &the_hostd;
	TAILQ_INIT(&hostd->vms);
	hostd->vsock_fd = -1;
	hostd->started = time(NULL);
	if (!(hostd->base = event_base_new()))
		abort();
	engine->base = hostd->base;
	hostd->conf = conf_new();
	snprintf(path, sizeof(path), "%s/fz", fuzz_dir);
	n = snprintf(text, sizeof(text),
	    "vm \"fz\" {\n"
	    "\tlink veth netns fz\n"
	    "\tchannel \"unix:%s\"\n"
	    "\tauto-forward no\n"
	    "\treverse-forward tcp 3128\n"
	    "\tipv6 yes\n"
	    "}\n", path);
	if (!(vc = parse_vm_text("fuzz", text, (size_t)n, err, sizeof(err)))) {
		dprintf(2, "fuzz_session: %s\n", err);
		abort();
	}
	snprintf(listen_path, sizeof(listen_path), "%s_%u", path,
	    hostd->conf->host_port);
	return 0;
}

/*
 * The VM as vm_start() leaves it, without its link: waiting for a guest;
 * the parent's half only builds configurations (its engine_* calls go
 * nowhere: there is no command socket).
 */
static struct evm *
vm_up(void)
{
	static const uint8_t gmac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t hmac[6] = { 0x52, 0x54, 0, 0x65, 0x43, 0x21 };
	struct ps_vm_new v;
	struct evm *e;
	int fd;

	pvm = vm_new(vc);
	vmn_prefix_parse("172.16.5.0/24", &pvm->subnet4);
	vmn_prefix_parse("fd00:1:2:3::/64", &pvm->subnet6);
	memcpy(pvm->guest_mac, gmac, sizeof(gmac));
	memcpy(pvm->host_mac, hmac, sizeof(hmac));
	pvm->ifindex = 1;
	pvm->mtu = 1500;
	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "%s", vc->name);
	v.channel = vc->channel;
	v.guest_port = hostd->conf->guest_port;
	v.dns_tunnel = true;
	/* Nothing bound, nothing connected: see the top of this file. */
	e = evm_new(pvm->id, &v);
	e->nrfwds = 1;
	if ((fd = vmn_listen(&vc->channel, hostd->conf->host_port, 16)) < 0)
		abort();
	session_listen(e, fd);
	return e;
}

static void
vm_down(struct evm *e)
{
	uint32_t id = e->id;

	evm_free(e);
	vm = NULL;
	read_notices(id);	/* what its end said: sessions, ports gone */
	vmn_unlisten(&vc->channel, hostd->conf->host_port);
	event_free(pvm->retry_ev);
	event_free(pvm->commit_ev);
	free(pvm);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	struct fz f;
	size_t len;
	unsigned ops = 0, i;
	struct guest *g;
	uint8_t which;
	ssize_t n;

	fuzz_fd_mark();
	fz_init(&f, data, size);
	nguests = 0;
	gen = 0;
	vm = vm_up();
	while (!fz_empty(&f) && ops++ < 256) {
		switch (fz_u8(&f) % 5) {
		case 0:
			guest_connect();
			break;
		case 1:
			which = fz_u8(&f);
			p = fz_bytes(&f, fz_u16(&f), &len);
			if (!nguests || !len)
				break;
			g = &guests[which % nguests];
			n = write(g->fd, p, len);
			if (n > 0)
				guest_wrote(g, p, (size_t)n);
			break;
		case 2:
			which = fz_u8(&f);
			if (nguests)
				guest_close(which % nguests);
			break;
		case 3:
			which = fz_u8(&f);
			if (nguests)
				commit_reply(&guests[which % nguests],
				    fz_u8(&f));
			break;
		case 4:
			break;
		}
		loop();
		CHECK(vm->nsessions <= nguests);
	}
	while (nguests)
		guest_close(0);
	for (i = 0; i < 8 && vm->nsessions; i++)
		loop();
	CHECK(vm->nsessions == 0);
	CHECK(vm->control == NULL);
	vm_down(vm);
	event_base_loop(hostd->base, EVLOOP_NONBLOCK);
	fuzz_fd_check();
	return 0;
}
