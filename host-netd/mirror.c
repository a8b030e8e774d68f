/*
 * mirror.c - host-netd: mirrored VMs on the host's own addresses
 *
 * Theory of operation
 *
 * A mirrored VM mirrors the host's uplinks (the configured ones, or else
 * the interfaces with a default route or a VPN's half of one): a guest in
 * a namespace all of them (up to MIRROR_MAX_UPLINKS), a VM the first, as
 * its NIC is fixed at boot. Each mirrored uplink is a link (a veth into
 * the namespace, or the VM's tap) with no address on the host's side and,
 * on the guest's, the uplink's MAC, or for an L3 uplink (a VPN's tun) a
 * MAC of its own and no ARP. The guest gets each uplink's MTU, addresses
 * and routes (mirrored/hostview.c) and a slice of the host's ephemeral
 * ports (mirrored/ports.c) as its own ip_local_port_range, which the host
 * reserves. The steering table (mirrored/steer.c) moves packets between
 * each uplink and its link in the kernel.
 *
 * Following the host: the monitor calls mirror_host_changed() after any
 * change of links, addresses or routes (debounced). When the set of
 * uplinks changed, a namespace guest's links are made again; when an
 * uplink changed in place, its guest gets a new configuration. Either way
 * the steering is rendered again. An uplink that goes down takes the
 * host's side of its link down, and the guest sees no carrier.
 *
 * Ports the guest listens on (on a wildcard address or the mirrored one,
 * as guest-netd reports them) are held on the host, so that no host
 * program takes them, and steered to the guest when the VM's inbound is
 * allow. A port the host already uses is not: that is reported with who
 * holds it, and the host keeps it until it lets it go (tried again every
 * MIRROR_RETRY_MS: a program that ends, another mirrored VM's guest that
 * stops listening).
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

#include <event2/event.h>

#include "host-netd.h"
#include "holder.h"
#include "hostview.h"
#include "log.h"
#include "steer.h"
#include "sysctl.h"

#define RESERVED_PORTS	"/proc/sys/net/ipv4/ip_local_reserved_ports"
#define MIRROR_RETRY_MS	2000	/* a port the host has: try again */
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
	struct event		*retry;		/* holds in conflict, again */
} M;

/*
 * Uplinks read in this pass of mirror_host_changed(): each once, however
 * many guests mirror it. The pass changes the guests' links, never an
 * uplink, so one reading serves them all; outside it every reading is
 * fresh.
 */
#define VIEWS_MAX	(MAX_UPLINKS + MIRROR_MAX_UPLINKS)
static struct {
	bool			pass;
	unsigned		n;
	struct mirror_view	v[VIEWS_MAX];
} views;

static bool
mirrored(const struct vm *vm)
{
	return vm->conf.mode == VM_MODE_MIRRORED;
}

static int
view_read(const char *uplink, struct mirror_view *v)
{
	unsigned i;
	int rc;

	for (i = 0; views.pass && i < views.n; i++)
		if (strcmp(views.v[i].name, uplink) == 0) {
			*v = views.v[i];
			return 0;
		}
	if ((rc = mirror_view_read(&hostd->nl, uplink, v)) == 0 &&
	    views.pass && views.n < VIEWS_MAX)
		views.v[views.n++] = *v;
	return rc;
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

/* ---- a mirrored VM's links --------------------------------------------- */

/*
 * One link per mirrored uplink. The first is the VM's own (vm->ifindex,
 * host-ifname), made by vm.c as any VM's link; a namespace guest gets one
 * more for each further uplink, named host-ifname+N ('+' is in no VM's
 * name).
 */
_Static_assert(MIRROR_MAX_UPLINKS <= VMN_NC_MAX_LINKS,
    "a guest's configuration holds every link it mirrors");
struct mirror_link {
	struct mirror_view	view;		/* the uplink, as last pushed */
	unsigned		slot;		/* N of its name; 0: the VM's own */
	char			ifname[IFNAMSIZ];	/* host side */
	int			ifindex;	/* link 0: vm->ifindex */
	uint8_t			mac[VMN_MAC_LEN];	/* guest side */
};

static int
link_ifindex(const struct vm *vm, unsigned i)
{
	return i == 0 ? vm->ifindex : vm->mlinks[i].ifindex;
}

/* The uplinks a VM is to mirror now; n 0: none to be had. */
static unsigned
wanted_uplinks(const struct vm *vm, const char *names[MIRROR_MAX_UPLINKS])
{
	unsigned i, n = 0;

	/* A VM keeps the uplink its NIC was made for while it is there. */
	if (vm->conf.link != VM_LINK_VETH) {
		for (i = 0; vm->nmlinks && i < hostd->uplinks.n; i++)
			if (strcmp(hostd->uplinks.name[i],
			    vm->mlinks[0].view.name) == 0) {
				names[0] = hostd->uplinks.name[i];
				return 1;
			}
		if (hostd->uplinks.n)
			names[n++] = hostd->uplinks.name[0];
		return n;
	}
	for (i = 0; i < hostd->uplinks.n && n < MIRROR_MAX_UPLINKS; i++)
		names[n++] = hostd->uplinks.name[i];
	return n;
}

/* A MAC of its own for the guest's side of a link to an L3 uplink. */
static void
made_mac(const struct vm *vm, unsigned slot, uint8_t mac[VMN_MAC_LEN])
{
	memcpy(mac, vm->made_mac, VMN_MAC_LEN);
	mac[5] = (uint8_t)(mac[5] ^ slot);
}

static void
random_local_mac(uint8_t mac[VMN_MAC_LEN])
{
	arc4random_buf(mac, VMN_MAC_LEN);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);	/* local, unicast */
}

