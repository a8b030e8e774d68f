/*
 * test_wire.c - unit tests for the frame and TLV codec (common/wire.c)
 *
 * Covers: exact byte layout of headers and TLVs; encode/parse round trips
 * of every attribute kind (u8/u16/u32/u64, strings, IPv4/IPv6 addresses,
 * MACs, nests), HELLO and error frames, netctl's additions (a refusal's
 * errors, a reload's changes, unregister --force); every malformed shape
 * vmn_hdr_decode()/vmn_msg_parse() must refuse, with its errno; encoder
 * limits (capacity, 64 KiB payload, nest balance and depth); the name
 * tables; and a deterministic mutation fuzzer that checks vmn_msg_parse()
 * never accepts a frame whose attributes point outside it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "testutil.h"
#include "wire.h"

#define ALIGN4(x)	(((x) + 3u) & ~3u)

/* Big enough for the largest frame plus slack for over-long tests. */
static uint8_t big[VMN_MAX_FRAME + 256];
static uint8_t big2[VMN_MAX_FRAME + 256];

/* ---- raw frame construction (for shapes the encoder refuses) -------- */

static void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A valid header with the given payload length. */
static void
raw_hdr(uint8_t *f, uint16_t type, uint8_t flags, uint32_t paylen,
    uint32_t seq)
{
	be16(f, VMN_WIRE_MAGIC);
	f[2] = VMN_WIRE_VERSION;
	f[3] = flags;
	be16(f + 4, type);
	be16(f + 6, 0);
	be32(f + 8, paylen);
	be32(f + 12, seq);
}

/*
 * One TLV at p whose length field says `lenfield` and which carries dlen
 * bytes of data, zero-padded to 4. Returns the bytes written.
 */
static size_t
raw_tlv_len(uint8_t *p, uint16_t lenfield, uint16_t type, const void *data,
    size_t dlen)
{
	size_t total = ALIGN4(VMN_ATTR_HDR_LEN + dlen);

	be16(p, lenfield);
	be16(p + 2, type);
	memset(p + VMN_ATTR_HDR_LEN, 0, total - VMN_ATTR_HDR_LEN);
	if (dlen)
		memcpy(p + VMN_ATTR_HDR_LEN, data, dlen);
	return total;
}

static size_t
raw_tlv(uint8_t *p, uint16_t type, const void *data, size_t dlen)
{
	return raw_tlv_len(p, (uint16_t)(VMN_ATTR_HDR_LEN + dlen), type, data,
	    dlen);
}

static size_t
raw_u32(uint8_t *p, uint16_t type, uint32_t v)
{
	uint8_t d[4];

	be32(d, v);
	return raw_tlv(p, type, d, 4);
}

static size_t
raw_str(uint8_t *p, uint16_t type, const char *s)
{
	return raw_tlv(p, type, s, strlen(s));
}

/* Wraps payload bytes already at f + VMN_HDR_LEN into a frame. */
static size_t
raw_frame(uint8_t *f, uint16_t type, uint8_t flags, size_t paylen)
{
	raw_hdr(f, type, flags, (uint32_t)paylen, 1);
	return VMN_HDR_LEN + paylen;
}

static int
parse(const uint8_t *f, size_t len, struct vmn_msg *m)
{
	const char *why = NULL;
	int rc = vmn_msg_parse(f, len, m, &why);

	if (rc < 0 && why == NULL)
		fail_msg("vmn_msg_parse failed (%d) without an explanation", rc);
	return rc;
}

static void
ip_from(const char *s, struct vmn_ip *ip)
{
	assert_int_equal(vmn_ip_parse(s, ip), 0);
}

