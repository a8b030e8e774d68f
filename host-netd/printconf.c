/*
 * printconf.c - host-netd -nv: the parsed configuration, defaults included
 *
 * The output is itself a valid host-netd.conf, so it can be diffed against
 * expectations (the .ok files in tests/config) and fed back in.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "host-netd.h"

/* Prints s as a quoted string with the parser's escapes. */
static void
print_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* "\tNAME VALUE\n", the value quoted so that it reads back the same. */
static void
print_setting(FILE *f, const char *name, const char *value)
{
	fprintf(f, "\t%s ", name);
	print_quoted(f, value);
	fputc('\n', f);
}

static void
print_vm(FILE *f, const struct vm_conf *vc)
{
	char buf[VMN_URI_MAX];
	unsigned i;

	fprintf(f, "\nvm ");
	print_quoted(f, vc->name);
	fprintf(f, " {\n\tmode %s\n", vm_mode_name(vc->mode));
	switch (vc->link) {
	case VM_LINK_VETH:
		fprintf(f, "\tlink veth netns ");
		print_quoted(f, vc->netns);
		fputc('\n', f);
		break;
	case VM_LINK_TAP:
		fprintf(f, "\tlink tap\n");
		if (vc->tap_owner != (uid_t)-1)
			fprintf(f, "\ttap-owner %u\n", (unsigned)vc->tap_owner);
		break;
	case VM_LINK_NONE:
	default:
		fprintf(f, "\tlink none\n");
		break;
	}
	if (vc->link != VM_LINK_NONE) {
		fprintf(f, "\thost-ifname ");
		print_quoted(f, vc->host_ifname);
		fputc('\n', f);
	}
	if (vc->guest_ifname[0]) {
		fprintf(f, "\tguest-ifname ");
		print_quoted(f, vc->guest_ifname);
		fputc('\n', f);
	} else {
		fprintf(f, "\t# guest-ifname: the uplink's name\n");
	}
	fprintf(f, "\tchannel ");
	print_quoted(f, vmn_endpoint_str(&vc->channel, buf, sizeof(buf)));
	fprintf(f, "\n\tdns %s\n", dns_mode_name(vc->dns));
	if (vc->mode == VM_MODE_MIRRORED) {
		/* MTU and addresses are the uplink's. */
		fprintf(f, "\tinbound %s\n", vc->inbound ? "allow" : "deny");
		fprintf(f, "\tipv6 %s\n", vc->ipv6 ? "yes" : "no");
	} else {
		if (vc->mtu)
			fprintf(f, "\tmtu %u\n", vc->mtu);
		else
			fprintf(f, "\tmtu auto\n");
		fprintf(f, "\tipv6 %s\n", vc->ipv6 ? "yes" : "no");
		if (vc->subnet4.ip.family)
			fprintf(f, "\tsubnet %s\n",
			    vmn_prefix_ntop(&vc->subnet4, buf, sizeof(buf)));
		else
			fprintf(f, "\tsubnet auto\n");
	}
	fprintf(f, "\tauto-forward %s\n", vc->auto_forward ? "yes" : "no");
	fprintf(f, "\tauto-forward-privileged %s\n",
	    vc->auto_privileged ? "yes" : "no");
	fprintf(f, "\tforward-direct %s\n", vc->forward_direct ? "yes" : "no");
	for (i = 0; i < vc->nforwards; i++) {
		const struct hostfwd_static *fw = &vc->forwards[i];

		fprintf(f, "\tforward %s %u to %u address %s\n",
		    fw->proto == IPPROTO_TCP ? "tcp" : "udp", fw->host_port,
		    fw->guest_port, vmn_ip_ntop(&fw->addr, buf, sizeof(buf)));
	}
	for (i = 0; i < vc->nrforwards; i++)
		fprintf(f, "\treverse-forward tcp %u to %u\n",
		    vc->rforwards[i].port, vc->rforwards[i].guest_port);
	for (i = 0; i < vc->nallow; i++) {
		fprintf(f, "\tallow-vm ");
		print_quoted(f, vc->allow[i]);
		fputc('\n', f);
	}
	fprintf(f, "}\n");
}

