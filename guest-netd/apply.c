/*
 * apply.c - guest-netd: apply links, sysctls, addresses, neighbours, routes
 *
 * Theory of operation
 *
 * A transaction carries the complete desired state. Applying it is mark and
 * sweep: every desired object is added with NLM_F_REPLACE (so re-applying
 * after a restart creates no duplicates), then the kernel's objects are
 * dumped and those tagged with VMN_RTPROT that are no longer desired are
 * deleted. Objects anyone else made (kernel prefix routes, link-local
 * addresses, a user's own routes) are never touched.
 *
 * Links are found by MAC, the one identity the host controls, and renamed
 * to the name the host asks for; renaming needs the link down, so it is
 * brought down first and up again after its sysctls are set.
 *
 * lo is brought up whenever it is down (a new network namespace starts with
 * it down): the DNS tunnel address lives there and forwarded connections
 * reach the guest's servers through it, so a guest with lo down would look
 * online with its tunnel and forwards dead.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "apply.h"
#include "log.h"
#include "nl.h"
#include "sysctl.h"

#define MAX_KERNEL_LINKS	256

struct klink {
	int		index;
	unsigned	flags;
	unsigned	mtu;
	char		name[IFNAMSIZ];
	uint8_t		mac[VMN_MAC_LEN];
	int		has_mac;
};

struct klinks {
	unsigned	n;
	struct klink	l[MAX_KERNEL_LINKS];
};

struct applier {
	struct vmn_nl			*nl;
	const struct vmn_netconf	*nc;
	int				 ifindex[VMN_NC_MAX_LINKS];
	bool				 was_up[VMN_NC_MAX_LINKS];
	char				*err;
	size_t				 errlen;
	int				 rc;
};

static int
fail(struct applier *a, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct applier *a, int rc, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(a->err, a->errlen, "%s: %s", what, vmn_nl_strerror(a->nl, rc));
	a->rc = rc;
	return rc;
}

/* ---- links ---------------------------------------------------------- */

VMN_NL_POLICY(link_policy, IFLA_MAX,
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
);

static int
link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct klinks *ks = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	struct klink *k;

	if (ks->n >= MAX_KERNEL_LINKS)
		return MNL_CB_OK;
	if (vmn_nl_parse(nlh, sizeof(*ifi), &link_policy, tb) < 0)
		return MNL_CB_OK;
	k = &ks->l[ks->n];
	memset(k, 0, sizeof(*k));
	k->index = ifi->ifi_index;
	k->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		snprintf(k->name, sizeof(k->name), "%s",
		    mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		k->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS] &&
	    mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == VMN_MAC_LEN) {
		memcpy(k->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]),
		    VMN_MAC_LEN);
		k->has_mac = 1;
	}
	ks->n++;
	return MNL_CB_OK;
}

static void
klinks_reset(void *data)
{
	((struct klinks *)data)->n = 0;
}

static int
dump_links(struct vmn_nl *nl, struct klinks *ks)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };

	return vmn_nl_dump_retry(nl, RTM_GETLINK, &ifi, sizeof(ifi), link_cb,
	    klinks_reset, ks);
}

static int
set_link(struct applier *a, int index, const char *newname, uint32_t mtu,
    int up)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index,
	    .ifi_change = IFF_UP, .ifi_flags = up ? IFF_UP : 0 };
	struct nlmsghdr *nlh = vmn_nl_new(a->nl, RTM_NEWLINK, 0, &ifi,
	    sizeof(ifi));

	if (newname)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return vmn_nl_request(a->nl, nlh);
}

/* A link mirroring a host's L3 uplink (a VPN) resolves no neighbours. */
static int
set_noarp(struct applier *a, int index, bool on)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index,
	    .ifi_change = IFF_NOARP, .ifi_flags = on ? IFF_NOARP : 0 };

	return vmn_nl_request(a->nl, vmn_nl_new(a->nl, RTM_NEWLINK, 0, &ifi,
	    sizeof(ifi)));
}

