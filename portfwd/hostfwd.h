/*
 * hostfwd.h - host-netd: the host's end of port forwarding, per VM
 *
 * hostfwd.c: the forwarded ports; hostfwd-tcp.c: TCP connections and
 * reverse forwards; hostfwd-udp.c: UDP flows.
 */
#ifndef VMN_HOSTFWD_H
#define VMN_HOSTFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct event_base;
struct vmn_conn;
struct vmn_endpoint;
struct vmn_msg;
struct hostfwd;

#define HOSTFWD_MAX_CONNS	4096	/* forwarded connections per VM */
#define HOSTFWD_MAX_PORTS	256	/* forwarded ports per VM */
#define HOSTFWD_MAX_UDP		256	/* UDP flows per port */
#define HOSTFWD_UDP_IDLE_MS	60000
#define HOSTFWD_RETRY_MS	2000	/* ports taken on the host: try again */
#define HOSTFWD_MAX_RFWDS	32	/* reverse forwards per VM */
/* Tries at a channel per connection: a burst can fill the listen backlog
 * of the guest's end (or of an hvsock back-end) for a moment. */
#define HOSTFWD_CHAN_ATTEMPTS	3
/* A port whose direct connect failed goes over the channel this long. */
#define HOSTFWD_DIRECT_RETRY_MS	30000

/* Counters over every VM, for netctl status. */
struct hostfwd_stats {
	uint64_t	connections;	/* accepted on forwarded ports (TCP) */
	uint64_t	refused;	/* the guest could not connect */
	uint64_t	udp_flows;
	uint64_t	reverse;	/* reverse connections relayed */
	uint64_t	reverse_failed;	/* refused or failed on the host */
	uint64_t	resets;		/* resets passed either way */
	uint64_t	handed;		/* TCP handed to guest-netd (unix:) */
	uint64_t	direct;		/* TCP to the guest's address itself */
	uint64_t	direct_failed;	/* tried so, and went over vsock */
};

/* One VM's forwarding so far, for netctl vms NAME. */
struct hostfwd_vm_stats {
	uint64_t	connections;	/* to its forwarded ports: TCP, UDP flows */
	uint64_t	reverse;	/* through its reverse forwards */
	uint64_t	bytes_to_guest;	/* either kind, either protocol */
	uint64_t	bytes_from_guest;
};

/* A forward from the configuration, or from netctl (runtime). */
struct hostfwd_static {
	uint8_t		proto;
	uint16_t	host_port;
	uint16_t	guest_port;
	struct vmn_ip	addr;		/* where the host listens */
	bool		runtime;	/* netctl forward add's: "runtime" */
};

/*
 * What automatic forwards may take. Zeroed, the default: no port below the
 * host's net.ipv4.ip_unprivileged_port_start (its own services' ports).
 */
#define HOSTFWD_MAX_RULES	64	/* forwarding rules per VM, ranges apart */
#define HOSTFWD_TCP		1u	/* a rule's protocols, as bits */
#define HOSTFWD_UDP		2u

/*
 * One of policy(5)'s forwarding rules, for one port range: the first rule
 * that matches a port decides for it, before the defaults.
 */
struct hostfwd_rule {
	bool		ignore;
	uint8_t		protos;		/* HOSTFWD_TCP...; 0: both */
	uint16_t	lo, hi;
	struct vmn_ip	addr;		/* where the host listens; 0: loopback */
	char		where[64];	/* "file:line", for the log */
};

struct hostfwd_policy {
	bool		auto_privileged;	/* those ports too */
	bool		mirrored;	/* share ports with mirrored mode's holders */
	unsigned	nrules;
	struct hostfwd_rule rules[HOSTFWD_MAX_RULES];
};

/* A reverse forward the configuration allows. */
struct hostfwd_rfwd {
	uint8_t		proto;
	uint16_t	port;		/* on the host's loopback */
	uint16_t	guest_port;
};

