/*
 * state.c - what host-netd remembers across restarts
 *
 * STATE_DIR/ula-prefix holds the host's ULA /48; STATE_DIR/vm/NAME holds a
 * VM's identity (subnets and MACs) so that it keeps its address, exactly as
 * users expect of a development VM. Files are "key value" lines, written
 * to a temporary file and renamed into place.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-netd.h"
#include "log.h"

int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
write_atomic(const char *path, const char *content)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(content);
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (write(fd, content, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -(errno ? errno : EIO);
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int
vm_state_path(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vm/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Loads what is there; missing keys stay zero. -ENOENT if no file. */
int
state_load_vm(const char *dir, struct vm *vm)
{
	char path[PATH_MAX], line[256], key[32], val[128];
	FILE *f;
	int rc;

	if ((rc = vm_state_path(dir, vm->conf.name, path, sizeof(path))) < 0)
		return rc;
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%31s %127s", key, val) != 2)
			continue;
		if (strcmp(key, "subnet4") == 0) {
			if (vmn_prefix_parse(val, &vm->subnet4) < 0 ||
			    vm->subnet4.ip.family != AF_INET)
				memset(&vm->subnet4, 0, sizeof(vm->subnet4));
		} else if (strcmp(key, "subnet6") == 0) {
			if (vmn_prefix_parse(val, &vm->subnet6) < 0 ||
			    vm->subnet6.ip.family != AF_INET6 ||
			    vm->subnet6.plen != 64)
				memset(&vm->subnet6, 0, sizeof(vm->subnet6));
		} else if (strcmp(key, "guest-mac") == 0) {
			vmn_mac_parse(val, vm->guest_mac);
		} else if (strcmp(key, "host-mac") == 0) {
			vmn_mac_parse(val, vm->host_mac);
		} else if (strcmp(key, "made-mac") == 0) {
			vmn_mac_parse(val, vm->made_mac);
		} else if (strcmp(key, "port-slice") == 0) {
			char *end;
			long v = strtol(val, &end, 10);

			if (*end == '\0' && v >= 0 && v < 64)
				vm->port_slice = (int)v;
		}
	}
	fclose(f);
	return 0;
}

int
state_save_vm(const char *dir, const struct vm *vm)
{
	char path[PATH_MAX], vmdir[PATH_MAX], content[512], slice[32] = "";
	char s4[VMN_PREFIX_STRLEN], s6[VMN_PREFIX_STRLEN];
	char gm[VMN_MAC_STRLEN], hm[VMN_MAC_STRLEN], mm[VMN_MAC_STRLEN];
	int rc;

	snprintf(vmdir, sizeof(vmdir), "%s/vm", dir);
	if ((rc = mkdir_p(vmdir, 0755)) < 0 ||
	    (rc = vm_state_path(dir, vm->conf.name, path, sizeof(path))) < 0)
		return rc;
	if (vm->port_slice >= 0)
		snprintf(slice, sizeof(slice), "port-slice %d\n",
		    vm->port_slice);
	snprintf(content, sizeof(content),
	    "# host-netd: identity of vm \"%s\"; delete to get a new one\n"
	    "subnet4 %s\nsubnet6 %s\nguest-mac %s\nhost-mac %s\n"
	    "made-mac %s\n%s",
	    vm->conf.name, vmn_prefix_ntop(&vm->subnet4, s4, sizeof(s4)),
	    vm->subnet6.ip.family ?
	    vmn_prefix_ntop(&vm->subnet6, s6, sizeof(s6)) : "-",
	    vmn_mac_ntop(vm->guest_mac, gm, sizeof(gm)),
	    vmn_mac_ntop(vm->host_mac, hm, sizeof(hm)),
	    vmn_mac_ntop(vm->made_mac, mm, sizeof(mm)), slice);
	return write_atomic(path, content);
}

/*
 * The ports host-netd put into ip_local_reserved_ports, so that a host-netd
 * started after one that was killed takes out only those.
 */
int
state_load_reserved(const char *dir, struct port_ranges *ours)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	int rc = 0;

	ours->n = 0;
	snprintf(path, sizeof(path), "%s/reserved-ports", dir);
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && (rc = ports_parse(line, ours)) < 0)
			break;
	fclose(f);
	return rc;
}

int
state_save_reserved(const char *dir, const struct port_ranges *ours)
{
	char path[PATH_MAX], content[1100], list[1024];
	int rc;

	if ((rc = ports_format(ours, list, sizeof(list))) < 0 ||
	    (rc = mkdir_p(dir, 0755)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/reserved-ports", dir);
	if (ours->n == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	snprintf(content, sizeof(content), "# host-netd: what it added to "
	    "net.ipv4.ip_local_reserved_ports\n%s\n", list);
	return write_atomic(path, content);
}

int
state_load_ula(const char *dir, struct vmn_prefix *ula)
{
	char path[PATH_MAX], line[128];
	FILE *f;
	int rc = -EINVAL;

	snprintf(path, sizeof(path), "%s/ula-prefix", dir);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (vmn_prefix_parse(line, ula) == 0 &&
		    ula->ip.family == AF_INET6 && ula->plen == 48)
			rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

int
state_save_ula(const char *dir, const struct vmn_prefix *ula)
{
	char path[PATH_MAX], content[128], buf[VMN_PREFIX_STRLEN];
	int rc;

	if ((rc = mkdir_p(dir, 0755)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/ula-prefix", dir);
	snprintf(content, sizeof(content),
	    "# host-netd: this host's IPv6 ULA prefix for its VMs\n%s\n",
	    vmn_prefix_ntop(ula, buf, sizeof(buf)));
	return write_atomic(path, content);
}
