/*
 * mirror.c - host-netd: mirrored VMs on the host's own addresses
 *
 * Theory of operation
 *
 * A mirrored VM mirrors one of the host's uplinks (the first the host has:
 * the configured ones, or else the interfaces with a default route). Its
 * link (a veth into its namespace, or a tap for QEMU) carries the uplink's
 * MAC on the guest's side and no address on the host's; the guest gets the
 * uplink's MTU, addresses and routes (mirrored/hostview.c) and a slice of
 * the host's ephemeral ports (mirrored/ports.c) as its own
 * ip_local_port_range, which the host reserves. The steering table
 * (mirrored/steer.c) moves frames between the uplink and the guest's link
 * in the kernel.
 *
 * Following the host: the monitor calls mirror_host_changed() after any
 * change of links, addresses or routes (debounced): each VM's uplink is
 * read again and, when it changed, its guest gets a new configuration and
 * the steering is rendered again. An uplink that goes down takes the
 * host's side of the guest's link down, and the guest sees no carrier.
 *
 * Ports the guest listens on (on a wildcard address or the mirrored one,
 * as guest-netd reports them) are held on the host, so that no host
 * program takes them, and steered to the guest when the VM's inbound is
 * allow. A port the host already uses is not: that is reported with who
 * holds it, and the host keeps it.
 *
 * What host-netd added to ip_local_reserved_ports is remembered in the
 * state dir, so that a host-netd killed with -9 is followed by one that
 * takes out exactly that: nothing stale, nothing of the administrator's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>

#include "host-netd.h"
#include "holder.h"
#include "hostview.h"
#include "log.h"
#include "steer.h"
#include "sysctl.h"

#define RESERVED_PORTS	"/proc/sys/net/ipv4/ip_local_reserved_ports"
#define PORT_RANGE	"/proc/sys/net/ipv4/ip_local_port_range"

/* A guest port held on the host (see mirror_listener). */
struct mirror_hold {
	uint8_t		proto;
	uint16_t	port;
	int		fd4, fd6;
	char		conflict[128];	/* empty: held */
};

static struct {
	struct port_ranges	ours;		/* what we reserved */
	bool			loaded;		/* ours read from the state dir */
	bool			table;		/* our steering table is there */
} M;

static bool
mirrored(const struct vm *vm)
{
	return vm->conf.mode == VM_MODE_MIRRORED;
}

/* The uplink a mirrored VM is to mirror now, or NULL. */
static const char *
pick_uplink(void)
{
	return hostd->uplinks.n ? hostd->uplinks.name[0] : NULL;
}

static int
ephemeral_range(uint16_t *lo, uint16_t *hi)
{
	char buf[64];
	unsigned a, b;
	int rc;

	if ((rc = vmn_sysctl_read(PORT_RANGE, buf, sizeof(buf))) < 0)
		return rc;
	if (sscanf(buf, "%u %u", &a, &b) != 2 || a > b || b > 65535)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static bool
slice_taken(const struct vm *self, int k)
{
	const struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm != self && mirrored(vm) && vm->ifindex > 0 &&
		    vm->port_slice == k)
			return true;
	return false;
}

/* Its remembered slice when free, else the first free one. */
static int
assign_slice(struct vm *vm, char *err, size_t errlen)
{
	uint16_t lo, hi;
	int k, rc;

	if ((rc = ephemeral_range(&lo, &hi)) < 0) {
		snprintf(err, errlen, "reading %s: %s", PORT_RANGE,
		    strerror(-rc));
		return rc;
	}
	if (vm->port_slice < 0 || slice_taken(vm, vm->port_slice) ||
	    ports_slice(lo, hi, PORTS_SLICE_SIZE, (unsigned)vm->port_slice,
	    &vm->ports) < 0) {
		for (k = 0; ; k++) {
			if (slice_taken(vm, k))
				continue;
			if (ports_slice(lo, hi, PORTS_SLICE_SIZE, (unsigned)k,
			    &vm->ports) < 0) {
				snprintf(err, errlen, "no slice of %d ports "
				    "left in the host's ephemeral range %u-%u",
				    PORTS_SLICE_SIZE, lo, hi);
				return -ENOSPC;
			}
			vm->port_slice = k;
			break;
		}
	}
	return 0;
}

