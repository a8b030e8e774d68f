/*
 * apply.h - guest-netd: make the kernel's network state match a netconf
 */
#ifndef GUEST_APPLY_H
#define GUEST_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "netconf.h"

struct vmn_nl;

/*
 * Applies the whole desired state; idempotent. On failure returns -errno
 * and leaves a one-line explanation (with the kernel's text) in err.
 */
int	apply_netconf(struct vmn_nl *nl, const struct vmn_netconf *nc,
	    char *err, size_t errlen);

/* resolvconf.c */
int	resolvconf_render(const struct vmn_nc_dns *dns, char *buf, size_t len);
int	resolvconf_write(const char *path, const struct vmn_nc_dns *dns);

/* proxyenv.c */
int	proxyenv_render(const struct vmn_nc_proxy *p, char *buf, size_t len);
int	proxyenv_write(const char *path, const struct vmn_nc_proxy *p);
int	proxyenv_apt_render(const struct vmn_nc_proxy *p, char *buf,
	    size_t len);
int	proxyenv_apt_write(const char *path, const struct vmn_nc_proxy *p);
int	proxyenv_systemd_start(const char *systemctl);
int	proxyenv_systemd(const struct vmn_nc_proxy *p);

/* snat.c */
int	snat_apply(const struct vmn_nc_snat *sn, unsigned n);

/* files.c: shared by the writers above */
int	file_replace(const char *path, const char *content, mode_t mode);
bool	file_is_mounted_over(const char *path);

#endif
