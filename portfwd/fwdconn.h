/*
 * fwdconn.h - one forwarded connection, at either end of a forward
 */
#ifndef VMN_FWDCONN_H
#define VMN_FWDCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "addr.h"
#include "chan.h"

struct event;
struct event_base;
struct vmn_endpoint;
struct fwdconn;
struct fwd_pace;

#define FWDCONN_RESET_WAIT_MS	2000	/* for the peer to act on a reset */
/*
 * Answering: connects in flight to one local port at a time; the rest
 * wait their turn. A connect whose SYN goes unanswered this long (the
 * port's accept queue was full) starts again, the wait doubling up to
 * the max; all of it, queue included, may take as long as connect(2)
 * itself would try (tcp_syn_retries 6: 127 s) before the peer is told.
 */
#define FWDCONN_PACE		4
#define FWDCONN_ATTEMPT_MIN_MS	2
#define FWDCONN_ATTEMPT_MAX_MS	256
#define FWDCONN_CONNECT_MS	130000
/*
 * A burst of this many connections at once leaves megabytes of freed
 * relay buffers in the heap, which glibc keeps: given back to the system
 * when the last of them has ended.
 */
#define FWDCONN_TRIM_AFTER	256
/* A direct connect answered by nothing this long gives way to a channel. */
#define FWDCONN_DIRECT_MS	1000

/* How a connection's setup ended: for the owner's counters and logs. */
enum fwdconn_result {
	FWDCONN_RELAYING,	/* set up: relaying from now on */
	FWDCONN_HANDED,		/* set up: handed to the peer, who relays */
	FWDCONN_NO_CHANNEL,	/* open: no channel to the peer */
	FWDCONN_REFUSED,	/* the local port refused, here or at the peer */
	FWDCONN_FAILED,		/* the channel broke or lied, or no memory */
	FWDCONN_TIMEOUT,	/* setup took too long */
};

struct fwdconn_ops {
	/*
	 * Setup ended, once per connection (unless the set is cleared
	 * first): err is an errno or 0, msg the peer's reason or what went
	 * wrong (may be NULL). On anything but FWDCONN_RELAYING the
	 * connection is freed right after (FWDCONN_HANDED: a success). The owner given at its start
	 * (what it counts against while it is set up) is let go of then.
	 */
	void	(*setup_done)(void *arg, struct fwdconn *fc,
		    enum fwdconn_result res, int err, const char *msg);
	/* Our end was reset: the peer must hear of it (FWD_RESET). */
	void	(*send_reset)(void *arg, uint32_t conn_id);
	/*
	 * A connection the opener handed over ended: what went to our
	 * local socket and what came from it, for the opener's counters
	 * (may be NULL).
	 */
	void	(*handed_end)(void *arg, uint32_t conn_id, uint64_t to_local,
		    uint64_t from_local);
	/*
	 * A channel whose HELLO asks for VMN_ROLE_HANDOFF: the owner
	 * takes it (chan is its from then on). NULL: refused.
	 */
	void	(*take_channel)(void *arg, int chan);
	/*
	 * fwdconn_open_direct() could not reach the server (err): the
	 * connection goes over a channel instead (may be NULL).
	 */
	void	(*direct_failed)(void *arg, const struct fwd_target *t,
		    int err);
};

/* Bytes relayed: read from the local socket, and written to it. */
struct fwdconn_bytes {
	uint64_t	from_local;
	uint64_t	to_local;
};

/* The connections of one end (a VM's on the host, the guest's). */
struct fwdconn_set {
	struct event_base		*base;
	const struct fwdconn_ops	*ops;
	void				*arg;
	const char			*vm_id;		/* in our HELLOs */
	enum vmn_role			 open_role;	/* what we open */
	enum vmn_role			 answer_role;	/* what we answer */
	LIST_HEAD(, fwdconn)		 conns;
	unsigned			 n, max;
	unsigned			 peak;	/* most at once since a trim */
	LIST_HEAD(, fwd_pace)		 paces;		/* per local port */
	struct event			*kick;		/* turns came free */
	bool				 kicking;
	struct fwdconn_bytes		 done;		/* of those ended */
	bool				 handoff;	/* open: hand TCP over */
	/*
	 * open: the local program's TCP bytes follow the request at once
	 * rather than after the answer; only to a peer that reads the
	 * handshake exactly, so that they wait in the channel until it
	 * has connected.
	 */
	bool				 early;
};

int	fwdconn_set_init(struct fwdconn_set *set, struct event_base *base,
	    unsigned max, const struct fwdconn_ops *ops, void *arg);
void	fwdconn_set_free(struct fwdconn_set *set);
int	fwdconn_open(struct fwdconn_set *set, int local,
	    const struct fwd_target *t, const struct vmn_endpoint *ep,
	    uint32_t port, unsigned attempts, void *owner);
int	fwdconn_open_direct(struct fwdconn_set *set, int local,
	    const struct fwd_target *t, const struct vmn_ip *server,
	    const struct vmn_endpoint *ep, uint32_t port, unsigned attempts,
	    void *owner);
int	fwdconn_answer(struct fwdconn_set *set, int chan);
int	fwdconn_take(struct fwdconn_set *set, int client,
	    const struct fwd_target *t);
int	fwdconn_answer_target(struct fwdconn_set *set, int chan,
	    const struct chan_hello *hello, uint32_t fwd_seq,
	    const struct fwd_target *t, void *owner);
bool	fwdconn_reset(struct fwdconn_set *set, uint32_t conn_id);
void	fwdconn_disown(struct fwdconn_set *set, const void *owner);
void	fwdconn_set_bytes(const struct fwdconn_set *set,
	    struct fwdconn_bytes *b);
void	*fwdconn_owner(const struct fwdconn *fc);
const struct fwd_target *fwdconn_target(const struct fwdconn *fc);
bool	fwdconn_is_direct(const struct fwdconn *fc);

#endif
