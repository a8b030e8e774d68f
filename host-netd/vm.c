/*
 * vm.c - host-netd: a VM's life: identity, link, configuration generations
 *
 * Theory of operation
 *
 * A VM has an identity that outlives host-netd: its IPv4 subnet, its IPv6
 * /64 inside the host's ULA /48, its MAC and the host side's MAC. They are
 * chosen once (the subnet so that it collides with no host route) and
 * persisted in the state dir, so the guest keeps its address across
 * restarts of either side.
 *
 * Starting a VM creates its link (a veth into the guest's namespace or a
 * tap for QEMU) and listens on its channel. When its guest says HELLO on
 * the control channel, the VM's whole desired state goes out as a
 * configuration transaction with a new generation; the guest's reply moves
 * the VM to online or failed. Anything that changes the desired state (MTU
 * of the uplinks, the host's DNS, a reload) sends a new generation; one
 * transaction is in flight at a time and a change made meanwhile is sent
 * after the ack. Failures (a missing namespace, a guest that cannot apply)
 * are retried with backoff, and the reason is kept for netctl.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "host-netd.h"
#include "log.h"
#include "privsep.h"
#include "sysctl.h"

_Static_assert(PS_MAX_STATIC >= 2 * MAX_FORWARDS, "room for every forward");
_Static_assert(PS_MAX_RFWD >= VM_MAX_RFORWARDS, "room for reverse forwards");
_Static_assert(PS_NAME_MAX == VM_NAME_MAX, "names fit");

#define DEFAULT_MTU	1500
#define MAX_AVOID	(4096 + MAX_VMS)

static void retry_cb(evutil_socket_t fd, short what, void *arg);
static void commit_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* From the loop, not from the owner event that vm_free() frees. */
static void
owner_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	char *name = arg, why[64], err[256];
	struct vm *vm = vm_find(name);

	if (vm && vm->conf.registered) {
		snprintf(why, sizeof(why), "its owner, pid %d, exited",
		    (int)vm->conf.owner);
		hostd_unregister(name, 0, why, err, sizeof(err));
	}
	free(name);
}

static void
owner_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	struct timeval now = { 0, 0 };
	char *name;

	/* Without a pidfd: a 1 s poll that compares start times. */
	if (vm->owner_fd < 0 &&
	    process_start(vm->conf.owner) == vm->conf.owner_start)
		return;
	event_del(vm->owner_ev);
	if (!(name = strdup(vm->conf.name)) ||
	    event_base_once(hostd->base, -1, EV_TIMEOUT, owner_gone_cb, name,
	    &now) < 0)
		free(name);
}

/* A registered VM lasts as long as the process that registered it. */
static void
watch_owner(struct vm *vm)
{
	struct timeval second = { 1, 0 };

	vm->owner_fd = owner_pidfd(vm->conf.owner);
	if (vm->owner_fd >= 0) {
		vm->owner_ev = event_new(hostd->base, vm->owner_fd, EV_READ,
		    owner_cb, vm);
		if (vm->owner_ev)
			event_add(vm->owner_ev, NULL);
	} else {
		vm->owner_ev = event_new(hostd->base, -1, EV_PERSIST, owner_cb,
		    vm);
		if (vm->owner_ev)
			event_add(vm->owner_ev, &second);
	}
	if (!vm->owner_ev)
		fatalx("out of memory for vm %s", vm->conf.name);
}

static uint32_t last_id;	/* the engine's names for VMs, never reused */

struct vm *
vm_new(const struct vm_conf *vc)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		fatal("calloc");
	vm->conf = *vc;
	vm->listen_fd = -1;
	vm->netns_fd = -1;
	vm->port_slice = -1;
	vm->retry_ev = evtimer_new(hostd->base, retry_cb, vm);
	vm->commit_ev = evtimer_new(hostd->base, commit_timeout_cb, vm);
	vm->retry_ms = VM_RETRY_MIN_MS;
	vm->state = VM_S_DOWN;
	vm->state_since = time(NULL);
	if (!vm->retry_ev || !vm->commit_ev)
		fatalx("out of memory for vm %s", vm->conf.name);
	vm->id = ++last_id;
	engine_vm_new(vm);
	vm->owner_fd = -1;
	if (vc->registered && vc->owner > 0)
		watch_owner(vm);
	return vm;
}

void
vm_free(struct vm *vm)
{
	if (!vm)
		return;
	vm_stop(vm);
	mirror_vm_gone(vm);
	engine_vm_free(vm);
	if (vm->netns_fd >= 0)
		close(vm->netns_fd);
	event_free(vm->retry_ev);
	event_free(vm->commit_ev);
	if (vm->owner_ev)
		event_free(vm->owner_ev);
	if (vm->owner_fd >= 0)
		close(vm->owner_fd);
	free(vm);
}

