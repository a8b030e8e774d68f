/*
 * resolver.h - host-netd: the DNS tunnel's far end
 */
#ifndef VMN_RESOLVER_H
#define VMN_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dnstun_client;

/* Largest DNS message a tunnel frame carries (id and payload attributes). */
#define DNSTUN_MAX_MSG		65520
#define DNSTUN_TIMEOUT_MS	800	/* per try; c-ares doubles per round */
#define DNSTUN_TRIES		2
#define DNSTUN_MAX_UPSTREAM	128	/* queries at the host's resolvers */
#define DNSTUN_MAX_QUEUED_MS	3000	/* older than this: not worth sending */

struct dnstun_stats {
	uint64_t	queries;	/* received from guests */
	uint64_t	answers;	/* upstream answers passed through */
	uint64_t	servfail;	/* SERVFAIL made here: timeout, no server */
	uint64_t	formerr;	/* malformed queries */
	uint64_t	limited;	/* refused: the VM's queries in flight */
	uint64_t	queued;		/* waited for room at the resolvers */
	uint64_t	generations;	/* resolver restarts (resolv.conf) */
};

/* Delivers the answer to tunnel query `id`; len 0: no answer possible. */
typedef void	(*dnstun_answer_fn)(void *arg, uint32_t id, const uint8_t *msg,
		    size_t len);

int		 dnstun_init(struct event_base *base, const char *resolv_conf);
void		 dnstun_reload(void);
void		 dnstun_shutdown(void);
const struct dnstun_stats *dnstun_stats(void);

struct dnstun_client *dnstun_client_new(unsigned *inflight, unsigned limit,
		    dnstun_answer_fn answer, void *arg);
void		 dnstun_client_free(struct dnstun_client *c);
void		 dnstun_query(struct dnstun_client *c, uint32_t id,
		    const uint8_t *q, size_t len);

#endif
