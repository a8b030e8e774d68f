/*
 * text.h - text built into a fixed buffer, the first failure kept
 *
 * For renderers (nftables batches) that print piece by piece and check
 * once at the end: vmn_text_end() is the length, or -ENOBUFS if any piece
 * did not fit.
 */
#ifndef VMN_TEXT_H
#define VMN_TEXT_H

#include <stddef.h>

struct vmn_text {
	char	*buf;
	size_t	 len, off;
	int	 err;
};

void	vmn_text_init(struct vmn_text *t, char *buf, size_t len);
void	vmn_text_printf(struct vmn_text *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	vmn_text_end(const struct vmn_text *t);
void	vmn_text_rewind(struct vmn_text *t, size_t off);

#endif
