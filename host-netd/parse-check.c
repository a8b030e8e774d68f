/*
 * parse-check.c - host-netd.conf(5): checks of the configuration as a whole
 *
 * What no single statement can know: defaults that depend on other
 * options, pairs of options that contradict each other, VMs that clash
 * (names, channels, subnets, host interfaces, forwarded ports), names that
 * must exist. Run on a freshly parsed file, and by conf_check on the
 * configuration as assembled (the file and the VMs registered at run time).
 *
 * A message about a VM points at the line of the option at fault, from
 * vc->lines; when that option was not written (a default), or its line is
 * no longer known, at the vm block's first line.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include "parse.h"

static struct vm_conf *
find_vm(struct hostd_conf *c, const char *name)
{
	struct vm_conf *vc;

	TAILQ_FOREACH(vc, &c->vms, entry)
		if (strcmp(vc->name, name) == 0)
			return vc;
	return NULL;
}

static bool
same_channel(const struct vmn_endpoint *a, const struct vmn_endpoint *b)
{
	if (a->kind == VMN_TR_VSOCK || b->kind == VMN_TR_VSOCK)
		return a->kind == b->kind && a->cid == b->cid;
	return a->kind != VMN_TR_NONE && b->kind != VMN_TR_NONE &&
	    strcmp(a->path, b->path) == 0;
}

/*
 * Two forwards want the same host socket: same protocol and port, and
 * the same address or a wildcard of its family (IPv6 sockets are bound
 * v6-only, so 0.0.0.0 and :: do not meet).
 */
static bool
forwards_clash(const struct hostfwd_static *a, const struct hostfwd_static *b)
{
	return a->proto == b->proto && a->host_port == b->host_port &&
	    a->addr.family == b->addr.family &&
	    (vmn_ip_equal(&a->addr, &b->addr) ||
	    vmn_ip_is_unspecified(&a->addr) || vmn_ip_is_unspecified(&b->addr));
}

/* Where the name of vc's host interface comes from. */
static int
ifname_line(const struct vm_conf *vc)
{
	if (vc->lines.host_ifname)
		return vc->lines.host_ifname;
	return vc->tap_name[0] ? vc->lines.link : 0;	/* 0: from its name */
}

