/*
 * fuzz_wire.c - the frame and TLV codec (common/wire.c) and the
 * configuration transaction decoder (common/netconf.c)
 *
 * Reaches: vmn_hdr_decode(), vmn_attrs_validate() (nests, depth),
 * vmn_msg_parse() with every message's policy and the error policy, the
 * attribute accessors (vmn_attr_u8..u64, _str, _ip, vmn_str_printable,
 * vmn_attr_for_each through every nest), and vmn_netconf_decode_item()
 * and vmn_netconf_check() on the CONFIG_* frames, as guest-netd applies a
 * transaction.
 *
 * The input is read two ways each run:
 *  1. as a stream, the way a channel reads it: header, then exactly the
 *     length it gives, frame after frame, until one does not parse;
 *  2. as one frame whose header is made valid here: byte 0 picks the
 *     message type, byte 1 its flags, the rest is the payload (so that the
 *     fuzzer spends its time in the attributes, not on the length field).
 *
 * Checks, beyond the sanitizers: every attribute the parser hands out lies
 * inside the frame; a parsed message, re-encoded from its table with the
 * project's encoder, parses again to the same table; a transaction that
 * decodes and checks, encoded again and decoded again, encodes to the same
 * bytes (no item is changed or lost on the way).
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "netconf.h"
#include "wire.h"

static uint8_t frame_buf[VMN_MAX_FRAME];
static uint8_t enc_buf[VMN_MAX_FRAME];

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_wire: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

/* Reads one attribute the way handlers do, by its (checked) length. */
static void
touch_attr(const struct vmn_attr *a)
{
	char s[VMN_MAX_STRING + 1];
	struct vmn_ip ip;
	volatile uint64_t sink = 0;

	switch (a->len) {
	case 1:
		sink += vmn_attr_u8(a);
		break;
	case 2:
		sink += vmn_attr_u16(a);
		break;
	case 4:
		sink += vmn_attr_u32(a);
		if (vmn_attr_ip(a, &ip) == 0)
			sink += ip.family;
		break;
	case 8:
		sink += vmn_attr_u64(a);
		break;
	case 16:
		if (vmn_attr_ip(a, &ip) == 0)
			sink += ip.family;
		break;
	}
	if (vmn_attr_str(a, s, sizeof(s)) == 0)
		sink += strlen(vmn_str_printable(s));
	(void)sink;
}

/* Walks a nest (validated structurally by the parse) to the bottom. */
static void
walk_nest(const struct vmn_attr *nest, const uint8_t *lo, const uint8_t *hi,
    int depth)
{
	struct vmn_attr_iter it;
	struct vmn_attr a;

	CHECK(depth <= VMN_MAX_NEST + 1);
	vmn_attr_for_each(&a, &it, nest) {
		CHECK(a.data >= lo && a.data + a.len <= hi);
		if (a.type & VMN_ATTR_F_NESTED)
			walk_nest(&a, lo, hi, depth + 1);
		else
			touch_attr(&a);
	}
}

/* Re-encodes what the table holds and parses it again: the same table. */
static void
roundtrip(const struct vmn_msg *m)
{
	struct vmn_msg m2;
	struct vmn_buf b;
	const char *why = NULL;
	unsigned i;
	int len;

	vmn_buf_init(&b, enc_buf, sizeof(enc_buf));
	vmn_msg_begin(&b, m->hdr.type, m->hdr.flags, m->hdr.seq);
	for (i = 0; i < VMN_A__MAX; i++) {
		const struct vmn_attr *a = &m->tb[i];

		if (!a->data)
			continue;
		/* The nest bit is the only thing the table drops. */
		vmn_put(&b, (uint16_t)(i | (a->data[-2] & 0x80 ?
		    VMN_ATTR_F_NESTED : 0)), a->data, a->len);
	}
	len = vmn_msg_end(&b);
	CHECK(len > 0);
	CHECK(vmn_msg_parse(enc_buf, (size_t)len, &m2, &why) == 0);
	for (i = 0; i < VMN_A__MAX; i++) {
		CHECK(!m->tb[i].data == !m2.tb[i].data);
		if (!m->tb[i].data)
			continue;
		CHECK(m->tb[i].len == m2.tb[i].len);
		CHECK(memcmp(m->tb[i].data, m2.tb[i].data, m->tb[i].len) == 0);
	}
}

/* ---- a configuration transaction, as guest-netd takes it ------------------ */

static struct vmn_netconf nc, nc2;
static bool in_txn, txn_bad;

struct collect {
	uint8_t		*buf;
	size_t		 len, cap;
};

static int
collect_emit(void *arg, const uint8_t *frame, size_t len)
{
	struct collect *c = arg;

	if (c->len + len > c->cap)
		return -ENOBUFS;
	memcpy(c->buf + c->len, frame, len);
	c->len += len;
	return 0;
}

