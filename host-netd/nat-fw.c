/*
 * nat-fw.c - host-netd: NAT VMs' firewall chains in table inet vmnetd
 *
 * policy(5)'s rules for a NAT VM, and its defaults, as chains of the table
 * nat.c renders. Every VM with a link gets:
 *
 *   out_NAME   (forward, from the VM) its out rules; allow returns to the
 *              base chain, so that traffic to another VM meets that VM's
 *              in chain too. Default: allow.
 *   in_NAME    (forward, to the VM) its in rules; then the out rules of
 *              other VMs that allow traffic to it, and their allow-vm: one
 *              side's explicit allow is enough against the defaults, an
 *              explicit deny on either side wins. Default: drop (NAT: only
 *              replies come in).
 *   host_out_NAME (input, from the VM to the host) and host_in_NAME
 *              (output, from the host to the VM): the rules whose peer may
 *              be the host (none, "host", addresses, sets). Default: allow,
 *              as before there were policies; only for VMs whose rules say
 *              something here.
 *
 * Replies and ICMP errors of connections are accepted before any of these
 * (the base chains), neighbour discovery in the host chains: a policy
 * limits who may start a connection, and cannot break IPv6 on the link.
 * Packets of established connections in their original direction still go
 * through the rules, so a reload that takes an allow away cuts the
 * connections it allowed, and keeps those it still allows.
 */
#include "config.h"

#include <string.h>

#include "host-netd.h"
#include "firewall.h"

bool
nat_has_link(const struct vm *vm)
{
	return vm->conf.mode == VM_MODE_NAT && vm->ifindex > 0;
}

static const struct vm *
linked_vm(const struct vm_list *vms, const char *name)
{
	const struct vm *vm;

	TAILQ_FOREACH(vm, vms, entry)
		if (nat_has_link(vm) && strcmp(vm->conf.name, name) == 0)
			return vm;
	return NULL;
}

static const char *
link_of(const void *arg, const char *name)
{
	const struct vm *vm = linked_vm(arg, name);

	return vm ? vm->conf.host_ifname : NULL;
}

/* A copy in in_NAME of another VM's rule: its peer "vm NAME" is the source. */
struct copy {
	const char	*to;		/* NAME */
	const char	*from_link;	/* the other VM's interface */
};

static const char *
copy_link(const void *arg, const char *name)
{
	const struct copy *c = arg;

	return strcmp(name, c->to) == 0 ? c->from_link : NULL;
}

static bool
applies(const struct policy *pol, const struct policy_rule *r,
    const struct vm *vm, enum policy_dir dir)
{
	return r->dir == dir && policy_scope_has(pol, r->scope, vm->conf.name);
}

/* Does a's allow-vm name b? */
static bool
vm_allows(const struct vm *a, const struct vm *b)
{
	unsigned i;

	for (i = 0; i < a->conf.nallow; i++)
		if (strcmp(a->conf.allow[i], b->conf.name) == 0)
			return true;
	return false;
}

void
natfw_init(struct natfw *f, const struct vm_list *vms,
    const struct policy *pol, const struct fw_counters *keep)
{
	memset(f, 0, sizeof(*f));
	f->vms = vms;
	f->pol = pol && pol->nrules ? pol : NULL;
	f->keep = keep;
}

/* The sets and counters: a drop counter per VM, one per rule and VM. */
void
natfw_objects(struct vmn_text *o, const struct natfw *f)
{
	const struct vm *vm;

	if (f->pol)
		fw_render_sets(o, f->pol);
	TAILQ_FOREACH(vm, f->vms, entry)
		if (nat_has_link(vm))
			fw_render_vm_counters(o, f->pol, vm->conf.name,
			    f->keep);
}

/* What other VMs' out rules and allow-vm let in to vm. */
static void
allowed_by_others(struct vmn_text *o, const struct natfw *f,
    const struct vm *vm, const char *drops)
{
	char name[FW_COUNTER_NAME];
	const struct vm *w;
	struct copy c = { .to = vm->conf.name };
	struct fw_place at = {
		.peer_is_src = true, .vms_only = true, .vm_link = copy_link,
		.arg = &c, .allow = "accept", .drops = drops,
	};
	unsigned i;

	TAILQ_FOREACH(w, f->vms, entry) {
		if (w == vm || !nat_has_link(w))
			continue;
		c.from_link = w->conf.host_ifname;
		for (i = 0; f->pol && i < f->pol->nrules; i++) {
			const struct policy_rule *r = &f->pol->rules[i];

			if (r->action != POLICY_ALLOW ||
			    !applies(f->pol, r, w, POLICY_OUT) ||
			    !fw_rule_names_vm(r, vm->conf.name))
				continue;
			fw_rule_counter(f->pol, w->conf.name, i, name);
			fw_render_rule(o, f->pol, r, &at, name);
		}
		if (vm_allows(w, vm))
			vmn_text_printf(o, "\t\tiifname \"%s\" accept\n",
			    w->conf.host_ifname);
	}
}

