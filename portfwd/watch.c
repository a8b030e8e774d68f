/*
 * watch.c - guest-netd: which ports the guest's programs listen on
 *
 * Theory of operation
 *
 * The kernel announces sockets that close (sock_diag destroy groups) but
 * not sockets that start listening, so the guest's sockets are dumped
 * with NETLINK_SOCK_DIAG every PORTWATCH_INTERVAL_MS: TCP sockets in
 * LISTEN and unconnected UDP sockets, IPv4 and IPv6. A listener is a
 * (protocol, family, port) whose flags say where its sockets can be
 * reached from: localhost (bound to 0.0.0.0, ::, 127.0.0.1 or ::1) and
 * outside (bound to a wildcard or another address, what mirrored mode
 * exposes). Four small dumps a tenth of a second cost well under a
 * thousandth of a CPU. Each scan is compared with the last one and the
 * difference reported: listener added (or its flags changed), removed.
 *
 * A UDP socket bound to a port in the ephemeral range is a client's
 * (a resolver library's, say), not a server: it is not reported. Ports
 * guest-netd itself listens on for reverse forwards are ignored, or they
 * would be forwarded back to the host they come from, and so are sockets
 * on its DNS tunnel address.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

#include <event2/event.h>

#include "log.h"
#include "nl.h"
#include "sysctl.h"
#include "watch.h"
#include "wire.h"

#define TCP_LISTEN_STATE	10
#define TCP_CLOSE_STATE		7
#define MAX_IGNORED		64

struct snapshot {
	unsigned	 n;
	struct listener	 l[PORTWATCH_MAX];
};

struct portwatch {
	struct vmn_nl	 nl;
	struct event	*timer;
	portwatch_fn	 fn;
	void		*arg;
	struct snapshot	 cur, next;
	uint16_t	 eph_lo, eph_hi;	/* ip_local_port_range */
	unsigned	 nignored;
	struct {
		uint8_t		proto;
		uint16_t	port;
	} ignored[MAX_IGNORED];
	bool		 overflow_warned;
	struct vmn_ip	 ignored_addr;	/* family 0: none */
};

int
listener_cmp(const struct listener *a, const struct listener *b)
{
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return 0;
}

static int
cmp_qsort(const void *a, const void *b)
{
	return listener_cmp(a, b);
}

static bool
ignored(const struct portwatch *w, uint8_t proto, uint16_t port)
{
	unsigned i;

	for (i = 0; i < w->nignored; i++)
		if (w->ignored[i].proto == proto && w->ignored[i].port == port)
			return true;
	return false;
}

/* Wildcards reach both; 127.0.0.1 and ::1 localhost; others outside. */
static uint8_t
address_flags(int family, const uint32_t *a)
{
	bool zero, loop;

	if (family == AF_INET) {
		zero = a[0] == 0;
		loop = (ntohl(a[0]) >> 24) == 127;
	} else {
		zero = a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0;
		loop = a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == htonl(1);
	}
	if (zero)
		return VMN_LISTEN_LOOPBACK | VMN_LISTEN_EXPOSED;
	return loop ? VMN_LISTEN_LOOPBACK : VMN_LISTEN_EXPOSED;
}

struct scan_ctx {
	struct portwatch	*w;
	uint8_t			 proto;
};

static int
diag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct scan_ctx *sc = data;
	struct portwatch *w = sc->w;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct listener *l;
	uint16_t port;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*m)))
		return MNL_CB_OK;
	port = ntohs(m->id.idiag_sport);
	if (port == 0 || (m->idiag_family == w->ignored_addr.family &&
	    memcmp(m->id.idiag_src, &w->ignored_addr.u,
	    vmn_ip_len(m->idiag_family)) == 0))
		return MNL_CB_OK;
	if (sc->proto == IPPROTO_UDP) {
		/* A server's UDP socket is bound, not connected. */
		if (m->idiag_state != TCP_CLOSE_STATE || m->id.idiag_dport != 0)
			return MNL_CB_OK;
		if (port >= w->eph_lo && port <= w->eph_hi)
			return MNL_CB_OK;
	}
	if (ignored(w, sc->proto, port))
		return MNL_CB_OK;
	if (w->next.n >= PORTWATCH_MAX) {
		if (!w->overflow_warned)
			log_warnx("more than %d listening ports; the rest are "
			    "not forwarded", PORTWATCH_MAX);
		w->overflow_warned = true;
		return MNL_CB_OK;
	}
	l = &w->next.l[w->next.n++];
	l->proto = sc->proto;
	l->family = m->idiag_family;
	l->port = port;
	l->flags = address_flags(m->idiag_family, m->id.idiag_src);
	return MNL_CB_OK;
}

