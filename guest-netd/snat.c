/*
 * snat.c - guest-netd: containers behind a mirrored guest get out
 *
 * A mirrored guest shares the host's addresses, and only its own slice of
 * ports is steered back to it. Containers in the guest (Docker) are NATed
 * by the guest's own masquerading, which keeps their source ports: ports
 * outside the slice, whose replies would go to the host. So guest-netd
 * masquerades what the guest forwards out of the mirrored interface into
 * its slice first, in a table of its own, "inet vmnetd_guest", at a
 * priority before srcnat (100, where Docker's rules are): the first NAT
 * rule a connection meets is the one that counts.
 *
 * libnftables is loaded when this is first needed, not linked: a guest
 * with containers has nftables; a minimal guest (the initramfs) has none,
 * needs none, and does not carry it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "log.h"

#define SNAT_TABLE	"vmnetd_guest"

/* The four calls of libnftables this needs, looked up at run time. */
static struct {
	bool	 tried;
	void	*lib;
	void	*(*ctx_new)(unsigned int flags);
	void	 (*ctx_free)(void *ctx);
	int	 (*buffer_error)(void *ctx);
	int	 (*run)(void *ctx, const char *buf);
	bool	 present;		/* our table is there */
} N;

static bool
load(void)
{
	if (N.tried)
		return N.lib != NULL;
	N.tried = true;
	if (!(N.lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL)))
		return false;
	*(void **)&N.ctx_new = dlsym(N.lib, "nft_ctx_new");
	*(void **)&N.ctx_free = dlsym(N.lib, "nft_ctx_free");
	*(void **)&N.buffer_error = dlsym(N.lib, "nft_ctx_buffer_error");
	*(void **)&N.run = dlsym(N.lib, "nft_run_cmd_from_buffer");
	if (!N.ctx_new || !N.ctx_free || !N.buffer_error || !N.run) {
		dlclose(N.lib);
		N.lib = NULL;
	}
	return N.lib != NULL;
}

static int
run(const char *cmds)
{
	void *ctx;
	int rc;

	if (!(ctx = N.ctx_new(0)))
		return -ENOMEM;
	N.buffer_error(ctx);	/* its complaints are not ours to print */
	rc = N.run(ctx, cmds);
	N.ctx_free(ctx);
	return rc == 0 ? 0 : -EINVAL;
}

/*
 * Makes the table match: there with its rule for the interfaces in sn
 * (one port range for them all), or gone. A guest without libnftables is
 * told once; its own connections do not need it.
 */
int
snat_apply(const struct vmn_nc_snat *sn, unsigned n)
{
	static bool warned;
	char buf[1024], ifs[160] = "";
	size_t off = 0;
	unsigned i;

	if (n == 0 && !N.present)
		return 0;
	if (!load()) {
		if (n && !warned)
			log_warnx("libnftables.so.1 not found: containers in "
			    "this guest will not get out (install nftables)");
		warned = true;
		return 0;
	}
	if (n == 0) {
		N.present = false;
		return run("table inet " SNAT_TABLE "\n"
		    "delete table inet " SNAT_TABLE "\n");
	}
	for (i = 0; i < n && off < sizeof(ifs); i++)
		off += (size_t)snprintf(ifs + off, sizeof(ifs) - off,
		    "%s\"%s\"", i ? ", " : "", sn[i].ifname);
	snprintf(buf, sizeof(buf),
	    "table inet " SNAT_TABLE "\n"
	    "delete table inet " SNAT_TABLE "\n"
	    "table inet " SNAT_TABLE " {\n"
	    "\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat - 10;\n"
	    "\t\toifname { %s } fib saddr type != local "
	    "meta l4proto { tcp, udp } masquerade to :%u-%u\n"
	    "\t}\n}\n", ifs, sn[0].lo, sn[0].hi);
	N.present = true;
	return run(buf);
}
