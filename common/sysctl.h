/*
 * sysctl.h - reading and writing /proc/sys
 */
#ifndef VMN_SYSCTL_H
#define VMN_SYSCTL_H

#include <stddef.h>
#include <stdint.h>

int	vmn_sysctl_read(const char *path, char *buf, size_t len);
int	vmn_sysctl_write(const char *path, const char *value);
int	vmn_sysctl_path(const char *name, char *buf, size_t len);
int	vmn_sysctl_link(const char *family, const char *ifname,
	    const char *key, const char *value);
uint16_t vmn_unprivileged_port_start(void);
int	vmn_sysctl_link_name(char *buf, size_t len, const char *family,
	    const char *ifname, const char *key);

#endif