/*
 * Before its link is made: the uplink it mirrors, whose MAC its guest
 * gets, and its slice; its identity (MACs, a NAT subnet from before) kept.
 */
int
mirror_link_prepare(struct vm *vm, char *err, size_t errlen)
{
	const char *dir = hostd->conf->state_dir;
	const char *uplink = pick_uplink();
	int rc;

	if (!uplink) {
		snprintf(err, errlen, "no uplink to mirror (no interface "
		    "carries a default route; name one with uplink)");
		return -ENETDOWN;
	}
	if (!vm->mview && !(vm->mview = calloc(1, sizeof(*vm->mview))))
		return -ENOMEM;
	if ((rc = mirror_view_read(&hostd->nl, uplink, vm->mview)) < 0) {
		snprintf(err, errlen, "reading uplink %s: %s", uplink,
		    strerror(-rc));
		return rc;
	}
	if (vm->mview->index == 0) {
		snprintf(err, errlen, "uplink %s is gone", uplink);
		return -ENODEV;
	}
	rc = state_load_vm(dir, vm);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("vm %s: state: %s", vm->conf.name, strerror(-rc));
	if ((rc = assign_slice(vm, err, errlen)) < 0)
		return rc;
	memcpy(vm->guest_mac, vm->mview->mac, VMN_MAC_LEN);
	if (vm->host_mac[0] == 0 && vm->host_mac[1] == 0 &&
	    vm->host_mac[2] == 0) {
		/* Locally administered, unicast: 02:xx:... */
		arc4random_buf(vm->host_mac, VMN_MAC_LEN);
		vm->host_mac[0] = (uint8_t)((vm->host_mac[0] & 0xfc) | 0x02);
	}
	if ((rc = state_save_vm(dir, vm)) < 0)
		log_warnx("vm %s: cannot save state: %s", vm->conf.name,
		    strerror(-rc));
	return 0;
}

const char *
mirror_uplink_name(const struct vm *vm)
{
	return vm->mview ? vm->mview->name : "-";
}

uint32_t
mirror_mtu(const struct vm *vm)
{
	return vm->mview && vm->mview->mtu ? vm->mview->mtu : 1500;
}

/* The uplink as the guest sees it: link, addresses, routes, its ports. */
void
mirror_build_netconf(const struct vm *vm, struct vmn_netconf *nc)
{
	static const char *const ipv6_off[] = {
		"accept_ra", "autoconf", "accept_dad" };
	const struct mirror_view *v = vm->mview;
	const char *ifname;
	struct vmn_nc_link *l;
	unsigned i;

	if (!v || v->index == 0)
		return;
	ifname = vm->conf.guest_ifname[0] ? vm->conf.guest_ifname : v->name;
	l = &nc->links[nc->nlinks++];
	snprintf(l->name, sizeof(l->name), "%s", ifname);
	memcpy(l->mac, v->mac, VMN_MAC_LEN);
	l->mtu = v->mtu;
	for (i = 0; i < v->naddrs && nc->naddrs < VMN_NC_MAX_ADDRS - 1; i++) {
		if (v->addrs[i].ip.family == AF_INET6 && !vm->conf.ipv6)
			continue;
		snprintf(nc->addrs[nc->naddrs].ifname, IFNAMSIZ, "%s", ifname);
		nc->addrs[nc->naddrs++].pfx = v->addrs[i];
	}
	for (i = 0; i < v->nroutes && nc->nroutes < VMN_NC_MAX_ROUTES; i++) {
		struct vmn_nc_route *r = &nc->routes[nc->nroutes];

		if (v->routes[i].dst.ip.family == AF_INET6 && !vm->conf.ipv6)
			continue;
		snprintf(r->ifname, IFNAMSIZ, "%s", ifname);
		r->dst = v->routes[i].dst;
		r->gw = v->routes[i].gw;
		r->metric = v->routes[i].metric;
		nc->nroutes++;
	}
	/* IPv6 is pushed: no RA, SLAAC, DAD, nor a link-local of its own. */
	for (i = 0; i < 3; i++) {
		vmn_sysctl_link_name(nc->sysctls[nc->nsysctls].name,
		    sizeof(nc->sysctls[0].name), "ipv6", ifname, ipv6_off[i]);
		strcpy(nc->sysctls[nc->nsysctls++].value, "0");
	}
	vmn_sysctl_link_name(nc->sysctls[nc->nsysctls].name,
	    sizeof(nc->sysctls[0].name), "ipv6", ifname, "addr_gen_mode");
	strcpy(nc->sysctls[nc->nsysctls++].value, "1");
	if (!vm->conf.ipv6) {
		vmn_sysctl_link_name(nc->sysctls[nc->nsysctls].name,
		    sizeof(nc->sysctls[0].name), "ipv6", ifname,
		    "disable_ipv6");
		strcpy(nc->sysctls[nc->nsysctls++].value, "1");
	}
	/* Its containers' connections are masqueraded into the slice too. */
	nc->snat.present = true;
	snprintf(nc->snat.ifname, sizeof(nc->snat.ifname), "%s", ifname);
	nc->snat.lo = vm->ports.lo;
	nc->snat.hi = vm->ports.hi;
	/* Its own connections take their ports from its slice only. */
	snprintf(nc->sysctls[nc->nsysctls].name, sizeof(nc->sysctls[0].name),
	    "net.ipv4.ip_local_port_range");
	snprintf(nc->sysctls[nc->nsysctls++].value, sizeof(nc->sysctls[0].value),
	    "%u %u", vm->ports.lo, vm->ports.hi);
}

