/*
 * hostlink.c - host-netd: the host side of VM links, routes and uplinks
 *
 * Every link host-netd creates carries the alias "vmnetd:<vm>" (IFLA_IFALIAS).
 * A leftover from a run that was killed is recognised by it and replaced;
 * an interface without it is somebody else's and is never deleted.
 *
 * Theory of operation
 *
 * The kernel answers two kinds of questions: about one link (a GET, by
 * name or index), and about all of them, or all routes (a dump, whose cost
 * grows with every VM's link and routes). A question about one link is a
 * GET. A dump is read into a table (linkdump, routedump) that the
 * questions about all of them are answered from.
 *
 * Outside a pass every such question dumps afresh: something may have
 * changed since. A pass (hostlink_pass_begin() to hostlink_pass_end())
 * is the monitor's walk over every VM after the host changed: there each
 * table is dumped at its first use and kept for the rest of the pass, so
 * that one change on the host costs one dump of links and one of routes,
 * however many VMs there are. What host-netd changes itself in the pass
 * drops the tables it makes stale; changes by others meanwhile wake the
 * monitor again for another pass.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "host-netd.h"
#include "log.h"
#include "sysctl.h"

#ifndef IFF_LOWER_UP		/* <linux/if.h> has it, and clashes with <net/if.h> */
#define IFF_LOWER_UP	0x10000
#endif

struct linkinfo {
	int		index;
	unsigned	mtu;
	unsigned	flags;		/* IFF_* */
	bool		tun;		/* a tun or tap device */
	char		name[IFNAMSIZ];
	char		alias[64];
};

/* As many links as the host has: a VM's each, and whatever else. */
struct linkdump {
	unsigned	 n, max;
	bool		 short_of_memory;	/* some left out */
	struct linkinfo	*l;
};

VMN_NL_POLICY(link_policy, IFLA_MAX,
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
	[IFLA_LINKINFO] = MNL_TYPE_NESTED,
);
VMN_NL_POLICY(linkinfo_policy, IFLA_INFO_MAX,
	[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
);
VMN_NL_POLICY(addr_policy, IFA_MAX);
VMN_NL_POLICY(route_policy, RTA_MAX,
	[RTA_OIF] = MNL_TYPE_U32,
	[RTA_TABLE] = MNL_TYPE_U32,
);

static struct {
	bool	active;
	bool	links, routes;	/* dumped in this pass, and still true */
} pass;

/* A pass over every VM: the host read once (see the top of the file). */
void
hostlink_pass_begin(void)
{
	pass.active = true;
	pass.links = pass.routes = false;
}

void
hostlink_pass_end(void)
{
	pass.active = pass.links = pass.routes = false;
}

/* host-netd changed links (and with them routes), or only a link's MTU. */
static void
changed(bool routes_too)
{
	pass.links = false;
	if (routes_too)
		pass.routes = false;
}

static bool
link_parse(const struct nlmsghdr *nlh, struct linkinfo *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1];

	if (vmn_nl_parse(nlh, sizeof(*ifi), &link_policy, tb) < 0)
		return false;
	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	if (tb[IFLA_IFNAME])
		snprintf(l->name, sizeof(l->name), "%s",
		    mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_IFALIAS])
		snprintf(l->alias, sizeof(l->alias), "%.*s",
		    (int)mnl_attr_get_payload_len(tb[IFLA_IFALIAS]),
		    (const char *)mnl_attr_get_payload(tb[IFLA_IFALIAS]));
	if (tb[IFLA_MTU])
		l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	l->flags = ifi->ifi_flags;
	if (tb[IFLA_LINKINFO]) {
		const struct nlattr *info[IFLA_INFO_MAX + 1];

		l->tun = vmn_nl_parse_nested(tb[IFLA_LINKINFO],
		    &linkinfo_policy, info) == 0 && info[IFLA_INFO_KIND] &&
		    strcmp(mnl_attr_get_str(info[IFLA_INFO_KIND]), "tun") == 0;
	}
	return true;
}

static int
link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct linkdump *d = data;
	struct linkinfo *grown;
	unsigned max;

	if (d->n == d->max) {
		max = d->max ? d->max * 2 : 64;
		if (!(grown = reallocarray(d->l, max, sizeof(*d->l)))) {
			d->short_of_memory = true;
			return MNL_CB_OK;	/* the rest of the dump is read */
		}
		d->l = grown;
		d->max = max;
	}
	if (link_parse(nlh, &d->l[d->n]))
		d->n++;
	return MNL_CB_OK;
}

