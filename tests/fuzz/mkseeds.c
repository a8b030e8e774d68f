/*
 * mkseeds.c - writes the binary seed corpora of tests/fuzz/corpus/
 *
 *   mkseeds DIR
 *
 * Each harness gets a few valid inputs in the format it reads (see the
 * comment at the top of each fuzz_NAME.c), built with the project's own
 * encoders where there is one (frames, configuration transactions), and a
 * few near-valid ones: one field off, a length past the end, a loop. The
 * text corpora (config, register, policy) come from tests/config and
 * tests/policy: tests/fuzz/mkseeds.sh copies those. Run through
 * mkseeds.sh, which builds this first.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "chan.h"
#include "netconf.h"
#include "privsep.h"
#include "wire.h"

static const char *top;

/* ---- files ------------------------------------------------------------------- */

struct out {
	uint8_t	buf[1 << 17];
	size_t	len;
};

static void
out_reset(struct out *o)
{
	o->len = 0;
}

static void
out_put(struct out *o, const void *p, size_t len)
{
	if (o->len + len > sizeof(o->buf)) {
		fprintf(stderr, "mkseeds: seed too big\n");
		exit(1);
	}
	if (len)
		memcpy(o->buf + o->len, p, len);
	o->len += len;
}

static void
out_u8(struct out *o, uint8_t v)
{
	out_put(o, &v, 1);
}

static void
out_le16(struct out *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	out_put(o, b, 2);
}

static void
out_le32(struct out *o, uint32_t v)
{
	out_le16(o, (uint16_t)v);
	out_le16(o, (uint16_t)(v >> 16));
}

static void
out_le64(struct out *o, uint64_t v)
{
	out_le32(o, (uint32_t)v);
	out_le32(o, (uint32_t)(v >> 32));
}

static void
out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void
save(const char *harness, const char *name, const struct out *o)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, harness);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", top, harness, name);
	if (!(f = fopen(path, "w")) || fwrite(o->buf, 1, o->len, f) != o->len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- frames ---------------------------------------------------------------- */

static uint8_t fb[VMN_MAX_FRAME];

/* Appends the frame in b to o. */
static void
out_frame(struct out *o, struct vmn_buf *b)
{
	int len = vmn_msg_end(b);

	if (len < 0) {
		fprintf(stderr, "mkseeds: cannot encode: %s\n", strerror(-len));
		exit(1);
	}
	out_put(o, b->data, (size_t)len);
}

static void
hello(struct out *o, uint8_t flags, uint32_t seq, enum vmn_role role,
    const char *vm)
{
	struct vmn_buf b;

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_build_hello(&b, flags, seq, role,
	    VMN_CAP_CONFIG | VMN_CAP_DNS_TUNNEL | VMN_CAP_PORTFWD |
	    VMN_CAP_RFWD, vm);
	out_put(o, fb, (size_t)vmn_msg_end(&b));
}

static void
event(struct out *o, uint8_t ev, uint8_t proto, uint8_t family, uint16_t port,
    uint32_t conn_id)
{
	struct vmn_buf b;

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 0);
	vmn_put_u8(&b, VMN_A_EVENT, ev);
	if (proto) {
		vmn_put_u8(&b, VMN_A_PROTO, proto);
		vmn_put_u8(&b, VMN_A_FAMILY, family);
		vmn_put_u16(&b, VMN_A_PORT, port);
		vmn_put_u8(&b, VMN_A_LISTEN_FLAGS,
		    VMN_LISTEN_LOOPBACK | VMN_LISTEN_EXPOSED);
	}
	if (conn_id)
		vmn_put_u32(&b, VMN_A_CONN_ID, conn_id);
	if (ev == VMN_EV_FWD_BYTES) {
		vmn_put_u64(&b, VMN_A_BYTES_IN, 1000);
		vmn_put_u64(&b, VMN_A_BYTES_OUT, 2000);
		vmn_put_u64(&b, VMN_A_COUNT, 3);
	}
	out_frame(o, &b);
}

static void
ping(struct out *o, uint8_t flags, uint32_t seq)
{
	struct vmn_buf b;

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_PING, flags, seq);
	out_frame(o, &b);
}

static size_t dns_query(uint8_t *q, const char *name, uint16_t qtype,
    bool edns);

static void
dns_frame(struct out *o, uint32_t seq, uint32_t id, const char *name,
    uint16_t qtype)
{
	uint8_t q[512];
	struct vmn_buf b;
	size_t n = dns_query(q, name, qtype, true);

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_DNS, VMN_F_REQUEST, seq);
	vmn_put_u32(&b, VMN_A_DNS_ID, id);
	vmn_put_u8(&b, VMN_A_PROTO, IPPROTO_UDP);
	vmn_put(&b, VMN_A_PAYLOAD, q, n);
	out_frame(o, &b);
}

static void
fwd(struct out *o, uint32_t seq, uint8_t proto, uint16_t port,
    uint32_t conn_id)
{
	struct vmn_buf b;

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REQUEST, seq);
	vmn_put_u8(&b, VMN_A_PROTO, proto);
	vmn_put_u8(&b, VMN_A_FAMILY, AF_INET);
	vmn_put_u16(&b, VMN_A_PORT, port);
	vmn_put_u32(&b, VMN_A_CONN_ID, conn_id);
	out_frame(o, &b);
}

static void
commit_reply(struct out *o, uint32_t seq, uint32_t gen)
{
	struct vmn_buf b;

	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_CONFIG_COMMIT, VMN_F_REPLY, seq);
	vmn_put_u32(&b, VMN_A_GEN, gen);
	out_frame(o, &b);
}

