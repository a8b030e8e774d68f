/*
 * confine.c - host-netd: what a user other than root may ask of it
 *
 * Members of the vmnetd group register VMs (netctl register, vmnet-run)
 * and add forwards to them. Root's host-netd acts for them, so such a
 * request gets what that user could do on the host alone, nothing more:
 *
 *  - a channel in the user's own directory, RUNDIR/user/UID (RUNDIR: the
 *    control socket's), which host-netd makes: root's, reached by root and
 *    that user alone (ACLs), no subdirectory followed. A socket host-netd
 *    connects to there must be the user's (transport.c, SO_PEERCRED), so a
 *    link to someone else's socket gets nothing;
 *  - forwards on loopback, from the host's unprivileged ports;
 *  - a tap that is its own (named by host-netd, tap-owner the user), a
 *    subnet from the pool, an owner process of the user's;
 *  - CONFINE_MAX_VMS VMs at once, so that one user cannot take them all.
 *
 * The rest needs root: vsock CIDs (host-wide), veths into namespaces,
 * links named, subnets chosen, allow-vm, privileged ports, mirrored mode's
 * inbound, and anything on a VM another user registered.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "host-netd.h"
#include "sysctl.h"

/* POSIX ACLs as extended attributes hold them (linux/posix_acl_xattr.h). */
#define ACL_XATTR_VERSION	2
#define ACL_USER_OBJ		0x01
#define ACL_USER		0x02
#define ACL_GROUP_OBJ		0x04
#define ACL_MASK		0x10
#define ACL_OTHER		0x20
#define ACL_UNDEFINED_ID	0xffffffffu

/* A user's VMs at once: the rest of MAX_VMS stays for root and others. */
#define CONFINE_MAX_VMS		32

struct acl_entry {
	uint16_t	tag, perm;
	uint32_t	id;
};

static int
refuse(char *err, size_t errlen, int rc, const char *why, const char *path)
{
	snprintf(err, errlen, "%s%s%s", path ? path : "", path ? ": " : "",
	    why);
	return rc;
}

static int
needs_root(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s needs root", what);
	return -EPERM;
}

/* RUNDIR/user/UID in buf. */
static int
user_dir(const struct hostd_conf *c, uid_t uid, char *buf, size_t len)
{
	char sub[32];

	snprintf(sub, sizeof(sub), "user/%u", (unsigned)uid);
	return rundir_path(c->control_socket, sub, buf, len);
}

/*
 * A directory of root's at path, made if missing; never a link. (Its
 * group bits may be an ACL's mask.)
 */