static void
linkdump_reset(void *data)
{
	struct linkdump *d = data;

	d->n = 0;
	d->short_of_memory = false;
}

static struct linkdump linkdump;

static int
dump_links(struct vmn_nl *nl)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int rc;

	if (pass.active && pass.links)
		return 0;
	rc = vmn_nl_dump_retry(nl, RTM_GETLINK, &ifi, sizeof(ifi), link_cb,
	    linkdump_reset, &linkdump);
	/* A table with links left out answers no question of absence. */
	if (rc == 0 && linkdump.short_of_memory)
		rc = -ENOMEM;
	pass.links = pass.active && rc == 0;
	return rc;
}

static const struct linkinfo *
find_link_name(const char *name)
{
	unsigned i;

	for (i = 0; i < linkdump.n; i++)
		if (strcmp(linkdump.l[i].name, name) == 0)
			return &linkdump.l[i];
	return NULL;
}

static int
get_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWLINK)
		link_parse(nlh, data);
	return MNL_CB_OK;
}

/*
 * One link, by name (index 0) or by index (name NULL), asked of the
 * kernel alone: 1 and *l, 0 if there is none, or -errno. The kernel finds
 * a name among alternative names too: only a link's own name counts.
 */
static int
get_link(struct vmn_nl *nl, const char *name, int index, struct linkinfo *l)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
	struct nlmsghdr *nlh;
	int rc;

	memset(l, 0, sizeof(*l));
	nlh = vmn_nl_new(nl, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	rc = vmn_nl_get(nl, nlh, get_cb, l);
	if (rc == -ENODEV)
		return 0;
	if (rc < 0)
		return rc;
	return l->index > 0 && (!name || strcmp(l->name, name) == 0);
}

static int
link_index(struct vmn_nl *nl, const char *name)
{
	struct linkinfo l;
	int rc;

	if ((rc = get_link(nl, name, 0, &l)) < 0)
		return rc;
	return rc ? l.index : -ENODEV;
}

static void
alias_for(const struct vm *vm, char *buf, size_t len)
{
	snprintf(buf, len, HOSTLINK_ALIAS_PREFIX "%s", vm->conf.name);
}

/*
 * Removes a link named ifname left behind by an earlier run (ours by its
 * alias). 0 if there is none now; -EEXIST if the name belongs to a link
 * that is not ours.
 */
int
hostlink_remove_stale(struct vmn_nl *nl, const char *ifname,
    const char *vmname)
{
	struct linkinfo l;
	int rc;

	if ((rc = get_link(nl, ifname, 0, &l)) <= 0)
		return rc;
	if (strncmp(l.alias, HOSTLINK_ALIAS_PREFIX,
	    strlen(HOSTLINK_ALIAS_PREFIX)) != 0)
		return -EEXIST;
	log_info("vm %s: removing %s left by an earlier run (%s)", vmname,
	    ifname, l.alias);
	return hostlink_delete(nl, l.index);
}

/*
 * The VM's own tap left by an earlier run (its alias names this VM): its
 * index, to be taken over rather than made again, since the QEMU that has
 * it open would not see a new one. 0 if there is none.
 */
int
hostlink_find_tap(struct vmn_nl *nl, const struct vm *vm)
{
	struct linkinfo l;
	char alias[64];
	int rc;

	if ((rc = get_link(nl, vm->conf.host_ifname, 0, &l)) <= 0)
		return rc;
	alias_for(vm, alias, sizeof(alias));
	if (!l.tun || strcmp(l.alias, alias) != 0)
		return 0;
	return l.index;
}

/*
 * At start: links of ours whose VM is configured no more (a registration
 * whose owner went while host-netd was down) are removed.
 */
void
hostlink_sweep(struct vmn_nl *nl, const struct hostd_conf *conf)
{
	size_t plen = strlen(HOSTLINK_ALIAS_PREFIX);
	const struct vm_conf *vc;
	unsigned i;

	if (dump_links(nl) < 0)
		return;
	for (i = 0; i < linkdump.n; i++) {
		const struct linkinfo *l = &linkdump.l[i];

		if (strncmp(l->alias, HOSTLINK_ALIAS_PREFIX, plen) != 0)
			continue;
		TAILQ_FOREACH(vc, &conf->vms, entry)
			if (strcmp(vc->name, l->alias + plen) == 0)
				break;
		if (vc)
			continue;
		log_info("removing %s, left by vm %s which is gone", l->name,
		    l->alias + plen);
		hostlink_delete(nl, l->index);
	}
}

