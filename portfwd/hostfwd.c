/*
 * hostfwd.c - host-netd: the host's end of port forwarding, per VM
 *
 * Theory of operation
 *
 * Ports. A VM's forwarded ports come from its guest (every listener
 * guest-netd reports is bound on the host's 127.0.0.1 and ::1 under the
 * same number: "auto") and from the configuration ("static": a host port,
 * on 127.0.0.1 or the address the configuration names, to a guest port).
 * Nothing is ever bound on another address unless the configuration says
 * so. The guest's listeners are kept as reported, and the auto ports are
 * derived from them: turning auto-forward off and on again, or removing a
 * static forward that held the same loopback port (the configuration
 * wins), brings them back without the guest's help. A port the host
 * already uses is reported (log, netctl forwards and vms) and tried again
 * every HOSTFWD_RETRY_MS until it is free. When the guest's session starts
 * again its listeners arrive as a fresh list: ports it no longer has are
 * dropped once the list is complete (LISTENERS_SYNCED).
 *
 * Which guest listeners get a port is decided in reconcile.c, from the
 * listeners as reported, auto-forward and the static forwards; this file
 * makes the bound ports match (auto_reconcile) whenever one of those
 * changes, and binds, retries and closes the sockets.
 *
 * Connections. Each TCP connection accepted on a forwarded port opens a
 * channel to the guest's port 7701 (through the VM's vsock, hybrid vsock
 * or unix channel), and reverse forwards come the other way: both in
 * hostfwd-tcp.c, over fwdconn.c. UDP flows: hostfwd-udp.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "accept.h"
#include "hostfwd-int.h"
#include "log.h"
#include "sockets.h"
#include "sysctl.h"

static const char *const kind_names[] = { "auto", "static", "reverse" };

struct hostfwd_stats hostfwd_counters;

const char *
hostfwd_proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

uint32_t
hostfwd_next_id(struct hostfwd *hf)
{
	hf->next_id = (hf->next_id + 1) & ~(FWD_ID_GUEST | FWD_ID_ACCEPTED);
	if (hf->next_id == 0)
		hf->next_id = 1;
	return hf->next_id;
}

/* Which of the guest's listeners to connect to: IPv4 if it has one. */
uint8_t
hostfwd_target_family(const struct hport *hp)
{
	if (hp->kind != HP_AUTO)
		return 0;	/* the guest tries 127.0.0.1, then ::1 */
	return (hp->families & FAM_V4) ? AF_INET : AF_INET6;
}

/* ---- ports ------------------------------------------------------------------ */

static void
hport_info(const struct hport *hp, struct hostfwd_port_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->proto = hp->proto;
	pi->addr = hp->bind[hp->bind[0].held ? 1 : 0].addr;
	pi->host_port = hp->host_port;
	pi->guest_port = hp->guest_port;
	pi->kind = hp->runtime ? "runtime" : kind_names[hp->kind];
	pi->state = hp->error[0] ? hp->error : "active";
	pi->conns = hp->conns;
}

/* Tells the owner (netctl monitor) what happened to a port. */
static void
hport_note(const struct hport *hp, enum hostfwd_note note)
{
	struct hostfwd_port_info pi;

	if (!hp->hf->note)
		return;
	hport_info(hp, &pi);
	hp->hf->note(hp->hf->note_arg, note, &pi);
}

static void
schedule_retry(struct hostfwd *hf)
{
	struct timeval tv = { HOSTFWD_RETRY_MS / 1000,
	    (HOSTFWD_RETRY_MS % 1000) * 1000 };

	if (!evtimer_pending(hf->retry_ev, NULL))
		evtimer_add(hf->retry_ev, &tv);
}

hostfwd_bind_fn hostfwd_bind_via;