static void
assert_attr_str(const struct vmn_attr *a, const char *want)
{
	char buf[VMN_MAX_STRING + 1];

	assert_non_null(a->data);
	assert_int_equal(vmn_attr_str(a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(a->len, strlen(want));
}

static void
assert_attr_ip(const struct vmn_attr *a, const char *want)
{
	struct vmn_ip got, exp;
	char gs[VMN_IP_STRLEN];

	ip_from(want, &exp);
	assert_non_null(a->data);
	assert_int_equal(vmn_attr_ip(a, &got), 0);
	if (!vmn_ip_equal(&got, &exp))
		fail_msg("address %s, expected %s",
		    vmn_ip_ntop(&got, gs, sizeof(gs)), want);
}

/* ---- name tables ------------------------------------------------------ */

static void
check_table(const char *(*fn)(unsigned), unsigned max, const char *what)
{
	unsigned i, j;

	for (i = 0; i < max; i++) {
		const char *n = fn(i);

		assert_non_null(n);
		if (strcmp(n, "unknown") == 0 || n[0] == '\0')
			fail_msg("%s %u has no name", what, i);
		for (j = 0; j < i; j++)
			if (strcmp(fn(j), n) == 0)
				fail_msg("%s %u and %u are both \"%s\"", what,
				    j, i, n);
	}
	assert_string_equal(fn(max), "unknown");
	assert_string_equal(fn(max + 1), "unknown");
	assert_string_equal(fn(0x7fff), "unknown");
	assert_string_equal(fn(0xffffffffu), "unknown");
}

static void
test_name_tables(void **state)
{
	(void)state;
	check_table(vmn_msg_name, VMN_MSG__MAX, "message");
	check_table(vmn_role_name, VMN_ROLE__MAX, "role");
	check_table(vmn_attr_name, VMN_A__MAX, "attribute");
	check_table(vmn_event_name, VMN_EV__MAX, "event");

	/* A few spot checks that the tables line up with the enums. */
	assert_string_equal(vmn_msg_name(VMN_MSG_HELLO), "hello");
	assert_string_equal(vmn_msg_name(VMN_MSG_CONFIG_COMMIT), "config-commit");
	assert_string_equal(vmn_msg_name(VMN_MSG_CTL_RELOAD), "ctl-reload");
	assert_string_equal(vmn_role_name(VMN_ROLE_CONTROL), "control");
	assert_string_equal(vmn_role_name(VMN_ROLE_CTL), "ctl");
	assert_string_equal(vmn_attr_name(VMN_A_IFNAME), "ifname");
	assert_string_equal(vmn_attr_name(VMN_A_CHANNEL), "channel");
	assert_string_equal(vmn_event_name(VMN_EV_LISTENER_DEL), "listener-del");
}

static void
test_role_parse(void **state)
{
	unsigned r;

	(void)state;
	for (r = 1; r < VMN_ROLE__MAX; r++)
		assert_int_equal(vmn_role_parse(vmn_role_name(r)), (int)r);
	assert_rc(vmn_role_parse("none"), -EINVAL);	/* not a real role */
	assert_rc(vmn_role_parse(""), -EINVAL);
	assert_rc(vmn_role_parse("unknown"), -EINVAL);
	assert_rc(vmn_role_parse("Control"), -EINVAL);
	assert_rc(vmn_role_parse("control "), -EINVAL);
	assert_rc(vmn_role_parse("contro"), -EINVAL);
}

/* ---- exact encoding --------------------------------------------------- */

static void
test_encode_bytes(void **state)
{
	uint8_t st[128];
	struct vmn_buf b;
	struct vmn_ip ip;
	static const uint8_t want_ping[] = {
		0x76, 0x6e, VMN_WIRE_VERSION, VMN_F_REQUEST,
		0x00, VMN_MSG_PING, 0x00, 0x00,
		0x00, 0x00, 0x00, 8 + 12 + 12,
		0x01, 0x02, 0x03, 0x04,
		/* u16, padded */
		0x00, 0x06, 0x00, VMN_A_PORT, 0xab, 0xcd, 0x00, 0x00,
		/* u64 */
		0x00, 0x0c, 0x00, VMN_A_COUNT,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		/* nest of one IPv4 address */
		0x00, 0x0c, 0x80, VMN_A_SERVERS,
		0x00, 0x08, 0x00, VMN_A_ADDR, 192, 0, 2, 1,
	};
	int len;

	(void)state;
	memset(st, 0xee, sizeof(st));
	vmn_buf_init(&b, st, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_PING, VMN_F_REQUEST, 0x01020304);
	vmn_put_u16(&b, VMN_A_PORT, 0xabcd);
	vmn_put_u64(&b, VMN_A_COUNT, 0x0102030405060708ull);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	ip_from("192.0.2.1", &ip);
	vmn_put_ip(&b, VMN_A_ADDR, &ip);
	vmn_nest_end(&b);
	len = vmn_msg_end(&b);
	assert_int_equal(len, sizeof(want_ping));
	assert_memory_equal(st, want_ping, sizeof(want_ping));

	/* Odd-length data: padding is zeroed even over dirty storage. */
	memset(st, 0xee, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_HELLO, 0, 0);
	vmn_put_u8(&b, VMN_A_ROLE, 0x7f);
	vmn_put_str(&b, VMN_A_VM_ID, "abcde");
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_HDR_LEN + 8 + 12);
	{
		static const uint8_t want[] = {
			0x00, 0x05, 0x00, VMN_A_ROLE, 0x7f, 0, 0, 0,
			0x00, 0x09, 0x00, VMN_A_VM_ID, 'a', 'b', 'c', 'd',
			'e', 0, 0, 0,
		};
		assert_memory_equal(st + VMN_HDR_LEN, want, sizeof(want));
		assert_int_equal(st[11], 20);	/* length, low byte */
		assert_int_equal(st[12] | st[13] | st[14] | st[15], 0);
	}
}

/* ---- round trips ------------------------------------------------------ */

static void
test_roundtrip_scalars(void **state)
{
	uint8_t st[512];
	struct vmn_buf b;
	struct vmn_msg m;
	struct vmn_ip ip6;
	int len;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));

	/* EVENT: u8, u32, string, u16, address. */
	vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 0xfffffffe);
	vmn_put_u8(&b, VMN_A_EVENT, VMN_EV_LISTENER_ADD);
	vmn_put_u32(&b, VMN_A_GEN, 0xdeadbeef);
	vmn_put_str(&b, VMN_A_IFNAME, "eth0");
	vmn_put_u8(&b, VMN_A_LINK_UP, 255);
	vmn_put_u8(&b, VMN_A_PROTO, 0);
	vmn_put_u8(&b, VMN_A_FAMILY, AF_INET6);
	vmn_put_u16(&b, VMN_A_PORT, 0xfedc);
	ip_from("2001:db8::1:2", &ip6);
	vmn_put_ip(&b, VMN_A_ADDR, &ip6);
	len = vmn_msg_end(&b);
	assert_true(len > VMN_HDR_LEN);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.magic, VMN_WIRE_MAGIC);
	assert_int_equal(m.hdr.version, VMN_WIRE_VERSION);
	assert_int_equal(m.hdr.type, VMN_MSG_EVENT);
	assert_int_equal(m.hdr.flags, 0);
	assert_int_equal(m.hdr.seq, 0xfffffffe);
	assert_int_equal(m.hdr.length, (uint32_t)len - VMN_HDR_LEN);
	assert_ptr_equal(m.payload, st + VMN_HDR_LEN);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_EVENT]), VMN_EV_LISTENER_ADD);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_GEN]), 0xdeadbeef);
	assert_attr_str(&m.tb[VMN_A_IFNAME], "eth0");
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_LINK_UP]), 255);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_PROTO]), 0);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_FAMILY]), AF_INET6);
	assert_int_equal(vmn_attr_u16(&m.tb[VMN_A_PORT]), 0xfedc);
	assert_attr_ip(&m.tb[VMN_A_ADDR], "2001:db8::1:2");
	assert_int_equal(m.tb[VMN_A_EVENT].type, VMN_A_EVENT);
	assert_int_equal(m.tb[VMN_A_PORT].len, 2);
	/* Not sent, or not in the EVENT policy: absent. */
	assert_false(vmn_attr_present(&m.tb[VMN_A_MAC]));
	assert_false(vmn_attr_present(&m.tb[VMN_A_VERSION]));
	/* Absent integers read as 0, never through a NULL pointer. */
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_VERSION]), 0);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_ROLE]), 0);
	assert_int_equal(vmn_attr_u16(&m.tb[VMN_A_GUEST_PORT]), 0);
	assert_int_equal(vmn_attr_u64(&m.tb[VMN_A_COUNT]), 0);

	/* CTL_STATUS: u64 extremes, u32 extremes. */
	vmn_msg_begin(&b, VMN_MSG_CTL_STATUS, VMN_F_REPLY | VMN_F_END, 0);
	vmn_put_u32(&b, VMN_A_VERSION, 0);
	vmn_put_u32(&b, VMN_A_PID, UINT32_MAX);
	vmn_put_u64(&b, VMN_A_UPTIME, 0x0123456789abcdefull);
	vmn_put_u64(&b, VMN_A_COUNT, UINT64_MAX);
	vmn_put_str(&b, VMN_A_STATE, "");
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.flags, VMN_F_REPLY | VMN_F_END);
	assert_int_equal(m.hdr.seq, 0);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_VERSION]), 0);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_PID]), UINT32_MAX);
	assert_true(vmn_attr_u64(&m.tb[VMN_A_UPTIME]) == 0x0123456789abcdefull);
	assert_true(vmn_attr_u64(&m.tb[VMN_A_COUNT]) == UINT64_MAX);
	assert_attr_str(&m.tb[VMN_A_STATE], "");
	assert_true(vmn_attr_present(&m.tb[VMN_A_STATE]));

	/* CTL_VMS: MACs and v4/v6 addresses side by side. */
	{
		static const uint8_t mac[VMN_MAC_LEN] =
		    { 0x02, 0x00, 0x5e, 0x10, 0xff, 0x01 };
		struct vmn_ip a4, g4, a6, g6;

		ip_from("172.16.5.2", &a4);
		ip_from("172.16.5.1", &g4);
		ip_from("fd12:3456:789a:1::2", &a6);
		ip_from("fe80::1", &g6);
		vmn_msg_begin(&b, VMN_MSG_CTL_VMS, VMN_F_REPLY, 42);
		vmn_put_str(&b, VMN_A_VM_ID, "builder");
		vmn_put(&b, VMN_A_MAC, mac, sizeof(mac));
		vmn_put_u32(&b, VMN_A_MTU, 1500);
		vmn_put_ip(&b, VMN_A_ADDR, &a4);
		vmn_put_u8(&b, VMN_A_PREFIXLEN, 24);
		vmn_put_ip(&b, VMN_A_GATEWAY, &g4);
		vmn_put_ip(&b, VMN_A_ADDR6, &a6);
		vmn_put_ip(&b, VMN_A_GATEWAY6, &g6);
		vmn_put_str(&b, VMN_A_CHANNEL, "vsock:3");
		len = vmn_msg_end(&b);
		assert_rc(parse(st, (size_t)len, &m), 0);
		assert_attr_str(&m.tb[VMN_A_VM_ID], "builder");
		assert_int_equal(m.tb[VMN_A_MAC].len, VMN_MAC_LEN);
		assert_memory_equal(m.tb[VMN_A_MAC].data, mac, VMN_MAC_LEN);
		assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_MTU]), 1500);
		assert_attr_ip(&m.tb[VMN_A_ADDR], "172.16.5.2");
		assert_int_equal(m.tb[VMN_A_ADDR].len, 4);
		assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_PREFIXLEN]), 24);
		assert_attr_ip(&m.tb[VMN_A_GATEWAY], "172.16.5.1");
		assert_attr_ip(&m.tb[VMN_A_ADDR6], "fd12:3456:789a:1::2");
		assert_int_equal(m.tb[VMN_A_ADDR6].len, 16);
		assert_attr_ip(&m.tb[VMN_A_GATEWAY6], "fe80::1");
		assert_attr_str(&m.tb[VMN_A_CHANNEL], "vsock:3");
	}
}

static void
test_roundtrip_nests(void **state)
{
	static const char *const servers[] =
	    { "10.0.0.53", "2001:db8::53", "192.0.2.53" };
	static const char *const search[] =
	    { "example.com", "a", "corp.example.org" };
	uint8_t st[1024];
	struct vmn_buf b;
	struct vmn_msg m;
	struct vmn_attr_iter it;
	struct vmn_attr a;
	struct vmn_ip ip;
	unsigned i;
	int len;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 3);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	for (i = 0; i < ARRAY_SIZE(servers); i++) {
		ip_from(servers[i], &ip);
		vmn_put_ip(&b, VMN_A_ADDR, &ip);
	}
	vmn_nest_end(&b);
	vmn_nest_begin(&b, VMN_A_SEARCH);
	for (i = 0; i < ARRAY_SIZE(search); i++)
		vmn_put_str(&b, VMN_A_NAME, search[i]);
	vmn_nest_end(&b);
	vmn_put_str(&b, VMN_A_OPTIONS, "ndots:2 edns0");
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);

	i = 0;
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_SERVERS]) {
		assert_true(i < ARRAY_SIZE(servers));
		assert_int_equal(a.type, VMN_A_ADDR);
		assert_attr_ip(&a, servers[i]);
		i++;
	}
	assert_int_equal(i, ARRAY_SIZE(servers));
	i = 0;
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_SEARCH]) {
		assert_true(i < ARRAY_SIZE(search));
		assert_int_equal(a.type, VMN_A_NAME);
		assert_attr_str(&a, search[i]);
		i++;
	}
	assert_int_equal(i, ARRAY_SIZE(search));
	assert_attr_str(&m.tb[VMN_A_OPTIONS], "ndots:2 edns0");

	/* Empty nests are present and iterate to nothing. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 3);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_nest_end(&b);
	vmn_nest_begin(&b, VMN_A_SEARCH);
	vmn_nest_end(&b);
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_HDR_LEN + 8);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_true(vmn_attr_present(&m.tb[VMN_A_SERVERS]));
	assert_int_equal(m.tb[VMN_A_SERVERS].len, 0);
	i = 0;
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_SERVERS])
		i++;
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_SEARCH])
		i++;
	/* An absent nest iterates to nothing too. */
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_OPTIONS])
		i++;
	assert_int_equal(i, 0);
}

