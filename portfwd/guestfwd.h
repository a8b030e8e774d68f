/*
 * guestfwd.h - guest-netd: the guest's end of port forwarding
 */
#ifndef VMN_GUESTFWD_H
#define VMN_GUESTFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct vmn_endpoint;
struct vmn_netconf;
struct listener;
struct guestfwd;

#define GUESTFWD_MAX_CONNS	4096	/* forwarded connections at once */
/*
 * Reverse-forward connections waiting for the host's answer, per reverse
 * forward and in all. Beyond these a listener stops accepting and its
 * clients wait in the kernel's backlog: host-netd limits a VM's
 * connections in setup (VM_MAX_SESSIONS), and a burst must queue rather
 * than be refused, without one slow host service holding up the others.
 */
#define GUESTFWD_RFWD_PENDING		8
#define GUESTFWD_RFWD_PENDING_ALL	24

/* Hands an event (listener added/removed/synced, reset) to the host. */
/*
 * l: a listener's events; counts, VMN_EV_FWD_BYTES's: bytes in, bytes
 * out, and how many connections they are.
 */
typedef void	(*guestfwd_event_fn)(void *arg, int event,
		    const struct listener *l, uint32_t conn_id,
		    const uint64_t *counts);

struct guestfwd	*guestfwd_new(struct event_base *base,
		    const struct vmn_endpoint *host, uint32_t host_port,
		    uint32_t guest_port, const char *vm_id,
		    guestfwd_event_fn send_event, void *arg);
void		 guestfwd_free(struct guestfwd *gf);
void		 guestfwd_session_up(struct guestfwd *gf);
void		 guestfwd_session_down(struct guestfwd *gf);
void		 guestfwd_reset(struct guestfwd *gf, uint32_t conn_id);
int		 guestfwd_configure(struct guestfwd *gf,
		    const struct vmn_netconf *nc, char *err, size_t errlen);

#endif
