/*
 * resolver.c - host-netd: the DNS tunnel's far end, resolving with c-ares
 *
 * Theory of operation
 *
 * Each guest query arrives as raw bytes on the guest's dns channel. It is
 * checked (dns_parse_query: a malformed one is answered FORMERR here),
 * given a fresh random id, so a guest's predictable or colliding ids never
 * reach the network, and handed to c-ares with ares_send(), which sends it
 * as is to the host's resolvers, retries over TCP when the UDP answer is
 * truncated, and returns the answer untouched. The answer goes back to the
 * guest byte for byte with the guest's id restored: AAAA, TXT, EDNS,
 * DNSSEC bits, NXDOMAIN and NODATA all preserved. When c-ares gives up
 * (timeout, every server refusing the connection) the guest gets SERVFAIL.
 *
 * c-ares runs on host-netd's event loop: its socket-state callback adds and
 * removes libevent events for its sockets, and one timer tracks the next
 * c-ares timeout.
 *
 * The resolvers are read from the host's resolv.conf by c-ares. When it
 * changes (a VPN, another network) a new c-ares channel takes the new
 * queries; the old one finishes what it has in flight and is destroyed
 * then (c-ares cannot change servers with queries pending).
 *
 * Each VM has a budget of queries and bytes (beyond it: SERVFAIL at once),
 * charged from a query's arrival until c-ares has finished with it, also
 * when the channel that sent it is gone, so a flood from one guest costs
 * that guest, not the host's memory; queries past DNSTUN_MAX_QUERY bytes
 * are refused unsent. The
 * host's resolvers see at most DNSTUN_MAX_UPSTREAM queries at a time: the
 * rest wait in per-guest queues served round-robin, so a burst neither
 * overruns a resolver (which would drop it and make c-ares time out) nor
 * lets one guest's flood delay another's lookups by more than its turn.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>

#include <ares.h>
#include <event2/event.h>

#include "addr.h"
#include "dnsmsg.h"
#include "resolver.h"
#include "log.h"

struct resolver;

struct fdwatch {
	LIST_ENTRY(fdwatch)	 entry;
	struct resolver		*res;
	int			 fd;
	struct event		*ev;
};

/* One c-ares channel: a generation of the host's resolver list. */
struct resolver {
	TAILQ_ENTRY(resolver)	 entry;
	ares_channel		 channel;
	struct event		*timer;
	struct event		*arm_ev;	/* re-arm timer once per loop pass */
	LIST_HEAD(, fdwatch)	 watches;
	unsigned		 pending;
	bool			 retired;	/* a newer one takes new queries */
};

struct dnstun_query {
	LIST_ENTRY(dnstun_query) entry;		/* client's: sent upstream */
	TAILQ_ENTRY(dnstun_query) qentry;	/* client's: waiting its turn */
	LIST_ENTRY(dnstun_query) bentry;	/* budget's: charged to it */
	struct dnstun_client	*client;	/* NULL once the guest left */
	struct dnstun_budget	*budget;	/* NULL once the VM is gone */
	struct resolver		*res;
	uint64_t		 queued_ms;
	uint32_t		 id;		/* the tunnel's id */
	uint16_t		 guest_id;	/* the DNS id the guest used */
	size_t			 qlen;
	uint8_t			 q[];		/* for SERVFAIL: header, question */
};

struct dnstun_budget {
	LIST_HEAD(, dnstun_query) charged;
	unsigned		 queries;
	size_t			 bytes;
	uint64_t		 total;		/* queries ever, for netctl */
	uint64_t		 failed;
};

struct dnstun_client {
	LIST_HEAD(, dnstun_query) pending;	/* at the resolvers */
	TAILQ_HEAD(, dnstun_query) queue;	/* waiting for room there */
	TAILQ_ENTRY(dnstun_client) turn;	/* in T.turns while queue is not empty */
	struct dnstun_budget	*budget;	/* the VM's */
	dnstun_answer_fn	 answer;
	void			*arg;
};

