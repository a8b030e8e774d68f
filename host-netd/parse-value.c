/*
 * parse-value.c - host-netd.conf(5): what each kind of argument accepts
 *
 * Each arg_* function takes the next token as one argument, converts it
 * and checks its range; tok_* convert the token already read.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "parse.h"

const char *const mode_names[VM_MODE__MAX] = { "nat", "mirrored", "none" };
const char *const link_names[VM_LINK__MAX] = { "tap", "veth", "none" };
const char *const dns_names[DNS_MODE__MAX] = { "tunnel", "host", "none" };
static const char *const state_names[] = {
	"down", "waiting", "configuring", "online", "failed" };
_Static_assert(sizeof(state_names) / sizeof(*state_names) == VM_S__MAX, "states");

const char *
vm_mode_name(enum vm_mode m)
{
	return (unsigned)m < VM_MODE__MAX ? mode_names[m] : "unknown";
}

const char *
vm_link_name(enum vm_link_kind k)
{
	return (unsigned)k < VM_LINK__MAX ? link_names[k] : "unknown";
}

const char *
dns_mode_name(enum dns_mode m)
{
	return (unsigned)m < DNS_MODE__MAX ? dns_names[m] : "unknown";
}

const char *
vm_state_name(enum vm_state s)
{
	return (unsigned)s < VM_S__MAX ? state_names[s] : "unknown";
}

/* ---- numbers and words ---------------------------------------------- */

/* The current token as a number from lo to hi (alt: what else it may be). */
bool
tok_u32_or(struct parser *p, const char *what, const char *alt, uint32_t lo,
    uint32_t hi, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(p->text, &end, 10);
	if (!isdigit((unsigned char)p->text[0]) || *end || errno ||
	    v < lo || v > hi) {
		perr(p, p->tok_line, "%s must be %s%sa number from %u to %u",
		    what, alt ? alt : "", alt ? " or " : "", lo, hi);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool
arg_u32(struct parser *p, const char *what, uint32_t lo, uint32_t hi,
    uint32_t *out)
{
	return arg(p, what) && tok_u32_or(p, what, NULL, lo, hi, out);
}

/* One of words: its index, or -1. */
int
arg_word(struct parser *p, const char *what, const char *const *words,
    size_t n)
{
	size_t i;

	if (!arg(p, what))
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(p->text, words[i]) == 0)
			return (int)i;
	perr(p, p->tok_line, "unknown %s \"%s\"", what, p->text);
	return -1;
}

bool
arg_yesno(struct parser *p, const char *what, bool *out)
{
	if (!arg(p, what))
		return false;
	if (strcmp(p->text, "yes") == 0 || strcmp(p->text, "no") == 0) {
		*out = strcmp(p->text, "yes") == 0;
		return true;
	}
	perr(p, p->tok_line, "%s must be yes or no, not \"%s\"", what,
	    p->text);
	return false;
}

/* ---- paths and names ------------------------------------------------ */

bool
arg_path(struct parser *p, const char *what, char *dst, size_t size)
{
	if (!arg(p, what))
		return false;
	if (p->text[0] != '/') {
		perr(p, p->tok_line, "%s must be an absolute path", what);
		return false;
	}
	if (strlen(p->text) >= size) {
		perr(p, p->tok_line, "%s is too long", what);
		return false;
	}
	strcpy(dst, p->text);
	return true;
}

bool
ifname_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= IFNAMSIZ || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

bool
arg_ifname(struct parser *p, const char *what, char dst[IFNAMSIZ])
{
	if (!arg(p, what))
		return false;
	if (!ifname_ok(p->text)) {
		perr(p, p->tok_line, "%s \"%s\" is not a valid interface name "
		    "(1-15 letters, digits, '-', '_', '.')", what, p->text);
		return false;
	}
	strcpy(dst, p->text);
	return true;
}

bool
vm_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > VM_NAME_MAX || !isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

/* ---- addresses ------------------------------------------------------ */

bool
tok_prefix(struct parser *p, const char *what, int family,
    struct vmn_prefix *out)
{
	char buf[VMN_PREFIX_STRLEN];
	struct vmn_prefix norm;

	if (vmn_prefix_parse(p->text, out) < 0 || !strchr(p->text, '/') ||
	    (family && out->ip.family != family)) {
		perr(p, p->tok_line, "%s: \"%s\" is not an %s prefix", what,
		    p->text, family == AF_INET6 ? "IPv6" : "IPv4");
		return false;
	}
	norm = *out;
	vmn_prefix_normalize(&norm);
	if (!vmn_ip_equal(&norm.ip, &out->ip)) {
		perr(p, p->tok_line, "%s: %s has host bits set (did you mean "
		    "%s?)", what, p->text,
		    vmn_prefix_ntop(&norm, buf, sizeof(buf)));
		return false;
	}
	return true;
}

bool
arg_prefix(struct parser *p, const char *what, int family,
    struct vmn_prefix *out)
{
	return arg(p, what) && tok_prefix(p, what, family, out);
}

/* A VM subnet or pool must be ordinary unicast space. */
bool
unicast4_ok(struct parser *p, const char *what, const struct vmn_prefix *pf)
{
	uint8_t first = pf->ip.u.b[0];

	if (pf->plen < 8 || first == 0 || first == 127 || first >= 224) {
		perr(p, p->tok_line, "%s must be unicast space (not 0/8, "
		    "127/8, multicast or reserved, and /8 or longer)", what);
		return false;
	}
	return true;
}

/* An address a guest can own on lo: unicast, not loopback or "any". */
bool
tunnel_addr_ok(const struct vmn_ip *ip)
{
	const uint8_t *b = ip->u.b;

	if (vmn_ip_is_loopback(ip))
		return false;
	if (ip->family == AF_INET)
		return b[0] != 0 && b[0] < 224;
	return !IN6_IS_ADDR_UNSPECIFIED(&ip->u.v6) &&
	    !IN6_IS_ADDR_MULTICAST(&ip->u.v6);
}
