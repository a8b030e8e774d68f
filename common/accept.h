/*
 * accept.h - accepting connections without spinning when descriptors run out
 *
 * A listener whose accept() fails for want of a descriptor stays readable,
 * so the event loop calls its callback again at once, and again, for as
 * long as a connection waits and nothing is freed: a busy loop.
 * vmn_accept() takes the next connection from a listener watched by an
 * (EV_READ | EV_PERSIST) event. When the process or the system has no
 * descriptor (EMFILE, ENFILE) or no memory left, it takes the event off the
 * loop for VMN_ACCEPT_PAUSE_MS (the waiting connections stay in the kernel's
 * backlog meanwhile), logs that once in a while, and returns the error.
 * Errors that belong to one connection only (it was aborted, say) skip it.
 *
 * A listener's event that went through vmn_accept() must go through
 * vmn_accept_stop() before it is freed or taken off the loop, so that the
 * end of a pause does not put it back.
 */
#ifndef VMN_ACCEPT_H
#define VMN_ACCEPT_H

#include <sys/socket.h>

struct event;

#define VMN_ACCEPT_PAUSE_MS	250

int	vmn_accept(struct event *ev, struct sockaddr *sa, socklen_t *salen);
void	vmn_accept_stop(struct event *ev);

#endif
