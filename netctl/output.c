/*
 * output.c - netctl: JSON, tables for people, and the values of replies
 *
 * JSON is written as it goes, one document a line, every one an object
 * that starts with "schema" (NETCTL_SCHEMA): strings are escaped and any
 * byte that is not UTF-8 becomes U+FFFD, so that a guest's message cannot
 * make the document invalid. A value that is absent is null, never a
 * placeholder.
 *
 * A table is held until printed, so that each column is as wide as its
 * widest cell: nothing is cut and nothing is out of line. A row may be
 * followed by free lines (notes) and by text under one of its columns that
 * may run past the column's width (an IPv6 address under ADDRESS).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netctl.h"

#define JSON_MAX_DEPTH	8
#define TABLE_SEP	"  "

/* ---- JSON ----------------------------------------------------------- */

static int jdepth;
static bool jfirst[JSON_MAX_DEPTH + 1];

/* The length of the valid UTF-8 sequence at p; 0 if it is not one. */
static size_t
utf8_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* the NUL ends it here too */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and past U+10FFFF are not UTF-8. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	putchar('"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}

/* The comma before a value and its key, if it is in an object. */
static void
json_key(const char *key)
{
	if (jdepth > 0) {
		if (!jfirst[jdepth])
			putchar(',');
		jfirst[jdepth] = false;
	}
	if (key) {
		json_string(key);
		putchar(':');
	}
}

static void
json_open(const char *key, char c)
{
	if (jdepth >= JSON_MAX_DEPTH)
		abort();	/* a bug of ours: our documents are shallow */
	json_key(key);
	putchar(c);
	jfirst[++jdepth] = true;
}

static void
json_close(char c)
{
	putchar(c);
	jdepth--;
}

void
json_begin(void)
{
	json_open(NULL, '{');
	json_uint("schema", NETCTL_SCHEMA);
}

void
json_end(void)
{
	json_close('}');
	putchar('\n');
}

void
json_object(const char *key)
{
	json_open(key, '{');
}

void
json_object_end(void)
{
	json_close('}');
}

void
json_array(const char *key)
{
	json_open(key, '[');
}

void
json_array_end(void)
{
	json_close(']');
}

void
json_str(const char *key, const char *v)
{
	json_key(key);
	if (v && *v)
		json_string(v);
	else
		fputs("null", stdout);
}

void
json_uint(const char *key, uint64_t v)
{
	json_key(key);
	printf("%llu", (unsigned long long)v);
}

void
json_bool(const char *key, bool v)
{
	json_key(key);
	fputs(v ? "true" : "false", stdout);
}

void
json_null(const char *key)
{
	json_key(key);
	fputs("null", stdout);
}

/*
 * One error of a list, "file:line: message" (as the parser reports them)
 * or a message alone, as an object: file and line are null for the latter.
 */
static void
json_error_line(const char *s)
{
	const char *p, *q = NULL;
	char file[1024];

	for (p = strchr(s, ':'); p; p = strchr(p + 1, ':')) {
		for (q = p + 1; *q >= '0' && *q <= '9'; q++)
			;
		if (q > p + 1 && *q == ':')
			break;
	}
	json_object(NULL);
	if (p && (size_t)(p - s) < sizeof(file)) {
		snprintf(file, sizeof(file), "%.*s", (int)(p - s), s);
		json_str("file", file);
		json_uint("line", strtoull(p + 1, NULL, 10));
		s = q + 1 + (q[1] == ' ');
	} else {
		json_null("file");
		json_null("line");
	}
	json_str("message", s);
	json_object_end();
}

/* A failure under --json; err: an errno, or 0 for none. */
void
json_error(const char *message, int err, const char *const *lines,
    unsigned nlines)
{
	unsigned i;

	if (jdepth > 0) {	/* a document cut short: end its line */
		putchar('\n');
		jdepth = 0;
	}
	json_begin();
	json_object("error");
	json_str("message", message);
	if (err > 0)
		json_uint("errno", (uint64_t)err);
	else
		json_null("errno");
	json_array("errors");
	for (i = 0; i < nlines; i++)
		json_error_line(lines[i]);
	json_array_end();
	json_object_end();
	json_end();
	fflush(stdout);
}

/* ---- tables --------------------------------------------------------- */

struct trow {
	char		**cells;	/* a row; NULL: a note or text under */
	unsigned	  col;		/* text under: the column it starts in */
	char		 *text;
};

struct table {
	unsigned	 ncols, nrows, cap;
	size_t		*width;
	struct trow	*rows;
};

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		fail(EXIT_FAILED, ENOMEM, "out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		fail(EXIT_FAILED, ENOMEM, "out of memory");
	return p;
}

/* Characters on the screen, not bytes: UTF-8 continuations do not count. */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static struct trow *
table_add(struct table *t)
{
	struct trow *r;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		if (!(r = reallocarray(t->rows, t->cap, sizeof(*r))))
			fail(EXIT_FAILED, ENOMEM, "out of memory");
		t->rows = r;
	}
	r = &t->rows[t->nrows++];
	memset(r, 0, sizeof(*r));
	return r;
}

