/*
 * handoff.h - guest-netd: the host's listening sockets, accepted on here
 */
#ifndef VMN_HANDOFF_H
#define VMN_HANDOFF_H

#include <event2/event.h>

struct fwdconn_set;
struct handoff;

struct handoff	*handoff_new(struct event_base *base, struct fwdconn_set *set);
void		 handoff_channel(struct handoff *h, int chan);
void		 handoff_free(struct handoff *h);

#endif
