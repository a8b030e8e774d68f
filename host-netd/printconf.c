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
