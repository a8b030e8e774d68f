/*
 * vms.c - netctl vms, register and unregister
 *
 * A VM's reply is read into a struct vm_info, where "" and 0 mean absent;
 * each format then says absent its own way: '-' in tables and --dump
 * (whose columns never change), null in JSON. `vms NAME` and `register`
 * show one VM, in detail for people. Its counters come as name/value
 * pairs, as status's do: JSON nests them all, --dump and the detail show
 * those this netctl knows.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netctl.h"

struct vm_info {
	char		name[80], mode[40], state[64];
	char		reason[VMN_MAX_STRING + 1];
	char		channel[260], link[20], mac[VMN_MAC_STRLEN];
	char		addr[VMN_IP_STRLEN], gw[VMN_IP_STRLEN];
	char		addr6[VMN_IP_STRLEN], gw6[VMN_IP_STRLEN];
	unsigned	plen, mtu, gen, applied;
	uint64_t	age;		/* seconds in its state */
	uint64_t	since;		/* in it since (UNIX time); 0: unknown */
	unsigned	conflicts;	/* forwarded ports the host has taken */
	bool		registered;
	unsigned	owner;		/* registered: its owner's pid, or 0 */
	unsigned	nstats;
	struct stat_kv	stats[16];
};

/* The counters --dump has columns for, in their order. */
static const char *const dump_stats[] = {
	"dns.queries", "dns.failures", "fwd.connections", "fwd.reverse",
	"fwd.bytes_to_guest", "fwd.bytes_from_guest", "fw.drops",
};
#define NDUMP_STATS	(sizeof(dump_stats) / sizeof(dump_stats[0]))

static uint64_t
counter(const struct vm_info *v, const char *name)
{
	return stat_value(v->stats, v->nstats, name);
}

static void
vm_read(const struct vmn_msg *m, struct vm_info *v)
{
	memset(v, 0, sizeof(*v));
	str_attr(m, VMN_A_VM_ID, v->name, sizeof(v->name));
	str_attr(m, VMN_A_MODE, v->mode, sizeof(v->mode));
	str_attr(m, VMN_A_STATE, v->state, sizeof(v->state));
	str_attr(m, VMN_A_ERRMSG, v->reason, sizeof(v->reason));
	str_attr(m, VMN_A_CHANNEL, v->channel, sizeof(v->channel));
	str_attr(m, VMN_A_IFNAME, v->link, sizeof(v->link));
	if (m->tb[VMN_A_MAC].data)
		vmn_mac_ntop(m->tb[VMN_A_MAC].data, v->mac, sizeof(v->mac));
	ip_attr(m, VMN_A_ADDR, v->addr, sizeof(v->addr));
	ip_attr(m, VMN_A_GATEWAY, v->gw, sizeof(v->gw));
	ip_attr(m, VMN_A_ADDR6, v->addr6, sizeof(v->addr6));
	ip_attr(m, VMN_A_GATEWAY6, v->gw6, sizeof(v->gw6));
	v->plen = (unsigned)num_attr(m, VMN_A_PREFIXLEN);
	v->mtu = (unsigned)num_attr(m, VMN_A_MTU);
	v->gen = (unsigned)num_attr(m, VMN_A_GEN);
	v->applied = (unsigned)num_attr(m, VMN_A_GEN_APPLIED);
	v->age = num_attr(m, VMN_A_UPTIME);
	v->since = num_attr(m, VMN_A_SINCE);
	v->conflicts = (unsigned)num_attr(m, VMN_A_FWD_CONFLICTS);
	v->registered = vmn_attr_present(&m->tb[VMN_A_PID]);
	v->owner = (unsigned)num_attr(m, VMN_A_PID);
	v->nstats = read_stats(m, v->stats, sizeof(v->stats) /
	    sizeof(v->stats[0]));
}

/* ---- --dump: the columns of the header line, in this order, always --- */

static void
vm_dump_header(void)
{
	char col[STAT_NAME_MAX + 1], *p;
	unsigned i;

	printf("name\tmode\tstate\taddress\tgateway\taddress6\tgateway6\t"
	    "link\tmac\tmtu\tgen\tapplied\tsince\tchannel\terror\t"
	    "fwd_conflicts\towner");
	for (i = 0; i < NDUMP_STATS; i++) {
		snprintf(col, sizeof(col), "%s", dump_stats[i]);
		for (p = col; (p = strchr(p, '.'));)
			*p = '_';
		printf("\t%s", col);
	}
	printf("\n");
}

static void
vm_dump(const struct vm_info *v)
{
	char addr[VMN_IP_STRLEN + 8], owner[16];
	unsigned i;

	if (v->addr[0] && v->plen)
		snprintf(addr, sizeof(addr), "%s/%u", v->addr, v->plen);
	else
		snprintf(addr, sizeof(addr), "-");
	if (v->registered)
		snprintf(owner, sizeof(owner), "%u", v->owner);
	else
		snprintf(owner, sizeof(owner), "-");
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%u\t%u\t%u\t%llu\t%s\t"
	    "%s\t%u\t%s", dash(v->name), dash(v->mode), dash(v->state),
	    addr, dash(v->gw), dash(v->addr6), dash(v->gw6), dash(v->link),
	    dash(v->mac), v->mtu, v->gen, v->applied,
	    (unsigned long long)v->age, dash(v->channel), dash(v->reason),
	    v->conflicts, owner);
	for (i = 0; i < NDUMP_STATS; i++)
		printf("\t%llu", (unsigned long long)counter(v, dump_stats[i]));
	printf("\n");
}

