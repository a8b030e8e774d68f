/*
 * steer.c - mirrored mode: the nftables netdev table that steers traffic
 *
 * Theory of operation
 *
 * A mirrored guest has the host's uplink MAC and addresses on an interface
 * of its own, whose other end (a veth or a tap) is on the host. Nothing is
 * routed, bridged or copied through user space: two netdev ingress chains
 * move frames whole between the uplink and the guest's link with `fwd`.
 *
 * From the uplink, a frame goes to the guest when it belongs to it:
 *   - TCP and UDP to a port of the guest's slice (its ephemeral ports:
 *     replies to its own connections) or to a port it listens on that the
 *     LAN may reach (inbound allow);
 *   - an ICMP or ICMPv6 echo reply whose id the guest used in a request
 *     (learnt from its requests into a set with a timeout);
 *   - an ICMP error quoting a packet the guest sent (the quoted source
 *     port is in its slice): unreachable, too big, time exceeded;
 *   - ARP replies and neighbour advertisements are duplicated to every
 *     guest on the uplink and go on to the host as well: both resolve
 *     their neighbours from the same answers.
 * Everything else goes on to the host, which keeps its own services,
 * connections and neighbour discovery untouched.
 *
 * policy(5)'s rules for the guest (stateless here: no conntrack on this
 * path): its in rules decide which of its listener ports the LAN reaches
 * (chain in_N; inbound allow|deny is the default after them, and what is
 * not steered meets the host's closed port), its out rules what it may
 * send (chain out_N, before the ports it may send from).
 *
 * From the guest's link, a frame goes out of the uplink only if the guest
 * could have been meant to send it: the uplink's MAC and one of its
 * addresses as the source, TCP and UDP from a port that is steered to it
 * (so it cannot speak for the host's connections), echo requests (their
 * id learnt), ARP requests and neighbour solicitations. ARP replies and
 * neighbour advertisements are dropped: the host answers for the address.
 *
 * An uplink without a link layer (a VPN's tun or WireGuard device) is
 * mirrored too: the guest's link for it carries no ARP (the guest marks it
 * NOARP), and packets cross with "fwd ip to", which strips or adds the
 * Ethernet header, instead of whole frames.
 *
 * The whole table is replaced in one batch, as nat.c does with its own.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "steer.h"
#include "text.h"

/* Are the guest's listeners filtered by its in rules? */
static bool
filtered_in(const struct steer_guest *g, const struct policy *pol)
{
	return fw_vm_has_rules(pol, g->name, POLICY_IN);
}

/* elements = { ports..., lo-hi }: listeners, when the LAN may reach some */
static void
port_set(struct vmn_text *o, const char *name, const uint16_t *ports, unsigned n,
    const struct steer_guest *g, bool listeners)
{
	unsigned i;

	vmn_text_printf(o, "\tset %s {\n\t\ttype inet_service; flags interval;\n"
	    "\t\telements = { ", name);
	for (i = 0; listeners && i < n; i++)
		if (ports[i] < g->slice_lo || ports[i] > g->slice_hi)
			vmn_text_printf(o, "%u, ", ports[i]);
	vmn_text_printf(o, "%u-%u }\n\t}\n", g->slice_lo, g->slice_hi);
}

