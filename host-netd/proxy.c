/*
 * proxy.c - host-netd: the proxy settings each guest gets
 *
 * A VM's proxy is policy(5)'s proxy block for it (the first that names
 * it, else the first for every VM), or none. follow-host takes the host's
 * own settings from a file of NAME=VALUE lines (/etc/environment by
 * default, as pam_env reads it), read again within a second of a change.
 *
 * A proxy on the host's loopback (127.0.0.1:3128, localhost, [::1]) is
 * nothing a guest could reach by itself. It gets a reverse forward of the
 * port instead: the guest listens on its own 127.0.0.1 and each connection
 * comes out on the host's loopback, in NAT and mirrored mode alike; the
 * guest's settings name its own loopback. The PAC file's URL is treated the
 * same way.
 *
 * Settings are pushed with the configuration, so a changed policy or a
 * changed file reaches running guests at once. A VM that had a proxy and
 * has none any more gets an empty one, which removes the guest's files.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "host-netd.h"
#include "log.h"

#define SOURCE_POLL_MS	1000

/* ---- the host's environment file ---------------------------------------- */

/* NAME=VALUE, NAME="VALUE" or export NAME='VALUE': value into out. */
static bool
env_value(const char *line, const char *name, char *out, size_t len)
{
	size_t n = strlen(name), vlen;
	const char *v;

	while (isspace((unsigned char)*line))
		line++;
	if (strncmp(line, "export ", 7) == 0)
		line += 7;
	if (strncmp(line, name, n) != 0 || line[n] != '=')
		return false;
	v = line + n + 1;
	vlen = strcspn(v, "\r\n");
	if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
		v++;
		vlen -= 2;
	}
	if (vlen >= len)
		return false;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

/*
 * The proxy variables of path: the lower-case spelling wins, as curl
 * has it. Values with spaces or quotes are not proxies; they are left out.
 */
static void
read_source(const char *path, struct vmn_nc_proxy *p)
{
	static const struct {
		const char	*lower, *upper;
		size_t		 off, len;
	} vars[] = {
		{ "http_proxy", "HTTP_PROXY", offsetof(struct vmn_nc_proxy,
		    http), sizeof(((struct vmn_nc_proxy *)0)->http) },
		{ "https_proxy", "HTTPS_PROXY", offsetof(struct vmn_nc_proxy,
		    https), sizeof(((struct vmn_nc_proxy *)0)->https) },
		{ "no_proxy", "NO_PROXY", offsetof(struct vmn_nc_proxy,
		    no_proxy), sizeof(((struct vmn_nc_proxy *)0)->no_proxy) },
	};
	char line[2048], val[1600], *dst;
	bool lower[3] = { false, false, false };
	unsigned i;
	FILE *f;

	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < 3; i++) {
			dst = (char *)p + vars[i].off;
			if (env_value(line, vars[i].lower, val, sizeof(val)))
				lower[i] = true;
			else if (lower[i] || !env_value(line, vars[i].upper,
			    val, sizeof(val)))
				continue;
			if (strlen(val) >= vars[i].len ||
			    strpbrk(val, " \t\"'\\"))
				continue;
			strcpy(dst, val);
		}
	}
	fclose(f);
}

/* ---- loopback proxies -------------------------------------------------------- */

/*
 * If url's host is the host's loopback, its port (from the URL, or the
 * scheme's); the URL is rewritten to the guest's 127.0.0.1. 0 otherwise.
 */
static uint16_t
loopback_port(char *url, size_t len)
{
	char host[256], rest[512], scheme[16];
	const char *p = strstr(url, "://"), *h, *end;
	unsigned long port = 0;
	char *e;

	if (!p || (size_t)(p - url) >= sizeof(scheme))
		return 0;
	snprintf(scheme, sizeof(scheme), "%.*s", (int)(p - url), url);
	h = p + 3;
	if ((end = strchr(h, '@')) && end < h + strcspn(h, "/"))
		h = end + 1;	/* user:password@ */
	if (*h == '[') {
		if (!(end = strchr(h, ']')))
			return 0;
		end++;
	} else
		end = h + strcspn(h, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)(end - h), h);
	if (strcmp(host, "localhost") != 0 && strcmp(host, "[::1]") != 0 &&
	    strncmp(host, "127.", 4) != 0)
		return 0;
	if (*end == ':') {
		port = strtoul(end + 1, &e, 10);
		if (e == end + 1 || port == 0 || port > 65535)
			return 0;
		end = e;
	} else if (strcmp(scheme, "http") == 0)
		port = 80;
	else if (strcmp(scheme, "https") == 0)
		port = 443;
	else
		return 0;
	snprintf(rest, sizeof(rest), "%s", end);
	snprintf(url, len, "%s://%.*s127.0.0.1:%lu%s", scheme,
	    (int)(h - (p + 3)), p + 3, port, rest);
	return (uint16_t)port;
}