static struct {
	struct event_base	*base;
	char			 resolv_conf[256];
	TAILQ_HEAD(, resolver)	 resolvers;	/* newest first */
	TAILQ_HEAD(, dnstun_client) turns;	/* clients with queued queries */
	unsigned		 upstream;	/* queries at the resolvers */
	struct event		*reap_ev;
	struct dnstun_stats	 stats;
	uint8_t			 rnd[256];
	size_t			 rnd_left;
	uint8_t			 buf[DNS_MAX_MSG + 1];
} T;

static void resolver_arm(struct resolver *res);
static void pump(void);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- random ids ----------------------------------------------------- */

static uint16_t
random_id(void)
{
	uint16_t id;

	if (T.rnd_left < 2) {
		if (getrandom(T.rnd, sizeof(T.rnd), 0) != (ssize_t)sizeof(T.rnd))
			fatal("getrandom");
		T.rnd_left = sizeof(T.rnd);
	}
	T.rnd_left -= 2;
	memcpy(&id, T.rnd + T.rnd_left, 2);
	return id;
}

/* ---- c-ares on libevent --------------------------------------------- */

static void
fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fdwatch *w = arg;
	struct resolver *res = w->res;

	ares_process_fd(res->channel,
	    (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	resolver_arm(res);	/* w may be gone now; res is not */
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *res = data;
	struct fdwatch *w;

	LIST_FOREACH(w, &res->watches, entry)
		if (w->fd == fd)
			break;
	if (w) {
		event_free(w->ev);
		if (!readable && !writable) {
			LIST_REMOVE(w, entry);
			free(w);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		if (!(w = calloc(1, sizeof(*w)))) {
			log_warnx("dns: out of memory for a resolver socket");
			return;
		}
		w->res = res;
		w->fd = fd;
		LIST_INSERT_HEAD(&res->watches, w, entry);
	}
	w->ev = event_new(T.base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0), fd_cb, w);
	event_add(w->ev, NULL);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *res = arg;

	ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_arm(res);
}

/*
 * Asks for the timeout timer to be re-armed. ares_timeout() walks every
 * pending query, so it runs once per loop pass, not once per query.
 */
static void
resolver_arm(struct resolver *res)
{
	if (!event_pending(res->arm_ev, EV_TIMEOUT, NULL))
		event_active(res->arm_ev, EV_TIMEOUT, 0);
}

/* A retired, idle resolver is reaped soon after. */
static void
arm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *res = arg;
	struct timeval tv, *t;

	t = ares_timeout(res->channel, NULL, &tv);
	if (t)
		evtimer_add(res->timer, t);
	else
		evtimer_del(res->timer);
	if (res->retired && res->pending == 0)
		event_active(T.reap_ev, EV_TIMEOUT, 0);
}

static struct resolver *
resolver_new(void)
{
	static char lookups[] = "b";	/* DNS only, never /etc/hosts */
	struct ares_options opts;
	struct resolver *res = calloc(1, sizeof(*res));
	int rc;

	if (!res)
		return NULL;
	LIST_INIT(&res->watches);
	memset(&opts, 0, sizeof(opts));
	/* Pass every answer through, SERVFAIL and REFUSED included. */
	opts.flags = ARES_FLAG_NOCHECKRESP;
	opts.timeout = DNSTUN_TIMEOUT_MS;
	opts.tries = DNSTUN_TRIES;
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = res;
	opts.lookups = lookups;
	/* Answers to a guest's burst arrive as a burst too. */
	opts.socket_receive_buffer_size = 1 << 20;
	opts.resolvconf_path = T.resolv_conf;
	rc = ares_init_options(&res->channel, &opts, ARES_OPT_FLAGS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_LOOKUPS | ARES_OPT_SOCK_RCVBUF | ARES_OPT_RESOLVCONF);
	if (rc != ARES_SUCCESS) {
		log_warnx("dns: c-ares: %s", ares_strerror(rc));
		free(res);
		return NULL;
	}
	res->timer = evtimer_new(T.base, timer_cb, res);
	res->arm_ev = event_new(T.base, -1, 0, arm_cb, res);
	if (!res->timer || !res->arm_ev) {
		log_warnx("dns: out of memory for a resolver");
		ares_destroy(res->channel);
		if (res->timer)
			event_free(res->timer);
		if (res->arm_ev)
			event_free(res->arm_ev);
		free(res);
		return NULL;
	}
	return res;
}

