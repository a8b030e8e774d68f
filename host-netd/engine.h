/*
 * engine.h - host-netd's unprivileged engine: its VMs and their sessions
 *
 * engine.c is the process (privsep.h says what it does and why);
 * session.c, the guests' connections to it.
 */
#ifndef HOSTD_ENGINE_H
#define HOSTD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "privsep.h"

struct event;
struct event_base;
struct session;
LIST_HEAD(session_list, session);

/* A VM as the engine knows it: what its guest may do, and its sessions. */
struct evm {
	TAILQ_ENTRY(evm)	 entry;
	uint32_t		 id;		/* the parent's */
	char			 name[PS_NAME_MAX + 1];
	struct vmn_endpoint	 channel;
	uint32_t		 guest_port;	/* the default */
	bool			 dns_tunnel;
	unsigned		 nrfwds;	/* reverse forwards it has */
	int			 listen_fd;
	struct event		*listen_ev;
	struct session_list	 sessions;
	unsigned		 nsessions;
	uint64_t		 sessions_refused;
	struct session		*control;
	uint32_t		 commit_seq, commit_gen;
	bool			 commit_pending;
	struct dnstun_budget	*dns_budget;
	struct hostfwd		*fwd;
};
TAILQ_HEAD(evm_list, evm);

struct engine {
	struct event_base	*base;
	struct evm_list		 vms;
	int			 cmd, notice, rpc;
	int			 vsock_fd;
	struct event		*vsock_ev;
};

extern struct engine *engine;

/* engine.c */
struct evm	*evm_new(uint32_t id, const struct ps_vm_new *v);
void		 evm_free(struct evm *vm);
struct evm	*evm_find(uint32_t id);
struct evm	*evm_find_name(const char *name);
struct evm	*evm_find_cid(uint32_t cid);
void		 engine_notice(const struct evm *vm, uint32_t type,
		    const void *body, size_t len);

/* session.c */
void	session_listen(struct evm *vm, int fd);
void	session_unlisten(struct evm *vm);
void	session_vsock_listen(int fd);
void	session_vsock_unlisten(void);
void	session_close_all(struct evm *vm);
void	session_send_config(struct evm *vm, uint32_t gen,
	    const struct vmn_netconf *nc);
void	session_drop_control(struct evm *vm, const char *why);
void	session_drop_role(struct evm *vm, enum vmn_role role);
void	session_send_event(struct session *s, int event, uint32_t conn_id);

#endif