static int
emit_out(void *arg, const uint8_t *frame, size_t len)
{
	out_put(arg, frame, len);
	return 0;
}

/* A transaction as host-netd sends a NAT guest with IPv6 and DNS. */
static void
transaction(struct out *o)
{
	static struct vmn_netconf nc;
	struct vmn_ip gw;

	vmn_netconf_reset(&nc, 3);
	nc.nlinks = 1;
	strcpy(nc.links[0].name, "eth0");
	memcpy(nc.links[0].mac, "\x52\x54\x00\x12\x34\x56", 6);
	nc.links[0].mtu = 1500;
	nc.naddrs = 3;
	strcpy(nc.addrs[0].ifname, "eth0");
	vmn_prefix_parse("172.21.54.2/24", &nc.addrs[0].pfx);
	strcpy(nc.addrs[1].ifname, "eth0");
	vmn_prefix_parse("fdb3:ad37:f95d:3536::2/64", &nc.addrs[1].pfx);
	strcpy(nc.addrs[2].ifname, "lo");
	vmn_prefix_parse("10.255.255.254/32", &nc.addrs[2].pfx);
	nc.nroutes = 1;
	strcpy(nc.routes[0].ifname, "eth0");
	nc.routes[0].dst.ip.family = AF_INET;
	vmn_ip_parse("172.21.54.1", &gw);
	nc.routes[0].gw = gw;
	nc.nneighs = 1;
	strcpy(nc.neighs[0].ifname, "eth0");
	nc.neighs[0].ip = gw;
	memcpy(nc.neighs[0].lladdr, "\x52\x54\x00\x65\x43\x21", 6);
	nc.nsysctls = 1;
	strcpy(nc.sysctls[0].name, "net.ipv6.conf.eth0.accept_ra");
	strcpy(nc.sysctls[0].value, "0");
	nc.dns.present = nc.dns.tunnel = true;
	nc.dns.nservers = 1;
	vmn_ip_parse("10.255.255.254", &nc.dns.servers[0]);
	nc.dns.nsearch = 1;
	strcpy(nc.dns.search[0], "test.lan");
	strcpy(nc.dns.options, "edns0 trust-ad");
	nc.proxy.present = true;
	strcpy(nc.proxy.http, "http://127.0.0.1:3128");
	strcpy(nc.proxy.no_proxy, "localhost,127.0.0.1");
	nc.nrfwds = 1;
	nc.rfwds[0].proto = IPPROTO_TCP;
	nc.rfwds[0].port = 3128;
	nc.rfwds[0].guest_port = 3128;
	nc.nsnats = 1;
	strcpy(nc.snats[0].ifname, "eth0");
	nc.snats[0].lo = 61000;
	nc.snats[0].hi = 61999;
	if (vmn_netconf_encode(&nc, 9, emit_out, o) < 0) {
		fprintf(stderr, "mkseeds: cannot encode the transaction\n");
		exit(1);
	}
}

/* ---- DNS --------------------------------------------------------------------- */

