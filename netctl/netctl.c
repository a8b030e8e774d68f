/*
 * netctl.c - control host-netd: status, VMs, forwarded ports, reload,
 *            VMs registered and forwards added at run time, events
 *
 * A table of subcommands, each accepting any unambiguous prefix; each one
 * lives in the file of its group. Output is a table for people, --dump for
 * scripts (tab-separated, one header line, stable columns) or --json (one
 * object with a schema version, documented in netctl(8)). The output
 * options may also follow the command. A usage error says what is wrong
 * before the usage; `netctl help` and --help print the usage to standard
 * output and exit 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netctl.h"

#define GLOBAL_USAGE \
	"netctl [-j | --dump] [-s socket] command [args]"

enum output output = OUT_PRETTY;

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "status", "",
	  "host-netd's version, uptime and counters", cmd_status },
	{ "vms", "[NAME]",
	  "every VM; with NAME, that VM in detail", cmd_vms },
	{ "forwards", "[add|remove VM PROTO PORT ...]",
	  "every forwarded port of every VM; forward add\n"
	  "and remove one (as in host-netd.conf) until a\n"
	  "reload changes VM:\n"
	  "  add VM tcp|udp PORT [to GUEST-PORT]\n"
	  "      [address ADDR]\n"
	  "  remove VM tcp|udp PORT [address ADDR]", cmd_forwards },
	{ "monitor", "",
	  "print host-netd's events as they happen", cmd_monitor },
	{ "reload", "",
	  "re-read host-netd.conf; print what changed, or\n"
	  "the file's errors", cmd_reload },
	{ "register", "[--owner PID] FILE|-",
	  "add the VM of a vm block, until unregistered\n"
	  "or until process PID exits", cmd_register },
	{ "unregister", "[--force] NAME",
	  "remove a registered VM; --force: even one whose\n"
	  "owner runs, which is told to stop (SIGTERM)", cmd_unregister },
	{ "policy", "[VM] | check FILE|-",
	  "the policy each VM has: its firewall rules with\n"
	  "their counters, its proxy, its forwarding rules;\n"
	  "check: FILE in policy.d's place, not applied", cmd_policy },
	{ "help", "[COMMAND]",
	  "this help, or a command's", cmd_help },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const struct command *current;	/* the command being run */

static void
command_help(FILE *f, const struct command *c)
{
	const char *p, *nl;

	fprintf(f, "usage: netctl %s%s%s\n", c->name, c->args[0] ? " " : "",
	    c->args);
	for (p = c->help; *p; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		fprintf(f, "  %.*s\n", (int)(nl - p), p);
	}
}

static void
help(FILE *f)
{
	const struct command *c;
	char head[64];
	const char *p, *nl;
	size_t i;

	fprintf(f, "usage: " GLOBAL_USAGE "\n\n"
	    "commands (any unambiguous prefix):\n");
	for (i = 0; i < NCOMMANDS; i++) {
		c = &commands[i];
		snprintf(head, sizeof(head), "%s%s%s", c->name,
		    c->args[0] ? " " : "", c->args);
		if (strlen(head) > 26) {
			fprintf(f, "  %s\n", head);
			head[0] = '\0';
		}
		for (p = c->help; *p; p = nl + (*nl != '\0')) {
			nl = p + strcspn(p, "\n");
			fprintf(f, "  %-26s %.*s\n", head, (int)(nl - p), p);
			head[0] = '\0';
		}
	}
	fprintf(f, "\noptions, before or after the command:\n"
	    "  -j, --json           JSON, schema %d (see netctl(8))\n"
	    "      --dump           tab-separated values for scripts\n"
	    "  -s, --socket PATH    host-netd's control socket (default: "
	    "$VMNETD_SOCKET,\n"
	    "                       else " NETCTL_DEFAULT_SOCKET ")\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        netctl's version\n", NETCTL_SCHEMA);
}

/*
 * What was wrong, then how it is used: the command's usage, or netctl's.
 * Under --json, a JSON error on standard output instead.
 */
void
usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (output == OUT_JSON) {
		json_error(msg, 0, NULL, 0);
		exit(EXIT_USAGE);
	}
	if (current) {
		fprintf(stderr, "netctl: %s: %s\n", current->name, msg);
		fprintf(stderr, "usage: netctl %s%s%s\n", current->name,
		    current->args[0] ? " " : "", current->args);
	} else {
		fprintf(stderr, "netctl: %s\n", msg);
		fprintf(stderr, "usage: " GLOBAL_USAGE "\n"
		    "(netctl help lists the commands)\n");
	}
	exit(EXIT_USAGE);
}

