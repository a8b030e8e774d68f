/*
 * nl.h - rtnetlink requests over libmnl, with extended-ACK error text
 *
 * Requests are synchronous: the kernel answers at once, so they do not
 * stall an event loop. Every failure returns -errno and leaves the kernel's
 * explanation, when it gave one, in nl->errmsg.
 */
#ifndef VMN_NL_H
#define VMN_NL_H

#include <stdint.h>
#include <libmnl/libmnl.h>

#define VMN_NL_BUFSIZE	32768

struct vmn_nl {
	struct mnl_socket	*sock;
	uint32_t		 portid;
	uint32_t		 seq;
	char			 errmsg[256];
	char			 buf[VMN_NL_BUFSIZE];	/* requests */
	char			 rbuf[VMN_NL_BUFSIZE];	/* answers */
};

int		 vmn_nl_open(struct vmn_nl *nl, int bus, unsigned groups);
void		 vmn_nl_close(struct vmn_nl *nl);
int		 vmn_nl_fd(const struct vmn_nl *nl);
struct nlmsghdr	*vmn_nl_new(struct vmn_nl *nl, uint16_t type, uint16_t flags,
		    void *extra, size_t extra_len);
int		 vmn_nl_request(struct vmn_nl *nl, struct nlmsghdr *nlh);
int		 vmn_nl_get(struct vmn_nl *nl, struct nlmsghdr *nlh,
		    mnl_cb_t cb, void *data);
int		 vmn_nl_dump(struct vmn_nl *nl, struct nlmsghdr *nlh,
		    mnl_cb_t cb, void *data);
int		 vmn_nl_dump_retry(struct vmn_nl *nl, uint16_t type,
		    void *extra, size_t extra_len, mnl_cb_t cb,
		    void (*reset)(void *), void *data);
const char	*vmn_nl_strerror(const struct vmn_nl *nl, int err);

/*
 * An attribute table's policy: the libmnl type of each attribute type up
 * to max (MNL_TYPE_UNSPEC: any length). vmn_nl_parse() fills tb[0..max]
 * with the attributes after the message's extra header of hdrlen bytes;
 * one beyond max, or failing mnl_attr_validate() for its type, is left out
 * as if it had not been sent, so readers may trust the lengths they get.
 */
struct vmn_nl_policy {
	const enum mnl_attr_data_type	*types;
	uint16_t			 max;
};

#define VMN_NL_POLICY(name, maxtype, ...)				\
	static const enum mnl_attr_data_type name##_types[(maxtype) + 1] = \
	    { __VA_ARGS__ };						\
	static const struct vmn_nl_policy name = { name##_types, (maxtype) }

int		 vmn_nl_parse(const struct nlmsghdr *nlh, size_t hdrlen,
		    const struct vmn_nl_policy *p, const struct nlattr **tb);
int		 vmn_nl_parse_nested(const struct nlattr *nest,
		    const struct vmn_nl_policy *p, const struct nlattr **tb);

#endif
