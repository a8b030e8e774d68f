/*
 * dnsmsg.h - the little of DNS the tunnel needs to understand
 *
 * The tunnel passes messages through byte for byte; it only ever looks at
 * the header, the question and the EDNS OPT record, and builds three kinds
 * of reply itself: SERVFAIL (no answer in time), FORMERR (a query it cannot
 * parse) and an empty truncated reply (an answer too big for the client's
 * UDP buffer, so that it asks again over TCP).
 */
#ifndef VMN_DNSMSG_H
#define VMN_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN		12
#define DNS_MAX_MSG		65535
#define DNS_UDP_MIN		512	/* what a client without EDNS accepts */
#define DNS_PORT		53

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_REFUSED	5

struct dns_query_info {
	size_t		question_end;	/* offset just past the question */
	uint16_t	qtype;
	uint16_t	qclass;
	uint16_t	udp_limit;	/* the client's UDP buffer (EDNS or 512) */
};

static inline uint16_t
dns_id(const uint8_t *msg)
{
	return (uint16_t)(msg[0] << 8 | msg[1]);
}

static inline void
dns_set_id(uint8_t *msg, uint16_t id)
{
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
}

static inline int
dns_rcode(const uint8_t *msg)
{
	return msg[3] & 0x0f;
}

int	dns_parse_query(const uint8_t *q, size_t len, struct dns_query_info *qi);
size_t	dns_error_reply(const uint8_t *q, size_t qlen, int rcode, uint8_t *out,
	    size_t outlen);
size_t	dns_truncated_reply(const uint8_t *answer, size_t alen, uint8_t *out,
	    size_t outlen);
int	dns_question_end(const uint8_t *msg, size_t len, size_t *end);

#endif