static void
test_hello(void **state)
{
	uint8_t st[256];
	struct vmn_buf b;
	struct vmn_msg m;
	int len;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));
	len = vmn_build_hello(&b, VMN_F_REQUEST, 77, VMN_ROLE_DNS,
	    VMN_CAP_CONFIG | VMN_CAP_DNS_TUNNEL | VMN_CAP_RFWD, "vm-01");
	assert_true(len > 0);
	assert_int_equal(b.len, (size_t)len);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.type, VMN_MSG_HELLO);
	assert_int_equal(m.hdr.flags, VMN_F_REQUEST);
	assert_int_equal(m.hdr.seq, 77);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_VERSION]), VMN_WIRE_VERSION);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_CAPS]),
	    VMN_CAP_CONFIG | VMN_CAP_DNS_TUNNEL | VMN_CAP_RFWD);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_ROLE]), VMN_ROLE_DNS);
	assert_attr_str(&m.tb[VMN_A_VM_ID], "vm-01");

	/* Without a VM id (NULL or empty) the attribute is left out. */
	len = vmn_build_hello(&b, VMN_F_REPLY, 78, VMN_ROLE_CTL, 0, NULL);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.flags, VMN_F_REPLY);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_ROLE]), VMN_ROLE_CTL);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_CAPS]), 0);
	assert_false(vmn_attr_present(&m.tb[VMN_A_VM_ID]));
	len = vmn_build_hello(&b, 0, 79, VMN_ROLE_CONTROL, 1, "");
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_false(vmn_attr_present(&m.tb[VMN_A_VM_ID]));

	/* Too small a buffer: the error comes back, nothing half-built. */
	vmn_buf_init(&b, st, VMN_HDR_LEN + 8);
	assert_rc(vmn_build_hello(&b, 0, 1, VMN_ROLE_CONTROL, 0, "x"),
	    -EMSGSIZE);
}

static void
test_error_frames(void **state)
{
	char longmsg[2 * VMN_MAX_STRING];
	uint8_t st[4096];
	struct vmn_buf b;
	struct vmn_msg m;
	char text[VMN_MAX_STRING + 1];
	int len;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));
	len = vmn_build_error(&b, VMN_MSG_CONFIG_COMMIT, 12, -ENOENT,
	    "no such link");
	assert_true(len > 0);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.type, VMN_MSG_CONFIG_COMMIT);
	assert_int_equal(m.hdr.flags, VMN_F_REPLY | VMN_F_ERROR);
	assert_int_equal(m.hdr.seq, 12);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_ERRNO]), ENOENT);
	assert_attr_str(&m.tb[VMN_A_ERRMSG], "no such link");
	/* The error policy replaces the message's: no GEN required. */
	assert_false(vmn_attr_present(&m.tb[VMN_A_GEN]));

	/* A positive errno is carried as is; no message, no attribute. */
	len = vmn_build_error(&b, VMN_MSG_CONFIG_LINK, 13, EPERM, NULL);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_ERRNO]), EPERM);
	assert_false(vmn_attr_present(&m.tb[VMN_A_ERRMSG]));

	/* A message longer than VMN_MAX_STRING is cut to fit the policy. */
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	len = vmn_build_error(&b, VMN_MSG_PING, 14, -EIO, longmsg);
	assert_true(len > 0);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(m.tb[VMN_A_ERRMSG].len, VMN_MAX_STRING);
	assert_int_equal(vmn_attr_str(&m.tb[VMN_A_ERRMSG], text, sizeof(text)), 0);
	assert_int_equal(strspn(text, "x"), VMN_MAX_STRING);

	/* An error frame without ERRNO is malformed. */
	len = (int)raw_frame(st, VMN_MSG_PING, VMN_F_REPLY | VMN_F_ERROR,
	    raw_str(st + VMN_HDR_LEN, VMN_A_ERRMSG, "oops"));
	assert_rc(parse(st, (size_t)len, &m), -EINVAL);
}

/* netctl's additions: a refusal's errors, a reload's changes, --force. */
static void
test_ctl_additions(void **state)
{
	uint8_t st[4096];
	struct vmn_buf b;
	struct vmn_msg m;
	struct vmn_attr_iter it, it2;
	struct vmn_attr a, a2;
	int len, n = 0;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_CTL_RELOAD, VMN_F_REPLY | VMN_F_ERROR, 5);
	vmn_put_u32(&b, VMN_A_ERRNO, EINVAL);
	vmn_put_str(&b, VMN_A_ERRMSG, "f has errors");
	vmn_nest_begin(&b, VMN_A_ERRORS);
	vmn_put_str(&b, VMN_A_ERRMSG, "f:1: one");
	vmn_put_str(&b, VMN_A_ERRMSG, "f:2: two");
	vmn_nest_end(&b);
	len = vmn_msg_end(&b);
	assert_true(len > 0);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_attr_str(&m.tb[VMN_A_ERRMSG], "f has errors");
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_ERRORS]) {
		assert_int_equal(a.type, VMN_A_ERRMSG);
		assert_attr_str(&a, n++ ? "f:2: two" : "f:1: one");
	}
	assert_int_equal(n, 2);

	vmn_msg_begin(&b, VMN_MSG_CTL_RELOAD, VMN_F_REPLY, 6);
	vmn_nest_begin(&b, VMN_A_CHANGES);
	vmn_nest_begin(&b, VMN_A_CHANGE);
	vmn_put_str(&b, VMN_A_VM_ID, "g1");
	vmn_put_str(&b, VMN_A_VALUE, "restarted");
	vmn_nest_end(&b);
	vmn_nest_end(&b);
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);
	n = 0;
	vmn_attr_for_each(&a, &it, &m.tb[VMN_A_CHANGES]) {
		assert_int_equal(a.type & VMN_ATTR_TYPE_MASK, VMN_A_CHANGE);
		vmn_attr_for_each(&a2, &it2, &a)
			assert_attr_str(&a2, a2.type == VMN_A_VM_ID ? "g1" :
			    "restarted");
		n++;
	}
	assert_int_equal(n, 1);

	vmn_msg_begin(&b, VMN_MSG_CTL_UNREGISTER, VMN_F_REQUEST, 7);
	vmn_put_str(&b, VMN_A_VM_ID, "g2");
	vmn_put_u8(&b, VMN_A_FORCE, 1);
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_FORCE]), 1);
	/* FORCE is a u8: any other size is malformed. */
	vmn_msg_begin(&b, VMN_MSG_CTL_UNREGISTER, VMN_F_REQUEST, 8);
	vmn_put_u32(&b, VMN_A_FORCE, 1);
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), -EINVAL);

	vmn_msg_begin(&b, VMN_MSG_CTL_VMS, VMN_F_REPLY, 9);
	vmn_put_u64(&b, VMN_A_SINCE, 1796187438ull);
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_int_equal(vmn_attr_u64(&m.tb[VMN_A_SINCE]), 1796187438ull);
	assert_string_equal(vmn_attr_name(VMN_A_CHANGES), "changes");
}

static void
test_multi_attribute(void **state)
{
	uint8_t st[512];
	struct vmn_buf b;
	struct vmn_msg m;
	struct vmn_ip dst, gw;
	int len;

	(void)state;
	ip_from("10.1.0.0", &dst);
	ip_from("10.1.255.254", &gw);
	vmn_buf_init(&b, st, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_CONFIG_ROUTE, 0, 0);
	vmn_put_u32(&b, 0x7000, 1);			/* unknown */
	vmn_put_str(&b, VMN_A_IFNAME, "eth1");
	vmn_put_ip(&b, VMN_A_ADDR, &dst);
	vmn_put_str(&b, VMN_A_VM_ID, "not-in-policy");	/* skipped */
	vmn_put_u8(&b, VMN_A_PREFIXLEN, 16);
	vmn_put_ip(&b, VMN_A_GATEWAY, &gw);
	vmn_put_u32(&b, VMN_A_METRIC, 1024);
	len = vmn_msg_end(&b);
	assert_rc(parse(st, (size_t)len, &m), 0);
	assert_attr_str(&m.tb[VMN_A_IFNAME], "eth1");
	assert_attr_ip(&m.tb[VMN_A_ADDR], "10.1.0.0");
	assert_int_equal(vmn_attr_u8(&m.tb[VMN_A_PREFIXLEN]), 16);
	assert_attr_ip(&m.tb[VMN_A_GATEWAY], "10.1.255.254");
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_METRIC]), 1024);
	assert_false(vmn_attr_present(&m.tb[VMN_A_VM_ID]));
}