static size_t
dns_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	const char *dot;

	while (*name) {
		dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static size_t
dns_query(uint8_t *q, const char *name, uint16_t qtype, bool edns)
{
	size_t n = 12;

	memset(q, 0, 12);
	q[0] = 0xab;
	q[1] = 0xcd;
	q[2] = 0x01;		/* RD */
	q[5] = 1;		/* one question */
	q[11] = edns;		/* ARCOUNT */
	n += dns_name(q + n, name);
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = 1;		/* IN */
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0,
		    0, 0, 0 };	/* root, OPT, 1232 bytes, no options */

		memcpy(q + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

static void
seeds_dns(void)
{
	static uint8_t q[8192];
	struct out o;
	size_t n;

	out_reset(&o);
	n = dns_query(q, "www.example.com", 1, false);
	out_put(&o, q, n);
	save("dns", "a", &o);

	out_reset(&o);
	n = dns_query(q, "web.test.lan", 28, true);
	out_put(&o, q, n);
	save("dns", "aaaa-edns", &o);

	/* An OPT with a small buffer, and one with an option in it. */
	out_reset(&o);
	n = dns_query(q, "example.org", 16, true);
	q[n - 8] = 0x00;
	q[n - 7] = 0x10;	/* 16 bytes: below 512 */
	out_put(&o, q, n);
	save("dns", "txt-edns-small", &o);

	/* NOTIFY-like: an answer record with a compressed owner. */
	out_reset(&o);
	n = dns_query(q, "zone.example", 6, false);
	q[2] = 0x20;		/* opcode NOTIFY */
	q[7] = 1;		/* ANCOUNT */
	{
		static const uint8_t rr[] = { 0xc0, 12, 0, 6, 0, 1, 0, 0, 0,
		    60, 0, 4, 1, 2, 3, 4 };

		memcpy(q + n, rr, sizeof(rr));
		n += sizeof(rr);
	}
	out_put(&o, q, n);
	save("dns", "notify-compressed", &o);

	/* Near misses: a response, two questions, a pointer in the
	 * question, a label past the end, bytes after the last record. */
	out_reset(&o);
	n = dns_query(q, "a.example", 1, false);
	q[2] |= 0x80;
	out_put(&o, q, n);
	save("dns", "bad-response", &o);

	out_reset(&o);
	n = dns_query(q, "a.example", 1, false);
	q[5] = 2;
	out_put(&o, q, n);
	save("dns", "bad-two-questions", &o);

	out_reset(&o);
	n = dns_query(q, "a.example", 1, false);
	q[12] = 0xc0;
	out_put(&o, q, n);
	save("dns", "bad-pointer", &o);

	out_reset(&o);
	n = dns_query(q, "a.example", 1, false);
	out_put(&o, q, 16);
	save("dns", "bad-truncated", &o);

	out_reset(&o);
	n = dns_query(q, "a.example", 1, true);
	q[n++] = 0;
	out_put(&o, q, n);
	save("dns", "bad-trailing", &o);

	out_reset(&o);
	out_put(&o, "\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
	save("dns", "header-only", &o);

	/* Larger than DNSTUN_MAX_QUERY: an OPT with one big option. */
	out_reset(&o);
	n = dns_query(q, "big.example", 1, true);
	q[n - 2] = 0x10;
	q[n - 1] = 0x08;	/* rdlength 4104 */
	memset(q + n, 0, 4104);
	q[n + 1] = 12;		/* option 12 (padding) */
	q[n + 2] = 0x10;
	q[n + 3] = 0x04;
	n += 4104;
	out_put(&o, q, n);
	save("dns", "refused-big", &o);
}

/* ---- wire, conn ---------------------------------------------------------------- */

static void
seeds_wire(void)
{
	struct vmn_buf b;
	struct out o;
	int i;

	out_reset(&o);
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "demo");
	save("wire", "hello", &o);

	out_reset(&o);
	hello(&o, VMN_F_REPLY, 1, VMN_ROLE_CONTROL, "demo");
	transaction(&o);
	save("wire", "transaction", &o);

	out_reset(&o);
	event(&o, VMN_EV_LISTENER_ADD, IPPROTO_TCP, AF_INET, 3000, 0);
	event(&o, VMN_EV_LISTENERS_SYNCED, 0, 0, 0, 0);
	event(&o, VMN_EV_FWD_RESET, 0, 0, 0, 77);
	event(&o, VMN_EV_FWD_BYTES, 0, 0, 0, 0x40000005);
	ping(&o, VMN_F_REQUEST, 5);
	save("wire", "events", &o);

	out_reset(&o);
	dns_frame(&o, 2, 1, "web.test.lan", 1);
	fwd(&o, 3, IPPROTO_TCP, 3128, 0x80000001);
	save("wire", "dns-fwd", &o);

	out_reset(&o);
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_build_error(&b, VMN_MSG_CONFIG_COMMIT, 9, EINVAL,
	    "ip: RTNETLINK answers: no such device");
	out_frame(&o, &b);
	save("wire", "error", &o);

	/* Nests: status with stats, and nests four deep. */
	out_reset(&o);
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_CTL_STATUS, VMN_F_REPLY, 4);
	vmn_put_u32(&b, VMN_A_VERSION, 1);
	vmn_nest_begin(&b, VMN_A_STATS);
	vmn_nest_begin(&b, VMN_A_STAT);
	vmn_put_str(&b, VMN_A_NAME, "dns.queries");
	vmn_put_u64(&b, VMN_A_COUNT, 12345);
	vmn_nest_end(&b);
	vmn_nest_end(&b);
	out_frame(&o, &b);
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_CTL_RELOAD, VMN_F_REPLY, 5);
	vmn_nest_begin(&b, VMN_A_CHANGES);
	for (i = 0; i < 3; i++)
		vmn_nest_begin(&b, VMN_A_CHANGE);
	vmn_put_str(&b, VMN_A_VM_ID, "deep");
	for (i = 0; i < 4; i++)
		vmn_nest_end(&b);
	out_frame(&o, &b);
	save("wire", "nests", &o);

	out_reset(&o);
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_CTL_REGISTER, VMN_F_REQUEST, 6);
	vmn_put_str(&b, VMN_A_PAYLOAD,
	    "vm \"dev\" {\n\tlink tap\n\tchannel vsock:42\n}\n");
	vmn_put_str(&b, VMN_A_NAME, "dev.conf");
	vmn_put_u32(&b, VMN_A_PID, 4242);
	out_frame(&o, &b);
	save("wire", "register", &o);

	/* Near misses: the length one short, a bad attribute length. */
	out_reset(&o);
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_DNS, NULL);
	o.buf[11]--;
	save("wire", "bad-length", &o);
	out_reset(&o);
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_DNS, NULL);
	o.buf[VMN_HDR_LEN + 1] = 3;
	save("wire", "bad-attr-length", &o);

	/* The harness's second reading: type, flags, then the payload. */
	out_reset(&o);
	out_u8(&o, VMN_MSG_CONFIG_ROUTE - 1);
	out_u8(&o, 0);
	{
		struct vmn_ip ip;
		int len;

		vmn_buf_init(&b, fb, sizeof(fb));
		vmn_msg_begin(&b, VMN_MSG_CONFIG_ROUTE, 0, 0);
		vmn_put_str(&b, VMN_A_IFNAME, "eth0");
		vmn_ip_parse("10.1.0.0", &ip);
		vmn_put_ip(&b, VMN_A_ADDR, &ip);
		vmn_put_u8(&b, VMN_A_PREFIXLEN, 16);
		vmn_ip_parse("172.21.54.1", &ip);
		vmn_put_ip(&b, VMN_A_GATEWAY, &ip);
		vmn_put_u32(&b, VMN_A_METRIC, 100);
		len = vmn_msg_end(&b);
		out_put(&o, fb + VMN_HDR_LEN, (size_t)len - VMN_HDR_LEN);
	}
	save("wire", "payload-route", &o);

	/* conn: piece-size seed, failing seq, then the stream. */
	out_reset(&o);
	out_u8(&o, 7);
	out_u8(&o, 0);
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "demo");
	event(&o, VMN_EV_LISTENER_ADD, IPPROTO_TCP, AF_INET6, 8080, 0);
	ping(&o, VMN_F_REQUEST, 2);
	transaction(&o);
	save("conn", "stream", &o);

	out_reset(&o);
	out_u8(&o, 1);
	out_u8(&o, 3);		/* the handler fails seq 3 */
	ping(&o, VMN_F_REQUEST, 1);
	ping(&o, VMN_F_REPLY, 2);
	ping(&o, VMN_F_REQUEST, 3);
	ping(&o, VMN_F_REQUEST, 4);
	save("conn", "handler-error", &o);

	out_reset(&o);
	out_u8(&o, 200);
	out_u8(&o, 0);
	ping(&o, VMN_F_REQUEST, 1);
	ping(&o, VMN_F_REQUEST, 0x101);	/* answered, then closed */
	ping(&o, VMN_F_REQUEST, 2);
	save("conn", "close-after-flush", &o);

	out_reset(&o);
	out_u8(&o, 3);
	out_u8(&o, 0);
	ping(&o, VMN_F_REQUEST, 1);
	out_str(&o, "vn\x01\x00\x00\x0c\x00\x00\x00\x01\x00\x00");
	save("conn", "bad-header", &o);
}

