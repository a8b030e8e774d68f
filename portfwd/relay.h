/*
 * relay.h - moving a forwarded connection's bytes between two sockets
 */
#ifndef VMN_RELAY_H
#define VMN_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct relay;

#define RELAY_PIPE_SIZE		(1 << 20)	/* in flight per bulk direction */
#define RELAY_COPY_SIZE		(256 << 10)	/* when splice() cannot be used */
#define RELAY_SMALL_SIZE	(16 << 10)	/* until a direction shows bulk */

enum relay_end { RELAY_A = 0, RELAY_B = 1 };

/*
 * Called once: err 0 when both directions ended cleanly, -ECONNRESET (or
 * another -errno) when `end` failed or reset. The relay is finished; the
 * owner frees it (which closes both sockets) from the callback or later.
 */
typedef void	(*relay_done_fn)(struct relay *r, int err, enum relay_end end,
		    void *arg);

struct relay	*relay_new(struct event_base *base, int fd_a, int fd_b,
		    relay_done_fn done, void *arg);
void		 relay_start(struct relay *r);
void		 relay_start_from(struct relay *r, enum relay_end from);
#define RELAY_RESET_A	(1u << RELAY_A)
#define RELAY_RESET_B	(1u << RELAY_B)
void		 relay_free(struct relay *r, unsigned reset);
bool		 relay_finished(const struct relay *r);
uint64_t	 relay_bytes(const struct relay *r, enum relay_end from);
int		 relay_fd(const struct relay *r, enum relay_end end);
void		 relay_raise_nofile(void);

#endif
