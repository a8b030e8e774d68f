/*
 * parse.c - host-netd.conf(5): tokenizer, grammar and semantic checks
 *
 * The file is read whole and parsed into a fresh struct hostd_conf; a
 * caller swaps it in only if parsing succeeded, so a bad file never
 * disturbs the running configuration. Every error is reported as
 * "file:line: message" and parsing goes on to the end of the statement, so
 * one run shows all mistakes.
 *
 * Grammar: statements end at a newline or ';'. Words are unquoted runs of
 * characters other than whitespace, quotes, braces, ';' and '#'; strings
 * are double-quoted with \" and \\ escapes. '#' starts a comment.
 */
#include "config.h"

#include <ctype.h>
#include <pwd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-netd.h"
#include "log.h"

#define CONF_MAX_SIZE	(1024 * 1024)
#define TOKEN_MAX	1024

enum tok { T_EOF, T_EOS, T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_ERROR };

struct parser {
	const char		*file;
	const char		*buf;
	size_t			 len, pos;
	int			 line;
	int			 tok_line;
	enum tok		 tok;
	char			 text[TOKEN_MAX];
	int			 errors;
	int			 line_pool, line_size;	/* 0: default */
	int			 line_host_port, line_guest_port;
	int			 line_tunnel;
	bool			 vm_only;	/* a registration: one vm block */
	char			*errbuf;	/* messages also go here */
	size_t			 errlen;
	struct hostd_conf	*conf;
};

static const char *const mode_names[] = { "nat", "mirrored", "none" };
static const char *const link_names[] = { "tap", "veth", "none" };
static const char *const dns_names[] = { "tunnel", "host", "none" };
static const char *const state_names[] = {
	"down", "waiting", "configuring", "online", "failed" };
_Static_assert(sizeof(mode_names) / sizeof(*mode_names) == VM_MODE__MAX, "modes");
_Static_assert(sizeof(link_names) / sizeof(*link_names) == VM_LINK__MAX, "links");
_Static_assert(sizeof(dns_names) / sizeof(*dns_names) == DNS_MODE__MAX, "dns");
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

static void
vperr(struct parser *p, const char *file, int line, const char *fmt,
    va_list ap)
{
	char msg[512];
	size_t used;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_warnx("%s:%d: %s", file, line, msg);
	p->errors++;
	if (p->errbuf && (used = strlen(p->errbuf)) + 1 < p->errlen)
		snprintf(p->errbuf + used, p->errlen - used, "%s%s:%d: %s",
		    used ? "\n" : "", file, line, msg);
}

static void
perr(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
perr(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, p->file, line, fmt, ap);
	va_end(ap);
}

/* About a VM block, in the file it came from. */
static void
vcerr(struct parser *p, const struct vm_conf *vc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
vcerr(struct parser *p, const struct vm_conf *vc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, vc->file[0] ? vc->file : p->file, vc->line, fmt, ap);
	va_end(ap);
}

/* ---- tokenizer ------------------------------------------------------ */

static bool
word_char(int c)
{
	return c > ' ' && c != '"' && c != '{' && c != '}' && c != ';' &&
	    c != '#' && c != 0x7f;
}