struct vm *
vm_find(const char *name)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (strcmp(vm->conf.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *
vm_find_id(uint32_t id)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm->id == id)
			return vm;
	return NULL;
}

void
vm_set_state(struct vm *vm, enum vm_state s, const char *error)
{
	enum vm_state from = vm->state;

	/* error may be vm->error itself (a state kept with its reason). */
	if (error != vm->error)
		snprintf(vm->error, sizeof(vm->error), "%s",
		    error ? error : "");
	if (from == s)
		return;
	log_debug("vm %s: %s -> %s", vm->conf.name, vm_state_name(from),
	    vm_state_name(s));
	vm->state = s;
	vm->state_since = time(NULL);
	events_vm_state(vm, from);
}

static void
schedule_retry(struct vm *vm)
{
	struct timeval tv = { vm->retry_ms / 1000, (vm->retry_ms % 1000) * 1000 };

	evtimer_add(vm->retry_ev, &tv);
	vm->retry_ms = vm->retry_ms * 2 > VM_RETRY_MAX_MS ? VM_RETRY_MAX_MS :
	    vm->retry_ms * 2;
}

/* ---- addresses derived from the identity ----------------------------- */

void
vm_gateway4(const struct vm *vm, struct vmn_ip *ip)
{
	vmn_prefix_host(&vm->subnet4, 1, ip);
}

void
vm_guest4(const struct vm *vm, struct vmn_ip *ip)
{
	vmn_prefix_host(&vm->subnet4, 2, ip);
}

void
vm_gateway6(const struct vm *vm, struct vmn_ip *ip)
{
	vmn_prefix_host(&vm->subnet6, 1, ip);
}

void
vm_guest6(const struct vm *vm, struct vmn_ip *ip)
{
	vmn_prefix_host(&vm->subnet6, 2, ip);
}

/* ---- identity ------------------------------------------------------- */

static bool
mac_unset(const uint8_t *mac)
{
	static const uint8_t zero[VMN_MAC_LEN];

	return memcmp(mac, zero, VMN_MAC_LEN) == 0;
}

/*
 * Host routes plus every other VM's subnet: what a subnet must not touch.
 * Routes through the VM's own link are its own subnet, not a collision.
 */
static int
collect_avoid(const struct vm *self, struct vmn_prefix *avoid, size_t max)
{
	static int oifs[MAX_AVOID];
	const struct vm *vm;
	int i, n, kept = 0;

	n = hostlink_routes(&hostd->nl, avoid, oifs, max - MAX_VMS);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		if (self->ifindex <= 0 || oifs[i] != self->ifindex)
			avoid[kept++] = avoid[i];
	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm != self && vm->subnet4.ip.family)
			avoid[kept++] = vm->subnet4;
	return kept;
}

static int
pick_subnet4(struct vm *vm, char *err, size_t errlen)
{
	static struct vmn_prefix avoid[MAX_AVOID];
	const struct hostd_conf *c = hostd->conf;
	struct vmn_prefix old = vm->subnet4;
	char a[VMN_PREFIX_STRLEN], b[VMN_PREFIX_STRLEN];
	int n, rc;

	if ((n = collect_avoid(vm, avoid, MAX_AVOID)) < 0) {
		snprintf(err, errlen, "listing host routes: %s", strerror(-n));
		return n;
	}
	if (vm->conf.subnet4.ip.family) {
		if (subnet_collides(&vm->conf.subnet4, avoid, (size_t)n)) {
			snprintf(err, errlen, "configured subnet %s collides "
			    "with a host route or another VM",
			    vmn_prefix_ntop(&vm->conf.subnet4, a, sizeof(a)));
			return -EADDRINUSE;
		}
		vm->subnet4 = vm->conf.subnet4;
		return 0;
	}
	if (old.ip.family == AF_INET && old.plen == c->subnet_len4 &&
	    vmn_prefix_overlap(&old, &c->pool4) &&
	    !subnet_collides(&old, avoid, (size_t)n))
		return 0;	/* the remembered subnet is still free */
	rc = subnet_pick(&c->pool4, c->subnet_len4, avoid, (size_t)n,
	    name_hash(vm->conf.name), &vm->subnet4);
	if (rc < 0) {
		snprintf(err, errlen, "no free /%u in subnet-pool %s",
		    c->subnet_len4, vmn_prefix_ntop(&c->pool4, a, sizeof(a)));
		return rc;
	}
	if (old.ip.family)
		log_warnx("vm %s: subnet %s collides with the host's routes "
		    "or is outside subnet-pool now; moved to %s", vm->conf.name,
		    vmn_prefix_ntop(&old, a, sizeof(a)),
		    vmn_prefix_ntop(&vm->subnet4, b, sizeof(b)));
	return 0;
}

