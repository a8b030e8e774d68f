/*
 * vhost-user.h - the back-end's side of the vhost-user protocol
 */
#ifndef VMN_VHOST_USER_H
#define VMN_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "virtq.h"

struct event_base;
struct event;

/* Requests (docs/interop/vhost-user.rst), the ones a back-end meets. */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_RESET_DEVICE = 34,
};

#define VHOST_USER_VERSION		0x1
#define VHOST_USER_FLAG_VERSION_MASK	0x3
#define VHOST_USER_FLAG_REPLY		0x4
#define VHOST_USER_FLAG_NEED_REPLY	0x8
#define VHOST_USER_HDR_SIZE		12
#define VHOST_USER_MAX_PAYLOAD		4096
#define VHOST_USER_MAX_FDS		GUESTMEM_MAX_REGIONS
#define VHOST_USER_VRING_NOFD		(1u << 8)
#define VHOST_USER_VRING_IDX_MASK	0xffu
#define VHOST_USER_CONFIG_HDR_SIZE	12
#define VHOST_USER_CONFIG_MAX		256

#define VHOST_USER_F_PROTOCOL_FEATURES	30
#define VIRTIO_F_VERSION_1		32
#define VHOST_USER_PROTOCOL_F_REPLY_ACK	3
#define VHOST_USER_PROTOCOL_F_CONFIG	9
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE 13

#define VU_MAX_QUEUES	2

struct vu_dev;

/* What a device built on this module provides. */
struct vu_ops {
	uint64_t	features;		/* virtio features offered */
	unsigned	nqueues;
	/* Reads its config space; the size is checked by the caller. */
	void		(*get_config)(void *arg, uint32_t off, uint8_t *buf,
			    uint32_t len);
	/* Queue q has buffers, or may have (kicked, started, enabled). */
	void		(*kick)(void *arg, unsigned q);
	/* The device stops: queues stopped, reset, or front-end gone. */
	void		(*stop)(void *arg);
};

struct vu_dev {
	struct event_base	*base;
	const struct vu_ops	*ops;
	void			*arg;
	int			 listen_fd;
	struct event		*listen_ev;
	int			 fd;		/* the front-end; -1: none */
	struct event		*ev;
	uint64_t		 features;	/* acked with SET_FEATURES */
	uint64_t		 protocol_features;
	struct guestmem		 mem;
	struct virtq		 vq[VU_MAX_QUEUES];
	struct event		*kick_ev[VU_MAX_QUEUES];
	bool			 running;	/* as the device last heard */
	char			 error[128];	/* last protocol error */
	/* Optional: the front-end hung up (after the device was told). */
	void			(*on_disconnect)(void *arg);
	void			*on_disconnect_arg;
};

/* Serves the front-end on a listening socket (QEMU's chardev connects). */
int	vu_init(struct vu_dev *d, struct event_base *base, int listen_fd,
	    const struct vu_ops *ops, void *arg);
void	vu_free(struct vu_dev *d);
/* Handles one message already read: for tests and for vu's own loop. */
int	vu_handle(struct vu_dev *d, uint32_t req, uint32_t flags,
	    const uint8_t *payload, uint32_t size, int *fds, unsigned nfds);
/* Whether queue q is set up, started and enabled. */
bool	vu_queue_ready(const struct vu_dev *d, unsigned q);
/* Reads one message from fd: 1 got one, 0 end of file, <0 error. */
int	vu_read_msg(int fd, uint32_t *req, uint32_t *flags, uint8_t *payload,
	    uint32_t *size, int *fds, unsigned *nfds);

#endif
