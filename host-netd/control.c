/*
 * control.c - host-netd: the control socket netctl talks to
 *
 * Same framing as the guest channels. The socket is 0660 root:vmnetd (the
 * group if it exists); anyone who can connect may read status, and only
 * root or members of vmnetd (by the peer's credentials, supplementary
 * groups included) may change anything. Multi-record answers end with a
 * frame flagged END; a monitor's answers (events.c) never end.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>

#include "accept.h"
#include "conn.h"
#include "host-netd.h"
#include "log.h"
#include "privsep.h"

#define CONTROL_GROUP		"vmnetd"
#define CONTROL_MAX_CLIENTS	16

struct ctl_client {
	LIST_ENTRY(ctl_client)	 entry;
	struct vmn_conn		*conn;
	uid_t			 uid;
	pid_t			 pid;		/* at connect time */
	bool			 in_group;	/* vmnetd, primary or not */
	uint8_t			 txbuf[4096];
};

static struct {
	int				 fd;
	struct event			*ev;
	char				 path[VMN_PATH_MAX];
	gid_t				 gid;
	unsigned			 nclients;
	LIST_HEAD(, ctl_client)		 clients;
} ctl = { .fd = -1, .gid = (gid_t)-1 };

/* Answers too long for a client's txbuf: a reload's errors or changes. */
static uint8_t bigbuf[VMN_HDR_LEN + 32768];
/* The engine's counters for every VM, asked once per `netctl vms`. */
static struct ps_vms_stats vms_stats;

static bool
may_change(const struct ctl_client *c)
{
	return c->uid == 0 || c->in_group;
}

/*
 * Whether the peer belongs to the vmnetd group. SO_PEERCRED gives only the
 * primary group; SO_PEERGROUPS the supplementary ones, as the kernel
 * recorded them at connect time (a pid read from /proc could be reused).
 */
static bool
peer_in_group(int fd, const struct ucred *cred)
{
	gid_t groups[NGROUPS_MAX];
	socklen_t len = sizeof(groups);
	size_t i;

	if (ctl.gid == (gid_t)-1)
		return false;
	if (cred->gid == ctl.gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == ctl.gid)
			return true;
	return false;
}

static void
put_stat(struct vmn_buf *b, const char *name, uint64_t value)
{
	vmn_nest_begin(b, VMN_A_STAT);
	vmn_put_str(b, VMN_A_NAME, name);
	vmn_put_u64(b, VMN_A_COUNT, value);
	vmn_nest_end(b);
}

/* Counters as name/value pairs: new ones need no protocol change. */
static void
put_stats(struct vmn_buf *b)
{
	const struct dnstun_stats *d;
	const struct hostfwd_stats *f;
	struct ps_stats s;
	uint64_t conflicts;
	struct vm *vm;

	engine_stats(&s);	/* one question for every VM's counters */
	d = &s.dns;
	f = &s.fwd;
	conflicts = s.conflicts;
	TAILQ_FOREACH(vm, &hostd->vms, entry)
		conflicts += mirror_conflicts(vm);

	vmn_nest_begin(b, VMN_A_STATS);
	put_stat(b, "dns.queries", d->queries);
	put_stat(b, "dns.answers", d->answers);
	put_stat(b, "dns.servfail", d->servfail);
	put_stat(b, "dns.formerr", d->formerr);
	put_stat(b, "dns.limited", d->limited);
	put_stat(b, "dns.refused", d->refused);
	put_stat(b, "dns.queued", d->queued);
	put_stat(b, "dns.resolver_changes", d->generations);
	put_stat(b, "fwd.connections", f->connections);
	put_stat(b, "fwd.refused", f->refused);
	put_stat(b, "fwd.udp_flows", f->udp_flows);
	put_stat(b, "fwd.reverse", f->reverse);
	put_stat(b, "fwd.reverse_failed", f->reverse_failed);
	put_stat(b, "fwd.resets", f->resets);
	put_stat(b, "fwd.handed", f->handed);
	put_stat(b, "fwd.direct", f->direct);
	put_stat(b, "fwd.direct_failed", f->direct_failed);
	put_stat(b, "fwd.ports_in_use", conflicts);
	vmn_nest_end(b);
}

