/*
 * wire.c - frame and TLV codec, message policies and name tables
 *
 * The only code that interprets bytes received from a peer before they are
 * turned into typed values. See wire.h for the format.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "wire.h"

#define ALIGN4(x)	(((x) + 3u) & ~3u)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- name tables ---------------------------------------------------- */

static const char *const msg_names[] = {
	[VMN_MSG_NONE]		= "none",
	[VMN_MSG_HELLO]		= "hello",
	[VMN_MSG_CONFIG_BEGIN]	= "config-begin",
	[VMN_MSG_CONFIG_LINK]	= "config-link",
	[VMN_MSG_CONFIG_ADDR]	= "config-addr",
	[VMN_MSG_CONFIG_ROUTE]	= "config-route",
	[VMN_MSG_CONFIG_NEIGH]	= "config-neigh",
	[VMN_MSG_CONFIG_DNS]	= "config-dns",
	[VMN_MSG_CONFIG_PROXY]	= "config-proxy",
	[VMN_MSG_CONFIG_SYSCTL]	= "config-sysctl",
	[VMN_MSG_CONFIG_COMMIT]	= "config-commit",
	[VMN_MSG_EVENT]		= "event",
	[VMN_MSG_PING]		= "ping",
	[VMN_MSG_DNS]		= "dns",
	[VMN_MSG_FWD]		= "fwd",
	[VMN_MSG_CTL_STATUS]	= "ctl-status",
	[VMN_MSG_CTL_VMS]	= "ctl-vms",
	[VMN_MSG_CTL_RELOAD]	= "ctl-reload",
	[VMN_MSG_CONFIG_RFWD]	= "config-rfwd",
	[VMN_MSG_CONFIG_SNAT]	= "config-snat",
	[VMN_MSG_CTL_FORWARDS]	= "ctl-forwards",
	[VMN_MSG_CTL_REGISTER]	= "ctl-register",
	[VMN_MSG_CTL_UNREGISTER] = "ctl-unregister",
	[VMN_MSG_CTL_MONITOR]	= "ctl-monitor",
	[VMN_MSG_CTL_FWD_ADD]	= "ctl-fwd-add",
	[VMN_MSG_CTL_FWD_REMOVE] = "ctl-fwd-remove",
	[VMN_MSG_CTL_POLICY]	= "ctl-policy",
	[VMN_MSG_CTL_POLICY_CHECK] = "ctl-policy-check",
	[VMN_MSG_LISTEN]	= "listen",
	[VMN_MSG_UNLISTEN]	= "unlisten",
};
static_assert(ARRAY_SIZE(msg_names) == VMN_MSG__MAX, "msg_names");

static const char *const role_names[] = {
	[VMN_ROLE_NONE]		= "none",
	[VMN_ROLE_CONTROL]	= "control",
	[VMN_ROLE_DNS]		= "dns",
	[VMN_ROLE_FWD]		= "fwd",
	[VMN_ROLE_RFWD]		= "rfwd",
	[VMN_ROLE_CTL]		= "ctl",
	[VMN_ROLE_HANDOFF]	= "handoff",
};
static_assert(ARRAY_SIZE(role_names) == VMN_ROLE__MAX, "role_names");

static const char *const event_names[] = {
	[VMN_EV_NONE]		= "none",
	[VMN_EV_APPLIED]	= "applied",
	[VMN_EV_LINK]		= "link",
	[VMN_EV_LISTENER_ADD]	= "listener-add",
	[VMN_EV_LISTENER_DEL]	= "listener-del",
	[VMN_EV_LISTENERS_SYNCED] = "listeners-synced",
	[VMN_EV_FWD_RESET]	= "fwd-reset",
	[VMN_EV_FWD_BYTES]	= "fwd-bytes",
};
static_assert(ARRAY_SIZE(event_names) == VMN_EV__MAX, "event_names");

