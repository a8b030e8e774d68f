/*
 * holder.c - who on the host holds a port: "sshd (pid 812)"
 *
 * The sockets bound to the port come from NETLINK_SOCK_DIAG (TCP in any
 * state but TIME_WAIT, bound UDP), each with its inode; the process is the
 * one with a descriptor on "socket:[inode]" in /proc. Only for messages.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

#include "holder.h"
#include "nl.h"

#define TCP_TIME_WAIT	6

struct find {
	uint16_t	port;
	uint32_t	inode;
	uint32_t	uid;
};

static int
diag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct find *f = data;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*m)) || f->inode)
		return MNL_CB_OK;
	if (ntohs(m->id.idiag_sport) == f->port && m->idiag_inode &&
	    m->idiag_state != TCP_TIME_WAIT) {
		f->inode = m->idiag_inode;
		f->uid = m->idiag_uid;
	}
	return MNL_CB_OK;
}

static uint32_t
socket_inode(uint8_t proto, uint16_t port, uint32_t *uid)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct find f = { .port = port };
	struct vmn_nl nl;
	unsigned i;

	if (vmn_nl_open(&nl, NETLINK_SOCK_DIAG, 0) < 0)
		return 0;
	for (i = 0; i < 2 && !f.inode; i++) {
		struct inet_diag_req_v2 req = {
			.sdiag_family = families[i],
			.sdiag_protocol = proto,
			.idiag_states = ~0u,
		};

		vmn_nl_dump(&nl, vmn_nl_new(&nl, SOCK_DIAG_BY_FAMILY, 0, &req,
		    sizeof(req)), diag_cb, &f);
	}
	vmn_nl_close(&nl);
	*uid = f.uid;
	return f.inode;
}

/* The process with a descriptor on socket:[inode], or 0. */
static pid_t
socket_owner(uint32_t inode)
{
	char want[32], path[300], link[64];
	struct dirent *p, *fd;
	DIR *proc, *fds;
	pid_t pid = 0;
	ssize_t n;

	snprintf(want, sizeof(want), "socket:[%u]", inode);
	if (!(proc = opendir("/proc")))
		return 0;
	while (!pid && (p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;
		while ((fd = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
			    p->d_name, fd->d_name);
			if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				pid = (pid_t)atoi(p->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return pid;
}

/*
 * Who holds proto/port, in words. Without the right to read other
 * processes' descriptors (host-netd keeps few capabilities), the owner's
 * uid is all the kernel says.
 */
const char *
port_holder(uint8_t proto, uint16_t port, char *buf, size_t len)
{
	char path[64], comm[64] = "";
	uint32_t inode, uid = 0;
	pid_t pid = 0;
	FILE *f;

	if ((inode = socket_inode(proto, port, &uid)))
		pid = socket_owner(inode);
	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if ((f = fopen(path, "re"))) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(buf, len, "%s (pid %d)", comm[0] ? comm : "?",
		    (int)pid);
	} else if (inode) {
		snprintf(buf, len, "a program of uid %u (socket %u)", uid,
		    inode);
	} else {
		snprintf(buf, len, "another program");
	}
	return buf;
}
