/*
 * steer.h - mirrored mode: the nftables netdev table that steers traffic
 *
 * Each mirrored guest is on the host's own addresses, behind a link of its
 * own (a veth into its namespace or a tap for QEMU), and shares one of the
 * host's uplinks. Traffic is steered in the kernel, at the ingress hooks of
 * the uplink and of the guest's link: see steer.c.
 */
#ifndef VMN_STEER_H
#define VMN_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "addr.h"
#include "firewall.h"

#define STEER_TABLE		"vmnetd_mirror"	/* table netdev STEER_TABLE */
#define STEER_MAX_PORTS		256	/* listener ports per guest and proto */
#define STEER_MAX_ADDRS		16	/* the uplink's addresses */
#define STEER_MAX_GUESTS	256	/* guest links in one table */

/* One mirrored guest, as the steering sees it. */
struct steer_guest {
	char		 name[65];		/* the VM, for comments */
	char		 link[IFNAMSIZ];	/* host side of its link */
	char		 uplink[IFNAMSIZ];	/* the uplink it mirrors */
	uint8_t		 mac[6];		/* the guest's on this link */
	bool		 l3;			/* the uplink has no link layer */
	uint16_t	 slice_lo, slice_hi;	/* its own ephemeral ports */
	/*
	 * Ports it listens on beyond its loopback that the host let go;
	 * the LAN reaches them by default with inbound, else by its rules.
	 */
	bool		 inbound;
	unsigned	 ntcp, nudp;
	uint16_t	 tcp[STEER_MAX_PORTS];
	uint16_t	 udp[STEER_MAX_PORTS];
	/* The uplink's addresses: all the guest may send from. */
	unsigned	 naddrs;
	struct vmn_ip	 addrs[STEER_MAX_ADDRS];
};

int	steer_render(const struct steer_guest *g, unsigned n,
	    const struct policy *pol, const struct fw_counters *keep, char *buf,
	    size_t len);
int	steer_render_delete(char *buf, size_t len);

#endif