/* A VM's counters: its DNS queries, its forwarding, its firewall. */
static void
put_vm_stats(struct vmn_buf *b, const struct vm *vm,
    const struct ps_vm_stats *s)
{
	vmn_nest_begin(b, VMN_A_STATS);
	put_stat(b, "dns.queries", s->dns_queries);
	put_stat(b, "dns.failures", s->dns_failures);
	put_stat(b, "fwd.connections", s->fwd.connections);
	put_stat(b, "fwd.reverse", s->fwd.reverse);
	put_stat(b, "fwd.bytes_to_guest", s->fwd.bytes_to_guest);
	put_stat(b, "fwd.bytes_from_guest", s->fwd.bytes_from_guest);
	put_stat(b, "fw.drops", vm_fw_drops(vm));
	vmn_nest_end(b);
}

static int
send_status(struct ctl_client *c, uint32_t seq)
{
	struct vmn_buf b;
	struct vm *vm;
	uint64_t online = 0;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm->state == VM_S_ONLINE)
			online++;
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, VMN_MSG_CTL_STATUS, VMN_F_REPLY, seq);
	vmn_put_u32(&b, VMN_A_VERSION, VMN_WIRE_VERSION);
	vmn_put_u32(&b, VMN_A_PID, (uint32_t)getpid());
	vmn_put_u64(&b, VMN_A_UPTIME, (uint64_t)(time(NULL) - hostd->started));
	vmn_put_u64(&b, VMN_A_SINCE, (uint64_t)hostd->started);
	vmn_put_u64(&b, VMN_A_COUNT, online);
	vmn_put_str(&b, VMN_A_STATE, PACKAGE_VERSION);
	put_stats(&b);
	return vmn_conn_send_buf(c->conn, &b);
}

/*
 * One VM, as `netctl vms` shows it (and `netctl register` answers), with
 * the engine's counters from engine_vms_stats().
 */
static void
put_vm(struct vmn_buf *b, const struct vm *vm, const struct ps_vms_stats *all)
{
	const struct ps_vm_stats *s = ps_vms_stats_of(all, vm);
	char uri[VMN_URI_MAX];
	struct vmn_ip ip;
	unsigned n;

	vmn_put_str(b, VMN_A_VM_ID, vm->conf.name);
	vmn_put_str(b, VMN_A_MODE, vm_mode_name(vm->conf.mode));
	vmn_put_str(b, VMN_A_STATE, vm_state_name(vm->state));
	if (vm->error[0])
		vmn_put_str(b, VMN_A_ERRMSG, vm->error);
	vmn_put_str(b, VMN_A_CHANNEL,
	    vmn_endpoint_str(&vm->conf.channel, uri, sizeof(uri)));
	if (vm->conf.link != VM_LINK_NONE)
		vmn_put_str(b, VMN_A_IFNAME, vm->conf.host_ifname);
	if (vm->conf.mode == VM_MODE_MIRRORED) {
		mirror_put_addresses(b, vm);
	} else if (vm->subnet4.ip.family) {
		vmn_put(b, VMN_A_MAC, vm->guest_mac, VMN_MAC_LEN);
		vm_guest4(vm, &ip);
		vmn_put_ip(b, VMN_A_ADDR, &ip);
		vmn_put_u8(b, VMN_A_PREFIXLEN, vm->subnet4.plen);
		vm_gateway4(vm, &ip);
		vmn_put_ip(b, VMN_A_GATEWAY, &ip);
	}
	if (vm->conf.mode != VM_MODE_MIRRORED && vm->subnet6.ip.family) {
		vm_guest6(vm, &ip);
		vmn_put_ip(b, VMN_A_ADDR6, &ip);
		vm_gateway6(vm, &ip);
		vmn_put_ip(b, VMN_A_GATEWAY6, &ip);
	}
	if (vm->mtu)
		vmn_put_u32(b, VMN_A_MTU, vm->mtu);
	if ((n = s->conflicts + mirror_conflicts(vm)))
		vmn_put_u32(b, VMN_A_FWD_CONFLICTS, n);
	if (vm->conf.registered)
		vmn_put_u32(b, VMN_A_PID, (uint32_t)vm->conf.owner);
	vmn_put_u32(b, VMN_A_GEN, vm->gen);
	vmn_put_u32(b, VMN_A_GEN_APPLIED, vm->gen_applied);
	vmn_put_u64(b, VMN_A_UPTIME, (uint64_t)(time(NULL) - vm->state_since));
	vmn_put_u64(b, VMN_A_SINCE, (uint64_t)vm->state_since);
	put_vm_stats(b, vm, s);
}