static int
root_dir(const char *path, mode_t mode)
{
	struct stat st;
	int fd;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || st.st_gid != 0 ||
	    (st.st_mode & S_IWOTH)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/*
 * An ACL (name: its extended attribute) that gives uid, and root too if
 * with_root, everything, and the group and others nothing.
 */
static int
set_acl(int fd, const char *name, uid_t uid, bool with_root)
{
	struct {
		uint32_t		version;
		struct acl_entry	e[6];
	} acl = { ACL_XATTR_VERSION, { { 0, 0, 0 } } };
	unsigned n = 0;

	acl.e[n++] = (struct acl_entry){ ACL_USER_OBJ, 7, ACL_UNDEFINED_ID };
	if (with_root)
		acl.e[n++] = (struct acl_entry){ ACL_USER, 7, 0 };
	acl.e[n++] = (struct acl_entry){ ACL_USER, 7, (uint32_t)uid };
	acl.e[n++] = (struct acl_entry){ ACL_GROUP_OBJ, 0, ACL_UNDEFINED_ID };
	acl.e[n++] = (struct acl_entry){ ACL_MASK, 7, ACL_UNDEFINED_ID };
	acl.e[n++] = (struct acl_entry){ ACL_OTHER, 0, ACL_UNDEFINED_ID };
	return fsetxattr(fd, name, &acl, sizeof(acl.version) +
	    n * sizeof(acl.e[0]), 0) < 0 ? -errno : 0;
}

/*
 * RUNDIR/user/UID, made if missing: root's, with ACLs that let uid in and
 * no one else, and that give root (which keeps no capability to override
 * permissions) and uid alike what either of them makes in it: sockets of
 * guest-netd or vmnet-vsockd running as the user, and ours.
 */
static int
make_user_dir(const struct hostd_conf *c, uid_t uid, char *path, size_t len,
    char *err, size_t errlen)
{
	char parent[PATH_MAX];
	int fd, rc;

	if ((rc = user_dir(c, uid, path, len)) < 0)
		return refuse(err, errlen, rc, "the runtime directory's path "
		    "is too long for a user's channels", NULL);
	snprintf(parent, sizeof(parent), "%s", path);
	dirname(parent);
	if ((fd = root_dir(parent, 0755)) < 0)
		return refuse(err, errlen, fd, "not a directory of root's alone",
		    parent);
	close(fd);
	if ((fd = root_dir(path, 0700)) < 0)
		return refuse(err, errlen, fd, "not a directory of root's alone",
		    path);
	if ((rc = set_acl(fd, "system.posix_acl_access", uid, false)) < 0 ||
	    (rc = set_acl(fd, "system.posix_acl_default", uid, true)) < 0) {
		close(fd);
		snprintf(err, errlen, "%s: cannot give uid %u its directory "
		    "(an ACL: %s)", path, (unsigned)uid, strerror(-rc));
		return rc;
	}
	close(fd);
	return 0;
}

/*
 * A user's channel: unix:PATH or hvsock:PATH with PATH a name in their
 * directory (PATH_PORT beside it), made for them now if missing.
 */
static int
confine_channel(struct vm_conf *vc, const struct hostd_conf *c, uid_t uid,
    char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *name;
	size_t n;
	int rc;

	if (vc->channel.kind != VMN_TR_UNIX && vc->channel.kind != VMN_TR_HVSOCK)
		return refuse(err, errlen, -EPERM, "a vsock channel needs root "
		    "(CIDs are the host's); yours may be unix: or hvsock: in "
		    "your runtime directory", NULL);
	if ((rc = make_user_dir(c, uid, dir, sizeof(dir), err, errlen)) < 0)
		return rc;
	n = strlen(dir);
	name = strncmp(vc->channel.path, dir, n) == 0 &&
	    vc->channel.path[n] == '/' ? vc->channel.path + n + 1 : "";
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		snprintf(err, errlen, "channel %s: yours must be a name in %s/ "
		    "(root may choose any path)", vc->channel.path, dir);
		return -EPERM;
	}
	vc->channel.owned = true;
	vc->channel.owner_uid = (uint32_t)uid;
	return 0;
}

/*
 * Root's VM with its channel in a user's directory (vmnet-run as root runs
 * vmnet-vsockd as the user vmnetd-vsock): the directory is made as for
 * that user, and the socket connected to there must be theirs.
 */
static int
root_channel(struct vm_conf *vc, const struct hostd_conf *c, char *err,
    size_t errlen)
{
	char dir[PATH_MAX], *end;
	const char *p;
	unsigned long uid;
	size_t n;
	int rc;

	if (vc->channel.kind != VMN_TR_UNIX && vc->channel.kind != VMN_TR_HVSOCK)
		return 0;
	if ((rc = user_dir(c, 0, dir, sizeof(dir))) < 0)
		return 0;
	n = strlen(dir) - 1;		/* ".../user/" */
	if (strncmp(vc->channel.path, dir, n) != 0)
		return 0;
	p = vc->channel.path + n;
	uid = strtoul(p, &end, 10);
	if (end == p || *end != '/' || uid == 0 || uid >= UINT32_MAX)
		return 0;
	return confine_channel(vc, c, (uid_t)uid, err, errlen);
}