/*
 * Chain NAME PREFIX_VM for vm: head, then what body renders. A chain whose
 * body is empty is taken back; returns whether it is there.
 */
static bool
chain(struct vmn_text *o, const char *prefix, const struct vm *vm,
    const char *head, const struct natfw *f, enum policy_dir dir,
    const struct fw_place *at)
{
	size_t start = o->off, body;

	vmn_text_printf(o, "\n\tchain %s%s {\n%s", prefix, vm->conf.name,
	    head);
	body = o->off;
	fw_render_vm_rules(o, f->pol, vm->conf.name, dir, at);
	if (o->off == body) {
		vmn_text_rewind(o, start);
		return false;
	}
	vmn_text_printf(o, "\t}\n");
	return true;
}

#define HOST_HEAD \
	"\t\tct state related accept\n" \
	"\t\tct state established ct direction reply accept\n" \
	"\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"

/*
 * Every VM's chains; which ones exist is marked in f, for the base
 * chains' verdict maps (natfw_vmap).
 */
void
natfw_chains(struct vmn_text *o, struct natfw *f)
{
	char drops[FW_COUNTER_NAME];
	const struct vm *vm;
	unsigned k = 0;

	TAILQ_FOREACH(vm, f->vms, entry) {
		struct fw_place fwd_out = {
			.vm_link = link_of, .arg = f->vms,
			.allow = "return", .drops = drops,
		};
		struct fw_place fwd_in = fwd_out, host_out = fwd_out,
		    host_in;

		if (!nat_has_link(vm))
			continue;
		if (k == NATFW_MAX_VMS)
			break;	/* cannot be: VMs are fewer */
		fw_drop_counter_name(vm->conf.name, drops);
		fwd_in.peer_is_src = true;
		fwd_in.allow = "accept";
		host_out.host = true;
		host_out.vm_link = NULL;
		host_out.allow = "accept";
		host_in = host_out;
		host_in.peer_is_src = true;

		f->has[k].out = chain(o, "out_", vm, "", f, POLICY_OUT,
		    &fwd_out);
		vmn_text_printf(o, "\n\tchain in_%s {\n", vm->conf.name);
		fw_render_vm_rules(o, f->pol, vm->conf.name, POLICY_IN,
		    &fwd_in);
		allowed_by_others(o, f, vm, drops);
		vmn_text_printf(o, "\t\tcounter name \"%s\" drop\n\t}\n", drops);
		f->has[k].host_out = chain(o, "host_out_", vm, HOST_HEAD, f,
		    POLICY_OUT, &host_out);
		f->has[k].host_in = chain(o, "host_in_", vm, HOST_HEAD, f,
		    POLICY_IN, &host_in);
		k++;
	}
}

/*
 * The verdict map of one base chain: match ("iifname" or "oifname") to
 * the chains prefix_NAME that exist (which). Nothing if none does.
 */
void
natfw_vmap(struct vmn_text *o, const struct natfw *f, const char *match,
    const char *prefix, enum natfw_chain which)
{
	const struct vm *vm;
	size_t start = o->off;
	unsigned k = 0, n = 0;
	bool there;

	vmn_text_printf(o, "\t\t%s vmap { ", match);
	TAILQ_FOREACH(vm, f->vms, entry) {
		if (!nat_has_link(vm))
			continue;
		if (k == NATFW_MAX_VMS)
			break;
		there = which == NATFW_IN ||
		    (which == NATFW_OUT && f->has[k].out) ||
		    (which == NATFW_HOST_OUT && f->has[k].host_out) ||
		    (which == NATFW_HOST_IN && f->has[k].host_in);
		k++;
		if (there)
			vmn_text_printf(o, "%s\"%s\" : jump %s%s",
			    n++ ? ", " : "", vm->conf.host_ifname, prefix,
			    vm->conf.name);
	}
	if (n)
		vmn_text_printf(o, " }\n");
	else
		vmn_text_rewind(o, start);
}

/* Does any VM have chain which? (The input and output base chains.) */
bool
natfw_any(const struct natfw *f, enum natfw_chain which)
{
	unsigned k;

	for (k = 0; k < NATFW_MAX_VMS; k++)
		if ((which == NATFW_HOST_OUT && f->has[k].host_out) ||
		    (which == NATFW_HOST_IN && f->has[k].host_in))
			return true;
	return false;
}
