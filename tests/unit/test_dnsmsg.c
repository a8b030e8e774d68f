/*
 * test_dnsmsg.c - unit tests for the DNS tunnel's message helpers
 * (dns-tunnel/dnsmsg.c)
 *
 * Covers: queries that parse (type, class, question end, the client's UDP
 * buffer from EDNS) and every shape refused (a response, no or two
 * questions, labels past the end, over-long names, compression in the
 * question, records past the end); SERVFAIL/FORMERR replies (id, flags,
 * counts, question copied or dropped); truncated replies; and a fuzz loop
 * that must never read past the message.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "dnsmsg.h"

/* web.test.lan IN A, id 0xbeef, RD */
static const uint8_t query_a[] = {
	0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	3, 'w', 'e', 'b', 4, 't', 'e', 's', 't', 3, 'l', 'a', 'n', 0,
	0x00, 0x01, 0x00, 0x01,
};
#define QEND	sizeof(query_a)

/* The same with an OPT record announcing bufsize (big-endian). */
static size_t
with_opt(uint8_t *buf, uint16_t bufsize)
{
	static const uint8_t opt[] = { 0, 0x00, 41, 0, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(buf, query_a, QEND);
	buf[11] = 1;				/* ARCOUNT */
	memcpy(buf + QEND, opt, sizeof(opt));
	buf[QEND + 3] = (uint8_t)(bufsize >> 8);
	buf[QEND + 4] = (uint8_t)bufsize;
	return QEND + sizeof(opt);
}

static void
test_parse_ok(void **state)
{
	struct dns_query_info qi;
	uint8_t buf[128];
	size_t len;

	(void)state;
	assert_rc(dns_parse_query(query_a, QEND, &qi), 0);
	assert_int_equal(qi.qtype, 1);
	assert_int_equal(qi.qclass, 1);
	assert_int_equal(qi.question_end, QEND);
	assert_int_equal(qi.udp_limit, DNS_UDP_MIN);
	assert_int_equal(dns_id(query_a), 0xbeef);

	len = with_opt(buf, 4096);
	assert_rc(dns_parse_query(buf, len, &qi), 0);
	assert_int_equal(qi.udp_limit, 4096);
	/* EDNS can only raise the limit: 512 is the floor. */
	len = with_opt(buf, 100);
	assert_rc(dns_parse_query(buf, len, &qi), 0);
	assert_int_equal(qi.udp_limit, DNS_UDP_MIN);
}

static void
test_parse_refused(void **state)
{
	struct dns_query_info qi;
	uint8_t buf[512];
	size_t i, len;

	(void)state;
	for (i = 0; i < QEND; i++)	/* every truncation */
		assert_rc(dns_parse_query(query_a, i, &qi), -EBADMSG);

	memcpy(buf, query_a, QEND);
	buf[2] |= 0x80;			/* a response */
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);

	/* Bytes after the last record, with and without an OPT record. */
	memcpy(buf, query_a, QEND);
	memset(buf + QEND, 0, 64);
	assert_rc(dns_parse_query(buf, QEND + 1, &qi), -EBADMSG);
	assert_rc(dns_parse_query(buf, QEND + 64, &qi), -EBADMSG);
	len = with_opt(buf, 4096);
	buf[len] = 0xff;
	assert_rc(dns_parse_query(buf, len + 1, &qi), -EBADMSG);

	memcpy(buf, query_a, QEND);
	buf[5] = 0;			/* no question */
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);
	buf[5] = 2;			/* two */
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);

	memcpy(buf, query_a, QEND);
	buf[12] = 0xc0;			/* a pointer in the question */
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);
	buf[12] = 0x40;			/* a reserved label type */
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);

	/* A name of 260 bytes: 4 labels of 63 plus one of 4. */
	memcpy(buf, query_a, 12);
	len = 12;
	for (i = 0; i < 4; i++) {
		buf[len++] = 63;
		memset(buf + len, 'x', 63);
		len += 63;
	}
	buf[len++] = 4;
	memcpy(buf + len, "abcd", 4);
	len += 4;
	buf[len++] = 0;
	memcpy(buf + len, "\x00\x01\x00\x01", 4);
	len += 4;
	assert_rc(dns_parse_query(buf, len, &qi), -EBADMSG);

	/* An additional record whose data runs past the end. */
	len = with_opt(buf, 4096);
	buf[len - 1] = 20;		/* RDLENGTH 20, no data */
	assert_rc(dns_parse_query(buf, len, &qi), -EBADMSG);
	/* ARCOUNT promising a record that is not there. */
	memcpy(buf, query_a, QEND);
	buf[11] = 1;
	assert_rc(dns_parse_query(buf, QEND, &qi), -EBADMSG);
}

