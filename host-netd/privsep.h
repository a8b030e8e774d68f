/*
 * privsep.h - what host-netd's two processes say to each other
 *
 * The parent (root, CAP_NET_ADMIN) keeps the configuration, the VMs'
 * state machine, links, nftables, mirrored mode and the control socket;
 * the engine (an unprivileged user, no capabilities, its own system call
 * filter: engine.c) reads every byte guests send: their sessions, the DNS
 * tunnel and port forwarding. Three SOCK_SEQPACKET pairs join them, each
 * message one struct below behind a ps_hdr:
 *
 *   cmd     parent -> engine: commands and queries, in order; engine ->
 *           parent: the answers to queries, nothing else
 *   notice  engine -> parent: what the guests did (connected, applied a
 *           configuration, listen on a port...)
 *   rpc     engine -> parent: a socket it may not make itself (a guest's
 *           channel connected, a port bound); the parent answers there
 *
 * The parent trusts nothing the engine sends: sizes are exact, strings
 * are cut at their buffer, VMs are named by an id the parent gave and
 * every socket asked for is checked against that VM's configuration.
 */
#ifndef HOSTD_PRIVSEP_H
#define HOSTD_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hostfwd.h"
#include "netconf.h"
#include "resolver.h"
#include "transport.h"

#define PS_NAME_MAX	32	/* VM_NAME_MAX */
#define PS_STR_MAX	128	/* a port's state, an error */
#define PS_MAX_STATIC	64	/* 2 * MAX_FORWARDS: the block's, netctl's */
#define PS_MAX_RFWD	40	/* VM_MAX_RFORWARDS */
#define PS_MAX_MSG	(256 * 1024)
#define PS_QUERY_TIMEOUT_MS 3000	/* the parent waits no longer */
/* A buffer messages are read into: their structs are read in place. */
#define PS_ALIGNED	__attribute__((aligned(16)))

enum ps_type {
	/* parent -> engine, on cmd */
	PS_VM_NEW = 1,		/* ps_vm_new */
	PS_VM_FREE,		/* - */
	PS_VM_LISTEN,		/* -, its channel's listener passed */
	PS_VM_STOP,		/* -: sessions end, the listener goes */
	PS_VM_FORWARDS,		/* ps_vm_forwards */
	PS_VM_DNS,		/* ps_vm_dns */
	PS_CONFIG,		/* ps_config */
	PS_DROP_CONTROL,	/* - */
	PS_VSOCK_LISTEN,	/* -, the vsock listener passed */
	PS_VSOCK_UNLISTEN,	/* - */
	PS_DNS_RELOAD,		/* - */
	/* parent -> engine, on cmd, answered there with the same type */
	PS_Q_STATS,		/* - -> ps_stats */
	PS_Q_VM_STATS,		/* - -> ps_vms_stats: every VM's */
	PS_Q_PORTS,		/* - -> ps_ports */
	PS_Q_PORT_INFO,		/* hostfwd_static -> ps_port (none: kind "") */
	PS_Q_PROBE,		/* hostfwd_static -> ps_result */
	/* engine -> parent, on notice */
	PS_N_GUEST_UP,		/* - */
	PS_N_GUEST_GONE,	/* - */
	PS_N_ACKED,		/* ps_gen */
	PS_N_FAILED,		/* ps_result (gen in value) */
	PS_N_LISTENER,		/* ps_listener */
	PS_N_FWD_NOTE,		/* ps_fwd_note */
	/* engine -> parent, on rpc, answered there: ps_result and a socket */
	PS_R_CONNECT,		/* ps_connect */
	PS_R_BIND,		/* ps_bind */
};

struct ps_hdr {
	uint32_t	type;
	uint32_t	vm;		/* the parent's id for it; 0: none */
	uint32_t	seq;		/* a query's, echoed */
	uint32_t	len;		/* the struct after this header */
};

struct ps_vm_new {
	char			name[PS_NAME_MAX + 1];
	struct vmn_endpoint	channel;
	uint32_t		guest_port;	/* the default */
	uint8_t			dns_tunnel;
};

struct ps_vm_dns {
	uint8_t		dns_tunnel;
};

struct ps_vm_forwards {
	struct hostfwd_policy	policy;
	struct vmn_ip		direct4, direct6;
	uint8_t			auto_forward;
	uint32_t		nstatic, nrfwd;
	struct hostfwd_static	statics[PS_MAX_STATIC];
	struct hostfwd_rfwd	rfwds[PS_MAX_RFWD];
};

struct ps_config {
	uint32_t		gen;
	struct vmn_netconf	nc;
};

struct ps_gen {
	uint32_t	gen;
};

struct ps_result {
	int32_t		rc;		/* 0 or -errno */
	uint32_t	value;
	char		msg[PS_STR_MAX];
};

struct ps_listener {
	uint8_t		added, proto;
	uint16_t	port;
};

/* One forwarded port: hostfwd_port_info with its strings. */
struct ps_port {
	uint8_t		proto;
	struct vmn_ip	addr;
	uint16_t	host_port, guest_port;
	uint64_t	conns;
	char		kind[16];
	char		state[PS_STR_MAX];	/* "": none */
};

struct ps_fwd_note {
	uint32_t	note;		/* enum hostfwd_note */
	struct ps_port	port;
};

struct ps_ports {
	uint32_t	n;
	struct ps_port	port[HOSTFWD_MAX_PORTS + HOSTFWD_MAX_RFWDS];
};
/* An answer's length: port[] is 8-aligned, not right after n. */
#define PS_PORTS_LEN(n) \
	(offsetof(struct ps_ports, port) + (n) * sizeof(struct ps_port))

struct ps_stats {
	struct dnstun_stats	dns;
	struct hostfwd_stats	fwd;
	uint64_t		conflicts;	/* ports in use, every VM's */
};

struct ps_vm_stats {
	struct hostfwd_vm_stats	fwd;
	uint64_t		dns_queries, dns_failures;
	uint32_t		conflicts;
	uint32_t		vm;		/* its id */
};

/* One answer for all: `netctl vms` with 512 VMs is one round trip. */
#define PS_MAX_VMS	512
struct ps_vms_stats {
	uint32_t		n;
	struct ps_vm_stats	vm[PS_MAX_VMS];
};
/* An answer's length, as PS_PORTS_LEN. */
#define PS_VMS_STATS_LEN(n) \
	(offsetof(struct ps_vms_stats, vm) + (n) * sizeof(struct ps_vm_stats))

struct ps_connect {
	struct vmn_endpoint	ep;
	uint32_t		port;
};

struct ps_bind {
	struct vmn_ip	addr;
	uint8_t		proto, reuseport;
	uint16_t	port;
	int32_t		backlog;
};

/* privsep.c's message primitives, for both sides */
int	ps_send(int fd, bool wait, uint32_t type, uint32_t vm,
	    uint32_t seq, const void *body, size_t len, int passfd);
ssize_t	ps_recv(int fd, struct ps_hdr *h, void *body, size_t max, int *fdp);
void	ps_port_from(struct ps_port *p, const struct hostfwd_port_info *pi);
void	ps_port_to(struct ps_port *p, struct hostfwd_port_info *pi);

/* engine.c: the engine's process; returns only in the parent */
int	engine_start(int foreground, int verbose, int *cmd, int *notice,
	    int *rpc);

#endif
