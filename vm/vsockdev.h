/*
 * vsockdev.h - a virtio-vsock device whose host side is hybrid vsock
 */
#ifndef VMN_VSOCKDEV_H
#define VMN_VSOCKDEV_H

#include <stdint.h>

#include "vhost-user.h"

#define VSOCK_HOST_CID		2
#define VSOCK_HDR_LEN		44
#define VSOCK_MAX_PKT		(64 * 1024)	/* payload of one packet */
#define VSOCK_BUF_ALLOC		(256 * 1024)	/* our receive buffer, each */
#define VSOCK_MAX_CONNS		1024
#define VSOCK_CONNECT_MS	5000	/* for the other side to answer */
#define VSOCK_CLOSE_MS		5000	/* for buffered data to drain */
#define VSOCK_BATCH		256	/* chains per turn of the loop */
/* Host programs connecting at once (host-netd: one per forwarded
 * connection); the kernel caps it at net.core.somaxconn. */
#define VSOCK_LISTEN_BACKLOG	4096

/* struct virtio_vsock_hdr, little-endian on the wire. */
struct vsock_hdr {
	uint64_t	src_cid;
	uint64_t	dst_cid;
	uint32_t	src_port;
	uint32_t	dst_port;
	uint32_t	len;
	uint16_t	type;
	uint16_t	op;
	uint32_t	flags;
	uint32_t	buf_alloc;
	uint32_t	fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_LEN, "vsock header");

#define VSOCK_TYPE_STREAM	1
enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST,
	VSOCK_OP_RESPONSE,
	VSOCK_OP_RST,
	VSOCK_OP_SHUTDOWN,
	VSOCK_OP_RW,
	VSOCK_OP_CREDIT_UPDATE,
	VSOCK_OP_CREDIT_REQUEST,
};
#define VSOCK_SHUTDOWN_RCV	1
#define VSOCK_SHUTDOWN_SEND	2

struct vsockdev_stats {
	uint64_t	conns_from_guest;
	uint64_t	conns_to_guest;
	uint64_t	refused;	/* either way */
	uint64_t	resets;		/* sent to the guest */
	uint64_t	bad_packets;	/* malformed or out of protocol */
	uint64_t	credit_violations;
	uint64_t	bytes_from_guest;
	uint64_t	bytes_to_guest;
};

struct vsockdev;

/*
 * A device for the guest with CID guest_cid. Host programs reach guest
 * port P by connecting to uds_path and sending "CONNECT P\n" (answered
 * "OK <port>\n"); guest connections to host port P go to uds_path_P.
 */
struct vsockdev	*vsockdev_new(struct event_base *base, struct vu_dev *vu,
		    uint64_t guest_cid, const char *uds_path, char *err,
		    size_t errlen);
void		 vsockdev_free(struct vsockdev *dev);
const struct vsockdev_stats *vsockdev_stats(const struct vsockdev *dev);
unsigned	 vsockdev_nconns(const struct vsockdev *dev);

/* The vhost-user operations; their arg is the vsockdev. */
extern const struct vu_ops vsockdev_vu_ops;

#endif