/* For netctl: the guest's MAC, addresses and gateways: the uplink's. */
void
mirror_put_addresses(struct vmn_buf *b, const struct vm *vm)
{
	const struct mirror_view *v = vm->mview;
	bool a4 = false, a6 = false, g4 = false, g6 = false;
	unsigned i;

	vmn_put(b, VMN_A_MAC, vm->guest_mac, VMN_MAC_LEN);
	for (i = 0; v && i < v->naddrs; i++) {
		if (v->addrs[i].ip.family == AF_INET && !a4) {
			vmn_put_ip(b, VMN_A_ADDR, &v->addrs[i].ip);
			vmn_put_u8(b, VMN_A_PREFIXLEN, v->addrs[i].plen);
			a4 = true;
		} else if (v->addrs[i].ip.family == AF_INET6 && !a6 &&
		    vm->conf.ipv6) {
			vmn_put_ip(b, VMN_A_ADDR6, &v->addrs[i].ip);
			a6 = true;
		}
	}
	for (i = 0; v && i < v->nroutes; i++) {
		const struct mirror_route *r = &v->routes[i];

		if (r->dst.plen != 0 || !r->gw.family)
			continue;
		if (r->gw.family == AF_INET && !g4) {
			vmn_put_ip(b, VMN_A_GATEWAY, &r->gw);
			g4 = true;
		} else if (r->gw.family == AF_INET6 && !g6 && vm->conf.ipv6) {
			vmn_put_ip(b, VMN_A_GATEWAY6, &r->gw);
			g6 = true;
		}
	}
}

/* ---- the steering table and the reserved ports ------------------------ */

static void
fill_guest(const struct vm *vm, struct steer_guest *g)
{
	const struct mirror_view *v = vm->mview;
	unsigned i;

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", vm->conf.name);
	snprintf(g->link, sizeof(g->link), "%s", vm->conf.host_ifname);
	snprintf(g->uplink, sizeof(g->uplink), "%s", v->name);
	memcpy(g->mac, v->mac, sizeof(g->mac));
	g->slice_lo = vm->ports.lo;
	g->slice_hi = vm->ports.hi;
	/* The LAN reaches its servers when allowed, and the host let go. */
	for (i = 0; vm->conf.inbound && i < vm->nholds; i++) {
		const struct mirror_hold *h = &vm->holds[i];

		if (h->conflict[0])
			continue;
		if (h->proto == IPPROTO_TCP && g->ntcp < STEER_MAX_PORTS)
			g->tcp[g->ntcp++] = h->port;
		else if (h->proto == IPPROTO_UDP && g->nudp < STEER_MAX_PORTS)
			g->udp[g->nudp++] = h->port;
	}
	for (i = 0; i < v->naddrs && g->naddrs < STEER_MAX_ADDRS; i++)
		if (v->addrs[i].ip.family == AF_INET || vm->conf.ipv6)
			g->addrs[g->naddrs++] = v->addrs[i].ip;
}

