/*
 * conn.h - a framed connection on the event loop
 *
 * Reassembles frames, parses each one through
 * vmn_msg_parse() and hands it to the owner's message callback. Any failure
 * (malformed frame, handler error, peer gone, output piling up because the
 * peer does not read) ends the connection the same way: the owner's close
 * callback runs once, from the event loop, and there the owner frees it.
 * Message callbacks must not free the connection they were called for; they
 * return a negative errno to have it closed.
 */
#ifndef VMN_CONN_H
#define VMN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct event_base;
struct vmn_conn;

#define VMN_CONN_OUTPUT_MAX	(4 * 1024 * 1024)	/* unread bytes queued */

typedef int	(*vmn_conn_msg_fn)(struct vmn_conn *c, const struct vmn_msg *m,
		    void *arg);
typedef void	(*vmn_conn_close_fn)(struct vmn_conn *c, int err,
		    const char *why, void *arg);

struct vmn_conn	*vmn_conn_new(struct event_base *base, int fd,
		    const char *name, vmn_conn_msg_fn on_msg,
		    vmn_conn_close_fn on_close, void *arg);
void		 vmn_conn_free(struct vmn_conn *c);
void		 vmn_conn_set_arg(struct vmn_conn *c, void *arg);
int		 vmn_conn_send(struct vmn_conn *c, const uint8_t *frame,
		    size_t len);
int		 vmn_conn_send_buf(struct vmn_conn *c, struct vmn_buf *b);
int		 vmn_conn_send_error(struct vmn_conn *c, uint16_t type,
		    uint32_t seq, int err, const char *msg);
int		 vmn_conn_emit(void *conn, const uint8_t *frame, size_t len);
void		 vmn_conn_fail(struct vmn_conn *c, int err, const char *why);
void		 vmn_conn_close_after_flush(struct vmn_conn *c, const char *why);
void		 vmn_conn_set_idle_timeout(struct vmn_conn *c, unsigned ms);
uint32_t	 vmn_conn_next_seq(struct vmn_conn *c);
const char	*vmn_conn_name(const struct vmn_conn *c);
int		 vmn_conn_fd(const struct vmn_conn *c);
uint64_t	 vmn_conn_frames_in(const struct vmn_conn *c);
size_t		 vmn_conn_pending_output(const struct vmn_conn *c);

#endif
