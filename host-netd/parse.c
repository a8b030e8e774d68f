/*
 * parse.c - host-netd.conf(5): the grammar, global options, entry points
 *
 *	file       = { statement }
 *	statement  = global-option | "vm" NAME "{" { vm-option } "}"
 *
 * Every keyword is in keywords[] with its scope (the top level, or a vm
 * block) and the function that parses the rest of its statement; the
 * table is sorted, for bsearch. A keyword used in the other scope is
 * reported as such, and an unknown one with the keyword of its scope it
 * was probably meant to be.
 *
 * The file is read whole and parsed into a fresh struct hostd_conf; a
 * caller swaps it in only if parsing succeeded, so a bad file never
 * disturbs the running configuration. parse-check.c then checks the file
 * as a whole: each option's line is kept in its vm_conf until then, so
 * that every message points at the option at fault.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "log.h"

#define CONF_MAX_SIZE	(1024 * 1024)

enum scope { SCOPE_GLOBAL, SCOPE_VM };

struct keyword {
	const char	*name;
	enum scope	 scope;
	/* The rest of the statement, through its end; false: skip it. */
	bool		(*parse)(struct parser *p, struct vm_conf *vc);
};

static void	parse_vm(struct parser *p);

/* ---- global options ------------------------------------------------- */

static bool
kw_state_dir(struct parser *p, struct vm_conf *vc)
{
	return arg_path(p, "state-dir", p->conf->state_dir,
	    sizeof(p->conf->state_dir)) && end_of_statement(p);
}

static bool
kw_control_socket(struct parser *p, struct vm_conf *vc)
{
	return arg_path(p, "control-socket", p->conf->control_socket,
	    VMN_PATH_MAX) && end_of_statement(p);
}

static bool
kw_policy_dir(struct parser *p, struct vm_conf *vc)
{
	return arg_path(p, "policy-dir", p->conf->policy_dir,
	    sizeof(p->conf->policy_dir)) && end_of_statement(p);
}

static bool
kw_host_port(struct parser *p, struct vm_conf *vc)
{
	if (!arg_u32(p, "host-port", 1, UINT32_MAX - 1, &p->conf->host_port))
		return false;
	p->line_host_port = p->tok_line;
	return end_of_statement(p);
}

static bool
kw_guest_port(struct parser *p, struct vm_conf *vc)
{
	if (!arg_u32(p, "guest-port", 1, UINT32_MAX - 1, &p->conf->guest_port))
		return false;
	p->line_guest_port = p->tok_line;
	return end_of_statement(p);
}

static bool
kw_subnet_pool(struct parser *p, struct vm_conf *vc)
{
	if (!arg_prefix(p, "subnet-pool", AF_INET, &p->conf->pool4) ||
	    !unicast4_ok(p, "subnet-pool", &p->conf->pool4))
		return false;
	p->line_pool = p->tok_line;
	return end_of_statement(p);
}

static bool
kw_subnet_size(struct parser *p, struct vm_conf *vc)
{
	uint32_t v;

	if (!arg_u32(p, "subnet-size", 8, 30, &v))
		return false;
	p->conf->subnet_len4 = (uint8_t)v;
	p->line_size = p->tok_line;
	return end_of_statement(p);
}

static bool
kw_ula_prefix(struct parser *p, struct vm_conf *vc)
{
	struct vmn_prefix *ula = &p->conf->ula;

	if (!arg(p, "ula-prefix"))
		return false;
	if (strcmp(p->text, "auto") == 0) {
		memset(ula, 0, sizeof(*ula));
	} else {
		if (!tok_prefix(p, "ula-prefix", AF_INET6, ula))
			return false;
		if (ula->plen != 48 || (ula->ip.u.b[0] & 0xfe) != 0xfc) {
			perr(p, p->tok_line, "ula-prefix must be a /48 inside "
			    "fc00::/7");
			return false;
		}
	}
	return end_of_statement(p);
}

static bool
kw_dns_tunnel_address(struct parser *p, struct vm_conf *vc)
{
	if (!arg(p, "dns-tunnel-address"))
		return false;
	p->line_tunnel = p->tok_line;
	if (vmn_ip_parse(p->text, &p->conf->dns_tunnel_addr) < 0 ||
	    !tunnel_addr_ok(&p->conf->dns_tunnel_addr)) {
		perr(p, p->tok_line, "dns-tunnel-address \"%s\" is not a "
		    "unicast address (and not loopback)", p->text);
		return false;
	}
	return end_of_statement(p);
}

static bool
kw_uplink(struct parser *p, struct vm_conf *vc)
{
	struct hostd_conf *c = p->conf;

	if (c->nuplinks >= MAX_UPLINKS) {
		perr(p, p->tok_line, "too many uplinks (at most %d)",
		    MAX_UPLINKS);
		return false;
	}
	if (!arg_ifname(p, "uplink", c->uplinks[c->nuplinks]))
		return false;
	c->nuplinks++;
	return end_of_statement(p);
}

static bool
kw_vm(struct parser *p, struct vm_conf *vc)
{
	if (p->vm_only && p->conf->nvms) {
		perr(p, p->tok_line, "one vm block only");
		return false;
	}
	parse_vm(p);
	return true;
}

/* ---- statements ----------------------------------------------------- */

