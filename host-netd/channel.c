/*
 * channel.c - host-netd: the listeners guests connect to
 *
 * The parent makes them (a channel's socket goes where the configuration
 * says, with root's umask and ownership) and hands each to the engine,
 * which accepts on it and reads what guests send (session.c). Unix and
 * hvsock channels have a listener per VM; vsock has one for all VMs, the
 * engine telling them apart by the peer's CID.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "host-netd.h"

int
channel_listen(struct vm *vm)
{
	int fd;

	if ((fd = vmn_listen(&vm->conf.channel, hostd->conf->host_port, 16)) < 0)
		return fd;
	vm->listen_fd = fd;
	engine_vm_listen(vm, fd);
	return 0;
}

void
channel_unlisten(struct vm *vm)
{
	if (vm->listen_fd < 0)
		return;
	close(vm->listen_fd);
	vm->listen_fd = -1;
	vmn_unlisten(&vm->conf.channel, hostd->conf->host_port);
}

int
channel_vsock_listen(void)
{
	struct vmn_endpoint any = { .kind = VMN_TR_VSOCK };
	struct vm *vm;
	bool needed = false;
	int fd;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm->conf.channel.kind == VMN_TR_VSOCK)
			needed = true;
	if (!needed) {
		channel_vsock_unlisten();
		return 0;
	}
	if (hostd->vsock_fd >= 0)
		return 0;
	if ((fd = vmn_listen(&any, hostd->conf->host_port, 64)) < 0)
		return fd;
	hostd->vsock_fd = fd;
	engine_vsock_listen(fd);
	return 0;
}

void
channel_vsock_unlisten(void)
{
	if (hostd->vsock_fd < 0)
		return;
	engine_vsock_listen(-1);
	close(hostd->vsock_fd);
	hostd->vsock_fd = -1;
}
