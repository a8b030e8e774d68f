/*
 * addr.h - IP addresses, prefixes and MAC addresses as plain values
 *
 * One representation used by the config parser, the wire codec, the subnet
 * picker and the netlink code, so that conversions happen only at the edges.
 */
#ifndef VMN_ADDR_H
#define VMN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define VMN_MAC_LEN		6
#define VMN_IP_STRLEN		46	/* INET6_ADDRSTRLEN */
#define VMN_PREFIX_STRLEN	(VMN_IP_STRLEN + 4)
#define VMN_MAC_STRLEN		18

struct vmn_ip {
	uint8_t	family;			/* AF_INET, AF_INET6, or 0: unset */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
		uint8_t		b[16];
	} u;
};

struct vmn_prefix {
	struct vmn_ip	ip;
	uint8_t		plen;
};

size_t		 vmn_ip_len(int family);
int		 vmn_ip_parse(const char *s, struct vmn_ip *ip);
int		 vmn_prefix_parse(const char *s, struct vmn_prefix *p);
const char	*vmn_ip_ntop(const struct vmn_ip *ip, char *buf, size_t len);
const char	*vmn_prefix_ntop(const struct vmn_prefix *p, char *buf,
		    size_t len);
bool		 vmn_ip_equal(const struct vmn_ip *a, const struct vmn_ip *b);
bool		 vmn_ip_is_loopback(const struct vmn_ip *ip);
bool		 vmn_ip_is_unspecified(const struct vmn_ip *ip);
void		 vmn_prefix_normalize(struct vmn_prefix *p);
bool		 vmn_prefix_contains(const struct vmn_prefix *p,
		    const struct vmn_ip *ip);
bool		 vmn_prefix_overlap(const struct vmn_prefix *a,
		    const struct vmn_prefix *b);
int		 vmn_prefix_host(const struct vmn_prefix *p, uint64_t host,
		    struct vmn_ip *out);
int		 vmn_mac_parse(const char *s, uint8_t mac[VMN_MAC_LEN]);
const char	*vmn_mac_ntop(const uint8_t mac[VMN_MAC_LEN], char *buf,
		    size_t len);

#endif