static void
test_attr_accessors(void **state)
{
	static const uint8_t nul[] = { 'a', 0, 'b' };
	struct vmn_attr a = { .data = (const uint8_t *)"hello", .len = 5 };
	struct vmn_attr absent = { 0 };
	struct vmn_ip ip;
	char buf[8];

	(void)state;
	assert_int_equal(vmn_attr_str(&a, buf, 6), 0);
	assert_string_equal(buf, "hello");
	assert_rc(vmn_attr_str(&a, buf, 5), -ENAMETOOLONG);
	memset(buf, 'z', sizeof(buf));
	assert_rc(vmn_attr_str(&absent, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "");
	a.data = nul;
	a.len = sizeof(nul);
	assert_rc(vmn_attr_str(&a, buf, sizeof(buf)), -EINVAL);

	assert_rc(vmn_attr_ip(&absent, &ip), -ENOENT);
	assert_int_equal(ip.family, 0);
	a.len = 5;
	assert_rc(vmn_attr_ip(&a, &ip), -EINVAL);
}

static void
test_attr_check(void **state)
{
	static const uint8_t zeros[32];
	struct vmn_attr_policy p = { 0 };
	struct vmn_attr a = { .data = zeros };
	static const struct { uint8_t kind; uint16_t good[2]; uint16_t bad[3]; }
	    fixed[] = {
		{ VMN_AK_U8,	 { 1, 1 },  { 0, 2, 4 } },
		{ VMN_AK_U16,	 { 2, 2 },  { 1, 3, 4 } },
		{ VMN_AK_U32,	 { 4, 4 },  { 3, 5, 8 } },
		{ VMN_AK_U64,	 { 8, 8 },  { 4, 7, 9 } },
		{ VMN_AK_INADDR, { 4, 16 }, { 0, 6, 15 } },
		{ VMN_AK_MAC,	 { 6, 6 },  { 5, 7, 8 } },
	};
	unsigned i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(fixed); i++) {
		p.kind = fixed[i].kind;
		a.type = VMN_A_GEN;
		for (j = 0; j < 2; j++) {
			a.len = fixed[i].good[j];
			assert_rc(vmn_attr_check(&a, &p), 0);
		}
		for (j = 0; j < 3; j++) {
			a.len = fixed[i].bad[j];
			assert_rc(vmn_attr_check(&a, &p), -EINVAL);
		}
		/* Right size but flagged as a nest. */
		a.len = fixed[i].good[0];
		a.type = VMN_A_GEN | VMN_ATTR_F_NESTED;
		assert_rc(vmn_attr_check(&a, &p), -EINVAL);
	}

	/* BINARY: min..max, max 0 meaning unbounded. */
	p.kind = VMN_AK_BINARY;
	p.min_len = 2;
	p.max_len = 4;
	a.type = VMN_A_PAYLOAD;
	a.len = 1;
	assert_rc(vmn_attr_check(&a, &p), -EINVAL);
	a.len = 2;
	assert_rc(vmn_attr_check(&a, &p), 0);
	a.len = 4;
	assert_rc(vmn_attr_check(&a, &p), 0);
	a.len = 5;
	assert_rc(vmn_attr_check(&a, &p), -EINVAL);
	p.max_len = 0;
	a.len = 30;
	assert_rc(vmn_attr_check(&a, &p), 0);

	/* NEST accepts only flagged attributes. */
	p.kind = VMN_AK_NEST;
	a.len = 0;
	a.type = VMN_A_SERVERS;
	assert_rc(vmn_attr_check(&a, &p), -EINVAL);
	a.type = VMN_A_SERVERS | VMN_ATTR_F_NESTED;
	assert_rc(vmn_attr_check(&a, &p), 0);

	/* NONE is never acceptable when checked. */
	p.kind = VMN_AK_NONE;
	a.type = VMN_A_GEN;
	a.len = 4;
	assert_rc(vmn_attr_check(&a, &p), -EINVAL);
}

/* ---- malformed headers ----------------------------------------------- */

static void
test_hdr_truncated(void **state)
{
	uint8_t f[VMN_HDR_LEN];
	struct vmn_hdr h;
	struct vmn_msg m;
	const char *why;
	size_t n;

	(void)state;
	raw_hdr(f, VMN_MSG_PING, 0, 0, 1);
	for (n = 0; n < VMN_HDR_LEN; n++) {
		why = NULL;
		assert_rc(vmn_hdr_decode(f, n, &h, &why), -EAGAIN);
		assert_non_null(why);
		assert_rc(parse(f, n, &m), -EBADMSG);
	}
	assert_rc(vmn_hdr_decode(f, VMN_HDR_LEN, &h, &why), 0);
	assert_rc(parse(f, VMN_HDR_LEN, &m), 0);
	assert_int_equal(m.hdr.type, VMN_MSG_PING);
}

static void
test_hdr_decode_fields(void **state)
{
	static const uint8_t f[VMN_HDR_LEN] = {
		0x76, 0x6e, 0x01, 0x0f, 0x12, 0x34, 0xab, 0xcd,
		0x00, 0x01, 0x00, 0x00, 0x89, 0xab, 0xcd, 0xef,
	};
	struct vmn_hdr h;
	const char *why = NULL;

	(void)state;
	/* The header alone does not care about type or a payload it lacks. */
	assert_rc(vmn_hdr_decode(f, sizeof(f), &h, &why), 0);
	assert_int_equal(h.magic, VMN_WIRE_MAGIC);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.flags, VMN_F_ALL);
	assert_int_equal(h.type, 0x1234);
	assert_int_equal(h.reserved, 0xabcd);
	assert_int_equal(h.length, VMN_MAX_PAYLOAD);
	assert_int_equal(h.seq, 0x89abcdef);
}

static void
test_hdr_bad_fields(void **state)
{
	uint8_t f[VMN_HDR_LEN];
	struct vmn_hdr h;
	struct vmn_msg m;
	const char *why;
	unsigned fl;

	(void)state;
	/* Bad magic, either byte. */
	raw_hdr(f, VMN_MSG_PING, 0, 0, 1);
	f[0] = 0x6e;
	f[1] = 0x76;
	assert_rc(vmn_hdr_decode(f, sizeof(f), &h, &why), -EPROTO);
	assert_rc(parse(f, sizeof(f), &m), -EPROTO);
	raw_hdr(f, VMN_MSG_PING, 0, 0, 1);
	f[1] ^= 1;
	assert_rc(parse(f, sizeof(f), &m), -EPROTO);

	/* Versions other than ours. */
	raw_hdr(f, VMN_MSG_PING, 0, 0, 1);
	f[2] = 0;
	assert_rc(vmn_hdr_decode(f, sizeof(f), &h, &why), -EPROTONOSUPPORT);
	assert_rc(parse(f, sizeof(f), &m), -EPROTONOSUPPORT);
	f[2] = VMN_WIRE_VERSION + 1;
	assert_rc(parse(f, sizeof(f), &m), -EPROTONOSUPPORT);
	f[2] = 0xff;
	assert_rc(parse(f, sizeof(f), &m), -EPROTONOSUPPORT);

	/* Every flag combination: known ones pass, any unknown bit fails. */
	for (fl = 0; fl < 256; fl++) {
		raw_hdr(f, VMN_MSG_PING, (uint8_t)fl, 0, 1);
		if (fl & VMN_F_ERROR) {
			/* an error frame needs ERRNO; check the header only */
			assert_rc(vmn_hdr_decode(f, sizeof(f), &h, &why),
			    (fl & ~VMN_F_ALL) ? -EPROTO : 0);
			continue;
		}
		assert_rc(parse(f, sizeof(f), &m),
		    (fl & ~VMN_F_ALL) ? -EPROTO : 0);
	}
}

static void
test_frame_length_mismatch(void **state)
{
	struct vmn_msg m;
	size_t pl, len;

	(void)state;
	pl = raw_u32(big + VMN_HDR_LEN, VMN_A_GEN, 5);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, pl);
	assert_rc(parse(big, len, &m), 0);
	/* Frame shorter and longer than the header says. */
	assert_rc(parse(big, len - 1, &m), -EBADMSG);
	assert_rc(parse(big, len - 4, &m), -EBADMSG);
	assert_rc(parse(big, VMN_HDR_LEN, &m), -EBADMSG);
	assert_rc(parse(big, len + 1, &m), -EBADMSG);
	assert_rc(parse(big, len + 4, &m), -EBADMSG);
	/* Header claims more (or less) than there is. */
	be32(big + 8, (uint32_t)pl + 4);
	assert_rc(parse(big, len, &m), -EBADMSG);
	be32(big + 8, (uint32_t)pl - 4);
	assert_rc(parse(big, len, &m), -EBADMSG);
	be32(big + 8, 0xffffffffu);
	assert_rc(parse(big, len, &m), -EMSGSIZE);
}

static void
test_frame_too_long(void **state)
{
	struct vmn_hdr h;
	struct vmn_msg m;
	const char *why;

	(void)state;
	/* Exactly 64 KiB is allowed by the header check... */
	raw_hdr(big, VMN_MSG_PING, 0, VMN_MAX_PAYLOAD, 1);
	assert_rc(vmn_hdr_decode(big, VMN_HDR_LEN, &h, &why), 0);
	/* ...one byte more is not, whatever the frame length. */
	raw_hdr(big, VMN_MSG_PING, 0, VMN_MAX_PAYLOAD + 1, 1);
	assert_rc(vmn_hdr_decode(big, VMN_HDR_LEN, &h, &why), -EMSGSIZE);
	memset(big + VMN_HDR_LEN, 0, VMN_MAX_PAYLOAD + 1);
	assert_rc(parse(big, VMN_MAX_FRAME + 1, &m), -EMSGSIZE);
	assert_rc(parse(big, VMN_HDR_LEN, &m), -EMSGSIZE);
	raw_hdr(big, VMN_MSG_PING, 0, 0x80000000u, 1);
	assert_rc(vmn_hdr_decode(big, VMN_HDR_LEN, &h, &why), -EMSGSIZE);
}

static void
test_unknown_msg_type(void **state)
{
	static const unsigned types[] =
	    { VMN_MSG_NONE, VMN_MSG__MAX, VMN_MSG__MAX + 1, 0x7fff, 0xffff };
	uint8_t f[VMN_HDR_LEN];
	struct vmn_msg m;
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		raw_hdr(f, (uint16_t)types[i], 0, 0, 1);
		assert_rc(parse(f, sizeof(f), &m), -EOPNOTSUPP);
		/* Also with the error flag: no policy swap for bad types. */
		raw_hdr(f, (uint16_t)types[i], VMN_F_REPLY | VMN_F_ERROR, 0, 1);
		assert_rc(parse(f, sizeof(f), &m), -EOPNOTSUPP);
	}
	/* Every valid type with an empty payload gets past the type check. */
	for (i = 1; i < VMN_MSG__MAX; i++) {
		raw_hdr(f, (uint16_t)i, 0, 0, 1);
		if (parse(f, sizeof(f), &m) == -EOPNOTSUPP)
			fail_msg("type %u (%s) refused as unknown", i,
			    vmn_msg_name(i));
	}
}

