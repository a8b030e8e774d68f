/*
 * status.c - netctl status and netctl reload
 *
 * host-netd's counters come as name/value pairs, so that a new one needs
 * no change here. Their names are "group.name": --dump prints them so,
 * and JSON, which has no dots in its keys, nests them: {"dns":{"queries":1}}
 * (output.c reads and nests them).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "netctl.h"

int
cmd_status(int argc, char **argv)
{
	static struct stat_kv st[STATS_MAX];
	struct vmn_msg m;
	char ver[64], up[32];
	unsigned long long pid, uptime, online;
	unsigned n, i;

	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 0, NULL);
	ctl_request(VMN_MSG_CTL_STATUS);
	ctl_reply(&m);
	str_attr(&m, VMN_A_STATE, ver, sizeof(ver));
	pid = num_attr(&m, VMN_A_PID);
	uptime = num_attr(&m, VMN_A_UPTIME);
	online = num_attr(&m, VMN_A_COUNT);
	n = read_stats(&m, st, STATS_MAX);
	switch (output) {
	case OUT_JSON:
		json_begin();
		json_str("version", ver);
		json_uint("protocol", num_attr(&m, VMN_A_VERSION));
		json_uint("pid", pid);
		if (vmn_attr_present(&m.tb[VMN_A_SINCE]))
			json_uint("started", num_attr(&m, VMN_A_SINCE));
		else
			json_null("started");
		json_uint("uptime", uptime);
		json_uint("vms_online", online);
		stats_json("stats", st, n);
		json_end();
		break;
	case OUT_DUMP:
		/* One "name<TAB>value" line each. */
		printf("version\t%s\npid\t%llu\nuptime\t%llu\nvms_online\t%llu\n",
		    dash(ver), pid, uptime, online);
		for (i = 0; i < n; i++)
			printf("%s\t%llu\n", st[i].name,
			    (unsigned long long)st[i].value);
		break;
	default:
		printf("host-netd %s, pid %llu, up %s, %llu VM%s online\n",
		    dash(ver), pid, duration(uptime, up, sizeof(up)), online,
		    online == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			printf("%s%s %llu", i ? ", " : "  ", st[i].name,
			    (unsigned long long)st[i].value);
		if (n)
			printf("\n");
	}
	return 0;
}

/* Each VM a reload changed, as host-netd reported it. */
struct change {
	char	vm[80];
	char	what[16];
};

static unsigned
read_changes(const struct vmn_msg *m, struct change *ch, unsigned max)
{
	static const struct vmn_attr_policy nest = { .kind = VMN_AK_NEST };
	static const struct vmn_attr_policy str = { .kind = VMN_AK_STRING,
	    .min_len = 1, .max_len = 64 };
	struct vmn_attr_iter it, it2;
	struct vmn_attr c, a;
	unsigned n = 0;

	vmn_attr_for_each(&c, &it, &m->tb[VMN_A_CHANGES]) {
		int have = 0;

		if (n == max)
			break;
		if ((c.type & VMN_ATTR_TYPE_MASK) != VMN_A_CHANGE ||
		    vmn_attr_check(&c, &nest) < 0)
			continue;
		vmn_attr_for_each(&a, &it2, &c) {
			if (vmn_attr_check(&a, &str) < 0)
				continue;
			if (a.type == VMN_A_VM_ID && vmn_attr_str(&a,
			    ch[n].vm, sizeof(ch[n].vm)) == 0)
				have |= 1;
			else if (a.type == VMN_A_VALUE && vmn_attr_str(&a,
			    ch[n].what, sizeof(ch[n].what)) == 0)
				have |= 2;
		}
		if (have == 3) {
			vmn_str_printable(ch[n].vm);
			vmn_str_printable(ch[n].what);
			n++;
		}
	}
	return n;
}

int
cmd_reload(int argc, char **argv)
{
	static const char *const kinds[] = {
	    "added", "removed", "restarted", "updated" };
	static struct change ch[256];
	struct vmn_msg m;
	unsigned n, i, k, shown = 0;

	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 0, NULL);
	ctl_request(VMN_MSG_CTL_RELOAD);
	ctl_reply(&m);
	n = read_changes(&m, ch, sizeof(ch) / sizeof(ch[0]));
	switch (output) {
	case OUT_JSON:
		json_begin();
		json_bool("reloaded", true);
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			json_array(kinds[k]);
			for (i = 0; i < n; i++)
				if (strcmp(ch[i].what, kinds[k]) == 0)
					json_str(NULL, ch[i].vm);
			json_array_end();
		}
		json_end();
		break;
	case OUT_DUMP:
		/* "reloaded", then one "change<TAB>vm" line each. */
		printf("reloaded\n");
		for (i = 0; i < n; i++)
			printf("%s\t%s\n", ch[i].what, ch[i].vm);
		break;
	default:
		printf("reloaded");
		for (i = 0; i < n; i++)
			printf("%s vm %s %s", shown++ ? "," : ":", ch[i].vm,
			    strcmp(ch[i].what, "updated") == 0 ?
			    "updated in place" : ch[i].what);
		printf("%s\n", n ? "" : ": no VM changed");
	}
	return 0;
}