static void
test_error_reply(void **state)
{
	uint8_t out[512], bad[QEND];
	size_t n;

	(void)state;
	n = dns_error_reply(query_a, QEND, DNS_RCODE_SERVFAIL, out, sizeof(out));
	assert_int_equal(n, QEND);
	assert_int_equal(dns_id(out), 0xbeef);
	assert_int_equal(out[2], 0x81);		/* QR, RD kept */
	assert_int_equal(out[3], 0x82);		/* RA, SERVFAIL */
	assert_int_equal(dns_rcode(out), DNS_RCODE_SERVFAIL);
	assert_memory_equal(out + 4, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	assert_memory_equal(out + 12, query_a + 12, QEND - 12);

	/* A question that does not parse is left out: header only. */
	memcpy(bad, query_a, QEND);
	bad[12] = 0xc0;
	n = dns_error_reply(bad, QEND, DNS_RCODE_FORMERR, out, sizeof(out));
	assert_int_equal(n, DNS_HDR_LEN);
	assert_int_equal(dns_rcode(out), DNS_RCODE_FORMERR);
	assert_int_equal(out[5], 0);
	/* Too short to answer at all; or no room. */
	assert_int_equal(dns_error_reply(query_a, 11, 2, out, sizeof(out)), 0);
	assert_int_equal(dns_error_reply(query_a, QEND, 2, out, 11), 0);
}

static void
test_truncated_reply(void **state)
{
	uint8_t answer[256], out[256];
	size_t n;

	(void)state;
	/* An answer: the query with QR, one fake record appended. */
	memcpy(answer, query_a, QEND);
	answer[2] |= 0x80;
	answer[7] = 1;
	memset(answer + QEND, 0xaa, 40);
	n = dns_truncated_reply(answer, QEND + 40, out, sizeof(out));
	assert_int_equal(n, QEND);
	assert_true(out[2] & 0x02);		/* TC */
	assert_true(out[2] & 0x80);		/* still a response */
	assert_memory_equal(out + 4, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	assert_memory_equal(out + 12, query_a + 12, QEND - 12);
	assert_int_equal(dns_truncated_reply(answer, QEND + 40, out, 20), 0);
}

static void
test_fuzz(void **state)
{
	struct dns_query_info qi;
	uint8_t buf[600], out[700];
	unsigned i, ok = 0;

	(void)state;
	srand(7);
	for (i = 0; i < 50000; i++) {
		size_t len, j, n;

		len = with_opt(buf, 1232);
		for (j = 0; j < 1 + (unsigned)rand() % 4; j++)
			buf[(size_t)rand() % len] ^= (uint8_t)(1u << (rand() % 8));
		if (rand() % 3 == 0)
			len = (size_t)rand() % len;
		if (dns_parse_query(buf, len, &qi) == 0) {
			ok++;
			assert_true(qi.question_end <= len);
			assert_true(qi.udp_limit >= DNS_UDP_MIN);
		}
		n = dns_error_reply(buf, len, DNS_RCODE_FORMERR, out,
		    sizeof(out));
		assert_true(n <= len);
		n = dns_truncated_reply(buf, len, out, sizeof(out));
		assert_true(n <= len);
	}
	assert_true(ok > 0);	/* the mutations did not refuse everything */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_truncated_reply),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