/*
 * A refusal with its errors, "file:line: message" each, in lines: ERRMSG
 * says what was refused and ERRORS holds each error, for netctl to print
 * one a line or, under --json, as objects.
 */
static int
send_errors(struct ctl_client *c, const struct vmn_msg *m, int err,
    const char *summary, const char *lines)
{
	char line[VMN_MAX_STRING + 1];
	const char *p = lines;
	struct vmn_buf b;
	size_t n;

	vmn_buf_init(&b, bigbuf, sizeof(bigbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY | VMN_F_ERROR, m->hdr.seq);
	vmn_put_u32(&b, VMN_A_ERRNO, (uint32_t)err);
	vmn_put_str(&b, VMN_A_ERRMSG, summary);
	vmn_nest_begin(&b, VMN_A_ERRORS);
	while (*p) {
		n = strcspn(p, "\n");
		if (n) {
			snprintf(line, sizeof(line), "%.*s", (int)n, p);
			vmn_put_str(&b, VMN_A_ERRMSG, line);
		}
		p += n;
		if (*p)
			p++;
	}
	vmn_nest_end(&b);
	return vmn_conn_send_buf(c->conn, &b);
}

/* Every VM, or the one the request names (ENOENT if none). */
static int
send_vms(struct ctl_client *c, const struct vmn_msg *m)
{
	char name[VM_NAME_MAX + 2], err[VM_NAME_MAX + 32];
	uint32_t seq = m->hdr.seq;
	struct vmn_buf b;
	struct vm *vm;
	int rc;

	name[0] = '\0';
	if (vmn_attr_present(&m->tb[VMN_A_VM_ID]) &&
	    (vmn_attr_str(&m->tb[VMN_A_VM_ID], name, sizeof(name)) < 0 ||
	    !vm_find(name))) {
		vmn_str_printable(name);
		snprintf(err, sizeof(err), "no vm \"%s\"", name);
		return vmn_conn_send_error(c->conn, m->hdr.type, seq, ENOENT,
		    err);
	}
	engine_vms_stats(&vms_stats);
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (name[0] && strcmp(name, vm->conf.name) != 0)
			continue;
		vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
		vmn_msg_begin(&b, VMN_MSG_CTL_VMS, VMN_F_REPLY, seq);
		put_vm(&b, vm, &vms_stats);
		if ((rc = vmn_conn_send_buf(c->conn, &b)) < 0)
			return rc;
	}
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, VMN_MSG_CTL_VMS, VMN_F_REPLY | VMN_F_END, seq);
	return vmn_conn_send_buf(c->conn, &b);
}

static int
do_register(struct ctl_client *c, const struct vmn_msg *m)
{
	char src[256] = "", err[1024];
	const struct vmn_attr *text = &m->tb[VMN_A_PAYLOAD];
	struct vmn_buf b;
	struct vm *vm;
	pid_t owner = 0;
	int rc;

	if (!may_change(c))
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EPERM, "registering a VM needs root or the vmnetd group");
	if (!vmn_attr_present(text))
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EINVAL, "no vm block");
	if (vmn_attr_str(&m->tb[VMN_A_NAME], src, sizeof(src)) < 0 || !src[0])
		snprintf(src, sizeof(src), "registration");
	vmn_str_printable(src);
	if (vmn_attr_present(&m->tb[VMN_A_PID]))
		owner = (pid_t)vmn_attr_u32(&m->tb[VMN_A_PID]);
	rc = hostd_register(src, (const char *)text->data, text->len, owner,
	    c->uid, err, sizeof(err), &vm);
	/* EINVAL: the block's errors, or its clashes, at file:line each. */
	if (rc == -EINVAL)
		return send_errors(c, m, EINVAL, "registration refused", err);
	if (rc < 0)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    -rc, err);
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY, m->hdr.seq);
	if (vm) {
		engine_vms_stats(&vms_stats);
		put_vm(&b, vm, &vms_stats);
	}
	return vmn_conn_send_buf(c->conn, &b);
}

