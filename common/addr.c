/*
 * addr.c - parsing, printing and comparing addresses and prefixes
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

size_t
vmn_ip_len(int family)
{
	switch (family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

int
vmn_ip_parse(const char *s, struct vmn_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, &ip->u.v4) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &ip->u.v6) == 1) {
		ip->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* "addr/len"; a bare address means a host prefix. Host bits are kept. */
int
vmn_prefix_parse(const char *s, struct vmn_prefix *p)
{
	char buf[VMN_PREFIX_STRLEN];
	char *slash, *end;
	unsigned long plen;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (vmn_ip_parse(buf, &p->ip) < 0)
		return -EINVAL;
	if (!slash) {
		p->plen = vmn_ip_len(p->ip.family) * 8;
		return 0;
	}
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (errno || *end != '\0' || plen > vmn_ip_len(p->ip.family) * 8)
		return -EINVAL;
	p->plen = plen;
	return 0;
}

const char *
vmn_ip_ntop(const struct vmn_ip *ip, char *buf, size_t len)
{
	if (ip->family == 0 ||
	    !inet_ntop(ip->family, &ip->u, buf, len))
		snprintf(buf, len, "-");
	return buf;
}

const char *
vmn_prefix_ntop(const struct vmn_prefix *p, char *buf, size_t len)
{
	char ip[VMN_IP_STRLEN];

	snprintf(buf, len, "%s/%u", vmn_ip_ntop(&p->ip, ip, sizeof(ip)),
	    p->plen);
	return buf;
}

bool
vmn_ip_equal(const struct vmn_ip *a, const struct vmn_ip *b)
{
	return a->family == b->family &&
	    memcmp(&a->u, &b->u, vmn_ip_len(a->family)) == 0;
}

bool
vmn_ip_is_loopback(const struct vmn_ip *ip)
{
	if (ip->family == AF_INET)
		return ip->u.b[0] == 127;
	if (ip->family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&ip->u.v6);
	return false;
}

/* 0.0.0.0 or :: (a wildcard when bound). */
bool
vmn_ip_is_unspecified(const struct vmn_ip *ip)
{
	if (ip->family == AF_INET)
		return ip->u.v4.s_addr == 0;
	if (ip->family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&ip->u.v6);
	return false;
}

static bool
bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));
		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}

void
vmn_prefix_normalize(struct vmn_prefix *p)
{
	size_t len = vmn_ip_len(p->ip.family);
	unsigned i;

	for (i = 0; i < len; i++) {
		unsigned first = i * 8;
		if (first >= p->plen)
			p->ip.u.b[i] = 0;
		else if (first + 8 > p->plen)
			p->ip.u.b[i] &= (uint8_t)(0xff << (8 - (p->plen - first)));
	}
}

bool
vmn_prefix_contains(const struct vmn_prefix *p, const struct vmn_ip *ip)
{
	return p->ip.family == ip->family &&
	    bits_equal(p->ip.u.b, ip->u.b, p->plen);
}

bool
vmn_prefix_overlap(const struct vmn_prefix *a, const struct vmn_prefix *b)
{
	if (a->ip.family != b->ip.family)
		return false;
	return bits_equal(a->ip.u.b, b->ip.u.b,
	    a->plen < b->plen ? a->plen : b->plen);
}

/*
 * The address with host part `host` inside prefix p (host 1 is the first
 * address after the network address). Fails if host does not fit.
 */
int
vmn_prefix_host(const struct vmn_prefix *p, uint64_t host,
    struct vmn_ip *out)
{
	size_t len = vmn_ip_len(p->ip.family);
	unsigned hostbits = len * 8 - p->plen;
	int i;

	if (len == 0)
		return -EAFNOSUPPORT;
	if (hostbits < 64 && host >> hostbits)
		return -ERANGE;
	*out = p->ip;
	for (i = (int)len - 1; i >= 0 && host; i--) {
		out->u.b[i] |= (uint8_t)(host & 0xff);
		host >>= 8;
	}
	return 0;
}

int
vmn_mac_parse(const char *s, uint8_t mac[VMN_MAC_LEN])
{
	unsigned v[VMN_MAC_LEN];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < VMN_MAC_LEN; i++)
		mac[i] = v[i];
	return 0;
}

const char *
vmn_mac_ntop(const uint8_t mac[VMN_MAC_LEN], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
	    mac[2], mac[3], mac[4], mac[5]);
	return buf;
}