static void
addr_set(struct vmn_text *o, const char *name, const struct steer_guest *g,
    int family)
{
	char ip[VMN_IP_STRLEN];
	bool first = true;
	unsigned i;

	vmn_text_printf(o, "\tset %s {\n\t\ttype %s\n", name,
	    family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	for (i = 0; i < g->naddrs; i++) {
		if (g->addrs[i].family != family)
			continue;
		vmn_text_printf(o, "%s%s", first ? "\t\telements = { " : ", ",
		    vmn_ip_ntop(&g->addrs[i], ip, sizeof(ip)));
		first = false;
	}
	vmn_text_printf(o, "%s\t}\n", first ? "" : " }\n");
}

static void
guest_sets(struct vmn_text *o, const struct steer_guest *g, unsigned i,
    const struct policy *pol)
{
	bool listeners = g->inbound || filtered_in(g, pol);
	char name[32];

	vmn_text_printf(o, "\t# vm \"%s\": %s <-> %s, ports %u-%u\n", g->name, g->uplink,
	    g->link, g->slice_lo, g->slice_hi);
	snprintf(name, sizeof(name), "g%u_tcp", i);
	port_set(o, name, g->tcp, g->ntcp, g, listeners);
	snprintf(name, sizeof(name), "g%u_udp", i);
	port_set(o, name, g->udp, g->nudp, g, listeners);
	vmn_text_printf(o, "\tset g%u_ping {\n\t\ttypeof icmp id; size 1024;\n"
	    "\t\tflags dynamic, timeout; timeout 30s;\n\t}\n", i);
	snprintf(name, sizeof(name), "g%u_addr4", i);
	addr_set(o, name, g, AF_INET);
	snprintf(name, sizeof(name), "g%u_addr6", i);
	addr_set(o, name, g, AF_INET6);
}

/* The guest's first address of a family, or NULL. */
static const struct vmn_ip *
first_addr(const struct steer_guest *g, int family)
{
	unsigned i;

	for (i = 0; i < g->naddrs; i++)
		if (g->addrs[i].family == family)
			return &g->addrs[i];
	return NULL;
}

/*
 * One rule: match, then off to dev. Across an Ethernet uplink the frame
 * goes whole ("fwd to"); across an L3 uplink (a VPN) the packet goes
 * through the neighbour layer ("fwd ip to"), which gives it the link
 * header the other side needs or strips it: one rule per family, with
 * the uplink's address as the next hop (the host's side of the guest's
 * link has a permanent neighbour for it; a tun device ignores it).
 * family: the match's own (AF_INET for "icmp ..."), or AF_UNSPEC.
 */
static void
rule(struct vmn_text *o, const struct steer_guest *g, int family,
    const char *match, const char *dev)
{
	char ip[VMN_IP_STRLEN];
	const struct vmn_ip *a;

	if (!g->l3) {
		vmn_text_printf(o, "\t\t%s fwd to \"%s\"\n", match, dev);
		return;
	}
	if (family != AF_INET6 && (a = first_addr(g, AF_INET)))
		vmn_text_printf(o, "\t\tmeta protocol ip %s fwd ip to %s "
		    "device \"%s\"\n", match, vmn_ip_ntop(a, ip, sizeof(ip)),
		    dev);
	if (family != AF_INET && (a = first_addr(g, AF_INET6)))
		vmn_text_printf(o, "\t\tmeta protocol ip6 %s fwd ip6 to %s "
		    "device \"%s\"\n", match, vmn_ip_ntop(a, ip, sizeof(ip)),
		    dev);
}

/*
 * ICMP errors quote the packet that caused them: its IP header (20 bytes
 * for IPv4 without options, 40 for IPv6) after the 8-byte ICMP header,
 * then its transport header, whose source port is the guest's.
 */
static void
uplink_rules(struct vmn_text *o, const struct steer_guest *g, unsigned i,
    const struct policy *pol)
{
	static const char *const protos[] = { "tcp", "udp" };
	char m[192];
	unsigned p;

	for (p = 0; p < 2; p++) {
		if (!filtered_in(g, pol)) {
			snprintf(m, sizeof(m), "%s dport @g%u_%s", protos[p], i,
			    protos[p]);
			rule(o, g, AF_UNSPEC, m, g->link);
			continue;
		}
		/* Its slice, then its listeners through its rules. */
		snprintf(m, sizeof(m), "%s dport %u-%u", protos[p],
		    g->slice_lo, g->slice_hi);
		rule(o, g, AF_UNSPEC, m, g->link);
		vmn_text_printf(o, "\t\t%s dport @g%u_%s jump in_%u\n",
		    protos[p], i, protos[p], i);
	}
	snprintf(m, sizeof(m), "icmp type echo-reply icmp id @g%u_ping", i);
	rule(o, g, AF_INET, m, g->link);
	snprintf(m, sizeof(m), "icmpv6 type echo-reply icmpv6 id @g%u_ping", i);
	rule(o, g, AF_INET6, m, g->link);
	snprintf(m, sizeof(m), "icmp type { destination-unreachable, "
	    "time-exceeded, parameter-problem } @th,224,16 %u-%u",
	    g->slice_lo, g->slice_hi);
	rule(o, g, AF_INET, m, g->link);
	snprintf(m, sizeof(m), "icmpv6 type { destination-unreachable, "
	    "packet-too-big, time-exceeded, parameter-problem } "
	    "@th,384,16 %u-%u", g->slice_lo, g->slice_hi);
	rule(o, g, AF_INET6, m, g->link);
}

/*
 * The guest's firewall chains: in_N (its listeners, from the LAN), fwd_N
 * (to the guest, for in_N's allow) and out_N (what it sends).
 */
static void
policy_chains(struct vmn_text *o, const struct steer_guest *g, unsigned i,
    const struct policy *pol)
{
	char drops[FW_COUNTER_NAME], verdict[32];
	struct fw_place at = { .drops = drops };

	fw_drop_counter_name(g->name, drops);
	if (filtered_in(g, pol)) {
		snprintf(verdict, sizeof(verdict), "goto fwd_%u", i);
		at.peer_is_src = true;
		at.allow = verdict;
		vmn_text_printf(o, "\n\tchain in_%u {\n", i);
		fw_render_vm_rules(o, pol, g->name, POLICY_IN, &at);
		if (g->inbound)
			vmn_text_printf(o, "\t\t%s\n", verdict);
		vmn_text_printf(o, "\t}\n\n\tchain fwd_%u {\n", i);
		rule(o, g, AF_UNSPEC, "meta l4proto { tcp, udp }", g->link);
		vmn_text_printf(o, "\t}\n");
	}
	if (fw_vm_has_rules(pol, g->name, POLICY_OUT)) {
		at.peer_is_src = false;
		at.allow = "return";
		vmn_text_printf(o, "\n\tchain out_%u {\n", i);
		fw_render_vm_rules(o, pol, g->name, POLICY_OUT, &at);
		vmn_text_printf(o, "\t}\n");
	}
}

static void
guest_chain(struct vmn_text *o, const struct steer_guest *g, unsigned i,
    const struct policy *pol)
{
	char m[96];

	vmn_text_printf(o, "\n\tchain guest%u {\n"
	    "\t\ttype filter hook ingress device \"%s\" priority 0; "
	    "policy drop;\n", i, g->link);
	vmn_text_printf(o, "\t\tether saddr != %02x:%02x:%02x:%02x:%02x:%02x "
	    "drop\n", g->mac[0], g->mac[1], g->mac[2], g->mac[3], g->mac[4],
	    g->mac[5]);
	/* Beyond an L3 uplink there are no neighbours to find. */
	if (!g->l3)
		vmn_text_printf(o, "\t\tarp operation request arp saddr ip "
		    "@g%u_addr4 fwd to \"%s\"\n", i, g->uplink);
	vmn_text_printf(o, "\t\tmeta protocol ip ip saddr != @g%u_addr4 drop\n",
	    i);
	vmn_text_printf(o, "\t\tmeta protocol ip6 ip6 saddr != @g%u_addr6 "
	    "drop\n", i);
	if (!g->l3)
		vmn_text_printf(o, "\t\ticmpv6 type nd-neighbor-solicit "
		    "fwd to \"%s\"\n", g->uplink);
	if (fw_vm_has_rules(pol, g->name, POLICY_OUT))
		vmn_text_printf(o, "\t\tjump out_%u\n", i);
	snprintf(m, sizeof(m), "tcp sport @g%u_tcp", i);
	rule(o, g, AF_UNSPEC, m, g->uplink);
	snprintf(m, sizeof(m), "udp sport @g%u_udp", i);
	rule(o, g, AF_UNSPEC, m, g->uplink);
	snprintf(m, sizeof(m), "icmp type echo-request add @g%u_ping { icmp id }",
	    i);
	rule(o, g, AF_INET, m, g->uplink);
	snprintf(m, sizeof(m), "icmpv6 type echo-request add @g%u_ping "
	    "{ icmpv6 id }", i);
	rule(o, g, AF_INET6, m, g->uplink);
	vmn_text_printf(o, "\t}\n");
}

/*
 * The policy's sets, and each guest's counters (once per VM: a VM may
 * mirror several uplinks), when any of them has rules.
 */
static void
policy_objects(struct vmn_text *o, const struct steer_guest *g, unsigned n,
    const struct policy *pol, const struct fw_counters *keep)
{
	unsigned i, j;

	for (i = 0; i < n; i++)
		if (fw_vm_has_rules(pol, g[i].name, POLICY_IN) ||
		    fw_vm_has_rules(pol, g[i].name, POLICY_OUT))
			break;
	if (i == n)
		return;
	fw_render_sets(o, pol);
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(g[j].name, g[i].name) == 0)
				break;
		if (j == i)
			fw_render_vm_counters(o, pol, g[i].name, keep);
	}
}

