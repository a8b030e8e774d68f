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
int		 vmn_nl_dump(struct vmn_nl *nl, struct nlmsghdr *nlh,
		    mnl_cb_t cb, void *data);
int		 vmn_nl_dump_retry(struct vmn_nl *nl, uint16_t type,
		    void *extra, size_t extra_len, mnl_cb_t cb,
		    void (*reset)(void *), void *data);
const char	*vmn_nl_strerror(const struct vmn_nl *nl, int err);

#endif