static void
resolver_free(struct resolver *res)
{
	struct fdwatch *w;

	/* Callbacks run with ARES_EDESTRUCTION; they only count down. */
	ares_destroy(res->channel);
	while ((w = LIST_FIRST(&res->watches))) {
		LIST_REMOVE(w, entry);
		event_free(w->ev);
		free(w);
	}
	event_free(res->timer);
	event_free(res->arm_ev);
	free(res);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *res, *next;

	for (res = TAILQ_FIRST(&T.resolvers); res; res = next) {
		next = TAILQ_NEXT(res, entry);
		if (res->retired && res->pending == 0) {
			TAILQ_REMOVE(&T.resolvers, res, entry);
			resolver_free(res);
		}
	}
}

static void
log_servers(struct resolver *res)
{
	struct ares_addr_port_node *servers = NULL, *s;
	char list[256] = "", ip[64];
	size_t off = 0;

	if (ares_get_servers_ports(res->channel, &servers) != ARES_SUCCESS)
		return;
	for (s = servers; s && off < sizeof(list) - 1; s = s->next) {
		struct vmn_ip a = { .family = (uint8_t)s->family };

		memcpy(&a.u, &s->addr, s->family == AF_INET ? 4 : 16);
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    off ? " " : "", vmn_ip_ntop(&a, ip, sizeof(ip)));
	}
	ares_free_data(servers);
	log_info("dns tunnel: resolving with %s", list[0] ? list : "no servers");
}

/* ---- budgets --------------------------------------------------------- */

struct dnstun_budget *
dnstun_budget_new(void)
{
	struct dnstun_budget *b = calloc(1, sizeof(*b));

	if (b)
		LIST_INIT(&b->charged);
	return b;
}

/* The VM is gone: what it still has at the resolvers is nobody's now. */
void
dnstun_budget_free(struct dnstun_budget *b)
{
	struct dnstun_query *dq;

	if (!b)
		return;
	while ((dq = LIST_FIRST(&b->charged))) {
		LIST_REMOVE(dq, bentry);
		dq->budget = NULL;
	}
	free(b);
}

unsigned
dnstun_budget_queries(const struct dnstun_budget *b)
{
	return b->queries;
}

size_t
dnstun_budget_bytes(const struct dnstun_budget *b)
{
	return b->bytes;
}

void
dnstun_budget_counts(const struct dnstun_budget *b, uint64_t *queries,
    uint64_t *failures)
{
	*queries = b->total;
	*failures = b->failed;
}

static bool
budget_allows(const struct dnstun_budget *b, size_t len)
{
	return b->queries < DNSTUN_VM_MAX_QUERIES &&
	    b->bytes + len <= DNSTUN_VM_MAX_BYTES;
}

static void
query_free(struct dnstun_query *dq)
{
	if (dq->budget) {
		LIST_REMOVE(dq, bentry);
		dq->budget->queries--;
		dq->budget->bytes -= dq->qlen;
	}
	free(dq);
}

/* ---- queries -------------------------------------------------------- */

static void
deliver(struct dnstun_query *dq, const uint8_t *msg, size_t len)
{
	struct dnstun_client *c = dq->client;

	if (!c)
		return;		/* the guest's channel is gone */
	LIST_REMOVE(dq, entry);
	dq->client = NULL;
	c->answer(c->arg, dq->id, msg, len);
}