static bool
mac_zero(const uint8_t *mac)
{
	static const uint8_t zero[VMN_MAC_LEN];

	return memcmp(mac, zero, VMN_MAC_LEN) == 0;
}

static bool
has_uplink(const char *names[], unsigned n, const char *name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static bool
mirrors(const struct vm *vm, const char *uplink)
{
	unsigned i;

	for (i = 0; i < vm->nmlinks; i++)
		if (strcmp(vm->mlinks[i].view.name, uplink) == 0)
			return true;
	return false;
}

/* The smallest N no other link's name host-ifname+N has. */
static unsigned
free_slot(const struct vm *vm)
{
	unsigned slot, i;

	for (slot = 1; ; slot++) {
		for (i = 1; i < vm->nmlinks; i++)
			if (vm->mlinks[i].slot == slot)
				break;
		if (i == vm->nmlinks)
			return slot;
	}
}

/* The host-side name of a link: host-ifname, or host-ifname+N. */
static void
slot_ifname(const struct vm *vm, unsigned slot, char ifname[IFNAMSIZ])
{
	if (slot == 0)
		snprintf(ifname, IFNAMSIZ, "%s", vm->conf.host_ifname);
	else
		snprintf(ifname, IFNAMSIZ, "%.13s+%u", vm->conf.host_ifname,
		    slot);
}

/* A link's uplink read, its MACs and name chosen; nothing made yet. */
static int
link_prepare(struct vm *vm, struct mirror_link *ml, const char *uplink,
    unsigned slot, char *err, size_t errlen)
{
	int rc;

	memset(ml, 0, sizeof(*ml));
	if ((rc = view_read(uplink, &ml->view)) < 0) {
		snprintf(err, errlen, "reading uplink %s: %s", uplink,
		    strerror(-rc));
		return rc;
	}
	if (ml->view.index == 0) {
		snprintf(err, errlen, "uplink %s is gone", uplink);
		return -ENODEV;
	}
	ml->slot = slot;
	if (ml->view.l3)
		made_mac(vm, slot, ml->mac);
	else
		memcpy(ml->mac, ml->view.mac, VMN_MAC_LEN);
	slot_ifname(vm, slot, ml->ifname);
	return 0;
}

/*
 * Before the VM's own link is made: the uplinks it mirrors (the first
 * one's MAC is its guest MAC) and its slice; its identity (MACs, a NAT
 * subnet from before) kept in the state dir. The VM's own link, the one
 * a change of uplinks can least take away, is an Ethernet uplink's when
 * there is one: a VPN comes and goes.
 */
int
mirror_link_prepare(struct vm *vm, char *err, size_t errlen)
{
	const char *dir = hostd->conf->state_dir;
	const char *names[MIRROR_MAX_UPLINKS], *first;
	unsigned i, n;
	int rc;

	if (!vm->mlinks && !(vm->mlinks = calloc(MIRROR_MAX_UPLINKS,
	    sizeof(*vm->mlinks))))
		return -ENOMEM;
	vm->nmlinks = 0;
	if ((n = wanted_uplinks(vm, names)) == 0) {
		snprintf(err, errlen, "no uplink to mirror (no interface "
		    "carries a default route; name one with uplink)");
		return -ENETDOWN;
	}
	rc = state_load_vm(dir, vm);
	if (rc < 0 && rc != -ENOENT)
		log_warnx("vm %s: state: %s", vm->conf.name, strerror(-rc));
	if (mac_zero(vm->host_mac))
		random_local_mac(vm->host_mac);
	if (mac_zero(vm->made_mac))
		random_local_mac(vm->made_mac);
	for (i = 0; i < n; i++)
		if ((rc = link_prepare(vm, &vm->mlinks[i], names[i], i, err,
		    errlen)) < 0)
			return rc;
	for (i = 1; vm->mlinks[0].view.l3 && i < n; i++)
		if (!vm->mlinks[i].view.l3) {
			first = names[i];
			names[i] = names[0];
			names[0] = first;
			if ((rc = link_prepare(vm, &vm->mlinks[0], names[0], 0,
			    err, errlen)) < 0 ||
			    (rc = link_prepare(vm, &vm->mlinks[i], names[i], i,
			    err, errlen)) < 0)
				return rc;
			break;
		}
	vm->nmlinks = n;
	if ((rc = assign_slice(vm, err, errlen)) < 0)
		return rc;
	memcpy(vm->guest_mac, vm->mlinks[0].mac, VMN_MAC_LEN);
	if ((rc = state_save_vm(dir, vm)) < 0)
		log_warnx("vm %s: cannot save state: %s", vm->conf.name,
		    strerror(-rc));
	return 0;
}

/*
 * An L3 uplink's packets reach the guest's side by neighbour lookup of the
 * uplink's own addresses: pinned to the guest's MAC on the host's side.
 */
static int
pin_neighbours(struct vm *vm, unsigned i)
{
	const struct mirror_link *ml = &vm->mlinks[i];
	unsigned j;
	int rc;

	for (j = 0; ml->view.l3 && j < ml->view.naddrs; j++)
		if ((rc = hostlink_neigh_pin(&hostd->nl, link_ifindex(vm, i),
		    &ml->view.addrs[j].ip, ml->mac)) < 0)
			return rc;
	return 0;
}

/* Link i made (but the VM's own, which vm.c makes), set up, its neighbours. */
static int
link_create(struct vm *vm, unsigned i, char *err, size_t errlen)
{
	struct mirror_link *ml = &vm->mlinks[i];
	int rc;

	if (i == 0)
		ml->ifindex = vm->ifindex;
	else if ((rc = hostlink_remove_stale(&hostd->nl, ml->ifname,
	    vm->conf.name)) < 0 ||
	    (rc = hostlink_create_veth_pair(&hostd->nl, vm, ml->ifname,
	    ml->mac, ml->view.mtu)) < 0)
		goto fail;
	else
		ml->ifindex = rc;
	if ((rc = hostlink_configure_port(&hostd->nl, vm, ml->ifindex,
	    ml->ifname, ml->view.l3)) < 0 ||
	    (rc = pin_neighbours(vm, i)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "link %s for uplink %s: %s", ml->ifname,
	    ml->view.name, rc == -EEXIST ? "the name is taken" :
	    vmn_nl_strerror(&hostd->nl, rc));
	return rc;
}

/*
 * Once the VM's own link is made (vm.c): every link set up. Links of an
 * earlier run (killed while it mirrored more uplinks) go first.
 */
int
mirror_links_up(struct vm *vm, char *err, size_t errlen)
{
	char ifname[IFNAMSIZ];
	unsigned i;
	int rc;

	for (i = vm->nmlinks; i < MIRROR_MAX_UPLINKS; i++) {
		slot_ifname(vm, i, ifname);
		hostlink_remove_stale(&hostd->nl, ifname, vm->conf.name);
	}
	for (i = 0; i < vm->nmlinks; i++)
		if ((rc = link_create(vm, i, err, errlen)) < 0)
			return rc;
	return 0;
}

/* Before the VM's own link goes (vm.c): the others. */
void
mirror_links_down(struct vm *vm)
{
	unsigned i;

	for (i = 1; i < vm->nmlinks; i++)
		if (vm->mlinks[i].ifindex > 0) {
			hostlink_delete(&hostd->nl, vm->mlinks[i].ifindex);
			vm->mlinks[i].ifindex = 0;
		}
}

/* "up0 on veth vmn-g1, vpn0 on veth vmn-g1+1", for the log. */
const char *
mirror_uplink_names(const struct vm *vm, char *buf, size_t len)
{
	size_t n = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < vm->nmlinks && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s on %s %s",
		    i ? ", " : "", vm->mlinks[i].view.name,
		    vm_link_name(i ? VM_LINK_VETH : vm->conf.link),
		    vm->mlinks[i].ifname);
	return buf;
}

uint32_t
mirror_mtu(const struct vm *vm)
{
	return vm->nmlinks && vm->mlinks[0].view.mtu ?
	    vm->mlinks[0].view.mtu : 1500;
}

static struct vmn_nc_sysctl *
new_sysctl(struct vmn_netconf *nc, const char *value)
{
	struct vmn_nc_sysctl *s;

	if (nc->nsysctls >= VMN_NC_MAX_SYSCTLS)
		return NULL;
	s = &nc->sysctls[nc->nsysctls++];
	snprintf(s->value, sizeof(s->value), "%s", value);
	return s;
}

/* net.<family>.conf.<ifname>.<key> = value */
static void
add_link_sysctl(struct vmn_netconf *nc, const char *ifname,
    const char *family, const char *key, const char *value)
{
	struct vmn_nc_sysctl *s = new_sysctl(nc, value);

	if (s)
		vmn_sysctl_link_name(s->name, sizeof(s->name), family, ifname,
		    key);
}

/* One uplink as the guest sees it: its link, addresses and routes. */
static void
link_netconf(const struct vm *vm, unsigned i, struct vmn_netconf *nc)
{
	const struct mirror_link *ml = &vm->mlinks[i];
	const struct mirror_view *v = &ml->view;
	const char *ifname;
	struct vmn_nc_link *l;
	unsigned j;

	ifname = i == 0 && vm->conf.guest_ifname[0] ? vm->conf.guest_ifname :
	    v->name;
	l = &nc->links[nc->nlinks++];
	snprintf(l->name, sizeof(l->name), "%s", ifname);
	memcpy(l->mac, ml->mac, VMN_MAC_LEN);
	l->mtu = v->mtu;
	l->noarp = v->l3;
	for (j = 0; j < v->naddrs && nc->naddrs < VMN_NC_MAX_ADDRS - 1; j++) {
		if (v->addrs[j].ip.family == AF_INET6 && !vm->conf.ipv6)
			continue;
		snprintf(nc->addrs[nc->naddrs].ifname, IFNAMSIZ, "%s", ifname);
		nc->addrs[nc->naddrs++].pfx = v->addrs[j];
	}
	for (j = 0; j < v->nroutes && nc->nroutes < VMN_NC_MAX_ROUTES; j++) {
		struct vmn_nc_route *r = &nc->routes[nc->nroutes];

		if (v->routes[j].dst.ip.family == AF_INET6 && !vm->conf.ipv6)
			continue;
		snprintf(r->ifname, IFNAMSIZ, "%s", ifname);
		r->dst = v->routes[j].dst;
		r->gw = v->routes[j].gw;
		r->metric = v->routes[j].metric;
		nc->nroutes++;
	}
	/* IPv6 is pushed: no RA, SLAAC, DAD, nor a link-local of its own. */
	add_link_sysctl(nc, ifname, "ipv6", "accept_ra", "0");
	add_link_sysctl(nc, ifname, "ipv6", "autoconf", "0");
	add_link_sysctl(nc, ifname, "ipv6", "accept_dad", "0");
	add_link_sysctl(nc, ifname, "ipv6", "addr_gen_mode", "1");
	if (!vm->conf.ipv6)
		add_link_sysctl(nc, ifname, "ipv6", "disable_ipv6", "1");
	/* Its containers' connections are masqueraded into the slice too. */
	snprintf(nc->snats[nc->nsnats].ifname, IFNAMSIZ, "%s", ifname);
	nc->snats[nc->nsnats].lo = vm->ports.lo;
	nc->snats[nc->nsnats++].hi = vm->ports.hi;
}

/* The uplinks as the guest sees them, and its ports. */
void
mirror_build_netconf(const struct vm *vm, struct vmn_netconf *nc)
{
	struct vmn_nc_sysctl *s;
	char range[16];
	unsigned i;

	for (i = 0; i < vm->nmlinks; i++)
		if (vm->mlinks[i].view.index)
			link_netconf(vm, i, nc);
	/* Its own connections take their ports from its slice only. */
	snprintf(range, sizeof(range), "%u %u", vm->ports.lo, vm->ports.hi);
	if ((s = new_sysctl(nc, range)))
		snprintf(s->name, sizeof(s->name),
		    "net.ipv4.ip_local_port_range");
}

/* For netctl: the guest's MAC, addresses and gateways: the uplinks'. */
void
mirror_put_addresses(struct vmn_buf *b, const struct vm *vm)
{
	bool a4 = false, a6 = false, g4 = false, g6 = false;
	unsigned i, j;

	vmn_put(b, VMN_A_MAC, vm->guest_mac, VMN_MAC_LEN);
	for (i = 0; i < vm->nmlinks; i++) {
		const struct mirror_view *v = &vm->mlinks[i].view;

		for (j = 0; j < v->naddrs; j++) {
			if (v->addrs[j].ip.family == AF_INET && !a4) {
				vmn_put_ip(b, VMN_A_ADDR, &v->addrs[j].ip);
				vmn_put_u8(b, VMN_A_PREFIXLEN, v->addrs[j].plen);
				a4 = true;
			} else if (v->addrs[j].ip.family == AF_INET6 && !a6 &&
			    vm->conf.ipv6) {
				vmn_put_ip(b, VMN_A_ADDR6, &v->addrs[j].ip);
				a6 = true;
			}
		}
		for (j = 0; j < v->nroutes; j++) {
			const struct mirror_route *r = &v->routes[j];

			if (r->dst.plen != 0 || !r->gw.family)
				continue;
			if (r->gw.family == AF_INET && !g4) {
				vmn_put_ip(b, VMN_A_GATEWAY, &r->gw);
				g4 = true;
			} else if (r->gw.family == AF_INET6 && !g6 &&
			    vm->conf.ipv6) {
				vmn_put_ip(b, VMN_A_GATEWAY6, &r->gw);
				g6 = true;
			}
		}
	}
}

/*
 * May the LAN reach some of its listeners? By default with inbound allow,
 * or as its in rules say.
 */
static bool
lan_may_reach(const struct vm *vm)
{
	return vm->conf.inbound ||
	    fw_vm_has_rules(hostd->policy, vm->conf.name, POLICY_IN);
}

/* ---- the steering table and the reserved ports ------------------------ */

static void
fill_guest(const struct vm *vm, unsigned i, struct steer_guest *g)
{
	const struct mirror_link *ml = &vm->mlinks[i];
	const struct mirror_view *v = &ml->view;
	unsigned j;

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", vm->conf.name);
	snprintf(g->link, sizeof(g->link), "%s", ml->ifname);
	snprintf(g->uplink, sizeof(g->uplink), "%s", v->name);
	memcpy(g->mac, ml->mac, sizeof(g->mac));
	g->l3 = v->l3;
	g->slice_lo = vm->ports.lo;
	g->slice_hi = vm->ports.hi;
	/* Its servers the host let go: the LAN's by inbound or its rules. */
	g->inbound = vm->conf.inbound;
	for (j = 0; j < vm->nholds; j++) {
		const struct mirror_hold *h = &vm->holds[j];

		if (h->conflict[0])
			continue;
		if (h->proto == IPPROTO_TCP && g->ntcp < STEER_MAX_PORTS)
			g->tcp[g->ntcp++] = h->port;
		else if (h->proto == IPPROTO_UDP && g->nudp < STEER_MAX_PORTS)
			g->udp[g->nudp++] = h->port;
	}
	for (j = 0; j < v->naddrs && g->naddrs < STEER_MAX_ADDRS; j++)
		if (v->addrs[j].ip.family == AF_INET || vm->conf.ipv6)
			g->addrs[g->naddrs++] = v->addrs[j].ip;
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
	static struct steer_guest g[STEER_MAX_GUESTS];
	static char buf[2048 * 1024];
	struct fw_counters keep = { 0 };
	struct port_ranges want = { 0 };
	struct vm *vm;
	unsigned i, n = 0;
	int rc, err = 0;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (!mirrored(vm) || vm->ifindex <= 0)
			continue;
		for (i = 0; i < vm->nmlinks && n < STEER_MAX_GUESTS; i++)
			if (link_ifindex(vm, i) > 0 && vm->mlinks[i].view.index)
				fill_guest(vm, i, &g[n++]);
		ports_add(&want, vm->ports.lo, vm->ports.hi);
	}
	if (n == 0 && !M.table && M.ours.n == 0 && M.loaded)
		return 0;	/* nothing of ours, then or now */
	if ((rc = reserve_ports(&want)) < 0) {
		log_warnx("net.ipv4.ip_local_reserved_ports: %s",
		    strerror(-rc));
		err = rc;
	}
	if ((rc = nft_counters("netdev " STEER_TABLE, &keep)) < 0)
		log_warnx("firewall counters not read, they start again: %s",
		    strerror(-rc));
	rc = steer_render(g, n, hostd->policy, &keep, buf, sizeof(buf));
	fw_counters_free(&keep);
	if (rc < 0)
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

	if (M.retry) {
		event_free(M.retry);
		M.retry = NULL;
	}
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
set_link_up(struct vm *vm, unsigned i, bool up)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
	    .ifi_index = link_ifindex(vm, i), .ifi_change = IFF_UP,
	    .ifi_flags = up ? IFF_UP : 0 };
	int rc;

	rc = vmn_nl_request(&hostd->nl, vmn_nl_new(&hostd->nl, RTM_NEWLINK, 0,
	    &ifi, sizeof(ifi)));
	if (rc < 0)
		log_warnx("vm %s: %s %s: %s", vm->conf.name, up ? "up" : "down",
		    vm->mlinks[i].ifname, vmn_nl_strerror(&hostd->nl, rc));
}

