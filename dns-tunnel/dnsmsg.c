/*
 * dnsmsg.c - DNS header, question and EDNS parsing; replies the tunnel makes
 *
 * Everything here reads bytes from an untrusted sender (a guest's program,
 * or a guest itself); every offset is checked against the length before it
 * is used, and names are walked with a bound on labels and no compression
 * pointers (queries have no reason to use them).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "dnsmsg.h"

#define DNS_MAX_NAME	255
#define DNS_TYPE_OPT	41

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Walks an uncompressed name from off; *next gets the offset after it. */
static int
skip_name(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
	size_t total = 0;

	for (;;) {
		uint8_t l;

		if (off >= len)
			return -EBADMSG;
		l = msg[off];
		if (l == 0) {
			*next = off + 1;
			return 0;
		}
		if (l & 0xc0)
			return -EBADMSG;	/* pointer or reserved label */
		total += (size_t)l + 1;
		if (total > DNS_MAX_NAME)
			return -EBADMSG;
		off += (size_t)l + 1;
	}
}

/* Offset just past the (single) question of a message. */
int
dns_question_end(const uint8_t *msg, size_t len, size_t *end)
{
	size_t off;
	int rc;

	if (len < DNS_HDR_LEN || get16(msg + 4) != 1)
		return -EBADMSG;
	if ((rc = skip_name(msg, len, DNS_HDR_LEN, &off)) < 0)
		return rc;
	if (len - off < 4)
		return -EBADMSG;
	*end = off + 4;
	return 0;
}

/*
 * A query the tunnel will forward: a header that says query, one
 * question that parses, and, if present, an OPT record that gives the
 * client's UDP buffer. Anything else is -EBADMSG (answered FORMERR).
 */
int
dns_parse_query(const uint8_t *q, size_t len, struct dns_query_info *qi)
{
	size_t off, rdlen;
	unsigned i, nrr;
	int rc;

	memset(qi, 0, sizeof(*qi));
	qi->udp_limit = DNS_UDP_MIN;
	if (len < DNS_HDR_LEN || (q[2] & 0x80))	/* QR set: not a query */
		return -EBADMSG;
	if ((rc = dns_question_end(q, len, &off)) < 0)
		return rc;
	qi->qtype = get16(q + off - 4);
	qi->qclass = get16(q + off - 2);
	qi->question_end = off;

	/* Answer and authority records in a query are odd but legal (e.g.
	 * NOTIFY, UPDATE); skip them and look for OPT among the additional. */
	nrr = (unsigned)get16(q + 6) + get16(q + 8) + get16(q + 10);
	for (i = 0; i < nrr; i++) {
		uint16_t type, klass;
		size_t name_end;

		if (off < len && q[off] == 0) {
			name_end = off + 1;	/* root: OPT's owner */
		} else if ((rc = skip_name(q, len, off, &name_end)) < 0) {
			/* A compressed owner name: legal in records; find its end. */
			if (off + 2 <= len && (q[off] & 0xc0) == 0xc0)
				name_end = off + 2;
			else
				return rc;
		}
		if (len - name_end < 10)
			return -EBADMSG;
		type = get16(q + name_end);
		klass = get16(q + name_end + 2);
		rdlen = get16(q + name_end + 8);
		if (len - name_end - 10 < rdlen)
			return -EBADMSG;
		if (type == DNS_TYPE_OPT)
			qi->udp_limit = klass < DNS_UDP_MIN ? DNS_UDP_MIN : klass;
		off = name_end + 10 + rdlen;
	}
	/* Bytes past the last record: not a message anyone should relay. */
	if (off != len)
		return -EBADMSG;
	return 0;
}

/*
 * A reply to query q with the given rcode: its header (QR and RA set, the
 * rest of the flags kept), its question if it has one that parses, and no
 * records. Returns the length, or 0 if q is too short to answer at all.
 */
size_t
dns_error_reply(const uint8_t *q, size_t qlen, int rcode, uint8_t *out,
    size_t outlen)
{
	size_t end = DNS_HDR_LEN;
	int has_question;

	if (qlen < DNS_HDR_LEN || outlen < DNS_HDR_LEN)
		return 0;
	has_question = dns_question_end(q, qlen, &end) == 0;
	if (!has_question)
		end = DNS_HDR_LEN;
	if (end > outlen)
		return 0;
	memcpy(out, q, end);
	out[2] = (uint8_t)((q[2] & 0x79) | 0x80);	/* QR; opcode, RD kept */
	out[3] = (uint8_t)(0x80 | (rcode & 0x0f));	/* RA, rcode */
	out[4] = 0;
	out[5] = has_question ? 1 : 0;
	memset(out + 6, 0, 6);
	return end;
}

/*
 * The answer cut to its header and question, with TC set: the client asks
 * again over TCP and gets the whole answer.
 */
size_t
dns_truncated_reply(const uint8_t *answer, size_t alen, uint8_t *out,
    size_t outlen)
{
	size_t end;

	if (dns_question_end(answer, alen, &end) < 0)
		end = DNS_HDR_LEN;
	if (alen < DNS_HDR_LEN || end > outlen)
		return 0;
	memcpy(out, answer, end);
	out[2] |= 0x02;					/* TC */
	out[5] = end > DNS_HDR_LEN ? 1 : 0;
	out[4] = 0;
	memset(out + 6, 0, 6);
	return end;
}
