/*
 * netconf.c - encoding and decoding of configuration transactions
 *
 * Decoding validates meaning as well as shape: prefix lengths fit the
 * family, routes carry no host bits, strings that end up in files
 * (resolv.conf, proxy environment) hold no control characters, and sysctl
 * names stay under net.*. The guest applies nothing from a transaction that
 * fails here.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "netconf.h"

#define ITEM_BUF	8192	/* the largest item (DNS) fits with room */

/* ---- encoding ------------------------------------------------------- */

struct encoder {
	struct vmn_buf	b;
	vmn_emit_fn	emit;
	void		*arg;
	uint8_t		storage[ITEM_BUF];
};

static int
flush(struct encoder *e)
{
	int len = vmn_msg_end(&e->b);

	if (len < 0)
		return len;
	return e->emit(e->arg, e->b.data, (size_t)len);
}

int
vmn_netconf_encode(const struct vmn_netconf *nc, uint32_t commit_seq,
    vmn_emit_fn emit, void *arg)
{
	struct encoder e = { .emit = emit, .arg = arg };
	struct vmn_buf *b = &e.b;
	unsigned i;
	int rc;

	vmn_buf_init(b, e.storage, sizeof(e.storage));

	vmn_msg_begin(b, VMN_MSG_CONFIG_BEGIN, 0, 0);
	vmn_put_u32(b, VMN_A_GEN, nc->gen);
	if ((rc = flush(&e)) < 0)
		return rc;

	for (i = 0; i < nc->nlinks; i++) {
		const struct vmn_nc_link *l = &nc->links[i];

		vmn_msg_begin(b, VMN_MSG_CONFIG_LINK, 0, 0);
		vmn_put_str(b, VMN_A_IFNAME, l->name);
		vmn_put(b, VMN_A_MAC, l->mac, VMN_MAC_LEN);
		if (l->mtu)
			vmn_put_u32(b, VMN_A_MTU, l->mtu);
		if (l->noarp)
			vmn_put_u8(b, VMN_A_NOARP, 1);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->nsysctls; i++) {
		vmn_msg_begin(b, VMN_MSG_CONFIG_SYSCTL, 0, 0);
		vmn_put_str(b, VMN_A_NAME, nc->sysctls[i].name);
		vmn_put_str(b, VMN_A_VALUE, nc->sysctls[i].value);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->naddrs; i++) {
		const struct vmn_nc_addr *a = &nc->addrs[i];

		vmn_msg_begin(b, VMN_MSG_CONFIG_ADDR, 0, 0);
		vmn_put_str(b, VMN_A_IFNAME, a->ifname);
		vmn_put_ip(b, VMN_A_ADDR, &a->pfx.ip);
		vmn_put_u8(b, VMN_A_PREFIXLEN, a->pfx.plen);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->nneighs; i++) {
		const struct vmn_nc_neigh *n = &nc->neighs[i];

		vmn_msg_begin(b, VMN_MSG_CONFIG_NEIGH, 0, 0);
		vmn_put_str(b, VMN_A_IFNAME, n->ifname);
		vmn_put_ip(b, VMN_A_ADDR, &n->ip);
		vmn_put(b, VMN_A_LLADDR, n->lladdr, VMN_MAC_LEN);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->nroutes; i++) {
		const struct vmn_nc_route *r = &nc->routes[i];

		vmn_msg_begin(b, VMN_MSG_CONFIG_ROUTE, 0, 0);
		vmn_put_str(b, VMN_A_IFNAME, r->ifname);
		vmn_put_ip(b, VMN_A_ADDR, &r->dst.ip);
		vmn_put_u8(b, VMN_A_PREFIXLEN, r->dst.plen);
		if (r->gw.family)
			vmn_put_ip(b, VMN_A_GATEWAY, &r->gw);
		if (r->metric)
			vmn_put_u32(b, VMN_A_METRIC, r->metric);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->nrfwds; i++) {
		vmn_msg_begin(b, VMN_MSG_CONFIG_RFWD, 0, 0);
		vmn_put_u8(b, VMN_A_PROTO, nc->rfwds[i].proto);
		vmn_put_u16(b, VMN_A_PORT, nc->rfwds[i].port);
		vmn_put_u16(b, VMN_A_GUEST_PORT, nc->rfwds[i].guest_port);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	if (nc->dns.present) {
		vmn_msg_begin(b, VMN_MSG_CONFIG_DNS, 0, 0);
		if (nc->dns.tunnel)
			vmn_put_u8(b, VMN_A_DNS_TUNNEL, 1);
		vmn_nest_begin(b, VMN_A_SERVERS);
		for (i = 0; i < nc->dns.nservers; i++)
			vmn_put_ip(b, VMN_A_ADDR, &nc->dns.servers[i]);
		vmn_nest_end(b);
		vmn_nest_begin(b, VMN_A_SEARCH);
		for (i = 0; i < nc->dns.nsearch; i++)
			vmn_put_str(b, VMN_A_NAME, nc->dns.search[i]);
		vmn_nest_end(b);
		if (nc->dns.options[0])
			vmn_put_str(b, VMN_A_OPTIONS, nc->dns.options);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	if (nc->proxy.present) {
		vmn_msg_begin(b, VMN_MSG_CONFIG_PROXY, 0, 0);
		vmn_put_str(b, VMN_A_HTTP_PROXY, nc->proxy.http);
		vmn_put_str(b, VMN_A_HTTPS_PROXY, nc->proxy.https);
		vmn_put_str(b, VMN_A_NO_PROXY, nc->proxy.no_proxy);
		if (nc->proxy.pac[0])
			vmn_put_str(b, VMN_A_PAC_URL, nc->proxy.pac);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	for (i = 0; i < nc->nsnats; i++) {
		vmn_msg_begin(b, VMN_MSG_CONFIG_SNAT, 0, 0);
		vmn_put_str(b, VMN_A_IFNAME, nc->snats[i].ifname);
		vmn_put_u16(b, VMN_A_PORT, nc->snats[i].lo);
		vmn_put_u16(b, VMN_A_PORT_HI, nc->snats[i].hi);
		if ((rc = flush(&e)) < 0)
			return rc;
	}
	vmn_msg_begin(b, VMN_MSG_CONFIG_COMMIT, VMN_F_REQUEST, commit_seq);
	vmn_put_u32(b, VMN_A_GEN, nc->gen);
	return flush(&e);
}

/* ---- decoding ------------------------------------------------------- */

void
vmn_netconf_reset(struct vmn_netconf *nc, uint32_t gen)
{
	memset(nc, 0, sizeof(*nc));
	nc->gen = gen;
}

/* Printable ASCII without whitespace other than ' ' (if allowed). */
static bool
text_ok(const char *s, bool spaces)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x21 || c > 0x7e) {
			if (!(spaces && c == ' '))
				return false;
		}
	}
	return true;
}

