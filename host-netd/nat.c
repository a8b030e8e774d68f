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
 * forward chain: packets from a VM must carry its own source addresses (a
 * guest cannot spoof another VM or the host's networks); replies and ICMP
 * errors of connections pass; the rest goes through the VMs' firewall
 * chains (nat-fw.c): NAT semantics by default, policy(5)'s rules on top.
 * input and output chains: the rules between a VM and the host itself.
 * postrouting chain: anything from a VM link leaving through another
 * interface is masqueraded, IPv4 and IPv6 (the VM's ULA) alike.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "host-netd.h"
#include "log.h"
#include "steer.h"
#include "sysctl.h"

static void
anti_spoof(struct vmn_text *o, const struct vm *vm)
{
	char pfx[VMN_PREFIX_STRLEN];

	vmn_text_printf(o, "\t\tiifname \"%s\" ip saddr != %s drop\n",
	    vm->conf.host_ifname,
	    vmn_prefix_ntop(&vm->subnet4, pfx, sizeof(pfx)));
	if (vm->subnet6.ip.family)
		vmn_text_printf(o, "\t\tiifname \"%s\" ip6 saddr != %s drop\n",
		    vm->conf.host_ifname,
		    vmn_prefix_ntop(&vm->subnet6, pfx, sizeof(pfx)));
	else
		vmn_text_printf(o, "\t\tiifname \"%s\" meta nfproto ipv6 drop\n",
		    vm->conf.host_ifname);
}

/*
 * Renders the complete replacement batch for the table. masq, when not
 * NULL, is the port range masquerading must keep to: mirrored guests'
 * traffic is steered by port before conntrack sees it, so a NAT VM's
 * connection must never leave from a port in one of their slices. pol
 * (may be NULL) gives the firewall rules, keep the counters' values.
 */
int
nat_render(const struct vm_list *vms, const struct port_range *masq,
    const struct policy *pol, const struct fw_counters *keep, char *buf,
    size_t len)
{
	static struct natfw f;
	struct vmn_text o;
	const struct vm *vm;
	bool first = true;

	natfw_init(&f, vms, pol, keep);
	vmn_text_init(&o, buf, len);
	vmn_text_printf(&o, "table inet " HOSTD_NFT_TABLE "\n"
	    "delete table inet " HOSTD_NFT_TABLE "\n"
	    "table inet " HOSTD_NFT_TABLE " {\n"
	    "\tset vm_links {\n\t\ttype ifname\n");
	TAILQ_FOREACH(vm, vms, entry) {
		if (!nat_has_link(vm))
			continue;
		vmn_text_printf(&o, "%s\"%s\"", first ? "\t\telements = { " : ", ",
		    vm->conf.host_ifname);
		first = false;
	}
	if (!first)
		vmn_text_printf(&o, " }\n");
	vmn_text_printf(&o, "\t}\n");
	natfw_objects(&o, &f);
	natfw_chains(&o, &f);
	vmn_text_printf(&o, "\n\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n");
	TAILQ_FOREACH(vm, vms, entry)
		if (nat_has_link(vm))
			anti_spoof(&o, vm);
	/* Replies either way: the rules are about who may start. */
	vmn_text_printf(&o, "\t\tct state related accept\n"
	    "\t\tct state established ct direction reply accept\n");
	natfw_vmap(&o, &f, "iifname", "out_", NATFW_OUT);
	natfw_vmap(&o, &f, "oifname", "in_", NATFW_IN);
	vmn_text_printf(&o, "\t}\n");
	if (natfw_any(&f, NATFW_HOST_OUT)) {
		vmn_text_printf(&o, "\n\tchain input {\n\t\ttype filter hook "
		    "input priority filter; policy accept;\n");
		natfw_vmap(&o, &f, "iifname", "host_out_", NATFW_HOST_OUT);
		vmn_text_printf(&o, "\t}\n");
	}
	if (natfw_any(&f, NATFW_HOST_IN)) {
		vmn_text_printf(&o, "\n\tchain output {\n\t\ttype filter hook "
		    "output priority filter; policy accept;\n");
		natfw_vmap(&o, &f, "oifname", "host_in_", NATFW_HOST_IN);
		vmn_text_printf(&o, "\t}\n");
	}
	vmn_text_printf(&o, "\n\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	if (masq)
		vmn_text_printf(&o, "\t\tiifname @vm_links oifname != @vm_links "
		    "meta l4proto { tcp, udp } masquerade to :%u-%u\n",
		    masq->lo, masq->hi);
	vmn_text_printf(&o, "\t\tiifname @vm_links oifname != @vm_links masquerade\n");
	vmn_text_printf(&o, "\t}\n}\n");
	return vmn_text_end(&o);
}

/*
 * libnftables waits for the kernel's answer to a batch with select(),
 * whose fd_set holds descriptors below FD_SETSIZE (1024) only: glibc
 * aborts the process on a larger one. A few hundred VMs keep more than
 * that open (channels, sessions, forwarded ports), so a low descriptor is
 * set aside at start and given up only while libnftables opens its
 * socket, which takes the lowest one free; it is taken back once that
 * socket is closed.
 */
static int nft_spare = -1;

void
nft_init(void)
{
	if (nft_spare < 0)
		nft_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static struct nft_ctx *
nft_new(void)
{
	struct nft_ctx *ctx;

	if (nft_spare >= 0)
		close(nft_spare);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx && nft_spare >= 0)
		nft_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return ctx;
}

static void
nft_free(struct nft_ctx *ctx)
{
	nft_ctx_free(ctx);
	if (nft_spare >= 0)
		nft_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
nft_run(const char *cmds, bool quiet)
{
	struct nft_ctx *ctx = nft_new();
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
	nft_free(ctx);
#ifdef __GLIBC__
	/*
	 * The table of a few hundred VMs takes libnftables megabytes, freed
	 * in pieces that the heap would keep for good: given back.
	 */
	malloc_trim(0);
#endif
	return rc == 0 ? 0 : -EINVAL;
}

/* Is our table in the kernel? (Someone may have flushed the ruleset.) */
bool
nat_present(void)
{
	return nft_run("list table inet " HOSTD_NFT_TABLE "\n", true) == 0;
}

/*
 * The firewall's counters in table ("FAMILY NAME") as the kernel has them
 * now (none when the table is not there): their values are carried into
 * the next table.
 */
int
nft_counters(const char *table, struct fw_counters *c)
{
	char cmd[128];
	struct nft_ctx *ctx = nft_new();
	int rc = 0;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	snprintf(cmd, sizeof(cmd), "list counters table %s\n", table);
	if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
		rc = fw_counters_parse(nft_ctx_get_output_buffer(ctx), c);
	nft_free(ctx);
	return rc;
}

/* Every packet of vm's the firewall dropped or refused, defaults included. */
uint64_t
vm_fw_drops(const struct vm *vm)
{
	struct fw_counters c = { 0 };
	const struct fw_counter *d;
	char name[FW_COUNTER_NAME];
	uint64_t n = 0;

	fw_drop_counter_name(vm->conf.name, name);
	if (nft_counters(vm->conf.mode == VM_MODE_MIRRORED ?
	    "netdev " STEER_TABLE : "inet " HOSTD_NFT_TABLE, &c) == 0 &&
	    (d = fw_counters_find(&c, name)))
		n = d->packets;
	fw_counters_free(&c);
	return n;
}

int
nat_apply(const struct vm_list *vms, const struct port_range *masq,
    const struct policy *pol)
{
	struct fw_counters keep = { 0 };
	size_t len = 64 * 1024;
	char *buf = NULL, *grown;
	int rc;

	if ((rc = nft_counters("inet " HOSTD_NFT_TABLE, &keep)) < 0)
		log_warnx("firewall counters not read, they start again: %s",
		    strerror(-rc));
	/* A policy of many rules for many VMs: as much room as it takes. */
	do {
		if (!(grown = realloc(buf, len *= 2))) {
			rc = -ENOMEM;
			break;
		}
		buf = grown;
		rc = nat_render(vms, masq, pol, &keep, buf, len);
	} while (rc == -ENOBUFS && len < 64 * 1024 * 1024);
	fw_counters_free(&keep);
	if (rc >= 0) {
		log_debug("nftables batch:\n%s", buf);
		rc = nft_run(buf, false);
	} else
		log_warnx("nftables table not rendered: %s", strerror(-rc));
	free(buf);
	return rc;
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
