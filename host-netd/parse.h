/*
 * parse.h - inside host-netd.conf's parser: what its three parts share
 *
 * parse-lex.c cuts the text into tokens and reports errors at file:line;
 * parse-value.c turns a token into a value (numbers, names, prefixes, one
 * of a set of words); parse.c is the grammar, a table of keywords with
 * their scopes, and the global options; parse-vm.c parses the options of a
 * vm block; parse-check.c checks the file as a whole once it is read.
 * Nothing outside these files includes this header: host-netd.h has their
 * API.
 */
#ifndef HOSTD_PARSE_H
#define HOSTD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host-netd.h"
#include "policy.h"

#define TOKEN_MAX	1024
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

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
	struct policy		*pol;		/* parsing policy files */
};

/* parse-lex.c */
void	perr(struct parser *p, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	pwarn(struct parser *p, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	vcerr(struct parser *p, const struct vm_conf *vc, int line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	perr_at(struct parser *p, const struct policy_where *at,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
enum tok lex_next(struct parser *p);
void	skip_statement(struct parser *p);
bool	arg(struct parser *p, const char *what);
bool	at_end(struct parser *p);
bool	end_of_statement(struct parser *p);

/* parse-value.c */
extern const char *const mode_names[VM_MODE__MAX];
extern const char *const link_names[VM_LINK__MAX];
extern const char *const dns_names[DNS_MODE__MAX];
const char *suggest(const char *word, const char *const *words, size_t n);
void	list_words(char *buf, size_t len, const char *const *words, size_t n);
bool	tok_u32_or(struct parser *p, const char *what, const char *alt,
	    uint32_t lo, uint32_t hi, uint32_t *out);
bool	arg_u32(struct parser *p, const char *what, uint32_t lo, uint32_t hi,
	    uint32_t *out);
int	arg_word(struct parser *p, const char *what, const char *const *words,
	    size_t n);
bool	arg_yesno(struct parser *p, const char *what, bool *out);
bool	arg_path(struct parser *p, const char *what, char *dst, size_t size);
bool	ifname_ok(const char *s);
bool	arg_ifname(struct parser *p, const char *what, char dst[IFNAMSIZ]);
bool	vm_name_ok(const char *s);
bool	tok_prefix(struct parser *p, const char *what, int family,
	    struct vmn_prefix *out);
bool	arg_prefix(struct parser *p, const char *what, int family,
	    struct vmn_prefix *out);
bool	unicast4_ok(struct parser *p, const char *what,
	    const struct vmn_prefix *pf);
bool	tunnel_addr_ok(const struct vmn_ip *ip);
bool	arg_port(struct parser *p, const char *statement, int proto,
	    uint32_t *out);

/* parse-vm.c: the vm scope's keywords (the rest of the statement) */
void	vm_defaults(struct vm_conf *vc);
bool	kw_allow_vm(struct parser *p, struct vm_conf *vc);
bool	kw_auto_forward(struct parser *p, struct vm_conf *vc);
bool	kw_auto_forward_privileged(struct parser *p, struct vm_conf *vc);
bool	kw_forward_direct(struct parser *p, struct vm_conf *vc);
bool	kw_inbound(struct parser *p, struct vm_conf *vc);
bool	kw_channel(struct parser *p, struct vm_conf *vc);
bool	kw_dns(struct parser *p, struct vm_conf *vc);
bool	kw_forward(struct parser *p, struct vm_conf *vc);
bool	kw_guest_ifname(struct parser *p, struct vm_conf *vc);
bool	kw_host_ifname(struct parser *p, struct vm_conf *vc);
bool	kw_ipv6(struct parser *p, struct vm_conf *vc);
bool	kw_link(struct parser *p, struct vm_conf *vc);
bool	kw_mode(struct parser *p, struct vm_conf *vc);
bool	kw_mtu(struct parser *p, struct vm_conf *vc);
bool	kw_reverse_forward(struct parser *p, struct vm_conf *vc);
bool	kw_subnet(struct parser *p, struct vm_conf *vc);
bool	kw_tap_owner(struct parser *p, struct vm_conf *vc);

/* parse.c */
char	*read_conf_file(const char *path, size_t *lenp);

/* parse-check.c */
void	check_config(struct parser *p);
void	check_channel_dirs(struct parser *p);

#endif