static int
bind_port(const struct hostfwd *hf, const struct vmn_ip *addr, uint8_t proto,
    uint16_t port, int backlog)
{
	if (hostfwd_bind_via)
		return hostfwd_bind_via(hf->vm, addr, proto, port, backlog,
		    hf->policy.mirrored);
	return fwd_bind_local(addr, proto, port, backlog, hf->policy.mirrored);
}

/* One socket of hp, on the loop: 0, or -errno (nothing kept). */
static int
hbind_open(struct hport *hp, struct hbind *b)
{
	int fd;

	fd = bind_port(hp->hf, &b->addr, hp->proto, hp->host_port, 4096);
	if (fd < 0)
		return fd;
	b->ev = event_new(hp->hf->base, fd, EV_READ | EV_PERSIST,
	    hp->proto == IPPROTO_TCP ? hostfwd_tcp_accept_cb :
	    hostfwd_udp_read_cb, b);
	if (!b->ev) {
		close(fd);
		return -ENOMEM;
	}
	b->fd = fd;
	event_add(b->ev, NULL);
	hostfwd_handoff_bind(b);	/* a guest that takes it accepts */
	return 0;
}

/* Binds what is not bound yet; a port in use is reported and retried. */
void
hport_bind(struct hport *hp)
{
	char ip[VMN_IP_STRLEN];
	bool was_conflict = hp->error[0] != '\0';
	unsigned i;
	int rc;

	hp->error[0] = '\0';
	for (i = 0; i < hp->nbind; i++) {
		struct hbind *b = &hp->bind[i];

		if (b->fd >= 0 || b->held)
			continue;
		rc = hbind_open(hp, b);
		if (rc == -EADDRNOTAVAIL && b->addr.family == AF_INET6 &&
		    hp->kind == HP_AUTO)
			continue;	/* no IPv6 on this host's loopback */
		if (rc < 0)
			snprintf(hp->error, sizeof(hp->error),
			    "%s port %u on %s: %s",
			    hostfwd_proto_name(hp->proto), hp->host_port,
			    vmn_ip_ntop(&b->addr, ip, sizeof(ip)),
			    rc == -EADDRINUSE ? "in use on the host" :
			    strerror(-rc));
	}
	if (hp->error[0]) {
		if (!was_conflict) {
			log_warnx("vm %s: cannot forward %s; trying again",
			    hp->hf->vm, hp->error);
			if (hp->announced)
				hport_note(hp, HOSTFWD_CONFLICT);
		}
		schedule_retry(hp->hf);
	} else if (was_conflict) {
		log_info("vm %s: %s port %u is free now and forwarded",
		    hp->hf->vm, hostfwd_proto_name(hp->proto), hp->host_port);
		hport_note(hp, HOSTFWD_RESOLVED);
	}
}

/* addr NULL: an auto port, on 127.0.0.1 and ::1 but the families held. */
static struct hport *
hport_new(struct hostfwd *hf, enum hport_kind kind, uint8_t proto,
    uint16_t host_port, uint16_t guest_port, const struct vmn_ip *addr,
    uint8_t held, bool runtime)
{
	struct hport *hp;

	if (hf->nports >= HOSTFWD_MAX_PORTS || !(hp = calloc(1, sizeof(*hp))))
		return NULL;
	hp->hf = hf;
	hp->kind = kind;
	hp->proto = proto;
	hp->host_port = host_port;
	hp->guest_port = guest_port;
	hp->runtime = runtime;
	LIST_INIT(&hp->udp);
	hp->bind[0].fd = hp->bind[1].fd = -1;
	hp->bind[0].hp = hp->bind[1].hp = hp;
	if (addr) {
		hp->bind[0].addr = *addr;
		hp->nbind = 1;
	} else {
		fwd_loopback(AF_INET, &hp->bind[0].addr);
		fwd_loopback(AF_INET6, &hp->bind[1].addr);
		hp->bind[0].held = (held & FAM_V4) != 0;
		hp->bind[1].held = (held & FAM_V6) != 0;
		hp->nbind = 2;
	}
	TAILQ_INSERT_TAIL(&hf->ports, hp, entry);
	hf->nports++;
	hport_bind(hp);
	/* Added first, then (if so) in conflict: in the order they matter. */
	hp->announced = true;
	hport_note(hp, HOSTFWD_ADDED);
	if (hp->error[0])
		hport_note(hp, HOSTFWD_CONFLICT);
	return hp;
}