static const char *const attr_names[] = {
	[VMN_A_UNSPEC]		= "unspec",
	[VMN_A_VERSION]		= "version",
	[VMN_A_CAPS]		= "caps",
	[VMN_A_ROLE]		= "role",
	[VMN_A_VM_ID]		= "vm-id",
	[VMN_A_GEN]		= "gen",
	[VMN_A_ERRNO]		= "errno",
	[VMN_A_ERRMSG]		= "errmsg",
	[VMN_A_IFNAME]		= "ifname",
	[VMN_A_MAC]		= "mac",
	[VMN_A_MTU]		= "mtu",
	[VMN_A_ADDR]		= "addr",
	[VMN_A_PREFIXLEN]	= "prefixlen",
	[VMN_A_GATEWAY]		= "gateway",
	[VMN_A_METRIC]		= "metric",
	[VMN_A_LLADDR]		= "lladdr",
	[VMN_A_SERVERS]		= "servers",
	[VMN_A_SEARCH]		= "search",
	[VMN_A_NAME]		= "name",
	[VMN_A_VALUE]		= "value",
	[VMN_A_HTTP_PROXY]	= "http-proxy",
	[VMN_A_HTTPS_PROXY]	= "https-proxy",
	[VMN_A_NO_PROXY]	= "no-proxy",
	[VMN_A_EVENT]		= "event",
	[VMN_A_LINK_UP]		= "link-up",
	[VMN_A_PROTO]		= "proto",
	[VMN_A_FAMILY]		= "family",
	[VMN_A_PORT]		= "port",
	[VMN_A_DNS_ID]		= "dns-id",
	[VMN_A_PAYLOAD]		= "payload",
	[VMN_A_OPTIONS]		= "options",
	[VMN_A_MODE]		= "mode",
	[VMN_A_STATE]		= "state",
	[VMN_A_COUNT]		= "count",
	[VMN_A_UPTIME]		= "uptime",
	[VMN_A_GEN_APPLIED]	= "gen-applied",
	[VMN_A_PID]		= "pid",
	[VMN_A_ADDR6]		= "addr6",
	[VMN_A_GATEWAY6]	= "gateway6",
	[VMN_A_CHANNEL]		= "channel",
	[VMN_A_DNS_TUNNEL]	= "dns-tunnel",
	[VMN_A_STATS]		= "stats",
	[VMN_A_STAT]		= "stat",
	[VMN_A_CONN_ID]		= "conn-id",
	[VMN_A_LISTEN_FLAGS]	= "listen-flags",
	[VMN_A_PORT_HI]		= "port-hi",
	[VMN_A_NOARP]		= "noarp",
	[VMN_A_PAC_URL]		= "pac-url",
	[VMN_A_BYTES_IN]	= "bytes-in",
	[VMN_A_BYTES_OUT]	= "bytes-out",
	[VMN_A_GUEST_PORT]	= "guest-port",
	[VMN_A_HOST_ADDR]	= "host-addr",
	[VMN_A_FWD_CONFLICTS]	= "fwd-conflicts",
	[VMN_A_SINCE]		= "since",
	[VMN_A_FORCE]		= "force",
	[VMN_A_ERRORS]		= "errors",
	[VMN_A_CHANGES]		= "changes",
	[VMN_A_CHANGE]		= "change",
	[VMN_A_KIND]		= "kind",
	[VMN_A_FIELDS]		= "fields",
	[VMN_A_FIELD]		= "field",
};
static_assert(ARRAY_SIZE(attr_names) == VMN_A__MAX, "attr_names");

#define NAME_LOOKUP(table, i) \
	((i) < ARRAY_SIZE(table) && (table)[i] ? (table)[i] : "unknown")

const char *
vmn_msg_name(unsigned type)
{
	return NAME_LOOKUP(msg_names, type);
}

const char *
vmn_role_name(unsigned role)
{
	return NAME_LOOKUP(role_names, role);
}

const char *
vmn_attr_name(unsigned type)
{
	return NAME_LOOKUP(attr_names, type);
}

const char *
vmn_event_name(unsigned ev)
{
	return NAME_LOOKUP(event_names, ev);
}

int
vmn_role_parse(const char *s)
{
	unsigned i;

	for (i = 1; i < ARRAY_SIZE(role_names); i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -EINVAL;
}

/* ---- policies ------------------------------------------------------- */

#define IFNAME_MAX	15	/* IFNAMSIZ - 1 */
/* P_*: optional attribute of that kind; R_*: required. */
#define P_(k)		{ .kind = VMN_AK_##k }
#define R_(k)		{ .kind = VMN_AK_##k, .required = 1 }
#define P_STR(lo, hi)	{ .kind = VMN_AK_STRING, .min_len = (lo), .max_len = (hi) }
#define R_STR(lo, hi)	{ .kind = VMN_AK_STRING, .required = 1, \
			  .min_len = (lo), .max_len = (hi) }

typedef struct vmn_attr_policy policy_t[VMN_A__MAX];

static const policy_t error_policy = {
	[VMN_A_ERRNO]		= R_(U32),
	[VMN_A_ERRMSG]		= P_STR(0, VMN_MAX_STRING),
	[VMN_A_ERRORS]		= P_(NEST),	/* each error, ERRMSG a summary */
};

static const policy_t hello_policy = {
	[VMN_A_VERSION]		= R_(U32),
	[VMN_A_CAPS]		= R_(U32),
	[VMN_A_ROLE]		= R_(U8),
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_GUEST_PORT]	= P_(U16),	/* guest: its forwards port */
};