/* For netctl: one forwarded port. */
struct hostfwd_port_info {
	uint8_t		 proto;
	struct vmn_ip	 addr;
	uint16_t	 host_port;
	uint16_t	 guest_port;
	const char	*kind;		/* "auto", "static", "runtime", "reverse" */
	const char	*state;		/* "active", or why not */
	uint64_t	 conns;
};

/* What happened to a forwarded port, for netctl monitor. */
enum hostfwd_note {
	HOSTFWD_ADDED,
	HOSTFWD_REMOVED,
	HOSTFWD_CONFLICT,	/* it cannot be bound: p->state says why */
	HOSTFWD_RESOLVED,	/* bound at last */
};

typedef void	(*hostfwd_reset_fn)(void *arg, uint32_t conn_id);
typedef void	(*hostfwd_port_fn)(void *arg, const struct hostfwd_port_info *p);
typedef void	(*hostfwd_note_fn)(void *arg, enum hostfwd_note note,
		    const struct hostfwd_port_info *p);

/*
 * Who binds the forwarded ports: fwd_bind_local() (NULL), or a process
 * that may not bind them asks another (vm: the hostfwd's VM).
 */
typedef int	(*hostfwd_bind_fn)(const char *vm, const struct vmn_ip *addr,
		    uint8_t proto, uint16_t port, int backlog, bool reuseport);
extern hostfwd_bind_fn hostfwd_bind_via;

/* hostfwd.c */
struct hostfwd	*hostfwd_new(struct event_base *base, const char *vm_name,
		    const struct vmn_endpoint *chan, uint32_t guest_port,
		    hostfwd_reset_fn send_reset, void *arg);
void		 hostfwd_free(struct hostfwd *hf);
void		 hostfwd_configure(struct hostfwd *hf, bool auto_forward,
		    const struct hostfwd_static *st, unsigned nst,
		    const struct hostfwd_rfwd *rv, unsigned nrv);
void		 hostfwd_set_policy(struct hostfwd *hf,
		    const struct hostfwd_policy *p);
void		 hostfwd_set_guest_port(struct hostfwd *hf, uint32_t port);
void		 hostfwd_set_handoff(struct hostfwd *hf, bool guest_takes);
void		 hostfwd_handed_bytes(struct hostfwd *hf, uint32_t conn_id,
		    uint64_t conns, uint64_t to_guest, uint64_t from_guest);
void		 hostfwd_set_notify(struct hostfwd *hf, hostfwd_note_fn fn,
		    void *arg);
int		 hostfwd_probe(const struct hostfwd *hf,
		    const struct hostfwd_static *st, char *err, size_t errlen);
bool		 hostfwd_port_info(const struct hostfwd *hf,
		    const struct hostfwd_static *st,
		    struct hostfwd_port_info *pi);
void		 hostfwd_vm_stats(const struct hostfwd *hf,
		    struct hostfwd_vm_stats *st);
void		 hostfwd_session_up(struct hostfwd *hf);
void		 hostfwd_listener(struct hostfwd *hf, bool added, uint8_t proto,
		    uint8_t family, uint16_t port, bool wildcard);
void		 hostfwd_set_direct(struct hostfwd *hf,
		    const struct vmn_ip *guest4, const struct vmn_ip *guest6);
void		 hostfwd_synced(struct hostfwd *hf);
void		 hostfwd_foreach(struct hostfwd *hf, hostfwd_port_fn fn,
		    void *arg);
unsigned	 hostfwd_conflicts(const struct hostfwd *hf);
const struct hostfwd_stats *hostfwd_stats(void);

/* hostfwd-tcp.c */
void		 hostfwd_reset(struct hostfwd *hf, uint32_t conn_id);
int		 hostfwd_reverse(struct hostfwd *hf, struct vmn_conn *c,
		    uint32_t hello_seq, uint32_t caps, const struct vmn_msg *m);

#endif
