/*
 * cli.c - --help, --version and usage errors, the same in every program
 *
 * The programs call getopt with a leading ':' in their option string, so
 * that getopt reports a missing argument as ':' and prints nothing itself:
 * the message is ours, and says which option.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

void
vmn_cli_help(const char *usage)
{
	fputs(usage, stdout);
	exit(0);
}

void
vmn_cli_version(const char *prog)
{
	printf("%s (vmnetd) %s\n", prog, PACKAGE_VERSION);
	exit(0);
}

void
vmn_cli_usage_error(const char *prog, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	exit(2);
}

/* ch is what getopt(_long) returned: '?' or ':'. */
void
vmn_cli_getopt_error(const char *prog, const char *usage, char *const argv[],
    int ch)
{
	const char *arg = argv[optind - 1];

	if (ch == ':') {
		if (optopt && arg[0] == '-' && arg[1] != '-')
			vmn_cli_usage_error(prog, usage,
			    "option -%c needs an argument", optopt);
		vmn_cli_usage_error(prog, usage, "option %s needs an argument",
		    arg);
	}
	if (optopt)
		vmn_cli_usage_error(prog, usage, "unknown option -%c", optopt);
	vmn_cli_usage_error(prog, usage, "unknown option %s", arg);
}
