/*
 * parse-policy.c - policy(5): the files of policy.d, parsed into a policy
 *
 *	file       = { statement }
 *	statement  = set | block
 *	set        = "set" NAME "{" { ADDRESS[/LEN] | PORT[-PORT] } "}"
 *	block      = ( "firewall" | "proxy" | "forwarding" ) { VM } "{"
 *	             { line } "}"
 *
 * A block names the VMs it is for, or none for every VM. The lines of a
 * block are rules (firewall, forwarding) or options (proxy), one per
 * statement; see policy(5) for each. The lexer, the errors at file:line
 * and the value checks are host-netd.conf's (parse-lex.c, parse-value.c):
 * the two files are one syntax family. A whole directory is read before
 * anything is checked that crosses files (sets used before they are
 * defined, in another file), and a policy with any error is not used.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "parse.h"
#include "log.h"

_Static_assert(POLICY_NAME_MAX == VM_NAME_MAX, "VM names in the policy");

/* ---- pieces ------------------------------------------------------------- */

/* NAME, NAME-NAME: letters, digits, '_' and '-', a letter first. */
static bool
set_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POLICY_NAME_MAX ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* PORT or PORT-PORT, 1 to 65535; false: not that shape at all. */
static bool
port_range(struct parser *p, const char *s, struct policy_range *r,
    bool *bad)
{
	unsigned long lo, hi;
	char *end;

	*bad = false;
	if (*s < '0' || *s > '9')
		return false;
	lo = strtoul(s, &end, 10);
	hi = lo;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return false;
		hi = strtoul(end + 1, &end, 10);
	}
	if (*end)
		return false;
	if (lo < 1 || hi > 65535 || lo > hi) {
		perr(p, p->tok_line, "port \"%s\": ports are 1 to 65535, a "
		    "range low-high", s);
		*bad = true;
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
}

/* ADDRESS or ADDRESS/LEN, without host bits. */
static bool
address(struct parser *p, const char *what, struct vmn_prefix *out)
{
	if (!strchr(p->text, '/')) {
		if (vmn_ip_parse(p->text, &out->ip) < 0)
			goto bad;
		out->plen = (uint8_t)(out->ip.family == AF_INET ? 32 : 128);
		return true;
	}
	if (vmn_prefix_parse(p->text, out) < 0)
		goto bad;
	return tok_prefix(p, what, 0, out);
bad:
	perr(p, p->tok_line, "%s: \"%s\" is not an address or prefix", what,
	    p->text);
	return false;
}

/* A token that ends a statement: the rest of a line is done. */
static bool
ends(const struct parser *p)
{
	return p->tok == T_EOS || p->tok == T_EOF || p->tok == T_RBRACE;
}

static unsigned
proto_bit(const char *w)
{
	if (strcmp(w, "tcp") == 0)
		return POLICY_TCP;
	if (strcmp(w, "udp") == 0)
		return POLICY_UDP;
	if (strcmp(w, "icmp") == 0)
		return POLICY_ICMP;
	return 0;
}

/*
 * port PORT... after "port": ranges, or one @set, up to the first word
 * that is neither (current on return).
 */
static bool
ports(struct parser *p, struct policy_range *r, unsigned *n, char *set)
{
	bool bad;

	for (lex_next(p); p->tok == T_WORD && (p->text[0] == '@' ||
	    (p->text[0] >= '0' && p->text[0] <= '9')); lex_next(p)) {
		if (p->text[0] == '@') {
			if (*n || set[0] || !set_name_ok(p->text + 1)) {
				perr(p, p->tok_line, "port: one @set, or "
				    "ports, not both");
				return false;
			}
			strcpy(set, p->text + 1);
			continue;
		}
		if (set[0] || *n >= POLICY_MAX_PORTS) {
			perr(p, p->tok_line, set[0] ? "port: one @set, or "
			    "ports, not both" : "port: at most %d ports or "
			    "ranges (name a set for more)", POLICY_MAX_PORTS);
			return false;
		}
		if (!port_range(p, p->text, &r[*n], &bad)) {
			perr(p, p->tok_line, "port: \"%s\" is not a port, a "
			    "range low-high or a @set", p->text);
			return false;
		}
		if (bad)
			return false;
		(*n)++;
	}
	if (*n == 0 && !set[0]) {
		perr(p, p->tok_line, "port: which ports?");
		return false;
	}
	return true;
}