static bool
domain_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return false;
	return true;
}

bool
vmn_sysctl_name_ok(const char *name)
{
	const char *p;

	if (strncmp(name, "net.", 4) != 0 || strstr(name, "..") ||
	    name[strlen(name) - 1] == '.')
		return false;
	/* '/' is sysctl(8)'s stand-in for a dot in an interface name. */
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-' && *p != '/')
			return false;
	return !strstr(name, "/.") && !strstr(name, "./") &&
	    !strstr(name, "//");
}

static int
get_ifname(const struct vmn_msg *m, char ifname[IFNAMSIZ], const char **why)
{
	if (vmn_attr_str(&m->tb[VMN_A_IFNAME], ifname, IFNAMSIZ) < 0 ||
	    !text_ok(ifname, false) || strchr(ifname, '/')) {
		*why = "bad interface name";
		return -EINVAL;
	}
	return 0;
}

static int
get_prefix(const struct vmn_msg *m, struct vmn_prefix *p, const char **why)
{
	vmn_attr_ip(&m->tb[VMN_A_ADDR], &p->ip);
	p->plen = vmn_attr_u8(&m->tb[VMN_A_PREFIXLEN]);
	if (p->plen > vmn_ip_len(p->ip.family) * 8) {
		*why = "prefix length too long for the address family";
		return -EINVAL;
	}
	return 0;
}

