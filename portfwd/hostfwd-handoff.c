/*
 * hostfwd-handoff.c - host-netd: a namespace guest accepts on our ports
 *
 * A guest on a unix: channel shares our kernel, and a guest-netd that
 * offers VMN_CAP_FWD_HANDOFF takes sockets. A socket of the host's
 * namespace lets its holder connect from there, so they go only to a
 * guest-netd that is root of the host's user namespace anyway
 * (host-netd/session.c); a container's is not. Over one channel of its own
 * (HELLO role handoff) it gets each listening socket of the VM's forwarded
 * TCP ports (LISTEN, the socket riding on it), and from then on accepts
 * the clients and splices them to its servers itself (portfwd/handoff.c):
 * host-netd is off the path of every connection, as pasta's one process
 * is. We keep our copy of each socket, only no longer accept on it; a
 * socket we close is shut down first, which ends its listening in every
 * process that holds it. We never accept again on a socket the guest has
 * had (it may have changed it: its flags, its state): when the channel
 * ends, each is shut down and closed, and the port bound anew. When the channel ends
 * (guest-netd exits, or misbehaves) we accept on all of them again, and
 * connections go the way they go to VMs: through both relays.
 *
 * What the guest accepted it reports as connections end, added up over
 * half a second (VMN_EV_FWD_BYTES, with FWD_ID_ACCEPTED and the socket's
 * id), for the counters: its word, about its own traffic only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "accept.h"
#include "chan.h"
#include "hostfwd-int.h"
#include "log.h"

/* Its ports come back here, on sockets the guest never had. */
static void
handoff_down(struct hostfwd *hf, const char *why)
{
	struct hport *hp;
	unsigned i;
	bool given;

	if (hf->hch < 0)
		return;
	log_info("vm %s: the guest accepts on its forwarded ports no longer "
	    "(%s): host-netd relays them", hf->vm, why);
	event_free(hf->hch_ev);
	hf->hch_ev = NULL;
	close(hf->hch);
	hf->hch = -1;
	TAILQ_FOREACH(hp, &hf->ports, entry) {
		given = false;
		for (i = 0; i < hp->nbind; i++)
			if (hp->bind[i].lid) {
				hbind_close(&hp->bind[i]);	/* shut down */
				given = true;
			}
		if (given)
			hport_bind(hp);
	}
}

/* One frame of the handoff channel: LISTEN (with fd) or UNLISTEN. */
static int
send_listen(struct hostfwd *hf, uint16_t type, const struct hbind *b,
    uint32_t lid)
{
	uint8_t buf[VMN_HDR_LEN + 64];
	struct vmn_buf vb;
	int len;

	vmn_buf_init(&vb, buf, sizeof(buf));
	vmn_msg_begin(&vb, type, 0, 0);
	vmn_put_u32(&vb, VMN_A_CONN_ID, lid);
	/*
	 * No family: which ones the guest listens on changes while the
	 * socket is its; it tries 127.0.0.1, then ::1, for each connection.
	 */
	if (type == VMN_MSG_LISTEN)
		vmn_put_u16(&vb, VMN_A_GUEST_PORT, b->hp->guest_port);
	if ((len = vmn_msg_end(&vb)) < 0)
		return len;
	if (type == VMN_MSG_LISTEN)
		return chan_send_fd(hf->hch, buf, (size_t)len, b->fd);
	return send(hf->hch, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    len ? 0 : -EIO;
}

/* A TCP socket of ours, bound: the guest accepts on it from now on. */
void
hostfwd_handoff_bind(struct hbind *b)
{
	struct hostfwd *hf = b->hp->hf;
	uint32_t lid;
	int rc;

	if (hf->hch < 0 || b->hp->proto != IPPROTO_TCP || b->fd < 0 || b->lid)
		return;
	lid = ++hf->next_lid & ~FWD_ID_ACCEPTED & ~FWD_ID_GUEST;
	if (lid == 0)
		lid = hf->next_lid = 1;
	if ((rc = send_listen(hf, VMN_MSG_LISTEN, b, lid)) == -EAGAIN) {
		/* The guest has many to read: this one stays ours. */
		log_debug("vm %s: %s port %u stays host-netd's: the handoff "
		    "channel is full", hf->vm, "tcp", b->hp->host_port);
		return;
	}
	if (rc < 0) {
		handoff_down(hf, "cannot send it a socket");
		return;
	}
	b->lid = lid;
	vmn_accept_stop(b->ev);
	event_del(b->ev);
}

/*
 * We close b. Shut down, the socket listens no more for anyone, and its
 * port is free at once, whatever the guest does with its copy; UNLISTEN
 * tells it to let go.
 */
void
hostfwd_handoff_unbind(struct hbind *b)
{
	struct hostfwd *hf = b->hp->hf;

	if (!b->lid)
		return;
	shutdown(b->fd, SHUT_RDWR);
	if (hf->hch >= 0 && send_listen(hf, VMN_MSG_UNLISTEN, b, b->lid) < 0)
		handoff_down(hf, "cannot take a socket back");
	b->lid = 0;
}

/* The socket the guest accepted a connection on, by its id. */
struct hport *
hostfwd_handoff_port(struct hostfwd *hf, uint32_t lid)
{
	struct hport *hp;
	unsigned i;

	if (lid == 0)
		return NULL;	/* no socket of ours has it */
	TAILQ_FOREACH(hp, &hf->ports, entry)
		for (i = 0; i < hp->nbind; i++)
			if (hp->bind[i].lid == lid)
				return hp;
	return NULL;
}

/* The guest never writes here: anything readable is its end. */
static void
hch_cb(evutil_socket_t fd, short what, void *arg)
{
	handoff_down(arg, "the channel ended");
}

static void
connected(int fd, void *arg)
{
	struct hostfwd *hf = arg;
	uint8_t buf[VMN_HDR_LEN + 256];
	struct vmn_buf b;
	struct hport *hp;
	unsigned i;
	int len;

	vmn_connector_free(hf->hconn);
	hf->hconn = NULL;
	vmn_buf_init(&b, buf, sizeof(buf));
	if ((len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_HANDOFF,
	    VMN_CAP_PORTFWD, hf->vm)) < 0 ||
	    send(fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) != len ||
	    !(hf->hch_ev = event_new(hf->base, fd, EV_READ, hch_cb, hf))) {
		close(fd);
		return;
	}
	hf->hch = fd;
	event_add(hf->hch_ev, NULL);
	log_info("vm %s: the guest accepts on its forwarded TCP ports itself",
	    hf->vm);
	TAILQ_FOREACH(hp, &hf->ports, entry)
		for (i = 0; i < hp->nbind; i++)
			hostfwd_handoff_bind(&hp->bind[i]);
}

static void
failed(int err, void *arg)
{
	struct hostfwd *hf = arg;

	vmn_connector_free(hf->hconn);
	hf->hconn = NULL;
	log_debug("vm %s: no handoff channel: %s", hf->vm, strerror(-err));
}

/* The guest takes sockets (or no longer): open the channel, or close it. */
void
hostfwd_handoff(struct hostfwd *hf, bool on)
{
	if (!on) {
		vmn_connector_free(hf->hconn);
		hf->hconn = NULL;
		handoff_down(hf, "not offered");
		return;
	}
	/* A new session may be a new guest-netd: a channel of its own. */
	vmn_connector_free(hf->hconn);
	handoff_down(hf, "the guest connected again");
	hf->hconn = vmn_connector_new(hf->base, &hf->chan, hf->guest_port,
	    HOSTFWD_CHAN_ATTEMPTS, connected, failed, hf);
}