static enum tok
next(struct parser *p)
{
	size_t n = 0;
	int c;

	for (;;) {
		if (p->pos >= p->len) {
			p->tok_line = p->len && p->buf[p->len - 1] == '\n' ?
			    p->line - 1 : p->line;
			p->text[0] = '\0';
			return p->tok = T_EOF;
		}
		c = (unsigned char)p->buf[p->pos];
		if (c == '#') {
			while (p->pos < p->len && p->buf[p->pos] != '\n')
				p->pos++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
			continue;
		}
		break;
	}
	p->tok_line = p->line;
	p->text[0] = '\0';
	switch (c) {
	case '\n':
		p->pos++;
		p->line++;
		return p->tok = T_EOS;
	case ';':
		p->pos++;
		return p->tok = T_EOS;
	case '{':
		p->pos++;
		return p->tok = T_LBRACE;
	case '}':
		p->pos++;
		return p->tok = T_RBRACE;
	case '"': {
		bool bad = false;

		p->pos++;
		while (p->pos < p->len && p->buf[p->pos] != '"') {
			if (p->buf[p->pos] == '\n')
				break;	/* left for the end of the statement */
			c = (unsigned char)p->buf[p->pos++];
			if (c == '\\' && p->pos < p->len &&
			    (p->buf[p->pos] == '"' || p->buf[p->pos] == '\\'))
				c = (unsigned char)p->buf[p->pos++];
			if (bad)
				continue;
			if (c < ' ' || c == 0x7f) {
				perr(p, p->line, "control character in string");
				bad = true;
			} else if (n >= sizeof(p->text) - 1) {
				perr(p, p->line, "string too long");
				bad = true;
			} else {
				p->text[n++] = (char)c;
			}
		}
		p->text[bad ? 0 : n] = '\0';
		if (p->pos >= p->len || p->buf[p->pos] == '\n') {
			if (!bad)
				perr(p, p->line, "unterminated string");
			return p->tok = T_ERROR;
		}
		p->pos++;
		return p->tok = bad ? T_ERROR : T_STRING;
	}
	default:
		if (!word_char(c)) {
			perr(p, p->line, "unexpected character 0x%02x", c);
			p->pos++;
			return p->tok = T_ERROR;
		}
		while (p->pos < p->len &&
		    word_char((unsigned char)p->buf[p->pos])) {
			if (n >= sizeof(p->text) - 1) {
				perr(p, p->line, "word too long");
				return p->tok = T_ERROR;
			}
			p->text[n++] = p->buf[p->pos++];
		}
		p->text[n] = '\0';
		return p->tok = T_WORD;
	}
}

/* Skips the rest of a bad statement, and a whole block if it opens one. */
static void
skip_statement(struct parser *p)
{
	int depth = 0;

	for (;;) {
		switch (p->tok) {
		case T_EOF:
			return;
		case T_EOS:
			if (depth == 0)
				return;
			break;
		case T_LBRACE:
			depth++;
			break;
		case T_RBRACE:
			if (depth == 0)
				return;	/* the enclosing block's end */
			if (--depth == 0) {
				next(p);
				return;
			}
			break;
		default:
			break;
		}
		next(p);
	}
}

/* ---- argument helpers ----------------------------------------------- */

/* Takes the next token as an argument (word or string). */
static bool
arg(struct parser *p, const char *what)
{
	next(p);
	if (p->tok == T_WORD || p->tok == T_STRING)
		return true;
	if (p->tok != T_ERROR)
		perr(p, p->tok_line, "missing %s", what);
	return false;
}

/* The current token must end the statement. */
static bool
at_end(struct parser *p)
{
	if (p->tok == T_EOS || p->tok == T_EOF || p->tok == T_RBRACE)
		return true;
	if (p->tok == T_LBRACE)
		perr(p, p->tok_line, "unexpected '{' at end of statement");
	else if (p->tok != T_ERROR)
		perr(p, p->tok_line, "unexpected \"%s\" at end of statement",
		    p->text);
	return false;
}

static bool
end_of_statement(struct parser *p)
{
	next(p);
	return at_end(p);
}

/* Converts the current token. */
static bool
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

static bool
arg_u32(struct parser *p, const char *what, uint32_t lo, uint32_t hi,
    uint32_t *out)
{
	return arg(p, what) && tok_u32_or(p, what, NULL, lo, hi, out);
}

static int
arg_keyword(struct parser *p, const char *what, const char *const *names,
    unsigned n)
{
	unsigned i;

	if (!arg(p, what))
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(p->text, names[i]) == 0)
			return (int)i;
	perr(p, p->tok_line, "unknown %s \"%s\"", what, p->text);
	return -1;
}

static bool
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

static bool
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

static bool
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

static bool
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

static bool
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

static bool
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

static bool
arg_prefix(struct parser *p, const char *what, int family,
    struct vmn_prefix *out)
{
	return arg(p, what) && tok_prefix(p, what, family, out);
}

/* A VM subnet or pool must be ordinary unicast space. */
static bool
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

/* ---- statements ----------------------------------------------------- */

static void
vm_defaults(struct vm_conf *vc)
{
	vc->mode = VM_MODE_NAT;
	vc->link = VM_LINK_TAP;
	vc->dns = DNS_MODE_TUNNEL;
	vc->ipv6 = true;
	vc->auto_forward = true;
	vc->tap_owner = (uid_t)-1;
	strcpy(vc->guest_ifname, HOSTD_GUEST_IFNAME);
}

