/*
 * wire.h - the vmnetd wire protocol between host-netd, guest-netd and netctl
 *
 * Theory of operation
 *
 * Every byte that crosses a channel is a frame: a 16-byte header in network
 * byte order followed by at most VMN_MAX_PAYLOAD bytes of attributes.
 *
 *   0       2       3       4       6       8              12             16
 *   | magic | ver   | flags | type  | rsvd  |    length    |     seq      |
 *
 * The payload is a sequence of netlink-style TLVs: u16 length (header
 * included), u16 type, data, padded to 4 bytes. The top bit of the type
 * marks an attribute whose data is itself a TLV sequence (a nest, used for
 * lists). Unlike netlink, TLV headers are big-endian: the wire is the same
 * whatever the two ends run on.
 *
 * Decoding happens in exactly one place, vmn_msg_parse(): it checks the
 * header, walks the whole TLV tree once (lengths, alignment, nesting depth),
 * then checks each top-level attribute against the message's policy (kind,
 * minimum and maximum length) and fills a table indexed by attribute type.
 * Attributes the policy does not know are skipped, so newer peers can add
 * them. After a successful parse, handlers read the table without further
 * length checks; nests are walked with vmn_attr_for_each(), whose elements
 * were validated structurally and are checked by vmn_attr_check() for kind.
 *
 * Attribute types form one namespace shared by all messages, so a type has
 * one name and one kind everywhere; each message's policy says which of them
 * it accepts.
 */
#ifndef VMN_WIRE_H
#define VMN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define VMN_WIRE_MAGIC		0x766e	/* "vn" */
#define VMN_WIRE_VERSION	1
#define VMN_HDR_LEN		16
#define VMN_MAX_PAYLOAD		65536
#define VMN_MAX_FRAME		(VMN_HDR_LEN + VMN_MAX_PAYLOAD)
#define VMN_ATTR_HDR_LEN	4
#define VMN_ATTR_F_NESTED	0x8000
#define VMN_ATTR_TYPE_MASK	0x7fff
#define VMN_MAX_NEST		4	/* nests inside nests, at most */
#define VMN_MAX_STRING		1024	/* longest string attribute */
#define VMN_REGISTER_MAX	16384	/* a registered vm block, at most */
#define VMN_POLICY_CHECK_MAX	61440	/* a policy file to check, at most */

/* Default ports (vsock ports; suffixes of unix and hvsock paths). */
#define VMN_PORT_HOST		7700u	/* guest -> host: control, dns, rfwd */
#define VMN_PORT_GUEST		7701u	/* host -> guest: fwd */

enum vmn_flags {
	VMN_F_REQUEST	= 0x01,	/* the sender expects a reply with this seq */
	VMN_F_REPLY	= 0x02,	/* answers the request with the same seq */
	VMN_F_ERROR	= 0x04,	/* with REPLY: failed, ERRNO and ERRMSG attrs */
	VMN_F_END	= 0x08,	/* last reply of a multi-part answer */
};
#define VMN_F_ALL	(VMN_F_REQUEST | VMN_F_REPLY | VMN_F_ERROR | VMN_F_END)

enum vmn_msg_type {
	VMN_MSG_NONE = 0,
	VMN_MSG_HELLO,		/* first frame on every connection */
	VMN_MSG_CONFIG_BEGIN,	/* host -> guest: a transaction starts (gen) */
	VMN_MSG_CONFIG_LINK,	/* one item of the desired state each */
	VMN_MSG_CONFIG_ADDR,
	VMN_MSG_CONFIG_ROUTE,
	VMN_MSG_CONFIG_NEIGH,
	VMN_MSG_CONFIG_DNS,
	VMN_MSG_CONFIG_PROXY,
	VMN_MSG_CONFIG_SYSCTL,
	VMN_MSG_CONFIG_COMMIT,	/* request: apply all of it; reply acks gen */
	VMN_MSG_EVENT,		/* guest -> host notification, no reply */
	VMN_MSG_PING,		/* liveness; answered with a reply */
	VMN_MSG_DNS,		/* dns channel: one query or answer */
	VMN_MSG_FWD,		/* fwd/rfwd channel: what to connect to */
	VMN_MSG_CTL_STATUS,	/* netctl: daemon status */
	VMN_MSG_CTL_VMS,	/* netctl: one reply per VM, then END */
	VMN_MSG_CTL_RELOAD,	/* netctl: re-read the configuration */
	VMN_MSG_CONFIG_RFWD,	/* a reverse forward: guest port -> host port */
	VMN_MSG_CTL_FORWARDS,	/* netctl: one reply per forwarded port, END */
	VMN_MSG_CTL_REGISTER,	/* netctl: a vm block; reply: the VM */
	VMN_MSG_CTL_UNREGISTER,	/* netctl: a registered VM goes */
	VMN_MSG_CONFIG_SNAT,	/* what the guest forwards: into PORT..PORT_HI */
	VMN_MSG_CTL_MONITOR,	/* netctl: a reply per event, until it hangs up */
	VMN_MSG_CTL_FWD_ADD,	/* netctl: a VM's forward, until its reload */
	VMN_MSG_CTL_FWD_REMOVE,	/* netctl: such a forward goes */
	VMN_MSG_CTL_POLICY,	/* netctl: the policy per VM, replies, END */
	VMN_MSG_CTL_POLICY_CHECK, /* netctl: a policy file, checked only */
	VMN_MSG_LISTEN,		/* handoff: accept on this socket (SCM_RIGHTS) */
	VMN_MSG_UNLISTEN,	/* handoff: that socket is no longer yours */
	VMN_MSG__MAX
};