/* A VM's options that only make sense together. */
static void
check_vm(struct parser *p, struct vm_conf *vc)
{
	const struct vm_conf_lines *l = &vc->lines;
	struct hostd_conf *c = p->conf;
	unsigned i, j;

	if (vc->mode == VM_MODE_NONE)
		vc->link = VM_LINK_NONE;	/* channels only */
	if (!vc->host_ifname[0] && vc->link != VM_LINK_NONE) {
		if (vc->link == VM_LINK_TAP && vc->tap_name[0])
			strcpy(vc->host_ifname, vc->tap_name);
		else
			snprintf(vc->host_ifname, IFNAMSIZ, "vmn-%.11s",
			    vc->name);
	} else if (vc->link == VM_LINK_TAP && vc->tap_name[0] &&
	    strcmp(vc->tap_name, vc->host_ifname) != 0) {
		vcerr(p, vc, MAX(l->link, l->host_ifname), "vm \"%s\": tap "
		    "name and host-ifname differ", vc->name);
	}
	for (i = 0; i < c->nuplinks && vc->link != VM_LINK_NONE; i++)
		if (strcmp(c->uplinks[i], vc->host_ifname) == 0)
			vcerr(p, vc, ifname_line(vc), "vm \"%s\": host "
			    "interface %s is an uplink", vc->name,
			    vc->host_ifname);
	if (vc->channel.kind == VMN_TR_NONE)
		vcerr(p, vc, 0, "vm \"%s\": no channel (add channel "
		    "vsock:CID, hvsock:PATH or unix:PATH)", vc->name);
	if (vc->mode == VM_MODE_MIRRORED) {
		if (vc->link == VM_LINK_NONE)
			vcerr(p, vc, MAX(l->mode, l->link), "vm \"%s\": "
			    "mirrored mode needs a link (tap or veth)",
			    vc->name);
		if (vc->mtu)
			vcerr(p, vc, l->mtu, "vm \"%s\": in mirrored mode the "
			    "MTU is the uplink's", vc->name);
		if (vc->subnet4.ip.family)
			vcerr(p, vc, l->subnet, "vm \"%s\": in mirrored mode "
			    "the addresses are the uplink's", vc->name);
		/* The guest's interface is named after the uplink. */
		if (!l->guest_ifname)
			vc->guest_ifname[0] = '\0';
	} else if (l->inbound) {
		vcerr(p, vc, l->inbound, "vm \"%s\": inbound is for mode "
		    "mirrored (a NAT VM is reached through forward lines)",
		    vc->name);
	}
	if (vc->tap_owner != (uid_t)-1 && vc->link != VM_LINK_TAP)
		vcerr(p, vc, MAX(l->tap_owner, l->link), "vm \"%s\": "
		    "tap-owner is for link tap", vc->name);
	if (vc->mode == VM_MODE_NAT && vc->link == VM_LINK_NONE)
		vcerr(p, vc, MAX(l->mode, l->link), "vm \"%s\": NAT mode "
		    "needs a link (tap or veth)", vc->name);
	if (vc->ipv6 && vc->mtu && vc->mtu < 1280)
		vcerr(p, vc, MAX(l->ipv6, l->mtu), "vm \"%s\": IPv6 needs an "
		    "mtu of 1280 or more", vc->name);
	for (i = 1; i < vc->nforwards; i++) {
		const struct hostfwd_static *f = &vc->forwards[i];
		char a[VMN_IP_STRLEN], b[VMN_IP_STRLEN];

		for (j = 0; j < i; j++) {	/* once per forward */
			const struct hostfwd_static *g = &vc->forwards[j];

			if (!forwards_clash(f, g))
				continue;
			if (vmn_ip_equal(&f->addr, &g->addr))
				vcerr(p, vc, l->forwards[i], "vm \"%s\": %s "
				    "port %u is forwarded twice", vc->name,
				    f->proto == IPPROTO_TCP ? "tcp" : "udp",
				    f->host_port);
			else
				vcerr(p, vc, l->forwards[i], "vm \"%s\": %s "
				    "port %u on %s overlaps its forward on %s",
				    vc->name, f->proto == IPPROTO_TCP ?
				    "tcp" : "udp", f->host_port,
				    vmn_ip_ntop(&f->addr, a, sizeof(a)),
				    vmn_ip_ntop(&g->addr, b, sizeof(b)));
			break;
		}
	}
	for (i = 0; i < vc->nrforwards; i++)
		for (j = i + 1; j < vc->nrforwards; j++)
			if (vc->rforwards[i].guest_port ==
			    vc->rforwards[j].guest_port)
				vcerr(p, vc, l->rforwards[j], "vm \"%s\": "
				    "guest port %u has two reverse forwards",
				    vc->name, vc->rforwards[i].guest_port);
	for (i = 0; i < vc->nallow; i++) {
		if (strcmp(vc->allow[i], vc->name) == 0)
			vcerr(p, vc, l->allow[i], "vm \"%s\": allow-vm names "
			    "itself", vc->name);
		else if (!find_vm(c, vc->allow[i]))
			vcerr(p, vc, l->allow[i], "vm \"%s\": allow-vm \"%s\": "
			    "no such VM", vc->name, vc->allow[i]);
	}
}

/* o, defined after vc, against it: reported at o. */
static void
check_pair(struct parser *p, const struct vm_conf *vc,
    const struct vm_conf *o)
{
	unsigned i, j;

	if (strcmp(o->name, vc->name) == 0) {
		if (strcmp(o->file, vc->file) == 0)
			vcerr(p, o, 0, "vm \"%s\" is defined twice (first on "
			    "line %d)", o->name, vc->line);
		else
			vcerr(p, o, 0, "vm \"%s\" is defined twice (first at "
			    "%s:%d)", o->name, vc->file, vc->line);
		return;		/* nothing more to say about it */
	}
	if (same_channel(&o->channel, &vc->channel))
		vcerr(p, o, o->lines.channel, "vm \"%s\": channel already "
		    "used by vm \"%s\"", o->name, vc->name);
	if (o->subnet4.ip.family && vc->subnet4.ip.family &&
	    vmn_prefix_overlap(&o->subnet4, &vc->subnet4))
		vcerr(p, o, o->lines.subnet, "vm \"%s\": subnet overlaps "
		    "vm \"%s\"", o->name, vc->name);
	for (i = 0; i < o->nforwards; i++)
		for (j = 0; j < vc->nforwards; j++)
			if (forwards_clash(&o->forwards[i], &vc->forwards[j])) {
				vcerr(p, o, o->lines.forwards[i], "vm \"%s\": "
				    "host port %u is vm \"%s\"'s forward",
				    o->name, o->forwards[i].host_port,
				    vc->name);
				break;
			}
}