enum follow { FOLLOW_SAME, FOLLOW_CHANGED, FOLLOW_RESTARTED };

/*
 * The host's uplinks changed (a VPN came up with its default routes, a
 * second network came or went, the default route moved). A namespace
 * guest's links follow one by one, so that a VPN coming or going leaves
 * the others' connections alone; only when its own link's uplink goes is
 * everything made again. A VM keeps the NIC it booted with, whose MAC is
 * fixed: told to restart when its uplink has gone.
 */
static enum follow
follow_uplinks(struct vm *vm)
{
	const char *names[MIRROR_MAX_UPLINKS];
	unsigned i, j, n = wanted_uplinks(vm, names);
	enum follow result = FOLLOW_SAME;
	char err[256];
	int rc;

	if (n == 0)
		return FOLLOW_SAME;	/* none: the guest waits, no carrier */
	if (!has_uplink(names, n, vm->mlinks[0].view.name)) {
		if (vm->conf.link != VM_LINK_VETH) {
			log_warnx("vm %s: the host's uplink is now %s, not %s; "
			    "a VM keeps the NIC it booted with: restart it to "
			    "follow", vm->conf.name, names[0],
			    vm->mlinks[0].view.name);
			return FOLLOW_SAME;
		}
		log_info("vm %s: %s is no uplink now: its links made again",
		    vm->conf.name, vm->mlinks[0].view.name);
		mirror_links_down(vm);
		if ((rc = hostlink_delete(&hostd->nl, vm->ifindex)) < 0)
			log_warnx("vm %s: deleting %s: %s", vm->conf.name,
			    vm->conf.host_ifname,
			    vmn_nl_strerror(&hostd->nl, rc));
		vm->ifindex = 0;
		vm->commit_pending = false;
		vm_start(vm);
		return FOLLOW_RESTARTED;
	}
	for (i = vm->nmlinks - 1; i > 0; i--) {
		if (has_uplink(names, n, vm->mlinks[i].view.name))
			continue;
		log_info("vm %s: %s is no uplink now: %s removed",
		    vm->conf.name, vm->mlinks[i].view.name,
		    vm->mlinks[i].ifname);
		hostlink_delete(&hostd->nl, vm->mlinks[i].ifindex);
		memmove(&vm->mlinks[i], &vm->mlinks[i + 1],
		    (vm->nmlinks - i - 1) * sizeof(vm->mlinks[0]));
		vm->nmlinks--;
		result = FOLLOW_CHANGED;
	}
	for (j = 0; j < n && vm->nmlinks < MIRROR_MAX_UPLINKS; j++) {
		struct mirror_link *ml = &vm->mlinks[vm->nmlinks];

		if (mirrors(vm, names[j]))
			continue;
		if ((rc = link_prepare(vm, ml, names[j], free_slot(vm), err,
		    sizeof(err))) < 0 ||
		    (rc = link_create(vm, vm->nmlinks, err, sizeof(err))) < 0) {
			log_warnx("vm %s: %s", vm->conf.name, err);
			if (ml->ifindex > 0)
				hostlink_delete(&hostd->nl, ml->ifindex);
			continue;
		}
		vm->nmlinks++;
		log_info("vm %s: new uplink %s: on %s", vm->conf.name,
		    ml->view.name, ml->ifname);
		result = FOLLOW_CHANGED;
	}
	return result;
}

