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
/*
 * A query larger than this is refused unsent: a stub resolver's query is
 * a header, a question and an OPT record, well under 512 bytes.
 */
#define DNSTUN_MAX_QUERY	4096
/* What one VM's queries may hold, from arrival until c-ares lets go. */
#define DNSTUN_VM_MAX_QUERIES	2048
#define DNSTUN_VM_MAX_BYTES	(512 * 1024)

struct dnstun_stats {
	uint64_t	queries;	/* received from guests */
	uint64_t	answers;	/* upstream answers passed through */
	uint64_t	servfail;	/* SERVFAIL made here: timeout, no server */
	uint64_t	formerr;	/* malformed queries */
	uint64_t	limited;	/* refused: the VM's queries or bytes held */
	uint64_t	refused;	/* REFUSED: larger than DNSTUN_MAX_QUERY */
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

/*
 * A VM's share: its queries count against it (DNSTUN_VM_MAX_*) until
 * c-ares has finished with them, even after the channel that sent them is
 * gone, so reconnecting frees nothing early. Freed with the VM.
 */
struct dnstun_budget;
struct dnstun_budget *dnstun_budget_new(void);
void		 dnstun_budget_free(struct dnstun_budget *b);
unsigned	 dnstun_budget_queries(const struct dnstun_budget *b);
size_t		 dnstun_budget_bytes(const struct dnstun_budget *b);
/* Its queries so far, and those the tunnel failed (SERVFAIL, FORMERR or
 * REFUSED of its own, as dnstun_stats counts them). */
void		 dnstun_budget_counts(const struct dnstun_budget *b,
		    uint64_t *queries, uint64_t *failures);

struct dnstun_client *dnstun_client_new(struct dnstun_budget *budget,
		    dnstun_answer_fn answer, void *arg);
void		 dnstun_client_free(struct dnstun_client *c);
void		 dnstun_query(struct dnstun_client *c, uint32_t id,
		    const uint8_t *q, size_t len);

#endif