/* ---- the parent on the engine's messages ---------------------------------------- */

/* fuzz_privsep's op 0 (a notice) or 1 (a request), kind, for the VM. */
static void
ps_op(struct out *o, uint8_t op, uint8_t kind, const void *body, size_t len)
{
	out_u8(o, op);
	out_u8(o, kind);
	out_u8(o, 2);		/* the VM's own id */
	out_put(o, body, len);
}

static void
seeds_privsep(void)
{
	struct ps_listener l = { 1, IPPROTO_TCP, 3000 };
	struct ps_result r = { -EINVAL, 1, "ip: no such device" };
	struct ps_fwd_note n;
	struct ps_connect c;
	struct ps_gen g = { 1 };
	struct ps_bind b;
	struct out o;

	/* A guest up, its configuration acked, a listener, a port, gone. */
	out_reset(&o);
	ps_op(&o, 0, 0, NULL, 0);
	out_u8(&o, 2);
	ps_op(&o, 0, 2, &g, sizeof(g));
	ps_op(&o, 0, 4, &l, sizeof(l));
	memset(&n, 0, sizeof(n));
	n.port.proto = IPPROTO_TCP;
	vmn_ip_parse("127.0.0.1", &n.port.addr);
	n.port.host_port = n.port.guest_port = 3000;
	snprintf(n.port.kind, sizeof(n.port.kind), "auto");
	snprintf(n.port.state, sizeof(n.port.state), "active");
	ps_op(&o, 0, 5, &n, sizeof(n));
	ps_op(&o, 0, 1, NULL, 0);
	save("privsep", "online", &o);

	/* A configuration failed, then acked late. */
	out_reset(&o);
	ps_op(&o, 0, 0, NULL, 0);
	ps_op(&o, 0, 3, &r, sizeof(r));
	ps_op(&o, 0, 2, &g, sizeof(g));
	save("privsep", "failed", &o);

	/* Ports asked for: allowed, below 1024, elsewhere, shared. */
	out_reset(&o);
	memset(&b, 0, sizeof(b));
	vmn_ip_parse("127.0.0.1", &b.addr);
	b.proto = IPPROTO_TCP;
	b.port = 20000;
	b.backlog = 16;
	ps_op(&o, 1, 1, &b, sizeof(b));
	b.port = 80;
	ps_op(&o, 1, 1, &b, sizeof(b));
	b.port = 20000;
	vmn_ip_parse("192.0.2.1", &b.addr);
	ps_op(&o, 1, 1, &b, sizeof(b));
	vmn_ip_parse("::1", &b.addr);
	b.reuseport = 1;
	ps_op(&o, 1, 1, &b, sizeof(b));
	memset(&c, 0, sizeof(c));
	c.port = 7701;
	ps_op(&o, 1, 0, &c, sizeof(c));
	save("privsep", "requests", &o);
}

/* ---- the session --------------------------------------------------------------- */

/* Op 1 of fuzz_session: guest `which` writes what o2 holds. */
static void
sess_write(struct out *o, uint8_t which, const struct out *o2)
{
	out_u8(o, 1);
	out_u8(o, which);
	out_le16(o, (uint16_t)o2->len);
	out_put(o, o2->buf, o2->len);
}

