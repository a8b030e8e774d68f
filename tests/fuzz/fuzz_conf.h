/*
 * fuzz_conf.h - host-netd's configuration parser, for fuzz_config.c,
 * fuzz_register.c and fuzz_policy.c
 *
 * The parser reads files by path (parse_config()); the harnesses write the
 * input into a memfd and name it /proc/self/fd/N, so that nothing is
 * written to disk. host-netd.c (main, reload) is not linked: its symbols
 * are stubs (fuzz_hostd.h).
 *
 * conf_roundtrip() is the property tests/config/run.sh checks on its good
 * files: what host-netd -nv prints (print_config()) parses again, to a
 * configuration that prints the same.
 */
#ifndef VMN_FUZZ_CONF_H
#define VMN_FUZZ_CONF_H

#include <sys/mman.h>

#include "fuzz.h"
#include "fuzz_hostd.h"

/* ---- files in memory ---------------------------------------------------------- */

struct memfile {
	int	fd;
	char	path[64];
};

static inline void
memfile_open(struct memfile *m)
{
	if ((m->fd = memfd_create("host-netd.conf", MFD_CLOEXEC)) < 0)
		abort();
	snprintf(m->path, sizeof(m->path), "/proc/self/fd/%d", m->fd);
}

static inline void
memfile_set(struct memfile *m, const void *data, size_t len)
{
	if (ftruncate(m->fd, 0) < 0 ||
	    (len && pwrite(m->fd, data, len, 0) != (ssize_t)len))
		abort();
}

/* What print_config() says of c: in buf (malloc'd), its length in *len. */
static inline char *
conf_print(const struct hostd_conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	print_config(f, c);
	if (fclose(f) != 0)
		abort();
	return buf;
}

/*
 * c as printed parses again, and prints the same; the file it came from
 * is named in error messages only.
 */
static inline void
conf_roundtrip(const struct hostd_conf *c, struct memfile *scratch)
{
	struct hostd_conf *again;
	char *t1, *t2;
	size_t l1, l2;

	t1 = conf_print(c, &l1);
	memfile_set(scratch, t1, l1);
	again = parse_config(scratch->path);
	if (!again) {
		dprintf(2, "printed configuration does not parse:\n%.*s\n",
		    (int)l1, t1);
		abort();
	}
	t2 = conf_print(again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		dprintf(2, "printed configuration prints differently once "
		    "parsed again:\n%.*s\n---\n%.*s\n", (int)l1, t1, (int)l2,
		    t2);
		abort();
	}
	conf_free(again);
	free(t1);
	free(t2);
}

#endif
