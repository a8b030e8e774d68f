/*
 * fuzz_dns.c - DNS queries from a guest (dns-tunnel/dnsmsg.c, resolver.c)
 *
 * Reaches: dns_parse_query() (header, the question's name, the records
 * after it, EDNS's OPT), dns_question_end(), the replies the tunnel makes
 * itself (dns_error_reply() for FORMERR, REFUSED and SERVFAIL,
 * dns_truncated_reply() for an answer too big for the client), and
 * host-netd's dnstun_query(), the entry point of every query a guest
 * sends on its dns channel, with no resolver running: each query is
 * parsed and answered here (FORMERR, REFUSED past DNSTUN_MAX_QUERY,
 * SERVFAIL for lack of a resolver), the per-VM budget charged.
 *
 * The input is one DNS message, as the payload of a tunnel frame.
 *
 * Checks: an accepted query's question lies inside it and its records end
 * exactly at its end; every reply is a header and at most the question
 * (never longer than the message it answers), with QR set (errors) or TC
 * set (truncation), the id and question kept, no records; dnstun_query()
 * answers every query at once, exactly once, and leaves nothing charged.
 */
#include "config.h"

#include "dnsmsg.h"
#include "fuzz.h"
#include "resolver.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz_dns: check failed: %s (line %d)\n",	\
		    #cond, __LINE__);					\
		abort();						\
	}								\
} while (0)

static struct dnstun_budget *budget;

struct answer {
	unsigned	n;
	uint32_t	id;
	size_t		len;
	uint8_t		msg[DNS_MAX_MSG];
};

static void
on_answer(void *arg, uint32_t id, const uint8_t *msg, size_t len)
{
	struct answer *a = arg;

	a->n++;
	a->id = id;
	a->len = len;
	CHECK(len <= sizeof(a->msg));
	memcpy(a->msg, msg, len);
}

/* A reply made here: header, maybe the question, nothing else. */
static void
check_reply(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen)
{
	size_t end;

	if (rlen == 0)
		return;
	CHECK(rlen >= DNS_HDR_LEN && rlen <= qlen);
	CHECK(dns_id(r) == dns_id(q));
	CHECK(r[6] == 0 && r[7] == 0 && r[8] == 0 && r[9] == 0 &&
	    r[10] == 0 && r[11] == 0);
	CHECK(r[4] == 0 && r[5] == (rlen > DNS_HDR_LEN));
	if (rlen > DNS_HDR_LEN) {
		CHECK(dns_question_end(r, rlen, &end) == 0 && end == rlen);
		CHECK(memcmp(r + DNS_HDR_LEN, q + DNS_HDR_LEN,
		    rlen - DNS_HDR_LEN) == 0);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	if (!(budget = dnstun_budget_new()))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *q, size_t len)
{
	static uint8_t out[DNS_MAX_MSG];
	static struct answer a;
	struct dns_query_info qi;
	struct dnstun_client *c;
	size_t end, n, cut;
	int rc;

	if (len > DNSTUN_MAX_MSG)
		return 0;	/* a tunnel frame carries no more */

	rc = dns_parse_query(q, len, &qi);
	if (rc == 0) {
		CHECK(len >= DNS_HDR_LEN && !(q[2] & 0x80));
		CHECK(qi.question_end > DNS_HDR_LEN && qi.question_end <= len);
		CHECK(dns_question_end(q, len, &end) == 0 &&
		    end == qi.question_end);
		CHECK(qi.udp_limit >= DNS_UDP_MIN);
	}
	if (dns_question_end(q, len, &end) == 0)
		CHECK(end > DNS_HDR_LEN && end <= len);

	n = dns_error_reply(q, len, DNS_RCODE_FORMERR, out, sizeof(out));
	CHECK(len < DNS_HDR_LEN ? n == 0 : n >= DNS_HDR_LEN);
	if (n) {
		CHECK(out[2] & 0x80);
		CHECK((out[3] & 0x0f) == DNS_RCODE_FORMERR);
	}
	check_reply(q, len, out, n);
	/* Too small an output: nothing, never a partial reply. */
	cut = len > DNS_HDR_LEN ? len - 1 : 0;
	n = dns_error_reply(q, len, DNS_RCODE_SERVFAIL, out, cut);
	check_reply(q, len, out, n);

	/* The same bytes as an upstream answer too big for the client. */
	n = dns_truncated_reply(q, len, out, sizeof(out));
	if (n) {
		CHECK(out[2] & 0x02);
		check_reply(q, len, out, n);
	}

	/* host-netd's entry point, with no resolvers: answered at once. */
	memset(&a, 0, sizeof(a));
	if (!(c = dnstun_client_new(budget, on_answer, &a)))
		abort();
	dnstun_query(c, 0x1234567u, q, len);
	CHECK(a.n == 1 && a.id == 0x1234567u);
	if (len >= DNS_HDR_LEN) {
		CHECK(a.len >= DNS_HDR_LEN);
		CHECK(a.msg[2] & 0x80);
		CHECK((a.msg[3] & 0x0f) == (rc < 0 ? DNS_RCODE_FORMERR :
		    len > DNSTUN_MAX_QUERY ? DNS_RCODE_REFUSED :
		    DNS_RCODE_SERVFAIL));
	}
	check_reply(q, len, a.msg, a.len);
	dnstun_client_free(c);
	CHECK(dnstun_budget_queries(budget) == 0 &&
	    dnstun_budget_bytes(budget) == 0);
	return 0;
}
