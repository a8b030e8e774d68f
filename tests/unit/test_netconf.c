/*
 * test_netconf.c - unit tests for configuration transactions (common/netconf.c)
 *
 * Covers: a full struct vmn_netconf encoded with vmn_netconf_encode(),
 * every frame parsed with vmn_msg_parse() and decoded item by item into a
 * fresh struct, compared field by field; the shape of the transaction
 * (BEGIN/COMMIT carry gen, COMMIT is a request with the given seq,
 * optional attributes left out); the decoder's semantic rejections
 * (prefix lengths, host bits, gateway family, per-kind limits, DNS and
 * proxy text, sysctl names, MTU range, interface names);
 * vmn_netconf_check(); and errors from the emit callback and the encoder.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"
#include "netconf.h"
#include "sysctl.h"
#include "wire.h"

/* ---- collecting frames ------------------------------------------------ */

#define MAX_FRAMES	128

struct frames {
	unsigned	 n;
	uint8_t		*data[MAX_FRAMES];
	size_t		 len[MAX_FRAMES];
	int		 fail_at;	/* return fail_rc for this frame; -1 never */
	int		 fail_rc;
	unsigned	 calls;
};

static int
collect(void *arg, const uint8_t *frame, size_t len)
{
	struct frames *f = arg;

	f->calls++;
	if (f->fail_at >= 0 && (int)f->n == f->fail_at)
		return f->fail_rc;
	if (f->n >= MAX_FRAMES)
		return -ENOSPC;
	f->data[f->n] = malloc(len);
	if (!f->data[f->n])
		return -ENOMEM;
	memcpy(f->data[f->n], frame, len);
	f->len[f->n] = len;
	f->n++;
	return 0;
}

static void
frames_init(struct frames *f)
{
	memset(f, 0, sizeof(*f));
	f->fail_at = -1;
}

static void
frames_free(struct frames *f)
{
	unsigned i;

	for (i = 0; i < f->n; i++)
		free(f->data[i]);
	f->n = 0;
}

/* ---- building --------------------------------------------------------- */

static void
ip_from(const char *s, struct vmn_ip *ip)
{
	assert_int_equal(vmn_ip_parse(s, ip), 0);
}

static void
pfx_from(const char *s, struct vmn_prefix *p)
{
	assert_int_equal(vmn_prefix_parse(s, p), 0);
}

static void
mac_from(const char *s, uint8_t mac[VMN_MAC_LEN])
{
	assert_int_equal(vmn_mac_parse(s, mac), 0);
}

static void
add_link(struct vmn_netconf *nc, const char *name, const char *mac,
    uint32_t mtu)
{
	struct vmn_nc_link *l = &nc->links[nc->nlinks++];

	snprintf(l->name, sizeof(l->name), "%s", name);
	mac_from(mac, l->mac);
	l->mtu = mtu;
}

static void
add_addr(struct vmn_netconf *nc, const char *ifname, const char *pfx)
{
	struct vmn_nc_addr *a = &nc->addrs[nc->naddrs++];

	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	pfx_from(pfx, &a->pfx);
}

static void
add_route(struct vmn_netconf *nc, const char *ifname, const char *dst,
    const char *gw, uint32_t metric)
{
	struct vmn_nc_route *r = &nc->routes[nc->nroutes++];

	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	pfx_from(dst, &r->dst);
	if (gw)
		ip_from(gw, &r->gw);
	r->metric = metric;
}

static void
add_neigh(struct vmn_netconf *nc, const char *ifname, const char *ip,
    const char *mac)
{
	struct vmn_nc_neigh *n = &nc->neighs[nc->nneighs++];

	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	ip_from(ip, &n->ip);
	mac_from(mac, n->lladdr);
}

static void
add_sysctl(struct vmn_netconf *nc, const char *name, const char *value)
{
	struct vmn_nc_sysctl *s = &nc->sysctls[nc->nsysctls++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->value, sizeof(s->value), "%s", value);
}

static void
add_snat(struct vmn_netconf *nc, const char *ifname, uint16_t lo, uint16_t hi)
{
	struct vmn_nc_snat *sn = &nc->snats[nc->nsnats++];

	snprintf(sn->ifname, sizeof(sn->ifname), "%s", ifname);
	sn->lo = lo;
	sn->hi = hi;
}

/* Heap-allocated: a struct vmn_netconf is several KiB. */
static struct vmn_netconf *
full_netconf(void)
{
	struct vmn_netconf *nc = calloc(1, sizeof(*nc));

	assert_non_null(nc);
	nc->gen = 0x01020304;
	add_link(nc, "eth0", "02:00:5e:10:00:01", 1500);
	add_link(nc, "eth1", "02:00:5e:10:00:02", 0);
	nc->links[1].noarp = true;	/* an L3 uplink mirrored */
	add_addr(nc, "eth0", "172.16.5.2/24");
	add_addr(nc, "eth0", "fd12:3456:789a:5::2/64");
	add_addr(nc, "eth1", "10.9.8.7/32");
	add_addr(nc, "eth1", "fe80::42/128");
	add_route(nc, "eth0", "0.0.0.0/0", "172.16.5.1", 100);
	add_route(nc, "eth0", "10.0.0.0/8", NULL, 0);
	add_route(nc, "eth1", "192.168.0.0/16", "10.9.8.1", 0);
	add_route(nc, "eth0", "::/0", "fd12:3456:789a:5::1", 1024);
	add_route(nc, "eth1", "fd00:aaaa::/32", NULL, 7);
	add_neigh(nc, "eth0", "172.16.5.1", "02:00:5e:10:00:ff");
	add_neigh(nc, "eth0", "fd12:3456:789a:5::1", "02:00:5e:10:00:fe");
	add_sysctl(nc, "net.ipv6.conf.eth0.accept_ra", "0");
	add_sysctl(nc, "net.ipv4.conf.all.rp_filter", "2");
	add_sysctl(nc, "net.ipv4.ping_group_range", "0 2147483647");
	add_snat(nc, "eth0", 60928, 61439);
	add_snat(nc, "eth1", 60928, 61439);
	nc->dns.present = true;
	nc->dns.nservers = 3;
	ip_from("172.16.5.1", &nc->dns.servers[0]);
	ip_from("fd12:3456:789a:5::1", &nc->dns.servers[1]);
	ip_from("192.0.2.53", &nc->dns.servers[2]);
	nc->dns.nsearch = 3;
	strcpy(nc->dns.search[0], "corp.example.com");
	strcpy(nc->dns.search[1], "example.org");
	strcpy(nc->dns.search[2], "lab_1-a.internal");
	strcpy(nc->dns.options, "ndots:2 timeout:1 edns0");
	nc->proxy.present = true;
	strcpy(nc->proxy.http, "http://proxy.corp:3128/");
	strcpy(nc->proxy.https, "http://user:p%40ss@proxy.corp:3129");
	strcpy(nc->proxy.no_proxy, "localhost,127.0.0.1,.corp.example.com");
	return nc;
}