static int
do_unregister(struct ctl_client *c, const struct vmn_msg *m)
{
	char name[VM_NAME_MAX + 2], err[512];
	bool force = vmn_attr_u8(&m->tb[VMN_A_FORCE]) != 0;
	struct vmn_buf b;
	pid_t told;
	int rc;

	if (!may_change(c))
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EPERM, "unregistering a VM needs root or the vmnetd group");
	if (vmn_attr_str(&m->tb[VMN_A_VM_ID], name, sizeof(name)) < 0)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EINVAL, "which VM?");
	vmn_str_printable(name);
	if ((rc = hostd_unregister_ctl(name, c->uid, c->pid, force, err,
	    sizeof(err), &told)) < 0)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    -rc, err);
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY, m->hdr.seq);
	if (told > 0)
		vmn_put_u32(&b, VMN_A_PID, (uint32_t)told);
	return vmn_conn_send_buf(c->conn, &b);
}

/* Reload; the answer: the errors it was refused with, or what changed. */
static int
do_reload(struct ctl_client *c, const struct vmn_msg *m)
{
	static struct reload_report r;
	struct vmn_buf b;
	unsigned i;

	if (!may_change(c))
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EPERM, "reload needs root or the vmnetd group");
	if (hostd_reload_report("netctl", &r) < 0)
		return send_errors(c, m, EINVAL, r.summary, r.errors);
	vmn_buf_init(&b, bigbuf, sizeof(bigbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY, m->hdr.seq);
	vmn_nest_begin(&b, VMN_A_CHANGES);
	for (i = 0; i < r.nchanges; i++) {
		vmn_nest_begin(&b, VMN_A_CHANGE);
		vmn_put_str(&b, VMN_A_VM_ID, r.changes[i].name);
		vmn_put_str(&b, VMN_A_VALUE, vm_change_name(r.changes[i].what));
		vmn_nest_end(&b);
	}
	vmn_nest_end(&b);
	return vmn_conn_send_buf(c->conn, &b);
}

struct fwd_list {
	struct ctl_client	*c;
	const struct vm		*vm;
	uint32_t		 seq;
	int			 rc;
};

/* One forwarded port, as `netctl forwards` shows it (no state: gone). */
static void
put_port(struct vmn_buf *b, const char *vm, const struct hostfwd_port_info *pi)
{
	vmn_put_str(b, VMN_A_VM_ID, vm);
	vmn_put_u8(b, VMN_A_PROTO, pi->proto);
	vmn_put_ip(b, VMN_A_HOST_ADDR, &pi->addr);
	vmn_put_u16(b, VMN_A_PORT, pi->host_port);
	vmn_put_u16(b, VMN_A_GUEST_PORT, pi->guest_port);
	vmn_put_str(b, VMN_A_MODE, pi->kind);
	/* An enum, and apart from it the reason it is not active. */
	if (pi->state && strcmp(pi->state, "active") == 0) {
		vmn_put_str(b, VMN_A_STATE, "active");
	} else if (pi->state) {
		vmn_put_str(b, VMN_A_STATE, "error");
		vmn_put_str(b, VMN_A_ERRMSG, pi->state);
	}
	vmn_put_u64(b, VMN_A_COUNT, pi->conns);
}

static void
put_forward(void *arg, const struct hostfwd_port_info *pi)
{
	struct fwd_list *fl = arg;
	struct vmn_buf b;

	if (fl->rc < 0)
		return;
	vmn_buf_init(&b, fl->c->txbuf, sizeof(fl->c->txbuf));
	vmn_msg_begin(&b, VMN_MSG_CTL_FORWARDS, VMN_F_REPLY, fl->seq);
	put_port(&b, fl->vm->conf.name, pi);
	fl->rc = vmn_conn_send_buf(fl->c->conn, &b);
}

static int
send_forwards(struct ctl_client *c, uint32_t seq)
{
	struct fwd_list fl = { .c = c, .seq = seq };
	struct vmn_buf b;
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		fl.vm = vm;
		engine_foreach_port(vm, put_forward, &fl);
		mirror_foreach(vm, put_forward, &fl);
	}
	if (fl.rc < 0)
		return fl.rc;
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, VMN_MSG_CTL_FORWARDS, VMN_F_REPLY | VMN_F_END, seq);
	return vmn_conn_send_buf(c->conn, &b);
}

/*
 * netctl forward add|remove: VM_ID, PROTO, PORT, GUEST_PORT (add; default
 * PORT), HOST_ADDR (add: default 127.0.0.1; remove: any). The answer: the
 * forward, as ctl-forwards says it.
 */