static void
pick_subnet6(struct vm *vm)
{
	const struct vm *o;
	uint32_t id;
	unsigned tries;

	if (!vm->conf.ipv6) {
		memset(&vm->subnet6, 0, sizeof(vm->subnet6));
		return;
	}
	if (vm->subnet6.ip.family == AF_INET6 &&
	    vmn_prefix_overlap(&vm->subnet6, &hostd->ula48)) {
		bool taken = false;

		TAILQ_FOREACH(o, &hostd->vms, entry)
			if (o != vm && o->subnet6.ip.family &&
			    vmn_prefix_overlap(&o->subnet6, &vm->subnet6))
				taken = true;
		if (!taken)
			return;
	}
	/* The /64's subnet ID comes from the name; probe past collisions. */
	id = name_hash(vm->conf.name) & 0xffff;
	for (tries = 0; tries < 0x10000; tries++, id = (id + 1) & 0xffff) {
		struct vmn_prefix cand = hostd->ula48;
		bool taken = false;

		cand.ip.u.b[6] = (uint8_t)(id >> 8);
		cand.ip.u.b[7] = (uint8_t)id;
		cand.plen = 64;
		TAILQ_FOREACH(o, &hostd->vms, entry)
			if (o != vm && o->subnet6.ip.family &&
			    vmn_prefix_overlap(&o->subnet6, &cand))
				taken = true;
		if (!taken) {
			vm->subnet6 = cand;
			return;
		}
	}
}

static int
vm_identity(struct vm *vm, char *err, size_t errlen)
{
	const char *dir = hostd->conf->state_dir;
	int rc;

	rc = state_load_vm(dir, vm);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("vm %s: state: %s; choosing a new identity",
		    vm->conf.name, strerror(-rc));
	if (mac_unset(vm->guest_mac))
		random_mac(vm->guest_mac);
	if (mac_unset(vm->host_mac))
		random_mac(vm->host_mac);
	if ((rc = pick_subnet4(vm, err, errlen)) < 0)
		return rc;
	pick_subnet6(vm);
	if ((rc = state_save_vm(dir, vm)) < 0)
		log_warnx("vm %s: cannot save state in %s: %s", vm->conf.name,
		    dir, strerror(-rc));
	return 0;
}

/* ---- the link ------------------------------------------------------- */

static uint32_t
wanted_mtu(const struct vm *vm)
{
	if (vm->conf.mode == VM_MODE_MIRRORED)
		return mirror_mtu(vm);
	if (vm->conf.mtu)
		return vm->conf.mtu;
	return hostd->uplinks.min_mtu ? hostd->uplinks.min_mtu : DEFAULT_MTU;
}

/* What a link needs before it is made: NAT's subnet, or the mirrored. */
static int
identity(struct vm *vm, char *err, size_t errlen)
{
	if (vm->conf.mode == VM_MODE_MIRRORED)
		return mirror_link_prepare(vm, err, errlen);
	return vm_identity(vm, err, errlen);
}

static int
link_up(struct vm *vm, char *err, size_t errlen)
{
	struct vmn_nl *nl = &hostd->nl;
	const char *what;
	int rc, adopt = 0;

	/* Our tap from before a restart, maybe with QEMU on it: keep it. */
	if (vm->conf.link == VM_LINK_TAP &&
	    (adopt = hostlink_find_tap(nl, vm)) > 0) {
		/* First: its routes are its own, not a collision. */
		vm->ifindex = adopt;
		if ((rc = identity(vm, err, errlen)) < 0) {
			vm->ifindex = 0;
			return rc;
		}
		vm->mtu = wanted_mtu(vm);
		log_info("vm %s: taking over tap %s%s", vm->conf.name,
		    vm->conf.host_ifname, hostlink_tap_in_use(nl, adopt) ?
		    " (its VM is running)" : "");
		if ((rc = hostlink_flush_addrs(nl, adopt)) < 0)
			log_warnx("vm %s: old addresses on %s: %s", vm->conf.name,
			    vm->conf.host_ifname, vmn_nl_strerror(nl, rc));
		goto configure;
	}
	rc = hostlink_remove_stale(nl, vm->conf.host_ifname, vm->conf.name);
	if (rc == -EEXIST) {
		snprintf(err, errlen, "interface %s exists and is not ours "
		    "(set host-ifname)", vm->conf.host_ifname);
		return rc;
	}
	if ((rc = identity(vm, err, errlen)) < 0)
		return rc;
	vm->mtu = wanted_mtu(vm);
	if (vm->conf.link == VM_LINK_VETH) {
		what = "creating veth into netns";
		rc = hostlink_create_veth(nl, vm, vm->mtu);
	} else {
		what = "creating tap";
		rc = hostlink_create_tap(nl, vm, vm->mtu);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: %s", what,
		    vm->conf.link == VM_LINK_VETH ? vm->conf.netns :
		    vm->conf.host_ifname, vmn_nl_strerror(nl, rc));
		return rc;
	}
	vm->ifindex = rc;