/* Whether a program has the tap open (it has carrier then): QEMU runs. */
bool
hostlink_tap_in_use(struct vmn_nl *nl, int ifindex)
{
	struct linkinfo l;

	return get_link(nl, NULL, ifindex, &l) > 0 && l.tun &&
	    (l.flags & IFF_LOWER_UP);
}

int
hostlink_delete(struct vmn_nl *nl, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	int rc;

	changed(true);
	rc = vmn_nl_request(nl, vmn_nl_new(nl, RTM_DELLINK, 0, &ifi,
	    sizeof(ifi)));
	return rc == -ENODEV ? 0 : rc;
}

/*
 * Does ifindex still exist under this name? 1 yes, 0 no, or -errno.
 * Asked of every VM in the monitor's pass: answered from its one dump.
 */
int
hostlink_exists(struct vmn_nl *nl, int ifindex, const char *ifname)
{
	unsigned i;
	int rc;

	if ((rc = dump_links(nl)) < 0)
		return rc;
	for (i = 0; i < linkdump.n; i++)
		if (linkdump.l[i].index == ifindex)
			return strcmp(linkdump.l[i].name, ifname) == 0;
	return 0;
}

/*
 * The guest's namespace. A name in /run/netns is opened afresh every time
 * (the namespace may have been deleted and made again). A path such as
 * /proc/PID/ns/net is opened once and kept: after host-netd drops its
 * capabilities, opening another process's namespace is no longer allowed.
 */
static int
open_netns(struct vm *vm)
{
	char path[PATH_MAX];
	int fd;

	if (vm->conf.netns[0] == '/' && vm->netns_fd >= 0) {
		fd = fcntl(vm->netns_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (vm->conf.netns[0] == '/')
		snprintf(path, sizeof(path), "%s", vm->conf.netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", vm->conf.netns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (vm->conf.netns[0] == '/')
		vm->netns_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return fd;
}

/*
 * A veth pair: the host end named ifname with the VM's host-side MAC, the
 * other end created directly inside the guest's namespace with guest_mac,
 * under a temporary name that guest-netd replaces.
 */
int
hostlink_create_veth_pair(struct vmn_nl *nl, struct vm *vm,
    const char *ifname, const uint8_t *guest_mac, uint32_t mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *peer_ifi;
	struct nlmsghdr *nlh;
	char peer_name[IFNAMSIZ];
	int nsfd, rc;

	if ((nsfd = open_netns(vm)) < 0)
		return nsfd;
	snprintf(peer_name, sizeof(peer_name), "vmg-%02x%02x%02x",
	    guest_mac[3], guest_mac[4], guest_mac[5]);

	nlh = vmn_nl_new(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi,
	    sizeof(ifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	mnl_attr_put(nlh, IFLA_ADDRESS, VMN_MAC_LEN, vm->host_mac);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer nest starts with its own ifinfomsg. */
	peer_ifi = (struct ifinfomsg *)((char *)nlh + nlh->nlmsg_len);
	memset(peer_ifi, 0, sizeof(*peer_ifi));
	peer_ifi->ifi_family = AF_UNSPEC;
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*peer_ifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	mnl_attr_put(nlh, IFLA_ADDRESS, VMN_MAC_LEN, guest_mac);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	changed(true);
	rc = vmn_nl_request(nl, nlh);
	close(nsfd);
	if (rc < 0)
		return rc;
	return link_index(nl, ifname);
}

/* The VM's own veth pair, under its host-side name. */
int
hostlink_create_veth(struct vmn_nl *nl, struct vm *vm, uint32_t mtu)
{
	return hostlink_create_veth_pair(nl, vm, vm->conf.host_ifname,
	    vm->guest_mac, mtu);
}

/*
 * A persistent tap for QEMU to open by name (as tap-owner, if the VM has
 * one). The VM's MAC is QEMU's business (-device virtio-net,mac=...); the
 * tap gets the host-side MAC.
 */
int
hostlink_create_tap(struct vmn_nl *nl, const struct vm *vm, uint32_t mtu)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	changed(true);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
	    vm->conf.host_ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    /* QEMU run by its user opens it without privileges. */
	    (vm->conf.tap_owner != (uid_t)-1 &&
	    ioctl(fd, TUNSETOWNER, (unsigned long)vm->conf.tap_owner) < 0) ||
	    ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	return link_index(nl, vm->conf.host_ifname);
}

/* ---- addresses of a tap taken over ---------------------------------- */

#define MAX_OLD_ADDRS	16

struct old_addrs {
	int		ifindex;
	unsigned	n;
	struct {
		uint8_t	family, plen;
		uint8_t	addr[16];
	} a[MAX_OLD_ADDRS];
};

static int
addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct old_addrs *o = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1];
	const struct nlattr *a;
	size_t len;

	if ((int)ifa->ifa_index != o->ifindex || o->n >= MAX_OLD_ADDRS ||
	    ifa->ifa_scope == RT_SCOPE_LINK)
		return MNL_CB_OK;	/* fe80::/64 is the kernel's */
	if (vmn_nl_parse(nlh, sizeof(*ifa), &addr_policy, tb) < 0)
		return MNL_CB_OK;
	if (!(a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]))
		return MNL_CB_OK;
	len = mnl_attr_get_payload_len(a);
	if (len != 4 && len != 16)
		return MNL_CB_OK;
	o->a[o->n].family = ifa->ifa_family;
	o->a[o->n].plen = ifa->ifa_prefixlen;
	memcpy(o->a[o->n].addr, mnl_attr_get_payload(a), len);
	o->n++;
	return MNL_CB_OK;
}

static void
old_addrs_reset(void *data)
{
	((struct old_addrs *)data)->n = 0;
}

/*
 * Removes the addresses a tap taken over still has: the VM's addressing
 * may have changed while no host-netd ran, and what it has now is added
 * right after.
 */
int
hostlink_flush_addrs(struct vmn_nl *nl, int ifindex)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct old_addrs o = { .ifindex = ifindex };
	struct nlmsghdr *nlh;
	unsigned i;
	int rc;

	if ((rc = vmn_nl_dump_retry(nl, RTM_GETADDR, &ifa, sizeof(ifa),
	    addr_cb, old_addrs_reset, &o)) < 0)
		return rc;
	changed(true);
	for (i = 0; i < o.n; i++) {
		struct ifaddrmsg del = {
			.ifa_family = o.a[i].family,
			.ifa_prefixlen = o.a[i].plen,
			.ifa_index = (unsigned)ifindex,
		};

		nlh = vmn_nl_new(nl, RTM_DELADDR, 0, &del, sizeof(del));
		mnl_attr_put(nlh, IFA_LOCAL, o.a[i].family == AF_INET ? 4 : 16,
		    o.a[i].addr);
		if ((rc = vmn_nl_request(nl, nlh)) < 0 && rc != -EADDRNOTAVAIL)
			return rc;
	}
	return 0;
}