/* Decodes a whole encoded transaction into out; 0 if it checks. */
static int
decode_stream(const uint8_t *p, size_t len, struct vmn_netconf *out)
{
	const char *why = NULL;
	struct vmn_hdr h;
	struct vmn_msg m;
	size_t off = 0, flen;

	while (off < len) {
		CHECK(vmn_hdr_decode(p + off, len - off, &h, &why) == 0);
		flen = VMN_HDR_LEN + (size_t)h.length;
		CHECK(flen <= len - off);
		CHECK(vmn_msg_parse(p + off, flen, &m, &why) == 0);
		if (m.hdr.type == VMN_MSG_CONFIG_BEGIN)
			vmn_netconf_reset(out, vmn_attr_u32(&m.tb[VMN_A_GEN]));
		else if (m.hdr.type != VMN_MSG_CONFIG_COMMIT)
			CHECK(vmn_netconf_decode_item(out, &m, &why) == 0);
		off += flen;
	}
	return vmn_netconf_check(out, &why);
}

static void
commit(void)
{
	static uint8_t s1[1 << 20], s2[1 << 20];
	struct collect c1 = { s1, 0, sizeof(s1) }, c2 = { s2, 0, sizeof(s2) };
	const char *why = NULL;

	if (vmn_netconf_check(&nc, &why) < 0)
		return;
	/* What the guest accepted survives being said again. */
	CHECK(vmn_netconf_encode(&nc, 7, collect_emit, &c1) == 0);
	CHECK(decode_stream(s1, c1.len, &nc2) == 0);
	CHECK(vmn_netconf_encode(&nc2, 7, collect_emit, &c2) == 0);
	CHECK(c1.len == c2.len && memcmp(s1, s2, c1.len) == 0);
}

static void
netconf_frame(const struct vmn_msg *m)
{
	const char *why = NULL;

	switch (m->hdr.type) {
	case VMN_MSG_CONFIG_BEGIN:
		vmn_netconf_reset(&nc, vmn_attr_u32(&m->tb[VMN_A_GEN]));
		in_txn = true;
		txn_bad = false;
		break;
	case VMN_MSG_CONFIG_LINK:
	case VMN_MSG_CONFIG_ADDR:
	case VMN_MSG_CONFIG_ROUTE:
	case VMN_MSG_CONFIG_NEIGH:
	case VMN_MSG_CONFIG_DNS:
	case VMN_MSG_CONFIG_PROXY:
	case VMN_MSG_CONFIG_SYSCTL:
	case VMN_MSG_CONFIG_RFWD:
	case VMN_MSG_CONFIG_SNAT:
		if (in_txn && !txn_bad &&
		    vmn_netconf_decode_item(&nc, m, &why) < 0)
			txn_bad = true;
		break;
	case VMN_MSG_CONFIG_COMMIT:
		if (in_txn && !txn_bad && (m->hdr.flags & VMN_F_REQUEST))
			commit();
		in_txn = false;
		break;
	default:
		break;
	}
}

/* ---- one frame ------------------------------------------------------------- */

static void
one_frame(const uint8_t *frame, size_t len)
{
	const char *why = NULL;
	struct vmn_msg m;
	unsigned i;

	if (vmn_msg_parse(frame, len, &m, &why) < 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(m.hdr.length == len - VMN_HDR_LEN);
	for (i = 0; i < VMN_A__MAX; i++) {
		const struct vmn_attr *a = &m.tb[i];

		if (!a->data)
			continue;
		CHECK(a->type == i);
		CHECK(a->data >= frame + VMN_HDR_LEN + VMN_ATTR_HDR_LEN &&
		    a->data + a->len <= frame + len);
		if (a->data[-2] & 0x80)
			walk_nest(a, frame + VMN_HDR_LEN, frame + len, 1);
		else
			touch_attr(a);
	}
	(void)vmn_msg_name(m.hdr.type);
	roundtrip(&m);
	netconf_frame(&m);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmn_hdr h;
	const char *why = NULL;
	size_t off = 0, flen;
	struct vmn_buf b;
	int len;

	in_txn = txn_bad = false;

	/* 1. A stream of frames, as a channel reads it. */
	while (off < size) {
		if (vmn_hdr_decode(data + off, size - off, &h, &why) < 0)
			break;
		flen = VMN_HDR_LEN + (size_t)h.length;
		if (flen > size - off)
			break;
		one_frame(data + off, flen);
		off += flen;
	}

	/* 2. One frame with a header made right: the payload is the input. */
	if (size >= 2 && size - 2 <= VMN_MAX_PAYLOAD) {
		in_txn = txn_bad = false;
		vmn_buf_init(&b, frame_buf, sizeof(frame_buf));
		vmn_msg_begin(&b, (uint16_t)(1 + data[0] % (VMN_MSG__MAX - 1)),
		    data[1] & VMN_F_ALL, 1);
		len = vmn_msg_end(&b);
		CHECK(len == VMN_HDR_LEN);
		memcpy(frame_buf + VMN_HDR_LEN, data + 2, size - 2);
		frame_buf[8] = (uint8_t)((size - 2) >> 24);
		frame_buf[9] = (uint8_t)((size - 2) >> 16);
		frame_buf[10] = (uint8_t)((size - 2) >> 8);
		frame_buf[11] = (uint8_t)(size - 2);
		one_frame(frame_buf, VMN_HDR_LEN + size - 2);
	}
	return 0;
}