enum vmn_role {
	VMN_ROLE_NONE = 0,
	VMN_ROLE_CONTROL,	/* guest -> host, one per VM */
	VMN_ROLE_DNS,		/* guest -> host, DNS tunnel */
	VMN_ROLE_FWD,		/* host -> guest, one forwarded connection */
	VMN_ROLE_RFWD,		/* guest -> host, one reverse connection */
	VMN_ROLE_CTL,		/* netctl -> host-netd */
	VMN_ROLE_HANDOFF,	/* host -> guest, one per VM: LISTEN, UNLISTEN */
	VMN_ROLE__MAX
};

/* Capability bits in HELLO: what the sender implements. */
enum vmn_caps {
	VMN_CAP_CONFIG		= 1u << 0,
	VMN_CAP_DNS_TUNNEL	= 1u << 1,
	VMN_CAP_PORTFWD		= 1u << 2,
	VMN_CAP_RFWD		= 1u << 3,
	/*
	 * Over a unix socket, the guest takes the host's sockets
	 * (SCM_RIGHTS): a fwd channel may carry the client's, and a
	 * handoff channel the host's listening sockets of forwarded TCP
	 * ports, on which the guest then accepts itself: the host's relay
	 * and the channels drop out of the path.
	 */
	VMN_CAP_FWD_HANDOFF	= 1u << 4,
};

/*
 * Where a guest listener can be reached from: localhost (it is bound to a
 * wildcard or loopback address) or outside (a wildcard or another address:
 * what mirrored mode may expose). Absent: both, as guests before the flags.
 */
#define VMN_LISTEN_LOOPBACK	0x01
#define VMN_LISTEN_EXPOSED	0x02

enum vmn_event {
	VMN_EV_NONE = 0,
	VMN_EV_APPLIED,		/* GEN: configuration generation in force */
	VMN_EV_LINK,		/* IFNAME, LINK_UP: link state changed */
	VMN_EV_LISTENER_ADD,	/* PROTO, FAMILY, PORT, LISTEN_FLAGS; again */
	VMN_EV_LISTENER_DEL,	/* when only its flags changed */
	VMN_EV_LISTENERS_SYNCED, /* every listener since HELLO has been sent */
	VMN_EV_FWD_RESET,	/* CONN_ID: the forwarded connection was reset */
	VMN_EV_FWD_BYTES,	/* CONN_ID, BYTES_IN, BYTES_OUT, COUNT: handed
				 * connections ended (in: to the guest) */
	VMN_EV__MAX
};

