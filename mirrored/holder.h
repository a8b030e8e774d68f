/*
 * holder.h - who on the host holds a port, for messages
 */
#ifndef VMN_HOLDER_H
#define VMN_HOLDER_H

#include <stddef.h>
#include <stdint.h>

const char	*port_holder(uint8_t proto, uint16_t port, char *buf,
		    size_t len);

#endif