static int
add_addr(struct vmn_nl *nl, int ifindex, const struct vmn_ip *ip,
    uint8_t plen)
{
	struct ifaddrmsg ifa = {
		.ifa_family = ip->family,
		.ifa_prefixlen = plen,
		.ifa_index = (unsigned)ifindex,
	};
	struct nlmsghdr *nlh;
	size_t alen = vmn_ip_len(ip->family);

	if (ip->family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	changed(true);
	nlh = vmn_nl_new(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa,
	    sizeof(ifa));
	mnl_attr_put(nlh, IFA_LOCAL, alen, &ip->u);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &ip->u);
	if (ip->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	mnl_attr_put_u8(nlh, IFA_PROTO, VMN_RTPROT);
	return vmn_nl_request(nl, nlh);
}

int
hostlink_set_mtu(struct vmn_nl *nl, int ifindex, uint32_t mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nlmsghdr *nlh = vmn_nl_new(nl, RTM_NEWLINK, 0, &ifi, sizeof(ifi));

	changed(false);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return vmn_nl_request(nl, nlh);
}

/*
 * The host side of a VM link, set before it comes up. The guest is
 * untrusted: the host must take nothing from it that configures the host.
 * A router advertisement would give the host a default route through the
 * VM (and "default" may say accept_ra=2, see forwarding_enable()); a
 * redirect would steer the host's traffic. Duplicate address detection on
 * a point-to-point link whose MACs we chose only delays IPv6.
 */
static int
harden_link(const char *ifname)
{
	static const struct {
		const char *family, *key, *value;
	} settings[] = {
		{ "ipv6", "accept_ra", "0" },
		{ "ipv6", "autoconf", "0" },
		{ "ipv6", "accept_redirects", "0" },
		{ "ipv6", "accept_dad", "0" },
		{ "ipv4", "accept_redirects", "0" },
		{ "ipv4", "send_redirects", "0" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		rc = vmn_sysctl_link(settings[i].family, ifname,
		    settings[i].key, settings[i].value);
		/* No IPv6 on this host is fine; anything else is not. */
		if (rc < 0 && !(rc == -ENOENT &&
		    strcmp(settings[i].family, "ipv6") == 0)) {
			log_warnx("%s: %s.%s: %s", ifname, settings[i].family,
			    settings[i].key, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * A link of ours set up and brought up: hardened, named ours by its alias,
 * with the host-side MAC and MTU.
 */
static int
link_up(struct vmn_nl *nl, const struct vm *vm, int ifindex,
    const char *ifname)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
	    .ifi_index = ifindex, .ifi_change = IFF_UP, .ifi_flags = IFF_UP };
	struct nlmsghdr *nlh;
	char alias[64];
	int rc;

	if ((rc = harden_link(ifname)) < 0)
		return rc;
	changed(true);		/* up, its addresses' routes come */
	alias_for(vm, alias, sizeof(alias));
	nlh = vmn_nl_new(nl, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	mnl_attr_put(nlh, IFLA_ADDRESS, VMN_MAC_LEN, vm->host_mac);
	if (vm->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, vm->mtu);
	return vmn_nl_request(nl, nlh);
}

/*
 * A mirrored guest's link is only a port the steering moves frames
 * through: no address, not even IPv6's link-local, so the host never talks
 * on it (the guest has the uplink's MAC and addresses). A link for an L3
 * uplink keeps IPv6 on, without addresses: the pinned neighbours of the
 * guest's IPv6 addresses need it.
 */
int
hostlink_configure_port(struct vmn_nl *nl, const struct vm *vm, int ifindex,
    const char *ifname, bool keep_ipv6)
{
	int rc;

	rc = vmn_sysctl_link("ipv6", ifname, "addr_gen_mode", "1");
	if (rc == 0 && !keep_ipv6)
		rc = vmn_sysctl_link("ipv6", ifname, "disable_ipv6", "1");
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return link_up(nl, vm, ifindex, ifname);
}

/* A NAT VM's link: hardened, up, with the gateway addresses. */
int
hostlink_configure(struct vmn_nl *nl, const struct vm *vm)
{
	struct vmn_ip gw;
	int rc;

	if ((rc = link_up(nl, vm, vm->ifindex, vm->conf.host_ifname)) < 0)
		return rc;
	vm_gateway4(vm, &gw);
	if ((rc = add_addr(nl, vm->ifindex, &gw, vm->subnet4.plen)) < 0)
		return rc;
	if (vm->subnet6.ip.family) {
		vm_gateway6(vm, &gw);
		if ((rc = add_addr(nl, vm->ifindex, &gw, vm->subnet6.plen)) < 0)
			return rc;
	}
	return 0;
}

/*
 * A neighbour entry that never expires nor is asked for: how the host
 * reaches the guest's addresses on a link it has no address on.
 */
int
hostlink_neigh_pin(struct vmn_nl *nl, int ifindex, const struct vmn_ip *ip,
    const uint8_t *mac)
{
	struct ndmsg ndm = {
		.ndm_family = ip->family,
		.ndm_ifindex = ifindex,
		.ndm_state = NUD_PERMANENT,
	};
	struct nlmsghdr *nlh;

	nlh = vmn_nl_new(nl, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &ndm,
	    sizeof(ndm));
	mnl_attr_put(nlh, NDA_DST, vmn_ip_len(ip->family), &ip->u);
	mnl_attr_put(nlh, NDA_LLADDR, VMN_MAC_LEN, mac);
	return vmn_nl_request(nl, nlh);
}

/* ---- routes and uplinks --------------------------------------------- */

#define MAX_DUMP_ROUTES	4096

struct route_entry {
	struct vmn_prefix	dst;
	int			oif[MAX_UPLINKS];
	unsigned		noif;
	uint8_t			type;
};

struct routedump {
	unsigned		n;
	struct route_entry	r[MAX_DUMP_ROUTES];
};

static struct routedump routedump;

static int
route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct routedump *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1];
	size_t alen = vmn_ip_len(rtm->rtm_family);
	struct route_entry *r;

	if (d->n >= MAX_DUMP_ROUTES || alen == 0 ||
	    rtm->rtm_type == RTN_MULTICAST || rtm->rtm_type == RTN_BROADCAST ||
	    vmn_nl_parse(nlh, sizeof(*rtm), &route_policy, tb) < 0)
		return MNL_CB_OK;
	r = &d->r[d->n];
	memset(r, 0, sizeof(*r));
	r->type = rtm->rtm_type;
	r->dst.ip.family = rtm->rtm_family;
	r->dst.plen = rtm->rtm_dst_len;
	if (tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
			return MNL_CB_OK;
		memcpy(&r->dst.ip.u, mnl_attr_get_payload(tb[RTA_DST]), alen);
	}
	if (rtm->rtm_family == AF_INET6 &&
	    (r->dst.ip.u.b[0] == 0xff ||
	    (r->dst.ip.u.b[0] == 0xfe && (r->dst.ip.u.b[1] & 0xc0) == 0x80)))
		return MNL_CB_OK;	/* multicast, link-local */
	if (tb[RTA_OIF])
		r->oif[r->noif++] = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_MULTIPATH]) {
		const struct rtnexthop *nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);
		int left = (int)mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);

		while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) &&
		    nh->rtnh_len <= left && r->noif < MAX_UPLINKS) {
			r->oif[r->noif++] = nh->rtnh_ifindex;
			left -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
	}
	d->n++;
	return MNL_CB_OK;
}

