/*
 * session.c - host-netd's engine: connections from guests
 *
 * Everything here reads bytes written by a guest, which is not trusted,
 * and runs in the engine (engine.c): what the parent must know (a guest
 * connected or gone, a configuration applied, a port listened on) goes
 * to it as a notice.
 * Frames are parsed by vmn_msg_parse() (common/wire.c) before any handler
 * sees them; a malformed frame, a frame of a type the session's role does
 * not allow, a HELLO that claims another VM or none within
 * HELLO_TIMEOUT_MS, or more than VM_MAX_SESSIONS connections at once ends
 * that connection only. Nothing a guest sends can stop the daemon or touch
 * another VM's sessions.
 *
 * Unix and hvsock channels have a listening socket per VM, so the VM is
 * known at accept(). vsock has one listener for all VMs; the VM is the one
 * whose CID the kernel reports for the peer (a guest cannot forge it).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <event2/event.h>

#include "accept.h"
#include "conn.h"
#include "engine.h"
#include "resolver.h"
#include "host-netd.h"
#include "log.h"

#define HOST_CAPS	(VMN_CAP_CONFIG | VMN_CAP_DNS_TUNNEL | VMN_CAP_PORTFWD | \
			 VMN_CAP_RFWD)

struct session {
	LIST_ENTRY(session)	 entry;
	struct evm		*vm;
	struct vmn_conn		*conn;
	struct event		*hello_ev;	/* HELLO_TIMEOUT_MS deadline */
	struct dnstun_client	*dns;		/* role dns: queries in flight */
	uint32_t		 hello_seq;	/* role rfwd: answered later */
	enum vmn_role		 role;
	uint32_t		 caps;
	uint8_t			 txbuf[1024];
};

static void
session_free(struct session *s)
{
	struct evm *vm = s->vm;

	if (vm->control == s) {
		vm->control = NULL;
		vm->commit_pending = false;
		engine_notice(vm, PS_N_GUEST_GONE, NULL, 0);
	}
	LIST_REMOVE(s, entry);
	vm->nsessions--;
	if (s->hello_ev)
		event_free(s->hello_ev);
	dnstun_client_free(s->dns);
	vmn_conn_free(s->conn);
	free(s);
}

static void
session_close_cb(struct vmn_conn *c, int err, const char *why, void *arg)
{
	struct session *s = arg;
	const char *vm = s->vm->name;

	if (err && err != -ECONNRESET && err != -EPIPE)
		log_warnx("vm %s: dropping %s connection: %s", vm,
		    vmn_role_name(s->role), why);
	else if (s->role == VMN_ROLE_CONTROL)
		log_info("vm %s: guest disconnected (%s)", vm, why);
	else if (s->role == VMN_ROLE_NONE)
		log_debug("vm %s: connection closed before its HELLO was "
		    "accepted: %s", vm, why);
	else
		log_debug("vm %s: %s connection closed: %s", vm,
		    vmn_role_name(s->role), why);
	session_free(s);
}

static int
refuse(struct session *s, uint32_t seq, int err, const char *msg)
{
	log_warnx("vm %s: refusing hello: %s", s->vm->name, msg);
	vmn_conn_send_error(s->conn, VMN_MSG_HELLO, seq, err, msg);
	vmn_conn_close_after_flush(s->conn, msg);
	return 0;
}

/* An answer (or FORMERR/SERVFAIL) for tunnel query id, to the guest. */
static void
dns_answer(void *arg, uint32_t id, const uint8_t *msg, size_t len)
{
	static uint8_t frame[VMN_MAX_FRAME];
	struct session *s = arg;
	struct vmn_buf b;

	vmn_buf_init(&b, frame, sizeof(frame));
	vmn_msg_begin(&b, VMN_MSG_DNS, VMN_F_REPLY, 0);
	vmn_put_u32(&b, VMN_A_DNS_ID, id);
	vmn_put(&b, VMN_A_PAYLOAD, msg, len);
	vmn_conn_send_buf(s->conn, &b);
}

static int
handle_dns(struct session *s, const struct vmn_msg *m)
{
	const struct vmn_attr *p = &m->tb[VMN_A_PAYLOAD];

	if (!(m->hdr.flags & VMN_F_REQUEST))
		return -EPROTO;
	dnstun_query(s->dns, vmn_attr_u32(&m->tb[VMN_A_DNS_ID]), p->data,
	    p->len);
	return 0;
}

