/*
 * firewall.c - policy(5)'s firewall rules as nftables rules
 *
 * A policy rule becomes one nftables rule per kind of peer it names: the
 * prefixes it lists of each family (one anonymous set each), each named
 * set (one nftables set per family, s_NAME_4 and s_NAME_6), each VM (by
 * its link's interface), the host, or no peer at all. Each one matches the
 * protocols and ports too and ends in the rule's counter and verdict; a
 * reject answers TCP with a reset and anything else with "administratively
 * prohibited". Port sets are nftables sets too (p_NAME).
 *
 * Counters are named objects, one per rule and VM, named after a hash of
 * the VM, the rule's text and which of identical rules it is: the same
 * rule keeps its counter when the table is replaced (its value is read
 * first and carried over, see fw_counters_parse) and when rules are added
 * around it. Every drop of a VM's traffic also counts in its drop counter.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall.h"

/* FNV-1a, 64 bits: counter names must not collide in one table. */
#define FNV_BASIS	14695981039346656037ull

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ull;
	}
	return h;
}

/* The counter of the nth rule with r's text in vm's rules (from 0). */
void
fw_counter_name(const char *vm, const struct policy_rule *r, unsigned nth,
    char name[FW_COUNTER_NAME])
{
	char text[POLICY_RULE_TEXT];
	uint64_t h = FNV_BASIS;

	policy_rule_format(r, text, sizeof(text));
	h = fnv1a(h, vm, strlen(vm) + 1);
	h = fnv1a(h, text, strlen(text) + 1);
	h = fnv1a(h, &nth, sizeof(nth));
	snprintf(name, FW_COUNTER_NAME, "c_%016" PRIx64, h);
}

/*
 * The counter of pol's rule i in vm's chains: named after the rule's text
 * and how many of vm's rules before it read the same.
 */
void
fw_rule_counter(const struct policy *pol, const char *vm, unsigned i,
    char name[FW_COUNTER_NAME])
{
	char a[POLICY_RULE_TEXT], b[POLICY_RULE_TEXT];
	unsigned j, nth = 0;

	policy_rule_format(&pol->rules[i], a, sizeof(a));
	for (j = 0; j < i; j++) {
		if (!policy_scope_has(pol, pol->rules[j].scope, vm))
			continue;
		policy_rule_format(&pol->rules[j], b, sizeof(b));
		nth += strcmp(a, b) == 0;
	}
	fw_counter_name(vm, &pol->rules[i], nth, name);
}

/* Does vm have rules in dir? */
bool
fw_vm_has_rules(const struct policy *pol, const char *vm,
    enum policy_dir dir)
{
	unsigned i;

	for (i = 0; pol && i < pol->nrules; i++)
		if (pol->rules[i].dir == dir &&
		    policy_scope_has(pol, pol->rules[i].scope, vm))
			return true;
	return false;
}

/*
 * vm's counters: its drop counter, and one per rule of its, with the
 * values in keep (may be NULL).
 */
void
fw_render_vm_counters(struct vmn_text *o, const struct policy *pol,
    const char *vm, const struct fw_counters *keep)
{
	char name[FW_COUNTER_NAME];
	unsigned i;

	fw_drop_counter_name(vm, name);
	fw_render_counter(o, name, keep);
	for (i = 0; pol && i < pol->nrules; i++) {
		if (!policy_scope_has(pol, pol->rules[i].scope, vm))
			continue;
		fw_rule_counter(pol, vm, i, name);
		fw_render_counter(o, name, keep);
	}
}

/*
 * vm's rules in dir at place at, each with its counter: the body of a
 * chain of its.
 */
void
fw_render_vm_rules(struct vmn_text *o, const struct policy *pol,
    const char *vm, enum policy_dir dir, const struct fw_place *at)
{
	char name[FW_COUNTER_NAME];
	unsigned i;

	for (i = 0; pol && i < pol->nrules; i++) {
		if (pol->rules[i].dir != dir ||
		    !policy_scope_has(pol, pol->rules[i].scope, vm))
			continue;
		fw_rule_counter(pol, vm, i, name);
		fw_render_rule(o, pol, &pol->rules[i], at, name);
	}
}

/* Every drop and reject of vm's traffic, defaults included. */
void
fw_drop_counter_name(const char *vm, char name[FW_COUNTER_NAME])
{
	snprintf(name, FW_COUNTER_NAME, "d_%016" PRIx64,
	    fnv1a(FNV_BASIS, vm, strlen(vm) + 1));
}

/* ---- sets and counters ---------------------------------------------------- */

static bool
set_has_family(const struct policy_set *s, int family)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (s->addrs[i].ip.family == family)
			return true;
	return false;
}

