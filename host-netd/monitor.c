/*
 * monitor.c - host-netd: follow the host's network and DNS as they change
 *
 * An rtnetlink socket subscribed to link, address and route changes wakes
 * a debounce timer; when things settle, host-netd re-reads the uplinks
 * (their smallest MTU becomes the VMs' MTU), notices VM links that
 * vanished (and recreates them), and warns when a new host route covers a
 * VM's subnet (a VPN that came up over it). Netlink messages are not
 * interpreted one by one: a burst of them (a VPN connecting) costs one
 * re-read, and that re-read is one dump of the links and one of the
 * routes, whatever the number of VMs (hostlink.c's pass).
 *
 * nftables changes are watched too: when somebody deletes our table (an
 * "nft flush ruleset", a firewall service restarting) every VM would lose
 * its NAT without a word, so the table is put back.
 *
 * The host's resolv.conf is watched with inotify (the file itself, for
 * in-place rewrites and bind mounts, and its directory, for the rename
 * that most tools do) and, as a fallback for what inotify cannot see, by a
 * slow stat() poll. A change sends every VM a new configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <event2/event.h>

#include "host-netd.h"
#include "log.h"

#define DEBOUNCE_MS		200
#define RESOLV_POLL_MS		2000
#define HOST_RESOLV_CONF	"/etc/resolv.conf"

static struct {
	struct vmn_nl	 nl;
	struct event	*nl_ev;
	struct event	*debounce_ev;
	struct vmn_nl	 nft;
	struct event	*nft_ev;
	struct event	*nft_check_ev;
	int		 ino_fd;
	int		 ino_file_wd;
	int		 ino_dir_wd;
	struct event	*ino_ev;
	struct event	*dns_ev;	/* debounce and poll */
	struct stat	 resolv_st;
	uint64_t	 resolv_hash;	/* of its bytes: touched is not changed */
} mon = { .ino_fd = -1, .ino_file_wd = -1, .ino_dir_wd = -1 };

static void
arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &tv);
}

/* ---- links, routes, MTU --------------------------------------------- */

static void
check_collisions(void)
{
	static struct vmn_prefix routes[4096];
	static int oifs[4096];
	char a[VMN_PREFIX_STRLEN], b[VMN_PREFIX_STRLEN];
	struct vm *vm;
	int n, i;

	if ((n = hostlink_routes(&hostd->nl, routes, oifs, 4096)) < 0)
		return;
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		const char *hit = NULL;

		for (i = 0; i < n && vm->ifindex > 0; i++) {
			if (oifs[i] == vm->ifindex ||
			    routes[i].ip.family != AF_INET ||
			    routes[i].plen <= 1 ||
			    routes[i].plen == 32 ||
			    !vmn_prefix_overlap(&routes[i], &vm->subnet4))
				continue;
			hit = vmn_prefix_ntop(&routes[i], a, sizeof(a));
			break;
		}
		/* Once per route, remembered by the VM it concerns. */
		if (hit && strcmp(vm->route_warned, hit) != 0) {
			log_warnx("vm %s: host route %s now overlaps its subnet "
			    "%s; the VM may not reach those addresses (it "
			    "moves to a free subnet on its next start)",
			    vm->conf.name, hit,
			    vmn_prefix_ntop(&vm->subnet4, b, sizeof(b)));
			snprintf(vm->route_warned, sizeof(vm->route_warned),
			    "%s", hit);
		} else if (!hit) {
			vm->route_warned[0] = '\0';
		}
	}
}

/* One pass over every VM: the host's links and routes read once. */
static void
debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm;

	hostlink_pass_begin();
	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm->ifindex > 0 &&
		    hostlink_exists(&hostd->nl, vm->ifindex,
		    vm->conf.host_ifname) == 0)
			vm_link_lost(vm);
	vms_update_mtu();
	mirror_host_changed();
	check_collisions();
	hostlink_pass_end();
}