static void
handle_event(struct session *s, const struct vmn_msg *m)
{
	struct evm *vm = s->vm;
	uint8_t ev = vmn_attr_u8(&m->tb[VMN_A_EVENT]), flags;
	struct ps_listener l;

	switch (ev) {
	case VMN_EV_LISTENER_ADD:
	case VMN_EV_LISTENER_DEL:
		if (!vmn_attr_present(&m->tb[VMN_A_PROTO]) ||
		    !vmn_attr_present(&m->tb[VMN_A_FAMILY]) ||
		    !vmn_attr_present(&m->tb[VMN_A_PORT]))
			return;
		/* A guest-netd from before the flags: reachable from both. */
		flags = vmn_attr_present(&m->tb[VMN_A_LISTEN_FLAGS]) ?
		    vmn_attr_u8(&m->tb[VMN_A_LISTEN_FLAGS]) :
		    VMN_LISTEN_LOOPBACK | VMN_LISTEN_EXPOSED;
		/* Only what localhost reaches is forwarded to localhost. */
		hostfwd_listener(vm->fwd, ev == VMN_EV_LISTENER_ADD &&
		    (flags & VMN_LISTEN_LOOPBACK),
		    vmn_attr_u8(&m->tb[VMN_A_PROTO]),
		    vmn_attr_u8(&m->tb[VMN_A_FAMILY]),
		    vmn_attr_u16(&m->tb[VMN_A_PORT]),
		    (flags & VMN_LISTEN_EXPOSED) != 0);
		/* What the outside reaches is mirrored mode's to steer. */
		l.added = ev == VMN_EV_LISTENER_ADD &&
		    (flags & VMN_LISTEN_EXPOSED);
		l.proto = vmn_attr_u8(&m->tb[VMN_A_PROTO]);
		l.port = vmn_attr_u16(&m->tb[VMN_A_PORT]);
		engine_notice(vm, PS_N_LISTENER, &l, sizeof(l));
		break;
	case VMN_EV_LISTENERS_SYNCED:
		hostfwd_synced(vm->fwd);
		break;
	case VMN_EV_FWD_RESET:
		if (vmn_attr_present(&m->tb[VMN_A_CONN_ID]))
			hostfwd_reset(vm->fwd, vmn_attr_u32(&m->tb[VMN_A_CONN_ID]));
		break;
	case VMN_EV_FWD_BYTES:
		/* The guest's word for its own counters: nothing more. */
		hostfwd_handed_bytes(vm->fwd,
		    vmn_attr_u32(&m->tb[VMN_A_CONN_ID]),
		    vmn_attr_present(&m->tb[VMN_A_COUNT]) ?
		    vmn_attr_u64(&m->tb[VMN_A_COUNT]) : 1,
		    vmn_attr_u64(&m->tb[VMN_A_BYTES_IN]),
		    vmn_attr_u64(&m->tb[VMN_A_BYTES_OUT]));
		break;
	default:
		log_debug("vm %s: event %s", vm->name, vmn_event_name(ev));
	}
}

/* host -> guest notice on the control channel (if there is one). */
void
session_send_event(struct session *s, int event, uint32_t conn_id)
{
	uint8_t buf[64];
	struct vmn_buf b;

	if (!s)
		return;
	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 0);
	vmn_put_u8(&b, VMN_A_EVENT, (uint8_t)event);
	if (conn_id)
		vmn_put_u32(&b, VMN_A_CONN_ID, conn_id);
	vmn_conn_send_buf(s->conn, &b);
}

static unsigned
count_role(const struct evm *vm, enum vmn_role role)
{
	const struct session *s;
	unsigned n = 0;

	LIST_FOREACH(s, &vm->sessions, entry)
		n += s->role == role;
	return n;
}

/* Ends every session of a role (the VM's DNS is no longer tunneled). */
void
session_drop_role(struct evm *vm, enum vmn_role role)
{
	struct session *s;

	LIST_FOREACH(s, &vm->sessions, entry)
		if (s->role == role)
			vmn_conn_fail(s->conn, 0, "no longer offered");
}