#define TOO_MANY(n, max, what) \
	do { if ((n) >= (max)) { *why = "too many " what; return -E2BIG; } } while (0)

static int
decode_dns(struct vmn_netconf *nc, const struct vmn_msg *m, const char **why)
{
	struct vmn_nc_dns *d = &nc->dns;
	struct vmn_attr_iter it;
	struct vmn_attr a;
	static const struct vmn_attr_policy addr_pol = { .kind = VMN_AK_INADDR };
	static const struct vmn_attr_policy name_pol = {
		.kind = VMN_AK_STRING, .min_len = 1, .max_len = 253 };

	memset(d, 0, sizeof(*d));
	d->present = true;
	d->tunnel = vmn_attr_present(&m->tb[VMN_A_DNS_TUNNEL]) &&
	    vmn_attr_u8(&m->tb[VMN_A_DNS_TUNNEL]) != 0;
	vmn_attr_for_each(&a, &it, &m->tb[VMN_A_SERVERS]) {
		if (a.type != VMN_A_ADDR || vmn_attr_check(&a, &addr_pol) < 0) {
			*why = "malformed DNS server";
			return -EINVAL;
		}
		TOO_MANY(d->nservers, VMN_NC_MAX_SERVERS, "DNS servers");
		vmn_attr_ip(&a, &d->servers[d->nservers++]);
	}
	vmn_attr_for_each(&a, &it, &m->tb[VMN_A_SEARCH]) {
		char *dst;

		if (a.type != VMN_A_NAME || vmn_attr_check(&a, &name_pol) < 0) {
			*why = "malformed search domain";
			return -EINVAL;
		}
		TOO_MANY(d->nsearch, VMN_NC_MAX_SEARCH, "search domains");
		dst = d->search[d->nsearch];
		vmn_attr_str(&a, dst, VMN_NC_DOMAIN_MAX);
		if (!domain_ok(dst)) {
			*why = "bad search domain";
			return -EINVAL;
		}
		d->nsearch++;
	}
	vmn_attr_str(&m->tb[VMN_A_OPTIONS], d->options, sizeof(d->options));
	if (!text_ok(d->options, true)) {
		*why = "bad resolver options";
		return -EINVAL;
	}
	if (d->tunnel && d->nservers != 1) {
		*why = "a DNS tunnel has exactly one address";
		return -EINVAL;
	}
	return 0;
}

static int
decode_proxy(struct vmn_netconf *nc, const struct vmn_msg *m, const char **why)
{
	struct vmn_nc_proxy *p = &nc->proxy;

	memset(p, 0, sizeof(*p));
	p->present = true;
	if (vmn_attr_str(&m->tb[VMN_A_HTTP_PROXY], p->http, sizeof(p->http)) == -ENAMETOOLONG ||
	    vmn_attr_str(&m->tb[VMN_A_HTTPS_PROXY], p->https, sizeof(p->https)) == -ENAMETOOLONG ||
	    vmn_attr_str(&m->tb[VMN_A_NO_PROXY], p->no_proxy, sizeof(p->no_proxy)) == -ENAMETOOLONG ||
	    vmn_attr_str(&m->tb[VMN_A_PAC_URL], p->pac, sizeof(p->pac)) == -ENAMETOOLONG ||
	    !text_ok(p->http, false) || !text_ok(p->https, false) ||
	    !text_ok(p->no_proxy, false) || !text_ok(p->pac, false)) {
		*why = "bad proxy setting";
		return -EINVAL;
	}
	return 0;
}