static const policy_t gen_policy = {
	[VMN_A_GEN]		= R_(U32),
};

static const policy_t link_policy = {
	[VMN_A_IFNAME]		= R_STR(1, IFNAME_MAX),
	[VMN_A_MAC]		= R_(MAC),
	[VMN_A_MTU]		= P_(U32),
	[VMN_A_NOARP]		= P_(U8),
};

static const policy_t addr_policy = {
	[VMN_A_IFNAME]		= R_STR(1, IFNAME_MAX),
	[VMN_A_ADDR]		= R_(INADDR),
	[VMN_A_PREFIXLEN]	= R_(U8),
};

static const policy_t route_policy = {
	[VMN_A_IFNAME]		= R_STR(1, IFNAME_MAX),
	[VMN_A_ADDR]		= R_(INADDR),
	[VMN_A_PREFIXLEN]	= R_(U8),
	[VMN_A_GATEWAY]		= P_(INADDR),
	[VMN_A_METRIC]		= P_(U32),
};

static const policy_t neigh_policy = {
	[VMN_A_IFNAME]		= R_STR(1, IFNAME_MAX),
	[VMN_A_ADDR]		= R_(INADDR),
	[VMN_A_LLADDR]		= R_(MAC),
};

static const policy_t dns_policy = {
	[VMN_A_DNS_TUNNEL]	= P_(U8),
	[VMN_A_SERVERS]		= P_(NEST),
	[VMN_A_SEARCH]		= P_(NEST),
	[VMN_A_OPTIONS]		= P_STR(0, 255),
};

static const policy_t proxy_policy = {
	[VMN_A_HTTP_PROXY]	= P_STR(0, 255),
	[VMN_A_HTTPS_PROXY]	= P_STR(0, 255),
	[VMN_A_NO_PROXY]	= P_STR(0, VMN_MAX_STRING),
	[VMN_A_PAC_URL]		= P_STR(0, 255),
};

static const policy_t sysctl_policy = {
	[VMN_A_NAME]		= R_STR(1, 127),
	[VMN_A_VALUE]		= R_STR(0, 63),
};

static const policy_t event_policy = {
	[VMN_A_EVENT]		= R_(U8),
	[VMN_A_GEN]		= P_(U32),
	[VMN_A_IFNAME]		= P_STR(1, IFNAME_MAX),
	[VMN_A_LINK_UP]		= P_(U8),
	[VMN_A_PROTO]		= P_(U8),
	[VMN_A_FAMILY]		= P_(U8),
	[VMN_A_PORT]		= P_(U16),
	[VMN_A_ADDR]		= P_(INADDR),
	[VMN_A_CONN_ID]		= P_(U32),
	[VMN_A_LISTEN_FLAGS]	= P_(U8),
	[VMN_A_BYTES_IN]	= P_(U64),
	[VMN_A_BYTES_OUT]	= P_(U64),
	[VMN_A_COUNT]		= P_(U64),	/* FWD_BYTES: connections */
};

static const policy_t empty_policy = { 0 };

static const policy_t dns_msg_policy = {
	[VMN_A_DNS_ID]		= R_(U32),
	[VMN_A_PROTO]		= P_(U8),
	[VMN_A_PAYLOAD]		= { .kind = VMN_AK_BINARY, .required = 1,
				    .min_len = 0, .max_len = 0 },
};

static const policy_t fwd_policy = {
	[VMN_A_PROTO]		= P_(U8),
	[VMN_A_FAMILY]		= P_(U8),
	[VMN_A_PORT]		= P_(U16),
	[VMN_A_ADDR]		= P_(INADDR),
	[VMN_A_CONN_ID]		= P_(U32),
};

/* Handoff: CONN_ID names the listening socket; LISTEN says where to. */
static const policy_t listen_policy = {
	[VMN_A_CONN_ID]		= R_(U32),
	[VMN_A_FAMILY]		= P_(U8),
	[VMN_A_GUEST_PORT]	= P_(U16),
};

static const policy_t rfwd_policy = {
	[VMN_A_PROTO]		= R_(U8),
	[VMN_A_PORT]		= R_(U16),
	[VMN_A_GUEST_PORT]	= R_(U16),
};

static const policy_t snat_policy = {
	[VMN_A_IFNAME]		= R_STR(1, IFNAME_MAX),
	[VMN_A_PORT]		= R_(U16),
	[VMN_A_PORT_HI]		= R_(U16),
};