/* One link's uplink changed in place: carrier, MTU, addresses, routes. */
static bool
follow_link(struct vm *vm, unsigned i)
{
	struct mirror_link *ml = &vm->mlinks[i];
	struct mirror_view now;
	int rc;

	if ((rc = view_read(ml->view.name, &now)) < 0) {
		log_warnx("vm %s: reading uplink %s: %s", vm->conf.name,
		    ml->view.name, strerror(-rc));
		return false;
	}
	if (mirror_view_equal(&now, &ml->view))
		return false;
	if (now.up != ml->view.up) {
		log_info("vm %s: uplink %s is %s", vm->conf.name, now.name,
		    now.up ? "up" : "down");
		set_link_up(vm, i, now.up);
	}
	if (now.mtu != ml->view.mtu && (rc = hostlink_set_mtu(&hostd->nl,
	    link_ifindex(vm, i), now.mtu)) < 0)
		log_warnx("vm %s: mtu %u: %s", vm->conf.name, now.mtu,
		    vmn_nl_strerror(&hostd->nl, rc));
	if (now.dropped && !ml->view.dropped)
		log_warnx("vm %s: uplink %s has more addresses or routes than "
		    "a guest gets (%d, %d); %u left out", vm->conf.name,
		    now.name, MIRROR_MAX_ADDRS, MIRROR_MAX_ROUTES, now.dropped);
	ml->view = now;
	if (i == 0)
		vm->mtu = now.mtu;
	if ((rc = pin_neighbours(vm, i)) < 0)
		log_warnx("vm %s: neighbours on %s: %s", vm->conf.name,
		    ml->ifname, vmn_nl_strerror(&hostd->nl, rc));
	return true;
}