/* ---- decoding a transaction ------------------------------------------- */

/*
 * Plays a guest: BEGIN resets, items are decoded, COMMIT checks gen and
 * runs vmn_netconf_check(). Returns the first error.
 */
static int
decode_all(const struct frames *f, struct vmn_netconf *out, uint32_t *commit_seq)
{
	const char *why = NULL;
	struct vmn_msg m;
	bool begun = false, committed = false;
	unsigned i;
	int rc;

	for (i = 0; i < f->n; i++) {
		rc = vmn_msg_parse(f->data[i], f->len[i], &m, &why);
		if (rc < 0) {
			print_message("frame %u: %s\n", i, why);
			return rc;
		}
		if (committed)
			fail_msg("frame %u after COMMIT", i);
		switch (m.hdr.type) {
		case VMN_MSG_CONFIG_BEGIN:
			if (i != 0)
				fail_msg("BEGIN is frame %u", i);
			assert_int_equal(m.hdr.flags, 0);
			vmn_netconf_reset(out, vmn_attr_u32(&m.tb[VMN_A_GEN]));
			begun = true;
			break;
		case VMN_MSG_CONFIG_COMMIT:
			assert_true(begun);
			assert_int_equal(m.hdr.flags, VMN_F_REQUEST);
			assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_GEN]), out->gen);
			*commit_seq = m.hdr.seq;
			committed = true;
			break;
		default:
			assert_true(begun);
			/* Items are fire-and-forget. */
			assert_int_equal(m.hdr.flags, 0);
			rc = vmn_netconf_decode_item(out, &m, &why);
			if (rc < 0) {
				print_message("frame %u (%s): %s\n", i,
				    vmn_msg_name(m.hdr.type), why);
				return rc;
			}
		}
	}
	if (!committed)
		fail_msg("no COMMIT");
	return vmn_netconf_check(out, &why);
}

static void
assert_ip_eq(const struct vmn_ip *a, const struct vmn_ip *b)
{
	char as[VMN_IP_STRLEN], bs[VMN_IP_STRLEN];

	if (a->family != b->family || !vmn_ip_equal(a, b))
		fail_msg("address %s (family %u), expected %s (family %u)",
		    vmn_ip_ntop(a, as, sizeof(as)), a->family,
		    vmn_ip_ntop(b, bs, sizeof(bs)), b->family);
}

static void
assert_netconf_eq(const struct vmn_netconf *got, const struct vmn_netconf *want)
{
	unsigned i;

	assert_int_equal(got->gen, want->gen);
	assert_int_equal(got->nlinks, want->nlinks);
	for (i = 0; i < want->nlinks; i++) {
		assert_string_equal(got->links[i].name, want->links[i].name);
		assert_memory_equal(got->links[i].mac, want->links[i].mac,
		    VMN_MAC_LEN);
		assert_int_equal(got->links[i].mtu, want->links[i].mtu);
		assert_int_equal(got->links[i].noarp, want->links[i].noarp);
	}
	assert_int_equal(got->naddrs, want->naddrs);
	for (i = 0; i < want->naddrs; i++) {
		assert_string_equal(got->addrs[i].ifname, want->addrs[i].ifname);
		assert_ip_eq(&got->addrs[i].pfx.ip, &want->addrs[i].pfx.ip);
		assert_int_equal(got->addrs[i].pfx.plen, want->addrs[i].pfx.plen);
	}
	assert_int_equal(got->nroutes, want->nroutes);
	for (i = 0; i < want->nroutes; i++) {
		assert_string_equal(got->routes[i].ifname,
		    want->routes[i].ifname);
		assert_ip_eq(&got->routes[i].dst.ip, &want->routes[i].dst.ip);
		assert_int_equal(got->routes[i].dst.plen,
		    want->routes[i].dst.plen);
		assert_int_equal(got->routes[i].gw.family,
		    want->routes[i].gw.family);
		if (want->routes[i].gw.family)
			assert_ip_eq(&got->routes[i].gw, &want->routes[i].gw);
		assert_int_equal(got->routes[i].metric, want->routes[i].metric);
	}
	assert_int_equal(got->nneighs, want->nneighs);
	for (i = 0; i < want->nneighs; i++) {
		assert_string_equal(got->neighs[i].ifname,
		    want->neighs[i].ifname);
		assert_ip_eq(&got->neighs[i].ip, &want->neighs[i].ip);
		assert_memory_equal(got->neighs[i].lladdr,
		    want->neighs[i].lladdr, VMN_MAC_LEN);
	}
	assert_int_equal(got->nsysctls, want->nsysctls);
	for (i = 0; i < want->nsysctls; i++) {
		assert_string_equal(got->sysctls[i].name,
		    want->sysctls[i].name);
		assert_string_equal(got->sysctls[i].value,
		    want->sysctls[i].value);
	}
	assert_int_equal(got->nsnats, want->nsnats);
	for (i = 0; i < want->nsnats; i++) {
		assert_string_equal(got->snats[i].ifname, want->snats[i].ifname);
		assert_int_equal(got->snats[i].lo, want->snats[i].lo);
		assert_int_equal(got->snats[i].hi, want->snats[i].hi);
	}
	assert_int_equal(got->dns.present, want->dns.present);
	if (want->dns.present) {
		assert_int_equal(got->dns.nservers, want->dns.nservers);
		for (i = 0; i < want->dns.nservers; i++)
			assert_ip_eq(&got->dns.servers[i], &want->dns.servers[i]);
		assert_int_equal(got->dns.nsearch, want->dns.nsearch);
		for (i = 0; i < want->dns.nsearch; i++)
			assert_string_equal(got->dns.search[i],
			    want->dns.search[i]);
		assert_string_equal(got->dns.options, want->dns.options);
	}
	assert_int_equal(got->proxy.present, want->proxy.present);
	if (want->proxy.present) {
		assert_string_equal(got->proxy.http, want->proxy.http);
		assert_string_equal(got->proxy.https, want->proxy.https);
		assert_string_equal(got->proxy.no_proxy, want->proxy.no_proxy);
	}
}