void
hbind_close(struct hbind *b)
{
	/* UDP flows answer through this socket: they end with it. */
	hostfwd_udp_close(b->hp, b);
	hostfwd_handoff_unbind(b);
	if (b->ev) {
		vmn_accept_stop(b->ev);
		event_free(b->ev);
	}
	if (b->fd >= 0)
		close(b->fd);
	b->ev = NULL;
	b->fd = -1;
}

/* Stops listening; connections already made carry on. */
static void
hport_free(struct hport *hp)
{
	unsigned i;

	hport_note(hp, HOSTFWD_REMOVED);
	hostfwd_udp_close(hp, NULL);
	for (i = 0; i < hp->nbind; i++)
		hbind_close(&hp->bind[i]);
	TAILQ_REMOVE(&hp->hf->ports, hp, entry);
	hp->hf->nports--;
	free(hp);
}

static struct hport *
hport_find_auto(const struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_AUTO && hp->proto == proto &&
		    hp->host_port == port)
			return hp;
	return NULL;
}

static struct hport *
hport_find_static(const struct hostfwd *hf, uint8_t proto, uint16_t port,
    const struct vmn_ip *addr)
{
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_STATIC && hp->proto == proto &&
		    hp->host_port == port &&
		    vmn_ip_equal(&hp->bind[0].addr, addr))
			return hp;
	return NULL;
}

static uint8_t
hport_held(const struct hport *hp)
{
	return (uint8_t)((hp->bind[0].held ? FAM_V4 : 0) |
	    (hp->bind[1].held ? FAM_V6 : 0));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hostfwd *hf = arg;
	struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->error[0])
			hport_bind(hp);
}

/* ---- reconciliation ------------------------------------------------------------ */

static void
auto_rules(const struct hostfwd *hf, struct auto_rules *r)
{
	r->enabled = hf->auto_forward;
	r->privileged = hf->policy.auto_privileged;
	r->unpriv_start = hf->unpriv_start;
	r->st = hf->statics;
	r->nst = hf->nstatics;
	r->rules = hf->policy.rules;
	r->nrules = hf->policy.nrules;
}

/* Is hp bound where rule (NULL: none) says: its address, or the loopback? */
static bool
bound_as_ruled(const struct hport *hp, const struct hostfwd_rule *rule)
{
	if (rule && rule->addr.family)
		return hp->nbind == 1 && vmn_ip_equal(&hp->bind[0].addr,
		    &rule->addr);
	return hp->nbind == 2;
}

/* Makes the auto port for proto/port what reconcile.c says it should be. */
static enum auto_verdict
auto_reconcile(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	struct hport *hp = hport_find_auto(hf, proto, port);
	const struct vmn_ip *exposed;
	char ip[VMN_IP_STRLEN];
	struct auto_rules r;
	struct auto_want w;

	auto_rules(hf, &r);
	auto_decide(&r, glisteners_find(&hf->listeners, proto, port), proto,
	    port, &w);
	if (hp && (w.verdict != AUTO_FORWARD || hport_held(hp) != w.held ||
	    !bound_as_ruled(hp, w.rule))) {
		if (w.verdict != AUTO_FORWARD)
			log_info("vm %s: %s port %u no longer forwarded",
			    hf->vm, hostfwd_proto_name(proto), port);
		hport_free(hp);
		hp = NULL;
	}
	if (w.verdict != AUTO_FORWARD)
		return w.verdict;
	if (!hp) {
		exposed = w.rule && w.rule->addr.family ? &w.rule->addr : NULL;
		if (!(hp = hport_new(hf, HP_AUTO, proto, port, port, exposed,
		    exposed ? 0 : w.held, false))) {
			log_warnx("vm %s: too many forwarded ports; %s port %u "
			    "not forwarded", hf->vm, hostfwd_proto_name(proto),
			    port);
			return w.verdict;
		}
		if (hp->error[0])
			;	/* hport_bind said why not */
		else if (exposed)
			log_info("vm %s: forwarding %s port %u on %s (%s)",
			    hf->vm, hostfwd_proto_name(proto), port,
			    vmn_ip_ntop(exposed, ip, sizeof(ip)),
			    w.rule->where);
		else
			log_info("vm %s: forwarding localhost %s port %u",
			    hf->vm, hostfwd_proto_name(proto), port);
	}
	hp->families = w.families;
	return w.verdict;
}