static const policy_t ctl_forwards_policy = {
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_PROTO]		= P_(U8),
	[VMN_A_HOST_ADDR]	= P_(INADDR),
	[VMN_A_PORT]		= P_(U16),
	[VMN_A_GUEST_PORT]	= P_(U16),
	[VMN_A_MODE]		= P_STR(0, 32),
	[VMN_A_STATE]		= P_STR(0, 255),
	[VMN_A_COUNT]		= P_(U64),
	[VMN_A_ERRMSG]		= P_STR(0, VMN_MAX_STRING),	/* why not active */
};

static const policy_t ctl_status_policy = {
	[VMN_A_STATS]		= P_(NEST),
	[VMN_A_VERSION]		= P_(U32),
	[VMN_A_PID]		= P_(U32),
	[VMN_A_UPTIME]		= P_(U64),
	[VMN_A_COUNT]		= P_(U64),
	[VMN_A_STATE]		= P_STR(0, 255),
	[VMN_A_SINCE]		= P_(U64),	/* when host-netd started */
};

static const policy_t ctl_vms_policy = {
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_MODE]		= P_STR(0, 32),
	[VMN_A_STATE]		= P_STR(0, 255),
	[VMN_A_ERRMSG]		= P_STR(0, VMN_MAX_STRING),
	[VMN_A_CHANNEL]		= P_STR(0, 255),
	[VMN_A_IFNAME]		= P_STR(1, IFNAME_MAX),
	[VMN_A_MAC]		= P_(MAC),
	[VMN_A_MTU]		= P_(U32),
	[VMN_A_ADDR]		= P_(INADDR),
	[VMN_A_PREFIXLEN]	= P_(U8),
	[VMN_A_GATEWAY]		= P_(INADDR),
	[VMN_A_ADDR6]		= P_(INADDR),
	[VMN_A_GATEWAY6]	= P_(INADDR),
	[VMN_A_GEN]		= P_(U32),
	[VMN_A_GEN_APPLIED]	= P_(U32),
	[VMN_A_UPTIME]		= P_(U64),
	[VMN_A_FWD_CONFLICTS]	= P_(U32),
	[VMN_A_PID]		= P_(U32),	/* registered: its owner */
	[VMN_A_SINCE]		= P_(U64),	/* in its state since */
	[VMN_A_STATS]		= P_(NEST),	/* its counters */
};

/* Request: a vm block and its owner; reply: the VM, as ctl-vms says it. */
static const policy_t ctl_register_policy = {
	[VMN_A_PAYLOAD]		= { .kind = VMN_AK_BINARY, .min_len = 1,
				    .max_len = VMN_REGISTER_MAX },
	[VMN_A_NAME]		= P_STR(0, 255),
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_MODE]		= P_STR(0, 32),
	[VMN_A_STATE]		= P_STR(0, 255),
	[VMN_A_ERRMSG]		= P_STR(0, VMN_MAX_STRING),
	[VMN_A_CHANNEL]		= P_STR(0, 255),
	[VMN_A_IFNAME]		= P_STR(1, IFNAME_MAX),
	[VMN_A_MAC]		= P_(MAC),
	[VMN_A_MTU]		= P_(U32),
	[VMN_A_ADDR]		= P_(INADDR),
	[VMN_A_PREFIXLEN]	= P_(U8),
	[VMN_A_GATEWAY]		= P_(INADDR),
	[VMN_A_ADDR6]		= P_(INADDR),
	[VMN_A_GATEWAY6]	= P_(INADDR),
	[VMN_A_GEN]		= P_(U32),
	[VMN_A_GEN_APPLIED]	= P_(U32),
	[VMN_A_UPTIME]		= P_(U64),
	[VMN_A_FWD_CONFLICTS]	= P_(U32),
	[VMN_A_PID]		= P_(U32),
	[VMN_A_SINCE]		= P_(U64),
	[VMN_A_STATS]		= P_(NEST),
};

/* Request: the VM, FORCE if its owner runs; reply: PID, the owner told. */
static const policy_t ctl_unregister_policy = {
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_FORCE]		= P_(U8),
	[VMN_A_PID]		= P_(U32),
};

/* Reply: what the reload did to each VM it changed. */
static const policy_t ctl_reload_policy = {
	[VMN_A_CHANGES]		= P_(NEST),
};

/*
 * Reply (one per event): its KIND, COUNT its number, SINCE its time, the
 * VM it is about, VALUE a sentence, and FIELDS for scripts.
 */
static const policy_t ctl_monitor_policy = {
	[VMN_A_KIND]		= P_STR(1, 32),
	[VMN_A_COUNT]		= P_(U64),
	[VMN_A_SINCE]		= P_(U64),
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_VALUE]		= P_STR(0, VMN_MAX_STRING),
	[VMN_A_FIELDS]		= P_(NEST),
};