static int
reserve_ports(const struct port_ranges *want)
{
	struct port_ranges cur, result, ours;
	char buf[2048];
	int rc;

	if (!M.loaded) {
		if ((rc = state_load_reserved(hostd->conf->state_dir,
		    &M.ours)) < 0)
			log_warnx("reserved ports in %s: %s",
			    hostd->conf->state_dir, strerror(-rc));
		M.loaded = true;
	}
	if ((rc = vmn_sysctl_read(RESERVED_PORTS, buf, sizeof(buf))) < 0 ||
	    (rc = ports_parse(buf, &cur)) < 0)
		return rc;
	ports_reserve_merge(&cur, &M.ours, want, &result, &ours);
	if ((rc = ports_format(&result, buf, sizeof(buf))) < 0)
		return rc;
	/* An empty write changes nothing; a lone newline clears the list. */
	if ((rc = vmn_sysctl_write(RESERVED_PORTS, buf[0] ? buf : "\n")) < 0)
		return rc;
	M.ours = ours;
	if ((rc = state_save_reserved(hostd->conf->state_dir, &M.ours)) < 0)
		log_warnx("cannot remember the reserved ports: %s",
		    strerror(-rc));
	return 0;
}

/* The steering table and the reservations, for every mirrored VM. */
int
mirror_apply(void)
{
	static struct steer_guest g[MAX_VMS];
	static char buf[256 * 1024];
	struct port_ranges want = { 0 };
	struct vm *vm;
	unsigned n = 0;
	int rc, err = 0;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (!mirrored(vm) || vm->ifindex <= 0 || !vm->mview ||
		    vm->mview->index == 0 || n >= MAX_VMS)
			continue;
		fill_guest(vm, &g[n++]);
		ports_add(&want, vm->ports.lo, vm->ports.hi);
	}
	if (n == 0 && !M.table && M.ours.n == 0 && M.loaded)
		return 0;	/* nothing of ours, then or now */
	if ((rc = reserve_ports(&want)) < 0) {
		log_warnx("net.ipv4.ip_local_reserved_ports: %s",
		    strerror(-rc));
		err = rc;
	}
	if ((rc = steer_render(g, n, buf, sizeof(buf))) < 0)
		return rc;
	log_debug("mirrored steering:\n%s", buf);
	if ((rc = nft_run(buf, false)) < 0)
		return rc;
	M.table = n > 0;
	return err;
}

/* SIGTERM: the table and every port we reserved go. */
int
mirror_remove(void)
{
	struct port_ranges none = { 0 };
	char buf[256];
	int rc = 0;

	if (steer_render_delete(buf, sizeof(buf)) < 0 ||
	    nft_run(buf, true) < 0)
		rc = -EIO;
	M.table = false;
	if (M.loaded || M.ours.n) {
		if (reserve_ports(&none) < 0)
			rc = -EIO;
	}
	return rc;
}

/*
 * The ports NAT VMs' connections may leave from while mirrored slices are
 * taken: the host's ephemeral range below the lowest slice (slices are cut
 * from its top). False when no mirrored VM runs: masquerade as it likes.
 */
bool
mirror_masquerade_range(struct port_range *r)
{
	const struct vm *vm;
	uint16_t lo, hi, low = 0;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (mirrored(vm) && vm->ifindex > 0 &&
		    (low == 0 || vm->ports.lo < low))
			low = vm->ports.lo;
	if (low == 0 || ephemeral_range(&lo, &hi) < 0 || low <= lo)
		return false;
	r->lo = lo;
	r->hi = (uint16_t)(low - 1);
	return true;
}

/* ---- following the host ------------------------------------------------ */

static void
set_link_up(struct vm *vm, bool up)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
	    .ifi_index = vm->ifindex, .ifi_change = IFF_UP,
	    .ifi_flags = up ? IFF_UP : 0 };
	int rc;

	rc = vmn_nl_request(&hostd->nl, vmn_nl_new(&hostd->nl, RTM_NEWLINK, 0,
	    &ifi, sizeof(ifi)));
	if (rc < 0)
		log_warnx("vm %s: %s %s: %s", vm->conf.name, up ? "up" : "down",
		    vm->conf.host_ifname, vmn_nl_strerror(&hostd->nl, rc));
}

static bool
is_uplink(const char *name)
{
	unsigned i;

	for (i = 0; i < hostd->uplinks.n; i++)
		if (strcmp(hostd->uplinks.name[i], name) == 0)
			return true;
	return false;
}