static int
apply_links(struct applier *a)
{
	static struct klinks ks;
	const struct vmn_netconf *nc = a->nc;
	char mac[VMN_MAC_STRLEN];
	unsigned i, j;
	int rc;

	if ((rc = dump_links(a->nl, &ks)) < 0)
		return fail(a, rc, "listing links");
	for (j = 0; j < ks.n; j++)
		if ((ks.l[j].flags & IFF_LOOPBACK) && !(ks.l[j].flags & IFF_UP)) {
			if ((rc = set_link(a, ks.l[j].index, NULL, 0, 1)) < 0)
				return fail(a, rc, "bringing %s up",
				    ks.l[j].name);
			log_info("%s was down: brought it up", ks.l[j].name);
		}
	for (i = 0; i < nc->nlinks; i++) {
		const struct vmn_nc_link *want = &nc->links[i];
		struct klink *k = NULL;

		for (j = 0; j < ks.n; j++)
			if (ks.l[j].has_mac &&
			    memcmp(ks.l[j].mac, want->mac, VMN_MAC_LEN) == 0)
				k = &ks.l[j];
		if (!k) {
			a->nl->errmsg[0] = '\0';
			return fail(a, -ENODEV, "no link with MAC %s",
			    vmn_mac_ntop(want->mac, mac, sizeof(mac)));
		}
		a->ifindex[i] = k->index;
		if (strcmp(k->name, want->name) != 0) {
			for (j = 0; j < ks.n; j++)
				if (strcmp(ks.l[j].name, want->name) == 0) {
					a->nl->errmsg[0] = '\0';
					return fail(a, -EEXIST,
					    "renaming %s to %s: the name "
					    "belongs to another link",
					    k->name, want->name);
				}
			if ((rc = set_link(a, k->index, NULL, 0, 0)) < 0 ||
			    (rc = set_link(a, k->index, want->name, 0, 0)) < 0)
				return fail(a, rc, "renaming %s to %s",
				    k->name, want->name);
			log_info("link %s renamed %s", k->name, want->name);
			snprintf(k->name, sizeof(k->name), "%s", want->name);
			k->flags &= ~IFF_UP;	/* renaming took it down */
		}
		if (want->mtu && want->mtu != k->mtu &&
		    (rc = set_link(a, k->index, NULL, want->mtu,
		    (k->flags & IFF_UP) != 0)) < 0)
			return fail(a, rc, "setting %s mtu %u", want->name,
			    want->mtu);
		if (want->noarp != ((k->flags & IFF_NOARP) != 0) &&
		    (rc = set_noarp(a, k->index, want->noarp)) < 0)
			return fail(a, rc, "setting %s arp %s", want->name,
			    want->noarp ? "off" : "on");
		a->was_up[i] = (k->flags & IFF_UP) != 0;
	}
	return 0;
}

/* Up only after the sysctls: IPv6 settings must precede the link-local. */
static int
links_up(struct applier *a)
{
	unsigned i;
	int rc;

	for (i = 0; i < a->nc->nlinks; i++)
		if (!a->was_up[i] &&
		    (rc = set_link(a, a->ifindex[i], NULL, 0, 1)) < 0)
			return fail(a, rc, "bringing %s up",
			    a->nc->links[i].name);
	return 0;
}

static int
link_index(const struct applier *a, const char *ifname)
{
	unsigned i;

	for (i = 0; i < a->nc->nlinks; i++)
		if (strcmp(a->nc->links[i].name, ifname) == 0)
			return a->ifindex[i];
	/* lo is nobody's to configure, but addresses may live there. */
	if (strcmp(ifname, "lo") == 0)
		return (int)if_nametoindex("lo");
	return 0;
}

/* ---- sysctls -------------------------------------------------------- */