static int
arg_proto(struct parser *p, const char *what)
{
	static const char *const protos[] = { "tcp", "udp" };
	int v = arg_keyword(p, what, protos, 2);

	return v < 0 ? -1 : v == 0 ? IPPROTO_TCP : IPPROTO_UDP;
}

/* forward tcp|udp HOSTPORT [to GUESTPORT] [address ADDR] */
static bool
parse_forward(struct parser *p, struct vm_conf *vc)
{
	struct hostfwd_static f;
	uint32_t port;
	int proto;

	memset(&f, 0, sizeof(f));
	if ((proto = arg_proto(p, "forward protocol (tcp or udp)")) < 0 ||
	    !arg_u32(p, "forward port", 1, 65535, &port))
		return false;
	f.proto = (uint8_t)proto;
	f.host_port = f.guest_port = (uint16_t)port;
	vmn_ip_parse("127.0.0.1", &f.addr);
	for (next(p); p->tok == T_WORD; next(p)) {
		if (strcmp(p->text, "to") == 0) {
			if (!arg_u32(p, "guest port", 1, 65535, &port))
				return false;
			f.guest_port = (uint16_t)port;
		} else if (strcmp(p->text, "address") == 0) {
			if (!arg(p, "forward address"))
				return false;
			if (vmn_ip_parse(p->text, &f.addr) < 0) {
				perr(p, p->tok_line, "forward address \"%s\" is "
				    "not an IP address", p->text);
				return false;
			}
		} else {
			break;
		}
	}
	if (vc->nforwards >= MAX_FORWARDS) {
		perr(p, p->tok_line, "too many forwards (at most %d)",
		    MAX_FORWARDS);
		return false;
	}
	vc->forwards[vc->nforwards++] = f;
	return at_end(p);
}

/* reverse-forward tcp PORT [to GUESTPORT] */
static bool
parse_rforward(struct parser *p, struct vm_conf *vc)
{
	struct hostfwd_rfwd f;
	uint32_t port;
	int proto;

	memset(&f, 0, sizeof(f));
	if ((proto = arg_proto(p, "reverse-forward protocol")) < 0)
		return false;
	if (proto != IPPROTO_TCP) {
		perr(p, p->tok_line, "reverse forwards are tcp only");
		return false;
	}
	if (!arg_u32(p, "reverse-forward port", 1, 65535, &port))
		return false;
	f.proto = (uint8_t)proto;
	f.port = f.guest_port = (uint16_t)port;
	next(p);
	if (p->tok == T_WORD && strcmp(p->text, "to") == 0) {
		if (!arg_u32(p, "guest port", 1, 65535, &port))
			return false;
		f.guest_port = (uint16_t)port;
		next(p);
	}
	if (vc->nrforwards >= MAX_RFORWARDS) {
		perr(p, p->tok_line, "too many reverse forwards (at most %d)",
		    MAX_RFORWARDS);
		return false;
	}
	vc->rforwards[vc->nrforwards++] = f;
	return at_end(p);
}