static int
dump(struct portwatch *w, uint8_t family, uint8_t proto)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = proto,
		.idiag_states = proto == IPPROTO_TCP ? 1u << TCP_LISTEN_STATE :
		    1u << TCP_CLOSE_STATE,
	};
	struct scan_ctx sc = { .w = w, .proto = proto };
	unsigned before = w->next.n;
	int rc, tries;

	for (tries = 0; tries < 3; tries++) {
		w->next.n = before;
		rc = vmn_nl_dump(&w->nl, vmn_nl_new(&w->nl, SOCK_DIAG_BY_FAMILY,
		    0, &req, sizeof(req)), diag_cb, &sc);
		if (rc != -EINTR)
			break;
	}
	return rc;
}

static void
read_ephemeral_range(struct portwatch *w)
{
	char buf[64];
	unsigned lo, hi;

	w->eph_lo = 32768;
	w->eph_hi = 60999;
	if (vmn_sysctl_read("/proc/sys/net/ipv4/ip_local_port_range", buf,
	    sizeof(buf)) == 0 && sscanf(buf, "%u %u", &lo, &hi) == 2 &&
	    lo <= hi && hi <= 65535) {
		w->eph_lo = (uint16_t)lo;
		w->eph_hi = (uint16_t)hi;
	}
}

/* Scans now; reports what changed since the last scan. */
int
portwatch_scan(struct portwatch *w)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct snapshot *old = &w->cur, *new = &w->next;
	unsigned i, j, n;
	int rc;

	new->n = 0;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if ((rc = dump(w, families[i], protos[j])) < 0 &&
			    rc != -ENOENT)	/* no IPv6, no UDP diag */
				return rc;
	qsort(new->l, new->n, sizeof(new->l[0]), cmp_qsort);
	/* Several sockets, one listener: its flags are theirs together. */
	for (i = n = 0; i < new->n; i++)
		if (n == 0 || listener_cmp(&new->l[n - 1], &new->l[i]) != 0)
			new->l[n++] = new->l[i];
		else
			new->l[n - 1].flags |= new->l[i].flags;
	new->n = n;

	/* A sorted merge gives what came and what went. */
	for (i = j = 0; i < old->n || j < new->n;) {
		int c = i == old->n ? 1 : j == new->n ? -1 :
		    listener_cmp(&old->l[i], &new->l[j]);

		if (c < 0)
			w->fn(&old->l[i++], false, w->arg);
		else if (c > 0)
			w->fn(&new->l[j++], true, w->arg);
		else if (old->l[i++].flags != new->l[j].flags)
			w->fn(&new->l[j++], true, w->arg);
		else
			j++;
	}
	w->cur = *new;
	return 0;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct portwatch *w = arg;
	int rc;

	if ((rc = portwatch_scan(w)) < 0)
		log_debug("listener scan: %s", strerror(-rc));
}

struct portwatch *
portwatch_new(struct event_base *base, portwatch_fn fn, void *arg)
{
	struct timeval tv = { 0, PORTWATCH_INTERVAL_MS * 1000 };
	struct portwatch *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return NULL;
	w->fn = fn;
	w->arg = arg;
	read_ephemeral_range(w);
	if ((rc = vmn_nl_open(&w->nl, NETLINK_SOCK_DIAG, 0)) < 0) {
		log_warnx("sock_diag: %s; ports will not be forwarded",
		    strerror(-rc));
		free(w);
		return NULL;
	}
	w->timer = event_new(base, -1, EV_PERSIST, timer_cb, w);
	event_add(w->timer, &tv);
	return w;
}

void
portwatch_free(struct portwatch *w)
{
	if (!w)
		return;
	event_free(w->timer);
	vmn_nl_close(&w->nl);
	free(w);
}

/* The current listeners, sorted. */
unsigned
portwatch_list(const struct portwatch *w, const struct listener **out)
{
	*out = w->cur.l;
	return w->cur.n;
}

/* Sockets on ip (guest-netd's DNS tunnel address) are not reported. */
void
portwatch_ignore_address(struct portwatch *w, const struct vmn_ip *ip)
{
	if (ip)
		w->ignored_addr = *ip;
	else
		memset(&w->ignored_addr, 0, sizeof(w->ignored_addr));
}

/* Ports of guest-netd's own (reverse forwards) are not reported. */
void
portwatch_ignore(struct portwatch *w, uint8_t proto, uint16_t port,
    bool ignore)
{
	unsigned i;

	for (i = 0; i < w->nignored; i++)
		if (w->ignored[i].proto == proto && w->ignored[i].port == port) {
			if (!ignore)
				w->ignored[i] = w->ignored[--w->nignored];
			return;
		}
	if (ignore && w->nignored < MAX_IGNORED) {
		w->ignored[w->nignored].proto = proto;
		w->ignored[w->nignored].port = port;
		w->nignored++;
	}
}