static int
apply_sysctls(struct applier *a)
{
	unsigned i;
	int rc;

	for (i = 0; i < a->nc->nsysctls; i++) {
		const struct vmn_nc_sysctl *s = &a->nc->sysctls[i];
		char path[160];

		if ((rc = vmn_sysctl_path(s->name, path, sizeof(path))) < 0 ||
		    (rc = vmn_sysctl_write(path, s->value)) < 0) {
			a->nl->errmsg[0] = '\0';
			return fail(a, rc, "sysctl %s=%s", s->name, s->value);
		}
	}
	return 0;
}

/* ---- addresses ------------------------------------------------------ */

static int
put_addr(struct applier *a, int cmd, uint16_t flags, int index,
    const struct vmn_prefix *p)
{
	struct ifaddrmsg ifa = {
		.ifa_family = p->ip.family,
		.ifa_prefixlen = p->plen,
		.ifa_index = (unsigned)index,
		.ifa_scope = RT_SCOPE_UNIVERSE,
	};
	struct nlmsghdr *nlh;
	size_t alen = vmn_ip_len(p->ip.family);

	/* No DAD: the host guarantees the address; it works at once. */
	if (p->ip.family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	nlh = vmn_nl_new(a->nl, cmd, flags, &ifa, sizeof(ifa));
	mnl_attr_put(nlh, IFA_LOCAL, alen, &p->ip.u);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &p->ip.u);
	if (cmd == RTM_NEWADDR) {
		if (p->ip.family == AF_INET && p->plen < 31) {
			struct vmn_prefix net = *p;
			struct vmn_ip bcast;

			vmn_prefix_normalize(&net);
			vmn_prefix_host(&net, (1ull << (32 - p->plen)) - 1,
			    &bcast);
			mnl_attr_put(nlh, IFA_BROADCAST, 4, &bcast.u);
		}
		if (p->ip.family == AF_INET6)
			mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
		mnl_attr_put_u8(nlh, IFA_PROTO, VMN_RTPROT);
	}
	return vmn_nl_request(a->nl, nlh);
}

struct kaddr {
	int			index;
	struct vmn_prefix	pfx;
	uint8_t			proto;
};

#define MAX_KERNEL_ADDRS	256
struct kaddrs {
	unsigned	n;
	struct kaddr	a[MAX_KERNEL_ADDRS];
};

VMN_NL_POLICY(addr_policy, IFA_MAX,
	[IFA_PROTO] = MNL_TYPE_U8,
);

static int
addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kaddrs *ks = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct nlattr *addr;
	struct kaddr *k;
	size_t alen = vmn_ip_len(ifa->ifa_family);

	if (ks->n >= MAX_KERNEL_ADDRS || alen == 0)
		return MNL_CB_OK;
	if (vmn_nl_parse(nlh, sizeof(*ifa), &addr_policy, tb) < 0)
		return MNL_CB_OK;
	addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!addr || mnl_attr_get_payload_len(addr) != alen)
		return MNL_CB_OK;
	k = &ks->a[ks->n++];
	memset(k, 0, sizeof(*k));
	k->index = (int)ifa->ifa_index;
	k->pfx.ip.family = ifa->ifa_family;
	memcpy(&k->pfx.ip.u, mnl_attr_get_payload(addr), alen);
	k->pfx.plen = ifa->ifa_prefixlen;
	if (tb[IFA_PROTO])
		k->proto = mnl_attr_get_u8(tb[IFA_PROTO]);
	return MNL_CB_OK;
}

static void
kaddrs_reset(void *data)
{
	((struct kaddrs *)data)->n = 0;
}

static bool
addr_wanted(const struct applier *a, const struct kaddr *k)
{
	unsigned i;

	for (i = 0; i < a->nc->naddrs; i++) {
		const struct vmn_nc_addr *w = &a->nc->addrs[i];

		if (link_index(a, w->ifname) == k->index &&
		    vmn_ip_equal(&w->pfx.ip, &k->pfx.ip) &&
		    w->pfx.plen == k->pfx.plen)
			return true;
	}
	return false;
}

