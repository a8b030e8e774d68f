/*
 * landlock.h - what a daemon keeps of the file system once set up
 */
#ifndef VMN_LANDLOCK_H
#define VMN_LANDLOCK_H

#include <stddef.h>

/* What else it gives up, where the kernel can take it. */
#define VMN_LANDLOCK_NO_TCP_BIND	0x1	/* binding TCP ports */
#define VMN_LANDLOCK_SCOPED		0x2	/* signals out, abstract sockets */

int	vmn_landlock_read_only(const char *who, const char *const *dirs,
	    size_t ndirs, unsigned flags);

#endif