static void
servfail(struct dnstun_query *dq)
{
	size_t n;

	/* The query carries the guest's id again by now. */
	dns_set_id(dq->q, dq->guest_id);
	n = dns_error_reply(dq->q, dq->qlen, DNS_RCODE_SERVFAIL, T.buf,
	    sizeof(T.buf));
	T.stats.servfail++;
	if (dq->budget)
		dq->budget->failed++;
	deliver(dq, T.buf, n);
}

static void
answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dnstun_query *dq = arg;

	dq->res->pending--;
	T.upstream--;
	if (status == ARES_SUCCESS && abuf && alen >= DNS_HDR_LEN &&
	    alen <= DNSTUN_MAX_MSG) {
		memcpy(T.buf, abuf, (size_t)alen);
		dns_set_id(T.buf, dq->guest_id);
		T.stats.answers++;
		deliver(dq, T.buf, (size_t)alen);
	} else if (status != ARES_EDESTRUCTION || dq->client) {
		if (status != ARES_SUCCESS)
			log_debug("dns: query %u: %s", dq->id,
			    ares_strerror(status));
		servfail(dq);
	}
	if (dq->res->retired && dq->res->pending == 0)
		event_active(T.reap_ev, EV_TIMEOUT, 0);
	query_free(dq);
	if (status != ARES_EDESTRUCTION)
		pump();
}

/* Hands a query to the newest resolver. */
static void
send_upstream(struct dnstun_query *dq)
{
	struct resolver *res = TAILQ_FIRST(&T.resolvers);

	dq->res = res;
	LIST_INSERT_HEAD(&dq->client->pending, dq, entry);
	res->pending++;
	T.upstream++;
	/* May call answer_cb before it returns (no servers, no memory). */
	ares_send(res->channel, dq->q, (int)dq->qlen, answer_cb, dq);
	resolver_arm(res);
}

/* Sends queued queries while the resolvers have room, one client a turn. */
static void
pump(void)
{
	struct dnstun_client *c;
	struct dnstun_query *dq;
	uint64_t now = now_ms();

	while (T.upstream < DNSTUN_MAX_UPSTREAM &&
	    (c = TAILQ_FIRST(&T.turns))) {
		dq = TAILQ_FIRST(&c->queue);
		TAILQ_REMOVE(&c->queue, dq, qentry);
		TAILQ_REMOVE(&T.turns, c, turn);
		if (!TAILQ_EMPTY(&c->queue))
			TAILQ_INSERT_TAIL(&T.turns, c, turn);
		if (now - dq->queued_ms > DNSTUN_MAX_QUEUED_MS) {
			/* The guest has given up on it already. */
			LIST_INSERT_HEAD(&c->pending, dq, entry);
			servfail(dq);
			query_free(dq);
			continue;
		}
		send_upstream(dq);
	}
}

void
dnstun_query(struct dnstun_client *c, uint32_t id, const uint8_t *q,
    size_t len)
{
	struct dns_query_info qi;
	struct dnstun_query *dq;
	size_t n;

	T.stats.queries++;
	c->budget->total++;
	if (dns_parse_query(q, len, &qi) < 0) {
		T.stats.formerr++;
		c->budget->failed++;
		n = dns_error_reply(q, len, DNS_RCODE_FORMERR, T.buf,
		    sizeof(T.buf));
		c->answer(c->arg, id, T.buf, n);
		return;
	}
	if (len > DNSTUN_MAX_QUERY) {
		T.stats.refused++;
		c->budget->failed++;
		n = dns_error_reply(q, len, DNS_RCODE_REFUSED, T.buf,
		    sizeof(T.buf));
		c->answer(c->arg, id, T.buf, n);
		return;
	}
	if (!budget_allows(c->budget, len) || TAILQ_EMPTY(&T.resolvers) ||
	    !(dq = calloc(1, sizeof(*dq) + len))) {
		T.stats.limited += !budget_allows(c->budget, len);
		T.stats.servfail++;
		c->budget->failed++;
		n = dns_error_reply(q, len, DNS_RCODE_SERVFAIL, T.buf,
		    sizeof(T.buf));
		c->answer(c->arg, id, T.buf, n);
		return;
	}
	dq->client = c;
	dq->id = id;
	dq->guest_id = dns_id(q);
	dq->qlen = len;
	memcpy(dq->q, q, len);
	dns_set_id(dq->q, random_id());
	dq->budget = c->budget;
	LIST_INSERT_HEAD(&c->budget->charged, dq, bentry);
	c->budget->queries++;
	c->budget->bytes += len;
	if (T.upstream < DNSTUN_MAX_UPSTREAM && TAILQ_EMPTY(&T.turns)) {
		send_upstream(dq);
		return;
	}
	T.stats.queued++;
	dq->queued_ms = now_ms();
	if (TAILQ_EMPTY(&c->queue))
		TAILQ_INSERT_TAIL(&T.turns, c, turn);
	TAILQ_INSERT_TAIL(&c->queue, dq, qentry);
}