static int
apply_addrs(struct applier *a)
{
	static struct kaddrs ks;
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	char buf[VMN_PREFIX_STRLEN];
	unsigned i;
	int rc;

	for (i = 0; i < a->nc->naddrs; i++) {
		const struct vmn_nc_addr *w = &a->nc->addrs[i];

		rc = put_addr(a, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
		    link_index(a, w->ifname), &w->pfx);
		if (rc < 0)
			return fail(a, rc, "adding address %s to %s",
			    vmn_prefix_ntop(&w->pfx, buf, sizeof(buf)),
			    w->ifname);
	}
	if ((rc = vmn_nl_dump_retry(a->nl, RTM_GETADDR, &ifa, sizeof(ifa),
	    addr_cb, kaddrs_reset, &ks)) < 0)
		return fail(a, rc, "listing addresses");
	for (i = 0; i < ks.n; i++) {
		struct kaddr *k = &ks.a[i];

		if (k->proto != VMN_RTPROT || addr_wanted(a, k))
			continue;
		log_info("removing stale address %s",
		    vmn_prefix_ntop(&k->pfx, buf, sizeof(buf)));
		rc = put_addr(a, RTM_DELADDR, 0, k->index, &k->pfx);
		if (rc < 0 && rc != -EADDRNOTAVAIL)
			return fail(a, rc, "removing address %s", buf);
	}
	return 0;
}

/* ---- neighbours ----------------------------------------------------- */

static int
put_neigh(struct applier *a, int cmd, uint16_t flags, int index,
    const struct vmn_ip *ip, const uint8_t *lladdr)
{
	struct ndmsg ndm = {
		.ndm_family = ip->family,
		.ndm_ifindex = index,
		.ndm_state = NUD_PERMANENT,
	};
	struct nlmsghdr *nlh = vmn_nl_new(a->nl, cmd, flags, &ndm, sizeof(ndm));

	mnl_attr_put(nlh, NDA_DST, vmn_ip_len(ip->family), &ip->u);
	if (lladdr) {
		mnl_attr_put(nlh, NDA_LLADDR, VMN_MAC_LEN, lladdr);
		mnl_attr_put_u8(nlh, NDA_PROTOCOL, VMN_RTPROT);
	}
	return vmn_nl_request(a->nl, nlh);
}

struct kneigh {
	int		index;
	struct vmn_ip	ip;
	uint8_t		proto;
};

#define MAX_KERNEL_NEIGHS	512
struct kneighs {
	unsigned	n;
	struct kneigh	e[MAX_KERNEL_NEIGHS];
};

VMN_NL_POLICY(neigh_policy, NDA_MAX,
	[NDA_PROTOCOL] = MNL_TYPE_U8,
);

static int
neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kneighs *ks = data;
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	size_t alen = vmn_ip_len(ndm->ndm_family);
	struct kneigh *k;

	if (ks->n >= MAX_KERNEL_NEIGHS || alen == 0 ||
	    !(ndm->ndm_state & NUD_PERMANENT))
		return MNL_CB_OK;
	if (vmn_nl_parse(nlh, sizeof(*ndm), &neigh_policy, tb) < 0)
		return MNL_CB_OK;
	if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != alen ||
	    !tb[NDA_PROTOCOL])
		return MNL_CB_OK;
	k = &ks->e[ks->n++];
	memset(k, 0, sizeof(*k));
	k->index = ndm->ndm_ifindex;
	k->ip.family = ndm->ndm_family;
	memcpy(&k->ip.u, mnl_attr_get_payload(tb[NDA_DST]), alen);
	k->proto = mnl_attr_get_u8(tb[NDA_PROTOCOL]);
	return MNL_CB_OK;
}