static void
seeds_session(void)
{
	struct out o, f;

	/* A guest online: HELLO, the transaction answered, events, PING. */
	out_reset(&o);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "fz");
	sess_write(&o, 0, &f);
	out_u8(&o, 3);
	out_u8(&o, 0);
	out_u8(&o, 0);		/* the COMMIT answered right */
	out_reset(&f);
	event(&f, VMN_EV_LISTENER_ADD, IPPROTO_TCP, AF_INET, 3000, 0);
	event(&f, VMN_EV_LISTENER_ADD, IPPROTO_UDP, AF_INET6, 5353, 0);
	event(&f, VMN_EV_LISTENERS_SYNCED, 0, 0, 0, 0);
	event(&f, VMN_EV_LISTENER_DEL, IPPROTO_TCP, AF_INET, 3000, 0);
	event(&f, VMN_EV_FWD_RESET, 0, 0, 0, 12);
	event(&f, VMN_EV_FWD_BYTES, 0, 0, 0, 0x40000001);
	ping(&f, VMN_F_REQUEST, 7);
	sess_write(&o, 0, &f);
	out_u8(&o, 4);
	save("session", "online", &o);

	/* The same answered with an error, then the wrong generation. */
	out_reset(&o);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, NULL);
	sess_write(&o, 0, &f);
	out_u8(&o, 3);
	out_u8(&o, 0);
	out_u8(&o, 1);
	out_u8(&o, 3);
	out_u8(&o, 0);
	out_u8(&o, 2);
	save("session", "commit-failed", &o);

	/* The COMMIT is the connection's first request from host-netd
	 * (seq 1), of generation 1: answered by hand, then again (stale). */
	out_reset(&o);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "fz");
	sess_write(&o, 0, &f);
	out_reset(&f);
	commit_reply(&f, 1, 1);
	commit_reply(&f, 1, 1);
	sess_write(&o, 0, &f);
	save("session", "commit-by-hand", &o);

	/* A DNS channel beside the control one, queries on it. */
	out_reset(&o);
	out_u8(&o, 0);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "fz");
	sess_write(&o, 0, &f);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_DNS, "fz");
	dns_frame(&f, 2, 1, "web.test.lan", 1);
	dns_frame(&f, 3, 2, "web.test.lan", 28);
	sess_write(&o, 1, &f);
	out_u8(&o, 2);
	out_u8(&o, 1);
	save("session", "dns", &o);

	/* rfwd: HELLO, then its FWD (refused: no reverse forward taken). */
	out_reset(&o);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_RFWD, "fz");
	fwd(&f, 2, IPPROTO_TCP, 3128, 0x80000001);
	sess_write(&o, 0, &f);
	save("session", "rfwd", &o);

	/* Hostile: another VM's name, frames before HELLO, a second
	 * control session replacing the first, an unknown role. */
	out_reset(&o);
	out_u8(&o, 0);
	out_u8(&o, 0);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "other");
	sess_write(&o, 0, &f);
	out_reset(&f);
	ping(&f, VMN_F_REQUEST, 1);
	sess_write(&o, 1, &f);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "fz");
	sess_write(&o, 2, &f);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, "fz");
	sess_write(&o, 2, &f);
	out_u8(&o, 0);
	out_reset(&f);
	hello(&f, VMN_F_REQUEST, 1, VMN_ROLE_HANDOFF, "fz");
	sess_write(&o, 3, &f);
	save("session", "hostile", &o);
}

/* ---- dgram, chan, hvsock ---------------------------------------------------------- */

static void
seeds_streams(void)
{
	struct out o;
	struct vmn_buf b;
	static uint8_t big[DGRAM_MAX];

	out_reset(&o);
	out_u8(&o, 5);
	out_put(&o, "\x00\x05" "hello" "\x00\x01" "x" "\x00\x03" "abc", 15);
	save("dgram", "three", &o);

	out_reset(&o);
	out_u8(&o, 0);
	out_u8(&o, 4000 >> 8);
	out_u8(&o, 4000 & 0xff);
	memset(big, 'u', 4000);
	out_put(&o, big, 4000);
	out_put(&o, "\x00\x02ok", 4);
	out_u8(&o, DGRAM_MAX >> 8);	/* the largest, cut short */
	out_u8(&o, DGRAM_MAX & 0xff);
	out_put(&o, big, 100);
	save("dgram", "large", &o);

	out_reset(&o);
	out_u8(&o, 9);
	out_put(&o, "\x00\x02hi\x00\x00", 6);
	save("dgram", "bad-zero", &o);

	out_reset(&o);
	out_u8(&o, 9);
	out_put(&o, "\x00\x02hi\xff\xff", 6);
	save("dgram", "bad-too-long", &o);

	out_reset(&o);
	out_u8(&o, 1);
	out_put(&o, "\x00\x10partial", 9);
	save("dgram", "partial", &o);

	/* chan: mode byte, then the stream. Requests, as an rfwd sends. */
	out_reset(&o);
	out_u8(&o, 0x10);
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_RFWD, "vm1");
	fwd(&o, 2, IPPROTO_TCP, 3128, 0x80000001);
	out_str(&o, "GET / HTTP/1.0\r\n\r\n");
	save("chan", "request", &o);

	out_reset(&o);
	out_u8(&o, 0x22);	/* with a descriptor passed */
	hello(&o, VMN_F_REQUEST, 1, VMN_ROLE_FWD, NULL);
	fwd(&o, 2, IPPROTO_UDP, 53, 7);
	save("chan", "request-passed", &o);

	/* Answers: HELLO, FWD done, the connection's bytes. */
	out_reset(&o);
	out_u8(&o, 0x01);
	hello(&o, VMN_F_REPLY, 1, VMN_ROLE_FWD, "vm1");
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REPLY, 2);
	out_frame(&o, &b);
	out_str(&o, "SSH-2.0-OpenSSH\r\n");
	save("chan", "reply", &o);

	out_reset(&o);
	out_u8(&o, 0x05);
	hello(&o, VMN_F_REPLY, 1, VMN_ROLE_FWD, "vm1");
	vmn_buf_init(&b, fb, sizeof(fb));
	vmn_build_error(&b, VMN_MSG_FWD, 2, ECONNREFUSED, "connection refused");
	out_frame(&o, &b);
	save("chan", "reply-refused", &o);

	out_reset(&o);
	out_u8(&o, 0x00);
	out_str(&o, "vn\x01\x01\x00\x01\x00\x00\x00\x00\x10\x00\x00\x00\x00\x01");
	save("chan", "bad-too-long", &o);

	/* hvsock: what the other end says, as both ends read it. */
	out_reset(&o);
	out_str(&o, "OK 1073741825\nhello");
	save("hvsock", "ok", &o);
	out_reset(&o);
	out_str(&o, "OK 5\n");
	save("hvsock", "ok-short", &o);
	out_reset(&o);
	out_str(&o, "CONNECT 5000\nGET / HTTP/1.0\r\n\r\n");
	save("hvsock", "connect-data", &o);
	out_reset(&o);
	out_str(&o, "CONNECT 1234\n");
	save("hvsock", "connect", &o);
	out_reset(&o);
	out_str(&o, "CONNECT 4294967295\n");
	save("hvsock", "connect-max", &o);
	out_reset(&o);
	out_str(&o, "CONNECT +7\nx");
	save("hvsock", "connect-plus", &o);
	out_reset(&o);
	out_str(&o, "FAILURE\n");
	save("hvsock", "refused", &o);
	out_reset(&o);
	out_str(&o, "CONNECT 12345678901234567890123\n");
	save("hvsock", "too-long", &o);
}