/* ---- round trips ------------------------------------------------------- */

static unsigned
count_type(const struct frames *f, uint16_t type)
{
	unsigned i, n = 0;

	for (i = 0; i < f->n; i++)
		if ((f->data[i][4] << 8 | f->data[i][5]) == type)
			n++;
	return n;
}

static void
test_roundtrip_full(void **state)
{
	struct vmn_netconf *nc = full_netconf();
	struct vmn_netconf *out = calloc(1, sizeof(*out));
	struct frames f;
	uint32_t seq = 0;
	struct vmn_msg m;
	const char *why;
	int rc;

	(void)state;
	assert_non_null(out);
	frames_init(&f);
	rc = vmn_netconf_encode(nc, 0xabcdef01, collect, &f);
	assert_true(rc >= 0);
	assert_int_equal(f.n, 1 + nc->nlinks + nc->nsysctls + nc->naddrs +
	    nc->nneighs + nc->nroutes + nc->nsnats + 1 + 1 + 1);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_BEGIN), 1);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_LINK), nc->nlinks);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_ADDR), nc->naddrs);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_ROUTE), nc->nroutes);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_NEIGH), nc->nneighs);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_SYSCTL), nc->nsysctls);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_SNAT), nc->nsnats);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_DNS), 1);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_PROXY), 1);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_COMMIT), 1);

	/* BEGIN first, COMMIT last: both carry gen, COMMIT is a request. */
	assert_rc(vmn_msg_parse(f.data[0], f.len[0], &m, &why), 0);
	assert_int_equal(m.hdr.type, VMN_MSG_CONFIG_BEGIN);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_GEN]), 0x01020304);
	assert_int_equal(m.hdr.flags & VMN_F_REQUEST, 0);
	assert_rc(vmn_msg_parse(f.data[f.n - 1], f.len[f.n - 1], &m, &why), 0);
	assert_int_equal(m.hdr.type, VMN_MSG_CONFIG_COMMIT);
	assert_int_equal(m.hdr.flags, VMN_F_REQUEST);
	assert_int_equal(m.hdr.seq, 0xabcdef01);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_GEN]), 0x01020304);

	/* Decode into a struct full of junk: BEGIN must reset it. */
	memset(out, 0xa5, sizeof(*out));
	assert_rc(decode_all(&f, out, &seq), 0);
	assert_int_equal(seq, 0xabcdef01);
	assert_netconf_eq(out, nc);

	frames_free(&f);
	free(nc);
	free(out);
}

static void
test_optional_attrs_omitted(void **state)
{
	struct vmn_netconf *nc = full_netconf();
	struct frames f;
	struct vmn_msg m;
	const char *why;
	unsigned i, links = 0, routes = 0;

	(void)state;
	frames_init(&f);
	assert_true(vmn_netconf_encode(nc, 5, collect, &f) >= 0);
	for (i = 0; i < f.n; i++) {
		assert_rc(vmn_msg_parse(f.data[i], f.len[i], &m, &why), 0);
		if (m.hdr.type == VMN_MSG_CONFIG_LINK) {
			const struct vmn_nc_link *l = &nc->links[links++];

			/* MTU 0 means "leave it": not sent at all. */
			assert_int_equal(vmn_attr_present(&m.tb[VMN_A_MTU]),
			    l->mtu != 0);
		} else if (m.hdr.type == VMN_MSG_CONFIG_ROUTE) {
			const struct vmn_nc_route *r = &nc->routes[routes++];

			assert_int_equal(vmn_attr_present(&m.tb[VMN_A_GATEWAY]),
			    r->gw.family != 0);
			assert_int_equal(vmn_attr_present(&m.tb[VMN_A_METRIC]),
			    r->metric != 0);
			if (r->gw.family)
				assert_int_equal(m.tb[VMN_A_GATEWAY].len,
				    vmn_ip_len(r->gw.family));
		}
	}
	assert_int_equal(links, nc->nlinks);
	assert_int_equal(routes, nc->nroutes);
	frames_free(&f);
	free(nc);
}

static void
test_roundtrip_minimal(void **state)
{
	struct vmn_netconf *nc = calloc(1, sizeof(*nc));
	struct vmn_netconf *out = calloc(1, sizeof(*out));
	struct frames f;
	uint32_t seq = 1;

	(void)state;
	assert_non_null(nc);
	assert_non_null(out);

	/* Nothing but gen: BEGIN and COMMIT, no DNS, no proxy. */
	nc->gen = 0;
	frames_init(&f);
	assert_true(vmn_netconf_encode(nc, 0, collect, &f) >= 0);
	assert_int_equal(f.n, 2);
	assert_rc(decode_all(&f, out, &seq), 0);
	assert_int_equal(seq, 0);
	assert_netconf_eq(out, nc);
	assert_false(out->dns.present);
	assert_false(out->proxy.present);
	frames_free(&f);

	/* DNS and proxy present but empty: "clear them", not "leave them". */
	nc->gen = UINT32_MAX;
	nc->dns.present = true;
	nc->proxy.present = true;
	frames_init(&f);
	assert_true(vmn_netconf_encode(nc, UINT32_MAX, collect, &f) >= 0);
	assert_int_equal(f.n, 4);
	assert_rc(decode_all(&f, out, &seq), 0);
	assert_int_equal(seq, UINT32_MAX);
	assert_true(out->dns.present);
	assert_true(out->proxy.present);
	assert_netconf_eq(out, nc);
	frames_free(&f);
	free(nc);
	free(out);
}