struct dnstun_client *
dnstun_client_new(struct dnstun_budget *budget, dnstun_answer_fn answer,
    void *arg)
{
	struct dnstun_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	LIST_INIT(&c->pending);
	TAILQ_INIT(&c->queue);
	c->budget = budget;
	c->answer = answer;
	c->arg = arg;
	return c;
}

/* The guest's channel closed: its queries finish unanswered. */
void
dnstun_client_free(struct dnstun_client *c)
{
	struct dnstun_query *dq;

	if (!c)
		return;
	/* At the resolvers: still charged to the VM until c-ares is done. */
	while ((dq = LIST_FIRST(&c->pending))) {
		LIST_REMOVE(dq, entry);
		dq->client = NULL;
	}
	if (!TAILQ_EMPTY(&c->queue))
		TAILQ_REMOVE(&T.turns, c, turn);
	while ((dq = TAILQ_FIRST(&c->queue))) {
		TAILQ_REMOVE(&c->queue, dq, qentry);
		query_free(dq);
	}
	free(c);
}

/* ---- lifecycle ------------------------------------------------------ */

int
dnstun_init(struct event_base *base, const char *resolv_conf)
{
	struct resolver *res;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("dns: c-ares: %s", ares_strerror(rc));
		return -EIO;
	}
	T.base = base;
	snprintf(T.resolv_conf, sizeof(T.resolv_conf), "%s", resolv_conf);
	TAILQ_INIT(&T.resolvers);
	TAILQ_INIT(&T.turns);
	if (!(T.reap_ev = event_new(base, -1, 0, reap_cb, NULL)) ||
	    !(res = resolver_new())) {
		if (T.reap_ev)
			event_free(T.reap_ev);
		T.reap_ev = NULL;
		T.base = NULL;
		ares_library_cleanup();
		return -EIO;
	}
	TAILQ_INSERT_HEAD(&T.resolvers, res, entry);
	log_servers(res);
	return 0;
}

/* The host's resolvers changed: new queries go to a new channel. */
void
dnstun_reload(void)
{
	struct resolver *res, *old;

	if (!T.base)
		return;
	if (!(res = resolver_new())) {
		log_warnx("dns: keeping the previous resolvers");
		return;
	}
	TAILQ_FOREACH(old, &T.resolvers, entry)
		old->retired = true;
	TAILQ_INSERT_HEAD(&T.resolvers, res, entry);
	T.stats.generations++;
	log_servers(res);
	event_active(T.reap_ev, EV_TIMEOUT, 0);
}

void
dnstun_shutdown(void)
{
	struct resolver *res;

	if (!T.base)
		return;
	while ((res = TAILQ_FIRST(&T.resolvers))) {
		TAILQ_REMOVE(&T.resolvers, res, entry);
		resolver_free(res);
	}
	event_free(T.reap_ev);
	ares_library_cleanup();
	T.base = NULL;
}

const struct dnstun_stats *
dnstun_stats(void)
{
	return &T.stats;
}
