/*
 * hostfwd-int.h - host-netd: what the parts of the host's end share
 *
 * hostfwd.c keeps a VM's forwarded ports bound as they should be,
 * hostfwd-tcp.c takes the TCP connections made to them and the reverse
 * forwards the guest opens, hostfwd-udp.c the UDP flows.
 */
#ifndef VMN_HOSTFWD_INT_H
#define VMN_HOSTFWD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "fwdconn.h"
#include "hostfwd.h"
#include "ratelimit.h"
#include "reconcile.h"
#include "transport.h"

#define LISTENERS_MAX	1024	/* guest listeners remembered per VM */
#define DIRECT_FAILS	8	/* ports whose direct connect failed lately */
/* Per-connection failures logged per VM, at most: so many per so long. */
#define CONN_LOG_BURST	10
#define CONN_LOG_MS	10000

enum hport_kind { HP_AUTO, HP_STATIC, HP_REVERSE };

struct hport;
struct hudp;

/* One socket of a forwarded port: 127.0.0.1, ::1, or the address given. */
struct hbind {
	struct hport		*hp;
	struct vmn_ip		 addr;
	bool			 held;		/* auto: a static forward's */
	int			 fd;
	struct event		*ev;
	uint32_t		 lid;		/* the guest accepts on it: its id */
};

struct hport {
	TAILQ_ENTRY(hport)	 entry;
	struct hostfwd		*hf;
	enum hport_kind		 kind;
	uint8_t			 proto;
	uint16_t		 host_port;
	uint16_t		 guest_port;
	uint8_t			 families;	/* auto: FAM_V4, FAM_V6 */
	bool			 keep;		/* static: mark and sweep */
	bool			 runtime;	/* static: netctl's */
	bool			 announced;	/* its ADDED note went out */
	unsigned		 nbind;
	struct hbind		 bind[2];
	char			 error[160];	/* empty: active */
	uint64_t		 conns;
	LIST_HEAD(, hudp)	 udp;
	unsigned		 nudp;
};

struct hostfwd {
	struct event_base	*base;
	char			 vm[64];
	struct vmn_endpoint	 chan;
	uint32_t		 guest_port;
	struct vmn_ip		 direct4, direct6; /* the guest's; 0: none */
	struct {
		uint16_t	 port;		/* 0: free */
		uint64_t	 at_ms;
	}			 direct_failed[DIRECT_FAILS];
	hostfwd_reset_fn	 send_reset;
	void			*arg;
	hostfwd_note_fn		 note;		/* NULL: nobody listens */
	void			*note_arg;
	struct hostfwd_vm_stats	 stats;		/* TCP's bytes: in conns */
	bool			 auto_forward;
	struct hostfwd_policy	 policy;
	uint16_t		 unpriv_start;	/* the host's, at the last look */
	struct hostfwd_static	*statics;	/* the configuration's */
	unsigned		 nstatics;
	struct glisteners	 listeners;
	bool			 listeners_full;	/* warned once */
	TAILQ_HEAD(, hport)	 ports;
	unsigned		 nports;
	struct fwdconn_set	 conns;		/* TCP, both ways */
	struct vmn_ratelimit	 conn_log;	/* their failures */
	uint32_t		 next_id;
	struct rfwd_state	 rfwds[HOSTFWD_MAX_RFWDS];
	unsigned		 nrfwds;
	struct event		*retry_ev;
	/* hostfwd-handoff.c: the guest accepts on our TCP sockets */
	int			 hch;		/* the channel; -1: none */
	struct event		*hch_ev;
	struct vmn_connector	*hconn;
	uint32_t		 next_lid;
};

extern struct hostfwd_stats hostfwd_counters;

/* hostfwd.c */
const char	*hostfwd_proto_name(uint8_t proto);
uint32_t	 hostfwd_next_id(struct hostfwd *hf);
uint8_t		 hostfwd_target_family(const struct hport *hp);

/* hostfwd.c */
void	hport_bind(struct hport *hp);
void	hbind_close(struct hbind *b);

/* hostfwd-handoff.c */
void	hostfwd_handoff(struct hostfwd *hf, bool on);
void	hostfwd_handoff_bind(struct hbind *b);
void	hostfwd_handoff_unbind(struct hbind *b);
struct hport *hostfwd_handoff_port(struct hostfwd *hf, uint32_t lid);

/* hostfwd-tcp.c */
int	hostfwd_tcp_init(struct hostfwd *hf);
void	hostfwd_tcp_accept_cb(evutil_socket_t fd, short what, void *arg);

/* hostfwd-udp.c */
void	hostfwd_udp_read_cb(evutil_socket_t fd, short what, void *arg);
void	hostfwd_udp_close(struct hport *hp, const struct hbind *b);

#endif