configure:
	if (vm->conf.mode == VM_MODE_MIRRORED)
		rc = mirror_links_up(vm, err, errlen);
	else if ((rc = hostlink_configure(nl, vm)) < 0)
		snprintf(err, errlen, "configuring %s: %s",
		    vm->conf.host_ifname, vmn_nl_strerror(nl, rc));
	if (rc < 0) {
		if (vm->conf.mode == VM_MODE_MIRRORED)
			mirror_links_down(vm);
		hostlink_delete(nl, vm->ifindex);
		vm->ifindex = 0;
		return rc;
	}
	return 0;
}

/*
 * Brings a VM up as far as it can go; on failure the reason is kept and
 * the attempt repeated with backoff. The caller re-applies the nftables
 * table afterwards.
 */
int
vm_start(struct vm *vm)
{
	char err[256] = "", a[VMN_PREFIX_STRLEN], b[VMN_PREFIX_STRLEN];
	char names[MIRROR_MAX_UPLINKS * 48];
	int rc;

	/*
	 * The engine acts on a guest's listeners as soon as they come: it
	 * has the VM's forwards (auto-forward, mirrored mode's shared ports)
	 * before the guest can reach it. Again below, with the link's
	 * addresses.
	 */
	vm_configure_forwards(vm);
	if (vm->listen_fd < 0 && vm->conf.channel.kind != VMN_TR_VSOCK &&
	    (rc = channel_listen(vm)) < 0) {
		snprintf(err, sizeof(err), "listening on its channel: %s",
		    strerror(-rc));
		goto fail;
	}
	if (vm->conf.mode == VM_MODE_MIRRORED && vm->ifindex <= 0) {
		if ((rc = link_up(vm, err, sizeof(err))) < 0)
			goto fail;
		log_info("vm %s: mirrors %s; its ports %u-%u", vm->conf.name,
		    mirror_uplink_names(vm, names, sizeof(names)),
		    vm->ports.lo, vm->ports.hi);
	}
	if (vm->conf.mode == VM_MODE_NAT && vm->ifindex <= 0) {
		if ((rc = link_up(vm, err, sizeof(err))) < 0)
			goto fail;
		log_info("vm %s: %s %s, subnet %s%s%s, mtu %u", vm->conf.name,
		    vm_link_name(vm->conf.link), vm->conf.host_ifname,
		    vmn_prefix_ntop(&vm->subnet4, a, sizeof(a)),
		    vm->subnet6.ip.family ? " and " : "",
		    vm->subnet6.ip.family ?
		    vmn_prefix_ntop(&vm->subnet6, b, sizeof(b)) : "", vm->mtu);
	}
	vm->retry_ms = VM_RETRY_MIN_MS;
	vm_configure_forwards(vm);
	vm_set_state(vm, vm->guest ? VM_S_CONFIGURING : VM_S_WAITING, NULL);
	vm_push_config(vm);
	return 0;
fail:
	log_warnx("vm %s: %s; retrying", vm->conf.name, err);
	vm_set_state(vm, VM_S_DOWN, err);
	schedule_retry(vm);
	return rc;
}

void
vm_stop(struct vm *vm)
{
	evtimer_del(vm->retry_ev);
	evtimer_del(vm->commit_ev);
	engine_vm_stop(vm);	/* its sessions end: a guest_gone follows */
	vm->guest = false;
	channel_unlisten(vm);
	if (vm->conf.mode == VM_MODE_MIRRORED)
		mirror_links_down(vm);
	if (vm->ifindex > 0) {
		/*
		 * host-netd stopping, or the VM restarted by a reload, while
		 * QEMU still has the tap: leave it, so that the VM keeps its
		 * NIC; whoever starts the VM next takes it over. Otherwise
		 * (the VM removed, its owner gone) it goes.
		 */
		if ((hostd->shutting_down || vm->keep_tap) &&
		    vm->conf.link == VM_LINK_TAP &&
		    hostlink_tap_in_use(&hostd->nl, vm->ifindex))
			log_info("vm %s: leaving tap %s to its running VM",
			    vm->conf.name, vm->conf.host_ifname);
		else
			hostlink_delete(&hostd->nl, vm->ifindex);
		vm->ifindex = 0;
	}
	vm->commit_pending = false;
	vm->dirty = false;
	vm_set_state(vm, VM_S_DOWN, NULL);
}