static void
kneighs_reset(void *data)
{
	((struct kneighs *)data)->n = 0;
}

static int
apply_neighs(struct applier *a)
{
	static struct kneighs ks;
	struct ndmsg ndm = { .ndm_family = AF_UNSPEC };
	char buf[VMN_IP_STRLEN];
	unsigned i, j;
	int rc;

	for (i = 0; i < a->nc->nneighs; i++) {
		const struct vmn_nc_neigh *w = &a->nc->neighs[i];

		rc = put_neigh(a, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
		    link_index(a, w->ifname), &w->ip, w->lladdr);
		if (rc < 0)
			return fail(a, rc, "adding neighbour %s on %s",
			    vmn_ip_ntop(&w->ip, buf, sizeof(buf)), w->ifname);
	}
	if ((rc = vmn_nl_dump_retry(a->nl, RTM_GETNEIGH, &ndm, sizeof(ndm),
	    neigh_cb, kneighs_reset, &ks)) < 0)
		return fail(a, rc, "listing neighbours");
	for (i = 0; i < ks.n; i++) {
		struct kneigh *k = &ks.e[i];
		bool wanted = false;

		if (k->proto != VMN_RTPROT)
			continue;
		for (j = 0; j < a->nc->nneighs; j++)
			if (link_index(a, a->nc->neighs[j].ifname) == k->index &&
			    vmn_ip_equal(&a->nc->neighs[j].ip, &k->ip))
				wanted = true;
		if (wanted)
			continue;
		log_info("removing stale neighbour %s",
		    vmn_ip_ntop(&k->ip, buf, sizeof(buf)));
		rc = put_neigh(a, RTM_DELNEIGH, 0, k->index, &k->ip, NULL);
		if (rc < 0 && rc != -ENOENT)
			return fail(a, rc, "removing neighbour %s", buf);
	}
	return 0;
}

/* ---- routes --------------------------------------------------------- */

/* The kernel stores IPv6 routes added with metric 0 as 1024. */
static uint32_t
effective_metric(int family, uint32_t metric)
{
	return family == AF_INET6 && metric == 0 ? 1024 : metric;
}

static int
put_route(struct applier *a, int cmd, uint16_t flags, int index,
    const struct vmn_prefix *dst, const struct vmn_ip *gw, uint32_t metric)
{
	struct rtmsg rtm = {
		.rtm_family = dst->ip.family,
		.rtm_dst_len = dst->plen,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = VMN_RTPROT,
		.rtm_scope = gw && gw->family ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	struct nlmsghdr *nlh = vmn_nl_new(a->nl, cmd, flags, &rtm, sizeof(rtm));
	size_t alen = vmn_ip_len(dst->ip.family);

	if (dst->plen)
		mnl_attr_put(nlh, RTA_DST, alen, &dst->ip.u);
	if (gw && gw->family)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, &gw->u);
	if (index)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
	mnl_attr_put_u32(nlh, RTA_PRIORITY,
	    effective_metric(dst->ip.family, metric));
	return vmn_nl_request(a->nl, nlh);
}

struct kroute {
	int			index;
	struct vmn_prefix	dst;
	struct vmn_ip		gw;
	uint32_t		metric;
};

#define MAX_KERNEL_ROUTES	1024
struct kroutes {
	unsigned	n;
	struct kroute	r[MAX_KERNEL_ROUTES];
};

VMN_NL_POLICY(route_policy, RTA_MAX,
	[RTA_TABLE] = MNL_TYPE_U32,
	[RTA_OIF] = MNL_TYPE_U32,
	[RTA_PRIORITY] = MNL_TYPE_U32,
);