static void
test_roundtrip_limits(void **state)
{
	struct vmn_netconf *nc = calloc(1, sizeof(*nc));
	struct vmn_netconf *out = calloc(1, sizeof(*out));
	struct frames f;
	uint32_t seq;
	char name[32], buf[64];
	unsigned i;

	(void)state;
	assert_non_null(nc);
	assert_non_null(out);
	nc->gen = 7;
	/* Every list at its maximum, every string at its longest. */
	for (i = 0; i < VMN_NC_MAX_LINKS; i++) {
		snprintf(name, sizeof(name), "%.14s%u", "abcdefghijklmnop", i);
		snprintf(buf, sizeof(buf), "02:00:00:00:00:%02x", i);
		add_link(nc, name, buf, i ? 68 + i : 65535);
	}
	assert_int_equal(strlen(nc->links[0].name), IFNAMSIZ - 1);
	for (i = 0; i < VMN_NC_MAX_ADDRS; i++) {
		snprintf(buf, sizeof(buf), i % 2 ? "10.0.%u.1/24" :
		    "fd00:%u::1/64", i);
		add_addr(nc, nc->links[i % VMN_NC_MAX_LINKS].name, buf);
	}
	for (i = 0; i < VMN_NC_MAX_ROUTES; i++) {
		snprintf(buf, sizeof(buf), i % 2 ? "10.%u.0.0/16" :
		    "fd01:%u::/32", i);
		add_route(nc, nc->links[0].name, buf, NULL, i);
	}
	for (i = 0; i < VMN_NC_MAX_NEIGHS; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.0.0.%u", i + 1);
		snprintf(buf, sizeof(buf), "02:00:00:00:01:%02x", i);
		add_neigh(nc, nc->links[1].name, ip, buf);
	}
	for (i = 0; i < VMN_NC_MAX_SYSCTLS; i++) {
		char sname[128];

		memset(sname, 'x', sizeof(sname));
		memcpy(sname, "net.", 4);
		snprintf(sname + 120, 8, ".%06u", i);
		add_sysctl(nc, sname, "");
	}
	assert_int_equal(strlen(nc->sysctls[0].name), 127);
	memset(nc->sysctls[1].value, '9', 63);
	nc->sysctls[1].value[63] = '\0';
	nc->dns.present = true;
	nc->dns.nservers = VMN_NC_MAX_SERVERS;
	for (i = 0; i < VMN_NC_MAX_SERVERS; i++) {
		snprintf(buf, sizeof(buf), "2001:db8::%u", i);
		ip_from(buf, &nc->dns.servers[i]);
	}
	nc->dns.nsearch = VMN_NC_MAX_SEARCH;
	for (i = 0; i < VMN_NC_MAX_SEARCH; i++) {
		memset(nc->dns.search[i], 'a' + i, VMN_NC_DOMAIN_MAX - 1);
		nc->dns.search[i][VMN_NC_DOMAIN_MAX - 1] = '\0';
	}
	memset(nc->dns.options, 'o', sizeof(nc->dns.options) - 1);
	nc->proxy.present = true;
	memset(nc->proxy.http, 'h', sizeof(nc->proxy.http) - 1);
	memset(nc->proxy.https, 's', sizeof(nc->proxy.https) - 1);
	memset(nc->proxy.no_proxy, 'n', sizeof(nc->proxy.no_proxy) - 1);

	frames_init(&f);
	assert_true(vmn_netconf_encode(nc, 99, collect, &f) >= 0);
	assert_rc(decode_all(&f, out, &seq), 0);
	assert_int_equal(seq, 99);
	assert_netconf_eq(out, nc);
	frames_free(&f);
	free(nc);
	free(out);
}

/* ---- item-level rejections -------------------------------------------- */

static uint8_t st[16384];

static void
begin(struct vmn_buf *b, uint16_t type)
{
	vmn_buf_init(b, st, sizeof(st));
	vmn_msg_begin(b, type, 0, 0);
}

/* Ends the frame in st, parses it, and decodes it into nc. */
static int
finish(struct vmn_buf *b, struct vmn_netconf *nc, const char **why)
{
	struct vmn_msg m;
	int len = vmn_msg_end(b);

	*why = NULL;
	assert_true(len > 0);
	assert_rc(vmn_msg_parse(st, (size_t)len, &m, why), 0);
	return vmn_netconf_decode_item(nc, &m, why);
}