static int
do_forward(struct ctl_client *c, const struct vmn_msg *m)
{
	char name[VM_NAME_MAX + 2], err[512];
	bool add = m->hdr.type == VMN_MSG_CTL_FWD_ADD;
	struct hostfwd_port_info pi;
	struct hostfwd_static st;
	struct vmn_buf b;
	int rc;

	if (!may_change(c))
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EPERM, "changing forwards needs root or the vmnetd group");
	memset(&st, 0, sizeof(st));
	st.proto = vmn_attr_u8(&m->tb[VMN_A_PROTO]);
	st.host_port = vmn_attr_u16(&m->tb[VMN_A_PORT]);
	st.guest_port = vmn_attr_present(&m->tb[VMN_A_GUEST_PORT]) ?
	    vmn_attr_u16(&m->tb[VMN_A_GUEST_PORT]) : st.host_port;
	if (vmn_attr_present(&m->tb[VMN_A_HOST_ADDR]))
		vmn_attr_ip(&m->tb[VMN_A_HOST_ADDR], &st.addr);
	else if (add)
		vmn_ip_parse("127.0.0.1", &st.addr);
	if (vmn_attr_str(&m->tb[VMN_A_VM_ID], name, sizeof(name)) < 0 ||
	    (st.proto != IPPROTO_TCP && st.proto != IPPROTO_UDP) ||
	    !st.host_port || !st.guest_port)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    EINVAL, "a forward needs a VM, tcp or udp, and ports from "
		    "1 to 65535");
	vmn_str_printable(name);
	rc = add ? fwdctl_add(name, &st, c->uid, &pi, err, sizeof(err)) :
	    fwdctl_remove(name, &st, c->uid, &pi, err, sizeof(err));
	if (rc < 0)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    -rc, err);
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY, m->hdr.seq);
	put_port(&b, name, &pi);
	return vmn_conn_send_buf(c->conn, &b);
}

/* netctl monitor: the answers are events, from now on (events.c). */
static int
do_monitor(struct ctl_client *c, const struct vmn_msg *m)
{
	char err[128];
	int rc;

	if ((rc = events_subscribe(c->conn, m->hdr.seq, err, sizeof(err))) < 0)
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    -rc, err);
	return 0;
}

/* netctl policy [VM]: the policy as the VMs have it (policyctl.c). */
static int
do_policy(struct ctl_client *c, const struct vmn_msg *m)
{
	char name[VM_NAME_MAX + 2] = "", err[VM_NAME_MAX + 32];

	if (vmn_attr_present(&m->tb[VMN_A_VM_ID]) &&
	    (vmn_attr_str(&m->tb[VMN_A_VM_ID], name, sizeof(name)) < 0 ||
	    !vm_find(name))) {
		vmn_str_printable(name);
		snprintf(err, sizeof(err), "no vm \"%s\"", name);
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq,
		    ENOENT, err);
	}
	return policyctl_show(c->conn, m->hdr.seq, name, c->txbuf,
	    sizeof(c->txbuf));
}

/*
 * netctl policy check FILE: the policy it would make in the place of the
 * policy dir's file of its name, checked against the configuration, not
 * applied. Anyone may ask: it changes nothing.
 */
static int
do_policy_check(struct ctl_client *c, const struct vmn_msg *m)
{
	static char err[16384];
	const struct vmn_attr *text = &m->tb[VMN_A_PAYLOAD];
	char name[1024] = "", summary[256];
	struct policy *pol;
	struct vmn_buf b;

	if (vmn_attr_str(&m->tb[VMN_A_NAME], name, sizeof(name)) < 0 ||
	    !name[0])
		snprintf(name, sizeof(name), "policy.conf");
	vmn_str_printable(name);
	pol = parse_policy_dir_with(hostd->conf->policy_dir, hostd->conf,
	    name, text->len ? (const char *)text->data : "", text->len, err,
	    sizeof(err));
	if (!pol)
		return send_errors(c, m, EINVAL, "the policy has errors", err);
	snprintf(summary, sizeof(summary), "%u firewall rule%s, %u set%s, "
	    "%u prox%s, %u forwarding rule%s, with %s's other files",
	    pol->nrules, pol->nrules == 1 ? "" : "s", pol->nsets,
	    pol->nsets == 1 ? "" : "s", pol->nproxies,
	    pol->nproxies == 1 ? "y" : "ies", pol->nfwds,
	    pol->nfwds == 1 ? "" : "s", hostd->conf->policy_dir);
	policy_free(pol);
	vmn_buf_init(&b, c->txbuf, sizeof(c->txbuf));
	vmn_msg_begin(&b, m->hdr.type, VMN_F_REPLY, m->hdr.seq);
	vmn_put_str(&b, VMN_A_VALUE, summary);
	return vmn_conn_send_buf(c->conn, &b);
}

