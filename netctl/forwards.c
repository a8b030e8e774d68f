/*
 * forwards.c - netctl forwards: every forwarded port of every VM; and
 * netctl forward add|remove, a VM's forward at run time
 *
 * host-netd says each port's state as an enum ("active" or "error") and,
 * apart, the reason it is not active. JSON keeps them apart, and the host
 * address apart from the port; the table and --dump show the reason in
 * the state's place, as they always have.
 *
 * `forward` is no command of its own but the prefix of `forwards`, which
 * lists without operands and adds or removes with them: so the word can
 * be either, and `netctl f` lists as it always has. A forward is written
 * as in a vm block of host-netd.conf(5).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "netctl.h"

struct fwd_info {
	char		vm[80], kind[40], state[64];
	char		reason[VMN_MAX_STRING + 1];
	char		addr[VMN_IP_STRLEN];
	char		host[VMN_IP_STRLEN + 8];	/* address:port */
	const char	*proto;
	unsigned	host_port, guest_port;
	uint64_t	conns;
};

static void
fwd_read(const struct vmn_msg *m, struct fwd_info *f)
{
	memset(f, 0, sizeof(*f));
	str_attr(m, VMN_A_VM_ID, f->vm, sizeof(f->vm));
	str_attr(m, VMN_A_MODE, f->kind, sizeof(f->kind));
	str_attr(m, VMN_A_STATE, f->state, sizeof(f->state));
	str_attr(m, VMN_A_ERRMSG, f->reason, sizeof(f->reason));
	ip_attr(m, VMN_A_HOST_ADDR, f->addr, sizeof(f->addr));
	f->proto = num_attr(m, VMN_A_PROTO) == 17 ? "udp" : "tcp";
	f->host_port = (unsigned)num_attr(m, VMN_A_PORT);
	f->guest_port = (unsigned)num_attr(m, VMN_A_GUEST_PORT);
	f->conns = num_attr(m, VMN_A_COUNT);
	snprintf(f->host, sizeof(f->host), strchr(f->addr, ':') ? "[%s]:%u" :
	    "%s:%u", dash(f->addr), f->host_port);
}

/* The table's and --dump's state: the reason when there is one. */
static const char *
fwd_state(const struct fwd_info *f)
{
	return f->reason[0] ? f->reason : dash(f->state);
}

static void
fwd_json(const char *key, const struct fwd_info *f)
{
	json_object(key);
	json_str("vm", f->vm);
	json_str("proto", f->proto);
	json_str("host_address", f->addr);
	json_uint("host_port", f->host_port);
	json_uint("guest_port", f->guest_port);
	json_str("kind", f->kind);
	json_str("state", f->state);
	json_str("reason", f->reason);
	json_uint("connections", f->conns);
	json_object_end();
}

static void
fwd_dump_header(void)
{
	printf("vm\tproto\thost\tguest_port\tkind\tstate\tconnections\n");
}

static void
fwd_dump(const struct fwd_info *f)
{
	printf("%s\t%s\t%s\t%u\t%s\t%s\t%llu\n", dash(f->vm), f->proto,
	    f->host, f->guest_port, dash(f->kind), fwd_state(f),
	    (unsigned long long)f->conns);
}

/* ---- forward add|remove ---------------------------------------------- */

static uint16_t
port_arg(const char *what, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		usage_error("%s \"%s\": not a port (1 to 65535)", what, s);
	return (uint16_t)v;
}