/*
 * The host moved on to another uplink (a VPN or a second network took
 * the default route): a namespace guest gets a new link, with the new
 * uplink's MAC. A VM keeps the NIC it booted with, whose MAC is fixed.
 */
static bool
follow_uplink(struct vm *vm)
{
	const char *want = pick_uplink();
	int rc;

	if (!want || is_uplink(vm->mview->name))
		return false;
	if (vm->conf.link != VM_LINK_VETH) {
		log_warnx("vm %s: the host's uplink is now %s, not %s; a VM "
		    "keeps the NIC it booted with: restart it to follow",
		    vm->conf.name, want, vm->mview->name);
		return false;
	}
	log_info("vm %s: the host's uplink is now %s, not %s: following",
	    vm->conf.name, want, vm->mview->name);
	if ((rc = hostlink_delete(&hostd->nl, vm->ifindex)) < 0)
		log_warnx("vm %s: deleting %s: %s", vm->conf.name,
		    vm->conf.host_ifname, vmn_nl_strerror(&hostd->nl, rc));
	vm->ifindex = 0;
	vm->commit_pending = false;
	vm_start(vm);
	return true;
}

/* After the host's links, addresses or routes changed. */
void
mirror_host_changed(void)
{
	struct mirror_view now;
	struct vm *vm;
	bool changed = false;
	int rc;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (!mirrored(vm) || vm->ifindex <= 0 || !vm->mview)
			continue;
		if (follow_uplink(vm)) {
			changed = true;
			continue;
		}
		if ((rc = mirror_view_read(&hostd->nl, vm->mview->name,
		    &now)) < 0) {
			log_warnx("vm %s: reading uplink %s: %s", vm->conf.name,
			    vm->mview->name, strerror(-rc));
			continue;
		}
		if (mirror_view_equal(&now, vm->mview))
			continue;
		if (now.index == 0 || memcmp(now.mac, vm->mview->mac, 6)) {
			/* Gone, or another MAC: the guest's link is wrong. */
			log_info("vm %s: uplink %s %s; starting again",
			    vm->conf.name, vm->mview->name,
			    now.index ? "changed its MAC" : "is gone");
			vm_link_lost(vm);
			changed = true;
			continue;
		}
		if (now.up != vm->mview->up) {
			log_info("vm %s: uplink %s is %s", vm->conf.name,
			    now.name, now.up ? "up" : "down");
			set_link_up(vm, now.up);
		}
		if (now.mtu != vm->mview->mtu &&
		    (rc = hostlink_set_mtu(&hostd->nl, vm->ifindex,
		    now.mtu)) < 0)
			log_warnx("vm %s: mtu %u: %s", vm->conf.name, now.mtu,
			    vmn_nl_strerror(&hostd->nl, rc));
		if (now.dropped && !vm->mview->dropped)
			log_warnx("vm %s: uplink %s has more addresses or "
			    "routes than a guest gets (%d, %d); %u left out",
			    vm->conf.name, now.name, MIRROR_MAX_ADDRS,
			    MIRROR_MAX_ROUTES, now.dropped);
		*vm->mview = now;
		vm->mtu = now.mtu;
		vm_push_config(vm);
		changed = true;
	}
	if (changed && mirror_apply() < 0)
		log_warnx("mirrored steering not updated");
}

/* ---- the guest's servers ------------------------------------------------ */

/*
 * A port the guest listens on beyond its loopback is held on the host's
 * wildcard (both families), so that no host program takes it: a bound
 * socket with SO_REUSEPORT, which only host-netd's own forwarder of the
 * port shares (the host's programs are refused, as a port in use). When
 * the host has it already, the guest does not get it: reported, with who
 * holds it.
 */