static void
routedump_reset(void *data)
{
	((struct routedump *)data)->n = 0;
}

static int
dump_routes(struct vmn_nl *nl)
{
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
	int rc;

	if (pass.active && pass.routes)
		return 0;
	/* A route dump covers every table: VPN policy tables included. */
	rc = vmn_nl_dump_retry(nl, RTM_GETROUTE, &rtm, sizeof(rtm), route_cb,
	    routedump_reset, &routedump);
	pass.routes = pass.active && rc == 0;
	return rc;
}

/* Every route destination on the host, with its first output interface. */
int
hostlink_routes(struct vmn_nl *nl, struct vmn_prefix *out, int *oifs,
    size_t max)
{
	unsigned i, n = 0;
	int rc;

	if ((rc = dump_routes(nl)) < 0)
		return rc;
	for (i = 0; i < routedump.n && n < max; i++) {
		out[n] = routedump.r[i].dst;
		oifs[n] = routedump.r[i].noif ? routedump.r[i].oif[0] : 0;
		n++;
	}
	return (int)n;
}

static void
uplink_add(struct uplinks *up, const struct linkinfo *l)
{
	unsigned i;

	for (i = 0; i < up->n; i++)
		if (up->index[i] == l->index)
			return;
	if (up->n >= MAX_UPLINKS)
		return;
	up->index[up->n] = l->index;
	snprintf(up->name[up->n], IFNAMSIZ, "%s", l->name);
	up->n++;
	if (l->mtu && (up->min_mtu == 0 || l->mtu < up->min_mtu))
		up->min_mtu = l->mtu;
}

