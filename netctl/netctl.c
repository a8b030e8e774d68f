/*
 * netctl.c - control host-netd: status, VMs, forwarded ports, reload,
 *            VMs registered at run time
 *
 * A table of subcommands, each accepting any unambiguous prefix. Output is
 * a table for people, --dump for scripts (tab-separated, one header line,
 * stable columns) or --json.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "paths.h"
#include "wire.h"

#define DEFAULT_SOCKET	VMN_CONTROL_SOCKET

enum output { OUT_PRETTY, OUT_DUMP, OUT_JSON };

static enum output output = OUT_PRETTY;
static int ctl_fd = -1;
static uint32_t ctl_seq;
static uint8_t rxbuf[VMN_MAX_FRAME];

static void
usage(void)
{
	fprintf(stderr,
	    "usage: netctl [-s socket] [--json | --dump] command [args]\n"
	    "commands (any unambiguous prefix):\n"
	    "  status   host-netd's version, uptime and VMs online\n"
	    "  vms      every VM: state, addresses, link, generation\n"
	    "  forwards every forwarded port: VM, host port, guest port, state\n"
	    "  reload   re-read host-netd.conf (refused if it has errors)\n"
	    "  register [--owner PID] FILE|-\n"
	    "           add the vm block in FILE (- for stdin) until\n"
	    "           unregistered, or until process PID exits; prints it\n"
	    "  unregister NAME\n"
	    "           remove a registered VM\n");
	exit(2);
}

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "netctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: path too long", path);
	strcpy(sun.sun_path, path);
	if ((ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("cannot connect to host-netd at %s: %s", path,
		    strerror(errno));
}

static void
ctl_send(struct vmn_buf *b)
{
	int len;

	if ((len = vmn_msg_end(b)) < 0 ||
	    write(ctl_fd, b->data, (size_t)len) != len)
		die("sending request: %s", len < 0 ? strerror(-len) :
		    strerror(errno));
}

static void
ctl_request(uint16_t type)
{
	uint8_t buf[64];
	struct vmn_buf b;

	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, type, VMN_F_REQUEST, ++ctl_seq);
	ctl_send(&b);
}

static void
read_full(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		if ((n = read(ctl_fd, p, len)) <= 0)
			die("host-netd closed the connection");
		p += n;
		len -= (size_t)n;
	}
}

/* Reads one reply to our last request; dies on a protocol error. */
static void
ctl_reply(struct vmn_msg *m)
{
	const char *why = NULL;
	struct vmn_hdr h;
	char msg[VMN_MAX_STRING + 1];

	read_full(rxbuf, VMN_HDR_LEN);
	if (vmn_hdr_decode(rxbuf, VMN_HDR_LEN, &h, &why) < 0)
		die("bad reply: %s", why);
	read_full(rxbuf + VMN_HDR_LEN, h.length);
	if (vmn_msg_parse(rxbuf, VMN_HDR_LEN + h.length, m, &why) < 0)
		die("bad reply: %s", why);
	if (m->hdr.seq != ctl_seq)
		die("reply out of order");
	if (m->hdr.flags & VMN_F_ERROR) {
		vmn_attr_str(&m->tb[VMN_A_ERRMSG], msg, sizeof(msg));
		die("%s", msg[0] ? msg :
		    strerror((int)vmn_attr_u32(&m->tb[VMN_A_ERRNO])));
	}
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Strings for tables and --dump: no control characters, ever. */
static const char *
str_attr(const struct vmn_msg *m, int type, char *buf, size_t len)
{
	if (vmn_attr_str(&m->tb[type], buf, len) < 0)
		snprintf(buf, len, "-");
	return vmn_str_printable(buf);
}

static const char *
ip_attr(const struct vmn_msg *m, int type, char *buf, size_t len)
{
	struct vmn_ip ip;

	if (vmn_attr_ip(&m->tb[type], &ip) < 0)
		snprintf(buf, len, "-");
	else
		vmn_ip_ntop(&ip, buf, len);
	return buf;
}

static uint64_t
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

static const char *
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

/* Calls fn for each well-formed name/value pair of a STATS nest. */
static void
each_stat(const struct vmn_msg *m, void (*fn)(const char *, uint64_t, int),
    int first)
{
	static const struct vmn_attr_policy nest = { .kind = VMN_AK_NEST };
	static const struct vmn_attr_policy name = { .kind = VMN_AK_STRING,
	    .min_len = 1, .max_len = 64 };
	static const struct vmn_attr_policy u64 = { .kind = VMN_AK_U64 };
	struct vmn_attr_iter it, it2;
	struct vmn_attr st, a;

	vmn_attr_for_each(&st, &it, &m->tb[VMN_A_STATS]) {
		char n[65] = "";
		uint64_t v = 0;
		int have = 0;

		if ((st.type & VMN_ATTR_TYPE_MASK) != VMN_A_STAT ||
		    vmn_attr_check(&st, &nest) < 0)
			continue;
		vmn_attr_for_each(&a, &it2, &st) {
			if (a.type == VMN_A_NAME && vmn_attr_check(&a, &name) == 0 &&
			    vmn_attr_str(&a, n, sizeof(n)) == 0)
				have |= 1;
			else if (a.type == VMN_A_COUNT &&
			    vmn_attr_check(&a, &u64) == 0) {
				v = vmn_attr_u64(&a);
				have |= 2;
			}
		}
		if (have == 3) {
			fn(vmn_str_printable(n), v, first);
			first = 0;
		}
	}
}

static void
stat_pretty(const char *name, uint64_t v, int first)
{
	printf("%s%s %llu", first ? "  " : ", ", name, (unsigned long long)v);
}

static void
stat_json(const char *name, uint64_t v, int first)
{
	printf("%s", first ? "" : ",");
	json_string(name);
	printf(":%llu", (unsigned long long)v);
}

static void
stat_dump(const char *name, uint64_t v, int first)
{
	printf("%s\t%llu\n", name, (unsigned long long)v);
}

static int
cmd_status(int argc, char **argv)
{
	struct vmn_msg m;
	char ver[64], up[32];

	if (argc)
		usage();
	ctl_request(VMN_MSG_CTL_STATUS);
	ctl_reply(&m);
	str_attr(&m, VMN_A_STATE, ver, sizeof(ver));
	switch (output) {
	case OUT_JSON:
		printf("{\"version\":");
		json_string(ver);
		printf(",\"pid\":%llu,\"uptime\":%llu,\"vms_online\":%llu,"
		    "\"stats\":{", (unsigned long long)num_attr(&m, VMN_A_PID),
		    (unsigned long long)num_attr(&m, VMN_A_UPTIME),
		    (unsigned long long)num_attr(&m, VMN_A_COUNT));
		each_stat(&m, stat_json, 1);
		printf("}}\n");
		break;
	case OUT_DUMP:
		/* One "name<TAB>value" line each. */
		printf("version\t%s\npid\t%llu\nuptime\t%llu\nvms_online\t%llu\n",
		    ver, (unsigned long long)num_attr(&m, VMN_A_PID),
		    (unsigned long long)num_attr(&m, VMN_A_UPTIME),
		    (unsigned long long)num_attr(&m, VMN_A_COUNT));
		each_stat(&m, stat_dump, 1);
		break;
	default:
		printf("host-netd %s, pid %llu, up %s, %llu VM(s) online\n", ver,
		    (unsigned long long)num_attr(&m, VMN_A_PID),
		    duration(num_attr(&m, VMN_A_UPTIME), up, sizeof(up)),
		    (unsigned long long)num_attr(&m, VMN_A_COUNT));
		if (vmn_attr_present(&m.tb[VMN_A_STATS])) {
			each_stat(&m, stat_pretty, 1);
			printf("\n");
		}
	}
	return 0;
}

struct vm_row {
	char name[80], mode[40], state[260], error[VMN_MAX_STRING + 1];
	char channel[260], link[20], mac[VMN_MAC_STRLEN];
	char addr[VMN_IP_STRLEN], gw[VMN_IP_STRLEN];
	char addr6[VMN_IP_STRLEN], gw6[VMN_IP_STRLEN];
	unsigned plen, mtu, gen, applied;
	unsigned long long since;
	unsigned conflicts;	/* forwarded ports the host has taken */
	unsigned owner;		/* registered: its owner's pid; else 0 */
	int registered;
};

static void
row_from(const struct vmn_msg *m, struct vm_row *r)
{
	str_attr(m, VMN_A_VM_ID, r->name, sizeof(r->name));
	str_attr(m, VMN_A_MODE, r->mode, sizeof(r->mode));
	str_attr(m, VMN_A_STATE, r->state, sizeof(r->state));
	if (vmn_attr_str(&m->tb[VMN_A_ERRMSG], r->error, sizeof(r->error)) < 0)
		r->error[0] = '\0';
	vmn_str_printable(r->error);
	str_attr(m, VMN_A_CHANNEL, r->channel, sizeof(r->channel));
	str_attr(m, VMN_A_IFNAME, r->link, sizeof(r->link));
	if (m->tb[VMN_A_MAC].data)
		vmn_mac_ntop(m->tb[VMN_A_MAC].data, r->mac, sizeof(r->mac));
	else
		strcpy(r->mac, "-");
	ip_attr(m, VMN_A_ADDR, r->addr, sizeof(r->addr));
	ip_attr(m, VMN_A_GATEWAY, r->gw, sizeof(r->gw));
	ip_attr(m, VMN_A_ADDR6, r->addr6, sizeof(r->addr6));
	ip_attr(m, VMN_A_GATEWAY6, r->gw6, sizeof(r->gw6));
	r->plen = (unsigned)num_attr(m, VMN_A_PREFIXLEN);
	r->mtu = (unsigned)num_attr(m, VMN_A_MTU);
	r->gen = (unsigned)num_attr(m, VMN_A_GEN);
	r->applied = (unsigned)num_attr(m, VMN_A_GEN_APPLIED);
	r->since = num_attr(m, VMN_A_UPTIME);
	r->conflicts = (unsigned)num_attr(m, VMN_A_FWD_CONFLICTS);
	r->registered = vmn_attr_present(&m->tb[VMN_A_PID]);
	r->owner = (unsigned)num_attr(m, VMN_A_PID);
}

static void
vms_begin(void)
{
	if (output == OUT_DUMP)
		printf("name\tmode\tstate\taddress\tgateway\taddress6\t"
		    "gateway6\tlink\tmac\tmtu\tgen\tapplied\tsince\tchannel\t"
		    "error\tfwd_conflicts\towner\n");
	else if (output == OUT_JSON)
		printf("[");
	else
		printf("%-12s %-11s %-15s %-12s %-17s %-7s %s\n", "VM", "STATE",
		    "ADDRESS", "LINK", "MAC", "GEN", "SINCE");
}

static void
vms_row(const struct vm_row *r, int n)
{
	char buf[VMN_IP_STRLEN + 8], owner[16];

	if (r->registered)
		snprintf(owner, sizeof(owner), "%u", r->owner);
	else
		snprintf(owner, sizeof(owner), "-");
	switch (output) {
	case OUT_DUMP:
		if (r->plen)
			snprintf(buf, sizeof(buf), "%s/%u", r->addr, r->plen);
		else
			snprintf(buf, sizeof(buf), "-");
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%u\t%u\t"
		    "%u\t%llu\t%s\t%s\t%u\t%s\n", r->name, r->mode, r->state,
		    buf, r->gw, r->addr6, r->gw6, r->link, r->mac,
		    r->mtu, r->gen, r->applied, r->since, r->channel,
		    r->error[0] ? r->error : "-", r->conflicts, owner);
		break;
	case OUT_JSON:
		printf("%s{\"name\":", n ? "," : "");
		json_string(r->name);
		printf(",\"mode\":");
		json_string(r->mode);
		printf(",\"state\":");
		json_string(r->state);
		printf(",\"address\":");
		json_string(r->addr);
		printf(",\"prefixlen\":%u,\"gateway\":", r->plen);
		json_string(r->gw);
		printf(",\"address6\":");
		json_string(r->addr6);
		printf(",\"gateway6\":");
		json_string(r->gw6);
		printf(",\"link\":");
		json_string(r->link);
		printf(",\"mac\":");
		json_string(r->mac);
		printf(",\"mtu\":%u,\"gen\":%u,\"applied\":%u,"
		    "\"since\":%llu,\"channel\":", r->mtu, r->gen,
		    r->applied, r->since);
		json_string(r->channel);
		printf(",\"error\":");
		if (r->error[0])
			json_string(r->error);
		else
			printf("null");
		printf(",\"fwd_conflicts\":%u,\"owner\":%s}", r->conflicts,
		    r->registered ? owner : "null");
		break;
	default:
		{
			char gen[24], since[16];

			snprintf(gen, sizeof(gen), "%u/%u", r->applied, r->gen);
			printf("%-12s %-11s %-15s %-12s %-17s %-7s %s\n",
			    r->name, r->state, r->addr, r->link, r->mac, gen,
			    duration(r->since, since, sizeof(since)));
		}
		if (strcmp(r->addr6, "-") != 0)
			printf("%-12s %-11s %s\n", "", "", r->addr6);
		if (r->error[0])
			printf("  error: %s\n", r->error);
		if (r->conflicts)
			printf("  forwards: %u port%s in use on the host "
			    "(netctl forwards)\n", r->conflicts,
			    r->conflicts == 1 ? "" : "s");
		if (r->registered && r->owner)
			printf("  registered by pid %u\n", r->owner);
		else if (r->registered)
			printf("  registered\n");
	}
}