/*
 * The batch that replaces the table with one for these guests, with
 * pol's rules (may be NULL) and the counters' values in keep.
 */
int
steer_render(const struct steer_guest *g, unsigned n,
    const struct policy *pol, const struct fw_counters *keep, char *buf,
    size_t len)
{
	struct vmn_text o;
	unsigned i, j, k;

	vmn_text_init(&o, buf, len);
	if (n == 0)
		return steer_render_delete(buf, len);
	vmn_text_printf(&o, "table netdev " STEER_TABLE "\n"
	    "delete table netdev " STEER_TABLE "\n"
	    "table netdev " STEER_TABLE " {\n");
	for (i = 0; i < n; i++)
		guest_sets(&o, &g[i], i, pol);
	if (pol)
		policy_objects(&o, g, n, pol, keep);
	/* One chain per uplink, for every guest that mirrors it. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(g[j].uplink, g[i].uplink) == 0)
				break;
		if (j < i)
			continue;	/* this uplink's chain is written */
		vmn_text_printf(&o, "\n\tchain uplink%u {\n"
		    "\t\ttype filter hook ingress device \"%s\" priority 0; "
		    "policy accept;\n", i, g[i].uplink);
		for (k = i; k < n; k++)
			if (strcmp(g[k].uplink, g[i].uplink) == 0 &&
			    !g[k].l3) {
				vmn_text_printf(&o, "\t\tarp operation reply dup to \"%s\"\n",
				    g[k].link);
				vmn_text_printf(&o, "\t\ticmpv6 type nd-neighbor-advert "
				    "dup to \"%s\"\n", g[k].link);
			}
		for (k = i; k < n; k++)
			if (strcmp(g[k].uplink, g[i].uplink) == 0)
				uplink_rules(&o, &g[k], k, pol);
		vmn_text_printf(&o, "\t}\n");
	}
	for (i = 0; i < n; i++) {
		policy_chains(&o, &g[i], i, pol);
		guest_chain(&o, &g[i], i, pol);
	}
	vmn_text_printf(&o, "}\n");
	return vmn_text_end(&o);
}

/* Removes the table, whether or not it is there. */
int
steer_render_delete(char *buf, size_t len)
{
	struct vmn_text o;

	vmn_text_init(&o, buf, len);
	vmn_text_printf(&o, "table netdev " STEER_TABLE "\n"
	    "delete table netdev " STEER_TABLE "\n");
	return vmn_text_end(&o);
}