/* ---- malformed attributes -------------------------------------------- */

static void
test_attr_short_length(void **state)
{
	struct vmn_msg m;
	uint8_t *p = big + VMN_HDR_LEN;
	size_t len;
	unsigned alen;

	(void)state;
	for (alen = 0; alen < VMN_ATTR_HDR_LEN; alen++) {
		/* A TLV whose length does not even cover its header. */
		raw_tlv_len(p, (uint16_t)alen, VMN_A_GEN, NULL, 0);
		raw_u32(p + 4, VMN_A_GEN, 1);
		len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, 12);
		assert_rc(parse(big, len, &m), -EBADMSG);
	}
	/* Fewer than 4 bytes left for an attribute header. */
	for (alen = 1; alen < VMN_ATTR_HDR_LEN; alen++) {
		size_t pl = raw_u32(p, VMN_A_GEN, 1);

		memset(p + pl, 0, alen);
		len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, pl + alen);
		assert_rc(parse(big, len, &m), -EBADMSG);
	}
	/* Same thing inside a nest. */
	len = raw_tlv_len(p, 4 + 2, VMN_A_SERVERS | VMN_ATTR_F_NESTED, "\0\0", 2);
	len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, len);
	assert_rc(parse(big, len, &m), -EBADMSG);
	{
		uint8_t inner[4] = { 0x00, 0x02, 0x00, VMN_A_ADDR };

		len = raw_tlv(p, VMN_A_SERVERS | VMN_ATTR_F_NESTED, inner, 4);
		len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, len);
		assert_rc(parse(big, len, &m), -EBADMSG);
	}
}

static void
test_attr_past_end(void **state)
{
	struct vmn_msg m;
	uint8_t *p = big + VMN_HDR_LEN;
	size_t len;

	(void)state;
	/* Length field 12 in an 8-byte payload. */
	raw_tlv_len(p, 12, VMN_A_GEN, "\0\0\0\1", 4);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, 8);
	assert_rc(parse(big, len, &m), -EBADMSG);
	/* Length field 0xffff. */
	raw_tlv_len(p, 0xffff, VMN_A_GEN, "\0\0\0\1", 4);
	assert_rc(parse(big, len, &m), -EBADMSG);

	/* Data fits but its padding runs past the end: 5 bytes, no pad. */
	raw_tlv(p, VMN_A_ROLE, "\1", 1);
	len = raw_frame(big, VMN_MSG_PING, 0, 5);
	assert_rc(parse(big, len, &m), -EBADMSG);
	len = raw_frame(big, VMN_MSG_PING, 0, 7);
	assert_rc(parse(big, len, &m), -EBADMSG);
	len = raw_frame(big, VMN_MSG_PING, 0, 8);
	assert_rc(parse(big, len, &m), 0);

	/* An inner attribute running past the end of its nest, while still
	 * inside the frame (the outer attribute follows it). */
	{
		uint8_t inner[8];
		size_t pl;

		be16(inner, 12);	/* claims 12, nest holds 8 */
		be16(inner + 2, VMN_A_ADDR);
		memcpy(inner + 4, "\x0a\0\0\1", 4);
		pl = raw_tlv(p, VMN_A_SERVERS | VMN_ATTR_F_NESTED, inner, 8);
		pl += raw_str(p + pl, VMN_A_OPTIONS, "rotate");
		len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, pl);
		assert_rc(parse(big, len, &m), -EBADMSG);

		/* Inner data of 5 bytes whose padding is outside the nest. */
		be16(inner, 5);
		pl = raw_tlv_len(p, 4 + 5, VMN_A_SERVERS | VMN_ATTR_F_NESTED,
		    inner, 5);
		pl += raw_str(p + pl, VMN_A_OPTIONS, "rotate");
		len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, pl);
		assert_rc(parse(big, len, &m), -EBADMSG);
	}
}

/* depth nests, one inside the other, around a u32; returns payload bytes. */
static size_t
raw_nests(uint8_t *p, int depth)
{
	size_t inner;

	if (depth == 0)
		return raw_u32(p, VMN_A_ADDR, 0x0a000001);
	inner = raw_nests(p + VMN_ATTR_HDR_LEN, depth - 1);
	be16(p, (uint16_t)(VMN_ATTR_HDR_LEN + inner));
	be16(p + 2, VMN_A_SERVERS | VMN_ATTR_F_NESTED);
	return VMN_ATTR_HDR_LEN + inner;
}

static void
test_nest_depth(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	struct vmn_msg m;
	const char *why = NULL;
	size_t len;
	int d;

	(void)state;
	for (d = 1; d <= VMN_MAX_NEST; d++) {
		len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, raw_nests(p, d));
		assert_rc(parse(big, len, &m), 0);
	}
	for (d = VMN_MAX_NEST + 1; d <= VMN_MAX_NEST + 3; d++) {
		len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0, raw_nests(p, d));
		assert_rc(parse(big, len, &m), -ELOOP);
	}
	/* vmn_attrs_validate() directly; even an empty sequence at depth
	 * MAX_NEST + 1 is too deep. */
	len = raw_nests(p, VMN_MAX_NEST + 1);
	assert_rc(vmn_attrs_validate(p, len, 0, &why), -ELOOP);
	assert_rc(vmn_attrs_validate(p, len, -1, &why), 0);
	assert_rc(vmn_attrs_validate(p, 0, VMN_MAX_NEST + 1, &why), -ELOOP);
	assert_rc(vmn_attrs_validate(p, 0, VMN_MAX_NEST, &why), 0);

	/* Too deep inside an attribute the policy does not know: still -ELOOP,
	 * the whole tree is checked before policies. */
	len = raw_nests(p, VMN_MAX_NEST + 1);
	be16(p + 2, 0x7000 | VMN_ATTR_F_NESTED);
	len = raw_frame(big, VMN_MSG_PING, 0, len);
	assert_rc(parse(big, len, &m), -ELOOP);

	/* The encoder produces exactly VMN_MAX_NEST levels and parses back. */
	{
		uint8_t st[256];
		struct vmn_buf b;
		struct vmn_attr_iter it;
		struct vmn_attr a, cur;
		int n;

		vmn_buf_init(&b, st, sizeof(st));
		vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
		for (d = 0; d < VMN_MAX_NEST; d++)
			vmn_nest_begin(&b, VMN_A_SERVERS);
		vmn_put_u32(&b, VMN_A_GEN, 99);
		for (d = 0; d < VMN_MAX_NEST; d++)
			vmn_nest_end(&b);
		n = vmn_msg_end(&b);
		assert_true(n > 0);
		assert_rc(parse(st, (size_t)n, &m), 0);
		cur = m.tb[VMN_A_SERVERS];
		for (d = 1; d < VMN_MAX_NEST; d++) {
			int cnt = 0;

			vmn_attr_for_each(&a, &it, &cur) {
				assert_int_equal(a.type,
				    VMN_A_SERVERS | VMN_ATTR_F_NESTED);
				cnt++;
			}
			assert_int_equal(cnt, 1);
			cur = a;
		}
		vmn_attr_iter_init(&it, &cur);
		assert_true(vmn_attr_next(&it, &a));
		assert_int_equal(a.type, VMN_A_GEN);
		assert_int_equal(vmn_attr_u32(&a), 99);
		assert_false(vmn_attr_next(&it, &a));
	}
}

static void
test_string_attrs(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct vmn_msg m;
	char name[80];
	size_t pl, len;

	(void)state;
#define LINK_WITH_NAME(s, n) do {					\
		pl = raw_tlv(p, VMN_A_IFNAME, (s), (n));		\
		pl += raw_tlv(p + pl, VMN_A_MAC, mac, 6);		\
		len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, pl);	\
	} while (0)

	LINK_WITH_NAME("eth0", 4);
	assert_rc(parse(big, len, &m), 0);
	/* Embedded NUL, anywhere. */
	LINK_WITH_NAME("et\0h", 4);
	assert_rc(parse(big, len, &m), -EINVAL);
	LINK_WITH_NAME("eth\0", 4);
	assert_rc(parse(big, len, &m), -EINVAL);
	LINK_WITH_NAME("\0", 1);
	assert_rc(parse(big, len, &m), -EINVAL);
	/* Interface names: 1..15 bytes. */
	LINK_WITH_NAME("", 0);
	assert_rc(parse(big, len, &m), -EINVAL);
	LINK_WITH_NAME("abcdefghijklmno", 15);
	assert_rc(parse(big, len, &m), 0);
	LINK_WITH_NAME("abcdefghijklmnop", 16);
	assert_rc(parse(big, len, &m), -EINVAL);
