/*
 * sysctl.c - reading and writing /proc/sys
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysctl.h"

/* Reads a value, without its trailing newline. */
int
vmn_sysctl_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int
vmn_sysctl_write(const char *path, const char *value)
{
	ssize_t len = (ssize_t)strlen(value);
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, value, (size_t)len) != len)
		rc = -errno;
	close(fd);
	return rc;
}

/*
 * "net.ipv6.conf.eth0.accept_ra" -> "/proc/sys/net/ipv6/conf/eth0/accept_ra".
 * As in sysctl(8), a '/' in the name stands for a '.' inside a component:
 * "net.ipv6.conf.eth0/100.accept_ra" is the interface eth0.100.
 */
int
vmn_sysctl_path(const char *name, char *buf, size_t len)
{
	char *p;
	int n = snprintf(buf, len, "/proc/sys/%s", name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (p = buf + strlen("/proc/sys/"); *p; p++)
		*p = *p == '.' ? '/' : *p == '/' ? '.' : *p;
	return 0;
}

/* net.<family>.conf.<ifname>.<key> = value (ifname may contain dots) */
int
vmn_sysctl_link(const char *family, const char *ifname, const char *key,
    const char *value)
{
	char path[256];
	int n = snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s",
	    family, ifname, key);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return vmn_sysctl_write(path, value);
}

/* The sysctl(8) name of an interface setting, dots in ifname as '/'. */
int
vmn_sysctl_link_name(char *buf, size_t len, const char *family,
    const char *ifname, const char *key)
{
	char *p;
	int n = snprintf(buf, len, "net.%s.conf.", family), start = n;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	n += snprintf(buf + n, len - (size_t)n, "%s.%s", ifname, key);
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	for (p = buf + start; *p && p < buf + start + strlen(ifname); p++)
		if (*p == '.')
			*p = '/';
	return 0;
}

/*
 * The first port any program may bind in this network namespace (1024
 * where the kernel predates the setting).
 */
uint16_t
vmn_unprivileged_port_start(void)
{
	char buf[32], *end;
	unsigned long v;

	if (vmn_sysctl_read("/proc/sys/net/ipv4/ip_unprivileged_port_start",
	    buf, sizeof(buf)) < 0)
		return 1024;
	v = strtoul(buf, &end, 10);
	if (end == buf || *end || v > 65535)
		return 1024;
	return (uint16_t)v;
}
