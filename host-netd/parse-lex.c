/*
 * parse-lex.c - host-netd.conf(5) as tokens, and errors at file:line
 *
 * Statements end at a newline or ';'. Words are unquoted runs of
 * characters other than whitespace, quotes, braces, ';' and '#'; strings
 * are double-quoted with \" and \\ escapes, on one line. '#' starts a
 * comment. Every token knows its line, so that each message points at the
 * token at fault; after an error the grammar skips to the end of the
 * statement (a whole block if the statement opens one) and goes on, so
 * one run shows all mistakes.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "log.h"

static void
vreport(struct parser *p, const char *file, int line, const char *kind,
    const char *fmt, va_list ap)
{
	char msg[512];
	size_t used;

	char where[PATH_MAX + 16];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Line 0: about the file as a whole. */
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", file, line);
	else
		snprintf(where, sizeof(where), "%s", file);
	log_warnx("%s: %s%s", where, kind, msg);
	if (*kind)
		return;		/* a warning: it refuses nothing */
	p->errors++;
	if (p->errbuf && (used = strlen(p->errbuf)) + 1 < p->errlen)
		snprintf(p->errbuf + used, p->errlen - used, "%s%s: %s",
		    used ? "\n" : "", where, msg);
}

void
perr(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, p->file, line, "", fmt, ap);
	va_end(ap);
}

void
pwarn(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, p->file, line, "warning: ", fmt, ap);
	va_end(ap);
}

/*
 * About a VM block, in the file it came from: at line, or at the block's
 * first line when line is 0 (the option at fault was not written, or its
 * line is no longer known).
 */
void
vcerr(struct parser *p, const struct vm_conf *vc, int line, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, vc->file[0] ? vc->file : p->file, line ? line : vc->line,
	    "", fmt, ap);
	va_end(ap);
}

/* About a policy rule or block, wherever it was read. */
void
perr_at(struct parser *p, const struct policy_where *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, at->file, at->line, "", fmt, ap);
	va_end(ap);
}

static bool
word_char(int c)
{
	return c > ' ' && c != '"' && c != '{' && c != '}' && c != ';' &&
	    c != '#' && c != 0x7f;
}

/* A quoted string; the opening quote is at p->pos. */
static enum tok
lex_string(struct parser *p)
{
	bool bad = false;
	size_t n = 0;
	int c;

	p->pos++;
	while (p->pos < p->len && p->buf[p->pos] != '"') {
		if (p->buf[p->pos] == '\n')
			break;	/* left for the end of the statement */
		c = (unsigned char)p->buf[p->pos++];
		if (c == '\\' && p->pos < p->len &&
		    (p->buf[p->pos] == '"' || p->buf[p->pos] == '\\'))
			c = (unsigned char)p->buf[p->pos++];
		if (bad)
			continue;
		if (c < ' ' || c == 0x7f) {
			perr(p, p->line, "control character in string");
			bad = true;
		} else if (n >= sizeof(p->text) - 1) {
			perr(p, p->line, "string too long");
			bad = true;
		} else {
			p->text[n++] = (char)c;
		}
	}
	p->text[bad ? 0 : n] = '\0';
	if (p->pos >= p->len || p->buf[p->pos] == '\n') {
		if (!bad)
			perr(p, p->line, "unterminated string");
		return p->tok = T_ERROR;
	}
	p->pos++;
	return p->tok = bad ? T_ERROR : T_STRING;
}

/* The next token into p->tok (and p->text, p->tok_line). */
enum tok
lex_next(struct parser *p)
{
	size_t n = 0;
	int c;

	for (;;) {
		if (p->pos >= p->len) {
			p->tok_line = p->len && p->buf[p->len - 1] == '\n' ?
			    p->line - 1 : p->line;
			p->text[0] = '\0';
			return p->tok = T_EOF;
		}
		c = (unsigned char)p->buf[p->pos];
		if (c == '#') {
			while (p->pos < p->len && p->buf[p->pos] != '\n')
				p->pos++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
			continue;
		}
		break;
	}
	p->tok_line = p->line;
	p->text[0] = '\0';
	switch (c) {
	case '\n':
		p->pos++;
		p->line++;
		return p->tok = T_EOS;
	case ';':
		p->pos++;
		return p->tok = T_EOS;
	case '{':
		p->pos++;
		return p->tok = T_LBRACE;
	case '}':
		p->pos++;
		return p->tok = T_RBRACE;
	case '"':
		return lex_string(p);
	default:
		if (!word_char(c)) {
			perr(p, p->line, "unexpected character 0x%02x", c);
			p->pos++;
			return p->tok = T_ERROR;
		}
		while (p->pos < p->len &&
		    word_char((unsigned char)p->buf[p->pos])) {
			if (n >= sizeof(p->text) - 1) {
				perr(p, p->line, "word too long");
				return p->tok = T_ERROR;
			}
			p->text[n++] = p->buf[p->pos++];
		}
		p->text[n] = '\0';
		return p->tok = T_WORD;
	}
}

/* Skips the rest of a bad statement, and a whole block if it opens one. */
void
skip_statement(struct parser *p)
{
	int depth = 0;

	for (;;) {
		switch (p->tok) {
		case T_EOF:
			return;
		case T_EOS:
			if (depth == 0)
				return;
			break;
		case T_LBRACE:
			depth++;
			break;
		case T_RBRACE:
			if (depth == 0)
				return;	/* the enclosing block's end */
			if (--depth == 0) {
				lex_next(p);
				return;
			}
			break;
		default:
			break;
		}
		lex_next(p);
	}
}

/* Takes the next token as an argument (word or string). */
bool
arg(struct parser *p, const char *what)
{
	lex_next(p);
	if (p->tok == T_WORD || p->tok == T_STRING)
		return true;
	if (p->tok != T_ERROR)
		perr(p, p->tok_line, "missing %s", what);
	return false;
}

/* The current token must end the statement. */
bool
at_end(struct parser *p)
{
	if (p->tok == T_EOS || p->tok == T_EOF || p->tok == T_RBRACE)
		return true;
	if (p->tok == T_LBRACE)
		perr(p, p->tok_line, "unexpected '{' at end of statement");
	else if (p->tok != T_ERROR)
		perr(p, p->tok_line, "unexpected \"%s\" at end of statement",
		    p->text);
	return false;
}

bool
end_of_statement(struct parser *p)
{
	lex_next(p);
	return at_end(p);
}
