/*
 * events.c - host-netd: the events netctl monitor streams
 *
 * Theory of operation
 *
 * What a user may want to watch calls an events_*() function as it
 * happens: a VM's state changing, a configuration generation acked or
 * failed, a forwarded port added, removed or in conflict, the host's
 * resolvers, a reload. Each event is one frame per subscriber, a reply to
 * its MONITOR request (never END): its kind, its number (every event the
 * daemon had counts, watched or not), its time, the VM it is about, a
 * sentence for people and named fields for scripts, a string or a number
 * each. A new kind or field needs no change of the protocol.
 *
 * A subscriber is a control connection. Nothing waits for one: its queue
 * is its connection's output buffer, held to EVENTS_QUEUE_MAX bytes, and
 * its socket's send buffer is made small so that the kernel holds little
 * more. An event that does not fit is dropped and counted; once there is
 * room again (seen at the next event, or by a timer while a count waits)
 * the subscriber first gets a "dropped" event with the count. A monitor
 * that reads slowly loses events, never the daemon's time, and is told
 * how many it lost.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "conn.h"
#include "host-netd.h"
#include "log.h"

#define EVENT_FIELDS_MAX	8
#define EVENTS_SNDBUF		16384	/* the kernel's share of a queue */
#define EVENTS_RETRY_MS		200	/* a count of drops waits for room */

struct field {
	const char	*name;
	const char	*str;		/* NULL: num */
	uint64_t	 num;
};

struct ev {
	const char	*kind;
	const char	*vm;		/* NULL: about no VM */
	char		 text[VMN_MAX_STRING];
	unsigned	 n;
	struct field	 f[EVENT_FIELDS_MAX];
};

struct sub {
	LIST_ENTRY(sub)	 entry;
	struct vmn_conn	*conn;
	uint32_t	 seq;		/* of its MONITOR request */
	uint64_t	 dropped;	/* since it was last told */
};

static struct {
	LIST_HEAD(, sub)	 subs;
	unsigned		 n;
	uint64_t		 count;		/* events so far */
	struct event		*retry_ev;
	uint8_t			 frame[VMN_HDR_LEN + 4096];
} E = { .subs = LIST_HEAD_INITIALIZER(E.subs) };

/* ---- building an event ------------------------------------------------ */

static void
ev_init(struct ev *ev, const char *kind, const char *vm)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->vm = vm;
}

static void __attribute__((format(printf, 2, 3)))
ev_text(struct ev *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->text, sizeof(ev->text), fmt, ap);
	va_end(ap);
}

/* A string field; NULL or "" is null to a script. */
static void
ev_str(struct ev *ev, const char *name, const char *v)
{
	if (ev->n == EVENT_FIELDS_MAX)
		return;
	ev->f[ev->n].name = name;
	ev->f[ev->n++].str = v ? v : "";
}

static void
ev_num(struct ev *ev, const char *name, uint64_t v)
{
	if (ev->n == EVENT_FIELDS_MAX)
		return;
	ev->f[ev->n].name = name;
	ev->f[ev->n++].num = v;
}

/* ---- delivery ------------------------------------------------------- */

/* The frame of ev for s; number 0: none (a "dropped" event's). */
static int
encode(const struct sub *s, const struct ev *ev, uint64_t number,
    struct vmn_buf *b)
{
	unsigned i;

	vmn_buf_init(b, E.frame, sizeof(E.frame));
	vmn_msg_begin(b, VMN_MSG_CTL_MONITOR, VMN_F_REPLY, s->seq);
	vmn_put_str(b, VMN_A_KIND, ev->kind);
	if (number)
		vmn_put_u64(b, VMN_A_COUNT, number);
	vmn_put_u64(b, VMN_A_SINCE, (uint64_t)time(NULL));
	if (ev->vm)
		vmn_put_str(b, VMN_A_VM_ID, ev->vm);
	vmn_put_str(b, VMN_A_VALUE, ev->text);
	vmn_nest_begin(b, VMN_A_FIELDS);
	for (i = 0; i < ev->n; i++) {
		vmn_nest_begin(b, VMN_A_FIELD);
		vmn_put_str(b, VMN_A_NAME, ev->f[i].name);
		if (ev->f[i].str)
			vmn_put_str(b, VMN_A_VALUE, ev->f[i].str);
		else
			vmn_put_u64(b, VMN_A_COUNT, ev->f[i].num);
		vmn_nest_end(b);
	}
	vmn_nest_end(b);
	return vmn_msg_end(b);
}

/* Queues ev for s if it fits; false: it does not. */
static bool
queue(struct sub *s, const struct ev *ev, uint64_t number)
{
	struct vmn_buf b;
	int len;

	if ((len = encode(s, ev, number, &b)) < 0) {
		log_warnx("monitor: cannot encode a %s event: %s", ev->kind,
		    strerror(-len));
		return true;	/* a bug of ours, not the reader's loss */
	}
	if (vmn_conn_pending_output(s->conn) + (size_t)len > EVENTS_QUEUE_MAX)
		return false;
	vmn_conn_send(s->conn, b.data, (size_t)len);
	return true;
}