static int
addr_item(struct vmn_netconf *nc, const char *ifname, const char *ip,
    unsigned plen)
{
	struct vmn_buf b;
	struct vmn_ip a;
	const char *why;
	int rc;

	ip_from(ip, &a);
	begin(&b, VMN_MSG_CONFIG_ADDR);
	vmn_put_str(&b, VMN_A_IFNAME, ifname);
	vmn_put_ip(&b, VMN_A_ADDR, &a);
	vmn_put_u8(&b, VMN_A_PREFIXLEN, (uint8_t)plen);
	rc = finish(&b, nc, &why);
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static int
route_item(struct vmn_netconf *nc, const char *dst, unsigned plen,
    const char *gw)
{
	struct vmn_buf b;
	struct vmn_ip a, g;
	const char *why;
	int rc;

	ip_from(dst, &a);
	begin(&b, VMN_MSG_CONFIG_ROUTE);
	vmn_put_str(&b, VMN_A_IFNAME, "eth0");
	vmn_put_ip(&b, VMN_A_ADDR, &a);
	vmn_put_u8(&b, VMN_A_PREFIXLEN, (uint8_t)plen);
	if (gw) {
		ip_from(gw, &g);
		vmn_put_ip(&b, VMN_A_GATEWAY, &g);
	}
	rc = finish(&b, nc, &why);
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static int
link_item(struct vmn_netconf *nc, const char *name, int mtu)
{
	static const uint8_t mac[VMN_MAC_LEN] = { 2, 0, 0, 0, 0, 1 };
	struct vmn_buf b;
	const char *why;

	begin(&b, VMN_MSG_CONFIG_LINK);
	vmn_put_str(&b, VMN_A_IFNAME, name);
	vmn_put(&b, VMN_A_MAC, mac, sizeof(mac));
	if (mtu >= 0)
		vmn_put_u32(&b, VMN_A_MTU, (uint32_t)mtu);
	return finish(&b, nc, &why);
}

static int
neigh_item(struct vmn_netconf *nc, const char *ip)
{
	static const uint8_t mac[VMN_MAC_LEN] = { 2, 0, 0, 0, 0, 2 };
	struct vmn_buf b;
	struct vmn_ip a;
	const char *why;

	ip_from(ip, &a);
	begin(&b, VMN_MSG_CONFIG_NEIGH);
	vmn_put_str(&b, VMN_A_IFNAME, "eth0");
	vmn_put_ip(&b, VMN_A_ADDR, &a);
	vmn_put(&b, VMN_A_LLADDR, mac, sizeof(mac));
	return finish(&b, nc, &why);
}

static int
sysctl_item(struct vmn_netconf *nc, const char *name, const char *value)
{
	struct vmn_buf b;
	const char *why;

	begin(&b, VMN_MSG_CONFIG_SYSCTL);
	vmn_put_str(&b, VMN_A_NAME, name);
	vmn_put_str(&b, VMN_A_VALUE, value);
	return finish(&b, nc, &why);
}

/* DNS item from NULL-terminated lists; options NULL: not sent. */
static int
dns_item(struct vmn_netconf *nc, const char *const *servers,
    const char *const *search, const char *options)
{
	struct vmn_buf b;
	struct vmn_ip a;
	const char *why;

	begin(&b, VMN_MSG_CONFIG_DNS);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	for (; servers && *servers; servers++) {
		ip_from(*servers, &a);
		vmn_put_ip(&b, VMN_A_ADDR, &a);
	}
	vmn_nest_end(&b);
	vmn_nest_begin(&b, VMN_A_SEARCH);
	for (; search && *search; search++)
		vmn_put_str(&b, VMN_A_NAME, *search);
	vmn_nest_end(&b);
	if (options)
		vmn_put_str(&b, VMN_A_OPTIONS, options);
	return finish(&b, nc, &why);
}

static int
proxy_item(struct vmn_netconf *nc, const char *http, const char *https,
    const char *no_proxy)
{
	struct vmn_buf b;
	const char *why;

	begin(&b, VMN_MSG_CONFIG_PROXY);
	if (http)
		vmn_put_str(&b, VMN_A_HTTP_PROXY, http);
	if (https)
		vmn_put_str(&b, VMN_A_HTTPS_PROXY, https);
	if (no_proxy)
		vmn_put_str(&b, VMN_A_NO_PROXY, no_proxy);
	return finish(&b, nc, &why);
}

static struct vmn_netconf *
fresh(void)
{
	struct vmn_netconf *nc = malloc(sizeof(*nc));

	assert_non_null(nc);
	vmn_netconf_reset(nc, 1);
	return nc;
}

static void
test_prefix_length(void **state)
{
	struct vmn_netconf *nc = fresh();

	(void)state;
	assert_rc(addr_item(nc, "eth0", "10.0.0.1", 32), 0);
	assert_rc(addr_item(nc, "eth0", "10.0.0.1", 0), 0);
	assert_rc(addr_item(nc, "eth0", "10.0.0.1", 33), -EINVAL);
	assert_rc(addr_item(nc, "eth0", "10.0.0.1", 255), -EINVAL);
	assert_rc(addr_item(nc, "eth0", "fd00::1", 128), 0);
	assert_rc(addr_item(nc, "eth0", "fd00::1", 129), -EINVAL);
	assert_int_equal(nc->naddrs, 3);

	assert_rc(route_item(nc, "0.0.0.0", 0, NULL), 0);
	assert_rc(route_item(nc, "10.0.0.1", 32, NULL), 0);
	assert_rc(route_item(nc, "10.0.0.1", 33, NULL), -EINVAL);
	assert_rc(route_item(nc, "::", 129, NULL), -EINVAL);
	assert_int_equal(nc->nroutes, 2);
	free(nc);
}

static void
test_route_host_bits(void **state)
{
	struct vmn_netconf *nc = fresh();

	(void)state;
	assert_rc(route_item(nc, "10.0.0.0", 8, NULL), 0);
	assert_rc(route_item(nc, "10.0.0.1", 8, NULL), -EINVAL);
	assert_rc(route_item(nc, "10.128.0.0", 9, NULL), 0);
	assert_rc(route_item(nc, "10.192.0.0", 9, NULL), -EINVAL);
	assert_rc(route_item(nc, "0.0.0.1", 0, NULL), -EINVAL);
	assert_rc(route_item(nc, "fd00:1::", 32, NULL), 0);
	assert_rc(route_item(nc, "fd00:1::1", 32, NULL), -EINVAL);
	assert_rc(route_item(nc, "fd00:1:8000::", 33, NULL), 0);
	assert_rc(route_item(nc, "fd00:1:4000::", 33, NULL), -EINVAL);
	assert_int_equal(nc->nroutes, 4);
	free(nc);
}

static void
test_route_gateway_family(void **state)
{
	struct vmn_netconf *nc = fresh();

	(void)state;
	assert_rc(route_item(nc, "0.0.0.0", 0, "10.0.0.1"), 0);
	assert_rc(route_item(nc, "::", 0, "fe80::1"), 0);
	assert_rc(route_item(nc, "0.0.0.0", 0, "fe80::1"), -EINVAL);
	assert_rc(route_item(nc, "::", 0, "10.0.0.1"), -EINVAL);
	assert_rc(route_item(nc, "10.0.0.0", 8, "::ffff:10.0.0.1"), -EINVAL);
	assert_int_equal(nc->nroutes, 2);
	assert_int_equal(nc->routes[0].gw.family, AF_INET);
	assert_int_equal(nc->routes[1].gw.family, AF_INET6);
	free(nc);
}

static void
test_too_many(void **state)
{
	static const char *const four[] =
	    { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", NULL };
	static const char *const nine[] =
	    { "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL };
	struct vmn_netconf *nc = fresh();
	char name[16];
	unsigned i;

	(void)state;
	for (i = 0; i < VMN_NC_MAX_LINKS; i++) {
		snprintf(name, sizeof(name), "eth%u", i);
		assert_rc(link_item(nc, name, -1), 0);
	}
	assert_rc(link_item(nc, "ethx", -1), -E2BIG);
	assert_int_equal(nc->nlinks, VMN_NC_MAX_LINKS);

	for (i = 0; i < VMN_NC_MAX_ADDRS; i++)
		assert_rc(addr_item(nc, "eth0", "10.0.0.1", 24), 0);
	assert_rc(addr_item(nc, "eth0", "10.0.0.1", 24), -E2BIG);
	assert_int_equal(nc->naddrs, VMN_NC_MAX_ADDRS);

	for (i = 0; i < VMN_NC_MAX_ROUTES; i++)
		assert_rc(route_item(nc, "10.0.0.0", 8, NULL), 0);
	assert_rc(route_item(nc, "10.0.0.0", 8, NULL), -E2BIG);
	assert_int_equal(nc->nroutes, VMN_NC_MAX_ROUTES);

	for (i = 0; i < VMN_NC_MAX_NEIGHS; i++)
		assert_rc(neigh_item(nc, "10.0.0.9"), 0);
	assert_rc(neigh_item(nc, "10.0.0.9"), -E2BIG);
	assert_int_equal(nc->nneighs, VMN_NC_MAX_NEIGHS);

	for (i = 0; i < VMN_NC_MAX_SYSCTLS; i++)
		assert_rc(sysctl_item(nc, "net.ipv4.ip_forward", "1"), 0);
	assert_rc(sysctl_item(nc, "net.ipv4.ip_forward", "1"), -E2BIG);
	assert_int_equal(nc->nsysctls, VMN_NC_MAX_SYSCTLS);

	assert_rc(dns_item(nc, four + 1, NULL, NULL), 0);
	assert_int_equal(nc->dns.nservers, 3);
	assert_rc(dns_item(nc, four, NULL, NULL), -E2BIG);
	assert_true(nc->dns.nservers <= VMN_NC_MAX_SERVERS);
	assert_rc(dns_item(nc, NULL, nine + 1, NULL), 0);
	assert_int_equal(nc->dns.nsearch, 8);
	assert_rc(dns_item(nc, NULL, nine, NULL), -E2BIG);
	assert_true(nc->dns.nsearch <= VMN_NC_MAX_SEARCH);
	free(nc);
}

static void
test_dns_text(void **state)
{
	static const char *const srv[] = { "10.0.0.1", "fd00::53", NULL };
	static const char *const good[] =
	    { "example.com", "a-b_c.d", "x", "1.2.3.in-addr.arpa", NULL };
	static const char *const bad[] = {
		"exa mple.com", "example.com\n", "a\nnameserver 6.6.6.6",
		"tab\there", "semi;colon", "slash/x", "\x7f", "caf\xc3\xa9", "",
	};
	struct vmn_netconf *nc = fresh();
	char longname[300];
	unsigned i;

	(void)state;
	assert_rc(dns_item(nc, srv, good, "ndots:3 rotate"), 0);
	assert_true(nc->dns.present);
	assert_int_equal(nc->dns.nservers, 2);
	assert_int_equal(nc->dns.nsearch, 4);
	assert_string_equal(nc->dns.search[3], "1.2.3.in-addr.arpa");
	assert_string_equal(nc->dns.options, "ndots:3 rotate");

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *one[] = { "ok.example", bad[i], NULL };

		if (dns_item(nc, NULL, one, NULL) != -EINVAL)
			fail_msg("search domain \"%s\" accepted", bad[i]);
	}
	/* 253 characters is the DNS limit; 254 is refused. */
	memset(longname, 'a', sizeof(longname));
	longname[253] = '\0';
	{
		const char *one[] = { longname, NULL };

		assert_rc(dns_item(nc, NULL, one, NULL), 0);
		assert_int_equal(strlen(nc->dns.search[0]), 253);
		longname[253] = 'a';
		longname[254] = '\0';
		assert_rc(dns_item(nc, NULL, one, NULL), -EINVAL);
	}

	/* Options: one line of printable text. */
	assert_rc(dns_item(nc, NULL, NULL, "rotate\nnameserver 6.6.6.6"), -EINVAL);
	assert_rc(dns_item(nc, NULL, NULL, "rotate\r"), -EINVAL);
	assert_rc(dns_item(nc, NULL, NULL, "a\tb"), -EINVAL);
	assert_rc(dns_item(nc, NULL, NULL, "\x1b[31m"), -EINVAL);
	assert_rc(dns_item(nc, NULL, NULL, ""), 0);
	assert_string_equal(nc->dns.options, "");

	/* A server nest holding something other than addresses. */
	{
		struct vmn_buf b;
		const char *why;

		begin(&b, VMN_MSG_CONFIG_DNS);
		vmn_nest_begin(&b, VMN_A_SERVERS);
		vmn_put_str(&b, VMN_A_NAME, "1.2.3.4");
		vmn_nest_end(&b);
		assert_rc(finish(&b, nc, &why), -EINVAL);

		begin(&b, VMN_MSG_CONFIG_DNS);
		vmn_nest_begin(&b, VMN_A_SERVERS);
		vmn_put(&b, VMN_A_ADDR, "\1\2\3\4\5", 5);
		vmn_nest_end(&b);
		assert_rc(finish(&b, nc, &why), -EINVAL);

		begin(&b, VMN_MSG_CONFIG_DNS);
		vmn_nest_begin(&b, VMN_A_SEARCH);
		vmn_put(&b, VMN_A_NAME, "a\0b", 3);
		vmn_nest_end(&b);
		assert_rc(finish(&b, nc, &why), -EINVAL);

		begin(&b, VMN_MSG_CONFIG_DNS);
		vmn_nest_begin(&b, VMN_A_SEARCH);
		vmn_nest_begin(&b, VMN_A_NAME);
		vmn_nest_end(&b);
		vmn_nest_end(&b);
		assert_rc(finish(&b, nc, &why), -EINVAL);
	}
	free(nc);
}

static void
test_sysctl_names(void **state)
{
	static const char *const good[] = {
		"net.ipv4.ip_forward", "net.ipv6.conf.eth0.accept_ra",
		"net.ipv6.conf.vm-1.disable_ipv6", "net.core.somaxconn",
	};
	static const char *const bad[] = {
		"", "net", "net.", "kernel.panic", "vm.swappiness",
		"net..ipv4", "net.ipv4..ip_forward", "net.ipv4.",
		"net/ipv4/ip_forward", "net.ipv4/../../kernel/panic",
		"net.ipv4.conf.eth 0.forwarding", "net.ipv4.conf.a*.x",
		"net.ipv4\n", " net.ipv4.ip_forward", "NET.ipv4.ip_forward",
		"netfilter.x",
	};
	struct vmn_netconf *nc = fresh();
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		if (!vmn_sysctl_name_ok(good[i]))
			fail_msg("\"%s\" refused", good[i]);
		assert_rc(sysctl_item(nc, good[i], "1"), 0);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (vmn_sysctl_name_ok(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
		if (bad[i][0] && sysctl_item(nc, bad[i], "1") != -EINVAL)
			fail_msg("sysctl item \"%s\" accepted", bad[i]);
	}
	/* Values: printable, spaces allowed (ping_group_range), no newline. */
	assert_rc(sysctl_item(nc, "net.ipv4.ping_group_range", "0 100"), 0);
	assert_rc(sysctl_item(nc, "net.ipv4.ip_forward", "1\n"), -EINVAL);
	assert_rc(sysctl_item(nc, "net.ipv4.ip_forward", "1\nkernel.x=1"), -EINVAL);
	assert_rc(sysctl_item(nc, "net.ipv4.ip_forward", "\t1"), -EINVAL);
	assert_int_equal(nc->nsysctls, ARRAY_SIZE(good) + 1);
	assert_string_equal(nc->sysctls[ARRAY_SIZE(good)].value, "0 100");
	free(nc);
}

static void
test_proxy_text(void **state)
{
	struct vmn_netconf *nc = fresh();

	(void)state;
	assert_rc(proxy_item(nc, "http://p:3128", "https://p:3129",
	    "localhost,.corp"), 0);
	assert_true(nc->proxy.present);
	assert_string_equal(nc->proxy.http, "http://p:3128");
	assert_string_equal(nc->proxy.https, "https://p:3129");
	assert_string_equal(nc->proxy.no_proxy, "localhost,.corp");

	/* Missing attributes decode as empty strings. */
	assert_rc(proxy_item(nc, "http://p:1", NULL, NULL), 0);
	assert_string_equal(nc->proxy.http, "http://p:1");
	assert_string_equal(nc->proxy.https, "");
	assert_string_equal(nc->proxy.no_proxy, "");

	assert_rc(proxy_item(nc, "http://p:3128\n", NULL, NULL), -EINVAL);
	assert_rc(proxy_item(nc, NULL, "http://p\r", NULL), -EINVAL);
	assert_rc(proxy_item(nc, NULL, NULL, "a,\x01b"), -EINVAL);
	assert_rc(proxy_item(nc, "http://p\x7f", NULL, NULL), -EINVAL);
	assert_rc(proxy_item(nc, "http://p\x1b]0;x\x07", NULL, NULL), -EINVAL);
	assert_rc(proxy_item(nc, "http://a b", NULL, NULL), -EINVAL);
	assert_rc(proxy_item(nc, NULL, NULL, "a,\tb"), -EINVAL);
	assert_rc(proxy_item(nc, "http://\xc3\xa9", NULL, NULL), -EINVAL);
	free(nc);
}

static void
test_link_checks(void **state)
{
	struct vmn_netconf *nc = fresh();

	(void)state;
	assert_rc(link_item(nc, "eth0", 68), 0);
	assert_rc(link_item(nc, "eth1", 65535), 0);
	assert_rc(link_item(nc, "eth2", 0), 0);		/* "leave as is" */
	assert_rc(link_item(nc, "eth3", 67), -EINVAL);
	assert_rc(link_item(nc, "eth3", 65536), -EINVAL);
	assert_rc(link_item(nc, "eth3", 1), -EINVAL);
	assert_rc(link_item(nc, "eth3", 0x7fffffff), -EINVAL);
	assert_int_equal(nc->nlinks, 3);
	assert_int_equal(nc->links[0].mtu, 68);
	assert_int_equal(nc->links[1].mtu, 65535);
	assert_int_equal(nc->links[2].mtu, 0);

	/* Interface names: no slashes, no whitespace, no control chars. */
	vmn_netconf_reset(nc, 1);
	assert_rc(link_item(nc, "a/b", -1), -EINVAL);
	assert_rc(link_item(nc, "/", -1), -EINVAL);
	assert_rc(link_item(nc, "eth 0", -1), -EINVAL);
	assert_rc(link_item(nc, "eth0\n", -1), -EINVAL);
	assert_rc(link_item(nc, "eth\x01", -1), -EINVAL);
	assert_rc(addr_item(nc, "../x", "10.0.0.1", 8), -EINVAL);
	assert_int_equal(nc->nlinks, 0);
	assert_int_equal(nc->naddrs, 0);
	free(nc);
}

static void
test_not_an_item(void **state)
{
	static const uint16_t types[] = {
		VMN_MSG_HELLO, VMN_MSG_CONFIG_BEGIN, VMN_MSG_CONFIG_COMMIT,
		VMN_MSG_PING, VMN_MSG_EVENT,
	};
	struct vmn_netconf *nc = fresh();
	struct vmn_msg m;
	const char *why;
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.type = types[i];
		why = NULL;
		assert_rc(vmn_netconf_decode_item(nc, &m, &why), -EINVAL);
		assert_non_null(why);
	}
	free(nc);
}

/*
 * An item flagged ERROR is parsed with the error policy, so its required
 * attributes (a link's MAC) need not be there: refused, never decoded.
 */
static void
test_error_flagged_item(void **state)
{
	static const uint16_t types[] = { VMN_MSG_CONFIG_LINK,
	    VMN_MSG_CONFIG_ADDR, VMN_MSG_CONFIG_ROUTE, VMN_MSG_CONFIG_NEIGH,
	    VMN_MSG_CONFIG_DNS, VMN_MSG_CONFIG_SYSCTL };
	struct vmn_netconf *nc = fresh();
	struct vmn_buf b;
	struct vmn_msg m;
	const char *why;
	unsigned i;
	int len;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		vmn_buf_init(&b, st, sizeof(st));
		vmn_msg_begin(&b, types[i], VMN_F_ERROR, 0);
		vmn_put_u32(&b, VMN_A_ERRNO, EINVAL);
		len = vmn_msg_end(&b);
		assert_true(len > 0);
		why = NULL;
		assert_rc(vmn_msg_parse(st, (size_t)len, &m, &why), 0);
		assert_rc(vmn_netconf_decode_item(nc, &m, &why), -EPROTO);
		assert_non_null(why);
	}
	assert_int_equal(nc->nlinks + nc->naddrs + nc->nroutes, 0);
	free(nc);
}

/* ---- whole-transaction checks ----------------------------------------- */

static void
test_check(void **state)
{
	struct vmn_netconf *nc = full_netconf();
	const char *why = NULL;

	(void)state;
	assert_rc(vmn_netconf_check(nc, &why), 0);

	/* Same name twice. */
	add_link(nc, "eth0", "02:00:5e:10:00:09", 0);
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	assert_non_null(why);
	nc->nlinks--;
	/* Same MAC twice. */
	add_link(nc, "eth9", "02:00:5e:10:00:02", 0);
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->nlinks--;
	assert_rc(vmn_netconf_check(nc, &why), 0);

	/* Address, route, neighbour on a link not in the set. */
	add_addr(nc, "eth9", "10.0.0.1/8");
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->naddrs--;
	add_route(nc, "eth9", "10.0.0.0/8", NULL, 0);
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->nroutes--;
	add_neigh(nc, "eth9", "10.0.0.1", "02:00:00:00:00:01");
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->nneighs--;
	add_snat(nc, "eth9", 60928, 61439);
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->nsnats--;
	/* A name that is a prefix of a configured one is still not it. */
	add_addr(nc, "eth", "10.0.0.1/8");
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->naddrs--;
	assert_rc(vmn_netconf_check(nc, &why), 0);

	/* No links at all: items referring to any link fail. */
	nc->nlinks = 0;
	assert_rc(vmn_netconf_check(nc, &why), -EINVAL);
	nc->naddrs = nc->nroutes = nc->nneighs = nc->nsnats = 0;
	assert_rc(vmn_netconf_check(nc, &why), 0);
	free(nc);
}

/* ---- encoding errors -------------------------------------------------- */

static void
test_emit_error_stops(void **state)
{
	struct vmn_netconf *nc = full_netconf();
	struct frames f;
	unsigned total, at;

	(void)state;
	frames_init(&f);
	assert_true(vmn_netconf_encode(nc, 1, collect, &f) >= 0);
	total = f.n;
	assert_int_equal(f.calls, total);
	frames_free(&f);

	for (at = 0; at < total; at++) {
		frames_init(&f);
		f.fail_at = (int)at;
		f.fail_rc = -ECANCELED - (int)at;	/* distinct per frame */
		assert_rc(vmn_netconf_encode(nc, 1, collect, &f),
		    -ECANCELED - (int)at);
		/* Nothing emitted after the failing frame. */
		assert_int_equal(f.calls, at + 1);
		assert_int_equal(f.n, at);
		frames_free(&f);
	}
	free(nc);
}

static void
test_encode_error(void **state)
{
	struct vmn_netconf *nc = full_netconf();
	struct frames f;
	unsigned before;

	(void)state;
	/* An address without a family cannot be encoded: the encoder's error
	 * comes back and the bad frame is not emitted. */
	before = 1 + nc->nlinks + nc->nsysctls + 1;	/* up to addrs[1] */
	memset(&nc->addrs[1].pfx.ip, 0, sizeof(nc->addrs[1].pfx.ip));
	frames_init(&f);
	assert_rc(vmn_netconf_encode(nc, 1, collect, &f), -EAFNOSUPPORT);
	assert_int_equal(f.n, before);
	frames_free(&f);

	/* A DNS server without a family, too. */
	free(nc);
	nc = full_netconf();
	nc->dns.servers[2].family = 0;
	frames_init(&f);
	assert_rc(vmn_netconf_encode(nc, 1, collect, &f), -EAFNOSUPPORT);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_DNS), 0);
	assert_int_equal(count_type(&f, VMN_MSG_CONFIG_COMMIT), 0);
	frames_free(&f);
	free(nc);
}