static void
nl_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192];
	ssize_t n;
	int drained = 0;

	/* Contents do not matter: any change triggers one re-read. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 ||
	    (n < 0 && errno == ENOBUFS))
		drained++;
	if (drained)
		arm(mon.debounce_ev, DEBOUNCE_MS);
}

/* ---- our nftables table --------------------------------------------- */

static void
nft_check_cb(evutil_socket_t fd, short what, void *arg)
{
	if (hostd->shutting_down || nat_present())
		return;
	log_warnx("table inet %s was removed by someone else (nft flush "
	    "ruleset?); restoring it", HOSTD_NFT_TABLE);
	if (vms_apply_tables() < 0)
		log_warnx("could not restore table inet %s", HOSTD_NFT_TABLE);
}

static int
nft_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES &&
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELTABLE)
		*(bool *)data = true;
	return MNL_CB_OK;
}

static void
nft_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool deleted = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 ||
	    (n < 0 && errno == ENOBUFS)) {
		if (n < 0) {
			deleted = true;	/* overrun: check to be sure */
			continue;
		}
		/* Notifications: no sequence number or port to check. */
		mnl_cb_run(buf, (size_t)n, 0, 0, nft_msg_cb, &deleted);
	}
	/* Our own replacement batches delete it too: check once it settles. */
	if (deleted)
		arm(mon.nft_check_ev, DEBOUNCE_MS);
}

/* ---- resolv.conf ---------------------------------------------------- */

static void
watch_resolv_file(void)
{
	if (mon.ino_fd < 0)
		return;
	if (mon.ino_file_wd >= 0)
		inotify_rm_watch(mon.ino_fd, mon.ino_file_wd);
	mon.ino_file_wd = inotify_add_watch(mon.ino_fd, HOST_RESOLV_CONF,
	    IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |
	    IN_MOVE_SELF);
}

static bool
dns_equal(const struct hostdns *a, const struct hostdns *b)
{
	unsigned i;

	if (a->nservers != b->nservers || a->nsearch != b->nsearch ||
	    strcmp(a->options, b->options) != 0)
		return false;
	for (i = 0; i < a->nservers; i++)
		if (!vmn_ip_equal(&a->servers[i], &b->servers[i]))
			return false;
	for (i = 0; i < a->nsearch; i++)
		if (strcmp(a->search[i], b->search[i]) != 0)
			return false;
	return true;
}

/* A file's bytes, hashed (FNV-1a): to tell a rewrite from a change. 0: none. */
uint64_t
file_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t buf[4096];
	ssize_t n, i;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ull;
		}
	close(fd);
	return h;
}

static void
dns_reload(void)
{
	struct hostdns dns;
	char ip[VMN_IP_STRLEN];
	uint64_t h;
	int rc;

	stat(HOST_RESOLV_CONF, &mon.resolv_st);
	watch_resolv_file();
	if ((h = file_hash(HOST_RESOLV_CONF)) == mon.resolv_hash)
		return;		/* rewritten with the same bytes */
	mon.resolv_hash = h;
	/* The tunnel uses every resolver, loopback ones included. */
	engine_dns_reload();
	rc = hostdns_load(&dns);
	events_resolver(&dns);
	if (rc < 0 || dns_equal(&dns, &hostd->dns))
		return;
	hostd->dns = dns;
	log_info("host DNS changed: %u nameserver%s%s%s", dns.nservers,
	    dns.nservers == 1 ? "" : "s", dns.nservers ? ", first " : "",
	    dns.nservers ? vmn_ip_ntop(&dns.servers[0], ip, sizeof(ip)) : "");
	vms_push_all();
}