/* The host side of the link vanished (namespace deleted, ip link del). */
void
vm_link_lost(struct vm *vm)
{
	log_warnx("vm %s: link %s disappeared; recreating it", vm->conf.name,
	    vm->conf.host_ifname);
	if (vm->conf.mode == VM_MODE_MIRRORED)
		mirror_links_down(vm);
	vm->ifindex = 0;
	vm->commit_pending = false;
	vm_set_state(vm, VM_S_DOWN, "link disappeared");
	vm->retry_ms = VM_RETRY_MIN_MS;
	evtimer_del(vm->retry_ev);
	schedule_retry(vm);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	/* Not up yet (no link, or no channel listener): start again. */
	if ((vm->conf.mode == VM_MODE_NAT && vm->ifindex <= 0) ||
	    (vm->listen_fd < 0 && vm->conf.channel.kind != VMN_TR_VSOCK)) {
		if (vm_start(vm) == 0 && vms_apply_tables() < 0)
			log_warnx("vm %s: nftables table not updated",
			    vm->conf.name);
		return;
	}
	vm_push_config(vm);
}

/* ---- forwarding ----------------------------------------------------- */

/* One range of a forwarding rule; false when the VM has too many. */
static bool
add_rule(const struct vm *vm, struct hostfwd_policy *p,
    const struct policy_fwd *f, const struct policy_range *r)
{
	struct hostfwd_rule *h;

	if (p->nrules == HOSTFWD_MAX_RULES) {
		log_warnx("vm %s: more than %d forwarding rules' port ranges; "
		    "%s:%d and the rest are not used", vm->conf.name,
		    HOSTFWD_MAX_RULES, f->at.file, f->at.line);
		return false;
	}
	h = &p->rules[p->nrules++];
	h->ignore = f->ignore;
	h->protos = (uint8_t)((f->protos & POLICY_TCP ? HOSTFWD_TCP : 0) |
	    (f->protos & POLICY_UDP ? HOSTFWD_UDP : 0));
	h->lo = r->lo;
	h->hi = r->hi;
	/* A mirrored guest is on the host's addresses already. */
	if (vm->conf.mode != VM_MODE_MIRRORED)
		h->addr = f->addr;
	snprintf(h->where, sizeof(h->where), "%s:%d", f->at.file, f->at.line);
	return true;
}

/* policy(5)'s forwarding rules for vm, a port range each, in order. */
static void
forwarding_rules(const struct vm *vm, struct hostfwd_policy *p)
{
	const struct policy *pol = hostd->policy;
	const struct policy_set *set;
	unsigned i, j;

	for (i = 0; pol && i < pol->nfwds; i++) {
		const struct policy_fwd *f = &pol->fwds[i];

		if (!policy_scope_has(pol, f->scope, vm->conf.name))
			continue;
		for (j = 0; j < f->nports; j++)
			if (!add_rule(vm, p, f, &f->ports[j]))
				return;
		if (!f->port_set[0] || !(set = policy_find_set(pol,
		    f->port_set)))
			continue;
		for (j = 0; j < set->n; j++)
			if (!add_rule(vm, p, f, &set->ports[j]))
				return;
	}
}

/*
 * A VM's servers on every address are reached through its tap, in this
 * namespace, where NAT mode gives it addresses (forward-direct).
 */
static void
set_direct(const struct vm *vm, struct ps_vm_forwards *f)
{
	struct vmn_ip g4 = { 0 }, g6 = { 0 };

	if (vm->conf.forward_direct && vm->conf.mode == VM_MODE_NAT &&
	    vm->conf.link == VM_LINK_TAP && vm->ifindex > 0) {
		vm_guest4(vm, &g4);
		if (vm->subnet6.ip.family)
			vm_guest6(vm, &g6);
	}
	f->direct4 = g4;
	f->direct6 = g6;
}

static bool
is_loopback(const struct vmn_ip *ip)
{
	struct vmn_ip lo;

	vmn_ip_parse(ip->family == AF_INET6 ? "::1" : "127.0.0.1", &lo);
	return vmn_ip_equal(ip, &lo);
}