/*
 * Whether the guest-netd at the other end of a unix socket is root of the
 * host's user namespace: the only one our own sockets may go to (a socket
 * of the host's namespace can connect anywhere from it). A guest-netd that
 * is root of a user namespace of its own shows here as its mapped uid.
 */
static bool
peer_is_host_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == 0;
}

static int
handle_hello(struct session *s, const struct vmn_msg *m)
{
	struct evm *vm = s->vm;
	char id[VM_NAME_MAX + 2];
	struct vmn_buf b;
	uint32_t version;
	int role, len;

	if (m->hdr.type != VMN_MSG_HELLO || !(m->hdr.flags & VMN_F_REQUEST)) {
		log_warnx("vm %s: %s before hello", vm->name,
		    vmn_msg_name(m->hdr.type));
		return -EPROTO;
	}
	version = vmn_attr_u32(&m->tb[VMN_A_VERSION]);
	role = vmn_attr_u8(&m->tb[VMN_A_ROLE]);
	if (version < VMN_WIRE_VERSION)
		return refuse(s, m->hdr.seq, EPROTONOSUPPORT,
		    "protocol version too old");
	if (vmn_attr_present(&m->tb[VMN_A_VM_ID]) &&
	    (vmn_attr_str(&m->tb[VMN_A_VM_ID], id, sizeof(id)) < 0 ||
	    strcmp(id, vm->name) != 0))
		return refuse(s, m->hdr.seq, EPERM,
		    "this channel belongs to another VM");
	if (role == VMN_ROLE_DNS && !vm->dns_tunnel)
		return refuse(s, m->hdr.seq, EOPNOTSUPP,
		    "this VM's DNS is not tunneled");
	/* One, and its replacement: more would buy more turns upstream. */
	if (role == VMN_ROLE_DNS && count_role(vm, VMN_ROLE_DNS) >= 2)
		return refuse(s, m->hdr.seq, EBUSY,
		    "this VM has its dns channels already");
	if (role == VMN_ROLE_RFWD && vm->nrfwds == 0)
		return refuse(s, m->hdr.seq, EPERM,
		    "this VM has no reverse forwards");
	if (role != VMN_ROLE_CONTROL && role != VMN_ROLE_DNS &&
	    role != VMN_ROLE_RFWD)
		return refuse(s, m->hdr.seq, EOPNOTSUPP,
		    "role not offered on this channel");
	if (role == VMN_ROLE_DNS && !(s->dns = dnstun_client_new(
	    vm->dns_budget, dns_answer, s)))
		return -ENOMEM;

	s->role = (enum vmn_role)role;
	s->caps = vmn_attr_u32(&m->tb[VMN_A_CAPS]);
	if (s->role == VMN_ROLE_RFWD) {
		/* Answered with the FWD reply, when the socket is handed on. */
		s->hello_seq = m->hdr.seq;
		return 0;
	}
	event_free(s->hello_ev);
	s->hello_ev = NULL;
	vmn_buf_init(&b, s->txbuf, sizeof(s->txbuf));
	len = vmn_build_hello(&b, VMN_F_REPLY, m->hdr.seq, s->role, HOST_CAPS,
	    vm->name);
	if (len < 0 || vmn_conn_send(s->conn, b.data, (size_t)len) < 0)
		return -EIO;
	if (s->role == VMN_ROLE_DNS) {
		log_debug("vm %s: dns channel open", vm->name);
		return 0;
	}

	/* A guest-netd says where it takes forwards; else the configuration. */
	hostfwd_set_guest_port(vm->fwd,
	    vmn_attr_present(&m->tb[VMN_A_GUEST_PORT]) &&
	    vmn_attr_u16(&m->tb[VMN_A_GUEST_PORT]) ?
	    vmn_attr_u16(&m->tb[VMN_A_GUEST_PORT]) : vm->guest_port);
	hostfwd_set_handoff(vm->fwd, (s->caps & VMN_CAP_FWD_HANDOFF) &&
	    peer_is_host_root(vmn_conn_fd(s->conn)));
	hostfwd_session_up(vm->fwd);
	if (vm->control) {
		/* A rebooted or restarted guest: the new session wins. */
		log_info("vm %s: new control session replaces the old one",
		    vm->name);
		session_free(vm->control);
	}
	vm->control = s;
	log_info("vm %s: guest connected", vm->name);
	engine_notice(vm, PS_N_GUEST_UP, NULL, 0);	/* its configuration */
	return 0;
}