/* Says, when the guest starts listening, why a port stays its own. */
static void
log_not_forwarded(struct hostfwd *hf, enum auto_verdict v, uint8_t proto,
    uint16_t port)
{
	struct auto_rules r;
	const struct hostfwd_rule *rule;

	if (v == AUTO_RULE_IGNORED) {
		auto_rules(hf, &r);
		rule = auto_rule(&r, proto, port);
		log_info("vm %s: %s port %u is not forwarded automatically: "
		    "%s ignores it", hf->vm, hostfwd_proto_name(proto), port,
		    rule ? rule->where : "a rule");
	} else if (v == AUTO_IGNORED)
		log_info("vm %s: %s port %u (%s) is not forwarded "
		    "automatically; a static forward can", hf->vm,
		    hostfwd_proto_name(proto), port, auto_ignored(proto, port));
	else if (v == AUTO_PRIVILEGED)
		log_info("vm %s: %s port %u is below the host's "
		    "net.ipv4.ip_unprivileged_port_start (%u): not forwarded "
		    "automatically; a static forward can", hf->vm,
		    hostfwd_proto_name(proto), port, hf->unpriv_start);
}

static void
log_held(struct hostfwd *hf, const struct hport *holder)
{
	char ip[VMN_IP_STRLEN];

	log_info("vm %s: %s port %u on %s: the configuration forwards it to "
	    "guest port %u; the guest's own port %u is not forwarded there",
	    hf->vm, hostfwd_proto_name(holder->proto), holder->host_port,
	    vmn_ip_ntop(&holder->bind[0].addr, ip, sizeof(ip)),
	    holder->guest_port, holder->host_port);
}

/* Logs the static forwards that keep a guest listener off their ports. */
static void
log_holders(struct hostfwd *hf, uint8_t proto, uint16_t port)
{
	const struct hport *hp;

	TAILQ_FOREACH(hp, &hf->ports, entry)
		if (hp->kind == HP_STATIC && hp->proto == proto &&
		    hp->host_port == port &&
		    static_covers_loopback(&hp->bind[0].addr))
			log_held(hf, hp);
}

static void
auto_reconcile_all(struct hostfwd *hf)
{
	struct hport *hp, *next;
	unsigned i;

	for (hp = TAILQ_FIRST(&hf->ports); hp; hp = next) {
		next = TAILQ_NEXT(hp, entry);
		if (hp->kind == HP_AUTO &&
		    !glisteners_find(&hf->listeners, hp->proto, hp->host_port))
			auto_reconcile(hf, hp->proto, hp->host_port);
	}
	for (i = 0; i < hf->listeners.n; i++)
		auto_reconcile(hf, hf->listeners.l[i].proto,
		    hf->listeners.l[i].port);
}

