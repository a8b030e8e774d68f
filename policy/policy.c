/*
 * policy.c - the policy's model: building it, and questions about it
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "text.h"

struct policy *
policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

void
policy_free(struct policy *pol)
{
	unsigned i;

	if (!pol)
		return;
	for (i = 0; i < pol->nfiles; i++)
		free(pol->files[i]);
	for (i = 0; i < pol->nsets; i++) {
		free(pol->sets[i].addrs);
		free(pol->sets[i].ports);
	}
	free(pol->files);
	free(pol->scopes);
	free(pol->sets);
	free(pol->rules);
	free(pol->proxies);
	free(pol->fwds);
	free(pol);
}

/* One more zeroed element at the end of *arr (n of them), or NULL. */
static void *
grow(void *arr, unsigned *n, unsigned max, size_t size)
{
	char *p;

	if (*n >= max || !(p = realloc(*(void **)arr, (*n + 1) * size)))
		return NULL;
	*(void **)arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

/* The file's name kept for the policy's lifetime, for messages. */
const char *
policy_add_file(struct policy *pol, const char *path)
{
	char **slot, *copy;

	if (!(copy = strdup(path)))
		return NULL;
	if (!(slot = grow(&pol->files, &pol->nfiles, UINT_MAX,
	    sizeof(*pol->files)))) {
		free(copy);
		return NULL;
	}
	*slot = copy;
	return copy;
}

/* Its index, or -ENOMEM. */
int
policy_add_scope(struct policy *pol, const struct policy_scope *s)
{
	struct policy_scope *slot;

	if (!(slot = grow(&pol->scopes, &pol->nscopes, UINT_MAX,
	    sizeof(*slot))))
		return -ENOMEM;
	*slot = *s;
	return (int)(pol->nscopes - 1);
}

/* NULL when there are too many already (or no memory). */
struct policy_set *
policy_add_set(struct policy *pol)
{
	return grow(&pol->sets, &pol->nsets, POLICY_MAX_SETS,
	    sizeof(struct policy_set));
}

struct policy_rule *
policy_add_rule(struct policy *pol)
{
	return grow(&pol->rules, &pol->nrules, POLICY_MAX_RULES,
	    sizeof(struct policy_rule));
}

struct policy_proxy *
policy_add_proxy(struct policy *pol)
{
	return grow(&pol->proxies, &pol->nproxies, POLICY_MAX_PROXIES,
	    sizeof(struct policy_proxy));
}

struct policy_fwd *
policy_add_fwd(struct policy *pol)
{
	return grow(&pol->fwds, &pol->nfwds, POLICY_MAX_FWDS,
	    sizeof(struct policy_fwd));
}

const struct policy_set *
policy_find_set(const struct policy *pol, const char *name)
{
	unsigned i;

	for (i = 0; i < pol->nsets; i++)
		if (strcmp(pol->sets[i].name, name) == 0)
			return &pol->sets[i];
	return NULL;
}

/* Whether a block of this scope is for vm. */
bool
policy_scope_has(const struct policy *pol, unsigned scope, const char *vm)
{
	const struct policy_scope *s = &pol->scopes[scope];
	unsigned i;

	if (s->nvms == 0)
		return true;
	for (i = 0; i < s->nvms; i++)
		if (strcmp(s->vms[i], vm) == 0)
			return true;
	return false;
}

/* Whether any block names vm (not counting blocks for every VM). */
bool
policy_names_vm(const struct policy *pol, const char *vm)
{
	unsigned i;

	for (i = 0; i < pol->nscopes; i++)
		if (pol->scopes[i].nvms && policy_scope_has(pol, i, vm))
			return true;
	return false;
}

/*
 * A VM's proxy: the first proxy block that names it, else the first one
 * for every VM, else NULL. A block naming the VM beats one for all,
 * wherever each is.
 */
const struct policy_proxy *
policy_proxy_for(const struct policy *pol, const char *vm)
{
	const struct policy_proxy *all = NULL;
	unsigned i;

	for (i = 0; i < pol->nproxies; i++) {
		const struct policy_proxy *px = &pol->proxies[i];

		if (pol->scopes[px->scope].nvms == 0) {
			if (!all)
				all = px;
		} else if (policy_scope_has(pol, px->scope, vm)) {
			return px;
		}
	}
	return all;
}

static bool
range_has(const struct policy_range *r, unsigned n, uint16_t port)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return false;
}