/* ---- block headers -------------------------------------------------------- */

/* KEYWORD [VM...] "{": the VMs into a new scope; false: skipped. */
static bool
block_head(struct parser *p, const char *kw, unsigned *scope)
{
	struct policy_scope s = { 0 };
	int rc;

	for (lex_next(p); p->tok == T_WORD || p->tok == T_STRING;
	    lex_next(p)) {
		if (!vm_name_ok(p->text)) {
			perr(p, p->tok_line, "%s: bad VM name \"%s\"", kw,
			    p->text);
			return false;
		}
		if (s.nvms >= POLICY_MAX_SCOPE) {
			perr(p, p->tok_line, "%s: at most %d VMs in a block",
			    kw, POLICY_MAX_SCOPE);
			return false;
		}
		strcpy(s.vms[s.nvms++], p->text);
	}
	if (p->tok != T_LBRACE) {
		if (p->tok != T_ERROR)
			perr(p, p->tok_line, "'{' expected after %s%s", kw,
			    s.nvms ? " and its VMs" : "");
		return false;
	}
	if ((rc = policy_add_scope(p->pol, &s)) < 0)
		fatalx("out of memory");
	*scope = (unsigned)rc;
	return true;
}

/*
 * The lines of a block, each handed to line() with its first word
 * current; a bad one is skipped. True when the block ended with '}'.
 */
static bool
block_body(struct parser *p, const char *kw, int line,
    bool (*parse_line)(struct parser *, unsigned), unsigned scope)
{
	for (;;) {
		lex_next(p);
		if (p->tok == T_EOS)
			continue;
		if (p->tok == T_RBRACE)
			return true;
		if (p->tok == T_EOF) {
			perr(p, p->tok_line, "%s (line %d) is missing its "
			    "closing '}'", kw, line);
			return false;
		}
		if (p->tok != T_WORD) {
			if (p->tok != T_ERROR)
				perr(p, p->tok_line, "%s: a line starts with "
				    "a word", kw);
			skip_statement(p);
		} else if (!parse_line(p, scope)) {
			skip_statement(p);
		}
		if (p->tok == T_RBRACE)
			return true;
		if (p->tok == T_EOF) {
			perr(p, p->tok_line, "%s (line %d) is missing its "
			    "closing '}'", kw, line);
			return false;
		}
	}
}

/* ---- firewall ------------------------------------------------------------- */

static const char *const actions[] = { "allow", "deny", "reject" };

static bool
target(struct parser *p, struct policy_rule *r)
{
	struct policy_target *t;

	if (strcmp(p->text, "any") == 0)
		return true;
	if (r->ntargets >= POLICY_MAX_TARGETS) {
		perr(p, p->tok_line, "at most %d peers in a rule (name a set "
		    "for more)", POLICY_MAX_TARGETS);
		return false;
	}
	t = &r->targets[r->ntargets];
	if (strcmp(p->text, "host") == 0) {
		t->kind = POLICY_T_HOST;
	} else if (strcmp(p->text, "vm") == 0) {
		if (!arg(p, "VM name after vm"))
			return false;
		if (!vm_name_ok(p->text)) {
			perr(p, p->tok_line, "bad VM name \"%s\"", p->text);
			return false;
		}
		t->kind = POLICY_T_VM;
		strcpy(t->name, p->text);
	} else if (p->text[0] == '@') {
		if (!set_name_ok(p->text + 1)) {
			perr(p, p->tok_line, "bad set name \"%s\"", p->text);
			return false;
		}
		t->kind = POLICY_T_SET;
		strcpy(t->name, p->text + 1);
	} else if (proto_bit(p->text)) {
		perr(p, p->tok_line, "\"%s\": protocols come right after in "
		    "or out", p->text);
		return false;
	} else {
		t->kind = POLICY_T_PREFIX;
		if (!address(p, "peer", &t->pfx))
			return false;
	}
	r->ntargets++;
	return true;
}