/* Tells s how many events it missed, if there is room for that now. */
static bool
tell_dropped(struct sub *s)
{
	struct ev ev;

	if (!s->dropped)
		return true;
	ev_init(&ev, "dropped", NULL);
	ev_text(&ev, "%llu event%s dropped: this monitor did not read them "
	    "in time", (unsigned long long)s->dropped,
	    s->dropped == 1 ? "" : "s");
	ev_num(&ev, "count", s->dropped);
	if (!queue(s, &ev, 0))
		return false;
	log_debug("monitor: %llu events dropped for a slow reader",
	    (unsigned long long)s->dropped);
	s->dropped = 0;
	return true;
}

static void
arm_retry(void)
{
	struct timeval tv = { 0, EVENTS_RETRY_MS * 1000 };

	if (E.retry_ev && !evtimer_pending(E.retry_ev, NULL))
		evtimer_add(E.retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sub *s;
	bool waiting = false;

	LIST_FOREACH(s, &E.subs, entry)
		if (!tell_dropped(s))
			waiting = true;
	if (waiting)
		arm_retry();
}

static void
emit(const struct ev *ev)
{
	struct sub *s;

	E.count++;
	LIST_FOREACH(s, &E.subs, entry) {
		if (tell_dropped(s) && queue(s, ev, E.count))
			continue;
		s->dropped++;
		arm_retry();
	}
}

/* ---- subscribers ------------------------------------------------------ */

/*
 * Connection c asked (request seq) for the events: it gets a "monitor"
 * event at once, then every event. -errno, err saying why, if it cannot.
 */
int
events_subscribe(struct vmn_conn *c, uint32_t seq, char *err, size_t errlen)
{
	int sndbuf = EVENTS_SNDBUF;
	struct sub *s;
	struct ev ev;

	LIST_FOREACH(s, &E.subs, entry)
		if (s->conn == c) {
			snprintf(err, errlen, "this connection monitors "
			    "already");
			return -EALREADY;
		}
	if (E.n >= EVENTS_MAX_SUBSCRIBERS) {
		snprintf(err, errlen, "%d monitors run already; no more",
		    EVENTS_MAX_SUBSCRIBERS);
		return -EBUSY;
	}
	if (!E.retry_ev && !(E.retry_ev = evtimer_new(hostd->base, retry_cb,
	    NULL))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->conn = c;
	s->seq = seq;
	if (setsockopt(vmn_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) < 0)
		log_debug("monitor: SO_SNDBUF: %s", strerror(errno));
	LIST_INSERT_HEAD(&E.subs, s, entry);
	E.n++;
	ev_init(&ev, "monitor", NULL);
	ev_text(&ev, "monitoring host-netd %s, pid %d", PACKAGE_VERSION,
	    (int)getpid());
	ev_str(&ev, "version", PACKAGE_VERSION);
	ev_num(&ev, "pid", (uint64_t)getpid());
	queue(s, &ev, 0);
	return 0;
}

/* c is going (or was no subscriber). */
void
events_unsubscribe(struct vmn_conn *c)
{
	struct sub *s;

	LIST_FOREACH(s, &E.subs, entry)
		if (s->conn == c)
			break;
	if (!s)
		return;
	LIST_REMOVE(s, entry);
	E.n--;
	free(s);
	if (E.n == 0 && E.retry_ev) {
		event_free(E.retry_ev);
		E.retry_ev = NULL;
	}
}

/* ---- the kinds of events ---------------------------------------------- */

/* vm-state: from, to, reason (why it is down or failed, or null). */
void
events_vm_state(const struct vm *vm, enum vm_state from)
{
	struct ev ev;

	ev_init(&ev, "vm-state", vm->conf.name);
	ev_text(&ev, "vm %s: %s -> %s%s%s", vm->conf.name,
	    vm_state_name(from), vm_state_name(vm->state),
	    vm->error[0] ? ": " : "", vm->error);
	ev_str(&ev, "from", vm_state_name(from));
	ev_str(&ev, "to", vm_state_name(vm->state));
	ev_str(&ev, "reason", vm->error);
	emit(&ev);
}

/* vm-changed: change (added, removed, restarted, updated), cause. */
void
events_vm_change(const char *vm, enum vm_change what, const char *cause)
{
	struct ev ev;

	ev_init(&ev, "vm-changed", vm);
	ev_text(&ev, "vm %s %s (%s)", vm, what == VM_CH_UPDATED ?
	    "updated in place" : vm_change_name(what), cause);
	ev_str(&ev, "change", vm_change_name(what));
	ev_str(&ev, "cause", cause);
	emit(&ev);
}

/* config-applied, or config-failed: gen, error (null when applied). */
void
events_config(const struct vm *vm, uint32_t gen, const char *error)
{
	struct ev ev;

	ev_init(&ev, error ? "config-failed" : "config-applied",
	    vm->conf.name);
	if (error)
		ev_text(&ev, "vm %s: configuration %u failed: %s",
		    vm->conf.name, gen, error);
	else
		ev_text(&ev, "vm %s: configuration %u applied", vm->conf.name,
		    gen);
	ev_num(&ev, "gen", gen);
	ev_str(&ev, "error", error);
	emit(&ev);
}

/*
 * forward-added, forward-removed, port-conflict (the port cannot be
 * bound), port-conflict-cleared (it is bound now): proto, host_address,
 * host_port, guest_port, kind (auto, static, runtime, reverse,
 * mirrored), reason (a conflict's, else null).
 */
void
events_forward(const char *vm, enum hostfwd_note note,
    const struct hostfwd_port_info *pi)
{
	static const char *const kinds[] = { "forward-added",
	    "forward-removed", "port-conflict", "port-conflict-cleared" };
	const char *proto = pi->proto == IPPROTO_UDP ? "udp" : "tcp";
	char ip[VMN_IP_STRLEN], host[VMN_IP_STRLEN + 8];
	struct ev ev;

	vmn_ip_ntop(&pi->addr, ip, sizeof(ip));
	snprintf(host, sizeof(host), pi->addr.family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", ip, pi->host_port);
	ev_init(&ev, kinds[note], vm);
	switch (note) {
	case HOSTFWD_ADDED:
		ev_text(&ev, "vm %s: %s %s forwarded to guest port %u (%s)",
		    vm, proto, host, pi->guest_port, pi->kind);
		break;
	case HOSTFWD_REMOVED:
		ev_text(&ev, "vm %s: %s %s no longer forwarded (%s)", vm,
		    proto, host, pi->kind);
		break;
	case HOSTFWD_CONFLICT:
		ev_text(&ev, "vm %s: %s %s cannot be bound: %s", vm, proto,
		    host, pi->state);
		break;
	case HOSTFWD_RESOLVED:
		ev_text(&ev, "vm %s: %s %s is bound now", vm, proto, host);
		break;
	}
	ev_str(&ev, "proto", proto);
	ev_str(&ev, "host_address", ip);
	ev_num(&ev, "host_port", pi->host_port);
	ev_num(&ev, "guest_port", pi->guest_port);
	ev_str(&ev, "kind", pi->kind);
	ev_str(&ev, "reason", note == HOSTFWD_CONFLICT ? pi->state : NULL);
	emit(&ev);
}

/* Words, space-separated, into buf. */
static void
join(char *buf, size_t len, const char *word)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s", n ? " " : "", word);
}

/*
 * resolver: the host's resolv.conf changed: nameservers (those a guest
 * can use: not the host's loopback) and search, space-separated.
 */
void
events_resolver(const struct hostdns *dns)
{
	char servers[VMN_NC_MAX_SERVERS * (VMN_IP_STRLEN + 1)] = "";
	char search[VMN_NC_MAX_SEARCH * VMN_NC_DOMAIN_MAX] = "";
	char ip[VMN_IP_STRLEN];
	struct ev ev;
	unsigned i;

	for (i = 0; i < dns->nservers; i++)
		join(servers, sizeof(servers),
		    vmn_ip_ntop(&dns->servers[i], ip, sizeof(ip)));
	for (i = 0; i < dns->nsearch; i++)
		join(search, sizeof(search), dns->search[i]);
	ev_init(&ev, "resolver", NULL);
	ev_text(&ev, "the host's resolv.conf changed: nameservers %s, "
	    "search %s", servers[0] ? servers : "none",
	    search[0] ? search : "none");
	ev_str(&ev, "nameservers", servers);
	ev_str(&ev, "search", search);
	emit(&ev);
}

/*
 * reloaded: file, cause (SIGHUP, netctl), changes (VMs changed); or
 * reload-refused: file, cause, error (the first of its errors).
 */
void
events_reload(const char *file, const char *cause, unsigned nchanges,
    const char *errors)
{
	char first[VMN_MAX_STRING / 2];
	struct ev ev;

	ev_init(&ev, errors ? "reload-refused" : "reloaded", NULL);
	if (errors) {
		snprintf(first, sizeof(first), "%.*s",
		    (int)strcspn(errors, "\n"), errors);
		ev_text(&ev, "%s refused (%s), the running configuration "
		    "stays: %s", file, cause, first);
	} else {
		ev_text(&ev, "%s reloaded (%s): %u VM%s changed", file, cause,
		    nchanges, nchanges == 1 ? "" : "s");
	}
	ev_str(&ev, "file", file);
	ev_str(&ev, "cause", cause);
	if (errors)
		ev_str(&ev, "error", first);
	else
		ev_num(&ev, "changes", nchanges);
	emit(&ev);
}

/* policy-reloaded: files; or policy-refused: files, error. */
void
events_policy_reload(bool ok, const char *files, const char *error)
{
	struct ev ev;

	ev_init(&ev, ok ? "policy-reloaded" : "policy-refused", NULL);
	if (ok)
		ev_text(&ev, "policy reloaded from %s", files && *files ?
		    files : "no file");
	else
		ev_text(&ev, "policy refused, the running one stays: %s",
		    error ? error : "?");
	ev_str(&ev, "files", files);
	ev_str(&ev, "error", ok ? NULL : error);
	emit(&ev);
}
