/*
 * netconf.h - the guest's desired network state, as host-netd sends it
 *
 * host-netd fills a struct vmn_netconf for a VM and encodes it as one
 * configuration transaction: CONFIG_BEGIN(gen), one frame per item,
 * CONFIG_COMMIT(gen) as a request. Addresses may name "lo" without a link
 * item (the DNS tunnel's address lives there). guest-netd decodes the items into the
 * same struct and applies it as a whole (mark and sweep). Every bound here
 * is a protocol limit: a transaction that exceeds one is refused.
 */
#ifndef VMN_NETCONF_H
#define VMN_NETCONF_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "wire.h"

/*
 * Our routing protocol number (rtm_protocol), also used as IFA_PROTO and
 * NDA_PROTOCOL on both sides: everything vmnetd adds to a kernel carries
 * it, and only what carries it is ever removed. dist/vmnetd.rt_protos
 * names it for ip(8).
 */
#define VMN_RTPROT		86

#define VMN_NC_MAX_LINKS	4
#define VMN_NC_MAX_ADDRS	16
#define VMN_NC_MAX_ROUTES	32
#define VMN_NC_MAX_NEIGHS	16
#define VMN_NC_MAX_SERVERS	3	/* MAXNS of glibc and musl */
#define VMN_NC_MAX_SEARCH	8
#define VMN_NC_MAX_SYSCTLS	32
#define VMN_NC_MAX_RFWDS	32
#define VMN_NC_DOMAIN_MAX	254

struct vmn_nc_link {
	char		name[IFNAMSIZ];
	uint8_t		mac[VMN_MAC_LEN];
	uint32_t	mtu;		/* 0: leave as is */
	bool		noarp;		/* mirrors an L3 uplink: no neighbours */
};

struct vmn_nc_addr {
	char		ifname[IFNAMSIZ];
	struct vmn_prefix pfx;		/* address with its prefix length */
};

struct vmn_nc_route {
	char		ifname[IFNAMSIZ];
	struct vmn_prefix dst;		/* normalized: no host bits */
	struct vmn_ip	gw;		/* family 0: on-link */
	uint32_t	metric;
};

struct vmn_nc_neigh {
	char		ifname[IFNAMSIZ];
	struct vmn_ip	ip;
	uint8_t		lladdr[VMN_MAC_LEN];
};

struct vmn_nc_dns {
	bool		present;	/* false: leave resolv.conf alone */
	bool		tunnel;		/* serve servers[0] through the host */
	unsigned	nservers;
	struct vmn_ip	servers[VMN_NC_MAX_SERVERS];
	unsigned	nsearch;
	char		search[VMN_NC_MAX_SEARCH][VMN_NC_DOMAIN_MAX];
	char		options[256];
};

struct vmn_nc_proxy {
	bool		present;
	char		http[256];
	char		https[256];
	char		pac[256];	/* a PAC file's URL */
	char		no_proxy[VMN_MAX_STRING + 1];
};

struct vmn_nc_sysctl {
	char		name[128];	/* "net.ipv6.conf.eth0.accept_ra" */
	char		value[64];
};

/* The guest listens on 127.0.0.1:guest_port; connections go to host port. */
struct vmn_nc_rfwd {
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t	port;		/* on the host's loopback */
	uint16_t	guest_port;
};

/*
 * Mirrored mode: what the guest forwards (its containers) out of ifname is
 * masqueraded into its ports lo..hi, the only ones steered back to it.
 */
struct vmn_nc_snat {
	char		ifname[IFNAMSIZ];
	uint16_t	lo, hi;
};

struct vmn_netconf {
	uint32_t		gen;
	unsigned		nlinks, naddrs, nroutes, nneighs, nsysctls;
	unsigned		nrfwds;
	struct vmn_nc_rfwd	rfwds[VMN_NC_MAX_RFWDS];
	struct vmn_nc_link	links[VMN_NC_MAX_LINKS];
	struct vmn_nc_addr	addrs[VMN_NC_MAX_ADDRS];
	struct vmn_nc_route	routes[VMN_NC_MAX_ROUTES];
	struct vmn_nc_neigh	neighs[VMN_NC_MAX_NEIGHS];
	struct vmn_nc_sysctl	sysctls[VMN_NC_MAX_SYSCTLS];
	struct vmn_nc_dns	dns;
	struct vmn_nc_proxy	proxy;
	unsigned		nsnats;
	struct vmn_nc_snat	snats[VMN_NC_MAX_LINKS];
};

/* Called once per encoded frame; a negative return stops the encoding. */
typedef int (*vmn_emit_fn)(void *arg, const uint8_t *frame, size_t len);

int	vmn_netconf_encode(const struct vmn_netconf *nc, uint32_t commit_seq,
	    vmn_emit_fn emit, void *arg);
void	vmn_netconf_reset(struct vmn_netconf *nc, uint32_t gen);
int	vmn_netconf_decode_item(struct vmn_netconf *nc,
	    const struct vmn_msg *m, const char **why);
int	vmn_netconf_check(const struct vmn_netconf *nc, const char **why);
bool	vmn_sysctl_name_ok(const char *name);

#endif
