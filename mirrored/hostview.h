/*
 * hostview.h - mirrored mode: a host uplink as its guests are to see it
 */
#ifndef VMN_HOSTVIEW_H
#define VMN_HOSTVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "addr.h"
#include "nl.h"

#define MIRROR_MAX_ADDRS	8
#define MIRROR_MAX_ROUTES	24

struct mirror_route {
	struct vmn_prefix	dst;		/* 0/0: a default route */
	struct vmn_ip		gw;		/* family 0: on-link */
	uint32_t		metric;
};

struct mirror_view {
	char			name[IFNAMSIZ];
	int			index;		/* 0: no such interface */
	uint8_t			mac[6];		/* zero on an L3 uplink */
	bool			l3;		/* no link layer: a VPN's tun or wg */
	uint32_t		mtu;
	bool			up;		/* administratively and carrier */
	unsigned		naddrs, nroutes;
	struct vmn_prefix	addrs[MIRROR_MAX_ADDRS];
	struct mirror_route	routes[MIRROR_MAX_ROUTES];
	unsigned		dropped;	/* addresses or routes past the maxima */
};

int	mirror_view_read(struct vmn_nl *nl, const char *ifname,
	    struct mirror_view *v);
bool	mirror_view_equal(const struct mirror_view *a,
	    const struct mirror_view *b);

#endif
