/*
 * fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share
 *
 * Harnesses run the project's real code on bytes the fuzzer makes, one
 * input at a time, in one long-lived process: each input starts from the
 * same state (every object an input creates is freed before it returns),
 * so that a crash reproduces from its input alone.
 *
 * fuzz_init() silences the project's logging (its stdio stderr goes to
 * /dev/null; libFuzzer's own output and the sanitizers' reports, written
 * to file descriptor 2, are untouched) unless VMN_FUZZ_LOG is set, ignores
 * SIGPIPE as the daemons do, and makes a private directory for sockets
 * (under $TMPDIR).
 * fuzz_fd_mark() and fuzz_fd_check() bracket an input: a descriptor still
 * open after it (a leak a guest could repeat until the daemon has none
 * left), or one closed that the input did not open, aborts, which
 * libFuzzer reports as a crash.
 *
 * struct fz reads structured values off the input; past its end every
 * read gives zeros, so a harness never checks lengths itself.
 */
#ifndef VMN_FUZZ_H
#define VMN_FUZZ_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- reading the input ----------------------------------------------------- */

struct fz {
	const uint8_t	*p;
	size_t		 n;
};

static inline void
fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
}

static inline bool
fz_empty(const struct fz *f)
{
	return f->n == 0;
}

static inline uint8_t
fz_u8(struct fz *f)
{
	uint8_t v = 0;

	if (f->n) {
		v = f->p[0];
		f->p++;
		f->n--;
	}
	return v;
}

/* Little-endian, as the virtio and vhost-user structures are. */
static inline uint16_t
fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);

	return (uint16_t)(lo | fz_u8(f) << 8);
}

static inline uint32_t
fz_u32(struct fz *f)
{
	uint32_t lo = fz_u16(f);

	return lo | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t
fz_u64(struct fz *f)
{
	uint64_t lo = fz_u32(f);

	return lo | (uint64_t)fz_u32(f) << 32;
}

/* Up to len bytes (fewer at the end of the input), in place. */
static inline const uint8_t *
fz_bytes(struct fz *f, size_t len, size_t *got)
{
	const uint8_t *p = f->p;

	if (len > f->n)
		len = f->n;
	f->p += len;
	f->n -= len;
	*got = len;
	return p;
}

/* ---- the process --------------------------------------------------------- */

static char fuzz_dir[96];
static int fuzz_fd_n;

static inline void
fuzz_cleanup(void)
{
	char cmd[160];

	/* Only our own directory, made by mkdtemp below. */
	if (strstr(fuzz_dir, "/vmnetd-fuzz-") && !strchr(fuzz_dir, '\'')) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
		if (system(cmd) != 0)
			return;
	}
}

/*
 * The private directory goes under $TMPDIR (run.sh points it into its own
 * work directory, which it removes: a crash skips our atexit), unless that
 * is too long for the unix socket paths made in it.
 */
static inline void
fuzz_init(void)
{
	const char *tmp = getenv("TMPDIR");
	FILE *devnull;

	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", LOG_PLAIN, getenv("VMN_FUZZ_LOG") ? 1 : 0);
	if (!getenv("VMN_FUZZ_LOG") && (devnull = fopen("/dev/null", "w")))
		stderr = devnull;
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 48)
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/vmnetd-fuzz-XXXXXX", tmp);
	if (!mkdtemp(fuzz_dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_cleanup);
}

/*
 * Descriptors open now. Counted at the start and the end of each input
 * (not once for the run: ASan's symbolizer opens pipes of its own when
 * libFuzzer prints a new function between two inputs).
 */
static inline int
fuzz_fd_count(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!(d = opendir("/proc/self/fd")))
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static inline void
fuzz_fd_mark(void)
{
	fuzz_fd_n = fuzz_fd_count();
}

static inline void
fuzz_fd_check(void)
{
	int now = fuzz_fd_count();

	if (now != fuzz_fd_n) {
		/* fd 2 itself: the stdio stderr is /dev/null by now. */
		dprintf(2, "fuzz: %d descriptors open after the input, %d "
		    "before it: %s\n", now, fuzz_fd_n, now > fuzz_fd_n ?
		    "a leak" : "one closed that was not the input's");
		if (getenv("VMN_FUZZ_LOG") && system("ls -l /proc/$PPID/fd >&2") != 0)
			dprintf(2, "fuzz: cannot list the descriptors\n");
		abort();
	}
}

#endif