/* allow|deny|reject in|out [tcp] [udp] [icmp] [to|from PEER...] [port ...] */
static bool
firewall_line(struct parser *p, unsigned scope)
{
	const char *dir_word, *guess;
	struct policy_rule r = { .scope = scope };
	unsigned bit;
	int i;

	r.at.file = p->file;
	r.at.line = p->tok_line;
	for (i = 0; i < (int)nitems(actions); i++)
		if (strcmp(p->text, actions[i]) == 0)
			break;
	if (i == (int)nitems(actions)) {
		guess = suggest(p->text, actions, nitems(actions));
		perr(p, p->tok_line, "a firewall rule starts with allow, deny "
		    "or reject, not \"%s\"%s%s%s", p->text,
		    guess ? " (did you mean " : "", guess ? guess : "",
		    guess ? "?)" : "");
		return false;
	}
	r.action = (enum policy_action)i;
	if (!arg(p, "in or out"))
		return false;
	if (strcmp(p->text, "out") == 0)
		r.dir = POLICY_OUT;
	else if (strcmp(p->text, "in") == 0)
		r.dir = POLICY_IN;
	else {
		perr(p, p->tok_line, "%s: in or out, not \"%s\"", actions[i],
		    p->text);
		return false;
	}
	dir_word = r.dir == POLICY_OUT ? "to" : "from";
	lex_next(p);
	while ((p->tok == T_WORD) && (bit = proto_bit(p->text))) {
		r.protos |= bit;
		lex_next(p);
	}
	if (p->tok == T_WORD && (strcmp(p->text, "to") == 0 ||
	    strcmp(p->text, "from") == 0)) {
		if (strcmp(p->text, dir_word) != 0) {
			perr(p, p->tok_line, "an %s rule names its peer with "
			    "\"%s\", not \"%s\"", r.dir == POLICY_OUT ?
			    "outbound" : "inbound", dir_word, p->text);
			return false;
		}
		for (lex_next(p); (p->tok == T_WORD || p->tok == T_STRING) &&
		    strcmp(p->text, "port") != 0; lex_next(p))
			if (!target(p, &r))
				return false;
	}
	if (p->tok == T_WORD && strcmp(p->text, "port") == 0) {
		if (!(r.protos & (POLICY_TCP | POLICY_UDP)) ||
		    (r.protos & POLICY_ICMP)) {
			perr(p, p->tok_line, "port: only for tcp or udp rules "
			    "(write \"%s %s tcp ...\")", actions[i],
			    r.dir == POLICY_OUT ? "out" : "in");
			return false;
		}
		if (!ports(p, r.ports, &r.nports, r.port_set))
			return false;
	}
	if (!ends(p)) {
		if (p->tok == T_WORD && proto_bit(p->text))
			perr(p, p->tok_line, "\"%s\": protocols come right "
			    "after in or out", p->text);
		else if (p->tok != T_ERROR)
			perr(p, p->tok_line, "unexpected \"%s\" in a rule "
			    "(the order is: protocols, %s peers, port ports)",
			    p->text, dir_word);
		return false;
	}
	if (!policy_add_rule(p->pol)) {
		perr(p, r.at.line, "too many firewall rules (at most %d)",
		    POLICY_MAX_RULES);
		return false;
	}
	p->pol->rules[p->pol->nrules - 1] = r;
	return true;
}

/* ---- proxy -------------------------------------------------------------- */

/* A URL: scheme://..., printable, no spaces. */
static bool
url_ok(struct parser *p, const char *what, const char *s)
{
	const char *c;

	if (!strstr(s, "://") || strstr(s, "://") == s) {
		perr(p, p->tok_line, "%s: \"%s\" is not a URL (write "
		    "http://HOST:PORT/)", what, s);
		return false;
	}
	for (c = s; *c; c++)
		if (*c <= ' ' || *c == 0x7f || *c == '\'') {
			perr(p, p->tok_line, "%s: a URL has no spaces, quotes "
			    "or control characters", what);
			return false;
		}
	return true;
}

