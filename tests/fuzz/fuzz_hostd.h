/*
 * fuzz_hostd.h - what a harness linking host-netd's sources (all but
 * host-netd.c: main, reload, registration) needs in their place
 *
 * The symbols of host-netd.c the rest refers to are stubs here, never
 * called by what the harnesses reach (an abort if one is); CHECK() is the
 * harnesses' own assertion, which run.sh looks for in their logs.
 */
#ifndef VMN_FUZZ_HOSTD_H
#define VMN_FUZZ_HOSTD_H

#include <stdio.h>
#include <stdlib.h>

#include "host-netd.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "%s: check failed: %s (line %d)\n",		\
		    __FILE__, #cond, __LINE__);				\
		abort();						\
	}								\
} while (0)

/* ---- host-netd.c's symbols ------------------------------------------------- */

struct hostd *hostd;

int
hostd_unregister(const char *name, uid_t uid, const char *why, char *err,
    size_t errlen)
{
	abort();
}

int
hostd_register(const char *src, const char *text, size_t len, pid_t owner,
    uid_t uid, char *err, size_t errlen, struct vm **out)
{
	abort();
}

int
hostd_unregister_ctl(const char *name, uid_t uid, pid_t peer, bool force,
    char *err, size_t errlen, pid_t *told)
{
	abort();
}

int
hostd_reload(const char *why, char *err, size_t errlen)
{
	abort();
}

int
hostd_reload_report(const char *why, struct reload_report *r)
{
	abort();
}

const char *
vm_change_name(enum vm_change c)
{
	abort();
}

#endif
