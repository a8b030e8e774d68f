/*
 * dnsproxy.h - guest-netd: the DNS tunnel's near end
 */
#ifndef VMN_DNSPROXY_H
#define VMN_DNSPROXY_H

#include <stdint.h>

struct event_base;
struct vmn_endpoint;
struct vmn_nc_dns;
struct dnsproxy;

#define DNSPROXY_MAX_INFLIGHT	2048	/* queries waiting for the host */
#define DNSPROXY_TIMEOUT_MS	4000	/* then SERVFAIL */
#define DNSPROXY_MAX_TCP	128	/* TCP clients at once */
#define DNSPROXY_TCP_IDLE_MS	10000

struct dnsproxy_stats {
	uint64_t	queries;	/* from the guest's programs */
	uint64_t	answers;	/* delivered back */
	uint64_t	servfail;	/* made here: timeout, channel lost, full */
	uint64_t	formerr;	/* malformed queries */
	uint64_t	truncated;	/* too big for the client's UDP buffer */
	uint64_t	dropped;	/* garbage, not answerable */
};

struct dnsproxy	*dnsproxy_new(struct event_base *base,
		    const struct vmn_endpoint *host, uint32_t host_port,
		    const char *vm_id);
int		 dnsproxy_configure(struct dnsproxy *px,
		    const struct vmn_nc_dns *dns, char *err, size_t errlen);
void		 dnsproxy_free(struct dnsproxy *px);
const struct dnsproxy_stats *dnsproxy_stats(const struct dnsproxy *px);

#endif