/*
 * Request: VM_ID, or every VM. Replies, in order for each VM: KIND "vm"
 * (MODE, COUNT its drops, VALUE where its proxy comes from, the proxy as
 * the guest gets it), then one per rule, KIND "firewall" or "forwarding"
 * (NAME where it is written, VALUE the rule, COUNT its packets); END.
 */
static const policy_t ctl_policy_policy = {
	[VMN_A_VM_ID]		= P_STR(1, 64),
	[VMN_A_KIND]		= P_STR(1, 32),
	[VMN_A_MODE]		= P_STR(0, 32),
	[VMN_A_NAME]		= P_STR(0, 1023),
	[VMN_A_VALUE]		= P_STR(0, VMN_MAX_STRING),
	[VMN_A_COUNT]		= P_(U64),
	[VMN_A_HTTP_PROXY]	= P_STR(0, 255),
	[VMN_A_HTTPS_PROXY]	= P_STR(0, 255),
	[VMN_A_PAC_URL]		= P_STR(0, 255),
	[VMN_A_NO_PROXY]	= P_STR(0, VMN_MAX_STRING),
};

/* Request: the file's text and NAME; reply: VALUE, what it holds. */
static const policy_t ctl_policy_check_policy = {
	[VMN_A_PAYLOAD]		= { .kind = VMN_AK_BINARY, .min_len = 0,
				    .max_len = VMN_POLICY_CHECK_MAX },
	[VMN_A_NAME]		= P_STR(1, 1023),
	[VMN_A_VALUE]		= P_STR(0, VMN_MAX_STRING),
};

static const struct vmn_attr_policy *const msg_policies[] = {
	[VMN_MSG_NONE]		= NULL,
	[VMN_MSG_HELLO]		= hello_policy,
	[VMN_MSG_CONFIG_BEGIN]	= gen_policy,
	[VMN_MSG_CONFIG_LINK]	= link_policy,
	[VMN_MSG_CONFIG_ADDR]	= addr_policy,
	[VMN_MSG_CONFIG_ROUTE]	= route_policy,
	[VMN_MSG_CONFIG_NEIGH]	= neigh_policy,
	[VMN_MSG_CONFIG_DNS]	= dns_policy,
	[VMN_MSG_CONFIG_PROXY]	= proxy_policy,
	[VMN_MSG_CONFIG_SYSCTL]	= sysctl_policy,
	[VMN_MSG_CONFIG_COMMIT]	= gen_policy,
	[VMN_MSG_EVENT]		= event_policy,
	[VMN_MSG_PING]		= empty_policy,
	[VMN_MSG_DNS]		= dns_msg_policy,
	[VMN_MSG_FWD]		= fwd_policy,
	[VMN_MSG_CTL_STATUS]	= ctl_status_policy,
	[VMN_MSG_CTL_VMS]	= ctl_vms_policy,
	[VMN_MSG_CTL_RELOAD]	= ctl_reload_policy,
	[VMN_MSG_CONFIG_RFWD]	= rfwd_policy,
	[VMN_MSG_CONFIG_SNAT]	= snat_policy,
	[VMN_MSG_CTL_FORWARDS]	= ctl_forwards_policy,
	[VMN_MSG_CTL_REGISTER]	= ctl_register_policy,
	[VMN_MSG_CTL_UNREGISTER] = ctl_unregister_policy,
	[VMN_MSG_CTL_MONITOR]	= ctl_monitor_policy,
	/* Request and reply: one forward, as ctl-forwards says it. */
	[VMN_MSG_CTL_FWD_ADD]	= ctl_forwards_policy,
	[VMN_MSG_CTL_FWD_REMOVE] = ctl_forwards_policy,
	[VMN_MSG_CTL_POLICY]	= ctl_policy_policy,
	[VMN_MSG_CTL_POLICY_CHECK] = ctl_policy_check_policy,
	[VMN_MSG_LISTEN]	= listen_policy,
	[VMN_MSG_UNLISTEN]	= listen_policy,
};
static_assert(ARRAY_SIZE(msg_policies) == VMN_MSG__MAX, "msg_policies");

/* ---- decoding ------------------------------------------------------- */

static uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/*
 * Decodes a header from the first bytes of a stream. -EAGAIN means fewer
 * than VMN_HDR_LEN bytes are available; every other error means the stream
 * cannot be trusted any further and the connection must be dropped.
 */
