/*
 * text.c - text built into a fixed buffer, the first failure kept
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "text.h"

void
vmn_text_init(struct vmn_text *t, char *buf, size_t len)
{
	t->buf = buf;
	t->len = len;
	t->off = 0;
	t->err = len ? 0 : -ENOBUFS;
	if (len)
		buf[0] = '\0';
}

void
vmn_text_printf(struct vmn_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->off, t->len - t->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->len - t->off)
		t->err = -ENOBUFS;
	else
		t->off += (size_t)n;
}

int
vmn_text_end(const struct vmn_text *t)
{
	return t->err ? t->err : (int)t->off;
}

/* Takes back what was printed after offset off (a part that came out empty). */
void
vmn_text_rewind(struct vmn_text *t, size_t off)
{
	if (t->err || off > t->off)
		return;
	t->off = off;
	t->buf[off] = '\0';
}
