/*
 * vmnet-kvm-ok.c - whether KVM really runs guests here
 *
 * /dev/kvm can exist and open fine on hosts where a guest never gets to
 * run (nested setups that hang in KVM_RUN, or offer a CPU without the
 * basics a distribution kernel assumes). So instead of trusting the
 * device node, this checks the CPU KVM can give a guest (SSE2 and SSE3,
 * which QEMU's default model asks for) and runs a guest: a vCPU in real
 * mode whose first instruction is HLT. KVM is fine if KVM_RUN comes back
 * with KVM_EXIT_HLT within a second. Exit status 0: use KVM; 1: use TCG
 * (the reason on stderr). vmnet-run still watches the first KVM boot and
 * falls back to TCG should it stall.
 *
 * With --tsc-khz it prints the host's TSC rate instead, measured: a TCG
 * guest's TSC is the host's, and a guest with no other clock to calibrate
 * it against (microvm) is told the rate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "cli.h"

#define GUEST_MEM	0x1000
#define MAX_CPUID	256

static void
on_alarm(int sig)
{
	(void)sig;	/* interrupts KVM_RUN with EINTR */
}

/* Leaf 1 of the CPUID KVM supports: SSE2 (EDX 26) and SSE3 (ECX 0). */
static int
cpu_ok(int kvm)
{
	struct {
		struct kvm_cpuid2		hdr;
		struct kvm_cpuid_entry2		e[MAX_CPUID];
	} c;
	unsigned i;

	memset(&c, 0, sizeof(c));
	c.hdr.nent = MAX_CPUID;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &c) < 0)
		return -1;
	for (i = 0; i < c.hdr.nent; i++)
		if (c.e[i].function == 1)
			return (c.e[i].edx & (1u << 26)) && (c.e[i].ecx & 1u);
	return 0;
}

static int
no(const char *what)
{
	fprintf(stderr, "vmnet-kvm-ok: %s: %s\n", what, strerror(errno));
	return 1;
}

/* TSC ticks over 50 ms of CLOCK_MONOTONIC_RAW, the median of three. */
static int
print_tsc_khz(void)
{
#if defined(__x86_64__)
	const struct timespec nap = { 0, 50 * 1000 * 1000 };
	uint64_t khz[3], t0, ns, tmp;
	struct timespec a, b;
	int i, j;

	for (i = 0; i < 3; i++) {
		clock_gettime(CLOCK_MONOTONIC_RAW, &a);
		t0 = __rdtsc();
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC_RAW, &b);
		khz[i] = __rdtsc() - t0;
		ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u +
		    (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
		khz[i] = ns ? khz[i] * 1000000u / ns : 0;
		for (j = i; j > 0 && khz[j] < khz[j - 1]; j--) {
			tmp = khz[j];
			khz[j] = khz[j - 1];
			khz[j - 1] = tmp;
		}
	}
	if (!khz[1]) {
		fprintf(stderr, "vmnet-kvm-ok: the TSC does not advance\n");
		return 1;
	}
	printf("%llu\n", (unsigned long long)khz[1]);
	return 0;
#else
	fprintf(stderr, "vmnet-kvm-ok: --tsc-khz: x86-64 only\n");
	return 1;
#endif
}

static const char usage_text[] =
    "usage: vmnet-kvm-ok [--tsc-khz]\n"
    "  exit status 0: KVM runs guests here; 1: use TCG (why on stderr)\n"
    "      --tsc-khz    print the host's TSC rate in kHz, measured\n"
    "  -h, --help       this text\n"
    "      --version    vmnet-kvm-ok's version\n";

int
main(int argc, char *argv[])
{
	struct kvm_userspace_memory_region region = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, mmap_size;
	uint8_t *mem;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0))
		vmn_cli_help(usage_text);
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
		vmn_cli_version("vmnet-kvm-ok");
	if (argc == 2 && strcmp(argv[1], "--tsc-khz") == 0)
		return print_tsc_khz();
	if (argc > 1)
		vmn_cli_usage_error("vmnet-kvm-ok", usage_text, "%s \"%s\"",
		    argv[1][0] == '-' ? "unknown option" : "unexpected argument",
		    argv[1]);
	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		return no("/dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return no("KVM API version");
	switch (cpu_ok(kvm)) {
	case -1:
		return no("KVM_GET_SUPPORTED_CPUID");
	case 0:
		fprintf(stderr, "vmnet-kvm-ok: KVM offers guests no SSE2/SSE3 "
		    "(a limited nested setup)\n");
		return 1;
	}
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return no("KVM_CREATE_VM");
	mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return no("mmap");
	mem[0] = 0xf4;		/* hlt */
	region.memory_size = GUEST_MEM;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return no("KVM_SET_USER_MEMORY_REGION");
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		return no("KVM_CREATE_VCPU");
	if ((mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		return no("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vcpu, 0);
	if (run == MAP_FAILED)
		return no("mmap vcpu");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return no("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return no("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return no("KVM_SET_REGS");
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	if (ioctl(vcpu, KVM_RUN, 0) < 0) {
		if (errno == EINTR) {
			fprintf(stderr, "vmnet-kvm-ok: a guest did not get to "
			    "run within 1 s\n");
			return 1;
		}
		return no("KVM_RUN");
	}
	alarm(0);
	if (run->exit_reason != KVM_EXIT_HLT) {
		fprintf(stderr, "vmnet-kvm-ok: guest exit %u, not HLT\n",
		    run->exit_reason);
		return 1;
	}
	return 0;
}