static bool
proxy_value(struct parser *p, const char *what, char *dst, size_t size,
    bool is_url)
{
	const char *c;

	if (!arg(p, what))
		return false;
	if (strlen(p->text) >= size) {
		perr(p, p->tok_line, "%s: at most %zu characters", what,
		    size - 1);
		return false;
	}
	if (is_url && !url_ok(p, what, p->text))
		return false;
	for (c = p->text; !is_url && *c; c++)
		if (*c <= ' ' || *c == 0x7f || *c == '\'') {
			perr(p, p->tok_line, "%s: a comma-separated list, "
			    "without spaces", what);
			return false;
		}
	strcpy(dst, p->text);
	return end_of_statement(p);
}

static bool
proxy_line(struct parser *p, unsigned scope)
{
	static const char *const options[] = { "follow-host", "http", "https",
	    "no-proxy", "none", "pac" };
	struct policy_proxy *px = &p->pol->proxies[p->pol->nproxies - 1];
	const char *guess;

	if (strcmp(p->text, "http") == 0)
		return proxy_value(p, "http", px->http, sizeof(px->http), true);
	if (strcmp(p->text, "https") == 0)
		return proxy_value(p, "https", px->https, sizeof(px->https),
		    true);
	if (strcmp(p->text, "pac") == 0)
		return proxy_value(p, "pac", px->pac, sizeof(px->pac), true);
	if (strcmp(p->text, "no-proxy") == 0)
		return proxy_value(p, "no-proxy", px->no_proxy,
		    sizeof(px->no_proxy), false);
	if (strcmp(p->text, "follow-host") == 0) {
		/* follow-host [FILE]: the file's proxy variables. */
		px->follow_host = true;
		strcpy(px->source, POLICY_HOST_ENVIRONMENT);
		lex_next(p);
		if (p->tok == T_STRING || (p->tok == T_WORD &&
		    p->text[0] == '/')) {
			if (p->text[0] != '/' ||
			    strlen(p->text) >= sizeof(px->source)) {
				perr(p, p->tok_line, "follow-host: an absolute "
				    "path of at most %zu characters",
				    sizeof(px->source) - 1);
				return false;
			}
			strcpy(px->source, p->text);
			lex_next(p);
		}
		return at_end(p);
	}
	if (strcmp(p->text, "none") == 0) {
		px->none = true;
		return end_of_statement(p);
	}
	guess = suggest(p->text, options, nitems(options));
	perr(p, p->tok_line, "unknown proxy option \"%s\"%s%s%s", p->text,
	    guess ? ": did you mean " : "", guess ? guess : "",
	    guess ? "?" : "");
	return false;
}

/* What a proxy block may not say at once. */
static void
proxy_check(struct parser *p, const struct policy_proxy *px)
{
	bool any = px->http[0] || px->https[0] || px->pac[0] ||
	    px->no_proxy[0];

	if (px->none && (any || px->follow_host))
		perr(p, px->at.line, "proxy: none says there is no proxy; "
		    "it takes no other option");
	else if (px->follow_host && (px->http[0] || px->https[0] ||
	    px->pac[0]))
		perr(p, px->at.line, "proxy: follow-host takes the host's "
		    "proxies; only no-proxy may be added to it");
	else if (!px->none && !px->follow_host && !any)
		perr(p, px->at.line, "proxy: an empty block (write none for "
		    "no proxy)");
}

/* ---- forwarding ------------------------------------------------------------ */