static void
add_rfwd(struct vm_proxy *vp, uint16_t port)
{
	unsigned i;

	for (i = 0; i < vp->nrfwds; i++)
		if (vp->rfwds[i].port == port)
			return;
	vp->rfwds[vp->nrfwds].proto = IPPROTO_TCP;
	vp->rfwds[vp->nrfwds].port = port;
	vp->rfwds[vp->nrfwds].guest_port = port;
	vp->nrfwds++;
}

/* ---- a VM's proxy ------------------------------------------------------------ */

void
proxy_for_vm(const struct vm *vm, struct vm_proxy *vp)
{
	const struct policy_proxy *px;
	struct vmn_nc_proxy *nc = &vp->nc;
	char *urls[3];
	size_t sizes[3];
	uint16_t port;
	unsigned i;

	memset(vp, 0, sizeof(*vp));
	px = hostd->policy ? policy_proxy_for(hostd->policy, vm->conf.name) :
	    NULL;
	/* Had one, has none: empty settings take the guest's away. */
	nc->present = px != NULL || vm->proxy_pushed;
	if (!px || px->none)
		return;
	if (px->follow_host)
		read_source(px->source, nc);
	else {
		snprintf(nc->http, sizeof(nc->http), "%s", px->http);
		snprintf(nc->https, sizeof(nc->https), "%s", px->https);
		snprintf(nc->pac, sizeof(nc->pac), "%s", px->pac);
	}
	if (px->no_proxy[0])
		snprintf(nc->no_proxy + strlen(nc->no_proxy),
		    sizeof(nc->no_proxy) - strlen(nc->no_proxy), "%s%s",
		    nc->no_proxy[0] ? "," : "", px->no_proxy);
	urls[0] = nc->http, sizes[0] = sizeof(nc->http);
	urls[1] = nc->https, sizes[1] = sizeof(nc->https);
	urls[2] = nc->pac, sizes[2] = sizeof(nc->pac);
	for (i = 0; i < 3; i++)
		if ((port = loopback_port(urls[i], sizes[i])))
			add_rfwd(vp, port);
}

/* ---- following the host's file -------------------------------------------------- */

static struct {
	struct event	*ev;
	uint64_t	 hash;		/* of every follow-host source */
} watch;

static uint64_t
sources_hash(void)
{
	const struct policy *pol = hostd->policy;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned i;

	for (i = 0; pol && i < pol->nproxies; i++)
		if (pol->proxies[i].follow_host)
			h = (h ^ file_hash(pol->proxies[i].source)) *
			    0x100000001b3ull;
	return h;
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { SOURCE_POLL_MS / 1000, 0 };
	uint64_t h = sources_hash();

	if (h != watch.hash) {
		watch.hash = h;
		log_info("the host's proxy settings changed: pushed to the "
		    "guests that follow them");
		vms_proxy_changed();
	}
	evtimer_add(watch.ev, &tv);
}

/*
 * Polls the files follow-host reads: they are small, and an editor or a
 * package may replace them any way it likes.
 */
int
proxy_watch_start(void)
{
	struct timeval tv = { SOURCE_POLL_MS / 1000, 0 };

	if (!(watch.ev = evtimer_new(hostd->base, poll_cb, NULL)))
		return -ENOMEM;
	watch.hash = sources_hash();
	evtimer_add(watch.ev, &tv);
	return 0;
}

/* The policy was replaced: its sources as they are now are the baseline. */
void
proxy_watch_reset(void)
{
	watch.hash = sources_hash();
}

void
proxy_watch_stop(void)
{
	if (watch.ev)
		event_free(watch.ev);
	watch.ev = NULL;
}
