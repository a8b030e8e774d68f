/*
 * transport.h - channels between host and guest, named by URI
 *
 *   vsock:CID[:PORT]  AF_VSOCK. Listening binds any CID; PORT, when given,
 *                     overrides the port the caller asks to connect to.
 *   hvsock:PATH       hybrid vsock (Firecracker, cloud-hypervisor, our
 *                     vhost-user backend): connecting to guest port P is
 *                     connect(PATH), "CONNECT P\n", then "OK <n>\n"; guest
 *                     connections to host port P arrive on PATH_P.
 *   unix:PATH         AF_UNIX stream; port P lives at PATH_P on both sides.
 *                     Used for guests that are network namespaces.
 *
 * Connecting is asynchronous and retried with exponential backoff, so a
 * daemon can start before its peer and never blocks its event loop.
 */
#ifndef VMN_TRANSPORT_H
#define VMN_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

struct event_base;

enum vmn_transport_kind {
	VMN_TR_NONE = 0,
	VMN_TR_VSOCK,
	VMN_TR_HVSOCK,
	VMN_TR_UNIX,
};

#define VMN_PATH_MAX		(sizeof(((struct sockaddr_un *)0)->sun_path))
#define VMN_PORT_SUFFIX_MAX	11	/* "_4294967295" */
#define VMN_URI_MAX		(VMN_PATH_MAX + 16)

struct vmn_endpoint {
	enum vmn_transport_kind	kind;
	uint32_t		cid;
	uint32_t		port;	/* vsock: 0 = the caller's default */
	char			path[VMN_PATH_MAX];
	/* A user's channel (unix, hvsock): a socket connected to is theirs. */
	bool			owned;
	uint32_t		owner_uid;
};

#define VMN_BACKOFF_MIN_MS	25
#define VMN_BACKOFF_MAX_MS	1000
#define VMN_CONNECT_TIMEOUT_MS	5000

int		 vmn_endpoint_parse(const char *uri, struct vmn_endpoint *ep,
		    const char **why);
const char	*vmn_endpoint_str(const struct vmn_endpoint *ep, char *buf,
		    size_t len);
int		 vmn_endpoint_port_path(const struct vmn_endpoint *ep,
		    uint32_t port, char *buf, size_t len);
int		 vmn_listen(const struct vmn_endpoint *ep, uint32_t port,
		    int backlog);
int		 vmn_listen_path(const char *path, int backlog);
void		 vmn_unlisten(const struct vmn_endpoint *ep, uint32_t port);

/*
 * A socket to ep's port, connecting: 1, connected; 0, in progress (wait
 * until writable); or -errno. vmn_connect_via makes the connectors' own:
 * vmn_connect_start(), or a process that may not make them asks another.
 */
typedef int	(*vmn_connect_fn)(const struct vmn_endpoint *ep, uint32_t port,
		    int *fdp);
int		 vmn_connect_start(const struct vmn_endpoint *ep,
		    uint32_t port, int *fdp);
extern vmn_connect_fn vmn_connect_via;

struct vmn_connector;
/* Success: fd is connected (and past the hvsock handshake), yours to keep. */
typedef void	(*vmn_connected_fn)(int fd, void *arg);
/* Given up after max_attempts; err is the last failure. */
typedef void	(*vmn_connect_failed_fn)(int err, void *arg);

struct vmn_connector *vmn_connector_new(struct event_base *base,
		    const struct vmn_endpoint *ep, uint32_t port,
		    unsigned max_attempts, vmn_connected_fn ok,
		    vmn_connect_failed_fn failed, void *arg);
void		 vmn_connector_again(struct vmn_connector *c);
void		 vmn_connector_free(struct vmn_connector *c);
unsigned	 vmn_connector_attempts(const struct vmn_connector *c);

#endif
