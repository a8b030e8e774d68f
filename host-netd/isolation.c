/*
 * isolation.c - host-netd: give up the privileges it does not need
 *
 * Once set up, host-netd still creates links, changes addresses and
 * replaces its nftables table (CAP_NET_ADMIN), binds forwarded ports that
 * may be below 1024 (CAP_NET_BIND_SERVICE) and uses raw sockets for
 * diagnostics (CAP_NET_RAW). Every other capability is dropped from the
 * effective, permitted and bounding sets, and no_new_privs is set, so a
 * bug reachable from a guest cannot become, say, arbitrary file access.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "host-netd.h"
#include "log.h"

static const int keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, CAP_NET_RAW };

static bool
kept(int cap)
{
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

static int
last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

/*
 * The bounding set needs CAP_SETPCAP to shrink; without it (a unit that
 * withholds it) the effective and permitted sets are still reduced and
 * no_new_privs still set, and the partial result is reported.
 */
int
isolation_drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	int cap, last = last_cap(), bset_err = 0;

	if (geteuid() != 0)
		return 0;	/* nothing to drop; running unprivileged */
	for (cap = 0; cap <= last && !bset_err; cap++)
		if (!kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			bset_err = -errno;
	memset(data, 0, sizeof(data));
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (kept(cap)) {
			data[cap / 32].effective |= 1u << (cap % 32);
			data[cap / 32].permitted |= 1u << (cap % 32);
		}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (bset_err)
		log_warnx("capabilities dropped, but not from the bounding set "
		    "(%s)", strerror(-bset_err));
	return 0;
}