/* A listener in the guest came or went. */
void
hostfwd_listener(struct hostfwd *hf, bool added, uint8_t proto,
    uint8_t family, uint16_t port, bool wildcard)
{
	enum auto_verdict v;
	int rc = 0;

	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0 ||
	    (family != AF_INET && family != AF_INET6))
		return;		/* not from a guest-netd: ignored */
	if (!added) {
		glisteners_del(&hf->listeners, proto, family, port);
	} else if ((rc = glisteners_add(&hf->listeners, proto, family,
	    port)) < 0) {
		if (!hf->listeners_full)
			log_warnx("vm %s: more than %d listeners; the rest are "
			    "not forwarded", hf->vm, LISTENERS_MAX);
		hf->listeners_full = true;
		return;
	} else
		glisteners_set_wild(&hf->listeners, proto, family, port,
		    wildcard);
	v = auto_reconcile(hf, proto, port);
	if (rc != 1)
		return;		/* said when the port was new */
	if (v == AUTO_IGNORED || v == AUTO_PRIVILEGED ||
	    v == AUTO_RULE_IGNORED)
		log_not_forwarded(hf, v, proto, port);
	else if (hf->auto_forward)
		log_holders(hf, proto, port);
}

/* The guest connected again: its listeners will be listed anew. */
void
hostfwd_session_up(struct hostfwd *hf)
{
	glisteners_mark_stale(&hf->listeners);
}

/* The list is complete: what was not in it is gone. */
void
hostfwd_synced(struct hostfwd *hf)
{
	glisteners_sweep(&hf->listeners);
	hf->listeners_full = false;
	auto_reconcile_all(hf);
}

/* What the configuration lets automatic forwards take. */
void
hostfwd_set_policy(struct hostfwd *hf, const struct hostfwd_policy *p)
{
	hf->policy = *p;
	hf->unpriv_start = vmn_unprivileged_port_start();
	auto_reconcile_all(hf);
}

/*
 * Whether TCP connections go to the guest whole (VMN_CAP_FWD_HANDOFF):
 * when it takes them and the channel is a unix socket, unless
 * VMN_FWD_HANDOFF=0 (the relay, for tests and comparisons).
 */
void
hostfwd_set_handoff(struct hostfwd *hf, bool guest_takes)
{
	const char *env = getenv("VMN_FWD_HANDOFF");

	hf->conns.handoff = guest_takes && hf->chan.kind == VMN_TR_UNIX &&
	    !(env && strcmp(env, "0") == 0);
	hostfwd_handoff(hf, hf->conns.handoff);
}

/*
 * A connection the guest relayed alone ended: the bytes it says it
 * carried; one it accepted itself on a socket of ours is counted now.
 */
void
hostfwd_handed_bytes(struct hostfwd *hf, uint32_t conn_id, uint64_t conns,
    uint64_t to_guest, uint64_t from_guest)
{
	struct hport *hp;

	hf->stats.bytes_to_guest += to_guest;
	hf->stats.bytes_from_guest += from_guest;
	if (!(conn_id & FWD_ID_ACCEPTED) || (conn_id & FWD_ID_GUEST))
		return;
	if ((hp = hostfwd_handoff_port(hf, conn_id & ~FWD_ID_ACCEPTED)))
		hp->conns += conns;
	hf->stats.connections += conns;
	hostfwd_counters.connections += conns;
	hostfwd_counters.handed += conns;
}

/*
 * Where the guest's servers on a wildcard address can be reached from
 * here (its addresses behind a tap of this namespace), or zeroed: TCP
 * connections to them go there directly (fwdconn.c's "Directly").
 */
void
hostfwd_set_direct(struct hostfwd *hf, const struct vmn_ip *guest4,
    const struct vmn_ip *guest6)
{
	hf->direct4 = *guest4;
	hf->direct6 = *guest6;
}

void
hostfwd_set_guest_port(struct hostfwd *hf, uint32_t port)
{
	if (port && port != hf->guest_port) {
		log_info("vm %s: the guest takes forwarded connections on "
		    "port %u", hf->vm, port);
		hf->guest_port = port;
	}
}