/* ---- JSON ----------------------------------------------------------- */

static void
json_uint_or_null(const char *key, uint64_t v)
{
	if (v)
		json_uint(key, v);
	else
		json_null(key);
}

static void
vm_json(const char *key, struct vm_info *v)
{
	json_object(key);
	json_str("name", v->name);
	json_str("mode", v->mode);
	json_str("state", v->state);
	json_str("reason", v->reason);
	json_str("address", v->addr);
	json_uint_or_null("prefixlen", v->addr[0] ? v->plen : 0);
	json_str("gateway", v->gw);
	json_str("address6", v->addr6);
	json_str("gateway6", v->gw6);
	json_str("link", v->link);
	json_str("mac", v->mac);
	json_uint_or_null("mtu", v->mtu);
	json_str("channel", v->channel);
	json_uint_or_null("gen", v->gen);
	json_uint_or_null("gen_applied", v->applied);
	json_uint_or_null("since", v->since);
	json_uint("fwd_conflicts", v->conflicts);
	json_bool("registered", v->registered);
	json_uint_or_null("owner_pid", v->owner);
	stats_json("counters", v->stats, v->nstats);
	json_object_end();
}

/* ---- for people ----------------------------------------------------- */

static void
vms_table(const struct vm_info *vms, unsigned n)
{
	struct table *t = table_new(7, "VM", "STATE", "ADDRESS", "LINK", "MAC",
	    "GEN", "SINCE");
	const struct vm_info *v;
	char gen[24], since[16];
	unsigned i;

	for (i = 0; i < n; i++) {
		v = &vms[i];
		snprintf(gen, sizeof(gen), "%u/%u", v->applied, v->gen);
		table_row(t, v->name, v->state, v->addr, v->link, v->mac, gen,
		    duration(v->age, since, sizeof(since)));
		if (v->addr6[0])
			table_under(t, 2, v->addr6);
		if (v->reason[0])
			table_note(t, "  error: %s", v->reason);
		if (v->conflicts)
			table_note(t, "  forwards: %u port%s in use on the host "
			    "(netctl forwards)", v->conflicts,
			    v->conflicts == 1 ? "" : "s");
		if (v->registered && v->owner)
			table_note(t, "  registered by pid %u", v->owner);
		else if (v->registered)
			table_note(t, "  registered");
	}
	table_print(t);
}

/* One VM, a line per thing it has. */
static void
vm_detail(const struct vm_info *v)
{
	char a[64], b[64];

#define LINE(key, ...)	do {						\
		printf("%-11s ", key);					\
		printf(__VA_ARGS__);					\
		putchar('\n');						\
	} while (0)
	LINE("vm", "%s", v->name);
	if (v->since)
		LINE("state", "%s since %s (%s)", v->state,
		    timestamp(v->since, a, sizeof(a)),
		    duration(v->age, b, sizeof(b)));
	else
		LINE("state", "%s for %s", v->state,
		    duration(v->age, b, sizeof(b)));
	if (v->reason[0])
		LINE("reason", "%s", v->reason);
	LINE("mode", "%s", dash(v->mode));
	if (v->addr[0])
		LINE("address", "%s/%u, gateway %s", v->addr, v->plen,
		    dash(v->gw));
	if (v->addr6[0])
		LINE("address6", "%s, gateway %s", v->addr6, dash(v->gw6));
	if (v->link[0])
		LINE("link", "%s", v->link);
	if (v->mac[0])
		LINE("mac", "%s", v->mac);
	if (v->mtu)
		LINE("mtu", "%u", v->mtu);
	LINE("channel", "%s", dash(v->channel));
	LINE("generation", "%u sent, %u applied", v->gen, v->applied);
	if (v->conflicts)
		LINE("forwards", "%u port%s in use on the host (netctl "
		    "forwards)", v->conflicts, v->conflicts == 1 ? "" : "s");
	if (v->registered && v->owner)
		LINE("registered", "while pid %u runs", v->owner);
	else if (v->registered)
		LINE("registered", "until unregistered");
	if (v->nstats) {
		LINE("dns", "%llu queries, %llu failed",
		    (unsigned long long)counter(v, "dns.queries"),
		    (unsigned long long)counter(v, "dns.failures"));
		LINE("forwarded", "%llu connections, %llu reverse; %llu bytes "
		    "to the guest, %llu from it",
		    (unsigned long long)counter(v, "fwd.connections"),
		    (unsigned long long)counter(v, "fwd.reverse"),
		    (unsigned long long)counter(v, "fwd.bytes_to_guest"),
		    (unsigned long long)counter(v, "fwd.bytes_from_guest"));
		LINE("firewall", "%llu packets dropped",
		    (unsigned long long)counter(v, "fw.drops"));
	}
