/*
 * hostview.c - mirrored mode: a host uplink as its guests are to see it
 *
 * What a mirrored guest gets of an uplink: its MAC (none on an L3 uplink,
 * a VPN's tun or WireGuard device), MTU and state, its
 * addresses but for link-local ones (the guest has none: its frames carry
 * a global source, and the host answers for fe80), and the routes of the
 * main table that leave through it, but for those the guest's kernel makes
 * itself from the addresses (the on-link prefixes) and those that are not
 * unicast. Read fresh from the kernel each time: the monitor calls this
 * when the host's links, addresses or routes change.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <net/if_arp.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "hostview.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP	0x10000		/* <linux/if.h>, which <net/if.h> hides */
#endif

VMN_NL_POLICY(link_policy, IFLA_MAX,
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
);
VMN_NL_POLICY(addr_policy, IFA_MAX,
	[IFA_FLAGS] = MNL_TYPE_U32,
);
VMN_NL_POLICY(route_policy, RTA_MAX,
	[RTA_OIF] = MNL_TYPE_U32,
	[RTA_TABLE] = MNL_TYPE_U32,
	[RTA_PRIORITY] = MNL_TYPE_U32,
);

static int
link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mirror_view *v = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1];

	if (vmn_nl_parse(nlh, sizeof(*ifi), &link_policy, tb) < 0 ||
	    !tb[IFLA_IFNAME] ||
	    strcmp(mnl_attr_get_str(tb[IFLA_IFNAME]), v->name) != 0)
		return MNL_CB_OK;
	v->index = ifi->ifi_index;
	v->l3 = ifi->ifi_type != ARPHRD_ETHER;
	v->up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
	if (tb[IFLA_MTU])
		v->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (!v->l3 && tb[IFLA_ADDRESS] &&
	    mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(v->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
	return MNL_CB_OK;
}

static int
addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mirror_view *v = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1], *a;
	size_t alen = vmn_ip_len(ifa->ifa_family);
	uint32_t flags;

	if (alen == 0 || (int)ifa->ifa_index != v->index ||
	    ifa->ifa_scope >= RT_SCOPE_LINK ||
	    vmn_nl_parse(nlh, sizeof(*ifa), &addr_policy, tb) < 0)
		return MNL_CB_OK;
	flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) :
	    ifa->ifa_flags;
	if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return MNL_CB_OK;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return MNL_CB_OK;
	if (v->naddrs >= MIRROR_MAX_ADDRS) {
		v->dropped++;
		return MNL_CB_OK;
	}
	memset(&v->addrs[v->naddrs], 0, sizeof(v->addrs[0]));
	v->addrs[v->naddrs].ip.family = ifa->ifa_family;
	memcpy(&v->addrs[v->naddrs].ip.u, mnl_attr_get_payload(a), alen);
	v->addrs[v->naddrs].plen = ifa->ifa_prefixlen;
	v->naddrs++;
	return MNL_CB_OK;
}

/* An on-link prefix of one of the addresses: the guest's kernel adds it. */
static bool
address_prefix(const struct mirror_view *v, const struct vmn_prefix *dst)
{
	struct vmn_prefix p;
	unsigned i;

	for (i = 0; i < v->naddrs; i++) {
		p = v->addrs[i];
		vmn_prefix_normalize(&p);
		if (p.plen == dst->plen && vmn_ip_equal(&p.ip, &dst->ip))
			return true;
	}
	return false;
}