/* forward|ignore [tcp] [udp] port PORT... [address ADDR] */
static bool
forwarding_line(struct parser *p, unsigned scope)
{
	struct policy_fwd f = { .scope = scope };
	struct vmn_prefix a;
	unsigned bit;

	f.at.file = p->file;
	f.at.line = p->tok_line;
	if (strcmp(p->text, "ignore") == 0)
		f.ignore = true;
	else if (strcmp(p->text, "forward") != 0) {
		perr(p, p->tok_line, "a forwarding rule starts with forward "
		    "or ignore, not \"%s\"", p->text);
		return false;
	}
	lex_next(p);
	while (p->tok == T_WORD && (bit = proto_bit(p->text))) {
		if (bit == POLICY_ICMP) {
			perr(p, p->tok_line, "forwarding: tcp or udp");
			return false;
		}
		f.protos |= bit;
		lex_next(p);
	}
	if (p->tok != T_WORD || strcmp(p->text, "port") != 0) {
		if (p->tok != T_ERROR)
			perr(p, p->tok_line, "%s: port PORT... expected",
			    f.ignore ? "ignore" : "forward");
		return false;
	}
	if (!ports(p, f.ports, &f.nports, f.port_set))
		return false;
	if (p->tok == T_WORD && strcmp(p->text, "address") == 0) {
		if (f.ignore) {
			perr(p, p->tok_line, "ignore takes no address");
			return false;
		}
		if (!arg(p, "address"))
			return false;
		if (!address(p, "address", &a) ||
		    a.plen != (a.ip.family == AF_INET ? 32 : 128)) {
			if (strchr(p->text, '/'))
				perr(p, p->tok_line, "address: one address "
				    "the host listens on, not a prefix");
			return false;
		}
		f.addr = a.ip;
		lex_next(p);
	}
	if (!ends(p)) {
		if (p->tok != T_ERROR)
			perr(p, p->tok_line, "unexpected \"%s\" in a "
			    "forwarding rule", p->text);
		return false;
	}
	if (!policy_add_fwd(p->pol)) {
		perr(p, f.at.line, "too many forwarding rules (at most %d)",
		    POLICY_MAX_FWDS);
		return false;
	}
	p->pol->fwds[p->pol->nfwds - 1] = f;
	return true;
}

/* ---- sets ------------------------------------------------------------------ */

static bool
set_add_item(struct parser *p, struct policy_set *set)
{
	struct policy_range r;
	struct vmn_prefix a;
	bool bad, is_port;
	void *grown;

	is_port = port_range(p, p->text, &r, &bad);
	if (is_port && bad)
		return false;
	if (!is_port && !address(p, "set", &a))
		return false;
	if (set->n == 0)
		set->kind = is_port ? POLICY_SET_PORT : POLICY_SET_ADDR;
	else if (is_port != (set->kind == POLICY_SET_PORT)) {
		perr(p, p->tok_line, "set %s: \"%s\": a set holds addresses "
		    "or ports, not both", set->name, p->text);
		return false;
	}
	if (set->n >= POLICY_MAX_SET_ITEMS) {
		perr(p, p->tok_line, "set %s: at most %d items", set->name,
		    POLICY_MAX_SET_ITEMS);
		return false;
	}
	if (is_port) {
		if (!(grown = realloc(set->ports, (set->n + 1) *
		    sizeof(*set->ports))))
			fatalx("out of memory");
		set->ports = grown;
		set->ports[set->n++] = r;
	} else {
		if (!(grown = realloc(set->addrs, (set->n + 1) *
		    sizeof(*set->addrs))))
			fatalx("out of memory");
		set->addrs = grown;
		set->addrs[set->n++] = a;
	}
	return true;
}

/* set NAME { ITEM... }; "set" is current. */
static bool
parse_set(struct parser *p)
{
	const struct policy_set *first;
	struct policy_set *set;
	int line = p->tok_line;
	bool ok = true;

	if (!arg(p, "set name"))
		return false;
	if (!set_name_ok(p->text)) {
		perr(p, p->tok_line, "bad set name \"%s\" (a letter, then "
		    "letters, digits, '_' or '-'; at most %d)", p->text,
		    POLICY_NAME_MAX);
		return false;
	}
	if ((first = policy_find_set(p->pol, p->text))) {
		perr(p, p->tok_line, "set %s is defined twice (first at "
		    "%s:%d)", p->text, first->at.file, first->at.line);
		return false;
	}
	if (!(set = policy_add_set(p->pol))) {
		perr(p, p->tok_line, "too many sets (at most %d)",
		    POLICY_MAX_SETS);
		return false;
	}
	strcpy(set->name, p->text);
	set->at.file = p->file;
	set->at.line = line;
	lex_next(p);
	if (p->tok != T_LBRACE) {
		perr(p, p->tok_line, "'{' expected after set %s", set->name);
		return false;
	}
	for (lex_next(p); p->tok != T_RBRACE; lex_next(p)) {
		if (p->tok == T_EOF) {
			perr(p, p->tok_line, "set %s (line %d) is missing its "
			    "closing '}'", set->name, line);
			return false;
		}
		if (p->tok == T_EOS || (p->tok != T_WORD &&
		    p->tok != T_STRING))
			continue;
		ok = set_add_item(p, set) && ok;
	}
	if (set->n == 0) {
		perr(p, line, "set %s is empty", set->name);
		ok = false;
	}
	return end_of_statement(p) && ok;
}

