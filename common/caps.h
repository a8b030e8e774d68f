/*
 * caps.h - keep only the capabilities a daemon still needs
 */
#ifndef VMN_CAPS_H
#define VMN_CAPS_H

#include <stddef.h>

int	vmn_caps_keep(const int *keep, size_t n);

#endif