/* ---- virtqueues ---------------------------------------------------------------- */

#define VQ_GPA		0x10000ull

/* A descriptor, little-endian, at slot i of a 16-byte table. */
static void
vq_desc(uint8_t *ram, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *p = ram + 16 * i;
	unsigned k;

	for (k = 0; k < 8; k++)
		p[k] = (uint8_t)(gpa >> (8 * k));
	for (k = 0; k < 4; k++)
		p[8 + k] = (uint8_t)(len >> (8 * k));
	p[12] = (uint8_t)flags;
	p[13] = (uint8_t)(flags >> 8);
	p[14] = (uint8_t)next;
	p[15] = (uint8_t)(next >> 8);
}

/* fuzz_virtq: num-1, base, layout, the RAM blob, operations. */
static void
vq_seed(const char *name, uint8_t num1, const uint8_t *ram, uint16_t ramlen,
    const char *ops, size_t nops)
{
	struct out o;

	out_reset(&o);
	out_u8(&o, num1);
	out_le16(&o, 0);
	out_u8(&o, 0);
	out_le16(&o, ramlen);
	out_put(&o, ram, ramlen);
	out_put(&o, ops, nops);
	save("virtq", name, &o);
}

static void
seeds_virtq(void)
{
	static uint8_t ram[0x1200];
	const char pops[] = { 0, 0, 0, 4, 5 };

	/* Two chains: readable; readable then two writable (NEXT). */
	memset(ram, 0, sizeof(ram));
	vq_desc(ram, 0, VQ_GPA + 0x4000, 100, 0, 0);
	vq_desc(ram, 1, VQ_GPA + 0x5000, 44, 1, 2);
	vq_desc(ram, 2, VQ_GPA + 0x6000, 512, 3, 3);
	vq_desc(ram, 3, VQ_GPA + 0x7000, 512, 2, 0);
	ram[0x1000 + 2] = 2;		/* avail idx */
	ram[0x1000 + 4] = 0;		/* ring[0] = 0 */
	ram[0x1000 + 6] = 1;		/* ring[1] = 1 */
	vq_seed("chains", 7, ram, sizeof(ram), pops, sizeof(pops));

	/* Bad chains: outside RAM, INDIRECT, readable after writable. */
	memset(ram, 0, sizeof(ram));
	vq_desc(ram, 0, VQ_GPA + 0x20000, 16, 0, 0);
	vq_desc(ram, 1, VQ_GPA + 0x4000, 16, 4, 0);
	vq_desc(ram, 2, VQ_GPA + 0x4000, 16, 3, 3);
	vq_desc(ram, 3, VQ_GPA + 0x5000, 16, 0, 0);
	ram[0x1000 + 2] = 3;
	ram[0x1000 + 4] = 0;
	ram[0x1000 + 6] = 1;
	ram[0x1000 + 8] = 2;
	vq_seed("bad-chains", 7, ram, sizeof(ram), pops, sizeof(pops));

	/* Corrupt rings: a loop; next out of range; avail running ahead. */
	memset(ram, 0, sizeof(ram));
	vq_desc(ram, 0, VQ_GPA + 0x4000, 16, 1, 1);
	vq_desc(ram, 1, VQ_GPA + 0x4000, 16, 1, 0);
	ram[0x1000 + 2] = 1;
	vq_seed("loop", 3, ram, sizeof(ram), pops, sizeof(pops));
	vq_desc(ram, 1, VQ_GPA + 0x4000, 16, 1, 9);
	vq_seed("next-out-of-range", 3, ram, sizeof(ram), pops,
	    sizeof(pops));
	ram[0x1000 + 2] = 9;
	vq_seed("avail-ahead", 3, ram, sizeof(ram), pops, sizeof(pops));

	/* The guest rewrites a descriptor between two pops (op 3). */
	{
		const char ops[] = { 1, 2, 3, 0x08, 0x00, 4, 0x00, 0x00, 0x10,
		    0x00, 0, 0, 4 };

		memset(ram, 0, sizeof(ram));
		vq_desc(ram, 0, VQ_GPA + 0x4000, 100, 0, 0);
		ram[0x1000 + 2] = 1;
		vq_seed("rewrite", 7, ram, sizeof(ram), ops, sizeof(ops));
	}
}

/* ---- vsock, vhost-user -------------------------------------------------------------- */

#define VS_HOST_PORT	5000u
#define VS_LOCAL_PORT	((1u << 30) + 1)	/* the device's first */

/* fuzz_vsock op 0 with a header made from fields (sent 1 + reps times). */
static void
vs_txn(struct out *o, uint8_t how, uint8_t reps, uint32_t src, uint32_t dst,
    uint8_t op, uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt,
    const char *data)
{
	out_u8(o, 0);
	out_u8(o, how | (reps ? 4 : 0));
	if (reps)
		out_u8(o, reps);
	out_le32(o, src);
	out_le32(o, dst);
	out_u8(o, op);
	out_le32(o, flags);
	out_le32(o, buf_alloc);
	out_le32(o, fwd_cnt);
	out_le16(o, (uint16_t)strlen(data));
	out_str(o, data);
}

