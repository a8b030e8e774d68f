/*
 * parse-value.c - host-netd.conf(5): what each kind of argument accepts
 *
 * Each arg_* function takes the next token as one argument, converts it
 * and checks its range; tok_* convert the token already read. On a bad
 * value they report what would have been right: the range of a number,
 * the words of a set (and the one a misspelt word was probably meant to
 * be), the prefix without its host bits, how to write a port pair.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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

/* ---- did you mean ... ----------------------------------------------- */

#define WORD_LEN_MAX	32	/* of a keyword or value; longer never match */

/*
 * Edits from a to b: letters inserted, deleted or replaced, and two
 * neighbours swapped (the commonest typing slip), case ignored.
 */
static unsigned
distance(const char *a, const char *b)
{
	unsigned rows[3][WORD_LEN_MAX + 1], *pp, *prev, *cur, *t, v;
	size_t la = strlen(a), lb = strlen(b), i, j;

#define LC(c)	tolower((unsigned char)(c))
	if (lb > WORD_LEN_MAX || la > lb + 2 || lb > la + 2)
		return UINT_MAX;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		cur[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			v = MIN(prev[j], cur[j - 1]) + 1;
			v = MIN(v, prev[j - 1] + (LC(a[i - 1]) != LC(b[j - 1])));
			if (i > 1 && j > 1 && LC(a[i - 1]) == LC(b[j - 2]) &&
			    LC(a[i - 2]) == LC(b[j - 1]))
				v = MIN(v, pp[j - 2] + 1);
			cur[j] = v;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
#undef LC
	return prev[lb];
}

/*
 * The word of words that word was probably meant to be, or NULL: the
 * closest, one edit away for short words and two for longer ones, so that
 * an unrelated word is not "corrected" into a keyword.
 */
const char *
suggest(const char *word, const char *const *words, size_t n)
{
	unsigned most = strlen(word) < 6 ? 1 : 2, best = UINT_MAX, d;
	const char *pick = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if ((d = distance(word, words[i])) <= most && d < best) {
			best = d;
			pick = words[i];
		}
	return pick;
}

/* "a, b or c" */
void
list_words(char *buf, size_t len, const char *const *words, size_t n)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		snprintf(buf + used, len - used, "%s%s", i == 0 ? "" :
		    i + 1 == n ? " or " : ", ", words[i]);
		used += strlen(buf + used);
	}
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

/* One of words: its index, or -1 with the words listed. */
int
arg_word(struct parser *p, const char *what, const char *const *words,
    size_t n)
{
	const char *guess;
	char list[128];
	size_t i;

	list_words(list, sizeof(list), words, n);
	lex_next(p);
	if (p->tok != T_WORD && p->tok != T_STRING) {
		if (p->tok != T_ERROR)
			perr(p, p->tok_line, "missing %s (%s)", what, list);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(p->text, words[i]) == 0)
			return (int)i;
	if ((guess = suggest(p->text, words, n)))
		perr(p, p->tok_line, "unknown %s \"%s\": did you mean %s? (%s)",
		    what, p->text, guess, list);
	else
		perr(p, p->tok_line, "unknown %s \"%s\" (%s)", what, p->text,
		    list);
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

/*
 * "8022:22" as docker's -p and ssh's -L write it, optionally after an
 * address: the ports and the address, or false if s is not that.
 */
static bool
port_pair(const char *s, char *addr, size_t addrlen, uint32_t *a,
    uint32_t *b)
{
	const char *colon = strrchr(s, ':');
	size_t end, start, i;
	bool has_addr = false;

	if (!colon)
		return false;
	end = (size_t)(colon - s);
	for (start = end; start > 0; start--)
		if (s[start - 1] == ':') {
			has_addr = true;
			break;
		}
	for (i = 0; i < 2; i++) {
		const char *from = s + (i == 0 ? start : end + 1);
		size_t n = i == 0 ? end - start : strlen(from);
		char num[8], *stop;
		unsigned long v;

		if (n == 0 || n >= sizeof(num) || !isdigit((unsigned char)*from))
			return false;
		memcpy(num, from, n);
		num[n] = '\0';
		v = strtoul(num, &stop, 10);
		if (*stop || v < 1 || v > 65535)
			return false;
		*(i == 0 ? a : b) = (uint32_t)v;
	}
	addr[0] = '\0';
	if (has_addr) {
		struct vmn_ip ip;
		size_t n = start - 1;

		if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
			s++;		/* [::1]:8022:22 */
			n -= 2;
		}
		if (n == 0 || n >= addrlen)
			return false;
		memcpy(addr, s, n);
		addr[n] = '\0';
		if (vmn_ip_parse(addr, &ip) < 0)
			return false;
	}
	return true;
}

/*
 * The first port of a forward or reverse-forward statement; a port pair
 * gets, with the error, the statement it was meant to be.
 */
bool
arg_port(struct parser *p, const char *statement, int proto, uint32_t *out)
{
	char what[32], addr[VMN_IP_STRLEN];
	uint32_t a, b;

	snprintf(what, sizeof(what), "%s port", statement);
	if (!arg(p, what))
		return false;
	if (port_pair(p->text, addr, sizeof(addr), &a, &b) &&
	    (!addr[0] || strcmp(statement, "forward") == 0)) {
		perr(p, p->tok_line, "%s must be a number from 1 to 65535 (for "
		    "%s write \"%s %s %u to %u%s%s\")", what, p->text, statement,
		    proto == IPPROTO_TCP ? "tcp" : "udp", a, b,
		    addr[0] ? " address " : "", addr);
		return false;
	}
	return tok_u32_or(p, what, NULL, 1, 65535, out);
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