/* After the host's links, addresses or routes changed. */
void
mirror_host_changed(void)
{
	enum follow follow;
	struct vm *vm;
	bool changed = false, pushed;
	unsigned i;

	views.pass = true;
	views.n = 0;
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (!mirrored(vm) || vm->ifindex <= 0 || !vm->nmlinks)
			continue;
		if ((follow = follow_uplinks(vm)) == FOLLOW_RESTARTED) {
			changed = true;
			continue;
		}
		pushed = follow == FOLLOW_CHANGED;
		/* Gone, or another MAC: the guest's links are wrong. */
		for (i = 0; i < vm->nmlinks; i++) {
			struct mirror_view now;

			if (view_read(vm->mlinks[i].view.name, &now) == 0 &&
			    (now.index == 0 ||
			    memcmp(now.mac, vm->mlinks[i].view.mac, 6)))
				break;
		}
		if (i < vm->nmlinks) {
			log_info("vm %s: uplink %s is gone or has another MAC; "
			    "starting again", vm->conf.name,
			    vm->mlinks[i].view.name);
			vm_link_lost(vm);
			changed = true;
			continue;
		}
		for (i = 0; i < vm->nmlinks; i++)
			pushed |= follow_link(vm, i);
		if (pushed) {
			vm_push_config(vm);
			changed = true;
		}
	}
	views.pass = false;
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