/* Keeps a copy of the configuration's static forwards, for reconcile.c. */
static void
keep_statics(struct hostfwd *hf, const struct hostfwd_static *st, unsigned nst)
{
	struct hostfwd_static *copy = NULL;

	if (nst && !(copy = calloc(nst, sizeof(*copy)))) {
		log_warnx("vm %s: out of memory for its forwards", hf->vm);
		nst = 0;
	}
	if (copy)
		memcpy(copy, st, nst * sizeof(*copy));
	free(hf->statics);
	hf->statics = copy;
	hf->nstatics = nst;
}

/* Static forwards and allowed reverse forwards from the configuration. */
void
hostfwd_configure(struct hostfwd *hf, bool auto_forward,
    const struct hostfwd_static *st, unsigned nst,
    const struct hostfwd_rfwd *rv, unsigned nrv)
{
	struct hport *hp, *next;
	unsigned i;

	hf->auto_forward = auto_forward;
	hf->unpriv_start = vmn_unprivileged_port_start();
	keep_statics(hf, st, nst);
	/* Statics first (mark and sweep), so that they win their ports. */
	TAILQ_FOREACH(hp, &hf->ports, entry)
		hp->keep = hp->kind != HP_STATIC;
	for (i = 0; i < nst; i++) {
		hp = hport_find_static(hf, st[i].proto, st[i].host_port,
		    &st[i].addr);
		if (hp && hp->guest_port != st[i].guest_port) {
			hport_free(hp);
			hp = NULL;
		}
		if (!hp) {
			struct hport *a = static_covers_loopback(&st[i].addr) ?
			    hport_find_auto(hf, st[i].proto, st[i].host_port) :
			    NULL;

			/* The configuration's now: the auto port lets go. */
			if (a) {
				struct hbind *b = &a->bind[
				    st[i].addr.family == AF_INET6];

				hbind_close(b);
				b->held = true;
			}
			hp = hport_new(hf, HP_STATIC, st[i].proto,
			    st[i].host_port, st[i].guest_port, &st[i].addr, 0,
			    st[i].runtime);
			if (a && hp)
				log_held(hf, hp);
		}
		if (hp) {
			hp->keep = true;
			hp->runtime = st[i].runtime;
		}
	}
	for (hp = TAILQ_FIRST(&hf->ports); hp; hp = next) {
		next = TAILQ_NEXT(hp, entry);
		if (!hp->keep)
			hport_free(hp);
	}
	auto_reconcile_all(hf);
	/* Reverse forwards keep their counters and last error across reloads. */
	hf->nrfwds = rfwds_merge(hf->rfwds, hf->nrfwds, rv, nrv);
}

void
hostfwd_foreach(struct hostfwd *hf, hostfwd_port_fn fn, void *arg)
{
	struct hostfwd_port_info pi;
	struct hport *hp;
	unsigned i;

	TAILQ_FOREACH(hp, &hf->ports, entry) {
		hport_info(hp, &pi);
		fn(arg, &pi);
	}
	for (i = 0; i < hf->nrfwds; i++) {
		memset(&pi, 0, sizeof(pi));
		pi.proto = hf->rfwds[i].f.proto;
		fwd_loopback(AF_INET, &pi.addr);
		pi.host_port = hf->rfwds[i].f.port;
		pi.guest_port = hf->rfwds[i].f.guest_port;
		pi.kind = kind_names[HP_REVERSE];
		pi.state = hf->rfwds[i].error[0] ? hf->rfwds[i].error : "active";
		pi.conns = hf->rfwds[i].conns;
		fn(arg, &pi);
	}
}

/* The port of static forward st as netctl shows it; false: none. */
bool
hostfwd_port_info(const struct hostfwd *hf, const struct hostfwd_static *st,
    struct hostfwd_port_info *pi)
{
	const struct hport *hp = hport_find_static(hf, st->proto,
	    st->host_port, &st->addr);