static bool
parse_vm_option(struct parser *p, struct vm_conf *vc)
{
	const char *kw = p->text;
	const char *why = NULL;
	int v;

	if (strcmp(kw, "mode") == 0) {
		if ((v = arg_keyword(p, "mode", mode_names, VM_MODE__MAX)) < 0)
			return false;
		vc->mode = (enum vm_mode)v;
	} else if (strcmp(kw, "link") == 0) {
		if ((v = arg_keyword(p, "link type", link_names,
		    VM_LINK__MAX)) < 0)
			return false;
		vc->link = (enum vm_link_kind)v;
		vc->netns[0] = vc->tap_name[0] = '\0';
		if (vc->link == VM_LINK_VETH) {
			next(p);
			if ((p->tok != T_WORD && p->tok != T_STRING) ||
			    strcmp(p->text, "netns")) {
				if (p->tok != T_ERROR)
					perr(p, p->tok_line, "link veth needs "
					    "netns \"NAME\"");
				return false;
			}
			if (!arg(p, "namespace name"))
				return false;
			/* A name in /run/netns, or a path (/proc/PID/ns/net). */
			if (!p->text[0] || strlen(p->text) > NAME_MAX ||
			    (p->text[0] != '/' && (strchr(p->text, '/') ||
			    p->text[0] == '.'))) {
				perr(p, p->tok_line, "bad namespace name \"%s\" "
				    "(a name in /run/netns or an absolute path)",
				    p->text);
				return false;
			}
			strcpy(vc->netns, p->text);
		} else if (vc->link == VM_LINK_TAP) {
			/* Optional tap name. */
			next(p);
			if (p->tok == T_WORD || p->tok == T_STRING) {
				if (!ifname_ok(p->text)) {
					perr(p, p->tok_line, "bad tap name "
					    "\"%s\"", p->text);
					return false;
				}
				strcpy(vc->tap_name, p->text);
			} else {
				return at_end(p);
			}
		}
	} else if (strcmp(kw, "tap-owner") == 0) {
		struct passwd *pw;
		uint32_t uid;

		if (!arg(p, "tap-owner"))
			return false;
		if ((pw = getpwnam(p->text))) {
			vc->tap_owner = pw->pw_uid;
		} else if (tok_u32_or(p, "tap-owner", "a user name", 0,
		    UINT32_MAX - 1, &uid)) {
			vc->tap_owner = (uid_t)uid;
		} else {
			return false;
		}
	} else if (strcmp(kw, "host-ifname") == 0) {
		if (!arg_ifname(p, "host-ifname", vc->host_ifname))
			return false;
	} else if (strcmp(kw, "guest-ifname") == 0) {
		if (!arg_ifname(p, "guest-ifname", vc->guest_ifname))
			return false;
	} else if (strcmp(kw, "channel") == 0) {
		if (!arg(p, "channel URI"))
			return false;
		if (vmn_endpoint_parse(p->text, &vc->channel, &why) < 0) {
			perr(p, p->tok_line, "channel \"%s\": %s", p->text, why);
			return false;
		}
		if (vc->channel.kind == VMN_TR_VSOCK &&
		    (vc->channel.cid < 3 || vc->channel.cid == UINT32_MAX ||
		    vc->channel.port)) {
			perr(p, p->tok_line, "channel \"%s\": a VM's vsock CID "
			    "is from 3 to 4294967294, without a port", p->text);
			return false;
		}
	} else if (strcmp(kw, "dns") == 0) {
		if ((v = arg_keyword(p, "dns mode", dns_names,
		    DNS_MODE__MAX)) < 0)
			return false;
		vc->dns = (enum dns_mode)v;
	} else if (strcmp(kw, "mtu") == 0) {
		if (!arg(p, "mtu"))
			return false;
		if (strcmp(p->text, "auto") == 0) {
			vc->mtu = 0;
		} else if (!tok_u32_or(p, "mtu", "auto", 576, 65535, &vc->mtu)) {
			return false;
		}
	} else if (strcmp(kw, "ipv6") == 0) {
		if (!arg_yesno(p, "ipv6", &vc->ipv6))
			return false;
	} else if (strcmp(kw, "subnet") == 0) {
		if (!arg(p, "subnet"))
			return false;
		if (strcmp(p->text, "auto") == 0) {
			memset(&vc->subnet4, 0, sizeof(vc->subnet4));
		} else {
			if (!tok_prefix(p, "subnet", AF_INET, &vc->subnet4) ||
			    !unicast4_ok(p, "subnet", &vc->subnet4))
				return false;
			if (vc->subnet4.plen > 30) {
				perr(p, p->tok_line, "subnet must be /30 or "
				    "larger (gateway, guest)");
				return false;
			}
		}
	} else if (strcmp(kw, "auto-forward") == 0) {
		if (!arg_yesno(p, "auto-forward", &vc->auto_forward))
			return false;
	} else if (strcmp(kw, "forward") == 0) {
		return parse_forward(p, vc);
	} else if (strcmp(kw, "reverse-forward") == 0) {
		return parse_rforward(p, vc);
	} else if (strcmp(kw, "allow-vm") == 0) {
		if (!arg(p, "VM name"))
			return false;
		if (vc->nallow >= MAX_ALLOW) {
			perr(p, p->tok_line, "too many allow-vm (at most %d)",
			    MAX_ALLOW);
			return false;
		}
		if (!vm_name_ok(p->text)) {
			perr(p, p->tok_line, "bad VM name \"%s\"", p->text);
			return false;
		}
		strcpy(vc->allow[vc->nallow++], p->text);
	} else {
		perr(p, p->tok_line, "unknown VM option \"%s\"", kw);
		return false;
	}
	return end_of_statement(p);
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

static void
parse_vm(struct parser *p)
{
	struct vm_conf *vc;
	int line = p->tok_line;

	if (!arg(p, "VM name")) {
		skip_statement(p);
		return;
	}
	if (!vm_name_ok(p->text)) {
		perr(p, p->tok_line, "bad VM name \"%s\" (1-%d letters, "
		    "digits, '-', '_', '.', starting with a letter or digit)",
		    p->text, VM_NAME_MAX);
		skip_statement(p);
		return;
	}
	if (!(vc = calloc(1, sizeof(*vc))))
		fatal("calloc");
	vm_defaults(vc);
	vc->line = line;
	snprintf(vc->file, sizeof(vc->file), "%s", p->file);
	strcpy(vc->name, p->text);
	TAILQ_INSERT_TAIL(&p->conf->vms, vc, entry);
	p->conf->nvms++;

	next(p);
	if (p->tok != T_LBRACE) {
		perr(p, p->tok_line, "'{' expected after vm \"%s\"", vc->name);
		skip_statement(p);
		return;
	}
	for (;;) {
		next(p);
		if (p->tok == T_EOS)
			continue;
		if (p->tok == T_RBRACE)
			break;
		if (p->tok == T_EOF) {
			perr(p, p->tok_line, "vm \"%s\" (line %d) is missing "
			    "its closing '}'", vc->name, line);
			return;
		}
		if (p->tok != T_WORD) {
			if (p->tok != T_ERROR)
				perr(p, p->tok_line, "VM option expected");
			skip_statement(p);
			if (p->tok == T_RBRACE)
				break;
			continue;
		}
		if (!parse_vm_option(p, vc))
			skip_statement(p);
		if (p->tok == T_RBRACE)
			break;
		if (p->tok == T_EOF) {
			perr(p, p->tok_line, "vm \"%s\" (line %d) is missing "
			    "its closing '}'", vc->name, line);
			return;
		}
	}
	end_of_statement(p);
}

/* An address a guest can own on lo: unicast, not loopback or "any". */
static bool
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

static bool
parse_global(struct parser *p)
{
	struct hostd_conf *c = p->conf;
	const char *kw = p->text;
	uint32_t v;

	if (p->vm_only && strcmp(kw, "vm") != 0) {
		perr(p, p->tok_line, "\"%s\": only a vm block can be "
		    "registered (global options live in host-netd.conf)", kw);
		return false;
	}
	if (strcmp(kw, "state-dir") == 0) {
		if (!arg_path(p, "state-dir", c->state_dir,
		    sizeof(c->state_dir)))
			return false;
	} else if (strcmp(kw, "control-socket") == 0) {
		if (!arg_path(p, "control-socket", c->control_socket,
		    VMN_PATH_MAX))
			return false;
	} else if (strcmp(kw, "host-port") == 0) {
		if (!arg_u32(p, "host-port", 1, UINT32_MAX - 1, &c->host_port))
			return false;
		p->line_host_port = p->tok_line;
	} else if (strcmp(kw, "guest-port") == 0) {
		if (!arg_u32(p, "guest-port", 1, UINT32_MAX - 1, &c->guest_port))
			return false;
		p->line_guest_port = p->tok_line;
	} else if (strcmp(kw, "subnet-pool") == 0) {
		if (!arg_prefix(p, "subnet-pool", AF_INET, &c->pool4) ||
		    !unicast4_ok(p, "subnet-pool", &c->pool4))
			return false;
		p->line_pool = p->tok_line;
	} else if (strcmp(kw, "subnet-size") == 0) {
		if (!arg_u32(p, "subnet-size", 8, 30, &v))
			return false;
		c->subnet_len4 = (uint8_t)v;
		p->line_size = p->tok_line;
	} else if (strcmp(kw, "ula-prefix") == 0) {
		if (!arg(p, "ula-prefix"))
			return false;
		if (strcmp(p->text, "auto") == 0) {
			memset(&c->ula, 0, sizeof(c->ula));
		} else {
			if (!tok_prefix(p, "ula-prefix", AF_INET6, &c->ula))
				return false;
			if (c->ula.plen != 48 || (c->ula.ip.u.b[0] & 0xfe) != 0xfc) {
				perr(p, p->tok_line, "ula-prefix must be a /48 "
				    "inside fc00::/7");
				return false;
			}
		}
	} else if (strcmp(kw, "dns-tunnel-address") == 0) {
		if (!arg(p, "dns-tunnel-address"))
			return false;
		p->line_tunnel = p->tok_line;
		if (vmn_ip_parse(p->text, &c->dns_tunnel_addr) < 0 ||
		    !tunnel_addr_ok(&c->dns_tunnel_addr)) {
			perr(p, p->tok_line, "dns-tunnel-address \"%s\" is not "
			    "a unicast address (and not loopback)", p->text);
			return false;
		}
	} else if (strcmp(kw, "uplink") == 0) {
		if (c->nuplinks >= MAX_UPLINKS) {
			perr(p, p->tok_line, "too many uplinks (at most %d)",
			    MAX_UPLINKS);
			return false;
		}
		if (!arg_ifname(p, "uplink", c->uplinks[c->nuplinks]))
			return false;
		c->nuplinks++;
	} else if (strcmp(kw, "vm") == 0) {
		if (p->vm_only && p->conf->nvms) {
			perr(p, p->tok_line, "one vm block only");
			return false;
		}
		parse_vm(p);
		return true;
	} else {
		perr(p, p->tok_line, "unknown option \"%s\"", kw);
		return false;
	}
	return end_of_statement(p);
}

/* ---- semantic checks ------------------------------------------------ */

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

static void
check_config(struct parser *p)
{
	struct hostd_conf *c = p->conf;
	struct vm_conf *vc, *o;
	unsigned i;

	if (c->subnet_len4 <= c->pool4.plen)
		perr(p, MAX(p->line_pool, p->line_size), "subnet-size /%u must "
		    "be longer than the subnet-pool's /%u", c->subnet_len4,
		    c->pool4.plen);
	if (c->host_port == c->guest_port)
		perr(p, MAX(p->line_host_port, p->line_guest_port),
		    "host-port and guest-port must differ");
	{
		struct vmn_prefix host = { .ip = c->dns_tunnel_addr, .plen = 32 };

		if (host.ip.family == AF_INET &&
		    vmn_prefix_contains(&c->pool4, &host.ip))
			perr(p, MAX(p->line_pool, p->line_tunnel),
			    "dns-tunnel-address is inside subnet-pool: a VM's "
			    "own subnet could hold it");
	}
	if (c->nvms > MAX_VMS)
		perr(p, 1, "too many VMs (at most %d)", MAX_VMS);

	TAILQ_FOREACH(vc, &c->vms, entry) {
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
			vcerr(p, vc, "vm \"%s\": tap name and "
			    "host-ifname differ", vc->name);
		}
		for (i = 0; i < c->nuplinks && vc->link != VM_LINK_NONE; i++)
			if (strcmp(c->uplinks[i], vc->host_ifname) == 0)
				vcerr(p, vc, "vm \"%s\": host interface %s "
				    "is an uplink", vc->name, vc->host_ifname);
		if (vc->channel.kind == VMN_TR_NONE)
			vcerr(p, vc, "vm \"%s\": no channel (add channel "
			    "vsock:CID, hvsock:PATH or unix:PATH)", vc->name);
		if (vc->mode == VM_MODE_MIRRORED)
			vcerr(p, vc, "vm \"%s\": mirrored mode is not "
			    "available in this version", vc->name);
		if (vc->tap_owner != (uid_t)-1 && vc->link != VM_LINK_TAP)
			vcerr(p, vc, "vm \"%s\": tap-owner is for link tap",
			    vc->name);
		if (vc->mode == VM_MODE_NAT && vc->link == VM_LINK_NONE)
			vcerr(p, vc, "vm \"%s\": NAT mode needs a link "
			    "(tap or veth)", vc->name);
		if (vc->ipv6 && vc->mtu && vc->mtu < 1280)
			vcerr(p, vc, "vm \"%s\": IPv6 needs an mtu of "
			    "1280 or more", vc->name);
		for (i = 1; i < vc->nforwards; i++) {
			const struct hostfwd_static *f = &vc->forwards[i];
			char a[VMN_IP_STRLEN], b[VMN_IP_STRLEN];
			unsigned j;

			for (j = 0; j < i; j++) {	/* once per forward */
				const struct hostfwd_static *g = &vc->forwards[j];

				if (!forwards_clash(f, g))
					continue;
				if (vmn_ip_equal(&f->addr, &g->addr))
					vcerr(p, vc, "vm \"%s\": %s port %u "
					    "is forwarded twice", vc->name,
					    f->proto == IPPROTO_TCP ? "tcp" : "udp",
					    f->host_port);
				else
					vcerr(p, vc, "vm \"%s\": %s port %u "
					    "on %s overlaps its forward on %s",
					    vc->name, f->proto == IPPROTO_TCP ?
					    "tcp" : "udp", f->host_port,
					    vmn_ip_ntop(&f->addr, a, sizeof(a)),
					    vmn_ip_ntop(&g->addr, b, sizeof(b)));
				break;
			}
		}
		for (i = 0; i < vc->nrforwards; i++) {
			unsigned j;

			for (j = i + 1; j < vc->nrforwards; j++)
				if (vc->rforwards[i].guest_port ==
				    vc->rforwards[j].guest_port)
					vcerr(p, vc, "vm \"%s\": guest port "
					    "%u has two reverse forwards",
					    vc->name, vc->rforwards[i].guest_port);
		}
		for (i = 0; i < vc->nallow; i++) {
			if (strcmp(vc->allow[i], vc->name) == 0)
				vcerr(p, vc, "vm \"%s\": allow-vm names "
				    "itself", vc->name);
			else if (!find_vm(c, vc->allow[i]))
				vcerr(p, vc, "vm \"%s\": allow-vm \"%s\": "
				    "no such VM", vc->name, vc->allow[i]);
		}
		for (o = TAILQ_NEXT(vc, entry); o; o = TAILQ_NEXT(o, entry)) {
			if (strcmp(o->name, vc->name) == 0) {
				if (strcmp(o->file, vc->file) == 0)
					vcerr(p, o, "vm \"%s\" is defined twice "
					    "(first on line %d)", o->name, vc->line);
				else
					vcerr(p, o, "vm \"%s\" is defined twice "
					    "(first at %s:%d)", o->name, vc->file,
					    vc->line);
				continue;	/* nothing more to say about it */
			}
			if (same_channel(&o->channel, &vc->channel))
				vcerr(p, o, "vm \"%s\": channel already "
				    "used by vm \"%s\"", o->name, vc->name);
			if (o->subnet4.ip.family && vc->subnet4.ip.family &&
			    vmn_prefix_overlap(&o->subnet4, &vc->subnet4))
				vcerr(p, o, "vm \"%s\": subnet overlaps "
				    "vm \"%s\"", o->name, vc->name);
			for (i = 0; i < o->nforwards; i++) {
				unsigned j;

				for (j = 0; j < vc->nforwards; j++)
					if (forwards_clash(&o->forwards[i],
					    &vc->forwards[j])) {
						vcerr(p, o, "vm \"%s\": host "
						    "port %u is vm \"%s\"'s forward",
						    o->name, o->forwards[i].host_port,
						    vc->name);
						break;
					}
			}
		}
	}
	/* Host interface names are checked after defaults are filled in. */
	TAILQ_FOREACH(vc, &c->vms, entry)
		for (o = TAILQ_NEXT(vc, entry); o; o = TAILQ_NEXT(o, entry))
			if (vc->link != VM_LINK_NONE && o->link != VM_LINK_NONE &&
			    strcmp(o->name, vc->name) != 0 &&
			    strcmp(o->host_ifname, vc->host_ifname) == 0)
				vcerr(p, o, "vm \"%s\": host interface "
				    "%s is also vm \"%s\"'s (set host-ifname)",
				    o->name, o->host_ifname, vc->name);
}

