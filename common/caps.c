/*
 * caps.c - keep only the capabilities a daemon still needs
 *
 * Every capability not kept goes from the effective, permitted and
 * bounding sets, and no_new_privs is set, so that a uid-0 daemon's bug
 * cannot use what it gave up (root's files stay root's: without
 * CAP_DAC_OVERRIDE a uid-0 process is held to their permission bits).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "caps.h"
#include "log.h"

static bool
kept(int cap, const int *keep, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
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
 * Keeps the n capabilities in keep (none: n 0). The bounding set needs
 * CAP_SETPCAP to shrink; without it (a unit that withholds it) the
 * effective and permitted sets are still reduced and no_new_privs still
 * set, and the partial result is reported. Not root: nothing to drop.
 */
int
vmn_caps_keep(const int *keep, size_t n)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	int cap, last = last_cap(), bset_err = 0;

	if (geteuid() != 0)
		return 0;
	for (cap = 0; cap <= last && !bset_err; cap++)
		if (!kept(cap, keep, n) && prctl(PR_CAPBSET_DROP, cap, 0, 0,
		    0) < 0 && errno != EINVAL)
			bset_err = -errno;
	memset(data, 0, sizeof(data));
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (kept(cap, keep, n)) {
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
