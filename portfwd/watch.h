/*
 * watch.h - guest-netd: which ports the guest's programs listen on
 */
#ifndef VMN_PORTWATCH_H
#define VMN_PORTWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct event_base;
struct portwatch;

#define PORTWATCH_INTERVAL_MS	100	/* detection within this, plus a hop */
#define PORTWATCH_MAX		256	/* listeners reported, at most */

struct listener {
	uint8_t		proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint8_t		family;		/* AF_INET, AF_INET6 */
	uint16_t	port;
	uint8_t		flags;		/* VMN_LISTEN_*, of all its sockets */
};

/*
 * added: true for a new listener or one whose flags changed, false for one
 * that went away.
 */
typedef void	(*portwatch_fn)(const struct listener *l, bool added, void *arg);

struct portwatch *portwatch_new(struct event_base *base, portwatch_fn fn,
		    void *arg);
void		 portwatch_free(struct portwatch *w);
int		 portwatch_scan(struct portwatch *w);
unsigned	 portwatch_list(const struct portwatch *w,
		    const struct listener **out);
void		 portwatch_ignore(struct portwatch *w, uint8_t proto,
		    uint16_t port, bool ignore);
void		 portwatch_ignore_address(struct portwatch *w,
		    const struct vmn_ip *ip);
int		 listener_cmp(const struct listener *a, const struct listener *b);

#endif