/* ---- entry points --------------------------------------------------- */

struct hostd_conf *
conf_new(void)
{
	struct hostd_conf *c = calloc(1, sizeof(*c));

	if (!c)
		fatal("calloc");
	TAILQ_INIT(&c->vms);
	strcpy(c->state_dir, HOSTD_STATE_DIR);
	strcpy(c->control_socket, HOSTD_CONTROL_SOCKET);
	c->host_port = VMN_PORT_HOST;
	c->guest_port = VMN_PORT_GUEST;
	vmn_prefix_parse(HOSTD_POOL4, &c->pool4);
	c->subnet_len4 = HOSTD_SUBNET_LEN4;
	vmn_ip_parse(HOSTD_DNS_TUNNEL_ADDR, &c->dns_tunnel_addr);
	return c;
}

void
conf_free(struct hostd_conf *c)
{
	struct vm_conf *vc;

	if (!c)
		return;
	while ((vc = TAILQ_FIRST(&c->vms))) {
		TAILQ_REMOVE(&c->vms, vc, entry);
		free(vc);
	}
	free(c);
}

static char *
read_file(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_MAX_SIZE) {
		log_warnx("%s: not a regular file of at most %d bytes", path,
		    CONF_MAX_SIZE);
		close(fd);
		return NULL;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		fatal("malloc");
	while ((n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	if (n < 0) {
		log_warn("%s", path);
		free(buf);
		return NULL;
	}
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* Parses buf as a configuration file named path into p->conf. */
static void
parse_buffer(struct parser *p, const char *path, const char *buf, size_t len)
{
	p->file = path;
	p->line = 1;
	p->buf = buf;
	p->len = len;
	if (memchr(buf, '\0', len)) {
		perr(p, 1, "contains a NUL byte");
		return;
	}
	for (next(p); p->tok != T_EOF; next(p)) {
		if (p->tok == T_EOS)
			continue;
		if (p->tok != T_WORD) {
			if (p->tok == T_RBRACE)
				perr(p, p->tok_line, "unexpected '}'");
			else if (p->tok != T_ERROR)
				perr(p, p->tok_line, "option expected");
			skip_statement(p);
			if (p->tok == T_EOF)
				break;
			continue;
		}
		if (!parse_global(p))
			skip_statement(p);
		if (p->tok == T_EOF)
			break;
	}
}

/* Parses path into a new configuration; NULL (errors logged) on failure. */
struct hostd_conf *
parse_config(const char *path)
{
	struct parser p = { 0 };
	char *buf;
	size_t len;

	if (!(buf = read_file(path, &len)))
		return NULL;
	p.conf = conf_new();
	snprintf(p.conf->file, sizeof(p.conf->file), "%s", path);
	parse_buffer(&p, path, buf, len);
	if (p.errors == 0)
		check_config(&p);
	free(buf);
	if (p.errors) {
		conf_free(p.conf);
		return NULL;
	}
	return p.conf;
}

/*
 * One vm block registered at run time (text as netctl sent it, named src
 * in messages): the VM, or NULL with the errors in err.
 */
struct vm_conf *
parse_vm_text(const char *src, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct parser p = { .vm_only = true, .errbuf = err, .errlen = errlen };
	struct vm_conf *vc = NULL;

	err[0] = '\0';
	p.conf = conf_new();
	parse_buffer(&p, src, text, len);
	if (!p.errors && p.conf->nvms != 1)
		perr(&p, 1, "a vm \"NAME\" { ... } block is expected");
	if (!p.errors) {
		vc = TAILQ_FIRST(&p.conf->vms);
		TAILQ_REMOVE(&p.conf->vms, vc, entry);
		p.conf->nvms--;
		vc->registered = true;
	}
	conf_free(p.conf);
	return vc;
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

struct hostd_conf *
conf_dup(const struct hostd_conf *c)
{
	struct hostd_conf *d = conf_new();
	const struct vm_conf *vc;
	struct vm_conf *copy;

	*d = *c;
	TAILQ_INIT(&d->vms);
	d->nvms = 0;
	TAILQ_FOREACH(vc, &c->vms, entry) {
		if (!(copy = malloc(sizeof(*copy))))
			fatal("malloc");
		*copy = *vc;
		TAILQ_INSERT_TAIL(&d->vms, copy, entry);
		d->nvms++;
	}
	return d;
}
