/*
 * hostdns.c - host-netd: the host's nameservers and search domains
 *
 * For "dns host" mode the guest gets the host's resolvers. A loopback
 * resolver (systemd-resolved's 127.0.0.53, a local dnsmasq) is useless to
 * a guest, so such entries are dropped; if nothing is left and
 * systemd-resolved is in use, its list of real upstream servers is read
 * instead.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-netd.h"
#include "log.h"

#define HOST_RESOLV_CONF	"/etc/resolv.conf"
#define RESOLVED_UPSTREAMS	"/run/systemd/resolve/resolv.conf"

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
add_search(struct hostdns *dns, char *list)
{
	char *save = NULL, *tok;

	dns->nsearch = 0;	/* the last search/domain line wins */
	for (tok = strtok_r(list, " \t", &save); tok;
	    tok = strtok_r(NULL, " \t", &save)) {
		size_t len = strlen(tok);

		if (tok[len - 1] == '.' && len > 1)
			tok[--len] = '\0';	/* "example.com." */
		if (dns->nsearch >= VMN_NC_MAX_SEARCH ||
		    len >= VMN_NC_DOMAIN_MAX || strcmp(tok, ".") == 0)
			continue;
		strcpy(dns->search[dns->nsearch++], tok);
	}
}

/* Parses one resolv.conf; loopback nameservers are skipped. */
int
hostdns_read(const char *path, struct hostdns *dns)
{
	char line[1024], *p, *kw, *rest, *save = NULL;
	unsigned skipped = 0;
	FILE *f;

	memset(dns, 0, sizeof(*dns));
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((p = strpbrk(line, "#;")))
			*p = '\0';
		if (!printable(line) || !(kw = strtok_r(line, " \t", &save)))
			continue;
		rest = save ? save + strspn(save, " \t") : NULL;
		if (strcmp(kw, "nameserver") == 0 && rest) {
			struct vmn_ip ip;
			char *pct;

			rest[strcspn(rest, " \t")] = '\0';
			if ((pct = strchr(rest, '%')))
				*pct = '\0';	/* fe80::1%eth0: not for a guest */
			if (vmn_ip_parse(rest, &ip) < 0)
				continue;
			if (vmn_ip_is_loopback(&ip) || (pct != NULL)) {
				skipped++;
				continue;
			}
			if (dns->nservers < VMN_NC_MAX_SERVERS)
				dns->servers[dns->nservers++] = ip;
		} else if ((strcmp(kw, "search") == 0 ||
		    strcmp(kw, "domain") == 0) && rest) {
			add_search(dns, rest);
		} else if (strcmp(kw, "options") == 0 && rest) {
			snprintf(dns->options, sizeof(dns->options), "%s", rest);
		}
	}
	fclose(f);
	return (int)skipped;
}

int
hostdns_load(struct hostdns *dns)
{
	struct hostdns resolved;
	int skipped;

	skipped = hostdns_read(HOST_RESOLV_CONF, dns);
	if (skipped < 0) {
		log_warnx("%s: %s; guests get no nameservers",
		    HOST_RESOLV_CONF, strerror(-skipped));
		memset(dns, 0, sizeof(*dns));
		return skipped;
	}
	if (dns->nservers == 0 && skipped > 0 &&
	    hostdns_read(RESOLVED_UPSTREAMS, &resolved) >= 0 &&
	    resolved.nservers > 0) {
		memcpy(dns->servers, resolved.servers, sizeof(dns->servers));
		dns->nservers = resolved.nservers;
		if (dns->nsearch == 0) {
			memcpy(dns->search, resolved.search,
			    sizeof(dns->search));
			dns->nsearch = resolved.nsearch;
		}
	}
	if (dns->nservers == 0)
		log_warnx("%s lists no nameserver a guest can reach",
		    HOST_RESOLV_CONF);
	return 0;
}