enum vmn_attr_type {
	VMN_A_UNSPEC = 0,
	VMN_A_VERSION,		/* u32: protocol version of the sender */
	VMN_A_CAPS,		/* u32: enum vmn_caps bits */
	VMN_A_ROLE,		/* u8: enum vmn_role */
	VMN_A_VM_ID,		/* string: VM name */
	VMN_A_GEN,		/* u32: configuration generation */
	VMN_A_ERRNO,		/* u32: positive errno */
	VMN_A_ERRMSG,		/* string: human-readable error */
	VMN_A_IFNAME,		/* string: interface name */
	VMN_A_MAC,		/* 6 bytes */
	VMN_A_MTU,		/* u32 */
	VMN_A_ADDR,		/* 4 or 16 bytes */
	VMN_A_PREFIXLEN,	/* u8 */
	VMN_A_GATEWAY,		/* 4 or 16 bytes */
	VMN_A_METRIC,		/* u32 */
	VMN_A_LLADDR,		/* 6 bytes: neighbour's link-layer address */
	VMN_A_SERVERS,		/* nest of VMN_A_ADDR */
	VMN_A_SEARCH,		/* nest of VMN_A_NAME */
	VMN_A_NAME,		/* string */
	VMN_A_VALUE,		/* string */
	VMN_A_HTTP_PROXY,	/* string */
	VMN_A_HTTPS_PROXY,	/* string */
	VMN_A_NO_PROXY,		/* string */
	VMN_A_EVENT,		/* u8: enum vmn_event */
	VMN_A_LINK_UP,		/* u8: 0 or 1 */
	VMN_A_PROTO,		/* u8: IPPROTO_TCP or IPPROTO_UDP */
	VMN_A_FAMILY,		/* u8: AF_INET or AF_INET6 */
	VMN_A_PORT,		/* u16 */
	VMN_A_DNS_ID,		/* u32: tunnel query id */
	VMN_A_PAYLOAD,		/* binary: raw DNS message */
	VMN_A_OPTIONS,		/* string: resolv.conf options line */
	VMN_A_MODE,		/* string: nat, mirrored, none */
	VMN_A_STATE,		/* string: a VM's session state */
	VMN_A_COUNT,		/* u64: a counter */
	VMN_A_UPTIME,		/* u64: seconds */
	VMN_A_GEN_APPLIED,	/* u32: generation the guest acked */
	VMN_A_PID,		/* u32 */
	VMN_A_ADDR6,		/* 16 bytes */
	VMN_A_GATEWAY6,		/* 16 bytes */
	VMN_A_CHANNEL,		/* string: transport URI */
	VMN_A_DNS_TUNNEL,	/* u8: serve DNS on SERVERS[0] via the tunnel */
	VMN_A_STATS,		/* nest of VMN_A_STAT */
	VMN_A_STAT,		/* nest: NAME, COUNT */
	VMN_A_CONN_ID,		/* u32: a forwarded connection */
	VMN_A_GUEST_PORT,	/* u16 */
	VMN_A_HOST_ADDR,	/* 4 or 16 bytes: where the host listens */
	VMN_A_FWD_CONFLICTS,	/* u32: forwarded ports the host has taken */
	VMN_A_SINCE,		/* u64: a point in time, UNIX seconds */
	VMN_A_FORCE,		/* u8: 1: do it even though it is in use */
	VMN_A_ERRORS,		/* nest of VMN_A_ERRMSG: "file:line: message" */
	VMN_A_CHANGES,		/* nest of VMN_A_CHANGE */
	VMN_A_CHANGE,		/* nest: VM_ID, VALUE (what happened to it) */
	VMN_A_LISTEN_FLAGS,	/* u8: VMN_LISTEN_* of a listener event */
	VMN_A_PORT_HI,		/* u16: the last port of a range from PORT */
	VMN_A_NOARP,		/* u8: 1: the link resolves no neighbours */
	VMN_A_PAC_URL,		/* string: proxy auto-configuration */
	VMN_A_KIND,		/* string: what kind of event (netctl monitor) */
	VMN_A_FIELDS,		/* nest of VMN_A_FIELD */
	VMN_A_FIELD,		/* nest: NAME, then VALUE or COUNT */
	VMN_A_BYTES_IN,		/* u64: bytes into the guest */
	VMN_A_BYTES_OUT,	/* u64: bytes out of it */
	VMN_A__MAX
};

enum vmn_attr_kind {
	VMN_AK_NONE = 0,	/* not accepted by this policy: skipped */
	VMN_AK_U8,
	VMN_AK_U16,
	VMN_AK_U32,
	VMN_AK_U64,
	VMN_AK_STRING,		/* no NUL inside; max_len bounds it */
	VMN_AK_BINARY,		/* min_len..max_len bytes */
	VMN_AK_INADDR,		/* exactly 4 or 16 bytes */
	VMN_AK_MAC,		/* exactly 6 bytes */
	VMN_AK_NEST,		/* a TLV sequence */
};

struct vmn_attr_policy {
	uint8_t		kind;		/* enum vmn_attr_kind */
	uint8_t		required;	/* parse fails when missing */
	uint16_t	min_len;	/* STRING/BINARY only */
	uint16_t	max_len;	/* STRING/BINARY only; 0: no limit */
};