static int
handle_commit_reply(struct session *s, const struct vmn_msg *m)
{
	struct evm *vm = s->vm;
	char msg[VMN_MAX_STRING + 1] = "";
	struct ps_result r = { 0 };
	struct ps_gen g;

	if (!vm->commit_pending || m->hdr.seq != vm->commit_seq) {
		log_debug("vm %s: stale configuration reply", vm->name);
		return 0;
	}
	if (m->hdr.flags & VMN_F_ERROR) {
		vmn_attr_str(&m->tb[VMN_A_ERRMSG], msg, sizeof(msg));
		vm->commit_pending = false;
		r.rc = -(int32_t)vmn_attr_u32(&m->tb[VMN_A_ERRNO]);
		r.value = vm->commit_gen;
		snprintf(r.msg, sizeof(r.msg), "%s", vmn_str_printable(msg));
		engine_notice(vm, PS_N_FAILED, &r, sizeof(r));
		return 0;
	}
	if (!vmn_attr_present(&m->tb[VMN_A_GEN]) ||
	    vmn_attr_u32(&m->tb[VMN_A_GEN]) != vm->commit_gen) {
		log_warnx("vm %s: configuration reply for the wrong "
		    "generation", vm->name);
		return -EPROTO;
	}
	vm->commit_pending = false;
	g.gen = vm->commit_gen;
	engine_notice(vm, PS_N_ACKED, &g, sizeof(g));
	return 0;
}

static int
session_msg_cb(struct vmn_conn *c, const struct vmn_msg *m, void *arg)
{
	struct session *s = arg;
	struct vmn_buf b;

	if (s->role == VMN_ROLE_NONE)
		return handle_hello(s, m);
	if (s->role == VMN_ROLE_RFWD)	/* its FWD: for the port forwarder */
		return hostfwd_reverse(s->vm->fwd, s->conn, s->hello_seq,
		    HOST_CAPS, m);
	if (s->role == VMN_ROLE_DNS) {
		if (m->hdr.type == VMN_MSG_DNS)
			return handle_dns(s, m);
		log_warnx("vm %s: unexpected %s on the dns channel",
		    s->vm->name, vmn_msg_name(m->hdr.type));
		return -EPROTO;
	}

	switch (m->hdr.type) {
	case VMN_MSG_CONFIG_COMMIT:
		if (m->hdr.flags & VMN_F_REPLY)
			return handle_commit_reply(s, m);
		break;
	case VMN_MSG_EVENT:
		if (m->hdr.flags & (VMN_F_REQUEST | VMN_F_REPLY))
			break;
		handle_event(s, m);
		return 0;
	case VMN_MSG_PING:
		if (m->hdr.flags & VMN_F_REPLY)
			return 0;
		vmn_buf_init(&b, s->txbuf, sizeof(s->txbuf));
		vmn_msg_begin(&b, VMN_MSG_PING, VMN_F_REPLY, m->hdr.seq);
		return vmn_conn_send_buf(c, &b);
	default:
		break;
	}
	log_warnx("vm %s: unexpected %s (flags 0x%x) on the %s channel",
	    s->vm->name, vmn_msg_name(m->hdr.type), m->hdr.flags,
	    vmn_role_name(s->role));
	return -EPROTO;
}

/* Trickling bytes does not buy time: the deadline is absolute. */
static void
hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	vmn_conn_fail(s->conn, -ETIMEDOUT, "no HELLO in time");
}