#undef LINK_WITH_NAME

	/* HELLO's VM id: 1..64. */
	memset(name, 'v', sizeof(name));
	pl = raw_u32(p, VMN_A_VERSION, 1);
	pl += raw_u32(p + pl, VMN_A_CAPS, 0);
	pl += raw_tlv(p + pl, VMN_A_ROLE, "\1", 1);
	{
		size_t base = pl;

		pl = base + raw_tlv(p + base, VMN_A_VM_ID, name, 64);
		len = raw_frame(big, VMN_MSG_HELLO, 0, pl);
		assert_rc(parse(big, len, &m), 0);
		assert_int_equal(m.tb[VMN_A_VM_ID].len, 64);
		pl = base + raw_tlv(p + base, VMN_A_VM_ID, name, 65);
		len = raw_frame(big, VMN_MSG_HELLO, 0, pl);
		assert_rc(parse(big, len, &m), -EINVAL);
	}

	/* The global string ceiling: ERRMSG of VMN_MAX_STRING + 1. */
	pl = raw_u32(p, VMN_A_ERRNO, 1);
	memset(big2, 'e', VMN_MAX_STRING + 1);
	{
		size_t base = pl;

		pl = base + raw_tlv(p + base, VMN_A_ERRMSG, big2, VMN_MAX_STRING);
		len = raw_frame(big, VMN_MSG_PING, VMN_F_REPLY | VMN_F_ERROR, pl);
		assert_rc(parse(big, len, &m), 0);
		pl = base + raw_tlv(p + base, VMN_A_ERRMSG, big2,
		    VMN_MAX_STRING + 1);
		len = raw_frame(big, VMN_MSG_PING, VMN_F_REPLY | VMN_F_ERROR, pl);
		assert_rc(parse(big, len, &m), -EINVAL);
	}
}

static void
test_wrong_sizes(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	static const uint8_t mac7[7] = { 2, 0, 0, 0, 0, 1, 9 };
	struct vmn_msg m;
	size_t pl, len;
	static const size_t gens[] = { 0, 1, 2, 3, 5, 8 };
	unsigned i;

	(void)state;
	/* u32 of every wrong size. */
	for (i = 0; i < ARRAY_SIZE(gens); i++) {
		len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0,
		    raw_tlv(p, VMN_A_GEN, "\0\0\0\0\0\0\0\0", gens[i]));
		assert_rc(parse(big, len, &m), -EINVAL);
	}
	/* u8 of 2, u16 of 4, u64 of 4, MAC of 5 and 7, address of 5 and 8. */
	pl = raw_tlv(p, VMN_A_PROTO, "\6\0", 2);
	pl += raw_u32(p + pl, VMN_A_PORT, 80);
	len = raw_frame(big, VMN_MSG_FWD, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_tlv(p, VMN_A_PROTO, "\6", 1);
	pl += raw_u32(p + pl, VMN_A_PORT, 80);
	len = raw_frame(big, VMN_MSG_FWD, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_tlv(p, VMN_A_PROTO, "\6", 1);
	pl += raw_tlv(p + pl, VMN_A_PORT, "\0\x50", 2);
	len = raw_frame(big, VMN_MSG_FWD, 0, pl);
	assert_rc(parse(big, len, &m), 0);
	assert_int_equal(vmn_attr_u16(&m.tb[VMN_A_PORT]), 80);

	len = raw_frame(big, VMN_MSG_CTL_STATUS, 0,
	    raw_u32(p, VMN_A_UPTIME, 5));
	assert_rc(parse(big, len, &m), -EINVAL);

	pl = raw_str(p, VMN_A_IFNAME, "eth0");
	pl += raw_tlv(p + pl, VMN_A_MAC, mac7, 5);
	len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_str(p, VMN_A_IFNAME, "eth0");
	pl += raw_tlv(p + pl, VMN_A_MAC, mac7, 7);
	len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);

	pl = raw_str(p, VMN_A_IFNAME, "eth0");
	pl += raw_tlv(p + pl, VMN_A_ADDR, "\1\2\3\4\5", 5);
	pl += raw_tlv(p + pl, VMN_A_PREFIXLEN, "\x18", 1);
	len = raw_frame(big, VMN_MSG_CONFIG_ADDR, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_str(p, VMN_A_IFNAME, "eth0");
	pl += raw_tlv(p + pl, VMN_A_ADDR, "\1\2\3\4\5\6\7\x8", 8);
	pl += raw_tlv(p + pl, VMN_A_PREFIXLEN, "\x18", 1);
	len = raw_frame(big, VMN_MSG_CONFIG_ADDR, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
}

static void
test_missing_required(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct vmn_msg m;
	size_t pl, len;

	(void)state;
	/* LINK without MAC, without IFNAME, with both. */
	len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, raw_str(p, VMN_A_IFNAME, "e"));
	assert_rc(parse(big, len, &m), -EINVAL);
	len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, raw_tlv(p, VMN_A_MAC, mac, 6));
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_str(p, VMN_A_IFNAME, "e");
	pl += raw_tlv(p + pl, VMN_A_MAC, mac, 6);
	len = raw_frame(big, VMN_MSG_CONFIG_LINK, 0, pl);
	assert_rc(parse(big, len, &m), 0);

	/* BEGIN and COMMIT without GEN; HELLO without ROLE. */
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, 0);
	assert_rc(parse(big, len, &m), -EINVAL);
	len = raw_frame(big, VMN_MSG_CONFIG_COMMIT, VMN_F_REQUEST, 0);
	assert_rc(parse(big, len, &m), -EINVAL);
	pl = raw_u32(p, VMN_A_VERSION, 1);
	pl += raw_u32(p + pl, VMN_A_CAPS, 0);
	len = raw_frame(big, VMN_MSG_HELLO, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
	/* A required attribute hidden in a nest does not count. */
	pl = raw_tlv(p, VMN_A_GEN | VMN_ATTR_F_NESTED, NULL, 0);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, pl);
	assert_rc(parse(big, len, &m), -EINVAL);
}

static void
test_unknown_attrs_skipped(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	uint8_t inner[16];
	struct vmn_msg m;
	size_t pl, len, n;

	(void)state;
	pl = raw_u32(p, 0x7fff, 1);
	pl += raw_u32(p + pl, VMN_A__MAX, 2);
	pl += raw_tlv(p + pl, VMN_A_UNSPEC, "abc", 3);
	/* Known elsewhere, not in BEGIN's policy, and malformed for its
	 * kind: skipped without a look. */
	pl += raw_tlv(p + pl, VMN_A_MAC, "\1", 1);
	pl += raw_tlv(p + pl, VMN_A_IFNAME, "with\0nul", 8);
	/* An unknown nest holding valid TLVs. */
	n = raw_u32(inner, 0x1234, 7);
	n += raw_tlv(inner + n, 0x4321, NULL, 0);
	pl += raw_tlv(p + pl, 0x1234 | VMN_ATTR_F_NESTED, inner, n);
	pl += raw_u32(p + pl, VMN_A_GEN, 0x11223344);
	pl += raw_tlv(p + pl, 0x7ffe, NULL, 0);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, pl);
	assert_rc(parse(big, len, &m), 0);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_GEN]), 0x11223344);
	assert_false(vmn_attr_present(&m.tb[VMN_A_MAC]));
	assert_false(vmn_attr_present(&m.tb[VMN_A_IFNAME]));
	assert_false(vmn_attr_present(&m.tb[VMN_A_UNSPEC]));

	/* The same unknown nest with a broken inside is refused. */
	be16(inner, 0x00ff);
	pl = raw_tlv(p, 0x1234 | VMN_ATTR_F_NESTED, inner, n);
	pl += raw_u32(p + pl, VMN_A_GEN, 1);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0, pl);
	assert_rc(parse(big, len, &m), -EBADMSG);
}

static void
test_nest_flat_mismatch(void **state)
{
	uint8_t *p = big + VMN_HDR_LEN;
	uint8_t inner[8];
	struct vmn_msg m;
	size_t len, n;

	(void)state;
	/* GEN (a u32) sent as a nest holding 4 bytes' worth of TLV. */
	n = raw_tlv(inner, VMN_A_UNSPEC, NULL, 0);
	len = raw_frame(big, VMN_MSG_CONFIG_BEGIN, 0,
	    raw_tlv(p, VMN_A_GEN | VMN_ATTR_F_NESTED, inner, n));
	assert_rc(parse(big, len, &m), -EINVAL);

	/* SERVERS (a nest) sent flat: 4 bytes of address. */
	len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0,
	    raw_tlv(p, VMN_A_SERVERS, "\x0a\0\0\1", 4));
	assert_rc(parse(big, len, &m), -EINVAL);

	/* SEARCH flat, empty. */
	len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0,
	    raw_tlv(p, VMN_A_SEARCH, NULL, 0));
	assert_rc(parse(big, len, &m), -EINVAL);

	/* A string sent as a nest. */
	len = raw_frame(big, VMN_MSG_CONFIG_DNS, 0,
	    raw_tlv(p, VMN_A_OPTIONS | VMN_ATTR_F_NESTED, NULL, 0));
	assert_rc(parse(big, len, &m), -EINVAL);
}

/* ---- encoder limits --------------------------------------------------- */