int
vmn_hdr_decode(const uint8_t *buf, size_t avail, struct vmn_hdr *h,
    const char **why)
{
	if (avail < VMN_HDR_LEN) {
		*why = "truncated header";
		return -EAGAIN;
	}
	h->magic = get_be16(buf);
	h->version = buf[2];
	h->flags = buf[3];
	h->type = get_be16(buf + 4);
	h->reserved = get_be16(buf + 6);
	h->length = get_be32(buf + 8);
	h->seq = get_be32(buf + 12);

	if (h->magic != VMN_WIRE_MAGIC) {
		*why = "bad magic";
		return -EPROTO;
	}
	if (h->version != VMN_WIRE_VERSION) {
		*why = "unsupported protocol version";
		return -EPROTONOSUPPORT;
	}
	if (h->flags & ~VMN_F_ALL) {
		*why = "unknown flags";
		return -EPROTO;
	}
	if (h->length > VMN_MAX_PAYLOAD) {
		*why = "frame longer than 64 KiB";
		return -EMSGSIZE;
	}
	return 0;
}

/* Walks a TLV sequence and every nest in it, checking lengths and depth. */
int
vmn_attrs_validate(const uint8_t *data, size_t len, int depth,
    const char **why)
{
	size_t pos = 0;

	if (depth > VMN_MAX_NEST) {
		*why = "attributes nested too deeply";
		return -ELOOP;
	}
	while (pos < len) {
		uint16_t alen, type;
		int rc;

		if (len - pos < VMN_ATTR_HDR_LEN) {
			*why = "truncated attribute header";
			return -EBADMSG;
		}
		alen = get_be16(data + pos);
		type = get_be16(data + pos + 2);
		if (alen < VMN_ATTR_HDR_LEN) {
			*why = "attribute length shorter than its header";
			return -EBADMSG;
		}
		if (ALIGN4(alen) > len - pos) {
			*why = "attribute length past the end";
			return -EBADMSG;
		}
		if (type & VMN_ATTR_F_NESTED) {
			rc = vmn_attrs_validate(data + pos + VMN_ATTR_HDR_LEN,
			    alen - VMN_ATTR_HDR_LEN, depth + 1, why);
			if (rc < 0)
				return rc;
		}
		pos += ALIGN4(alen);
	}
	return 0;
}

void
vmn_attr_iter_init(struct vmn_attr_iter *it, const struct vmn_attr *nest)
{
	it->pos = nest->data;
	it->end = nest->data ? nest->data + nest->len : NULL;
}

/* Only for validated sequences: see vmn_attrs_validate(). */
bool
vmn_attr_next(struct vmn_attr_iter *it, struct vmn_attr *out)
{
	uint16_t alen, type;

	if (!it->pos || it->end - it->pos < VMN_ATTR_HDR_LEN)
		return false;
	alen = get_be16(it->pos);
	type = get_be16(it->pos + 2);
	out->data = it->pos + VMN_ATTR_HDR_LEN;
	out->len = alen - VMN_ATTR_HDR_LEN;
	out->type = type;
	it->pos += ALIGN4(alen);
	return true;
}

