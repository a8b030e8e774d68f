/*
 * reconcile.c - host-netd: which ports to forward, decided without sockets
 *
 * The state hostfwd.c reconciles its bound ports with: the guest's
 * listeners as reported (kept whether or not they are forwarded, so that
 * a rule that changes brings their ports back without the guest's help),
 * the rules that say which of them get an automatic forward, and the
 * reverse forwards' records across reloads. Plain tables and functions of
 * them, so that the unit tests can run every case without a socket.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "reconcile.h"
#include "sockets.h"

/* ---- the guest's listeners ------------------------------------------------ */

int
glisteners_init(struct glisteners *gl, unsigned max)
{
	gl->l = NULL;
	gl->n = gl->size = 0;
	gl->max = max;
	return 0;
}

void
glisteners_free(struct glisteners *gl)
{
	free(gl->l);
	gl->l = NULL;
	gl->n = gl->size = gl->max = 0;
}

struct glistener *
glisteners_find(const struct glisteners *gl, uint8_t proto, uint16_t port)
{
	unsigned i;

	for (i = 0; i < gl->n; i++)
		if (gl->l[i].proto == proto && gl->l[i].port == port)
			return &gl->l[i];
	return NULL;
}

static uint8_t
fam_bit(uint8_t family)
{
	return family == AF_INET6 ? FAM_V6 : FAM_V4;
}

/*
 * 1: a port not listened on before; 0: one known; -ENOSPC: table full
 * (or -ENOMEM).
 */
int
glisteners_add(struct glisteners *gl, uint8_t proto, uint8_t family,
    uint16_t port)
{
	struct glistener *l = glisteners_find(gl, proto, port);
	unsigned size;
	int rc = 0;

	if (!l) {
		if (gl->n >= gl->max)
			return -ENOSPC;
		if (gl->n == gl->size) {
			size = gl->size ? gl->size * 2 : 8;
			if (size > gl->max)
				size = gl->max;
			if (!(l = reallocarray(gl->l, size, sizeof(*l))))
				return -ENOMEM;
			gl->l = l;
			gl->size = size;
		}
		l = &gl->l[gl->n++];
		memset(l, 0, sizeof(*l));
		l->proto = proto;
		l->port = port;
		rc = 1;
	}
	l->families |= fam_bit(family);
	l->stale = false;
	return rc;
}

void
glisteners_del(struct glisteners *gl, uint8_t proto, uint8_t family,
    uint16_t port)
{
	struct glistener *l = glisteners_find(gl, proto, port);

	if (!l)
		return;
	l->families &= (uint8_t)~fam_bit(family);
	l->wild &= (uint8_t)~fam_bit(family);
	if (l->families == 0)
		*l = gl->l[--gl->n];
}

/* Whether the listener on port is on a wildcard address, for family. */
void
glisteners_set_wild(struct glisteners *gl, uint8_t proto, uint8_t family,
    uint16_t port, bool wild)
{
	struct glistener *l = glisteners_find(gl, proto, port);

	if (!l)
		return;
	if (wild)
		l->wild |= fam_bit(family);
	else
		l->wild &= (uint8_t)~fam_bit(family);
}

/* The guest connected again: its listeners will be listed anew. */
void
glisteners_mark_stale(struct glisteners *gl)
{
	unsigned i;

	for (i = 0; i < gl->n; i++)
		gl->l[i].stale = true;
}

/* The new list is complete: what was not in it is gone. */
void
glisteners_sweep(struct glisteners *gl)
{
	unsigned i = 0;

	while (i < gl->n) {
		if (gl->l[i].stale)
			gl->l[i] = gl->l[--gl->n];
		else
			i++;
	}
}

/* ---- automatic forwards ---------------------------------------------------- */

/*
 * Ports a guest listens on for its own network, not as a service for the
 * host's programs: never forwarded automatically (a static forward can).
 */
static const struct {
	uint8_t		 proto;
	uint16_t	 port;
	const char	*what;
} ignored[] = {
	{ IPPROTO_UDP, 67, "DHCP" },
	{ IPPROTO_UDP, 68, "DHCP" },
	{ IPPROTO_UDP, 5353, "mDNS" },
	{ IPPROTO_UDP, 5355, "LLMNR" },
};

/* What the port is for when it is on the ignore list; NULL if not. */
const char *
auto_ignored(uint8_t proto, uint16_t port)
{
	size_t i;

	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (ignored[i].proto == proto && ignored[i].port == port)
			return ignored[i].what;
	return NULL;
}