static void
test_encoder_capacity(void **state)
{
	uint8_t st[64];
	struct vmn_buf b;
	char s[40];

	(void)state;
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';

	/* 16 header + 4 + 39 -> 60 bytes: fits in 64. */
	vmn_buf_init(&b, st, sizeof(st));
	vmn_msg_begin(&b, VMN_MSG_PING, 0, 0);
	vmn_put_str(&b, VMN_A_STATE, s);
	assert_int_equal(b.err, 0);
	assert_int_equal(vmn_msg_end(&b), 60);
	/* One more attribute overflows, and the error sticks. */
	vmn_put_u8(&b, VMN_A_ROLE, 1);
	assert_rc(b.err, -EMSGSIZE);
	assert_int_equal(b.len, 60);	/* nothing half-written */
	vmn_put_u8(&b, VMN_A_ROLE, 1);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_nest_end(&b);
	assert_rc(b.err, -EMSGSIZE);
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);

	/* vmn_msg_begin starts over. */
	vmn_msg_begin(&b, VMN_MSG_PING, 0, 0);
	assert_int_equal(b.err, 0);
	assert_int_equal(vmn_msg_end(&b), VMN_HDR_LEN);

	/* A single put bigger than the buffer. */
	vmn_msg_begin(&b, VMN_MSG_PING, 0, 0);
	vmn_put(&b, VMN_A_PAYLOAD, big2, sizeof(st));
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);

	/* Not even room for the header. */
	vmn_buf_init(&b, st, VMN_HDR_LEN - 1);
	vmn_msg_begin(&b, VMN_MSG_PING, 0, 0);
	vmn_put_u8(&b, VMN_A_ROLE, 1);
	assert_true(vmn_msg_end(&b) < 0);

	/* An address without a family. */
	{
		struct vmn_ip none = { 0 };

		vmn_buf_init(&b, st, sizeof(st));
		vmn_msg_begin(&b, VMN_MSG_PING, 0, 0);
		vmn_put_ip(&b, VMN_A_ADDR, &none);
		assert_rc(vmn_msg_end(&b), -EAFNOSUPPORT);
	}
}

static void
test_encoder_max_payload(void **state)
{
	struct vmn_buf b;
	/* DNS_ID takes 8 bytes; PAYLOAD's TLV takes the remaining 65528. */
	size_t data = VMN_MAX_PAYLOAD - 8 - VMN_ATTR_HDR_LEN;
	int len;

	(void)state;
	memset(big2, 0x5a, sizeof(big2));
	vmn_buf_init(&b, big, sizeof(big));
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put_u32(&b, VMN_A_DNS_ID, 1);
	vmn_put(&b, VMN_A_PAYLOAD, big2, data);
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_MAX_FRAME);
	assert_int_equal(big[8] << 24 | big[9] << 16 | big[10] << 8 | big[11],
	    VMN_MAX_PAYLOAD);
	/* (test_parse_max_payload checks that such frames parse back.) */

	/* One byte more (so 4 more on the wire) is refused by the encoder
	 * even though the buffer has room. */
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put_u32(&b, VMN_A_DNS_ID, 1);
	vmn_put(&b, VMN_A_PAYLOAD, big2, data + 1);
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);
	/* Or an extra empty attribute after a full payload. */
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put_u32(&b, VMN_A_DNS_ID, 1);
	vmn_put(&b, VMN_A_PAYLOAD, big2, data);
	vmn_put(&b, VMN_A_UNSPEC, NULL, 0);
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);

	/* An attribute whose length does not fit its u16 length field. */
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put(&b, VMN_A_PAYLOAD, big2, 0xffff - VMN_ATTR_HDR_LEN + 1);
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);
	/* The longest single attribute: length field 0xffff, padded to
	 * 64 KiB, the whole payload. */
	vmn_msg_begin(&b, VMN_MSG_PING, 0, 1);
	vmn_put(&b, VMN_A_PAYLOAD, big2, 0xffff - VMN_ATTR_HDR_LEN);
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_MAX_FRAME);
	assert_int_equal(big[VMN_HDR_LEN], 0xff);
	assert_int_equal(big[VMN_HDR_LEN + 1], 0xff);

	/* A nest of exactly 64 KiB cannot have its length in 16 bits. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 1);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_put(&b, VMN_A_PAYLOAD, big2, VMN_MAX_PAYLOAD - 2 * VMN_ATTR_HDR_LEN);
	vmn_nest_end(&b);
	assert_rc(vmn_msg_end(&b), -EMSGSIZE);
}

/*
 * A payload of exactly VMN_MAX_PAYLOAD bytes is legal (vmn_hdr_decode and
 * the encoder both accept it), so its attributes must all be seen.
 */
static void
test_parse_max_payload(void **state)
{
	struct vmn_buf b;
	struct vmn_msg m;
	size_t data = VMN_MAX_PAYLOAD - 8 - VMN_ATTR_HDR_LEN;
	int len;

	(void)state;
	memset(big2, 0x5a, sizeof(big2));
	vmn_buf_init(&b, big, sizeof(big));

	/* 64 KiB - 4 bytes of payload: parses. */
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put_u32(&b, VMN_A_DNS_ID, 7);
	vmn_put(&b, VMN_A_PAYLOAD, big2, data - 4);
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_MAX_FRAME - 4);
	assert_rc(parse(big, (size_t)len, &m), 0);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_DNS_ID]), 7);
	assert_int_equal(m.tb[VMN_A_PAYLOAD].len, data - 4);

	/* Exactly 64 KiB: a DNS frame with its required attributes. */
	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 1);
	vmn_put_u32(&b, VMN_A_DNS_ID, 7);
	vmn_put(&b, VMN_A_PAYLOAD, big2, data);
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_MAX_FRAME);
	assert_rc(parse(big, (size_t)len, &m), 0);
	assert_int_equal(m.hdr.length, VMN_MAX_PAYLOAD);
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_DNS_ID]), 7);
	assert_int_equal(m.tb[VMN_A_PAYLOAD].len, data);
	assert_memory_equal(m.tb[VMN_A_PAYLOAD].data, big2, data);
}

/* Exactly 64 KiB, nothing required: optional attributes must not be
 * silently dropped either. */
static void
test_parse_max_payload_optional(void **state)
{
	struct vmn_buf b;
	struct vmn_msg m;
	size_t data = VMN_MAX_PAYLOAD - 8 - VMN_ATTR_HDR_LEN;
	int len;

	(void)state;
	memset(big2, 0x5a, sizeof(big2));
	vmn_buf_init(&b, big, sizeof(big));
	vmn_msg_begin(&b, VMN_MSG_CTL_STATUS, VMN_F_REPLY, 2);
	vmn_put_u32(&b, VMN_A_PID, 4242);
	vmn_put(&b, 0x7000, big2, data);	/* unknown filler */
	len = vmn_msg_end(&b);
	assert_int_equal(len, VMN_MAX_FRAME);
	assert_rc(parse(big, (size_t)len, &m), 0);
	assert_true(vmn_attr_present(&m.tb[VMN_A_PID]));
	assert_int_equal(vmn_attr_u32(&m.tb[VMN_A_PID]), 4242);
}