/*
 * Whether the engine may have addr:port bound for vm (0), or why not: on
 * loopback or an address its forwards or the policy's rules for it name;
 * below the host's unprivileged ports only a port a static forward or a
 * rule names, or any with auto-forward-privileged; shared with mirrored
 * mode's placeholders only for a mirrored VM.
 */
int
vm_may_bind(const struct vm *vm, const struct vmn_ip *addr, uint8_t proto,
    uint16_t port, bool reuseport, char *err, size_t errlen)
{
	static struct hostfwd_policy pol;
	bool addr_ok = is_loopback(addr), port_ok = vm->conf.auto_privileged ||
	    port >= vmn_unprivileged_port_start();
	const struct hostfwd_static *st;
	unsigned i, n = vm->conf.nforwards + vm->nrtforwards;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		snprintf(err, errlen, "protocol %u", proto);
		return -EPROTONOSUPPORT;
	}
	for (i = 0; i < n; i++) {
		st = i < vm->conf.nforwards ? &vm->conf.forwards[i] :
		    &vm->rtforwards[i - vm->conf.nforwards];
		addr_ok |= vmn_ip_equal(&st->addr, addr);
		port_ok |= st->host_port == port;
	}
	memset(&pol, 0, sizeof(pol));
	forwarding_rules(vm, &pol);
	for (i = 0; i < pol.nrules; i++) {
		addr_ok |= pol.rules[i].addr.family &&
		    vmn_ip_equal(&pol.rules[i].addr, addr);
		port_ok |= !pol.rules[i].ignore && pol.rules[i].lo <= port &&
		    port <= pol.rules[i].hi;
	}
	if (!addr_ok || !port_ok || (reuseport &&
	    vm->conf.mode != VM_MODE_MIRRORED)) {
		snprintf(err, errlen, "port %u: %s", port, !addr_ok ?
		    "an address none of its forwards has" : !port_ok ?
		    "below the host's unprivileged ports" :
		    "shared with mirrored mode's, not a mirrored VM");
		return -EPERM;
	}
	return 0;
}

/*
 * Static forwards (the block's, then netctl's), reverse forwards and
 * auto-forward.
 */
void
vm_configure_forwards(struct vm *vm)
{
	static struct ps_vm_forwards f;
	unsigned n = vm->conf.nforwards;

	memset(&f, 0, sizeof(f));
	memcpy(f.statics, vm->conf.forwards, n * sizeof(f.statics[0]));
	memcpy(f.statics + n, vm->rtforwards,
	    vm->nrtforwards * sizeof(f.statics[0]));
	f.nstatic = n + vm->nrtforwards;
	f.policy.auto_privileged = vm->conf.auto_privileged;
	f.policy.mirrored = vm->conf.mode == VM_MODE_MIRRORED;
	forwarding_rules(vm, &f.policy);
	set_direct(vm, &f);
	f.nrfwd = vm_rforwards(vm, f.rfwds);
	f.auto_forward = vm->conf.auto_forward;
	engine_vm_forwards(vm, &f);
}

/*
 * The reverse forwards: the configuration's, and those a proxy on the
 * host's loopback needs (a port the configuration has is not repeated).
 */
unsigned
vm_rforwards(const struct vm *vm, struct hostfwd_rfwd *rv)
{
	struct vm_proxy vp;
	unsigned i, j, n = vm->conf.nrforwards;

	memcpy(rv, vm->conf.rforwards, n * sizeof(*rv));
	proxy_for_vm(vm, &vp);
	for (i = 0; i < vp.nrfwds; i++) {
		for (j = 0; j < vm->conf.nrforwards; j++)
			if (rv[j].guest_port == vp.rfwds[i].guest_port)
				break;
		if (j == vm->conf.nrforwards)
			rv[n++] = vp.rfwds[i];
	}
	return n;
}

/* ---- configuration -------------------------------------------------- */

/* One family on the guest's link: address, gateway's MAC pinned, default. */
static void
add_family(struct vmn_netconf *nc, const char *ifname,
    const struct vmn_prefix *subnet, const struct vmn_ip *guest,
    const struct vmn_ip *gw, const uint8_t *gw_mac)
{
	struct vmn_nc_addr *a = &nc->addrs[nc->naddrs++];
	struct vmn_nc_neigh *n = &nc->neighs[nc->nneighs++];
	struct vmn_nc_route *r = &nc->routes[nc->nroutes++];

	snprintf(a->ifname, IFNAMSIZ, "%s", ifname);
	a->pfx.ip = *guest;
	a->pfx.plen = subnet->plen;
	snprintf(n->ifname, IFNAMSIZ, "%s", ifname);
	n->ip = *gw;
	memcpy(n->lladdr, gw_mac, VMN_MAC_LEN);
	snprintf(r->ifname, IFNAMSIZ, "%s", ifname);
	r->dst.ip.family = gw->family;	/* the default route */
	r->gw = *gw;
}

