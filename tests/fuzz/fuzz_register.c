/*
 * fuzz_register.c - netctl register: a vm block from a client
 * (host-netd/parse.c's parse_vm_text(), and conf_check() against the
 * running configuration, as hostd_register() does)
 *
 * Members of the vmnetd group, not only root, may register a VM: the text
 * of its vm block comes from them (netctl register FILE, vmnet-run) in a
 * CTL_REGISTER frame's PAYLOAD, up to VMN_REGISTER_MAX bytes, and is
 * parsed by host-netd as root. Registrations kept in the state directory
 * are parsed again the same way at start (registry.c).
 *
 * Reaches: parse_vm_text() (one vm block only, no global options, every VM
 * option), then, as hostd_register(): the new VM added to a copy of the
 * running configuration (conf_dup()) and conf_check() on the whole, with
 * three VMs already there (a unix, a vsock and an hvsock channel, static
 * forwards, a fixed subnet) for it to clash with; and print_config() of
 * the result.
 *
 * Checks: a registration parses to exactly one VM, flagged registered;
 * the configuration it joins, printed, parses again and prints the same.
 */
#include "config.h"

#include "fuzz_conf.h"
#include "wire.h"

static struct memfile scratch;
static struct hostd_conf *running;

static const char running_conf[] =
    "subnet-pool 172.16.0.0/12\n"
    "vm \"web\" {\n"
    "\tlink veth netns \"web\"\n"
    "\tchannel \"unix:/run/vmnetd/web\"\n"
    "\tsubnet 172.20.1.0/24\n"
    "\tforward tcp 8080 to 80\n"
    "}\n"
    "vm \"db\" {\n"
    "\tlink tap\n"
    "\tchannel vsock:5\n"
    "\tdns host\n"
    "\tforward udp 5353 to 53 address 127.0.0.1\n"
    "}\n"
    "vm \"fc\" {\n"
    "\tmode none\n"
    "\tlink none\n"
    "\tchannel hvsock:/run/fc/v.sock\n"
    "}\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct memfile m;

	fuzz_init();
	memfile_open(&scratch);
	memfile_open(&m);
	memfile_set(&m, running_conf, sizeof(running_conf) - 1);
	if (!(running = parse_config(m.path)))
		abort();
	close(m.fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostd_conf *trial;
	struct vm_conf *vc;
	char err[1024];

	if (size < 1 || size > VMN_REGISTER_MAX)
		return 0;	/* the frame's policy takes 1 to 16384 bytes */
	if (!(vc = parse_vm_text("registration", (const char *)data, size,
	    err, sizeof(err)))) {
		CHECK(err[0] != '\0');
		return 0;
	}
	CHECK(vc->registered);
	/* As hostd_register(): the running configuration with it. */
	trial = conf_dup(running);
	TAILQ_INSERT_TAIL(&trial->vms, vc, entry);
	trial->nvms++;
	if (conf_check(trial, err, sizeof(err)) == 0)
		conf_roundtrip(trial, &scratch);
	else
		CHECK(err[0] != '\0');
	conf_free(trial);
	return 0;
}