static void
vs_tx(struct out *o, uint8_t how, uint32_t src, uint32_t dst, uint8_t op,
    uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt, const char *data)
{
	vs_txn(o, how, 0, src, dst, op, flags, buf_alloc, fwd_cnt, data);
}

static void
vs_rx(struct out *o, uint8_t n, uint16_t size)
{
	out_u8(o, 1);
	out_u8(o, n - 1);
	out_le16(o, (uint16_t)(size - 44));
}

static void
seeds_vsock(void)
{
	struct out o;

	/* guest -> host port 5000: REQUEST, data both ways, shutdown. */
	out_reset(&o);
	vs_rx(&o, 8, 4096);
	vs_tx(&o, 0, 40000, VS_HOST_PORT, 1, 0, 262144, 0, "");
	vs_tx(&o, 0, 40000, VS_HOST_PORT, 5, 0, 262144, 0, "hello, host");
	vs_tx(&o, 1, 40000, VS_HOST_PORT, 5, 0, 262144, 0, "split header");
	vs_tx(&o, 0, 40000, VS_HOST_PORT, 7, 0, 262144, 0, "");
	vs_tx(&o, 0, 40000, VS_HOST_PORT, 6, 0, 262144, 23, "");
	out_u8(&o, 5);
	vs_tx(&o, 0, 40000, VS_HOST_PORT, 4, 3, 262144, 23, "");
	vs_rx(&o, 4, 4096);
	save("vsock", "guest-connects", &o);

	/* host program -> guest port 1234: CONNECT, RESPONSE, data. */
	out_reset(&o);
	out_u8(&o, 2);
	out_u8(&o, 19);
	out_str(&o, "CONNECT 1234\nearly!");
	vs_rx(&o, 8, 4096);
	vs_tx(&o, 0, 1234, VS_LOCAL_PORT, 2, 0, 65536, 0, "");
	out_u8(&o, 3);
	out_u8(&o, 0);
	out_le16(&o, 5);
	out_str(&o, "later");
	vs_rx(&o, 4, 4096);
	vs_tx(&o, 0, 1234, VS_LOCAL_PORT, 5, 0, 65536, 0, "reply");
	out_u8(&o, 4);
	out_u8(&o, 0x80);	/* the program shuts its writing side */
	vs_rx(&o, 2, 4096);
	vs_tx(&o, 0, 1234, VS_LOCAL_PORT, 3, 0, 65536, 0, "");
	save("vsock", "host-connects", &o);

	/* Refused and malformed: no listener, another CID, data on a
	 * control packet, a length past the chain, an unknown op; the
	 * front-end resetting the device under a connection. */
	out_reset(&o);
	vs_rx(&o, 8, 4096);
	vs_tx(&o, 0, 40001, 4999, 1, 0, 4096, 0, "");
	vs_tx(&o, 0, 40002, VS_HOST_PORT, 6, 0, 4096, 0, "data on control");
	vs_tx(&o, 0, 40003, VS_HOST_PORT, 9, 0, 4096, 0, "");
	vs_tx(&o, 0, 40004, VS_HOST_PORT, 5, 0, 4096, 0, "nobody here");
	out_u8(&o, 0);
	out_u8(&o, 2);		/* a raw header: len past the chain */
	out_le64(&o, 3);
	out_le64(&o, 2);
	out_le32(&o, 40005);
	out_le32(&o, VS_HOST_PORT);
	out_le32(&o, 5000);
	out_le16(&o, 1);
	out_le16(&o, 5);
	out_le32(&o, 0);
	out_le32(&o, 4096);
	out_le32(&o, 0);
	out_le16(&o, 4);
	out_str(&o, "data");
	vs_tx(&o, 0, 40006, VS_HOST_PORT, 1, 0, 4096, 0, "");
	out_u8(&o, 6);
	out_u8(&o, 2);		/* RESET_DEVICE */
	out_u8(&o, 6);
	out_u8(&o, 1);		/* tx stops, restarts */
	vs_rx(&o, 8, 4096);
	save("vsock", "malformed", &o);

	/* Credit: the host program stops reading; a guest sending past
	 * ours (256 KiB) is reset. 255 more times 4052 bytes: ~1 MiB. */
	out_reset(&o);
	vs_rx(&o, 4, 4096);
	vs_tx(&o, 0, 41000, VS_HOST_PORT, 1, 0, 4096, 0, "");
	out_u8(&o, 5);
	{
		static char chunk[4053];

		memset(chunk, 'c', sizeof(chunk) - 1);
		vs_txn(&o, 0, 255, 41000, VS_HOST_PORT, 5, 0, 4096, 0, chunk);
	}
	save("vsock", "credit", &o);
}

/* fuzz_vhost_user op 0: a message and its descriptors. */
static void
vu_msg(struct out *o, uint8_t req, uint8_t flags, const struct out *payload,
    uint8_t fds)
{
	size_t n = payload ? payload->len : 0;

	out_u8(o, 0);
	out_u8(o, req);
	out_u8(o, flags);
	out_le16(o, (uint16_t)n);
	out_u8(o, fds);
	out_le16(o, (uint16_t)n);
	if (n)
		out_put(o, payload->buf, n);
}

static void
vu_u64(struct out *o, uint8_t req, uint8_t flags, uint64_t v, uint8_t fds)
{
	struct out p;

	out_reset(&p);
	out_le64(&p, v);
	vu_msg(o, req, flags, &p, fds);
}

