/*
 * netctl.h - what netctl's files share: the command table's entries, the
 *            connection to host-netd, and the three output formats
 *
 * netctl.c holds main() and the table of subcommands; each group of
 * subcommands lives in its own file (status.c, vms.c, forwards.c,
 * monitor.c) and
 * prints in every format. ctl.c talks to host-netd and reports failures;
 * output.c writes JSON and tables.
 */
#ifndef NETCTL_H
#define NETCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "paths.h"
#include "wire.h"

#define NETCTL_DEFAULT_SOCKET	VMN_CONTROL_SOCKET
#define NETCTL_SCHEMA		1	/* of --json; netctl(8) says what it is */

/* Exit statuses, as netctl(8) documents them. */
#define EXIT_FAILED		1	/* host-netd refused or failed it */
#define EXIT_USAGE		2	/* the command line is wrong */
#define EXIT_UNREACHABLE	3	/* host-netd cannot be reached */

enum output { OUT_PRETTY, OUT_DUMP, OUT_JSON };
extern enum output output;

struct command {
	const char	*name;
	const char	*args;		/* what follows the name in its usage */
	const char	*help;		/* one line or two for `netctl help` */
	int		(*fn)(int argc, char **argv);
};

/* netctl.c */
int	cmd_getopt(int argc, char **argv, const struct option *own);
void	cmd_operands(int argc, char **argv, int min, int max,
	    const char *what);
size_t	read_operand(const char *file, uint8_t *buf, size_t size);
void	usage_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* status.c, vms.c, forwards.c, monitor.c: one function per subcommand */
int	cmd_status(int argc, char **argv);
int	cmd_reload(int argc, char **argv);
int	cmd_vms(int argc, char **argv);
int	cmd_register(int argc, char **argv);
int	cmd_unregister(int argc, char **argv);
int	cmd_forwards(int argc, char **argv);
int	cmd_monitor(int argc, char **argv);
int	cmd_policy(int argc, char **argv);

/* ctl.c */
void	ctl_set_socket(const char *path, const char *origin);
void	ctl_begin(struct vmn_buf *b, uint8_t *storage, size_t cap,
	    uint16_t type);
void	ctl_send(struct vmn_buf *b);
void	ctl_request(uint16_t type);
void	ctl_reply(struct vmn_msg *m);
void	fail(int status, int err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

/* output.c: JSON (keys NULL inside arrays), tables, values of replies */
void	json_begin(void);
void	json_end(void);
void	json_object(const char *key);
void	json_object_end(void);
void	json_array(const char *key);
void	json_array_end(void);
void	json_str(const char *key, const char *v);	/* NULL or "": null */
void	json_uint(const char *key, uint64_t v);
void	json_bool(const char *key, bool v);
void	json_null(const char *key);
void	json_error(const char *message, int err, const char *const *lines,
	    unsigned nlines);

struct table;
struct table	*table_new(unsigned ncols, ...);
void		 table_row(struct table *t, ...);
void		 table_under(struct table *t, unsigned col, const char *text);
void		 table_note(struct table *t, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 table_print(struct table *t);

/* Counters, as name/value pairs named "group.name" (status, vms). */
#define STATS_MAX	128
#define STAT_NAME_MAX	64
struct stat_kv {
	char		name[STAT_NAME_MAX + 1];
	uint64_t	value;
};
unsigned	 read_stats(const struct vmn_msg *m, struct stat_kv *st,
		    unsigned max);
uint64_t	 stat_value(const struct stat_kv *st, unsigned n,
		    const char *name);
void		 stats_json(const char *key, struct stat_kv *st, unsigned n);

const char	*str_attr(const struct vmn_msg *m, int type, char *buf,
		    size_t len);
const char	*ip_attr(const struct vmn_msg *m, int type, char *buf,
		    size_t len);
uint64_t	 num_attr(const struct vmn_msg *m, int type);
const char	*duration(uint64_t s, char *buf, size_t len);
const char	*timestamp(uint64_t t, char *buf, size_t len);
const char	*dash(const char *s);

#endif
