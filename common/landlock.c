/*
 * landlock.c - what a daemon keeps of the file system once set up
 *
 * Its user's permissions let a process read every world-readable file
 * and write wherever anyone may (/tmp, /dev/shm); its system call filter
 * cannot tell one path from another. A process that reads untrusted
 * bytes calls vmn_landlock_read_only() once set up: from then on it may
 * read files beneath the directories it names and nothing else, and
 * write, make, remove or execute nothing. Where the kernel's Landlock
 * can, it also gives up binding TCP ports (VMN_LANDLOCK_NO_TCP_BIND, ABI
 * 4), and signalling processes or reaching abstract unix sockets outside
 * its own sandbox (VMN_LANDLOCK_SCOPED, ABI 6).
 *
 * A kernel without Landlock (older than 5.13, or booted without it in
 * lsm=) leaves the process to its user and its filter: said once in the
 * log, not an error. The constants are the kernel's ABI, spelled here:
 * Debian 12's headers predate most of them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "log.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif

#define LL_CREATE_RULESET_VERSION	(1u << 0)
#define LL_RULE_PATH_BENEATH		1

#define LL_FS_READ_FILE			(1ull << 2)
#define LL_FS_READ_DIR			(1ull << 3)
#define LL_FS_ABI1			((1ull << 13) - 1)	/* execute .. make_sym */
#define LL_FS_REFER			(1ull << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE			(1ull << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ull << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP			(1ull << 0)		/* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX		(1ull << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL			(1ull << 1)

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

struct ll_path_beneath {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

/* Every right the kernel knows of, handled: none granted but by a rule. */
static void
handled(int abi, unsigned flags, struct ll_ruleset_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		a->handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		a->handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a->handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4 && (flags & VMN_LANDLOCK_NO_TCP_BIND))
		a->handled_access_net = LL_NET_BIND_TCP;
	if (abi >= 6 && (flags & VMN_LANDLOCK_SCOPED))
		a->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
}

/*
 * Read access beneath dirs (one that does not exist is skipped), nothing
 * else, for good. Returns the Landlock ABI enforced, 0 where the kernel
 * has none, or -errno (the process is then as it was).
 */
int
vmn_landlock_read_only(const char *who, const char *const *dirs,
    size_t ndirs, unsigned flags)
{
	struct ll_ruleset_attr attr;
	struct ll_path_beneath rule;
	int abi, ruleset, rc = 0;
	size_t i;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi < 0) {
		log_info("%s: no Landlock in this kernel (%s): the file "
		    "system is left to its user's permissions", who,
		    strerror(errno));
		return 0;
	}
	handled(abi, flags, &attr);
	if ((ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0)) < 0)
		return -errno;
	rule.allowed_access = LL_FS_READ_FILE | LL_FS_READ_DIR;
	for (i = 0; i < ndirs && rc == 0; i++) {
		if ((rule.parent_fd = open(dirs[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				rc = -errno;
			continue;
		}
		if (syscall(SYS_landlock_add_rule, ruleset,
		    LL_RULE_PATH_BENEATH, &rule, 0) < 0)
			rc = -errno;
		close(rule.parent_fd);
	}
	if (rc == 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0) < 0))
		rc = -errno;
	close(ruleset);
	if (rc < 0)
		return rc;
	log_debug("%s: Landlock ABI %d: read-only beneath %zu directories",
	    who, abi, ndirs);
	return abi;
}