/* One getopt_long() error, told as usage_error() tells them. */
static void
option_error(int ch, char **argv)
{
	const char *arg = argv[optind - 1];

	if (ch == ':')
		usage_error("option %s needs an argument", arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		usage_error("unknown option -%c", optopt);
	usage_error("unknown option %s", arg);
}

/*
 * A command's options: its own (own, NULL for none; each one's val is its
 * short letter), returned one by one, and the output options, handled
 * here. -1 at the end; argv[optind...] are then the operands, in order
 * (options and operands may be mixed).
 */
int
cmd_getopt(int argc, char **argv, const struct option *own)
{
	static const struct option common[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dump", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
	};
	static struct option all[16];
	static char shorts[32];
	size_t i, n = 0, k;
	int ch;

	if (!shorts[0]) {
		strcpy(shorts, ":jh");
		k = strlen(shorts);
		for (; own && own[n].name && n < 8; n++) {
			all[n] = own[n];
			shorts[k++] = (char)own[n].val;
			if (own[n].has_arg == required_argument)
				shorts[k++] = ':';
		}
		for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
			all[n++] = common[i];
		optind = 0;	/* glibc: start again, on this argv */
	}
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		switch (ch) {
		case 'j':
			output = OUT_JSON;
			break;
		case 'D':
			output = OUT_DUMP;
			break;
		case 'h':
			command_help(stdout, current);
			exit(0);
		case ':':
		case '?':
			option_error(ch, argv);
			break;
		default:
			return ch;
		}
	}
	return -1;
}

/* Between min and max operands; what names the missing one. */
void
cmd_operands(int argc, char **argv, int min, int max, const char *what)
{
	if (argc < min)
		usage_error("missing %s", what ? what : "argument");
	if (argc > max)
		usage_error("unexpected argument \"%s\"", argv[max]);
}

/*
 * The contents of the operand FILE, or standard input for "-", into buf:
 * at most size bytes (a caller that gives one more than it takes sees a
 * file too long). The length; failing to open it fails the command.
 */
size_t
read_operand(const char *file, uint8_t *buf, size_t size)
{
	size_t len = 0;
	ssize_t k;
	int fd;

	if (strcmp(file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		fail(EXIT_FAILED, errno, "%s: %s", file, strerror(errno));
	while (len < size && (k = read(fd, buf + len, size - len)) > 0)
		len += (size_t)k;
	if (fd != STDIN_FILENO)
		close(fd);
	return len;
}

/* An exact name, or the only command it begins. */
static const struct command *
find_command(const char *word)
{
	const struct command *found = NULL;
	char names[256] = "";
	size_t i, len = strlen(word), n = 0;

	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, word) == 0)
			return &commands[i];
		if (len && strncmp(commands[i].name, word, len) == 0) {
			found = &commands[i];
			snprintf(names + strlen(names),
			    sizeof(names) - strlen(names), "%s%s",
			    n++ ? ", " : "", commands[i].name);
		}
	}
	if (n > 1)
		usage_error("ambiguous command \"%s\": %s", word, names);
	if (!found)
		usage_error("unknown command \"%s\"", word);
	return found;
}

static int
cmd_help(int argc, char **argv)
{
	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 1, NULL);
	if (optind < argc)
		command_help(stdout, find_command(argv[optind]));
	else
		help(stdout);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "dump", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("VMNETD_SOCKET");
	int ch;

	if (env && *env)
		ctl_set_socket(env, "VMNETD_SOCKET");
	opterr = 0;
	/* '+': the options before the command; its own come after it. */
	while ((ch = getopt_long(argc, argv, "+:s:jhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			ctl_set_socket(optarg, NULL);
			break;
		case 'j':
			output = OUT_JSON;
			break;
		case 'D':
			output = OUT_DUMP;
			break;
		case 'h':
			help(stdout);
			return 0;
		case 'V':
			printf("netctl (vmnetd) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			option_error(ch, argv);
		}
	}
	if (optind >= argc)
		usage_error("no command given");
	current = find_command(argv[optind]);
	return current->fn(argc - optind, argv + optind);
}