int
confine_forward(const struct hostfwd_static *st, uid_t uid, char *err,
    size_t errlen)
{
	char buf[VMN_IP_STRLEN];
	unsigned start = vmn_unprivileged_port_start();

	if (uid == 0)
		return 0;
	if (!vmn_ip_is_loopback(&st->addr)) {
		snprintf(err, errlen, "forward on %s: yours may listen on "
		    "loopback only (127.0.0.1 or ::1); others need root",
		    vmn_ip_ntop(&st->addr, buf, sizeof(buf)));
		return -EPERM;
	}
	if (st->host_port < start) {
		snprintf(err, errlen, "forward from port %u: below the host's "
		    "net.ipv4.ip_unprivileged_port_start (%u), which needs "
		    "root", st->host_port, start);
		return -EPERM;
	}
	return 0;
}

/*
 * vc, registered by uid (not root), may be set up as it says: err says
 * why not. Its tap becomes the user's and its channel is marked theirs.
 */
int
confine_registration(struct vm_conf *vc, const struct hostd_conf *c,
    uid_t uid, char *err, size_t errlen)
{
	const struct vm_conf *o;
	unsigned i, n = 0;
	int rc;

	if (uid == 0)
		return root_channel(vc, c, err, errlen);
	TAILQ_FOREACH(o, &c->vms, entry)
		if (o != vc && o->registered && o->reg_uid == uid)
			n++;
	if (n >= CONFINE_MAX_VMS) {
		snprintf(err, errlen, "you have %u VMs registered already, the "
		    "most a user other than root may", n);
		return -ENOSPC;
	}
	if (vc->link == VM_LINK_VETH)
		return needs_root(err, errlen,
		    "a veth into a network namespace");
	if (vc->link == VM_LINK_TAP && vc->tap_name[0])
		return needs_root(err, errlen,
		    "a tap named by you (host-netd names yours)");
	if (vc->lines.host_ifname)
		return needs_root(err, errlen, "host-ifname");
	if (vc->subnet4.ip.family)
		return needs_root(err, errlen,
		    "a subnet of your choosing (yours comes from the pool)");
	if (vc->nallow)
		return needs_root(err, errlen, "allow-vm");
	if (vc->auto_privileged)
		return needs_root(err, errlen, "auto-forward-privileged");
	if (vc->mode == VM_MODE_MIRRORED && vc->inbound)
		return needs_root(err, errlen, "inbound allow");
	if (vc->link == VM_LINK_TAP && vc->mode != VM_MODE_NONE) {
		/* Its QEMU runs as the user: the tap is theirs, no one else's. */
		if (vc->tap_owner == (uid_t)-1)
			vc->tap_owner = uid;
		if (vc->tap_owner != uid) {
			snprintf(err, errlen, "tap-owner must be you (uid %u)",
			    (unsigned)uid);
			return -EPERM;
		}
	}
	for (i = 0; i < vc->nforwards; i++)
		if ((rc = confine_forward(&vc->forwards[i], uid, err,
		    errlen)) < 0)
			return rc;
	return confine_channel(vc, c, uid, err, errlen);
}

/* The owner a user names for their VM is one of their processes. */
int
confine_owner(pid_t owner, uid_t uid, char *err, size_t errlen)
{
	uid_t real;

	if (uid == 0 || owner <= 0)
		return 0;
	if ((real = process_uid(owner)) != uid) {
		snprintf(err, errlen, "owner pid %d is not a process of yours "
		    "(uid %u)", (int)owner, (unsigned)uid);
		return real == (uid_t)-1 ? -ESRCH : -EPERM;
	}
	return 0;
}

/* uid may change vm's forwards: root, or the user who registered it. */
int
confine_vm_access(const struct vm *vm, uid_t uid, char *err, size_t errlen)
{
	if (uid == 0 || (vm->conf.registered && vm->conf.reg_uid == uid))
		return 0;
	snprintf(err, errlen, "vm \"%s\" is %s: its forwards are changed by "
	    "root%s", vm->conf.name, vm->conf.registered ? "another user's" :
	    "in the configuration", vm->conf.registered ? " or its owner" : "");
	return -EPERM;
}