void
print_config(FILE *f, const struct hostd_conf *c)
{
	const struct vm_conf *vc;
	char buf[VMN_PREFIX_STRLEN];
	unsigned i;

	fprintf(f, "state-dir ");
	print_quoted(f, c->state_dir);
	fprintf(f, "\ncontrol-socket ");
	print_quoted(f, c->control_socket);
	fprintf(f, "\npolicy-dir ");
	print_quoted(f, c->policy_dir);
	fprintf(f, "\nhost-port %u\nguest-port %u\n", c->host_port,
	    c->guest_port);
	fprintf(f, "subnet-pool %s\n",
	    vmn_prefix_ntop(&c->pool4, buf, sizeof(buf)));
	fprintf(f, "subnet-size %u\n", c->subnet_len4);
	if (c->ula.ip.family)
		fprintf(f, "ula-prefix %s\n",
		    vmn_prefix_ntop(&c->ula, buf, sizeof(buf)));
	else
		fprintf(f, "ula-prefix auto\n");
	fprintf(f, "dns-tunnel-address %s\n",
	    vmn_ip_ntop(&c->dns_tunnel_addr, buf, sizeof(buf)));
	if (c->nuplinks == 0)
		fprintf(f, "# uplinks: automatic (interfaces with default routes)\n");
	for (i = 0; i < c->nuplinks; i++) {
		fprintf(f, "uplink ");
		print_quoted(f, c->uplinks[i]);
		fputc('\n', f);
	}
	TAILQ_FOREACH(vc, &c->vms, entry)
		print_vm(f, vc);
}

/* ---- the policy ---------------------------------------------------------- */

static void
print_scope(FILE *f, const char *kw, const struct policy *pol, unsigned scope,
    const struct policy_where *at)
{
	const struct policy_scope *sc = &pol->scopes[scope];
	unsigned i;

	fprintf(f, "\n# %s:%d\n%s", at->file, at->line, kw);
	for (i = 0; i < sc->nvms; i++) {
		fputc(' ', f);
		print_quoted(f, sc->vms[i]);
	}
	fprintf(f, " {\n");
}

static void
print_set(FILE *f, const struct policy_set *set)
{
	char buf[VMN_PREFIX_STRLEN];
	unsigned i;

	fprintf(f, "\n# %s:%d\nset %s {", set->at.file, set->at.line,
	    set->name);
	for (i = 0; i < set->n; i++) {
		fprintf(f, "%s", i % 8 ? " " : "\n\t");
		if (set->kind == POLICY_SET_ADDR)
			fprintf(f, "%s", policy_prefix_ntop(&set->addrs[i],
			    buf, sizeof(buf)));
		else if (set->ports[i].lo == set->ports[i].hi)
			fprintf(f, "%u", set->ports[i].lo);
		else
			fprintf(f, "%u-%u", set->ports[i].lo, set->ports[i].hi);
	}
	fprintf(f, "\n}\n");
}

static void
print_proxy(FILE *f, const struct policy *pol, const struct policy_proxy *px)
{
	print_scope(f, "proxy", pol, px->scope, &px->at);
	if (px->none)
		fprintf(f, "\tnone\n");
	if (px->follow_host)
		print_setting(f, "follow-host", px->source);
	if (px->http[0])
		print_setting(f, "http", px->http);
	if (px->https[0])
		print_setting(f, "https", px->https);
	if (px->pac[0])
		print_setting(f, "pac", px->pac);
	if (px->no_proxy[0])
		print_setting(f, "no-proxy", px->no_proxy);
	fprintf(f, "}\n");
}

/*
 * The policy as one policy file: sets, then the firewall rules, the
 * proxies and the forwarding rules, each in the order they apply, in
 * blocks as written (consecutive rules of one block stay together).
 */
void
print_policy(FILE *f, const struct policy *pol)
{
	char buf[POLICY_RULE_TEXT];
	unsigned i;

	for (i = 0; i < pol->nsets; i++)
		print_set(f, &pol->sets[i]);
	for (i = 0; i < pol->nrules; i++) {
		const struct policy_rule *r = &pol->rules[i];

		if (i == 0 || r->scope != pol->rules[i - 1].scope)
			print_scope(f, "firewall", pol, r->scope, &r->at);
		policy_rule_format(r, buf, sizeof(buf));
		fprintf(f, "\t%s\n", buf);
		if (i + 1 == pol->nrules || pol->rules[i + 1].scope != r->scope)
			fprintf(f, "}\n");
	}
	for (i = 0; i < pol->nproxies; i++)
		print_proxy(f, pol, &pol->proxies[i]);
	for (i = 0; i < pol->nfwds; i++) {
		const struct policy_fwd *fw = &pol->fwds[i];

		if (i == 0 || fw->scope != pol->fwds[i - 1].scope)
			print_scope(f, "forwarding", pol, fw->scope, &fw->at);
		policy_fwd_format(fw, buf, sizeof(buf));
		fprintf(f, "\t%s\n", buf);
		if (i + 1 == pol->nfwds || pol->fwds[i + 1].scope != fw->scope)
			fprintf(f, "}\n");
	}
}