static bool
resolv_changed(void)
{
	struct stat st;

	if (stat(HOST_RESOLV_CONF, &st) < 0)
		return mon.resolv_st.st_ino != 0;
	return st.st_ino != mon.resolv_st.st_ino ||
	    st.st_dev != mon.resolv_st.st_dev ||
	    st.st_size != mon.resolv_st.st_size ||
	    st.st_mtim.tv_sec != mon.resolv_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != mon.resolv_st.st_mtim.tv_nsec;
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { RESOLV_POLL_MS / 1000,
	    (RESOLV_POLL_MS % 1000) * 1000 };

	if (resolv_changed())
		dns_reload();
	evtimer_add(mon.dns_ev, &tv);
}

static void
inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool relevant = false;
	ssize_t n;
	char *p;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->wd == mon.ino_file_wd ||
			    (ev->len && strcmp(ev->name, "resolv.conf") == 0))
				relevant = true;
		}
	}
	if (relevant) {
		/* Settle first: editors write in several steps. */
		struct timeval tv = { 0, DEBOUNCE_MS * 1000 };

		evtimer_del(mon.dns_ev);
		evtimer_add(mon.dns_ev, &tv);
		mon.resolv_st.st_ino = 0;	/* force the re-read */
		mon.resolv_st.st_size = -1;
	}
}

int
monitor_start(void)
{
	struct timeval tv = { RESOLV_POLL_MS / 1000, 0 };
	int rc;

	rc = vmn_nl_open(&mon.nl, NETLINK_ROUTE, RTMGRP_LINK |
	    RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
	    RTMGRP_IPV6_ROUTE);
	if (rc < 0)
		return rc;
	mon.nl_ev = event_new(hostd->base, vmn_nl_fd(&mon.nl),
	    EV_READ | EV_PERSIST, nl_cb, NULL);
	mon.debounce_ev = evtimer_new(hostd->base, debounce_cb, NULL);
	mon.dns_ev = evtimer_new(hostd->base, dns_timer_cb, NULL);
	if (!mon.nl_ev || !mon.debounce_ev || !mon.dns_ev)
		return -ENOMEM;
	event_add(mon.nl_ev, NULL);

	mon.nft_check_ev = evtimer_new(hostd->base, nft_check_cb, NULL);
	if (vmn_nl_open(&mon.nft, NETLINK_NETFILTER,
	    1u << (NFNLGRP_NFTABLES - 1)) == 0) {
		mon.nft_ev = event_new(hostd->base, vmn_nl_fd(&mon.nft),
		    EV_READ | EV_PERSIST, nft_cb, NULL);
		event_add(mon.nft_ev, NULL);
	} else {
		log_warn("cannot watch nftables; a flushed ruleset will not "
		    "be noticed");
	}

	stat(HOST_RESOLV_CONF, &mon.resolv_st);
	mon.resolv_hash = file_hash(HOST_RESOLV_CONF);
	mon.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (mon.ino_fd >= 0) {
		mon.ino_dir_wd = inotify_add_watch(mon.ino_fd, "/etc",
		    IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE);
		watch_resolv_file();
		mon.ino_ev = event_new(hostd->base, mon.ino_fd,
		    EV_READ | EV_PERSIST, inotify_cb, NULL);
		event_add(mon.ino_ev, NULL);
	} else {
		log_warn("inotify; polling resolv.conf instead");
	}
	evtimer_add(mon.dns_ev, &tv);
	return 0;
}

void
monitor_stop(void)
{
	if (mon.nl_ev)
		event_free(mon.nl_ev);
	if (mon.debounce_ev)
		event_free(mon.debounce_ev);
	if (mon.nft_ev)
		event_free(mon.nft_ev);
	if (mon.nft_check_ev)
		event_free(mon.nft_check_ev);
	if (mon.nft.sock)
		vmn_nl_close(&mon.nft);
	if (mon.dns_ev)
		event_free(mon.dns_ev);
	if (mon.ino_ev)
		event_free(mon.ino_ev);
	if (mon.ino_fd >= 0)
		close(mon.ino_fd);
	vmn_nl_close(&mon.nl);
	memset(&mon, 0, sizeof(mon));
	mon.ino_fd = mon.ino_file_wd = mon.ino_dir_wd = -1;
}