/* VM tcp|udp PORT, then (add) [to GUEST-PORT], and [address ADDR]. */
static void
forward_args(int argc, char **argv, bool add, struct vmn_buf *b)
{
	struct vmn_ip addr;
	const char *proto;
	int i;

	if (argc < 1)
		usage_error("missing VM name");
	if (argc < 2)
		usage_error("missing protocol (tcp or udp)");
	proto = argv[1];
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		usage_error("\"%s\": not a protocol (tcp or udp)", proto);
	if (argc < 3)
		usage_error("missing port");
	vmn_put_str(b, VMN_A_VM_ID, argv[0]);
	vmn_put_u8(b, VMN_A_PROTO, proto[0] == 'u' ? IPPROTO_UDP : IPPROTO_TCP);
	vmn_put_u16(b, VMN_A_PORT, port_arg("port", argv[2]));
	for (i = 3; i < argc; i += 2) {
		if (strcmp(argv[i], "to") != 0 &&
		    strcmp(argv[i], "address") != 0)
			usage_error("unexpected \"%s\" (to or address)",
			    argv[i]);
		if (!add && strcmp(argv[i], "to") == 0)
			usage_error("remove takes no \"to\": the host port "
			    "and address say which");
		if (i + 1 >= argc)
			usage_error("missing %s after \"%s\"", argv[i][0] ==
			    't' ? "guest port" : "address", argv[i]);
		if (argv[i][0] == 't') {
			vmn_put_u16(b, VMN_A_GUEST_PORT,
			    port_arg("guest port", argv[i + 1]));
		} else if (vmn_ip_parse(argv[i + 1], &addr) == 0) {
			vmn_put_ip(b, VMN_A_HOST_ADDR, &addr);
		} else {
			usage_error("address \"%s\": not an IP address",
			    argv[i + 1]);
		}
	}
}

/* netctl forward add|remove VM ...: the forward as host-netd has it. */
static int
forward_change(int argc, char **argv)
{
	uint8_t buf[256];
	bool add = strcmp(argv[0], "add") == 0;
	struct fwd_info f;
	struct vmn_buf b;
	struct vmn_msg m;

	ctl_begin(&b, buf, sizeof(buf), add ? VMN_MSG_CTL_FWD_ADD :
	    VMN_MSG_CTL_FWD_REMOVE);
	forward_args(argc - 1, argv + 1, add, &b);
	ctl_send(&b);
	ctl_reply(&m);
	fwd_read(&m, &f);
	switch (output) {
	case OUT_JSON:
		json_begin();
		fwd_json(add ? "added" : "removed", &f);
		json_end();
		break;
	case OUT_DUMP:
		fwd_dump_header();
		fwd_dump(&f);
		break;
	default:
		if (add)
			printf("vm %s: %s %s forwarded to guest port %u, until "
			    "a reload changes its block\n", f.vm, f.proto,
			    f.host, f.guest_port);
		else
			printf("vm %s: %s %s no longer forwarded\n", f.vm,
			    f.proto, f.host);
	}
	return 0;
}

/* ---- forwards --------------------------------------------------------- */

int
cmd_forwards(int argc, char **argv)
{
	struct fwd_info *fw = NULL, *p;
	unsigned n = 0, cap = 0, i;
	struct table *t;
	struct vmn_msg m;
	char guest[8], conns[24];

	cmd_getopt(argc, argv, NULL);
	argc -= optind;
	argv += optind;
	if (argc > 0 && (strcmp(argv[0], "add") == 0 ||
	    strcmp(argv[0], "remove") == 0))
		return forward_change(argc, argv);
	if (argc > 0)
		usage_error("unexpected argument \"%s\" (add or remove)",
		    argv[0]);
	ctl_request(VMN_MSG_CTL_FORWARDS);
	for (;;) {
		ctl_reply(&m);
		if (m.hdr.flags & VMN_F_END)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			if (!(p = reallocarray(fw, cap, sizeof(*fw))))
				fail(EXIT_FAILED, ENOMEM, "out of memory");
			fw = p;
		}
		fwd_read(&m, &fw[n++]);
	}
	switch (output) {
	case OUT_JSON:
		json_begin();
		json_array("forwards");
		for (i = 0; i < n; i++)
			fwd_json(NULL, &fw[i]);
		json_array_end();
		json_end();
		break;
	case OUT_DUMP:
		fwd_dump_header();
		for (i = 0; i < n; i++)
			fwd_dump(&fw[i]);
		break;
	default:
		t = table_new(7, "VM", "PROTO", "HOST", "GUEST PORT", "KIND",
		    "CONNS", "STATE");
		for (i = 0; i < n; i++) {
			snprintf(guest, sizeof(guest), "%u", fw[i].guest_port);
			snprintf(conns, sizeof(conns), "%llu",
			    (unsigned long long)fw[i].conns);
			table_row(t, fw[i].vm, fw[i].proto, fw[i].host, guest,
			    fw[i].kind, conns, fwd_state(&fw[i]));
		}
		table_print(t);
	}
	free(fw);
	return 0;
}