static void
vu_state(struct out *o, uint8_t req, uint32_t idx, uint32_t num)
{
	struct out p;

	out_reset(&p);
	out_le32(&p, idx);
	out_le32(&p, num);
	vu_msg(o, req, 1, &p, 0);
}

static void
seeds_vhost_user(void)
{
	const uint64_t uva = 0x7f5500000000ull;
	struct out o, p;
	unsigned q;

	/* What QEMU sends at start, then a packet on tx and a kick. */
	out_reset(&o);
	vu_msg(&o, 1, 1, NULL, 0);		/* GET_FEATURES */
	vu_msg(&o, 15, 1, NULL, 0);		/* GET_PROTOCOL_FEATURES */
	vu_u64(&o, 16, 1, (1ull << 3) | (1ull << 9) | (1ull << 13), 0);
	vu_msg(&o, 17, 1, NULL, 0);		/* GET_QUEUE_NUM */
	vu_msg(&o, 3, 1, NULL, 0);		/* SET_OWNER */
	out_reset(&p);
	out_le32(&p, 0);			/* offset */
	out_le32(&p, 8);			/* size */
	out_le32(&p, 0);			/* flags */
	out_le64(&p, 0);
	vu_msg(&o, 24, 1 | 8, &p, 0);		/* GET_CONFIG, NEED_REPLY */
	vu_u64(&o, 2, 1 | 8, (1ull << 32) | (1ull << 30), 0);
	out_reset(&p);
	out_le32(&p, 1);
	out_le32(&p, 0);
	out_le64(&p, 0);			/* gpa */
	out_le64(&p, 0x100000);			/* size */
	out_le64(&p, uva);
	out_le64(&p, 0);
	vu_msg(&o, 5, 1 | 8, &p, 0x81);		/* SET_MEM_TABLE, a memfd */
	for (q = 0; q < 2; q++) {
		vu_state(&o, 8, q, 64);
		vu_state(&o, 10, q, 0);
		out_reset(&p);
		out_le32(&p, q);
		out_le32(&p, 0);
		out_le64(&p, uva + q * 0x4000);
		out_le64(&p, uva + q * 0x4000 + 0x2000);
		out_le64(&p, uva + q * 0x4000 + 0x1000);
		out_le64(&p, 0);
		vu_msg(&o, 9, 1, &p, 0);	/* SET_VRING_ADDR */
		vu_u64(&o, 13, 1, q, 1);	/* SET_VRING_CALL */
		vu_u64(&o, 12, 1, q, 1);	/* SET_VRING_KICK */
		vu_state(&o, 18, q, 1);		/* SET_VRING_ENABLE */
	}
	/* tx (queue 1): a REQUEST to port 5000 in one descriptor. */
	out_u8(&o, 1);
	out_le32(&o, 0x4000);
	out_le16(&o, 16);
	out_le64(&o, 0x10000);
	out_le32(&o, 44);
	out_le16(&o, 0);
	out_le16(&o, 0);
	out_u8(&o, 1);
	out_le32(&o, 0x10000);
	out_le16(&o, 44);
	out_le64(&o, 3);
	out_le64(&o, 2);
	out_le32(&o, 40000);
	out_le32(&o, 5000);
	out_le32(&o, 0);
	out_le16(&o, 1);
	out_le16(&o, 1);
	out_le32(&o, 0);
	out_le32(&o, 65536);
	out_le32(&o, 0);
	out_u8(&o, 1);
	out_le32(&o, 0x5000);
	out_le16(&o, 6);
	out_le16(&o, 0);
	out_le16(&o, 1);
	out_le16(&o, 0);
	out_u8(&o, 2);				/* kick */
	out_u8(&o, 3);
	vu_state(&o, 11, 1, 0);			/* GET_VRING_BASE */
	vu_msg(&o, 34, 1, NULL, 0);		/* RESET_DEVICE */
	save("vhost_user", "session", &o);

	/* Misuse: an unknown request, a wrong version, SET_CONFIG, an
	 * oversized message, a payload shorter than announced, fds with
	 * NOFD, a queue out of range, a region table that wraps. */
	out_reset(&o);
	vu_msg(&o, 99, 1, NULL, 0);
	vu_msg(&o, 1, 2, NULL, 0);
	out_reset(&p);
	out_le32(&p, 0);
	out_le32(&p, 4);
	out_le32(&p, 0);
	out_le32(&p, 0);
	vu_msg(&o, 25, 1 | 8, &p, 0);
	out_u8(&o, 0);
	out_u8(&o, 5);
	out_u8(&o, 1);
	out_le16(&o, 0xffff);			/* size announced */
	out_u8(&o, 0);
	out_le16(&o, 8);
	out_le64(&o, 1);
	vu_u64(&o, 12, 1, 0x100, 1);
	vu_state(&o, 8, 7, 64);
	out_reset(&p);
	out_le32(&p, 2);
	out_le32(&p, 0);
	out_le64(&p, 0);
	out_le64(&p, 0x100000);
	out_le64(&p, uva);
	out_le64(&p, 0);
	out_le64(&p, 0x80000);			/* overlaps the first */
	out_le64(&p, 0x100000);
	out_le64(&p, uva + 0x100000);
	out_le64(&p, 0);
	vu_msg(&o, 5, 1, &p, 0x82);
	save("vhost_user", "misuse", &o);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	top = argv[1];
	seeds_wire();
	seeds_session();
	seeds_privsep();
	seeds_dns();
	seeds_streams();
	seeds_virtq();
	seeds_vsock();
	seeds_vhost_user();
	return 0;
}