void
check_config(struct parser *p)
{
	struct hostd_conf *c = p->conf;
	struct vm_conf *vc, *o;
	unsigned n = 0;

	if (c->subnet_len4 <= c->pool4.plen)
		perr(p, MAX(p->line_pool, p->line_size), "subnet-size /%u must "
		    "be longer than the subnet-pool's /%u", c->subnet_len4,
		    c->pool4.plen);
	if (c->host_port == c->guest_port)
		perr(p, MAX(p->line_host_port, p->line_guest_port),
		    "host-port and guest-port must differ");
	if (c->dns_tunnel_addr.family == AF_INET &&
	    vmn_prefix_contains(&c->pool4, &c->dns_tunnel_addr))
		perr(p, MAX(p->line_pool, p->line_tunnel), "dns-tunnel-address "
		    "is inside subnet-pool: a VM's own subnet could hold it");

	TAILQ_FOREACH(vc, &c->vms, entry) {
		if (++n == MAX_VMS + 1)
			vcerr(p, vc, 0, "too many VMs (at most %d)", MAX_VMS);
		check_vm(p, vc);
		for (o = TAILQ_NEXT(vc, entry); o; o = TAILQ_NEXT(o, entry))
			check_pair(p, vc, o);
	}
	/* Host interface names are checked after defaults are filled in. */
	TAILQ_FOREACH(vc, &c->vms, entry)
		for (o = TAILQ_NEXT(vc, entry); o; o = TAILQ_NEXT(o, entry))
			if (vc->link != VM_LINK_NONE && o->link != VM_LINK_NONE &&
			    strcmp(o->name, vc->name) != 0 &&
			    strcmp(o->host_ifname, vc->host_ifname) == 0)
				vcerr(p, o, ifname_line(o), "vm \"%s\": host "
				    "interface %s is also vm \"%s\"'s (set "
				    "host-ifname)", o->name, o->host_ifname,
				    vc->name);
}

/* dir is path, or a directory above it. */
static bool
dir_holds(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/*
 * A unix: channel's sockets are made in its directory when the VM starts;
 * until that directory exists the VM stays down (host-netd retries). This
 * is a warning, not an error: whoever starts a namespace guest may make
 * the directory later, and a reload or start should not be refused for
 * it. host-netd makes the directories of its state and control socket
 * itself, so channels there are not reported.
 */
void
check_channel_dirs(struct parser *p)
{
	struct hostd_conf *c = p->conf;
	char dir[VMN_PATH_MAX], ctl[PATH_MAX], *slash;
	struct vm_conf *vc;
	struct stat st;

	snprintf(ctl, sizeof(ctl), "%s", c->control_socket);
	if ((slash = strrchr(ctl, '/')))
		*slash = '\0';
	TAILQ_FOREACH(vc, &c->vms, entry) {
		if (vc->channel.kind != VMN_TR_UNIX)
			continue;
		snprintf(dir, sizeof(dir), "%s", vc->channel.path);
		if (!(slash = strrchr(dir, '/')) || slash == dir)
			continue;	/* in / */
		*slash = '\0';
		if (dir_holds(dir, ctl) || dir_holds(dir, c->state_dir))
			continue;
		if (stat(dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				pwarn(p, vc->lines.channel, "vm \"%s\": "
				    "channel directory %s is not a directory",
				    vc->name, dir);
		} else if (errno == ENOENT || errno == ENOTDIR) {
			pwarn(p, vc->lines.channel, "vm \"%s\": channel "
			    "directory %s does not exist (the VM stays down "
			    "until it does)", vc->name, dir);
		}
	}
}

/* The whole-configuration checks on c as assembled; errors into err. */
int
conf_check(struct hostd_conf *c, char *err, size_t errlen)
{
	struct parser p = { .file = c->file, .errbuf = err, .errlen = errlen,
	    .conf = c };

	err[0] = '\0';
	check_config(&p);
	return p.errors ? -EINVAL : 0;
}