/* Adds one item frame of a transaction to nc. */
int
vmn_netconf_decode_item(struct vmn_netconf *nc, const struct vmn_msg *m,
    const char **why)
{
	/* Parsed with the error policy: none of the item's checks held. */
	if (m->hdr.flags & VMN_F_ERROR) {
		*why = "an error frame where a configuration item belongs";
		return -EPROTO;
	}
	switch (m->hdr.type) {
	case VMN_MSG_CONFIG_LINK: {
		struct vmn_nc_link *l;

		TOO_MANY(nc->nlinks, VMN_NC_MAX_LINKS, "links");
		l = &nc->links[nc->nlinks];
		if (get_ifname(m, l->name, why) < 0)
			return -EINVAL;
		memcpy(l->mac, m->tb[VMN_A_MAC].data, VMN_MAC_LEN);
		l->noarp = vmn_attr_u8(&m->tb[VMN_A_NOARP]) != 0;
		if (vmn_attr_present(&m->tb[VMN_A_MTU]))
			l->mtu = vmn_attr_u32(&m->tb[VMN_A_MTU]);
		if (l->mtu && (l->mtu < 68 || l->mtu > 65535)) {
			*why = "MTU out of range";
			return -EINVAL;
		}
		nc->nlinks++;
		return 0;
	}
	case VMN_MSG_CONFIG_ADDR: {
		struct vmn_nc_addr *a;

		TOO_MANY(nc->naddrs, VMN_NC_MAX_ADDRS, "addresses");
		a = &nc->addrs[nc->naddrs];
		if (get_ifname(m, a->ifname, why) < 0 ||
		    get_prefix(m, &a->pfx, why) < 0)
			return -EINVAL;
		nc->naddrs++;
		return 0;
	}
	case VMN_MSG_CONFIG_ROUTE: {
		struct vmn_nc_route *r;
		struct vmn_prefix norm;

		TOO_MANY(nc->nroutes, VMN_NC_MAX_ROUTES, "routes");
		r = &nc->routes[nc->nroutes];
		if (get_ifname(m, r->ifname, why) < 0 ||
		    get_prefix(m, &r->dst, why) < 0)
			return -EINVAL;
		norm = r->dst;
		vmn_prefix_normalize(&norm);
		if (!vmn_ip_equal(&norm.ip, &r->dst.ip)) {
			*why = "route destination has host bits set";
			return -EINVAL;
		}
		vmn_attr_ip(&m->tb[VMN_A_GATEWAY], &r->gw);
		if (r->gw.family && r->gw.family != r->dst.ip.family) {
			*why = "route gateway family differs from destination";
			return -EINVAL;
		}
		if (vmn_attr_present(&m->tb[VMN_A_METRIC]))
			r->metric = vmn_attr_u32(&m->tb[VMN_A_METRIC]);
		nc->nroutes++;
		return 0;
	}
	case VMN_MSG_CONFIG_NEIGH: {
		struct vmn_nc_neigh *n;

		TOO_MANY(nc->nneighs, VMN_NC_MAX_NEIGHS, "neighbours");
		n = &nc->neighs[nc->nneighs];
		if (get_ifname(m, n->ifname, why) < 0)
			return -EINVAL;
		vmn_attr_ip(&m->tb[VMN_A_ADDR], &n->ip);
		memcpy(n->lladdr, m->tb[VMN_A_LLADDR].data, VMN_MAC_LEN);
		nc->nneighs++;
		return 0;
	}
	case VMN_MSG_CONFIG_SYSCTL: {
		struct vmn_nc_sysctl *s;

		TOO_MANY(nc->nsysctls, VMN_NC_MAX_SYSCTLS, "sysctls");
		s = &nc->sysctls[nc->nsysctls];
		vmn_attr_str(&m->tb[VMN_A_NAME], s->name, sizeof(s->name));
		vmn_attr_str(&m->tb[VMN_A_VALUE], s->value, sizeof(s->value));
		if (!vmn_sysctl_name_ok(s->name) || !text_ok(s->value, true)) {
			*why = "sysctl outside net.* or with a bad value";
			return -EINVAL;
		}
		nc->nsysctls++;
		return 0;
	}
	case VMN_MSG_CONFIG_RFWD: {
		struct vmn_nc_rfwd *f;

		TOO_MANY(nc->nrfwds, VMN_NC_MAX_RFWDS, "reverse forwards");
		f = &nc->rfwds[nc->nrfwds];
		f->proto = vmn_attr_u8(&m->tb[VMN_A_PROTO]);
		f->port = vmn_attr_u16(&m->tb[VMN_A_PORT]);
		f->guest_port = vmn_attr_u16(&m->tb[VMN_A_GUEST_PORT]);
		if ((f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP) ||
		    f->port == 0 || f->guest_port == 0) {
			*why = "bad reverse forward";
			return -EINVAL;
		}
		nc->nrfwds++;
		return 0;
	}
	case VMN_MSG_CONFIG_SNAT: {
		struct vmn_nc_snat *sn;

		TOO_MANY(nc->nsnats, VMN_NC_MAX_LINKS, "masquerading ranges");
		sn = &nc->snats[nc->nsnats];
		if (get_ifname(m, sn->ifname, why) < 0)
			return -EINVAL;
		sn->lo = vmn_attr_u16(&m->tb[VMN_A_PORT]);
		sn->hi = vmn_attr_u16(&m->tb[VMN_A_PORT_HI]);
		if (sn->lo == 0 || sn->hi < sn->lo ||
		    (nc->nsnats && (sn->lo != nc->snats[0].lo ||
		    sn->hi != nc->snats[0].hi))) {
			*why = "bad port range";
			return -EINVAL;
		}
		nc->nsnats++;
		return 0;
	}
	case VMN_MSG_CONFIG_DNS:
		return decode_dns(nc, m, why);
	case VMN_MSG_CONFIG_PROXY:
		return decode_proxy(nc, m, why);
	default:
		*why = "not a configuration item";
		return -EINVAL;
	}
}

