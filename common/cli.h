/*
 * cli.h - what every vmnetd program's command line shares
 *
 * --help prints the usage on stdout and exits 0; --version prints
 * "PROGRAM (vmnetd) VERSION"; a usage error says what was wrong on its own
 * line, then the usage, on stderr, and exits 2.
 */
#ifndef VMN_CLI_H
#define VMN_CLI_H

void	vmn_cli_help(const char *usage) __attribute__((noreturn));
void	vmn_cli_version(const char *prog) __attribute__((noreturn));
void	vmn_cli_usage_error(const char *prog, const char *usage,
	    const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));
void	vmn_cli_getopt_error(const char *prog, const char *usage,
	    char *const argv[], int ch) __attribute__((noreturn));

#endif