static void
test_encoder_nests(void **state)
{
	uint8_t st[256];
	struct vmn_buf b;
	int d;

	(void)state;
	vmn_buf_init(&b, st, sizeof(st));

	/* Begin without end. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	assert_rc(vmn_msg_end(&b), -EINVAL);

	/* End without begin. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
	vmn_nest_end(&b);
	assert_rc(vmn_msg_end(&b), -EINVAL);

	/* One end too many. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_nest_end(&b);
	vmn_nest_end(&b);
	assert_rc(vmn_msg_end(&b), -EINVAL);

	/* VMN_MAX_NEST levels are fine; one more is -ELOOP. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
	for (d = 0; d < VMN_MAX_NEST; d++)
		vmn_nest_begin(&b, VMN_A_SERVERS);
	assert_int_equal(b.err, 0);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	assert_rc(b.err, -ELOOP);
	for (d = 0; d <= VMN_MAX_NEST; d++)
		vmn_nest_end(&b);
	assert_rc(vmn_msg_end(&b), -ELOOP);

	/* Sequential nests reuse depth. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 0);
	for (d = 0; d < 3 * VMN_MAX_NEST; d++) {
		vmn_nest_begin(&b, VMN_A_SERVERS);
		vmn_nest_end(&b);
	}
	assert_int_equal(vmn_msg_end(&b), VMN_HDR_LEN + 3 * VMN_MAX_NEST * 4);
}

/* ---- fuzz ------------------------------------------------------------- */

static uint64_t rng;

static uint32_t
rnd(void)
{
	/* xorshift64*: deterministic, good enough for mutation. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static uint32_t
rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

struct seed {
	uint8_t	data[1024];
	size_t	len;
};

static void
seed_add(struct seed *s, unsigned *n, struct vmn_buf *b)
{
	int len = vmn_msg_end(b);

	assert_true(len > 0);
	assert_true((size_t)len <= sizeof(s[*n].data));
	memcpy(s[*n].data, b->data, (size_t)len);
	s[*n].len = (size_t)len;
	(*n)++;
}

static unsigned
make_seeds(struct seed *s)
{
	uint8_t st[1024];
	static const uint8_t mac[6] = { 2, 1, 2, 3, 4, 5 };
	struct vmn_buf b;
	struct vmn_ip v4, v6;
	unsigned n = 0;
	int n2;

	ip_from("10.0.0.1", &v4);
	ip_from("fd00::1", &v6);
	vmn_buf_init(&b, st, sizeof(st));

	vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL, 3, "vm");
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 2);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_put_ip(&b, VMN_A_ADDR, &v4);
	vmn_put_ip(&b, VMN_A_ADDR, &v6);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_put_u8(&b, VMN_A_ROLE, 1);
	vmn_nest_end(&b);
	vmn_nest_end(&b);
	vmn_nest_end(&b);
	vmn_nest_begin(&b, VMN_A_SEARCH);
	vmn_put_str(&b, VMN_A_NAME, "example.com");
	vmn_put_str(&b, VMN_A_NAME, "b");
	vmn_nest_end(&b);
	vmn_put_str(&b, VMN_A_OPTIONS, "ndots:1");
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_CONFIG_ROUTE, 0, 3);
	vmn_put_str(&b, VMN_A_IFNAME, "eth0");
	vmn_put_ip(&b, VMN_A_ADDR, &v6);
	vmn_put_u8(&b, VMN_A_PREFIXLEN, 64);
	vmn_put_ip(&b, VMN_A_GATEWAY, &v6);
	vmn_put_u32(&b, VMN_A_METRIC, 5);
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_CONFIG_LINK, 0, 4);
	vmn_put_str(&b, VMN_A_IFNAME, "eth0");
	vmn_put(&b, VMN_A_MAC, mac, 6);
	vmn_put_u32(&b, VMN_A_MTU, 1500);
	seed_add(s, &n, &b);

	vmn_build_error(&b, VMN_MSG_CONFIG_COMMIT, 5, -EINVAL, "bad");
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 6);
	vmn_put_u8(&b, VMN_A_EVENT, VMN_EV_LISTENER_ADD);
	vmn_put_u8(&b, VMN_A_PROTO, 6);
	vmn_put_u16(&b, VMN_A_PORT, 8080);
	vmn_put_ip(&b, VMN_A_ADDR, &v4);
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_CTL_STATUS, VMN_F_REPLY, 7);
	vmn_put_u64(&b, VMN_A_UPTIME, 12345);
	vmn_put_str(&b, VMN_A_STATE, "online");
	seed_add(s, &n, &b);

	/* VMN_MAX_NEST levels around a u32 that is itself a valid empty
	 * TLV: toggling its nest flag makes it one level too deep. */
	vmn_msg_begin(&b, VMN_MSG_CONFIG_DNS, 0, 9);
	for (n2 = 0; n2 < VMN_MAX_NEST; n2++)
		vmn_nest_begin(&b, VMN_A_SERVERS);
	vmn_put_u32(&b, VMN_A_GEN, 0x00040000);
	for (n2 = 0; n2 < VMN_MAX_NEST; n2++)
		vmn_nest_end(&b);
	seed_add(s, &n, &b);

	vmn_msg_begin(&b, VMN_MSG_DNS, 0, 8);
	vmn_put_u32(&b, VMN_A_DNS_ID, 9);
	vmn_put(&b, VMN_A_PAYLOAD, "\x12\x34\x01\x00\x00\x01", 6);
	seed_add(s, &n, &b);

	return n;
}

static bool
inside(const uint8_t *lo, const uint8_t *hi, const uint8_t *p, size_t len)
{
	return p >= lo && p <= hi && (size_t)(hi - p) >= len;
}

/* Walks a nest recursively; every element must lie inside its parent. */
static void
check_nest(const struct vmn_attr *nest, int depth, const uint8_t *flo,
    const uint8_t *fhi)
{
	struct vmn_attr_iter it;
	struct vmn_attr a;

	if (depth > VMN_MAX_NEST + 1)
		fail_msg("accepted a nest %d deep", depth);
	vmn_attr_for_each(&a, &it, nest) {
		if (!inside(nest->data, nest->data + nest->len, a.data, a.len) ||
		    !inside(flo, fhi, a.data, a.len))
			fail_msg("nested attribute outside its nest");
		if (a.type & VMN_ATTR_F_NESTED)
			check_nest(&a, depth + 1, flo, fhi);
	}
}

static void
test_fuzz(void **state)
{
	static struct seed seeds[16];
	unsigned nseeds, iter, k, nmut;
	unsigned ok = 0, einval = 0, ebadmsg = 0, eloop = 0, other = 0;
	uint8_t work[1200];

	(void)state;
	nseeds = make_seeds(seeds);
	rng = 0x9e3779b97f4a7c15ull;

	for (iter = 0; iter < 20000; iter++) {
		const struct seed *sd = &seeds[rnd_below(nseeds)];
		size_t len = sd->len;
		uint8_t *frame;
		struct vmn_msg m;
		const char *why = NULL;
		int rc;
		unsigned i;

		memcpy(work, sd->data, len);
		nmut = 1 + rnd_below(4);
		for (k = 0; k < nmut; k++) {
			switch (rnd_below(7)) {
			case 0:		/* bit flip */
				if (len)
					work[rnd_below((uint32_t)len)] ^=
					    (uint8_t)(1u << rnd_below(8));
				break;
			case 1:		/* random byte */
				if (len)
					work[rnd_below((uint32_t)len)] =
					    (uint8_t)rnd();
				break;
			case 2:		/* truncate */
				len = rnd_below((uint32_t)len + 1);
				break;
			case 3:		/* extend with junk */
				for (i = 1 + rnd_below(16); i > 0 &&
				    len < sizeof(work); i--)
					work[len++] = (uint8_t)rnd();
				break;
			case 4:		/* header length field */
				if (len >= VMN_HDR_LEN)
					be32(work + 8, rnd_below(2) ? rnd() :
					    (uint32_t)(len - VMN_HDR_LEN) +
					    rnd_below(9) - 4);
				break;
			case 5:		/* some TLV length field */
				if (len >= VMN_HDR_LEN + 4) {
					size_t off = VMN_HDR_LEN + 4 *
					    rnd_below((uint32_t)(len - VMN_HDR_LEN) / 4);
					uint16_t v = rnd_below(2) ?
					    (uint16_t)rnd_below(24) : (uint16_t)rnd();
					be16(work + off, v);
				}
				break;
			case 6:		/* toggle a nest flag */
				if (len >= VMN_HDR_LEN + 4) {
					size_t off = VMN_HDR_LEN + 2 + 4 *
					    rnd_below((uint32_t)(len - VMN_HDR_LEN) / 4);
					work[off] ^= 0x80;
				}
				break;
			}
		}
		/* Half the time, make the header agree with the length so the
		 * TLV walker and the policies get exercised. */
		if (len >= VMN_HDR_LEN && rnd_below(2))
			be32(work + 8, (uint32_t)(len - VMN_HDR_LEN));

		/* Exactly-sized heap copy: sanitizers catch any overread. */
		frame = malloc(len ? len : 1);
		assert_non_null(frame);
		memcpy(frame, work, len);
		rc = vmn_msg_parse(frame, len, &m, &why);
		if (rc == 0) {
			const uint8_t *lo = frame + VMN_HDR_LEN;
			const uint8_t *hi = frame + len;

			ok++;
			assert_int_equal(VMN_HDR_LEN + m.hdr.length, len);
			assert_true(m.hdr.type > VMN_MSG_NONE &&
			    m.hdr.type < VMN_MSG__MAX);
			assert_int_equal(m.hdr.flags & ~VMN_F_ALL, 0);
			for (i = 0; i < VMN_A__MAX; i++) {
				if (!m.tb[i].data)
					continue;
				if (!inside(lo, hi, m.tb[i].data, m.tb[i].len))
					fail_msg("iter %u: attribute %s outside "
					    "the frame", iter, vmn_attr_name(i));
				assert_int_equal(m.tb[i].type, i);
			}
			check_nest(&m.tb[VMN_A_SERVERS], 1, lo, hi);
			check_nest(&m.tb[VMN_A_SEARCH], 1, lo, hi);
		} else {
			if (why == NULL)
				fail_msg("iter %u: error %d without a reason",
				    iter, rc);
			switch (rc) {
			case -EINVAL:
				einval++;
				break;
			case -EBADMSG:
				ebadmsg++;
				break;
			case -ELOOP:
				eloop++;
				break;
			case -EMSGSIZE:
			case -EPROTO:
			case -EPROTONOSUPPORT:
			case -EOPNOTSUPP:
				other++;
				break;
			default:
				fail_msg("iter %u: unexpected error %d", iter, rc);
			}
		}
		free(frame);
	}
	print_message("fuzz: %u ok, %u EINVAL, %u EBADMSG, %u ELOOP, "
	    "%u other\n", ok, einval, ebadmsg, eloop, other);
	/* The mutator must reach every layer, or the test proves little. */
	assert_true(ok > 500);
	assert_true(einval > 100);
	assert_true(ebadmsg > 100);
	assert_true(other > 100);
	assert_true(eloop > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_tables),
		cmocka_unit_test(test_role_parse),
		cmocka_unit_test(test_encode_bytes),
		cmocka_unit_test(test_roundtrip_scalars),
		cmocka_unit_test(test_roundtrip_nests),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_error_frames),
		cmocka_unit_test(test_multi_attribute),
		cmocka_unit_test(test_attr_accessors),
		cmocka_unit_test(test_attr_check),
		cmocka_unit_test(test_hdr_truncated),
		cmocka_unit_test(test_hdr_decode_fields),
		cmocka_unit_test(test_hdr_bad_fields),
		cmocka_unit_test(test_frame_length_mismatch),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_unknown_msg_type),
		cmocka_unit_test(test_attr_short_length),
		cmocka_unit_test(test_attr_past_end),
		cmocka_unit_test(test_nest_depth),
		cmocka_unit_test(test_string_attrs),
		cmocka_unit_test(test_wrong_sizes),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_unknown_attrs_skipped),
		cmocka_unit_test(test_nest_flat_mismatch),
		cmocka_unit_test(test_encoder_capacity),
		cmocka_unit_test(test_encoder_max_payload),
		cmocka_unit_test(test_parse_max_payload),
		cmocka_unit_test(test_parse_max_payload_optional),
		cmocka_unit_test(test_encoder_nests),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_ctl_additions),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