/* The header, decoded. */
struct vmn_hdr {
	uint16_t	magic;
	uint8_t		version;
	uint8_t		flags;
	uint16_t	type;
	uint16_t	reserved;
	uint32_t	length;
	uint32_t	seq;
};

/* A view of one attribute inside a frame; data is NULL when absent. */
struct vmn_attr {
	const uint8_t	*data;
	uint16_t	 len;		/* data bytes, header excluded */
	uint16_t	 type;		/* flag bit removed */
};

/* A parsed frame. Points into the caller's buffer. */
struct vmn_msg {
	struct vmn_hdr	 hdr;
	const uint8_t	*payload;
	struct vmn_attr	 tb[VMN_A__MAX];
};

/* Iterates the elements of a nest (or a whole payload). */
struct vmn_attr_iter {
	const uint8_t	*pos;
	const uint8_t	*end;
};

/* A frame under construction, in caller-provided storage. */
struct vmn_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	size_t		 nest[VMN_MAX_NEST + 1];
	int		 depth;
	int		 err;		/* first error, sticky: -EMSGSIZE... */
};

/* Names for logs and netctl; every enum has one. */
const char	*vmn_msg_name(unsigned type);
const char	*vmn_role_name(unsigned role);
const char	*vmn_attr_name(unsigned type);
const char	*vmn_event_name(unsigned ev);
int		 vmn_role_parse(const char *s);

/* Decoding. All return 0 or -errno; *why gets a static explanation. */
int	vmn_hdr_decode(const uint8_t *buf, size_t avail, struct vmn_hdr *h,
	    const char **why);
int	vmn_attrs_validate(const uint8_t *data, size_t len, int depth,
	    const char **why);
int	vmn_msg_parse(const uint8_t *frame, size_t len, struct vmn_msg *m,
	    const char **why);
int	vmn_attr_check(const struct vmn_attr *a,
	    const struct vmn_attr_policy *p);

void	vmn_attr_iter_init(struct vmn_attr_iter *it, const struct vmn_attr *nest);
bool	vmn_attr_next(struct vmn_attr_iter *it, struct vmn_attr *out);
#define vmn_attr_for_each(a, it, nest) \
	for (vmn_attr_iter_init((it), (nest)); vmn_attr_next((it), (a));)

static inline bool
vmn_attr_present(const struct vmn_attr *a)
{
	return a->data != NULL;
}
uint8_t		vmn_attr_u8(const struct vmn_attr *a);
uint16_t	vmn_attr_u16(const struct vmn_attr *a);
uint32_t	vmn_attr_u32(const struct vmn_attr *a);
uint64_t	vmn_attr_u64(const struct vmn_attr *a);
int		vmn_attr_str(const struct vmn_attr *a, char *buf, size_t size);
int		vmn_attr_ip(const struct vmn_attr *a, struct vmn_ip *ip);
char		*vmn_str_printable(char *s);

/* Encoding. Errors are sticky in b->err and reported by vmn_msg_end(). */
void	vmn_buf_init(struct vmn_buf *b, uint8_t *storage, size_t cap);
void	vmn_msg_begin(struct vmn_buf *b, uint16_t type, uint8_t flags,
	    uint32_t seq);
int	vmn_msg_end(struct vmn_buf *b);
void	vmn_put(struct vmn_buf *b, uint16_t type, const void *data, size_t len);
void	vmn_put_u8(struct vmn_buf *b, uint16_t type, uint8_t v);
void	vmn_put_u16(struct vmn_buf *b, uint16_t type, uint16_t v);
void	vmn_put_u32(struct vmn_buf *b, uint16_t type, uint32_t v);
void	vmn_put_u64(struct vmn_buf *b, uint16_t type, uint64_t v);
void	vmn_put_str(struct vmn_buf *b, uint16_t type, const char *s);
void	vmn_put_ip(struct vmn_buf *b, uint16_t type, const struct vmn_ip *ip);
void	vmn_nest_begin(struct vmn_buf *b, uint16_t type);
void	vmn_nest_end(struct vmn_buf *b);

/* Common frames. */
int	vmn_build_error(struct vmn_buf *b, uint16_t type, uint32_t seq,
	    int err, const char *msg);
int	vmn_build_hello(struct vmn_buf *b, uint8_t flags, uint32_t seq,
	    enum vmn_role role, uint32_t caps, const char *vm_id);

#endif