void
vm_build_netconf(const struct vm *vm, struct vmn_netconf *nc)
{
	/* Static IPv6: no RA, SLAAC or DAD to wait for. */
	static const char *const ipv6_off[] = {
		"accept_ra", "autoconf", "accept_dad" };
	const char *ifname = vm->conf.guest_ifname;
	const struct hostdns *dns = &hostd->dns;
	struct hostfwd_rfwd rv[VM_MAX_RFORWARDS];
	struct vm_proxy vp;
	struct vmn_ip guest, gw;
	unsigned i, nrv;

	vmn_netconf_reset(nc, vm->gen);
	if (vm->conf.mode == VM_MODE_MIRRORED)
		mirror_build_netconf(vm, nc);
	if (vm->conf.mode == VM_MODE_NAT) {
		struct vmn_nc_link *l = &nc->links[nc->nlinks++];

		snprintf(l->name, sizeof(l->name), "%s", ifname);
		memcpy(l->mac, vm->guest_mac, VMN_MAC_LEN);
		l->mtu = vm->mtu;

		vm_guest4(vm, &guest);
		vm_gateway4(vm, &gw);
		add_family(nc, ifname, &vm->subnet4, &guest, &gw, vm->host_mac);
		if (vm->subnet6.ip.family) {
			for (i = 0; i < 3; i++) {
				vmn_sysctl_link_name(nc->sysctls[i].name,
				    sizeof(nc->sysctls[i].name), "ipv6", ifname,
				    ipv6_off[i]);
				strcpy(nc->sysctls[i].value, "0");
			}
			nc->nsysctls = 3;
			vm_guest6(vm, &guest);
			vm_gateway6(vm, &gw);
			add_family(nc, ifname, &vm->subnet6, &guest, &gw,
			    vm->host_mac);
		}
	}
	if (vm->conf.dns == DNS_MODE_TUNNEL) {
		/* One resolver on the guest's lo, answering through us. */
		struct vmn_nc_addr *a = &nc->addrs[nc->naddrs++];

		strcpy(a->ifname, "lo");
		a->pfx.ip = hostd->conf->dns_tunnel_addr;
		a->pfx.plen = (uint8_t)(vmn_ip_len(a->pfx.ip.family) * 8);
		nc->dns.present = true;
		nc->dns.tunnel = true;
		nc->dns.nservers = 1;
		nc->dns.servers[0] = a->pfx.ip;
	} else if (vm->conf.dns == DNS_MODE_HOST) {
		nc->dns.present = true;
		nc->dns.nservers = dns->nservers;
		for (i = 0; i < dns->nservers; i++)
			nc->dns.servers[i] = dns->servers[i];
	}
	/* Reverse forwards: the guest listens, the host connects. */
	nrv = vm_rforwards(vm, rv);
	for (i = 0; i < nrv && i < VMN_NC_MAX_RFWDS; i++) {
		nc->rfwds[i].proto = rv[i].proto;
		nc->rfwds[i].port = rv[i].port;
		nc->rfwds[i].guest_port = rv[i].guest_port;
		nc->nrfwds++;
	}
	proxy_for_vm(vm, &vp);
	nc->proxy = vp.nc;
	if (nc->dns.present) {
		nc->dns.nsearch = dns->nsearch;
		for (i = 0; i < dns->nsearch; i++)
			snprintf(nc->dns.search[i], VMN_NC_DOMAIN_MAX, "%s",
			    dns->search[i]);
		snprintf(nc->dns.options, sizeof(nc->dns.options), "%s",
		    dns->options);
	}
}

/* Sends the VM's desired state as a new generation, if it can go now. */
void
vm_push_config(struct vm *vm)
{
	static struct vmn_netconf nc;
	int rc;

	if (!vm->guest || (vm->conf.mode == VM_MODE_NAT && vm->ifindex <= 0))
		return;
	if (vm->commit_pending) {
		vm->dirty = true;	/* after the ack of the one in flight */
		return;
	}
	evtimer_del(vm->retry_ev);
	vm->gen++;
	vm_build_netconf(vm, &nc);
	vm->proxy_pushed = nc.proxy.http[0] || nc.proxy.https[0] ||
	    nc.proxy.pac[0] || nc.proxy.no_proxy[0];
	if ((rc = engine_push_config(vm, vm->gen, &nc)) < 0) {
		log_warnx("vm %s: cannot send configuration: %s",
		    vm->conf.name, strerror(-rc));
		return;
	}
	vm->commit_pending = true;
	vm->dirty = false;
	{
		struct timeval tv = { COMMIT_TIMEOUT_MS / 1000,
		    (COMMIT_TIMEOUT_MS % 1000) * 1000 };

		evtimer_add(vm->commit_ev, &tv);
	}
	log_debug("vm %s: sent configuration %u", vm->conf.name, vm->gen);
	if (vm->state != VM_S_FAILED)
		vm_set_state(vm, VM_S_CONFIGURING, NULL);
}