	if (hp)
		hport_info(hp, pi);
	return hp != NULL;
}

/*
 * Whether static forward st could be bound now (0), or why not: its
 * socket is tried and closed again. A port of this VM's automatic
 * forwards that st covers does not count: st would take it over.
 */
int
hostfwd_probe(const struct hostfwd *hf, const struct hostfwd_static *st,
    char *err, size_t errlen)
{
	const struct hport *a = static_covers_loopback(&st->addr) ?
	    hport_find_auto(hf, st->proto, st->host_port) : NULL;
	char ip[VMN_IP_STRLEN];
	int fd;

	if (a && a->bind[st->addr.family == AF_INET6].fd >= 0)
		return 0;
	fd = bind_port(hf, &st->addr, st->proto, st->host_port, 1);
	if (fd < 0) {
		snprintf(err, errlen, "%s port %u on %s: %s",
		    hostfwd_proto_name(st->proto), st->host_port,
		    vmn_ip_ntop(&st->addr, ip, sizeof(ip)), fd == -EADDRINUSE ?
		    "in use on the host" : strerror(-fd));
		return fd;
	}
	close(fd);
	return 0;
}

void
hostfwd_vm_stats(const struct hostfwd *hf, struct hostfwd_vm_stats *st)
{
	struct fwdconn_bytes b;

	*st = hf->stats;
	/* Here local is the host's program or service; the peer, the guest. */
	fwdconn_set_bytes(&hf->conns, &b);
	st->bytes_to_guest += b.from_local;
	st->bytes_from_guest += b.to_local;
}

void
hostfwd_set_notify(struct hostfwd *hf, hostfwd_note_fn fn, void *arg)
{
	hf->note = fn;
	hf->note_arg = arg;
}

unsigned
hostfwd_conflicts(const struct hostfwd *hf)
{
	const struct hport *hp;
	unsigned n = 0;

	if (!hf)
		return 0;
	TAILQ_FOREACH(hp, &hf->ports, entry)
		n += hp->error[0] != '\0';
	return n;
}

const struct hostfwd_stats *
hostfwd_stats(void)
{
	return &hostfwd_counters;
}

struct hostfwd *
hostfwd_new(struct event_base *base, const char *vm_name,
    const struct vmn_endpoint *chan, uint32_t guest_port,
    hostfwd_reset_fn send_reset, void *arg)
{
	struct hostfwd *hf = calloc(1, sizeof(*hf));

	if (!hf)
		return NULL;
	hf->base = base;
	snprintf(hf->vm, sizeof(hf->vm), "%s", vm_name);
	hf->chan = *chan;
	hf->guest_port = guest_port;
	hf->send_reset = send_reset;
	hf->arg = arg;
	hf->auto_forward = true;
	hf->hch = -1;
	hf->unpriv_start = vmn_unprivileged_port_start();
	TAILQ_INIT(&hf->ports);
	if (hostfwd_tcp_init(hf) < 0) {
		free(hf);
		return NULL;
	}
	if (glisteners_init(&hf->listeners, LISTENERS_MAX) < 0 ||
	    !(hf->retry_ev = evtimer_new(base, retry_cb, hf))) {
		fwdconn_set_free(&hf->conns);
		glisteners_free(&hf->listeners);
		free(hf);
		return NULL;
	}
	return hf;
}

void
hostfwd_free(struct hostfwd *hf)
{
	struct hport *hp;

	if (!hf)
		return;
	fwdconn_set_free(&hf->conns);
	/* Each socket the guest has is shut down, and so taken back, first. */
	while ((hp = TAILQ_FIRST(&hf->ports)))
		hport_free(hp);
	hostfwd_handoff(hf, false);
	event_free(hf->retry_ev);
	glisteners_free(&hf->listeners);
	free(hf->statics);
	free(hf);
}