static int
hold_socket(int family, uint8_t proto, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	}
	fd = socket(family, (proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void
hold_release(struct mirror_hold *h)
{
	if (h->fd4 >= 0)
		close(h->fd4);
	if (h->fd6 >= 0)
		close(h->fd6);
	h->fd4 = h->fd6 = -1;
}

/* Another mirrored VM's hold of the port, if any. */
static const struct vm *
held_by_other(const struct vm *self, uint8_t proto, uint16_t port)
{
	const struct vm *vm;
	unsigned i;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		for (i = 0; vm != self && i < vm->nholds; i++)
			if (vm->holds[i].proto == proto &&
			    vm->holds[i].port == port &&
			    !vm->holds[i].conflict[0])
				return vm;
	return NULL;
}

static void
hold_take(struct vm *vm, struct mirror_hold *h)
{
	const struct vm *other;
	char who[96];
	int fd;

	h->fd4 = h->fd6 = -1;
	h->conflict[0] = '\0';
	if ((other = held_by_other(vm, h->proto, h->port))) {
		snprintf(h->conflict, sizeof(h->conflict), "vm %s has it",
		    other->conf.name);
	} else if ((fd = hold_socket(AF_INET, h->proto, h->port)) < 0) {
		snprintf(h->conflict, sizeof(h->conflict), "in use on the "
		    "host: %s", fd == -EADDRINUSE ? port_holder(h->proto,
		    h->port, who, sizeof(who)) : strerror(-fd));
	} else {
		h->fd4 = fd;
		fd = hold_socket(AF_INET6, h->proto, h->port);
		if (fd >= 0)
			h->fd6 = fd;
		else if (fd == -EADDRINUSE) {
			hold_release(h);
			snprintf(h->conflict, sizeof(h->conflict), "in use on "
			    "the host: %s", port_holder(h->proto, h->port, who,
			    sizeof(who)));
		}
	}
	if (h->conflict[0])
		log_warnx("vm %s: %s port %u: %s; the LAN reaches the host's, "
		    "not the guest's", vm->conf.name,
		    h->proto == IPPROTO_TCP ? "tcp" : "udp", h->port,
		    h->conflict);
}

/* A port the guest listens on beyond its loopback came or went. */
void
mirror_listener(struct vm *vm, bool added, uint8_t proto, uint16_t port)
{
	struct mirror_hold *h = NULL;
	unsigned i;

	if (!mirrored(vm) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return;
	for (i = 0; i < vm->nholds; i++)
		if (vm->holds[i].proto == proto && vm->holds[i].port == port)
			h = &vm->holds[i];
	if (added == (h != NULL))
		return;		/* nothing new: another family, say */
	if (added) {
		if (vm->nholds >= MIRROR_MAX_EXPOSED || (!vm->holds &&
		    !(vm->holds = calloc(MIRROR_MAX_EXPOSED,
		    sizeof(*vm->holds))))) {
			log_warnx("vm %s: more than %d ports beyond loopback; "
			    "%u/%s is not held", vm->conf.name,
			    MIRROR_MAX_EXPOSED, port,
			    proto == IPPROTO_TCP ? "tcp" : "udp");
			return;
		}
		h = &vm->holds[vm->nholds++];
		h->proto = proto;
		h->port = port;
		hold_take(vm, h);
	} else {
		hold_release(h);
		*h = vm->holds[--vm->nholds];
	}
	if (vm->conf.inbound && vm->ifindex > 0 && mirror_apply() < 0)
		log_warnx("vm %s: mirrored steering not updated",
		    vm->conf.name);
}

/* For netctl forwards: the ports the LAN reaches the guest on. */
void
mirror_foreach(struct vm *vm, hostfwd_port_fn fn, void *arg)
{
	struct hostfwd_port_info pi;
	unsigned i;

	if (!mirrored(vm) || !vm->conf.inbound)
		return;
	for (i = 0; i < vm->nholds; i++) {
		memset(&pi, 0, sizeof(pi));
		pi.proto = vm->holds[i].proto;
		pi.addr.family = AF_INET;	/* 0.0.0.0: every address */
		pi.host_port = pi.guest_port = vm->holds[i].port;
		pi.kind = "inbound";
		pi.state = vm->holds[i].conflict[0] ? vm->holds[i].conflict :
		    "active";
		fn(arg, &pi);
	}
}

unsigned
mirror_conflicts(const struct vm *vm)
{
	unsigned i, n = 0;

	for (i = 0; i < vm->nholds; i++)
		n += vm->holds[i].conflict[0] != '\0';
	return n;
}

void
mirror_vm_gone(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->nholds; i++)
		hold_release(&vm->holds[i]);
	free(vm->holds);
	vm->holds = NULL;
	vm->nholds = 0;
	free(vm->mview);
	vm->mview = NULL;
}