#undef LINE
}

/* ---- the commands --------------------------------------------------- */

int
cmd_vms(int argc, char **argv)
{
	uint8_t buf[128];
	struct vm_info *vms = NULL, *p;
	const char *name = NULL;
	unsigned n = 0, cap = 0, i;
	struct vmn_buf b;
	struct vmn_msg m;

	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 1, NULL);
	if (optind < argc)
		name = argv[optind];
	ctl_begin(&b, buf, sizeof(buf), VMN_MSG_CTL_VMS);
	if (name)
		vmn_put_str(&b, VMN_A_VM_ID, name);
	ctl_send(&b);
	/* All of them first: a table's widths depend on every row. */
	for (;;) {
		ctl_reply(&m);
		if (m.hdr.flags & VMN_F_END)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(p = reallocarray(vms, cap, sizeof(*vms))))
				fail(EXIT_FAILED, ENOMEM, "out of memory");
			vms = p;
		}
		vm_read(&m, &vms[n]);
		/* A host-netd that does not know VM_ID sends them all. */
		if (!name || strcmp(vms[n].name, name) == 0)
			n++;
	}
	if (name && n == 0)
		fail(EXIT_FAILED, ENOENT, "no vm \"%s\"", name);
	switch (output) {
	case OUT_JSON:
		json_begin();
		if (name) {
			vm_json("vm", &vms[0]);
		} else {
			json_array("vms");
			for (i = 0; i < n; i++)
				vm_json(NULL, &vms[i]);
			json_array_end();
		}
		json_end();
		break;
	case OUT_DUMP:
		vm_dump_header();
		for (i = 0; i < n; i++)
			vm_dump(&vms[i]);
		break;
	default:
		if (name)
			vm_detail(&vms[0]);
		else
			vms_table(vms, n);
	}
	free(vms);
	return 0;
}

int
cmd_register(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t text[VMN_REGISTER_MAX + 1], buf[VMN_REGISTER_MAX + 1024];
	unsigned long owner = 0;
	struct vm_info v;
	struct vmn_buf b;
	struct vmn_msg m;
	const char *file;
	size_t len;
	char *end;
	int ch;

	while ((ch = cmd_getopt(argc, argv, opts)) != -1) {
		errno = 0;
		owner = strtoul(optarg, &end, 10);
		if (errno || end == optarg || *end || !owner ||
		    owner > 0x7fffffff)
			usage_error("--owner %s: not a process ID", optarg);
	}
	cmd_operands(argc - optind, argv + optind, 1, 1, "FILE (or - for "
	    "standard input)");
	file = argv[optind];
	len = read_operand(file, text, sizeof(text));
	if (len == 0)
		fail(EXIT_FAILED, EINVAL, "%s: empty", file);
	if (len > VMN_REGISTER_MAX)
		fail(EXIT_FAILED, EFBIG, "%s: more than %d bytes", file,
		    VMN_REGISTER_MAX);
	ctl_begin(&b, buf, sizeof(buf), VMN_MSG_CTL_REGISTER);
	vmn_put(&b, VMN_A_PAYLOAD, text, len);
	vmn_put_str(&b, VMN_A_NAME, strcmp(file, "-") == 0 ? "<stdin>" : file);
	if (owner)
		vmn_put_u32(&b, VMN_A_PID, (uint32_t)owner);
	ctl_send(&b);
	ctl_reply(&m);
	vm_read(&m, &v);
	switch (output) {
	case OUT_JSON:
		json_begin();
		vm_json("vm", &v);
		json_end();
		break;
	case OUT_DUMP:
		vm_dump_header();
		vm_dump(&v);
		break;
	default:
		vm_detail(&v);
	}
	return 0;
}

int
cmd_unregister(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t buf[256];
	struct vmn_buf b;
	struct vmn_msg m;
	const char *name;
	unsigned told;
	bool force = false;

	while (cmd_getopt(argc, argv, opts) != -1)
		force = true;
	cmd_operands(argc - optind, argv + optind, 1, 1, "VM name");
	name = argv[optind];
	ctl_begin(&b, buf, sizeof(buf), VMN_MSG_CTL_UNREGISTER);
	vmn_put_str(&b, VMN_A_VM_ID, name);
	if (force)
		vmn_put_u8(&b, VMN_A_FORCE, 1);
	ctl_send(&b);
	ctl_reply(&m);
	told = (unsigned)num_attr(&m, VMN_A_PID);
	switch (output) {
	case OUT_JSON:
		json_begin();
		json_str("unregistered", name);
		json_uint_or_null("owner_signalled", told);
		json_end();
		break;
	case OUT_DUMP:
		printf("unregistered %s\n", name);
		break;
	default:
		if (told)
			printf("unregistered %s; its owner, pid %u, was told to "
			    "stop (SIGTERM)\n", name, told);
		else
			printf("unregistered %s\n", name);
	}
	return 0;
}
