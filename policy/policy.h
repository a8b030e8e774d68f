/*
 * policy.h - policy(5): firewall rules, sets, proxies and forwarding rules
 *
 * The policy is what the files in policy.d say, in order: files in lexical
 * order, blocks and rules in each file in order. host-netd's parser
 * (host-netd/parse-policy.c) fills it; this library answers questions
 * about it (which rules a VM has, its proxy, what becomes of a port it
 * listens on) and renders its firewall (firewall.c). It knows VMs by name
 * only: a block may name a VM that is not configured (yet).
 */
#ifndef VMN_POLICY_H
#define VMN_POLICY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define POLICY_NAME_MAX		32	/* a VM's or a set's name */
#define POLICY_MAX_SCOPE	16	/* VMs one block names */
#define POLICY_MAX_RULES	1024	/* firewall rules, all files */
#define POLICY_MAX_SETS		64
#define POLICY_MAX_SET_ITEMS	4096	/* addresses or ports in one set */
#define POLICY_MAX_TARGETS	16	/* addresses, sets... in one rule */
#define POLICY_MAX_PORTS	16	/* ports or ranges in one rule */
#define POLICY_MAX_PROXIES	64
#define POLICY_MAX_FWDS		256	/* forwarding rules, all files */
#define POLICY_URL_MAX		512	/* as the guest's proxy settings */
#define POLICY_NOPROXY_MAX	1536
#define POLICY_RULE_TEXT	1024	/* a rule as text (policy_*_format) */

/* Which VMs a block is for: the ones it names, or every VM. */
struct policy_scope {
	unsigned	nvms;			/* 0: every VM */
	char		vms[POLICY_MAX_SCOPE][POLICY_NAME_MAX + 1];
};

/* Where a block or rule was written. */
struct policy_where {
	const char	*file;			/* in policy->files */
	int		 line;
};

struct policy_range {
	uint16_t	lo, hi;
};

/* A named set: addresses and prefixes, or ports and ranges. */
enum policy_set_kind { POLICY_SET_ADDR, POLICY_SET_PORT };

struct policy_set {
	struct policy_where	 at;
	char			 name[POLICY_NAME_MAX + 1];
	enum policy_set_kind	 kind;
	unsigned		 n;
	struct vmn_prefix	*addrs;		/* POLICY_SET_ADDR */
	struct policy_range	*ports;		/* POLICY_SET_PORT */
};

/* ---- firewall --------------------------------------------------------- */

enum policy_action { POLICY_ALLOW, POLICY_DENY, POLICY_REJECT };
enum policy_dir { POLICY_OUT, POLICY_IN };

/* Protocols, as bits; none: any. */
#define POLICY_TCP	1u
#define POLICY_UDP	2u
#define POLICY_ICMP	4u	/* ICMP and ICMPv6 */

/* What a rule's peer is: the other end of the traffic. */
enum policy_target_kind {
	POLICY_T_PREFIX,	/* an address or prefix */
	POLICY_T_SET,		/* @name: an address set */
	POLICY_T_HOST,		/* the host itself */
	POLICY_T_VM,		/* vm NAME: another VM */
};

struct policy_target {
	enum policy_target_kind	 kind;
	struct vmn_prefix	 pfx;			/* PREFIX */
	char			 name[POLICY_NAME_MAX + 1];	/* SET, VM */
};

/*
 * allow|deny|reject in|out [tcp] [udp] [icmp] [to|from PEER...]
 * [port PORT...]. No peer: any; no port: any.
 */
struct policy_rule {
	struct policy_where	 at;
	unsigned		 scope;		/* in policy->scopes */
	enum policy_action	 action;
	enum policy_dir		 dir;
	unsigned		 protos;	/* POLICY_TCP...; 0: any */
	unsigned		 ntargets;
	struct policy_target	 targets[POLICY_MAX_TARGETS];
	/* The destination port: ranges, or a port set. */
	unsigned		 nports;
	struct policy_range	 ports[POLICY_MAX_PORTS];
	char			 port_set[POLICY_NAME_MAX + 1];
};

/* ---- proxy -------------------------------------------------------------- */

/* Where follow-host reads the host's proxies by default. */
#define POLICY_HOST_ENVIRONMENT	"/etc/environment"

struct policy_proxy {
	struct policy_where	 at;
	unsigned		 scope;
	bool			 follow_host;	/* the proxies source has */
	char			 source[POLICY_URL_MAX];
	bool			 none;		/* no proxy, whatever else says */
	char			 http[POLICY_URL_MAX];
	char			 https[POLICY_URL_MAX];
	char			 pac[POLICY_URL_MAX];
	char			 no_proxy[POLICY_NOPROXY_MAX];
};

/* ---- forwarding rules ------------------------------------------------- */

/* forward|ignore [tcp] [udp] port PORT... [address ADDR] */
struct policy_fwd {
	struct policy_where	 at;
	unsigned		 scope;
	bool			 ignore;
	unsigned		 protos;	/* POLICY_TCP, POLICY_UDP; 0: both */
	unsigned		 nports;
	struct policy_range	 ports[POLICY_MAX_PORTS];
	char			 port_set[POLICY_NAME_MAX + 1];
	struct vmn_ip		 addr;		/* family 0: loopback */
};

struct policy {
	unsigned		 nfiles;
	char			**files;	/* every file read, in order */
	unsigned		 nscopes;
	struct policy_scope	*scopes;
	unsigned		 nsets;
	struct policy_set	*sets;
	unsigned		 nrules;
	struct policy_rule	*rules;
	unsigned		 nproxies;
	struct policy_proxy	*proxies;
	unsigned		 nfwds;
	struct policy_fwd	*fwds;
};

/* policy.c */
struct policy	*policy_new(void);
void		 policy_free(struct policy *pol);
const char	*policy_add_file(struct policy *pol, const char *path);
int		 policy_add_scope(struct policy *pol,
		    const struct policy_scope *s);
struct policy_set *policy_add_set(struct policy *pol);
struct policy_rule *policy_add_rule(struct policy *pol);
struct policy_proxy *policy_add_proxy(struct policy *pol);
struct policy_fwd *policy_add_fwd(struct policy *pol);
const struct policy_set *policy_find_set(const struct policy *pol,
		    const char *name);
bool		 policy_scope_has(const struct policy *pol, unsigned scope,
		    const char *vm);
bool		 policy_names_vm(const struct policy *pol, const char *vm);
const struct policy_proxy *policy_proxy_for(const struct policy *pol,
		    const char *vm);
bool		 policy_ports_have(const struct policy *pol,
		    const struct policy_range *r, unsigned n,
		    const char *port_set, uint16_t port);
const char	*policy_prefix_ntop(const struct vmn_prefix *p, char *buf,
		    size_t len);
int		 policy_rule_format(const struct policy_rule *r, char *buf,
		    size_t len);
int		 policy_fwd_format(const struct policy_fwd *f, char *buf,
		    size_t len);

#endif
