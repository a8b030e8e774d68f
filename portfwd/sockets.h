/*
 * sockets.h - the local sockets of a forward: connect to, listen on
 */
#ifndef VMN_SOCKETS_H
#define VMN_SOCKETS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

void	fwd_loopback(uint8_t family, struct vmn_ip *ip);
socklen_t fwd_sockaddr(const struct vmn_ip *ip, uint16_t port,
	    struct sockaddr_storage *ss);
int	fwd_connect_local(uint8_t family, uint8_t proto, uint16_t port);
int	fwd_bind_local(const struct vmn_ip *addr, uint8_t proto, uint16_t port,
	    int backlog, bool reuseport);
void	fwd_nodelay(int fd);
int	fwd_connect_error(int fd);

#endif
