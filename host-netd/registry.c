/*
 * registry.c - host-netd: VMs registered at run time
 *
 * A launcher (vmnet-run) registers its VM with `netctl register`: a vm
 * block in the configuration's own syntax, checked like one from the file
 * and against it. Each registration is kept beside the control socket, in
 * vms/NAME.conf (the block as sent) and vms/NAME.owner (the owner process
 * and its start time, and the registering uid), so that a restarted
 * host-netd takes its
 * registered VMs back; and it lasts as long as its owner process, watched
 * with a pidfd: when the launcher exits, however it exits, its VM goes.
 * The start time tells a live owner from a recycled pid after a restart.
 * `netctl unregister --force` on such a VM sends its owner SIGTERM through
 * that pidfd: a launcher told that way stops its hypervisor, which would
 * otherwise run on with its tap gone.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host-netd.h"
#include "log.h"

#define REGISTRY_MAX_TEXT	(64 * 1024)

/* sub in host-netd's runtime directory, the control socket's. */
int
rundir_path(const char *control_socket, const char *sub, char *buf,
    size_t len)
{
	char sock[PATH_MAX];

	snprintf(sock, sizeof(sock), "%s", control_socket);
	if ((size_t)snprintf(buf, len, "%s/%s", dirname(sock), sub) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int
registry_dir(const char *control_socket, char *buf, size_t len)
{
	return rundir_path(control_socket, "vms", buf, len);
}

static int
registry_path(const char *name, const char *ext, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int rc;

	if ((rc = registry_dir(hostd->conf->control_socket, dir,
	    sizeof(dir))) < 0)
		return rc;
	if ((size_t)snprintf(buf, len, "%s/%s.%s", dir, name, ext) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Field n (3 or more) of /proc/PID/stat; 0 when there is no such process. */
static unsigned long long
stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t len;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	/* The name (field 2) may hold spaces and ')': skip past the last. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	for (i = 2; i < n && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &v);
	return v;
}

/* Field 22 of /proc/PID/stat: when it started, in ticks after boot. */
uint64_t
process_start(pid_t pid)
{
	return stat_field(pid, 22);
}

/*
 * Whether pid is ancestor or was started by it (its child, grandchild...):
 * a launcher's own netctl, run from the launcher or from a subshell of it.
 */
bool
process_descends(pid_t pid, pid_t ancestor)
{
	int depth;

	for (depth = 0; depth < 32 && pid > 1; depth++) {
		if (pid == ancestor)
			return true;
		pid = (pid_t)stat_field(pid, 4);
	}
	return false;
}

/* Its real user ID; (uid_t)-1 if unknown. */
uid_t
process_uid(pid_t pid)
{
	char path[64], line[256];
	unsigned long uid;
	uid_t found = (uid_t)-1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return found;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu", &uid) == 1) {
			found = (uid_t)uid;
			break;
		}
	fclose(f);
	return found;
}

/* Its command name, for messages; "" if unknown. */
void
process_name(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	vmn_str_printable(buf);
}

static int
write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX + 8];
	ssize_t n;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	while (len && (n = write(fd, data, len)) > 0) {
		data += n;
		len -= (size_t)n;
	}
	if (len)
		rc = -EIO;
	else if (fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int
registry_save(const struct vm_conf *vc, const char *text, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX], owner[96];
	int rc;

	if ((rc = registry_dir(hostd->conf->control_socket, dir,
	    sizeof(dir))) < 0 || (rc = mkdir_p(dir, 0700)) < 0)
		return rc;
	if ((rc = registry_path(vc->name, "conf", path, sizeof(path))) < 0 ||
	    (rc = write_atomic(path, text, len)) < 0)
		return rc;
	snprintf(owner, sizeof(owner), "%d %" PRIu64 " %u\n", (int)vc->owner,
	    vc->owner_start, (unsigned)vc->reg_uid);
	if ((rc = registry_path(vc->name, "owner", path, sizeof(path))) < 0 ||
	    (rc = write_atomic(path, owner, strlen(owner))) < 0)
		return rc;
	return 0;
}

void
registry_remove(const char *name)
{
	char path[PATH_MAX];

	if (registry_path(name, "conf", path, sizeof(path)) == 0)
		unlink(path);
	if (registry_path(name, "owner", path, sizeof(path)) == 0)
		unlink(path);
}

static char *
slurp(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > REGISTRY_MAX_TEXT || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

/* One registration from the directory, if it still holds. */
static void
load_one(struct hostd_conf *c, const char *name)
{
	char path[PATH_MAX], err[1024];
	unsigned long long start = 0;
	unsigned uid = 0;
	struct vm_conf *vc;
	size_t len;
	char *text;
	int pid = 0;

	if (registry_path(name, "owner", path, sizeof(path)) < 0)
		return;
	if ((text = slurp(path, &len))) {
		sscanf(text, "%d %llu %u", &pid, &start, &uid);
		free(text);
	}
	if (pid > 0 && (start == 0 || process_start(pid) != start)) {
		log_info("registered vm %s: its owner (pid %d) is gone; "
		    "dropped", name, pid);
		registry_remove(name);
		return;
	}
	if (registry_path(name, "conf", path, sizeof(path)) < 0 ||
	    !(text = slurp(path, &len)))
		return;
	vc = parse_vm_text(path, text, len, err, sizeof(err));
	free(text);
	if (!vc || strcmp(vc->name, name) != 0) {
		log_warnx("registered vm %s: %s; dropped", name,
		    vc ? "its file names another VM" : "no longer valid");
		free(vc);
		registry_remove(name);
		return;
	}
	vc->owner = pid;
	vc->owner_start = start;
	vc->reg_uid = (uid_t)uid;
	/* As when it was registered: a user's VM gets what they may ask. */
	if (confine_registration(vc, c, vc->reg_uid, err, sizeof(err)) < 0) {
		log_warnx("registered vm %s: %s; dropped", name, err);
		free(vc);
		registry_remove(name);
		return;
	}
	TAILQ_INSERT_TAIL(&c->vms, vc, entry);
	c->nvms++;
	if (conf_check(c, err, sizeof(err)) < 0) {
		log_warnx("registered vm %s clashes with the configuration; "
		    "dropped", name);
		TAILQ_REMOVE(&c->vms, vc, entry);
		c->nvms--;
		free(vc);
		registry_remove(name);
		return;
	}
	log_info("registered vm %s taken back (owner pid %d)", name, pid);
}

/* At start: the VMs registered before, whose owners still run. */
void
registry_load(struct hostd_conf *c)
{
	char dir[PATH_MAX], name[VM_NAME_MAX + 1];
	struct dirent *de;
	size_t n;
	DIR *d;

	if (registry_dir(c->control_socket, dir, sizeof(dir)) < 0 ||
	    !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		n = strlen(de->d_name);
		if (n <= 5 || n - 5 > VM_NAME_MAX ||
		    strcmp(de->d_name + n - 5, ".conf") != 0)
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		load_one(c, name);
	}
	closedir(d);
}

/* The owner's pidfd: readable once it has exited. -errno on failure. */
int
owner_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

/*
 * Sends sig to a registered VM's owner (0: only whether it runs) through
 * its pidfd, so never to a process that took the pid over; without one,
 * only while the pid's start time is the owner's. -ESRCH: it is gone.
 */
int
owner_signal(const struct vm_conf *vc, int pidfd, int sig)
{
	if (vc->owner <= 0)
		return -ESRCH;
#ifdef SYS_pidfd_send_signal
	if (pidfd >= 0)
		return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ?
		    -errno : 0;
#endif
	if (process_start(vc->owner) != vc->owner_start)
		return -ESRCH;
	return kill(vc->owner, sig) < 0 ? -errno : 0;
}