static void
table_cells(struct table *t, va_list ap)
{
	struct trow *r = table_add(t);
	const char *s;
	unsigned i;

	r->cells = xcalloc(t->ncols, sizeof(*r->cells));
	for (i = 0; i < t->ncols; i++) {
		s = va_arg(ap, const char *);
		r->cells[i] = xstrdup(s && *s ? s : "-");
		if (text_width(r->cells[i]) > t->width[i])
			t->width[i] = text_width(r->cells[i]);
	}
}

/* A table with ncols columns, their headings following. */
struct table *
table_new(unsigned ncols, ...)
{
	struct table *t = xcalloc(1, sizeof(*t));
	va_list ap;

	t->ncols = ncols;
	t->width = xcalloc(ncols, sizeof(*t->width));
	va_start(ap, ncols);
	table_cells(t, ap);
	va_end(ap);
	return t;
}

/* One row: ncols strings; NULL or "" shows as "-". */
void
table_row(struct table *t, ...)
{
	va_list ap;

	va_start(ap, t);
	table_cells(t, ap);
	va_end(ap);
}

void
table_under(struct table *t, unsigned col, const char *text)
{
	struct trow *r = table_add(t);

	r->col = col < t->ncols ? col : 0;
	r->text = xstrdup(text);
}

void
table_note(struct table *t, const char *fmt, ...)
{
	struct trow *r = table_add(t);
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->text = xstrdup(buf);
}

static void
pad(size_t n)
{
	while (n--)
		putchar(' ');
}

/* Prints the table, no space at the end of a line, and frees it. */
void
table_print(struct table *t)
{
	struct trow *r;
	unsigned i, j;

	for (i = 0; i < t->nrows; i++) {
		r = &t->rows[i];
		if (r->cells) {
			for (j = 0; j < t->ncols; j++) {
				fputs(r->cells[j], stdout);
				if (j + 1 < t->ncols) {
					pad(t->width[j] -
					    text_width(r->cells[j]));
					fputs(TABLE_SEP, stdout);
				}
				free(r->cells[j]);
			}
			free(r->cells);
		} else {
			for (j = 0; j < r->col; j++)
				pad(t->width[j] + strlen(TABLE_SEP));
			fputs(r->text, stdout);
			free(r->text);
		}
		putchar('\n');
	}
	free(t->rows);
	free(t->width);
	free(t);
}

/* ---- values of replies ---------------------------------------------- */