/* Whether binding addr takes the loopback port an auto forward would use. */
bool
static_covers_loopback(const struct vmn_ip *addr)
{
	struct vmn_ip lo;

	if (vmn_ip_is_unspecified(addr))
		return true;
	fwd_loopback(addr->family, &lo);
	return vmn_ip_equal(addr, &lo);
}

/* Which loopback families static forwards hold this port on. */
uint8_t
statics_holding(const struct hostfwd_static *st, unsigned nst, uint8_t proto,
    uint16_t port)
{
	uint8_t held = 0;
	unsigned i;

	for (i = 0; i < nst; i++)
		if (st[i].proto == proto && st[i].host_port == port &&
		    static_covers_loopback(&st[i].addr))
			held |= fam_bit(st[i].addr.family);
	return held;
}

/*
 * Whether the guest's listener l (NULL: none) on proto/port gets an
 * automatic forward, and on which loopback families: it does while the
 * guest listens, auto-forward is on, the port is not on the ignore list
 * nor one only privileged programs may bind on the host (unless the rules
 * allow those), and static forwards leave it a loopback address. A
 * forwarding rule that matches decides before the ignore list and the
 * privileged ports: ignore, or forward (on its address if it has one). A guest
 * that announces port 22 must not get the host's 127.0.0.1:22 the moment
 * the host's own server is down.
 */
/* The first forwarding rule that matches proto/port, or NULL. */
const struct hostfwd_rule *
auto_rule(const struct auto_rules *r, uint8_t proto, uint16_t port)
{
	unsigned i, bit = proto == IPPROTO_TCP ? HOSTFWD_TCP : HOSTFWD_UDP;

	for (i = 0; i < r->nrules; i++)
		if ((!r->rules[i].protos || (r->rules[i].protos & bit)) &&
		    port >= r->rules[i].lo && port <= r->rules[i].hi)
			return &r->rules[i];
	return NULL;
}

void
auto_decide(const struct auto_rules *r, const struct glistener *l,
    uint8_t proto, uint16_t port, struct auto_want *w)
{
	w->families = l ? l->families : 0;
	w->held = statics_holding(r->st, r->nst, proto, port);
	w->rule = auto_rule(r, proto, port);
	if (!w->families)
		w->verdict = AUTO_NOT_LISTENING;
	else if (!r->enabled)
		w->verdict = AUTO_DISABLED;
	else if (w->rule && w->rule->ignore)
		w->verdict = AUTO_RULE_IGNORED;
	else if (w->rule && w->rule->addr.family)
		w->verdict = AUTO_FORWARD;	/* on its address: no loopback */
	else if (w->rule)
		w->verdict = w->held == FAM_BOTH ? AUTO_HELD : AUTO_FORWARD;
	else if (auto_ignored(proto, port))
		w->verdict = AUTO_IGNORED;
	else if (!r->privileged && port < r->unpriv_start)
		w->verdict = AUTO_PRIVILEGED;
	else if (w->held == FAM_BOTH)
		w->verdict = AUTO_HELD;
	else
		w->verdict = AUTO_FORWARD;
}

/* ---- reverse forwards -------------------------------------------------------- */

struct rfwd_state *
rfwds_find(struct rfwd_state *r, unsigned n, uint8_t proto, uint16_t port)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (r[i].f.proto == proto && r[i].f.port == port)
			return &r[i];
	return NULL;
}

/*
 * The configuration's reverse forwards replace cur's (both at most
 * HOSTFWD_MAX_RFWDS), each keeping the counters and last error it had
 * under the same port: how many are in cur now.
 */
unsigned
rfwds_merge(struct rfwd_state *cur, unsigned ncur,
    const struct hostfwd_rfwd *rv, unsigned nrv)
{
	struct rfwd_state old[HOSTFWD_MAX_RFWDS], *o;
	unsigned i, n = nrv < HOSTFWD_MAX_RFWDS ? nrv : HOSTFWD_MAX_RFWDS;

	if (ncur > HOSTFWD_MAX_RFWDS)
		ncur = HOSTFWD_MAX_RFWDS;
	memcpy(old, cur, ncur * sizeof(*old));
	for (i = 0; i < n; i++) {
		memset(&cur[i], 0, sizeof(cur[i]));
		cur[i].f = rv[i];
		if ((o = rfwds_find(old, ncur, rv[i].proto, rv[i].port))) {
			cur[i].conns = o->conns;
			memcpy(cur[i].error, o->error, sizeof(o->error));
		}
	}
	return n;
}
