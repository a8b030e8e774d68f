/*
 * monitor.c - netctl monitor: host-netd's events as they happen
 *
 * One line per event, written out at once so that a pipe sees each as it
 * comes: for people its time, kind and host-netd's sentence; under --json
 * an object with the kind, number, time, VM and sentence, and the event's
 * own fields (strings or numbers, as host-netd sends them, so a new field
 * needs no change here); under --dump the number, time, kind, VM and
 * sentence, tab-separated. It runs until host-netd goes or netctl is
 * stopped.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "netctl.h"

#define FIELD_NAME_MAX	32

/* Keys of our own, which no field of host-netd's may take. */
static bool
reserved(const char *key)
{
	static const char *const keys[] = {
	    "schema", "seq", "time", "event", "vm", "text" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* The event's FIELDS as JSON members: a VALUE a string, a COUNT a number. */
static void
fields_json(const struct vmn_msg *m)
{
	static const struct vmn_attr_policy nest = { .kind = VMN_AK_NEST };
	static const struct vmn_attr_policy name = { .kind = VMN_AK_STRING,
	    .min_len = 1, .max_len = FIELD_NAME_MAX };
	static const struct vmn_attr_policy str = { .kind = VMN_AK_STRING,
	    .max_len = VMN_MAX_STRING };
	static const struct vmn_attr_policy u64 = { .kind = VMN_AK_U64 };
	char key[FIELD_NAME_MAX + 1], val[VMN_MAX_STRING + 1];
	struct vmn_attr_iter it, it2;
	struct vmn_attr f, a;
	uint64_t num;
	int have;

	vmn_attr_for_each(&f, &it, &m->tb[VMN_A_FIELDS]) {
		if ((f.type & VMN_ATTR_TYPE_MASK) != VMN_A_FIELD ||
		    vmn_attr_check(&f, &nest) < 0)
			continue;
		have = 0;
		num = 0;
		vmn_attr_for_each(&a, &it2, &f) {
			if (a.type == VMN_A_NAME &&
			    vmn_attr_check(&a, &name) == 0 &&
			    vmn_attr_str(&a, key, sizeof(key)) == 0)
				have |= 1;
			else if (a.type == VMN_A_VALUE &&
			    vmn_attr_check(&a, &str) == 0 &&
			    vmn_attr_str(&a, val, sizeof(val)) == 0)
				have |= 2;
			else if (a.type == VMN_A_COUNT &&
			    vmn_attr_check(&a, &u64) == 0) {
				num = vmn_attr_u64(&a);
				have |= 4;
			}
		}
		if (!(have & 1) || !(have & 6) || reserved(key))
			continue;
		vmn_str_printable(key);
		if (have & 2)
			json_str(key, vmn_str_printable(val));
		else
			json_uint(key, num);
	}
}

static void
print_event(const struct vmn_msg *m)
{
	char kind[40], vm[80], text[VMN_MAX_STRING + 1], t[32];
	uint64_t seq = num_attr(m, VMN_A_COUNT);
	uint64_t when = num_attr(m, VMN_A_SINCE);

	str_attr(m, VMN_A_KIND, kind, sizeof(kind));
	str_attr(m, VMN_A_VM_ID, vm, sizeof(vm));
	str_attr(m, VMN_A_VALUE, text, sizeof(text));
	switch (output) {
	case OUT_JSON:
		json_begin();
		if (seq)
			json_uint("seq", seq);
		else
			json_null("seq");
		json_uint("time", when);
		json_str("event", kind);
		json_str("vm", vm);
		json_str("text", text);
		fields_json(m);
		json_end();
		break;
	case OUT_DUMP:
		printf("%llu\t%llu\t%s\t%s\t%s\n", (unsigned long long)seq,
		    (unsigned long long)when, dash(kind), dash(vm), dash(text));
		break;
	default:
		/* The time of day: a monitor is watched as it runs. */
		timestamp(when, t, sizeof(t));
		printf("%s %-21s %s\n", strchr(t, ' ') ? strchr(t, ' ') + 1 : t,
		    kind, text);
	}
	fflush(stdout);
}

int
cmd_monitor(int argc, char **argv)
{
	struct vmn_msg m;

	cmd_getopt(argc, argv, NULL);
	cmd_operands(argc - optind, argv + optind, 0, 0, NULL);
	ctl_request(VMN_MSG_CTL_MONITOR);
	if (output == OUT_DUMP)
		printf("seq\ttime\tevent\tvm\ttext\n");
	for (;;) {
		ctl_reply(&m);
		print_event(&m);
	}
}