static int
ctl_msg_cb(struct vmn_conn *conn, const struct vmn_msg *m, void *arg)
{
	struct ctl_client *c = arg;

	if (!(m->hdr.flags & VMN_F_REQUEST))
		return -EPROTO;
	switch (m->hdr.type) {
	case VMN_MSG_CTL_STATUS:
		return send_status(c, m->hdr.seq);
	case VMN_MSG_CTL_VMS:
		return send_vms(c, m);
	case VMN_MSG_CTL_FORWARDS:
		return send_forwards(c, m->hdr.seq);
	case VMN_MSG_CTL_REGISTER:
		return do_register(c, m);
	case VMN_MSG_CTL_UNREGISTER:
		return do_unregister(c, m);
	case VMN_MSG_CTL_RELOAD:
		return do_reload(c, m);
	case VMN_MSG_CTL_FWD_ADD:
	case VMN_MSG_CTL_FWD_REMOVE:
		return do_forward(c, m);
	case VMN_MSG_CTL_MONITOR:
		return do_monitor(c, m);
	case VMN_MSG_CTL_POLICY:
		return do_policy(c, m);
	case VMN_MSG_CTL_POLICY_CHECK:
		return do_policy_check(c, m);
	default:
		return vmn_conn_send_error(c->conn, m->hdr.type, m->hdr.seq, EOPNOTSUPP,
		    "not a control request");
	}
}

static void
ctl_close_cb(struct vmn_conn *conn, int err, const char *why, void *arg)
{
	struct ctl_client *c = arg;

	events_unsubscribe(conn);
	LIST_REMOVE(c, entry);
	ctl.nclients--;
	vmn_conn_free(conn);
	free(c);
}

static void
ctl_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_client *c;
	int fd;

	if ((fd = vmn_accept(ctl.ev, NULL, NULL)) < 0)
		return;
	if (ctl.nclients >= CONTROL_MAX_CLIENTS ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->in_group = peer_in_group(fd, &cred);
	c->conn = vmn_conn_new(hostd->base, fd, "netctl", ctl_msg_cb,
	    ctl_close_cb, c);
	if (!c->conn) {
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&ctl.clients, c, entry);
	ctl.nclients++;
}

/* Is another host-netd answering on path? */
bool
control_in_use(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool used;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	strcpy(sun.sun_path, path);
	used = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return used;
}

int
control_listen(const char *path)
{
	char dir[VMN_PATH_MAX];
	struct group *gr;
	int fd, rc;

	if (strlen(path) >= sizeof(ctl.path))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	if ((rc = mkdir_p(dirname(dir), 0755)) < 0)
		return rc;
	if ((fd = vmn_listen_path(path, 16)) < 0)
		return fd;
	if ((gr = getgrnam(CONTROL_GROUP))) {
		ctl.gid = gr->gr_gid;
		if (chown(path, 0, gr->gr_gid) < 0)
			log_warn("chown %s", path);
	}
	strcpy(ctl.path, path);
	ctl.fd = fd;
	LIST_INIT(&ctl.clients);
	ctl.ev = event_new(hostd->base, fd, EV_READ | EV_PERSIST,
	    ctl_accept_cb, NULL);
	event_add(ctl.ev, NULL);
	return 0;
}

void
control_close(void)
{
	struct ctl_client *c;

	while ((c = LIST_FIRST(&ctl.clients))) {
		events_unsubscribe(c->conn);
		LIST_REMOVE(c, entry);
		vmn_conn_free(c->conn);
		free(c);
	}
	ctl.nclients = 0;
	if (ctl.ev) {
		vmn_accept_stop(ctl.ev);
		event_free(ctl.ev);
	}
	ctl.ev = NULL;
	if (ctl.fd >= 0) {
		close(ctl.fd);
		unlink(ctl.path);
	}
	ctl.fd = -1;
}
