/*
 * firewall.h - policy(5)'s firewall rules as nftables rules
 *
 * The tables are host-netd's own (inet vmnetd for NAT VMs, netdev
 * vmnetd_mirror for mirrored ones, see host-netd/nat.c and
 * mirrored/steer.c); this renders the parts the policy adds to them: its
 * sets, its counters, and each rule as the nftables rules that match what
 * it says in one place of a table (a chain for a VM's traffic out, or in,
 * or to and from the host).
 */
#ifndef VMN_FIREWALL_H
#define VMN_FIREWALL_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "text.h"

#define FW_COUNTER_NAME		19	/* "c_" or "d_" and 16 hex digits */

/* A counter's value, kept across tables replaced. */
struct fw_counter {
	char		name[FW_COUNTER_NAME];
	uint64_t	packets, bytes;
};

struct fw_counters {
	unsigned		 n, max;
	struct fw_counter	*c;
};

/*
 * Where a rule is rendered: which address of the packet is the rule's
 * peer, whether "host" is that peer here (the chains of traffic to or from
 * the host itself), and how "vm NAME" is: the interface of that VM's link
 * (NULL: not here, such peers never match in this place). vms_only: the
 * rule's VM peers alone (a rule of another VM's copied where it applies).
 */
struct fw_place {
	bool		 peer_is_src;		/* in rules: the source */
	bool		 host;
	bool		 vms_only;
	const char	*(*vm_link)(const void *arg, const char *vm);
	const void	*arg;
	const char	*allow;			/* "accept", "return", ... */
	const char	*drops;			/* the VM's drop counter */
};

void	fw_counter_name(const char *vm, const struct policy_rule *r,
	    unsigned nth, char name[FW_COUNTER_NAME]);
void	fw_drop_counter_name(const char *vm, char name[FW_COUNTER_NAME]);
void	fw_rule_counter(const struct policy *pol, const char *vm, unsigned i,
	    char name[FW_COUNTER_NAME]);
bool	fw_vm_has_rules(const struct policy *pol, const char *vm,
	    enum policy_dir dir);
void	fw_render_vm_counters(struct vmn_text *o, const struct policy *pol,
	    const char *vm, const struct fw_counters *keep);
void	fw_render_vm_rules(struct vmn_text *o, const struct policy *pol,
	    const char *vm, enum policy_dir dir, const struct fw_place *at);
void	fw_render_sets(struct vmn_text *o, const struct policy *pol);
void	fw_render_counter(struct vmn_text *o, const char *name,
	    const struct fw_counters *keep);
void	fw_render_rule(struct vmn_text *o, const struct policy *pol,
	    const struct policy_rule *r, const struct fw_place *at,
	    const char *counter);
bool	fw_rule_names_vm(const struct policy_rule *r, const char *vm);
int	fw_counters_parse(const char *listing, struct fw_counters *c);
const struct fw_counter *fw_counters_find(const struct fw_counters *c,
	    const char *name);
void	fw_counters_free(struct fw_counters *c);

#endif
