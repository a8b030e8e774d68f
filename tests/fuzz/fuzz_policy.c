/*
 * fuzz_policy.c - policy(5) files (host-netd/parse-policy.c), and the
 * firewall they render (policy/policy.c, policy/firewall.c)
 *
 * netctl policy check sends a policy file's text to host-netd, which
 * parses it as root in the place of the policy directory's file of that
 * name; anyone who can connect to the control socket may ask (it changes
 * nothing). Reaches: parse_policy_dir_with() as control.c's
 * do_policy_check() calls it (the directory absent: the text alone),
 * the shared lexer, sets (addresses, ports, ranges), firewall, proxy and
 * forwarding blocks, their rules and the checks across them; then, for a
 * good policy, print_policy() (host-netd -nv) and the nftables text the
 * firewall renders for each VM and direction (fw_render_sets(),
 * fw_render_vm_counters(), fw_render_vm_rules()).
 *
 * Checks: a good policy, printed, parses again to one that prints the
 * same (tests/policy/run.sh's property; "# file:line" comments aside); the
 * rendered text fits in what host-netd gives it or says it does not.
 */
#include "config.h"

#include "firewall.h"
#include "fuzz_conf.h"
#include "wire.h"

static struct hostd_conf *conf;
static char nodir[128];

static const char conf_text[] =
    "vm \"dev\" {\n"
    "\tlink veth netns \"dev\"\n"
    "\tchannel \"unix:/run/vmnetd/dev\"\n"
    "}\n"
    "vm \"ci\" {\n"
    "\tlink veth netns \"ci\"\n"
    "\tchannel \"unix:/run/vmnetd/ci\"\n"
    "}\n"
    "vm \"mir\" {\n"
    "\tmode mirrored\n"
    "\tlink tap\n"
    "\tchannel vsock:9\n"
    "}\n";
static const char *const vms[] = { "dev", "ci", "mir", "other" };

static const char *
vm_link(const void *arg, const char *vm)
{
	return strcmp(vm, "other") == 0 ? NULL : "vmn-x";
}

/* print_policy() of pol, without its "# file:line" comments. */
static char *
policy_print(const struct policy *pol, size_t *len)
{
	char *buf = NULL, *in, *out, *line, *next;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	print_policy(f, pol);
	if (fclose(f) != 0)
		abort();
	for (in = out = buf; *in; in = next) {
		line = in;
		next = strchr(in, '\n');
		next = next ? next + 1 : in + strlen(in);
		if (line[0] == '#' && line[1] == ' ')
			continue;
		memmove(out, line, (size_t)(next - line));
		out += next - line;
	}
	*out = '\0';
	*len = (size_t)(out - buf);
	return buf;
}

static void
render(const struct policy *pol)
{
	static char buf[1 << 20];
	struct vmn_text o;
	struct fw_place at = { .vm_link = vm_link, .allow = "accept",
	    .drops = "d_0000000000000000" };
	unsigned i, dir;

	vmn_text_init(&o, buf, sizeof(buf));
	fw_render_sets(&o, pol);
	for (i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		fw_render_vm_counters(&o, pol, vms[i], NULL);
		for (dir = POLICY_OUT; dir <= POLICY_IN; dir++) {
			at.peer_is_src = dir == POLICY_IN;
			at.host = i == 2;
			at.vms_only = i == 1;
			fw_render_vm_rules(&o, pol, vms[i], dir, &at);
		}
	}
	CHECK(vmn_text_end(&o) >= 0 || vmn_text_end(&o) == -ENOBUFS);
	CHECK(o.off <= sizeof(buf));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct memfile m;

	fuzz_init();
	memfile_open(&m);
	memfile_set(&m, conf_text, sizeof(conf_text) - 1);
	if (!(conf = parse_config(m.path)))
		abort();
	close(m.fd);
	snprintf(nodir, sizeof(nodir), "%s/policy.d", fuzz_dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[16384];
	struct policy *pol, *again;
	char *t1, *t2;
	size_t l1, l2;

	if (size > VMN_POLICY_CHECK_MAX)
		return 0;	/* the frame's policy takes no more */
	pol = parse_policy_dir_with(nodir, conf, "check.conf",
	    size ? (const char *)data : "", size, err, sizeof(err));
	if (!pol) {
		CHECK(err[0] != '\0');
		return 0;
	}
	render(pol);
	t1 = policy_print(pol, &l1);
	again = parse_policy_dir_with(nodir, conf, "again.conf", t1, l1, err,
	    sizeof(err));
	if (!again) {
		dprintf(2, "printed policy does not parse: %s\n%s\n", err, t1);
		abort();
	}
	t2 = policy_print(again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		dprintf(2, "printed policy prints differently once parsed "
		    "again:\n%s\n---\n%s\n", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	policy_free(again);
	policy_free(pol);
	return 0;
}