static int
route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kroutes *ks = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	size_t alen = vmn_ip_len(rtm->rtm_family);
	uint32_t table = rtm->rtm_table;
	struct kroute *k;

	/* Only ours: the sweep never looks at anything else. */
	if (ks->n >= MAX_KERNEL_ROUTES || alen == 0 ||
	    rtm->rtm_protocol != VMN_RTPROT)
		return MNL_CB_OK;
	if (vmn_nl_parse(nlh, sizeof(*rtm), &route_policy, tb) < 0)
		return MNL_CB_OK;
	if (tb[RTA_TABLE])
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	k = &ks->r[ks->n++];
	memset(k, 0, sizeof(*k));
	k->dst.ip.family = rtm->rtm_family;
	k->dst.plen = rtm->rtm_dst_len;
	if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == alen)
		memcpy(&k->dst.ip.u, mnl_attr_get_payload(tb[RTA_DST]), alen);
	if (tb[RTA_GATEWAY] && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == alen) {
		k->gw.family = rtm->rtm_family;
		memcpy(&k->gw.u, mnl_attr_get_payload(tb[RTA_GATEWAY]), alen);
	}
	if (tb[RTA_OIF])
		k->index = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PRIORITY])
		k->metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	return MNL_CB_OK;
}

static void
kroutes_reset(void *data)
{
	((struct kroutes *)data)->n = 0;
}

static bool
route_wanted(const struct applier *a, const struct kroute *k)
{
	unsigned i;

	for (i = 0; i < a->nc->nroutes; i++) {
		const struct vmn_nc_route *w = &a->nc->routes[i];

		if (w->dst.plen == k->dst.plen &&
		    vmn_ip_equal(&w->dst.ip, &k->dst.ip) &&
		    effective_metric(w->dst.ip.family, w->metric) == k->metric &&
		    link_index(a, w->ifname) == k->index &&
		    (w->gw.family ? vmn_ip_equal(&w->gw, &k->gw) : !k->gw.family))
			return true;
	}
	return false;
}

static int
apply_routes(struct applier *a)
{
	static struct kroutes ks;
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
	char buf[VMN_PREFIX_STRLEN];
	unsigned i;
	int rc;

	for (i = 0; i < a->nc->nroutes; i++) {
		const struct vmn_nc_route *w = &a->nc->routes[i];

		rc = put_route(a, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
		    link_index(a, w->ifname), &w->dst, &w->gw, w->metric);
		if (rc < 0)
			return fail(a, rc, "adding route %s via %s",
			    vmn_prefix_ntop(&w->dst, buf, sizeof(buf)),
			    w->ifname);
	}
	if ((rc = vmn_nl_dump_retry(a->nl, RTM_GETROUTE, &rtm, sizeof(rtm),
	    route_cb, kroutes_reset, &ks)) < 0)
		return fail(a, rc, "listing routes");
	for (i = 0; i < ks.n; i++) {
		struct kroute *k = &ks.r[i];

		if (route_wanted(a, k))
			continue;
		log_info("removing stale route %s",
		    vmn_prefix_ntop(&k->dst, buf, sizeof(buf)));
		rc = put_route(a, RTM_DELROUTE, 0, k->index, &k->dst, &k->gw,
		    k->metric);
		if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
			return fail(a, rc, "removing route %s", buf);
	}
	return 0;
}

/*
 * Links first (everything else refers to them by index), then sysctls
 * (they name links and must precede IPv6 addresses and the link-local
 * address the kernel adds when the link comes up), up, addresses (routes
 * need their prefixes), neighbours (so the gateway resolves at once) and
 * routes. Each step sweeps its own stale objects.
 */
int
apply_netconf(struct vmn_nl *nl, const struct vmn_netconf *nc, char *err,
    size_t errlen)
{
	struct applier a = { .nl = nl, .nc = nc, .err = err, .errlen = errlen };

	err[0] = '\0';
	if (apply_links(&a) < 0 || apply_sysctls(&a) < 0 || links_up(&a) < 0 ||
	    apply_addrs(&a) < 0 || apply_neighs(&a) < 0 ||
	    apply_routes(&a) < 0)
		return a.rc;
	return 0;
}