/* ---- files ------------------------------------------------------------------ */

static bool
parse_block(struct parser *p, const char *kw,
    bool (*parse_line)(struct parser *, unsigned))
{
	int line = p->tok_line, errors = p->errors;
	unsigned scope;
	struct policy_proxy *px = NULL;

	if (!block_head(p, kw, &scope))
		return false;
	if (parse_line == proxy_line) {
		if (!(px = policy_add_proxy(p->pol))) {
			perr(p, line, "too many proxy blocks (at most %d)",
			    POLICY_MAX_PROXIES);
			return false;
		}
		px->scope = scope;
		px->at.file = p->file;
		px->at.line = line;
	}
	if (!block_body(p, kw, line, parse_line, scope))
		return true;	/* at the end of the file */
	if (px && p->errors == errors)
		proxy_check(p, px);
	return end_of_statement(p);
}

static void
parse_policy_buffer(struct parser *p, const char *path, const char *buf,
    size_t len)
{
	static const char *const statements[] = { "firewall", "forwarding",
	    "proxy", "set" };
	const char *guess;
	bool ok;

	p->file = policy_add_file(p->pol, path);
	if (!p->file)
		fatalx("out of memory");
	p->line = 1;
	p->pos = 0;
	p->buf = buf;
	p->len = len;
	if (memchr(buf, '\0', len)) {
		perr(p, 1, "contains a NUL byte");
		return;
	}
	for (lex_next(p); p->tok != T_EOF; lex_next(p)) {
		if (p->tok == T_EOS)
			continue;
		if (p->tok != T_WORD) {
			if (p->tok == T_RBRACE)
				perr(p, p->tok_line, "unexpected '}'");
			else if (p->tok != T_ERROR)
				perr(p, p->tok_line, "firewall, proxy, "
				    "forwarding or set expected");
			ok = false;
		} else if (strcmp(p->text, "set") == 0) {
			ok = parse_set(p);
		} else if (strcmp(p->text, "firewall") == 0) {
			ok = parse_block(p, "firewall", firewall_line);
		} else if (strcmp(p->text, "proxy") == 0) {
			ok = parse_block(p, "proxy", proxy_line);
		} else if (strcmp(p->text, "forwarding") == 0) {
			ok = parse_block(p, "forwarding", forwarding_line);
		} else {
			guess = suggest(p->text, statements,
			    nitems(statements));
			if (strcmp(p->text, "vm") == 0)
				perr(p, p->tok_line, "vm blocks live in "
				    "host-netd.conf, not in a policy file");
			else
				perr(p, p->tok_line, "unknown statement "
				    "\"%s\"%s%s%s (firewall, proxy, "
				    "forwarding or set)", p->text,
				    guess ? ": did you mean " : "",
				    guess ? guess : "", guess ? "?" : "");
			ok = false;
		}
		if (!ok)
			skip_statement(p);
		if (p->tok == T_EOF)
			break;
	}
}

/* ---- the policy as a whole ------------------------------------------------ */

/* Sets used where they are defined, of the kind the use needs. */
static void
check_set_use(struct parser *p, const struct policy_where *at,
    const char *name, enum policy_set_kind kind)
{
	const struct policy_set *set = policy_find_set(p->pol, name);

	if (!set)
		perr_at(p, at, "no set \"%s\" is defined", name);
	else if (set->kind != kind)
		perr_at(p, at, "set %s holds %s, not %s", name,
		    set->kind == POLICY_SET_PORT ? "ports" : "addresses",
		    kind == POLICY_SET_PORT ? "ports" : "addresses");
}

/* VMs named that the configuration does not have: said, not refused. */
static void
check_vm_names(struct parser *p, const struct hostd_conf *conf)
{
	const struct vm_conf *vc;
	unsigned i, j;

	for (i = 0; conf && i < p->pol->nscopes; i++)
		for (j = 0; j < p->pol->scopes[i].nvms; j++) {
			TAILQ_FOREACH(vc, &conf->vms, entry)
				if (strcmp(vc->name,
				    p->pol->scopes[i].vms[j]) == 0)
					break;
			if (!vc)
				log_info("policy: vm \"%s\" is not configured "
				    "(yet): its blocks wait for it",
				    p->pol->scopes[i].vms[j]);
		}
}