static bool
has_link(const struct vmn_netconf *nc, const char *ifname)
{
	unsigned i;

	for (i = 0; i < nc->nlinks; i++)
		if (strcmp(nc->links[i].name, ifname) == 0)
			return true;
	return false;
}

/* Whole-transaction checks, run at COMMIT before anything is applied. */
int
vmn_netconf_check(const struct vmn_netconf *nc, const char **why)
{
	unsigned i, j;

	for (i = 0; i < nc->nlinks; i++)
		for (j = i + 1; j < nc->nlinks; j++)
			if (strcmp(nc->links[i].name, nc->links[j].name) == 0 ||
			    memcmp(nc->links[i].mac, nc->links[j].mac,
			    VMN_MAC_LEN) == 0) {
				*why = "two links with the same name or MAC";
				return -EINVAL;
			}
	for (i = 0; i < nc->naddrs; i++)
		if (strcmp(nc->addrs[i].ifname, "lo") != 0 &&
		    !has_link(nc, nc->addrs[i].ifname)) {
			*why = "address on a link that is not configured";
			return -EINVAL;
		}
	for (i = 0; i < nc->nroutes; i++)
		if (!has_link(nc, nc->routes[i].ifname)) {
			*why = "route via a link that is not configured";
			return -EINVAL;
		}
	for (i = 0; i < nc->nneighs; i++)
		if (!has_link(nc, nc->neighs[i].ifname)) {
			*why = "neighbour on a link that is not configured";
			return -EINVAL;
		}
	for (i = 0; i < nc->nsnats; i++)
		if (!has_link(nc, nc->snats[i].ifname)) {
			*why = "masquerading on a link that is not configured";
			return -EINVAL;
		}
	return 0;
}