/* Checks one attribute against its policy entry; -EINVAL when it fails. */
int
vmn_attr_check(const struct vmn_attr *a, const struct vmn_attr_policy *p)
{
	bool nested = (a->type & VMN_ATTR_F_NESTED) != 0;
	uint16_t max;

	if ((p->kind == VMN_AK_NEST) != nested)
		return -EINVAL;
	switch (p->kind) {
	case VMN_AK_U8:
		return a->len == 1 ? 0 : -EINVAL;
	case VMN_AK_U16:
		return a->len == 2 ? 0 : -EINVAL;
	case VMN_AK_U32:
		return a->len == 4 ? 0 : -EINVAL;
	case VMN_AK_U64:
		return a->len == 8 ? 0 : -EINVAL;
	case VMN_AK_INADDR:
		return a->len == 4 || a->len == 16 ? 0 : -EINVAL;
	case VMN_AK_MAC:
		return a->len == VMN_MAC_LEN ? 0 : -EINVAL;
	case VMN_AK_STRING:
		max = p->max_len ? p->max_len : VMN_MAX_STRING;
		if (a->len < p->min_len || a->len > max)
			return -EINVAL;
		return memchr(a->data, '\0', a->len) ? -EINVAL : 0;
	case VMN_AK_BINARY:
		if (a->len < p->min_len || (p->max_len && a->len > p->max_len))
			return -EINVAL;
		return 0;
	case VMN_AK_NEST:
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * Parses exactly one frame of `len` bytes. On success m->tb[] holds every
 * attribute the message's policy accepts, each checked for kind and length.
 */
int
vmn_msg_parse(const uint8_t *frame, size_t len, struct vmn_msg *m,
    const char **why)
{
	static char whybuf[96];
	const struct vmn_attr_policy *pol;
	struct vmn_attr_iter it;
	struct vmn_attr a;
	unsigned i;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = vmn_hdr_decode(frame, len, &m->hdr, why);
	if (rc == -EAGAIN)
		return -EBADMSG;
	if (rc < 0)
		return rc;
	if (len != VMN_HDR_LEN + (size_t)m->hdr.length) {
		*why = "frame length does not match its header";
		return -EBADMSG;
	}
	if (m->hdr.type == VMN_MSG_NONE || m->hdr.type >= VMN_MSG__MAX) {
		*why = "unknown message type";
		return -EOPNOTSUPP;
	}
	m->payload = frame + VMN_HDR_LEN;
	rc = vmn_attrs_validate(m->payload, m->hdr.length, 0, why);
	if (rc < 0)
		return rc;

	pol = (m->hdr.flags & VMN_F_ERROR) ? error_policy
	    : msg_policies[m->hdr.type];
	/* Not vmn_attr_iter_init(): a 64 KiB payload overflows attr.len. */
	it.pos = m->payload;
	it.end = m->payload + m->hdr.length;
	while (vmn_attr_next(&it, &a)) {
		uint16_t type = a.type & VMN_ATTR_TYPE_MASK;

		if (type >= VMN_A__MAX || pol[type].kind == VMN_AK_NONE)
			continue;	/* unknown here: skipped */
		if (vmn_attr_check(&a, &pol[type]) < 0) {
			snprintf(whybuf, sizeof(whybuf),
			    "malformed attribute %s in %s",
			    vmn_attr_name(type), vmn_msg_name(m->hdr.type));
			*why = whybuf;
			return -EINVAL;
		}
		m->tb[type] = a;
		m->tb[type].type = type;
	}
	for (i = 0; i < VMN_A__MAX; i++) {
		if (pol[i].required && !m->tb[i].data) {
			snprintf(whybuf, sizeof(whybuf),
			    "missing attribute %s in %s", vmn_attr_name(i),
			    vmn_msg_name(m->hdr.type));
			*why = whybuf;
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Integer attributes, 0 when absent: optional ones may be read without a
 * presence check, and a peer that leaves one out gets a zero, not a crash.
 * (The policy has checked the length of those present.)
 */
uint8_t
vmn_attr_u8(const struct vmn_attr *a)
{
	return a->data ? a->data[0] : 0;
}

uint16_t
vmn_attr_u16(const struct vmn_attr *a)
{
	return a->data ? get_be16(a->data) : 0;
}

uint32_t
vmn_attr_u32(const struct vmn_attr *a)
{
	return a->data ? get_be32(a->data) : 0;
}

uint64_t
vmn_attr_u64(const struct vmn_attr *a)
{
	return a->data ? (uint64_t)get_be32(a->data) << 32 |
	    get_be32(a->data + 4) : 0;
}

/* Copies a string attribute; -ENAMETOOLONG if it does not fit with its NUL. */
int
vmn_attr_str(const struct vmn_attr *a, char *buf, size_t size)
{
	if (!a->data) {
		if (size)
			buf[0] = '\0';
		return -ENOENT;
	}
	if ((size_t)a->len >= size)
		return -ENAMETOOLONG;
	if (memchr(a->data, '\0', a->len))
		return -EINVAL;
	memcpy(buf, a->data, a->len);
	buf[a->len] = '\0';
	return 0;
}

/*
 * Replaces control characters (newlines, escapes) in text a peer sent, so
 * that it cannot forge log lines or drive a terminal through netctl.
 */
char *
vmn_str_printable(char *s)
{
	unsigned char *p;

	for (p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

int
vmn_attr_ip(const struct vmn_attr *a, struct vmn_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (!a->data)
		return -ENOENT;
	if (a->len == 4)
		ip->family = AF_INET;
	else if (a->len == 16)
		ip->family = AF_INET6;
	else
		return -EINVAL;
	memcpy(&ip->u, a->data, a->len);
	return 0;
}

/* ---- encoding ------------------------------------------------------- */

void
vmn_buf_init(struct vmn_buf *b, uint8_t *storage, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->data = storage;
	b->cap = cap;
}

void
vmn_msg_begin(struct vmn_buf *b, uint16_t type, uint8_t flags, uint32_t seq)
{
	b->len = 0;
	b->depth = 0;
	b->err = 0;
	if (b->cap < VMN_HDR_LEN) {
		b->err = -ENOBUFS;
		return;
	}
	put_be16(b->data, VMN_WIRE_MAGIC);
	b->data[2] = VMN_WIRE_VERSION;
	b->data[3] = flags;
	put_be16(b->data + 4, type);
	put_be16(b->data + 6, 0);
	put_be32(b->data + 8, 0);
	put_be32(b->data + 12, seq);
	b->len = VMN_HDR_LEN;
}

int
vmn_msg_end(struct vmn_buf *b)
{
	if (!b->err && b->depth != 0)
		b->err = -EINVAL;	/* unbalanced nest */
	if (b->err)
		return b->err;
	put_be32(b->data + 8, (uint32_t)(b->len - VMN_HDR_LEN));
	return (int)b->len;
}

static uint8_t *
reserve(struct vmn_buf *b, size_t datalen)
{
	size_t need = ALIGN4(VMN_ATTR_HDR_LEN + datalen);
	uint8_t *p;

	if (b->err)
		return NULL;
	if (VMN_ATTR_HDR_LEN + datalen > 0xffff ||
	    b->len + need > b->cap ||
	    b->len + need - VMN_HDR_LEN > VMN_MAX_PAYLOAD) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	p = b->data + b->len;
	memset(p + VMN_ATTR_HDR_LEN + datalen, 0,
	    need - VMN_ATTR_HDR_LEN - datalen);
	b->len += need;
	return p;
}

void
vmn_put(struct vmn_buf *b, uint16_t type, const void *data, size_t len)
{
	uint8_t *p = reserve(b, len);

	if (!p)
		return;
	put_be16(p, (uint16_t)(VMN_ATTR_HDR_LEN + len));
	put_be16(p + 2, type);
	if (len)
		memcpy(p + VMN_ATTR_HDR_LEN, data, len);
}

void
vmn_put_u8(struct vmn_buf *b, uint16_t type, uint8_t v)
{
	vmn_put(b, type, &v, 1);
}

void
vmn_put_u16(struct vmn_buf *b, uint16_t type, uint16_t v)
{
	uint8_t raw[2];

	put_be16(raw, v);
	vmn_put(b, type, raw, sizeof(raw));
}

void
vmn_put_u32(struct vmn_buf *b, uint16_t type, uint32_t v)
{
	uint8_t raw[4];

	put_be32(raw, v);
	vmn_put(b, type, raw, sizeof(raw));
}

void
vmn_put_u64(struct vmn_buf *b, uint16_t type, uint64_t v)
{
	uint8_t raw[8];

	put_be32(raw, (uint32_t)(v >> 32));
	put_be32(raw + 4, (uint32_t)v);
	vmn_put(b, type, raw, sizeof(raw));
}

void
vmn_put_str(struct vmn_buf *b, uint16_t type, const char *s)
{
	vmn_put(b, type, s, strlen(s));
}

void
vmn_put_ip(struct vmn_buf *b, uint16_t type, const struct vmn_ip *ip)
{
	size_t len = vmn_ip_len(ip->family);

	if (len == 0) {
		if (!b->err)
			b->err = -EAFNOSUPPORT;
		return;
	}
	vmn_put(b, type, &ip->u, len);
}

void
vmn_nest_begin(struct vmn_buf *b, uint16_t type)
{
	size_t off = b->len;

	if (b->err)
		return;
	if (b->depth >= VMN_MAX_NEST) {
		b->err = -ELOOP;
		return;
	}
	if (!reserve(b, 0))
		return;
	put_be16(b->data + off + 2, type | VMN_ATTR_F_NESTED);
	b->nest[b->depth++] = off;
}

void
vmn_nest_end(struct vmn_buf *b)
{
	size_t off, len;

	if (b->err)
		return;
	if (b->depth == 0) {
		b->err = -EINVAL;
		return;
	}
	off = b->nest[--b->depth];
	len = b->len - off;
	if (len > 0xffff) {
		b->err = -EMSGSIZE;
		return;
	}
	put_be16(b->data + off, (uint16_t)len);
}

int
vmn_build_error(struct vmn_buf *b, uint16_t type, uint32_t seq, int err,
    const char *msg)
{
	char text[VMN_MAX_STRING + 1];

	vmn_msg_begin(b, type, VMN_F_REPLY | VMN_F_ERROR, seq);
	vmn_put_u32(b, VMN_A_ERRNO, (uint32_t)(err < 0 ? -err : err));
	if (msg) {
		snprintf(text, sizeof(text), "%s", msg);
		vmn_put_str(b, VMN_A_ERRMSG, text);
	}
	return vmn_msg_end(b);
}

int
vmn_build_hello(struct vmn_buf *b, uint8_t flags, uint32_t seq,
    enum vmn_role role, uint32_t caps, const char *vm_id)
{
	vmn_msg_begin(b, VMN_MSG_HELLO, flags, seq);
	vmn_put_u32(b, VMN_A_VERSION, VMN_WIRE_VERSION);
	vmn_put_u32(b, VMN_A_CAPS, caps);
	vmn_put_u8(b, VMN_A_ROLE, (uint8_t)role);
	if (vm_id && *vm_id)
		vmn_put_str(b, VMN_A_VM_ID, vm_id);
	return vmn_msg_end(b);
}