static void
render_addr_set(struct vmn_text *o, const struct policy_set *s, int family)
{
	char buf[VMN_PREFIX_STRLEN];
	unsigned i, k = 0;

	if (!set_has_family(s, family))
		return;
	vmn_text_printf(o, "\tset s_%s_%c {\n\t\ttype %s; flags interval; "
	    "auto-merge\n\t\telements = {", s->name,
	    family == AF_INET ? '4' : '6',
	    family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	for (i = 0; i < s->n; i++)
		if (s->addrs[i].ip.family == family)
			vmn_text_printf(o, "%s %s", k++ ? "," : "",
			    policy_prefix_ntop(&s->addrs[i], buf, sizeof(buf)));
	vmn_text_printf(o, " }\n\t}\n");
}

static void
put_range(struct vmn_text *o, const struct policy_range *r, bool first)
{
	vmn_text_printf(o, "%s%u", first ? "" : ", ", r->lo);
	if (r->hi != r->lo)
		vmn_text_printf(o, "-%u", r->hi);
}

void
fw_render_sets(struct vmn_text *o, const struct policy *pol)
{
	unsigned i, j;

	for (i = 0; i < pol->nsets; i++) {
		const struct policy_set *s = &pol->sets[i];

		if (s->kind == POLICY_SET_ADDR) {
			render_addr_set(o, s, AF_INET);
			render_addr_set(o, s, AF_INET6);
			continue;
		}
		vmn_text_printf(o, "\tset p_%s {\n\t\ttype inet_service; flags "
		    "interval; auto-merge\n\t\telements = { ", s->name);
		for (j = 0; j < s->n; j++)
			put_range(o, &s->ports[j], j == 0);
		vmn_text_printf(o, " }\n\t}\n");
	}
}

/* A counter object, with the value it had before the table was replaced. */
void
fw_render_counter(struct vmn_text *o, const char *name,
    const struct fw_counters *keep)
{
	const struct fw_counter *c = keep ? fw_counters_find(keep, name) : NULL;

	vmn_text_printf(o, "\tcounter %s { packets %" PRIu64 " bytes %" PRIu64
	    " }\n", name, c ? c->packets : 0, c ? c->bytes : 0);
}

/* ---- rules ------------------------------------------------------------------ */

bool
fw_rule_names_vm(const struct policy_rule *r, const char *vm)
{
	unsigned i;

	for (i = 0; i < r->ntargets; i++)
		if (r->targets[i].kind == POLICY_T_VM &&
		    strcmp(r->targets[i].name, vm) == 0)
			return true;
	return false;
}

/* The protocols and ports of one line: TCP alone for a reset, or the rest. */
static void
put_l4(struct vmn_text *o, const struct policy_rule *r, unsigned protos)
{
	unsigned i;

	if (protos == POLICY_TCP)
		vmn_text_printf(o, " meta l4proto tcp");
	else if (protos == POLICY_UDP)
		vmn_text_printf(o, " meta l4proto udp");
	else if (protos == (POLICY_TCP | POLICY_UDP))
		vmn_text_printf(o, " meta l4proto { tcp, udp }");
	else if (protos == POLICY_ICMP)
		vmn_text_printf(o, " meta l4proto { icmp, ipv6-icmp }");
	else if (protos)
		vmn_text_printf(o, " meta l4proto { %s%s%s }",
		    protos & POLICY_TCP ? "tcp, " : "",
		    protos & POLICY_UDP ? "udp, " : "", "icmp, ipv6-icmp");
	if (r->port_set[0])
		vmn_text_printf(o, " th dport @p_%s", r->port_set);
	else if (r->nports) {
		vmn_text_printf(o, " th dport { ");
		for (i = 0; i < r->nports; i++)
			put_range(o, &r->ports[i], i == 0);
		vmn_text_printf(o, " }");
	}
}

/* One nftables rule: peer, protocols, counters, then verdict. */
static void
put_line(struct vmn_text *o, const struct policy_rule *r, const char *peer,
    unsigned protos, const struct fw_place *at, const char *counter,
    const char *verdict)
{
	char body[8192];
	struct vmn_text b;

	vmn_text_init(&b, body, sizeof(body));
	if (peer[0])
		vmn_text_printf(&b, " %s", peer);
	put_l4(&b, r, protos);
	vmn_text_printf(&b, " counter name \"%s\"", counter);
	if (r->action != POLICY_ALLOW && at->drops)
		vmn_text_printf(&b, " counter name \"%s\"", at->drops);
	if (vmn_text_end(&b) < 0)
		return;		/* cannot be: a rule's text is bounded */
	vmn_text_printf(o, "\t\t%s %s\n", body + 1, verdict);
}

static void
line(struct vmn_text *o, const struct policy_rule *r, const char *peer,
    const struct fw_place *at, const char *counter)
{
	unsigned protos = r->protos, rest;

	if (r->action != POLICY_REJECT) {
		put_line(o, r, peer, protos, at, counter,
		    r->action == POLICY_ALLOW ? at->allow : "drop");
		return;
	}
	/* TCP is refused with a reset, as a closed port is. */
	if (protos == 0 || (protos & POLICY_TCP))
		put_line(o, r, peer, POLICY_TCP, at, counter,
		    "reject with tcp reset");
	rest = protos & ~POLICY_TCP;
	if (protos == 0 || rest)
		put_line(o, r, peer, rest, at, counter,
		    "reject with icmpx admin-prohibited");
}

static void
prefixes(struct vmn_text *o, const struct policy_rule *r, int family,
    const struct fw_place *at, const char *counter)
{
	char peer[4096], buf[VMN_PREFIX_STRLEN];
	struct vmn_text p;
	unsigned i, k = 0;

	vmn_text_init(&p, peer, sizeof(peer));
	vmn_text_printf(&p, "%s %s {", family == AF_INET ? "ip" : "ip6",
	    at->peer_is_src ? "saddr" : "daddr");
	for (i = 0; i < r->ntargets; i++)
		if (r->targets[i].kind == POLICY_T_PREFIX &&
		    r->targets[i].pfx.ip.family == family)
			vmn_text_printf(&p, "%s %s", k++ ? "," : "",
			    policy_prefix_ntop(&r->targets[i].pfx, buf,
			    sizeof(buf)));
	vmn_text_printf(&p, " }");
	if (k && vmn_text_end(&p) >= 0)
		line(o, r, peer, at, counter);
}

/*
 * The nftables rules of policy rule r at this place, each counting in
 * counter. A rule whose peers are none of the ones this place sees
 * renders nothing.
 */
void
fw_render_rule(struct vmn_text *o, const struct policy *pol,
    const struct policy_rule *r, const struct fw_place *at,
    const char *counter)
{
	const char *dir = at->peer_is_src ? "saddr" : "daddr";
	const struct policy_set *set;
	const char *link;
	char peer[128];
	unsigned i;
	int fam;

	if (r->ntargets == 0) {
		if (!at->vms_only)
			line(o, r, "", at, counter);
		return;
	}
	if (!at->vms_only) {
		prefixes(o, r, AF_INET, at, counter);
		prefixes(o, r, AF_INET6, at, counter);
	}
	for (i = 0; i < r->ntargets; i++) {
		const struct policy_target *t = &r->targets[i];

		if (at->vms_only && t->kind != POLICY_T_VM)
			continue;
		switch (t->kind) {
		case POLICY_T_PREFIX:
			break;
		case POLICY_T_SET:
			if (!(set = policy_find_set(pol, t->name)))
				break;
			for (fam = AF_INET; ; fam = AF_INET6) {
				if (set_has_family(set, fam)) {
					snprintf(peer, sizeof(peer),
					    "%s %s @s_%s_%c",
					    fam == AF_INET ? "ip" : "ip6", dir,
					    t->name, fam == AF_INET ? '4' : '6');
					line(o, r, peer, at, counter);
				}
				if (fam == AF_INET6)
					break;
			}
			break;
		case POLICY_T_HOST:
			if (at->host)
				line(o, r, "", at, counter);
			break;
		case POLICY_T_VM:
			if (!at->vm_link || !(link = at->vm_link(at->arg,
			    t->name)))
				break;
			snprintf(peer, sizeof(peer), "%s \"%s\"",
			    at->peer_is_src ? "iifname" : "oifname", link);
			line(o, r, peer, at, counter);
			break;
		}
	}
}

/* ---- counters read back ------------------------------------------------------ */

static int
counters_add(struct fw_counters *c, const char *name, uint64_t packets,
    uint64_t bytes)
{
	struct fw_counter *grown;

	if (c->n == c->max) {
		if (!(grown = reallocarray(c->c, c->max ? c->max * 2 : 64,
		    sizeof(*grown))))
			return -ENOMEM;
		c->c = grown;
		c->max = c->max ? c->max * 2 : 64;
	}
	snprintf(c->c[c->n].name, FW_COUNTER_NAME, "%s", name);
	c->c[c->n].packets = packets;
	c->c[c->n].bytes = bytes;
	c->n++;
	return 0;
}

/*
 * Adds the counters of an "nft list counters" listing ("counter NAME {",
 * then "packets P bytes B") to c: ours only (c_ and d_).
 */
int
fw_counters_parse(const char *listing, struct fw_counters *c)
{
	const char *p = listing, *nl;
	char name[64] = "";
	unsigned long long packets, bytes;
	int rc;

	for (; *p; p = nl + 1) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (sscanf(p, "counter %63s {", name) == 1) {
			if (strncmp(name, "c_", 2) != 0 &&
			    strncmp(name, "d_", 2) != 0)
				name[0] = '\0';
		} else if (name[0] && sscanf(p, "packets %llu bytes %llu",
		    &packets, &bytes) == 2) {
			if ((rc = counters_add(c, name, packets, bytes)) < 0)
				return rc;
			name[0] = '\0';
		}
		if (!(nl = strchr(p, '\n')))
			break;
	}
	return 0;
}

const struct fw_counter *
fw_counters_find(const struct fw_counters *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->c[i].name, name) == 0)
			return &c->c[i];
	return NULL;
}

void
fw_counters_free(struct fw_counters *c)
{
	free(c->c);
	c->c = NULL;
	c->n = c->max = 0;
}
