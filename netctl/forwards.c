/*
 * forwards.c - netctl forwards: every forwarded port of every VM
 *
 * host-netd says each port's state as an enum ("active" or "error") and,
 * apart, the reason it is not active. JSON keeps them apart, and the host
 * address apart from the port; the table and --dump show the reason in
 * the state's place, as they always have.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
cmd_forwards(int argc, char **argv)
{
	struct fwd_info *fw = NULL, *p;
	unsigned n = 0, cap = 0, i;
	struct table *t;
	struct vmn_msg m;
	char guest[8], conns[24];

	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 0, NULL);
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
		for (i = 0; i < n; i++) {
			json_object(NULL);
			json_str("vm", fw[i].vm);
			json_str("proto", fw[i].proto);
			json_str("host_address", fw[i].addr);
			json_uint("host_port", fw[i].host_port);
			json_uint("guest_port", fw[i].guest_port);
			json_str("kind", fw[i].kind);
			json_str("state", fw[i].state);
			json_str("reason", fw[i].reason);
			json_uint("connections", fw[i].conns);
			json_object_end();
		}
		json_array_end();
		json_end();
		break;
	case OUT_DUMP:
		printf("vm\tproto\thost\tguest_port\tkind\tstate\tconnections\n");
		for (i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%u\t%s\t%s\t%llu\n", dash(fw[i].vm),
			    fw[i].proto, fw[i].host, fw[i].guest_port,
			    dash(fw[i].kind), fwd_state(&fw[i]),
			    (unsigned long long)fw[i].conns);
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
