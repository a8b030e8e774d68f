/*
 * nl.c - rtnetlink request/ack and dump helpers on libmnl
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/netlink.h>

#include "nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK	11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK	10
#endif

int
vmn_nl_open(struct vmn_nl *nl, int bus, unsigned groups)
{
	int one = 1;

	nl->errmsg[0] = '\0';
	/*
	 * Request sockets block: the kernel queues its answer before sendmsg()
	 * returns. Monitor sockets (groups) are read from the event loop.
	 */
	nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC |
	    (groups ? SOCK_NONBLOCK : 0));
	if (!nl->sock)
		return -errno;
	/* Errors come with the kernel's text and without our request echoed. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void
vmn_nl_close(struct vmn_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int
vmn_nl_fd(const struct vmn_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

/* Starts a message in nl->buf, with a copy of the family header `extra`. */
struct nlmsghdr *
vmn_nl_new(struct vmn_nl *nl, uint16_t type, uint16_t flags, void *extra,
    size_t extra_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	void *hdr;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	if (extra_len) {
		hdr = mnl_nlmsg_put_extra_header(nlh, extra_len);
		memcpy(hdr, extra, extra_len);
	}
	return nlh;
}

struct dump_ctx {
	struct vmn_nl	*nl;
	mnl_cb_t	 cb;
	void		*data;
	int		 interrupted;
};

static int
parse_ext_ack(const struct nlattr *attr, void *data)
{
	struct vmn_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->errmsg, sizeof(nl->errmsg), "%s",
		    mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int
error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vmn_nl *nl = ((struct dump_ctx *)data)->nl;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_parse(nlh, (unsigned)off, parse_ext_ack, nl);
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int
noop_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static int
done_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_STOP;
}

static int
overrun_cb(const struct nlmsghdr *nlh, void *data)
{
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int
dump_data_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_ctx *d = arg;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->interrupted = 1;
	return d->cb ? d->cb(nlh, d->data) : MNL_CB_OK;
}

static int
run(struct vmn_nl *nl, struct nlmsghdr *nlh, struct dump_ctx *d)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = noop_cb,
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
		[NLMSG_OVERRUN] = overrun_cb,
	};
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc;

	nl->errmsg[0] = '\0';
	d->nl = nl;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->rbuf, sizeof(nl->rbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rc = mnl_cb_run2(nl->rbuf, (size_t)n, seq, nl->portid,
		    dump_data_cb, d, ctl, NLMSG_MIN_TYPE);
		if (rc == MNL_CB_ERROR)
			return -errno;
		if (rc == MNL_CB_STOP)
			break;
	}
	return d->interrupted ? -EINTR : 0;
}

/* Sends a request with NLM_F_ACK and waits for its acknowledgement. */
int
vmn_nl_request(struct vmn_nl *nl, struct nlmsghdr *nlh)
{
	struct dump_ctx d = { 0 };

	nlh->nlmsg_flags |= NLM_F_ACK;
	return run(nl, nlh, &d);
}

/*
 * A request answered with messages of its own (a GET of one link), each
 * handed to cb, then acknowledged: one object at the cost of one, where a
 * dump would walk them all.
 */
int
vmn_nl_get(struct vmn_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct dump_ctx d = { .cb = cb, .data = data };

	nlh->nlmsg_flags |= NLM_F_ACK;
	return run(nl, nlh, &d);
}

/* Runs a dump; -EINTR means it was interrupted and must be redone. */
int
vmn_nl_dump(struct vmn_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct dump_ctx d = { .cb = cb, .data = data };

	nlh->nlmsg_flags |= NLM_F_DUMP;
	return run(nl, nlh, &d);
}

/* A dump redone (after reset) while the kernel reports it interrupted. */
int
vmn_nl_dump_retry(struct vmn_nl *nl, uint16_t type, void *extra,
    size_t extra_len, mnl_cb_t cb, void (*reset)(void *), void *data)
{
	int tries, rc = -EINTR;

	for (tries = 0; tries < 5 && rc == -EINTR; tries++) {
		if (reset)
			reset(data);
		rc = vmn_nl_dump(nl, vmn_nl_new(nl, type, 0, extra, extra_len),
		    cb, data);
	}
	return rc;
}

/* The kernel's explanation of the last failure, else strerror. */
const char *
vmn_nl_strerror(const struct vmn_nl *nl, int err)
{
	static char buf[320];

	if (nl->errmsg[0])
		snprintf(buf, sizeof(buf), "%s (%s)", strerror(err < 0 ? -err : err),
		    nl->errmsg);
	else
		snprintf(buf, sizeof(buf), "%s", strerror(err < 0 ? -err : err));
	return buf;
}

/* ---- attribute tables ------------------------------------------------- */

struct parse_ctx {
	const struct vmn_nl_policy	*p;
	const struct nlattr		**tb;
};

static int
parse_attr_cb(const struct nlattr *attr, void *data)
{
	const struct parse_ctx *ctx = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type > ctx->p->max)
		return MNL_CB_OK;
	if (ctx->p->types[type] != MNL_TYPE_UNSPEC &&
	    mnl_attr_validate(attr, ctx->p->types[type]) < 0)
		return MNL_CB_OK;
	ctx->tb[type] = attr;
	return MNL_CB_OK;
}

int
vmn_nl_parse(const struct nlmsghdr *nlh, size_t hdrlen,
    const struct vmn_nl_policy *p, const struct nlattr **tb)
{
	struct parse_ctx ctx = { p, tb };

	memset(tb, 0, (p->max + 1u) * sizeof(*tb));
	if (nlh->nlmsg_len < mnl_nlmsg_size(hdrlen))
		return -EBADMSG;
	return mnl_attr_parse(nlh, (unsigned)hdrlen, parse_attr_cb, &ctx) ==
	    MNL_CB_ERROR ? -EBADMSG : 0;
}

int
vmn_nl_parse_nested(const struct nlattr *nest, const struct vmn_nl_policy *p,
    const struct nlattr **tb)
{
	struct parse_ctx ctx = { p, tb };

	memset(tb, 0, (p->max + 1u) * sizeof(*tb));
	return mnl_attr_parse_nested(nest, parse_attr_cb, &ctx) ==
	    MNL_CB_ERROR ? -EBADMSG : 0;
}