static int
route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mirror_view *v = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1];
	size_t alen = vmn_ip_len(rtm->rtm_family);
	struct mirror_route r;
	uint32_t table = rtm->rtm_table;

	if (alen == 0 || rtm->rtm_type != RTN_UNICAST ||
	    vmn_nl_parse(nlh, sizeof(*rtm), &route_policy, tb) < 0 ||
	    !tb[RTA_OIF] || (int)mnl_attr_get_u32(tb[RTA_OIF]) != v->index)
		return MNL_CB_OK;
	if (tb[RTA_TABLE])
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	memset(&r, 0, sizeof(r));
	r.dst.ip.family = rtm->rtm_family;
	r.dst.plen = rtm->rtm_dst_len;
	if (tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
			return MNL_CB_OK;
		memcpy(&r.dst.ip.u, mnl_attr_get_payload(tb[RTA_DST]), alen);
	}
	/* fe80::/64 and the like: the guest has no link-local addresses. */
	if (rtm->rtm_family == AF_INET6 && r.dst.plen >= 10 &&
	    r.dst.ip.u.b[0] == 0xfe && (r.dst.ip.u.b[1] & 0xc0) == 0x80)
		return MNL_CB_OK;
	if (tb[RTA_GATEWAY]) {
		if (mnl_attr_get_payload_len(tb[RTA_GATEWAY]) != alen)
			return MNL_CB_OK;
		r.gw.family = rtm->rtm_family;
		memcpy(&r.gw.u, mnl_attr_get_payload(tb[RTA_GATEWAY]), alen);
	} else if (address_prefix(v, &r.dst)) {
		return MNL_CB_OK;
	}
	if (tb[RTA_PRIORITY])
		r.metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	if (v->nroutes >= MIRROR_MAX_ROUTES) {
		v->dropped++;
		return MNL_CB_OK;
	}
	v->routes[v->nroutes++] = r;
	return MNL_CB_OK;
}

static void
reset_addrs(void *data)
{
	((struct mirror_view *)data)->naddrs = 0;
}

static void
reset_routes(void *data)
{
	((struct mirror_view *)data)->nroutes = 0;
}

/* The uplink named ifname as it is now; v->index 0 when it is gone. */
int
mirror_view_read(struct vmn_nl *nl, const char *ifname, struct mirror_view *v)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
	int rc;

	memset(v, 0, sizeof(*v));
	if (strlen(ifname) >= sizeof(v->name))
		return -ENAMETOOLONG;
	strcpy(v->name, ifname);
	if ((rc = vmn_nl_dump_retry(nl, RTM_GETLINK, &ifi, sizeof(ifi),
	    link_cb, NULL, v)) < 0)
		return rc;
	if (v->index == 0)
		return 0;
	/* Addresses first: the routes are judged against them. */
	if ((rc = vmn_nl_dump_retry(nl, RTM_GETADDR, &ifa, sizeof(ifa),
	    addr_cb, reset_addrs, v)) < 0 ||
	    (rc = vmn_nl_dump_retry(nl, RTM_GETROUTE, &rtm, sizeof(rtm),
	    route_cb, reset_routes, v)) < 0)
		return rc;
	return 0;
}

bool
mirror_view_equal(const struct mirror_view *a, const struct mirror_view *b)
{
	unsigned i;

	if (strcmp(a->name, b->name) != 0 || a->index != b->index ||
	    a->l3 != b->l3 ||
	    memcmp(a->mac, b->mac, 6) != 0 || a->mtu != b->mtu ||
	    a->up != b->up || a->naddrs != b->naddrs ||
	    a->nroutes != b->nroutes)
		return false;
	for (i = 0; i < a->naddrs; i++)
		if (a->addrs[i].plen != b->addrs[i].plen ||
		    !vmn_ip_equal(&a->addrs[i].ip, &b->addrs[i].ip))
			return false;
	for (i = 0; i < a->nroutes; i++) {
		const struct mirror_route *x = &a->routes[i], *y = &b->routes[i];

		if (x->dst.plen != y->dst.plen || x->metric != y->metric ||
		    !vmn_ip_equal(&x->dst.ip, &y->dst.ip) ||
		    x->gw.family != y->gw.family ||
		    (x->gw.family && !vmn_ip_equal(&x->gw, &y->gw)))
			return false;
	}
	return true;
}