static void
check_policy(struct parser *p, const struct hostd_conf *conf)
{
	const struct policy *pol = p->pol;
	unsigned i, j;

	for (i = 0; i < pol->nrules; i++) {
		const struct policy_rule *r = &pol->rules[i];

		for (j = 0; j < r->ntargets; j++)
			if (r->targets[j].kind == POLICY_T_SET)
				check_set_use(p, &r->at, r->targets[j].name,
				    POLICY_SET_ADDR);
		if (r->port_set[0])
			check_set_use(p, &r->at, r->port_set, POLICY_SET_PORT);
	}
	for (i = 0; i < pol->nfwds; i++)
		if (pol->fwds[i].port_set[0])
			check_set_use(p, &pol->fwds[i].at,
			    pol->fwds[i].port_set, POLICY_SET_PORT);
	check_vm_names(p, conf);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every *.conf in dir, in lexical order, into one policy; NULL with the
 * errors logged (and in err) when any file has one. A directory that does
 * not exist is an empty policy. conf (may be NULL) is the configuration
 * the policy goes with: VMs it does not have are mentioned.
 */
struct policy *
parse_policy_dir(const char *dir, const struct hostd_conf *conf, char *err,
    size_t errlen)
{
	return parse_policy_dir_with(dir, conf, NULL, NULL, 0, err, errlen);
}

/* The file in dir that name would replace: the one of the same name. */
static bool
same_file(const char *dir_entry, const char *name)
{
	const char *base = strrchr(name, '/');

	return strcmp(dir_entry, base ? base + 1 : name) == 0;
}

/*
 * The same, with the file name (text, len) in the place of dir's file of
 * that name, or after dir's files: what the policy would be with it
 * (netctl policy check).
 */
struct policy *
parse_policy_dir_with(const char *dir, const struct hostd_conf *conf,
    const char *name, const char *text, size_t textlen, char *err,
    size_t errlen)
{
	struct parser p = { .errbuf = err, .errlen = errlen };
	bool placed = name == NULL;
	char path[PATH_MAX], **names = NULL, **grown, *buf;
	struct dirent *de;
	unsigned n = 0, i;
	size_t len;
	DIR *d;

	if (err && errlen)
		err[0] = '\0';
	if (!(p.pol = policy_new()))
		fatalx("out of memory");
	if (!(d = opendir(dir))) {
		if (errno != ENOENT) {
			p.file = dir;
			perr(&p, 0, "%s", strerror(errno));
			policy_free(p.pol);
			return NULL;
		}
		if (name)
			goto alone;
		return p.pol;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (!(grown = reallocarray(names, n + 1, sizeof(*names))) ||
		    !(grown[n] = strdup(de->d_name)))
			fatalx("out of memory");
		names = grown;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!placed && same_file(names[i], name)) {
			parse_policy_buffer(&p, name, text, textlen);
			placed = true;
		} else if ((buf = read_conf_file(path, &len))) {
			parse_policy_buffer(&p, path, buf, len);
			free(buf);
		} else {
			p.file = path;
			perr(&p, 0, "cannot read it");
		}
		free(names[i]);
	}
	free(names);
alone:
	if (!placed)
		parse_policy_buffer(&p, name, text, textlen);
	check_policy(&p, conf);
	if (p.errors) {
		policy_free(p.pol);
		return NULL;
	}
	return p.pol;
}

/* One file's text (netctl policy check), as if it were the whole policy. */
struct policy *
parse_policy_text(const char *name, const char *text, size_t len,
    const struct hostd_conf *conf, char *err, size_t errlen)
{
	struct parser p = { .errbuf = err, .errlen = errlen };

	err[0] = '\0';
	if (!(p.pol = policy_new()))
		fatalx("out of memory");
	parse_policy_buffer(&p, name, text, len);
	check_policy(&p, conf);
	if (p.errors) {
		policy_free(p.pol);
		return NULL;
	}
	return p.pol;
}
