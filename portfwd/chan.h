/*
 * chan.h - the start of a fwd or rfwd channel: HELLO and FWD, read exactly
 */
#ifndef VMN_FWDCHAN_H
#define VMN_FWDCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "wire.h"

#define CHAN_FRAME_MAX		512	/* handshake frames are small */
#define CHAN_HANDSHAKE_MS	5000

/*
 * Connection ids: the host numbers fwd connections, the guest rfwd ones;
 * the top bit says who, so a reset event names exactly one connection.
 */
#define FWD_ID_GUEST		0x80000000u
/* A connection the guest accepted on a handed listener: its id's. */
#define FWD_ID_ACCEPTED		0x40000000u

/*
 * After the handshake the channel carries the connection's raw bytes, so
 * the handshake frames are read exactly: never a byte past them.
 */
struct chan_reader {
	uint8_t		buf[VMN_HDR_LEN + CHAN_FRAME_MAX];
	size_t		have;
	size_t		need;
};

struct fwd_target {
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		family;		/* AF_INET, AF_INET6; 0: either */
	uint16_t	port;
	uint32_t	conn_id;
};

void	chan_reader_init(struct chan_reader *cr);
int	chan_read(struct chan_reader *cr, int fd, struct vmn_msg *m,
	    const char **why, int *passed);
/* What the answer to a channel's HELLO says. */
struct chan_hello {
	uint32_t	 seq;
	enum vmn_role	 role;
	uint32_t	 caps;
	const char	*vm_id;
};

int	chan_send_request(int fd, enum vmn_role role, const char *vm_id,
	    const struct fwd_target *t, int pass);
int	chan_send_hello_reply(int fd, const struct chan_hello *hello);
int	chan_send_reply(int fd, const struct chan_hello *hello, uint32_t seq,
	    int err, const char *msg);
int	chan_send_fd(int fd, const uint8_t *buf, size_t len, int pass);
#define CHAN_HELLO_ANSWERED	1	/* the peer is at work on the FWD */
#define CHAN_FWD_ANSWERED	2	/* connected: raw bytes from here on */
#define CHAN_FWD_REFUSED	3	/* the peer could not connect */
int	chan_read_reply(struct chan_reader *cr, int fd, int *err, char *msg,
	    size_t msglen, const char **why);
int	fwd_target_parse(const struct vmn_msg *m, struct fwd_target *t);

/* Datagrams on a stream channel: a u16 length, then the datagram. */
#define DGRAM_HDR	2
#define DGRAM_MAX	65507

#endif
