/*
 * policy.c - netctl policy: the policy as each VM has it, and a file
 *            checked before it goes into policy.d
 *
 * host-netd answers a reply per VM (its proxy, its drops), then one per
 * rule in the order they apply; they are printed as they come.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netctl.h"

/* What the JSON document has open: a VM, and which of its lists. */
static struct {
	bool	vm;
	int	list;		/* 0: none, 1: firewall, 2: forwarding */
} open_;

static void
json_close_vm(void)
{
	if (open_.list)
		json_array_end();
	if (open_.vm)
		json_object_end();
	open_.vm = false;
	open_.list = 0;
}

static void
show_vm(const struct vmn_msg *m, const char *vm)
{
	char mode[40], from[1100], http[300], https[300], pac[300];
	char no_proxy[VMN_MAX_STRING + 1];
	uint64_t drops = num_attr(m, VMN_A_COUNT);
	bool proxy;

	str_attr(m, VMN_A_MODE, mode, sizeof(mode));
	str_attr(m, VMN_A_VALUE, from, sizeof(from));
	str_attr(m, VMN_A_HTTP_PROXY, http, sizeof(http));
	str_attr(m, VMN_A_HTTPS_PROXY, https, sizeof(https));
	str_attr(m, VMN_A_PAC_URL, pac, sizeof(pac));
	str_attr(m, VMN_A_NO_PROXY, no_proxy, sizeof(no_proxy));
	proxy = from[0] != '\0';
	switch (output) {
	case OUT_JSON:
		json_close_vm();
		json_object(NULL);
		open_.vm = true;
		json_str("name", vm);
		json_str("mode", mode);
		json_uint("drops", drops);
		if (proxy) {
			json_object("proxy");
			json_str("from", from);
			json_str("http", http);
			json_str("https", https);
			json_str("pac", pac);
			json_str("no_proxy", no_proxy);
			json_object_end();
		} else
			json_null("proxy");
		json_array("firewall");
		open_.list = 1;
		break;
	case OUT_DUMP:
		printf("%s\tvm\t%s\t%s\t%llu\n", vm, dash(from), mode,
		    (unsigned long long)drops);
		break;
	default:
		printf("vm %s (%s): %llu packet%s dropped by its firewall\n",
		    vm, mode, (unsigned long long)drops, drops == 1 ? "" : "s");
		if (!proxy) {
			printf("  proxy: none\n");
			break;
		}
		printf("  proxy, from %s\n", from);
		if (http[0])
			printf("    http      %s\n", http);
		if (https[0])
			printf("    https     %s\n", https);
		if (pac[0])
			printf("    pac       %s\n", pac);
		if (no_proxy[0])
			printf("    no_proxy  %s\n", no_proxy);
	}
}

static void
show_rule(const struct vmn_msg *m, const char *vm, const char *kind,
    int *last)
{
	char at[1100], rule[VMN_MAX_STRING + 1];
	bool fw = strcmp(kind, "firewall") == 0;
	uint64_t packets = num_attr(m, VMN_A_COUNT);

	str_attr(m, VMN_A_NAME, at, sizeof(at));
	str_attr(m, VMN_A_VALUE, rule, sizeof(rule));
	switch (output) {
	case OUT_JSON:
		if (!fw && open_.list == 1) {
			json_array_end();
			json_array("forwarding");
			open_.list = 2;
		}
		json_object(NULL);
		json_str("at", at);
		json_str("rule", rule);
		if (fw)
			json_uint("packets", packets);
		json_object_end();
		break;
	case OUT_DUMP:
		printf("%s\t%s\t%s\t%s\t", vm, kind, at, rule);
		if (fw)
			printf("%llu\n", (unsigned long long)packets);
		else
			printf("-\n");
		break;
	default:
		if (*last != (fw ? 1 : 2))
			printf("  %s\n", fw ? "firewall (packets, rule, where)" :
			    "forwarding (rule, where)");
		*last = fw ? 1 : 2;
		if (fw)
			printf("    %8llu  %s  (%s)\n",
			    (unsigned long long)packets, rule, at);
		else
			printf("    %s  (%s)\n", rule, at);
	}
}

static int
policy_check(int argc, char **argv)
{
	static uint8_t text[VMN_POLICY_CHECK_MAX + 1];
	static uint8_t buf[VMN_POLICY_CHECK_MAX + 2048];
	char summary[VMN_MAX_STRING + 1];
	const char *file;
	struct vmn_buf b;
	struct vmn_msg m;
	size_t len;

	cmd_operands(argc, argv, 1, 1, "FILE (or - for standard input)");
	file = argv[0];
	len = read_operand(file, text, sizeof(text));
	if (len > VMN_POLICY_CHECK_MAX)
		fail(EXIT_FAILED, EFBIG, "%s: more than %d bytes", file,
		    VMN_POLICY_CHECK_MAX);
	ctl_begin(&b, buf, sizeof(buf), VMN_MSG_CTL_POLICY_CHECK);
	vmn_put(&b, VMN_A_PAYLOAD, text, len);
	vmn_put_str(&b, VMN_A_NAME, strcmp(file, "-") == 0 ? "<stdin>" : file);
	ctl_send(&b);
	ctl_reply(&m);	/* errors: printed there, file:line each */
	str_attr(&m, VMN_A_VALUE, summary, sizeof(summary));
	switch (output) {
	case OUT_JSON:
		json_begin();
		json_str("file", file);
		json_bool("ok", true);
		json_str("summary", summary);
		json_end();
		break;
	default:
		printf("%s: OK: %s\n", file, summary);
	}
	return 0;
}

int
cmd_policy(int argc, char **argv)
{
	char vm[80], kind[40];
	uint8_t buf[256];
	struct vmn_buf b;
	struct vmn_msg m;
	int last = 0;

	cmd_getopt(argc, argv, NULL);
	argc -= optind;
	argv += optind;
	if (argc > 0 && strcmp(argv[0], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	cmd_operands(argc, argv, 0, 1, "VM name, or check FILE");
	ctl_begin(&b, buf, sizeof(buf), VMN_MSG_CTL_POLICY);
	if (argc == 1)
		vmn_put_str(&b, VMN_A_VM_ID, argv[0]);
	ctl_send(&b);
	if (output == OUT_JSON) {
		json_begin();
		json_array("vms");
	} else if (output == OUT_DUMP)
		printf("vm\tkind\tat\tvalue\tcount\n");
	for (;;) {
		ctl_reply(&m);
		if (m.hdr.flags & VMN_F_END)
			break;
		str_attr(&m, VMN_A_VM_ID, vm, sizeof(vm));
		str_attr(&m, VMN_A_KIND, kind, sizeof(kind));
		if (strcmp(kind, "vm") == 0) {
			if (output == OUT_PRETTY && last)
				printf("\n");
			show_vm(&m, vm);
			last = 3;
		} else
			show_rule(&m, vm, kind, &last);
	}
	if (output == OUT_JSON) {
		json_close_vm();
		json_array_end();
		json_end();
	}
	return 0;
}