#define IN_USE	"in use on the host: "

/*
 * Why the host's port cannot be held (err: the bind's). A retry that
 * finds it in use again keeps what it said: no scan of /proc for the
 * holder every MIRROR_RETRY_MS.
 */
static void
say_in_use(struct mirror_hold *h, int err, const char *was)
{
	char who[96];

	if (err == -EADDRINUSE && strncmp(was, IN_USE, strlen(IN_USE)) == 0)
		snprintf(h->conflict, sizeof(h->conflict), "%s", was);
	else
		snprintf(h->conflict, sizeof(h->conflict), IN_USE "%s",
		    err == -EADDRINUSE ? port_holder(h->proto, h->port, who,
		    sizeof(who)) : strerror(-err));
}

/*
 * Holds the port, or says in h->conflict why not: logged and told
 * (HOSTFWD_CONFLICT) the first time, and once held after all
 * (HOSTFWD_RESOLVED); a retry that finds the same conflict says nothing.
 * h->conflict is empty for a new hold, its last word for a retry.
 */
static void
hold_take(struct vm *vm, struct mirror_hold *h)
{
	struct hostfwd_port_info pi = {
		.proto = h->proto, .host_port = h->port, .guest_port = h->port,
		.kind = "mirrored",
	};
	const struct vm *other;
	char was[sizeof(h->conflict)];
	int fd;

	memcpy(was, h->conflict, sizeof(was));
	h->fd4 = h->fd6 = -1;
	h->conflict[0] = '\0';
	if ((other = held_by_other(vm, h->proto, h->port))) {
		snprintf(h->conflict, sizeof(h->conflict), "vm %s has it",
		    other->conf.name);
	} else if ((fd = hold_socket(AF_INET, h->proto, h->port)) < 0) {
		say_in_use(h, fd, was);
	} else {
		h->fd4 = fd;
		fd = hold_socket(AF_INET6, h->proto, h->port);
		if (fd >= 0)
			h->fd6 = fd;
		else if (fd == -EADDRINUSE) {
			hold_release(h);
			say_in_use(h, fd, was);
		}
	}
	vmn_ip_parse("0.0.0.0", &pi.addr);
	if (h->conflict[0] && strcmp(h->conflict, was) != 0) {
		log_warnx("vm %s: %s port %u: %s; the LAN reaches the host's, "
		    "not the guest's", vm->conf.name,
		    h->proto == IPPROTO_TCP ? "tcp" : "udp", h->port,
		    h->conflict);
		pi.state = h->conflict;
		events_forward(vm->conf.name, HOSTFWD_CONFLICT, &pi);
	} else if (!h->conflict[0] && was[0]) {
		log_info("vm %s: %s port %u held at last: the LAN reaches the "
		    "guest's", vm->conf.name,
		    h->proto == IPPROTO_TCP ? "tcp" : "udp", h->port);
		pi.state = "active";
		events_forward(vm->conf.name, HOSTFWD_RESOLVED, &pi);
	}
}