/*
 * A guest that never answers would hold every later change back; it is
 * broken or hostile, so its session goes (a working guest reconnects and
 * gets the whole state again).
 */
static void
commit_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (!vm->commit_pending || !vm->guest)
		return;
	log_warnx("vm %s: no answer to configuration %u within %d s; "
	    "dropping its session", vm->conf.name, vm->gen,
	    COMMIT_TIMEOUT_MS / 1000);
	vm_set_state(vm, VM_S_FAILED, "guest did not answer its configuration");
	events_config(vm, vm->gen, "the guest did not answer");
	engine_drop_control(vm);
}

void
vm_config_acked(struct vm *vm, uint32_t gen)
{
	char a[VMN_IP_STRLEN];
	struct vmn_ip ip;

	evtimer_del(vm->commit_ev);
	vm->commit_pending = false;
	vm->gen_applied = gen;
	vm->retry_ms = VM_RETRY_MIN_MS;
	if (!vm->announced) {
		vm_guest4(vm, &ip);
		log_info("vm %s: online at %s (configuration %u)",
		    vm->conf.name, vm->conf.mode == VM_MODE_NAT ?
		    vmn_ip_ntop(&ip, a, sizeof(a)) : "-", gen);
		vm->announced = true;
	} else {
		log_debug("vm %s: configuration %u applied", vm->conf.name, gen);
	}
	events_config(vm, gen, NULL);
	vm_set_state(vm, VM_S_ONLINE, NULL);
	if (vm->dirty || gen != vm->gen)
		vm_push_config(vm);
}

void
vm_config_failed(struct vm *vm, int err, const char *msg)
{
	char text[256];

	evtimer_del(vm->commit_ev);
	vm->commit_pending = false;
	snprintf(text, sizeof(text), "guest could not apply configuration "
	    "%u: %s", vm->gen, msg && *msg ? msg : strerror(err));
	log_warnx("vm %s: %s", vm->conf.name, text);
	events_config(vm, vm->gen, msg && *msg ? msg : strerror(err));
	vm_set_state(vm, VM_S_FAILED, text);
	schedule_retry(vm);
}

/* The uplinks' MTU may have changed: follow it on every automatic VM. */
void
vms_update_mtu(void)
{
	struct vm *vm;
	uint32_t mtu;
	int rc;

	if ((rc = hostlink_uplinks(&hostd->nl, hostd->conf, &hostd->uplinks)) < 0) {
		log_warnx("listing uplinks: %s", strerror(-rc));
		return;
	}
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (vm->ifindex <= 0 || (mtu = wanted_mtu(vm)) == vm->mtu)
			continue;
		log_info("vm %s: mtu %u -> %u%s", vm->conf.name, vm->mtu, mtu,
		    vm->conf.mtu ? "" : " (following the uplinks)");
		if ((rc = hostlink_set_mtu(&hostd->nl, vm->ifindex, mtu)) < 0)
			log_warnx("vm %s: setting mtu %u on %s: %s",
			    vm->conf.name, mtu, vm->conf.host_ifname,
			    vmn_nl_strerror(&hostd->nl, rc));
		vm->mtu = mtu;
		vm_push_config(vm);
	}
}

/*
 * host-netd's nftables tables, after the VMs changed: NAT's, whose
 * masquerading keeps clear of mirrored guests' ports, and the steering.
 */
int
vms_apply_tables(void)
{
	struct port_range masq;
	int rc;

	if ((rc = nat_apply(&hostd->vms, mirror_masquerade_range(&masq) ?
	    &masq : NULL, hostd->policy)) < 0)
		return rc;
	return mirror_apply();
}

int
vms_remove_tables(void)
{
	int rc = mirror_remove();

	if (nat_remove() < 0)
		rc = -EIO;
	return rc;
}

void
vms_push_all(void)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		vm_push_config(vm);
}

/* The host's proxy settings changed: reverse forwards, then the guests. */
void
vms_proxy_changed(void)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		vm_configure_forwards(vm);
		vm_push_config(vm);
	}
}
