/*
 * nat.c - host-netd: the nftables table "inet vmnetd" and forwarding
 *
 * Theory of operation
 *
 * host-netd owns exactly one nftables table, inet vmnetd, and never
 * touches anything else. The whole table is rendered as text from the
 * current VMs and replaced in a single transaction ("add table; delete
 * table; table { ... }" in one libnftables batch), so the kernel sees the
 * old ruleset or the new one, never a mix, and a failure leaves the old one
 * in force.
 *
 * forward chain, per VM link:
 *   - packets from the VM must carry its own source addresses (a guest
 *     cannot spoof another VM or the host's networks);
 *   - VM to VM traffic is dropped unless the config allows it (allow-vm);
 *   - traffic to a VM is only accepted as part of a connection it opened
 *     (NAT semantics: the VM is not exposed);
 * postrouting chain: anything from a VM link leaving through another
 * interface is masqueraded, IPv4 and IPv6 (the VM's ULA) alike.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "host-netd.h"
#include "text.h"
#include "log.h"
#include "sysctl.h"

static bool
has_link(const struct vm *vm)
{
	return vm->conf.mode == VM_MODE_NAT && vm->ifindex > 0;
}

static bool
allows(const struct vm *a, const struct vm *b)
{
	unsigned i;

	for (i = 0; i < a->conf.nallow; i++)
		if (strcmp(a->conf.allow[i], b->conf.name) == 0)
			return true;
	return false;
}

/*
 * Renders the complete replacement batch for the table. masq, when not
 * NULL, is the port range masquerading must keep to: mirrored guests'
 * traffic is steered by port before conntrack sees it, so a NAT VM's
 * connection must never leave from a port in one of their slices.
 */
int
nat_render(const struct vm_list *vms, const struct port_range *masq,
    char *buf, size_t len)
{
	struct vmn_text o;
	const struct vm *vm, *peer;
	char pfx[VMN_PREFIX_STRLEN];
	bool first = true;

	vmn_text_init(&o, buf, len);
	vmn_text_printf(&o, "table inet " HOSTD_NFT_TABLE "\n"
	    "delete table inet " HOSTD_NFT_TABLE "\n"
	    "table inet " HOSTD_NFT_TABLE " {\n"
	    "\tset vm_links {\n\t\ttype ifname\n");
	TAILQ_FOREACH(vm, vms, entry) {
		if (!has_link(vm))
			continue;
		vmn_text_printf(&o, "%s\"%s\"", first ? "\t\telements = { " : ", ",
		    vm->conf.host_ifname);
		first = false;
	}
	if (!first)
		vmn_text_printf(&o, " }\n");
	vmn_text_printf(&o, "\t}\n\n\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n");
	TAILQ_FOREACH(vm, vms, entry) {
		if (!has_link(vm))
			continue;
		vmn_text_printf(&o, "\t\tiifname \"%s\" ip saddr != %s drop\n",
		    vm->conf.host_ifname,
		    vmn_prefix_ntop(&vm->subnet4, pfx, sizeof(pfx)));
		if (vm->subnet6.ip.family)
			vmn_text_printf(&o, "\t\tiifname \"%s\" ip6 saddr != %s drop\n",
			    vm->conf.host_ifname,
			    vmn_prefix_ntop(&vm->subnet6, pfx, sizeof(pfx)));
		else
			vmn_text_printf(&o, "\t\tiifname \"%s\" meta nfproto ipv6 drop\n",
			    vm->conf.host_ifname);
		TAILQ_FOREACH(peer, vms, entry)
			if (peer != vm && has_link(peer) && allows(vm, peer))
				vmn_text_printf(&o, "\t\tiifname \"%s\" oifname \"%s\" "
				    "accept\n", vm->conf.host_ifname,
				    peer->conf.host_ifname);
	}
	vmn_text_printf(&o, "\t\toifname @vm_links ct state established,related accept\n"
	    "\t\tiifname @vm_links oifname @vm_links drop\n"
	    "\t\toifname @vm_links drop\n"
	    "\t}\n\n\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	if (masq)
		vmn_text_printf(&o, "\t\tiifname @vm_links oifname != @vm_links "
		    "meta l4proto { tcp, udp } masquerade to :%u-%u\n",
		    masq->lo, masq->hi);
	vmn_text_printf(&o, "\t\tiifname @vm_links oifname != @vm_links masquerade\n");
	vmn_text_printf(&o, "\t}\n}\n");
	return vmn_text_end(&o);
}

int
nft_run(const char *cmds, bool quiet)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *err;
	int rc;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmds);
	if (rc != 0 && !quiet) {
		err = nft_ctx_get_error_buffer(ctx);
		log_warnx("nftables: %s", err && *err ? err : "batch failed");
	}
	nft_ctx_free(ctx);
	return rc == 0 ? 0 : -EINVAL;
}

/* Is our table in the kernel? (Someone may have flushed the ruleset.) */
bool
nat_present(void)
{
	return nft_run("list table inet " HOSTD_NFT_TABLE "\n", true) == 0;
}

int
nat_apply(const struct vm_list *vms, const struct port_range *masq)
{
	static char buf[64 * 1024];
	int rc;

	if ((rc = nat_render(vms, masq, buf, sizeof(buf))) < 0)
		return rc;
	log_debug("nftables batch:\n%s", buf);
	return nft_run(buf, false);
}

int
nat_remove(void)
{
	return nft_run("table inet " HOSTD_NFT_TABLE "\n"
	    "delete table inet " HOSTD_NFT_TABLE "\n", false);
}

/* ---- forwarding ----------------------------------------------------- */

/*
 * IPv4 and IPv6 forwarding on. Turning on IPv6 forwarding makes the kernel
 * ignore router advertisements on interfaces with accept_ra=1, which would
 * silently cost the host its own SLAAC address and default route; such
 * interfaces (and the default) are moved to accept_ra=2 first.
 */
int
forwarding_enable(void)
{
	char path[PATH_MAX], val[32];
	struct dirent *de;
	DIR *d;
	int rc;

	if ((rc = vmn_sysctl_write("/proc/sys/net/ipv4/ip_forward", "1")) < 0) {
		log_warnx("cannot enable IPv4 forwarding: %s", strerror(-rc));
		return rc;
	}
	if (vmn_sysctl_read("/proc/sys/net/ipv6/conf/all/forwarding", val,
	    sizeof(val)) < 0)
		return 0;	/* no IPv6 on this host */
	if (strcmp(val, "1") == 0)
		return 0;
	if ((d = opendir("/proc/sys/net/ipv6/conf"))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || strcmp(de->d_name, "all") == 0)
				continue;
			snprintf(path, sizeof(path),
			    "/proc/sys/net/ipv6/conf/%s/accept_ra", de->d_name);
			if (vmn_sysctl_read(path, val, sizeof(val)) == 0 &&
			    strcmp(val, "1") == 0 &&
			    vmn_sysctl_write(path, "2") == 0)
				log_info("%s: accept_ra 1 -> 2 so that it keeps "
				    "its router advertisements with forwarding "
				    "on", de->d_name);
		}
		closedir(d);
	}
	if ((rc = vmn_sysctl_write("/proc/sys/net/ipv6/conf/all/forwarding",
	    "1")) < 0)
		log_warnx("cannot enable IPv6 forwarding: %s", strerror(-rc));
	return rc;
}