static void
vms_end(void)
{
	if (output == OUT_JSON)
		printf("]\n");
}

static int
cmd_vms(int argc, char **argv)
{
	struct vmn_msg m;
	struct vm_row r;
	int n = 0;

	if (argc)
		usage();
	ctl_request(VMN_MSG_CTL_VMS);
	vms_begin();
	for (;;) {
		ctl_reply(&m);
		if (m.hdr.flags & VMN_F_END)
			break;
		row_from(&m, &r);
		vms_row(&r, n++);
	}
	vms_end();
	return 0;
}

static int
cmd_register(int argc, char **argv)
{
	static uint8_t text[VMN_REGISTER_MAX + 1], buf[VMN_REGISTER_MAX + 1024];
	const char *file = NULL;
	unsigned long owner = 0;
	struct vmn_buf b;
	struct vmn_msg m;
	struct vm_row r;
	size_t len = 0;
	ssize_t k;
	char *end;
	int fd, i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--owner") == 0 && i + 1 < argc) {
			errno = 0;
			owner = strtoul(argv[++i], &end, 10);
			if (errno || *end || !owner || owner > 0x7fffffff)
				die("--owner %s: a process id", argv[i]);
		} else if (!file) {
			file = argv[i];
		} else {
			usage();
		}
	}
	if (!file)
		usage();
	if (strcmp(file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		die("%s: %s", file, strerror(errno));
	while (len < sizeof(text) &&
	    (k = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)k;
	if (fd != STDIN_FILENO)
		close(fd);
	if (len == 0)
		die("%s: empty", file);
	if (len > VMN_REGISTER_MAX)
		die("%s: more than %d bytes", file, VMN_REGISTER_MAX);
	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, VMN_MSG_CTL_REGISTER, VMN_F_REQUEST, ++ctl_seq);
	vmn_put(&b, VMN_A_PAYLOAD, text, len);
	vmn_put_str(&b, VMN_A_NAME, strcmp(file, "-") == 0 ? "<stdin>" : file);
	if (owner)
		vmn_put_u32(&b, VMN_A_PID, (uint32_t)owner);
	ctl_send(&b);
	ctl_reply(&m);
	row_from(&m, &r);
	vms_begin();
	vms_row(&r, 0);
	vms_end();
	return 0;
}

static int
cmd_unregister(int argc, char **argv)
{
	uint8_t buf[256];
	struct vmn_buf b;
	struct vmn_msg m;

	if (argc != 1)
		usage();
	vmn_buf_init(&b, buf, sizeof(buf));
	vmn_msg_begin(&b, VMN_MSG_CTL_UNREGISTER, VMN_F_REQUEST, ++ctl_seq);
	vmn_put_str(&b, VMN_A_VM_ID, argv[0]);
	ctl_send(&b);
	ctl_reply(&m);
	if (output == OUT_JSON) {
		printf("{\"unregistered\":");
		json_string(argv[0]);
		printf("}\n");
	} else {
		printf("unregistered %s\n", argv[0]);
	}
	return 0;
}

static int
cmd_forwards(int argc, char **argv)
{
	struct vmn_msg m;
	char vm[80], kind[40], state[260], ip[VMN_IP_STRLEN], hp[VMN_IP_STRLEN + 8];
	const char *proto;
	int n = 0;

	if (argc)
		usage();
	ctl_request(VMN_MSG_CTL_FORWARDS);
	if (output == OUT_DUMP)
		printf("vm\tproto\thost\tguest_port\tkind\tstate\tconnections\n");
	else if (output == OUT_JSON)
		printf("[");
	else
		printf("%-12s %-5s %-24s %-10s %-8s %-6s %s\n", "VM", "PROTO",
		    "HOST", "GUEST PORT", "KIND", "CONNS", "STATE");
	for (;;) {
		ctl_reply(&m);
		if (m.hdr.flags & VMN_F_END)
			break;
		str_attr(&m, VMN_A_VM_ID, vm, sizeof(vm));
		str_attr(&m, VMN_A_MODE, kind, sizeof(kind));
		str_attr(&m, VMN_A_STATE, state, sizeof(state));
		ip_attr(&m, VMN_A_HOST_ADDR, ip, sizeof(ip));
		proto = num_attr(&m, VMN_A_PROTO) == 17 ? "udp" : "tcp";
		snprintf(hp, sizeof(hp), strchr(ip, ':') ? "[%s]:%llu" :
		    "%s:%llu", ip, (unsigned long long)num_attr(&m, VMN_A_PORT));
		switch (output) {
		case OUT_DUMP:
			printf("%s\t%s\t%s\t%llu\t%s\t%s\t%llu\n", vm, proto,
			    hp, (unsigned long long)num_attr(&m, VMN_A_GUEST_PORT),
			    kind, state,
			    (unsigned long long)num_attr(&m, VMN_A_COUNT));
			break;
		case OUT_JSON:
			printf("%s{\"vm\":", n ? "," : "");
			json_string(vm);
			printf(",\"proto\":\"%s\",\"host\":", proto);
			json_string(hp);
			printf(",\"guest_port\":%llu,\"kind\":",
			    (unsigned long long)num_attr(&m, VMN_A_GUEST_PORT));
			json_string(kind);
			printf(",\"state\":");
			json_string(state);
			printf(",\"connections\":%llu}",
			    (unsigned long long)num_attr(&m, VMN_A_COUNT));
			break;
		default:
			printf("%-12s %-5s %-24s %-10llu %-8s %-6llu %s\n", vm,
			    proto, hp,
			    (unsigned long long)num_attr(&m, VMN_A_GUEST_PORT),
			    kind, (unsigned long long)num_attr(&m, VMN_A_COUNT),
			    state);
		}
		n++;
	}
	if (output == OUT_JSON)
		printf("]\n");
	return 0;
}

static int
cmd_reload(int argc, char **argv)
{
	struct vmn_msg m;

	if (argc)
		usage();
	ctl_request(VMN_MSG_CTL_RELOAD);
	ctl_reply(&m);
	if (output == OUT_JSON)
		printf("{\"reloaded\":true}\n");
	else
		printf("reloaded\n");
	return 0;
}

static const struct command {
	const char	*name;
	int		(*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "vms", cmd_vms },
	{ "forwards", cmd_forwards },
	{ "reload", cmd_reload },
	{ "register", cmd_register },
	{ "unregister", cmd_unregister },
};

static const struct command *
find_command(const char *word)
{
	const struct command *found = NULL;
	size_t i, len = strlen(word);

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, word) == 0)
			return &commands[i];
		if (strncmp(commands[i].name, word, len) == 0) {
			if (found)
				die("\"%s\" is ambiguous", word);
			found = &commands[i];
		}
	}
	if (!found)
		die("unknown command \"%s\" (try netctl -h)", word);
	return found;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "dump", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("VMNETD_SOCKET");
	const struct command *cmd;
	int ch;

	if (!sock)
		sock = DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			output = OUT_JSON;
			break;
		case 'D':
			output = OUT_DUMP;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	cmd = find_command(argv[optind]);
	ctl_connect(sock);
	return cmd->fn(argc - optind - 1, argv + optind + 1);
}