/* Sorted by name (strcmp), for bsearch. */
static const struct keyword keywords[] = {
	{ "allow-vm",		SCOPE_VM,	kw_allow_vm },
	{ "auto-forward",	SCOPE_VM,	kw_auto_forward },
	{ "auto-forward-privileged", SCOPE_VM,	kw_auto_forward_privileged },
	{ "channel",		SCOPE_VM,	kw_channel },
	{ "control-socket",	SCOPE_GLOBAL,	kw_control_socket },
	{ "dns",		SCOPE_VM,	kw_dns },
	{ "dns-tunnel-address",	SCOPE_GLOBAL,	kw_dns_tunnel_address },
	{ "forward",		SCOPE_VM,	kw_forward },
	{ "forward-direct",	SCOPE_VM,	kw_forward_direct },
	{ "guest-ifname",	SCOPE_VM,	kw_guest_ifname },
	{ "guest-port",		SCOPE_GLOBAL,	kw_guest_port },
	{ "host-ifname",	SCOPE_VM,	kw_host_ifname },
	{ "host-port",		SCOPE_GLOBAL,	kw_host_port },
	{ "inbound",		SCOPE_VM,	kw_inbound },
	{ "ipv6",		SCOPE_VM,	kw_ipv6 },
	{ "link",		SCOPE_VM,	kw_link },
	{ "mode",		SCOPE_VM,	kw_mode },
	{ "mtu",		SCOPE_VM,	kw_mtu },
	{ "policy-dir",		SCOPE_GLOBAL,	kw_policy_dir },
	{ "reverse-forward",	SCOPE_VM,	kw_reverse_forward },
	{ "state-dir",		SCOPE_GLOBAL,	kw_state_dir },
	{ "subnet",		SCOPE_VM,	kw_subnet },
	{ "subnet-pool",	SCOPE_GLOBAL,	kw_subnet_pool },
	{ "subnet-size",	SCOPE_GLOBAL,	kw_subnet_size },
	{ "tap-owner",		SCOPE_VM,	kw_tap_owner },
	{ "ula-prefix",		SCOPE_GLOBAL,	kw_ula_prefix },
	{ "uplink",		SCOPE_GLOBAL,	kw_uplink },
	{ "vm",			SCOPE_GLOBAL,	kw_vm },
};

static int
keyword_cmp(const void *word, const void *kw)
{
	return strcmp(word, ((const struct keyword *)kw)->name);
}

/* An unknown keyword, and the one of its scope it may have meant. */
static void
unknown_keyword(struct parser *p, enum scope scope)
{
	const char *words[nitems(keywords)], *guess;
	size_t i, n = 0;

	for (i = 0; i < nitems(keywords); i++)
		if (keywords[i].scope == scope)
			words[n++] = keywords[i].name;
	guess = suggest(p->text, words, n);
	perr(p, p->tok_line, "unknown %s \"%s\"%s%s%s",
	    scope == SCOPE_VM ? "VM option" : "option", p->text,
	    guess ? ": did you mean " : "", guess ? guess : "",
	    guess ? "?" : "");
}

/* A statement at the top level (vc NULL) or in vc's block. */
static bool
parse_statement(struct parser *p, struct vm_conf *vc)
{
	enum scope scope = vc ? SCOPE_VM : SCOPE_GLOBAL;
	const struct keyword *kw;

	if (p->vm_only && !vc && strcmp(p->text, "vm") != 0) {
		perr(p, p->tok_line, "\"%s\": only a vm block can be "
		    "registered (global options live in host-netd.conf)",
		    p->text);
		return false;
	}
	kw = bsearch(p->text, keywords, nitems(keywords), sizeof(*keywords),
	    keyword_cmp);
	if (kw && kw->scope == scope)
		return kw->parse(p, vc);
	if (!kw)
		unknown_keyword(p, scope);
	else if (vc && kw->parse == kw_vm)
		perr(p, p->tok_line, "vm blocks do not nest: is vm \"%s\"'s "
		    "closing '}' missing?", vc->name);
	else if (vc)
		perr(p, p->tok_line, "%s is a global option: move it out of "
		    "vm \"%s\"", kw->name, vc->name);
	else
		perr(p, p->tok_line, "%s is a VM option: move it into a "
		    "vm \"NAME\" { ... } block", kw->name);
	return false;
}

/* vm NAME { options }; the "vm" keyword is the current token. */
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

	lex_next(p);
	if (p->tok != T_LBRACE) {
		perr(p, p->tok_line, "'{' expected after vm \"%s\"", vc->name);
		skip_statement(p);
		return;
	}
	for (;;) {
		lex_next(p);
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
		if (!parse_statement(p, vc))
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
	for (lex_next(p); p->tok != T_EOF; lex_next(p)) {
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
		if (!parse_statement(p, NULL))
			skip_statement(p);
		if (p->tok == T_EOF)
			break;
	}
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
	strcpy(c->policy_dir, VMN_POLICY_DIR);
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

char *
read_conf_file(const char *path, size_t *lenp)
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

/* Parses path into a new configuration; NULL (errors logged) on failure. */
struct hostd_conf *
parse_config(const char *path)
{
	struct parser p = { 0 };
	char *buf;
	size_t len;

	if (!(buf = read_conf_file(path, &len)))
		return NULL;
	p.conf = conf_new();
	snprintf(p.conf->file, sizeof(p.conf->file), "%s", path);
	parse_buffer(&p, path, buf, len);
	if (p.errors == 0)
		check_config(&p);
	if (p.errors == 0)
		check_channel_dirs(&p);
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