static void
session_new(struct evm *vm, int fd)
{
	struct timeval tv = { HELLO_TIMEOUT_MS / 1000,
	    (HELLO_TIMEOUT_MS % 1000) * 1000 };
	struct session *s;
	char name[64];

	if (vm->nsessions >= VM_MAX_SESSIONS) {
		if (vm->sessions_refused++ % 100 == 0)
			log_warnx("vm %s: too many connections; refusing",
			    vm->name);
		close(fd);
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		close(fd);
		return;
	}
	snprintf(name, sizeof(name), "vm %s", vm->name);
	s->vm = vm;
	s->conn = vmn_conn_new(engine->base, fd, name, session_msg_cb,
	    session_close_cb, s);
	if (!s->conn) {
		free(s);
		return;
	}
	/* Without its deadline a silent peer would hold the slot for ever. */
	if (!(s->hello_ev = evtimer_new(engine->base, hello_timeout_cb, s))) {
		vmn_conn_free(s->conn);
		free(s);
		return;
	}
	evtimer_add(s->hello_ev, &tv);
	LIST_INSERT_HEAD(&vm->sessions, s, entry);
	vm->nsessions++;
	log_debug("vm %s: connection accepted", vm->name);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct evm *vm = arg;
	int fd, n;

	/* Bounded per wakeup so a flood cannot starve other VMs. */
	for (n = 0; n < 32; n++) {
		if ((fd = vmn_accept(vm->listen_ev, NULL, NULL)) < 0)
			return;		/* none waits, or paused */
		session_new(vm, fd);
	}
}

/* The channel's listener, made by the parent: the engine only accepts. */
void
session_listen(struct evm *vm, int fd)
{
	session_unlisten(vm);
	vm->listen_fd = fd;
	vm->listen_ev = event_new(engine->base, fd, EV_READ | EV_PERSIST,
	    accept_cb, vm);
	if (!vm->listen_ev)
		fatalx("out of memory listening for vm %s", vm->name);
	event_add(vm->listen_ev, NULL);
}

void
session_unlisten(struct evm *vm)
{
	if (vm->listen_ev) {
		vmn_accept_stop(vm->listen_ev);
		event_free(vm->listen_ev);
		vm->listen_ev = NULL;
	}
	if (vm->listen_fd >= 0) {
		close(vm->listen_fd);
		vm->listen_fd = -1;
	}
}

void
session_close_all(struct evm *vm)
{
	struct session *s;

	while ((s = LIST_FIRST(&vm->sessions)))
		session_free(s);
}

/* ---- vsock: one listener, VMs told apart by the peer's CID ----------- */

static void
vsock_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sockaddr_vm svm;
	socklen_t len;
	struct evm *vm;
	int fd, n;

	for (n = 0; n < 32; n++) {
		len = sizeof(svm);
		if ((fd = vmn_accept(engine->vsock_ev, (struct sockaddr *)&svm,
		    &len)) < 0)
			return;		/* none waits, or paused */
		if (!(vm = evm_find_cid(svm.svm_cid))) {
			log_debug("vsock connection from unknown CID %u",
			    svm.svm_cid);
			close(fd);
			continue;
		}
		session_new(vm, fd);
	}
}

void
session_vsock_listen(int fd)
{
	session_vsock_unlisten();
	engine->vsock_fd = fd;
	engine->vsock_ev = event_new(engine->base, fd, EV_READ | EV_PERSIST,
	    vsock_accept_cb, NULL);
	if (!engine->vsock_ev)
		fatalx("out of memory listening on vsock");
	event_add(engine->vsock_ev, NULL);
}

void
session_vsock_unlisten(void)
{
	if (engine->vsock_ev) {
		vmn_accept_stop(engine->vsock_ev);
		event_free(engine->vsock_ev);
		engine->vsock_ev = NULL;
	}
	if (engine->vsock_fd >= 0) {
		close(engine->vsock_fd);
		engine->vsock_fd = -1;
	}
}

/* The parent gave up on the guest's answer: its control session ends. */
void
session_drop_control(struct evm *vm, const char *why)
{
	if (vm->control)
		vmn_conn_fail(vm->control->conn, -ETIMEDOUT, why);
}

/* A whole configuration transaction, answered by the guest later. */
void
session_send_config(struct evm *vm, uint32_t gen,
    const struct vmn_netconf *nc)
{
	uint32_t seq;
	int rc;

	if (!vm->control)
		return;		/* gone: the parent hears it in order */
	seq = vmn_conn_next_seq(vm->control->conn);
	if ((rc = vmn_netconf_encode(nc, seq, vmn_conn_emit,
	    vm->control->conn)) < 0) {
		log_warnx("vm %s: cannot send configuration: %s", vm->name,
		    strerror(-rc));
		return;
	}
	vm->commit_seq = seq;
	vm->commit_gen = gen;
	vm->commit_pending = true;
}
