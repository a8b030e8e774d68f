/*
 * dgram.h - UDP datagrams over a stream channel
 */
#ifndef VMN_DGRAM_H
#define VMN_DGRAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dgram_stream;

#define DGRAM_QUEUE_MAX	(256 << 10)	/* unsent bytes; past it: dropped */

typedef void	(*dgram_fn)(void *arg, const uint8_t *d, size_t len);
typedef void	(*dgram_closed_fn)(void *arg, int err);

struct dgram_stream *dgram_stream_new(struct event_base *base, int fd,
		    dgram_fn on_dgram, dgram_closed_fn on_closed, void *arg);
int		 dgram_stream_send(struct dgram_stream *ds, const uint8_t *d,
		    size_t len);
void		 dgram_stream_free(struct dgram_stream *ds);

#endif