/* Whether a rule's ports (ranges, or a port set) take port. */
bool
policy_ports_have(const struct policy *pol, const struct policy_range *r,
    unsigned n, const char *port_set, uint16_t port)
{
	const struct policy_set *set;

	if (port_set[0])
		return (set = policy_find_set(pol, port_set)) &&
		    range_has(set->ports, set->n, port);
	return n == 0 || range_has(r, n, port);
}

/* A prefix, or an address alone when it is one (no /32, /128). */
const char *
policy_prefix_ntop(const struct vmn_prefix *p, char *buf, size_t len)
{
	if (p->plen == (p->ip.family == AF_INET ? 32 : 128))
		return vmn_ip_ntop(&p->ip, buf, len);
	return vmn_prefix_ntop(p, buf, len);
}

static void
put_protos(struct vmn_text *t, unsigned protos)
{
	if (protos & POLICY_TCP)
		vmn_text_printf(t, " tcp");
	if (protos & POLICY_UDP)
		vmn_text_printf(t, " udp");
	if (protos & POLICY_ICMP)
		vmn_text_printf(t, " icmp");
}

static void
put_ports(struct vmn_text *t, const struct policy_range *r, unsigned n,
    const char *port_set)
{
	unsigned i;

	if (port_set[0])
		vmn_text_printf(t, " port @%s", port_set);
	for (i = 0; i < n; i++) {
		vmn_text_printf(t, "%s%u", i ? " " : " port ", r[i].lo);
		if (r[i].hi != r[i].lo)
			vmn_text_printf(t, "-%u", r[i].hi);
	}
}

/* The rule as policy(5) writes it, normalised: the same rule, same text. */
int
policy_rule_format(const struct policy_rule *r, char *buf, size_t len)
{
	static const char *const actions[] = { "allow", "deny", "reject" };
	char pfx[VMN_PREFIX_STRLEN];
	struct vmn_text t;
	unsigned i;

	vmn_text_init(&t, buf, len);
	vmn_text_printf(&t, "%s %s", actions[r->action],
	    r->dir == POLICY_OUT ? "out" : "in");
	put_protos(&t, r->protos);
	for (i = 0; i < r->ntargets; i++) {
		const struct policy_target *tg = &r->targets[i];

		if (i == 0)
			vmn_text_printf(&t, r->dir == POLICY_OUT ? " to" :
			    " from");
		switch (tg->kind) {
		case POLICY_T_PREFIX:
			vmn_text_printf(&t, " %s", policy_prefix_ntop(&tg->pfx,
			    pfx, sizeof(pfx)));
			break;
		case POLICY_T_SET:
			vmn_text_printf(&t, " @%s", tg->name);
			break;
		case POLICY_T_HOST:
			vmn_text_printf(&t, " host");
			break;
		case POLICY_T_VM:
			vmn_text_printf(&t, " vm \"%s\"", tg->name);
			break;
		}
	}
	put_ports(&t, r->ports, r->nports, r->port_set);
	return vmn_text_end(&t);
}

int
policy_fwd_format(const struct policy_fwd *f, char *buf, size_t len)
{
	char ip[VMN_IP_STRLEN];
	struct vmn_text t;

	vmn_text_init(&t, buf, len);
	vmn_text_printf(&t, "%s", f->ignore ? "ignore" : "forward");
	put_protos(&t, f->protos);
	put_ports(&t, f->ports, f->nports, f->port_set);
	if (f->addr.family)
		vmn_text_printf(&t, " address %s",
		    vmn_ip_ntop(&f->addr, ip, sizeof(ip)));
	return vmn_text_end(&t);
}
