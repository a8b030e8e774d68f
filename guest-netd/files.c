/*
 * files.c - guest-netd: replace a file atomically
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes a temporary file next to path and renames it over path, so
 * readers see the old content or the new, never half of it. A path that is
 * a mount point (a bind-mounted /etc/resolv.conf in a container or under
 * ip-netns-exec) cannot be renamed over; it is rewritten in place instead.
 */
int
file_replace(const char *path, const char *content, mode_t mode)
{
	char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX + 32];
	size_t len = strlen(content);
	int fd, rc;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	strcpy(base, path);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir),
	    basename(base));
	if ((fd = mkstemp(tmp)) < 0)
		return -errno;
	/*
	 * No fsync(): readers see the old file or the new one either way, and
	 * guest-netd rewrites these files after every connect, so there is
	 * nothing a crash could lose. It would only stall the event loop.
	 */
	if ((rc = write_all(fd, content, len)) < 0 ||
	    (fchmod(fd, mode) < 0 && (rc = -errno))) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
	rc = -errno;
	unlink(tmp);
	if (rc != -EBUSY)
		return rc;
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0)
		return -errno;
	rc = write_all(fd, content, len);
	close(fd);
	return rc;
}

/*
 * Whether path is mounted over (a mount's root): `ip netns exec NAME` mounts
 * each file of /etc/netns/NAME over its namespace's /etc, so a namespace
 * guest whose /etc/resolv.conf is not a mount writes the host's own file.
 */
bool
file_is_mounted_over(const char *path)
{
	struct statx st;

	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &st) < 0)
		return false;
	return (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}