/* sysctl(8) names: a '/' stands for a dot inside an interface name. */
static void
test_sysctl_dotted_ifname(void **state)
{
	char name[128], path[160];

	(void)state;
	assert_rc(vmn_sysctl_link_name(name, sizeof(name), "ipv6", "eth0.5",
	    "accept_ra"), 0);
	assert_string_equal(name, "net.ipv6.conf.eth0/5.accept_ra");
	assert_true(vmn_sysctl_name_ok(name));
	assert_rc(vmn_sysctl_path(name, path, sizeof(path)), 0);
	assert_string_equal(path, "/proc/sys/net/ipv6/conf/eth0.5/accept_ra");
	assert_rc(vmn_sysctl_path("net.ipv4.ip_forward", path, sizeof(path)), 0);
	assert_string_equal(path, "/proc/sys/net/ipv4/ip_forward");
	assert_rc(vmn_sysctl_link_name(name, 8, "ipv6", "eth0", "accept_ra"),
	    -ENAMETOOLONG);
	/* Nothing that could climb out of /proc/sys/net. */
	assert_false(vmn_sysctl_name_ok("net.ipv6.conf.a//b.x"));
	assert_false(vmn_sysctl_name_ok("net.ipv6.conf.a/.b.x"));
	assert_false(vmn_sysctl_name_ok("net.ipv6.conf../x"));
	assert_false(vmn_sysctl_name_ok("kernel.core_pattern"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysctl_dotted_ifname),
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_optional_attrs_omitted),
		cmocka_unit_test(test_roundtrip_minimal),
		cmocka_unit_test(test_roundtrip_limits),
		cmocka_unit_test(test_prefix_length),
		cmocka_unit_test(test_route_host_bits),
		cmocka_unit_test(test_route_gateway_family),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_dns_text),
		cmocka_unit_test(test_sysctl_names),
		cmocka_unit_test(test_proxy_text),
		cmocka_unit_test(test_link_checks),
		cmocka_unit_test(test_not_an_item),
		cmocka_unit_test(test_error_flagged_item),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_emit_error_stops),
		cmocka_unit_test(test_encode_error),
	};

	return cmocka_run_group_tests_name("netconf", tests, NULL, NULL);
}
