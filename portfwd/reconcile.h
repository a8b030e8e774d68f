/*
 * reconcile.h - host-netd: which ports to forward, decided without sockets
 */
#ifndef VMN_RECONCILE_H
#define VMN_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "hostfwd.h"

/* Loopback families, as bits: which ones a port is listened on or held. */
#define FAM_V4		1u
#define FAM_V6		2u
#define FAM_BOTH	(FAM_V4 | FAM_V6)

/* A listening socket the guest reported. */
struct glistener {
	uint8_t		proto;
	uint8_t		families;	/* FAM_V4, FAM_V6 */
	uint8_t		wild;		/* of those, on a wildcard address */
	uint16_t	port;
	bool		stale;		/* not listed since the HELLO */
};

/*
 * The guest's listeners, as reported, in a table of at most max entries,
 * grown as they come (most guests have a few; a VM's table is per VM).
 */
struct glisteners {
	struct glistener	*l;
	unsigned		 n, size, max;
};

int	glisteners_init(struct glisteners *gl, unsigned max);
void	glisteners_free(struct glisteners *gl);
struct glistener *glisteners_find(const struct glisteners *gl, uint8_t proto,
	    uint16_t port);
int	glisteners_add(struct glisteners *gl, uint8_t proto, uint8_t family,
	    uint16_t port);
void	glisteners_del(struct glisteners *gl, uint8_t proto, uint8_t family,
	    uint16_t port);
void	glisteners_set_wild(struct glisteners *gl, uint8_t proto,
	    uint8_t family, uint16_t port, bool wild);
void	glisteners_mark_stale(struct glisteners *gl);
void	glisteners_sweep(struct glisteners *gl);

/* What decides automatic forwards, besides the guest's listeners. */
struct auto_rules {
	bool				 enabled;	/* auto-forward */
	bool				 privileged;	/* below unpriv_start too */
	uint16_t			 unpriv_start;	/* the host's sysctl */
	const struct hostfwd_static	*st;		/* static forwards */
	unsigned			 nst;
	const struct hostfwd_rule	*rules;		/* policy(5)'s, in order */
	unsigned			 nrules;
};

/* Why an automatic forward is there or not. */
enum auto_verdict {
	AUTO_FORWARD,		/* on the loopback families not held */
	AUTO_NOT_LISTENING,	/* the guest does not listen (any more) */
	AUTO_DISABLED,		/* auto-forward no */
	AUTO_IGNORED,		/* on the default ignore list */
	AUTO_PRIVILEGED,	/* below ip_unprivileged_port_start */
	AUTO_HELD,		/* static forwards hold both loopback ports */
	AUTO_RULE_IGNORED,	/* a forwarding rule says ignore */
};

struct auto_want {
	enum auto_verdict	verdict;
	uint8_t			families;	/* the guest listens on */
	uint8_t			held;		/* static forwards hold */
	const struct hostfwd_rule *rule;	/* the rule that decided, or NULL */
};

const char *auto_ignored(uint8_t proto, uint16_t port);
const struct hostfwd_rule *auto_rule(const struct auto_rules *r,
	    uint8_t proto, uint16_t port);
bool	static_covers_loopback(const struct vmn_ip *addr);
uint8_t	statics_holding(const struct hostfwd_static *st, unsigned nst,
	    uint8_t proto, uint16_t port);
void	auto_decide(const struct auto_rules *r, const struct glistener *l,
	    uint8_t proto, uint16_t port, struct auto_want *w);

/* A reverse forward the configuration allows, and how it fares. */
struct rfwd_state {
	struct hostfwd_rfwd	f;
	uint64_t		conns;
	char			error[96];	/* last failure; empty: fine */
};

unsigned rfwds_merge(struct rfwd_state *cur, unsigned ncur,
	    const struct hostfwd_rfwd *rv, unsigned nrv);
struct rfwd_state *rfwds_find(struct rfwd_state *r, unsigned n, uint8_t proto,
	    uint16_t port);

#endif