static void	schedule_retry(void);

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm;
	bool taken;
	unsigned i;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		taken = false;
		for (i = 0; mirrored(vm) && i < vm->nholds; i++) {
			if (!vm->holds[i].conflict[0])
				continue;
			hold_take(vm, &vm->holds[i]);
			taken |= !vm->holds[i].conflict[0];
		}
		if (taken && lan_may_reach(vm) && vm->ifindex > 0 &&
		    mirror_apply() < 0)
			log_warnx("vm %s: mirrored steering not updated",
			    vm->conf.name);
	}
	schedule_retry();
}

/* Holds in conflict are tried again, while there are any. */
static void
schedule_retry(void)
{
	struct timeval tv = { MIRROR_RETRY_MS / 1000,
	    (MIRROR_RETRY_MS % 1000) * 1000 };
	const struct vm *vm;
	unsigned i;

	if (hostd->shutting_down)
		return;
	TAILQ_FOREACH(vm, &hostd->vms, entry)
		for (i = 0; i < vm->nholds; i++)
			if (vm->holds[i].conflict[0])
				goto some;
	return;
some:
	if (!M.retry && !(M.retry = evtimer_new(hostd->base, retry_cb, NULL))) {
		log_warnx("mirrored: out of memory for a timer");
		return;
	}
	if (!evtimer_pending(M.retry, NULL))
		evtimer_add(M.retry, &tv);
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
		h->conflict[0] = '\0';		/* new: the slot may be reused */
		hold_take(vm, h);
	} else {
		hold_release(h);
		*h = vm->holds[--vm->nholds];
	}
	if (lan_may_reach(vm) && vm->ifindex > 0 && mirror_apply() < 0)
		log_warnx("vm %s: mirrored steering not updated",
		    vm->conf.name);
	schedule_retry();	/* its conflict, or another's it let go */
}

/* For netctl forwards: the ports the LAN reaches the guest on. */
void
mirror_foreach(struct vm *vm, hostfwd_port_fn fn, void *arg)
{
	struct hostfwd_port_info pi;
	unsigned i;

	if (!mirrored(vm) || !lan_may_reach(vm))
		return;
	for (i = 0; i < vm->nholds; i++) {
		memset(&pi, 0, sizeof(pi));
		pi.proto = vm->holds[i].proto;
		pi.addr.family = AF_INET;	/* 0.0.0.0: every address */
		pi.host_port = pi.guest_port = vm->holds[i].port;
		pi.kind = "inbound";
		pi.state = vm->holds[i].conflict[0] ? vm->holds[i].conflict :
		    vm->conf.inbound ? "active" : "by policy";
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
	free(vm->mlinks);
	vm->mlinks = NULL;
	vm->nmlinks = 0;
	schedule_retry();	/* another VM may have wanted its ports */
}
