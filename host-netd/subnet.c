/*
 * subnet.c - choosing a VM's subnet, MACs and the ULA prefix
 *
 * A VM's IPv4 subnet is taken from the pool (default 172.16.0.0/12 in
 * /24s) so that it overlaps no host route and no other VM. The search
 * starts at a slot derived from the VM's name, so a VM tends to land on the
 * same subnet even on a fresh host; once chosen it is persisted and reused.
 * Default routes and split defaults (a VPN's 0/1 + 128/1) are not
 * collisions: more specific routes win over them. Any narrower route,
 * however wide (a VPN's 172.16.0.0/11), is a network the host reaches and
 * is avoided.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "host-netd.h"

#define SUBNET_CATCH_ALL_PLEN	1	/* 0/0, 0/1, 128/1 */

/* FNV-1a: stable across runs and builds. */
uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

bool
subnet_collides(const struct vmn_prefix *p, const struct vmn_prefix *avoid,
    size_t navoid)
{
	size_t i;

	for (i = 0; i < navoid; i++) {
		if (avoid[i].ip.family != p->ip.family)
			continue;
		if (avoid[i].plen <= SUBNET_CATCH_ALL_PLEN)
			continue;	/* a default route */
		if (vmn_prefix_overlap(&avoid[i], p))
			return true;
	}
	return false;
}

/*
 * Picks a /plen inside pool that overlaps nothing in avoid, starting the
 * search at slot (hint mod slots). -ENOSPC if the pool is exhausted.
 */
int
subnet_pick(const struct vmn_prefix *pool, uint8_t plen,
    const struct vmn_prefix *avoid, size_t navoid, uint32_t hint,
    struct vmn_prefix *out)
{
	unsigned maxbits = (unsigned)vmn_ip_len(pool->ip.family) * 8;
	unsigned shift = maxbits - plen;
	struct vmn_prefix net = *pool, cand;
	uint64_t slots, i, slot;

	if (plen <= pool->plen || plen > maxbits || plen - pool->plen > 32 ||
	    shift >= 64)
		return -EINVAL;
	vmn_prefix_normalize(&net);
	slots = 1ull << (plen - pool->plen);
	for (i = 0; i < slots; i++) {
		slot = (hint + i) % slots;
		/* The slot number fills the bits between pool and subnet. */
		if (vmn_prefix_host(&net, slot << shift, &cand.ip) < 0)
			return -EINVAL;
		cand.plen = plen;
		if (!subnet_collides(&cand, avoid, navoid)) {
			*out = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

static void
fill_random(void *buf, size_t len)
{
	ssize_t n = getrandom(buf, len, 0);

	if (n != (ssize_t)len)
		memset(buf, 0x5a, len);	/* never in practice; stay usable */
}

/* A random locally administered unicast MAC. */
void
random_mac(uint8_t mac[VMN_MAC_LEN])
{
	fill_random(mac, VMN_MAC_LEN);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

/* fdXX:XXXX:XXXX::/48 with a random global ID (RFC 4193). */
void
random_ula48(struct vmn_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->ip.family = AF_INET6;
	p->ip.u.b[0] = 0xfd;
	fill_random(&p->ip.u.b[1], 5);
	p->plen = 48;
}