/* The well-formed name/value pairs of a STATS nest, in order. */
unsigned
read_stats(const struct vmn_msg *m, struct stat_kv *st, unsigned max)
{
	static const struct vmn_attr_policy nest = { .kind = VMN_AK_NEST };
	static const struct vmn_attr_policy name = { .kind = VMN_AK_STRING,
	    .min_len = 1, .max_len = STAT_NAME_MAX };
	static const struct vmn_attr_policy u64 = { .kind = VMN_AK_U64 };
	struct vmn_attr_iter it, it2;
	struct vmn_attr s, a;
	unsigned n = 0;

	vmn_attr_for_each(&s, &it, &m->tb[VMN_A_STATS]) {
		int have = 0;

		if (n == max)
			break;
		if ((s.type & VMN_ATTR_TYPE_MASK) != VMN_A_STAT ||
		    vmn_attr_check(&s, &nest) < 0)
			continue;
		vmn_attr_for_each(&a, &it2, &s) {
			if (a.type == VMN_A_NAME &&
			    vmn_attr_check(&a, &name) == 0 &&
			    vmn_attr_str(&a, st[n].name,
			    sizeof(st[n].name)) == 0)
				have |= 1;
			else if (a.type == VMN_A_COUNT &&
			    vmn_attr_check(&a, &u64) == 0) {
				st[n].value = vmn_attr_u64(&a);
				have |= 2;
			}
		}
		if (have == 3)
			vmn_str_printable(st[n++].name);
	}
	return n;
}

/* A counter by name; 0 when absent (an older host-netd). */
uint64_t
stat_value(const struct stat_kv *st, unsigned n, const char *name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(st[i].name, name) == 0)
			return st[i].value;
	return 0;
}

/*
 * Under key: "group.name" nested as {"group":{"name":...}}; a dot further
 * in is '_'. The names are changed so.
 */
void
stats_json(const char *key, struct stat_kv *st, unsigned n)
{
	bool done[STATS_MAX] = { false };
	char group[STAT_NAME_MAX + 1], *dot, *p;
	size_t len;
	unsigned i, j;

	json_object(key);
	for (i = 0; i < n && i < STATS_MAX; i++) {
		if (done[i])
			continue;
		if (!(dot = strchr(st[i].name, '.'))) {
			json_uint(st[i].name, st[i].value);
			continue;
		}
		len = (size_t)(dot - st[i].name);
		snprintf(group, sizeof(group), "%.*s", (int)len, st[i].name);
		json_object(group);
		for (j = i; j < n && j < STATS_MAX; j++) {
			if (done[j] || strncmp(st[j].name, group, len) != 0 ||
			    st[j].name[len] != '.')
				continue;
			for (p = st[j].name + len + 1; (p = strchr(p, '.'));)
				*p = '_';
			json_uint(st[j].name + len + 1, st[j].value);
			done[j] = true;
		}
		json_object_end();
	}
	json_object_end();
}

/* A string attribute, "" when absent; control characters shown as '?'. */
const char *
str_attr(const struct vmn_msg *m, int type, char *buf, size_t len)
{
	if (vmn_attr_str(&m->tb[type], buf, len) < 0)
		buf[0] = '\0';
	return vmn_str_printable(buf);
}

/* An address attribute as text, "" when absent. */
const char *
ip_attr(const struct vmn_msg *m, int type, char *buf, size_t len)
{
	struct vmn_ip ip;

	if (vmn_attr_ip(&m->tb[type], &ip) < 0)
		buf[0] = '\0';
	else
		vmn_ip_ntop(&ip, buf, len);
	return buf;
}

/* An integer attribute of any width the policy allows; 0 when absent. */
uint64_t
num_attr(const struct vmn_msg *m, int type)
{
	const struct vmn_attr *a = &m->tb[type];

	if (!a->data)
		return 0;
	switch (a->len) {
	case 1:
		return vmn_attr_u8(a);
	case 2:
		return vmn_attr_u16(a);
	case 4:
		return vmn_attr_u32(a);
	default:
		return vmn_attr_u64(a);
	}
}

/* Seconds below two minutes, minutes below two hours, and so on. */
const char *
duration(uint64_t s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%llum", (unsigned long long)s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lluh", (unsigned long long)s / 3600);
	else
		snprintf(buf, len, "%llud", (unsigned long long)s / 86400);
	return buf;
}

/* A UNIX time in local time, for people. */
const char *
timestamp(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%llu", (unsigned long long)t);
	return buf;
}

/* --dump's and the tables' absent value. */
const char *
dash(const char *s)
{
	return s && *s ? s : "-";
}