static const struct linkinfo *
find_link_index(int index)
{
	unsigned i;

	for (i = 0; i < linkdump.n; i++)
		if (linkdump.l[i].index == index)
			return &linkdump.l[i];
	return NULL;
}

/*
 * The uplinks are the configured ones, or else every interface that
 * carries a default route or half of one (0/1, 128/1: how OpenVPN and
 * others take over) in any table, so a VPN's tunnel counts. Our own VM
 * links never do.
 */
int
hostlink_uplinks(struct vmn_nl *nl, const struct hostd_conf *conf,
    struct uplinks *up)
{
	const struct linkinfo *l;
	unsigned i, j;
	int rc;

	memset(up, 0, sizeof(*up));
	if ((rc = dump_links(nl)) < 0)
		return rc;
	if (conf->nuplinks) {
		for (i = 0; i < conf->nuplinks; i++)
			if ((l = find_link_name(conf->uplinks[i])))
				uplink_add(up, l);
		return 0;
	}
	if ((rc = dump_routes(nl)) < 0)
		return rc;
	for (i = 0; i < routedump.n; i++) {
		const struct route_entry *r = &routedump.r[i];

		if (r->dst.plen > 1 || r->type != RTN_UNICAST)
			continue;
		for (j = 0; j < r->noif; j++) {
			l = find_link_index(r->oif[j]);
			if (l && strncmp(l->alias, HOSTLINK_ALIAS_PREFIX,
			    strlen(HOSTLINK_ALIAS_PREFIX)) != 0)
				uplink_add(up, l);
		}
	}
	return 0;
}
