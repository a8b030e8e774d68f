/*
 * fwdctl.c - host-netd: static forwards added at run time (netctl forward)
 *
 * `netctl forward add VM ...` gives a VM a forward with the meaning of a
 * forward line of its block. It is kept in vm->rtforwards and applied
 * with the block's own (vm_configure_forwards), after checks that change
 * nothing when one fails: the VM exists, no forward of any VM (of the
 * file, registered, or added so) wants the same host socket, the socket
 * can be bound now, and there is room.
 *
 * Nothing is persisted. A reload keeps a VM's run-time forwards while its
 * block stays as it was; one that changes the block (applied in place or
 * by restarting the VM) or removes it drops them, and a restart of
 * host-netd forgets them. The configuration wins: a run-time forward that
 * a reloaded file or a registration now forwards too is dropped first.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "host-netd.h"
#include "log.h"
#include "privsep.h"

/* What the engine said of the port a reply names: its strings live here. */
static struct ps_port port;

/* The same host socket: a wildcard meets every address of its family. */
static bool
same_socket(const struct hostfwd_static *a, const struct hostfwd_static *b)
{
	if (a->proto != b->proto || a->host_port != b->host_port ||
	    a->addr.family != b->addr.family)
		return false;
	return vmn_ip_is_unspecified(&a->addr) ||
	    vmn_ip_is_unspecified(&b->addr) || vmn_ip_equal(&a->addr, &b->addr);
}

static const char *
describe(const struct hostfwd_static *st, char *buf, size_t len)
{
	char ip[VMN_IP_STRLEN];

	snprintf(buf, len, "%s port %u on %s",
	    st->proto == IPPROTO_UDP ? "udp" : "tcp", st->host_port,
	    vmn_ip_ntop(&st->addr, ip, sizeof(ip)));
	return buf;
}

/* Whether a forward of any VM wants st's socket; err says whose. */
static bool
taken(const struct hostfwd_static *st, char *err, size_t errlen)
{
	const struct vm *vm;
	char what[80];
	unsigned i;

	describe(st, what, sizeof(what));
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		for (i = 0; i < vm->conf.nforwards; i++)
			if (same_socket(st, &vm->conf.forwards[i])) {
				snprintf(err, errlen, "%s is forwarded "
				    "already, by vm \"%s\" (%s:%d)", what,
				    vm->conf.name, vm->conf.file,
				    vm->conf.lines.forwards[i]);
				return true;
			}
		for (i = 0; i < vm->nrtforwards; i++)
			if (same_socket(st, &vm->rtforwards[i])) {
				snprintf(err, errlen, "%s is forwarded "
				    "already, by vm \"%s\" (netctl forward "
				    "add)", what, vm->conf.name);
				return true;
			}
	}
	return false;
}

struct holder {
	const struct hostfwd_static	*st;
	bool				 found;
};

static void
find_auto(void *arg, const struct hostfwd_port_info *pi)
{
	struct holder *h = arg;

	if (strcmp(pi->kind, "auto") == 0 && pi->proto == h->st->proto &&
	    pi->host_port == h->st->host_port)
		h->found = true;
}

/* After "in use on the host": whether another VM's guest has the port. */
static void
name_holder(const struct vm *self, const struct hostfwd_static *st,
    char *err, size_t errlen)
{
	struct holder h = { .st = st };
	const struct vm *vm;
	size_t n = strlen(err);

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (vm == self)
			continue;
		engine_foreach_port(vm, find_auto, &h);
		if (h.found) {
			snprintf(err + n, errlen - n, " (vm \"%s\" forwards "
			    "its guest's own port there)", vm->conf.name);
			return;
		}
	}
}

int
fwdctl_add(const char *name, const struct hostfwd_static *req, uid_t uid,
    struct hostfwd_port_info *pi, char *err, size_t errlen)
{
	struct hostfwd_static st = *req;
	struct vm *vm = vm_find(name);
	char what[80];
	int rc;

	if (!vm) {
		snprintf(err, errlen, "no vm \"%s\"", name);
		return -ENOENT;
	}
	if ((rc = confine_vm_access(vm, uid, err, errlen)) < 0 ||
	    (rc = confine_forward(&st, uid, err, errlen)) < 0)
		return rc;
	st.runtime = true;
	describe(&st, what, sizeof(what));
	if (taken(&st, err, errlen))
		return -EADDRINUSE;
	if (vm->nrtforwards >= MAX_FORWARDS) {
		snprintf(err, errlen, "vm \"%s\" has %d run-time forwards "
		    "already, the most it may", name, MAX_FORWARDS);
		return -ENOSPC;
	}
	if ((rc = engine_probe(vm, &st, err, errlen)) < 0) {
		if (rc == -EADDRINUSE)
			name_holder(vm, &st, err, errlen);
		return rc;
	}
	vm->rtforwards[vm->nrtforwards++] = st;
	vm_configure_forwards(vm);
	if (!engine_port_info(vm, &st, &port, pi)) {
		snprintf(err, errlen, "%s: too many forwarded ports", what);
	} else if (strcmp(pi->state, "active") != 0) {
		snprintf(err, errlen, "%s", pi->state);
	} else {
		log_info("vm %s: %s forwarded to guest port %u until a reload "
		    "changes its block (netctl, uid %u)", name, what,
		    st.guest_port, (unsigned)uid);
		return 0;
	}
	/* No room, or taken between the probe and now: undone. */
	vm->nrtforwards--;
	vm_configure_forwards(vm);
	return -EADDRINUSE;
}

/* req->addr.family 0: on whichever address, if only one. */
int
fwdctl_remove(const char *name, const struct hostfwd_static *req, uid_t uid,
    struct hostfwd_port_info *pi, char *err, size_t errlen)
{
	struct vm *vm = vm_find(name);
	struct hostfwd_static st;
	unsigned i, n = 0, at = 0;
	char what[80];
	int rc;

	if (!vm) {
		snprintf(err, errlen, "no vm \"%s\"", name);
		return -ENOENT;
	}
	if ((rc = confine_vm_access(vm, uid, err, errlen)) < 0)
		return rc;
	for (i = 0; i < vm->nrtforwards; i++) {
		st = vm->rtforwards[i];
		if (st.proto == req->proto && st.host_port == req->host_port &&
		    (!req->addr.family || vmn_ip_equal(&st.addr, &req->addr))) {
			n++;
			at = i;
		}
	}
	if (n > 1) {
		snprintf(err, errlen, "vm \"%s\" forwards %s port %u on more "
		    "than one address: say which", name,
		    req->proto == IPPROTO_UDP ? "udp" : "tcp", req->host_port);
		return -EINVAL;
	}
	if (n == 0) {
		for (i = 0; i < vm->conf.nforwards; i++) {
			st = vm->conf.forwards[i];
			if (st.proto == req->proto &&
			    st.host_port == req->host_port &&
			    (!req->addr.family ||
			    vmn_ip_equal(&st.addr, &req->addr))) {
				snprintf(err, errlen, "%s is a forward of "
				    "its block (%s:%d), not a run-time one",
				    describe(&st, what, sizeof(what)),
				    vm->conf.file, vm->conf.lines.forwards[i]);
				return -EPERM;
			}
		}
		snprintf(err, errlen, "vm \"%s\" has no run-time forward of "
		    "%s port %u", name, req->proto == IPPROTO_UDP ? "udp" :
		    "tcp", req->host_port);
		return -ENOENT;
	}
	st = vm->rtforwards[at];
	if (!engine_port_info(vm, &st, &port, pi)) {
		memset(pi, 0, sizeof(*pi));
		pi->proto = st.proto;
		pi->addr = st.addr;
		pi->host_port = st.host_port;
		pi->guest_port = st.guest_port;
		pi->kind = "runtime";
	}
	pi->state = NULL;	/* the port's, freed below */
	memmove(&vm->rtforwards[at], &vm->rtforwards[at + 1],
	    (vm->nrtforwards - at - 1) * sizeof(vm->rtforwards[0]));
	vm->nrtforwards--;
	vm_configure_forwards(vm);
	log_info("vm %s: %s no longer forwarded (netctl, uid %u)", name,
	    describe(&st, what, sizeof(what)), (unsigned)uid);
	return 0;
}

/* A reload changed the VM's block: its run-time forwards go (applied by
 * the caller). */
void
fwdctl_forget(struct vm *vm, const char *why)
{
	if (!vm->nrtforwards)
		return;
	log_info("vm %s: %s: its %u run-time forward%s go", vm->conf.name,
	    why, vm->nrtforwards, vm->nrtforwards == 1 ? "" : "s");
	vm->nrtforwards = 0;
}

/* Configuration c is about to be applied: its forwards win their sockets. */
void
fwdctl_yield(const struct hostd_conf *c)
{
	const struct vm_conf *vc;
	struct vm *vm;
	char what[80];
	unsigned i, j, kept;

	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		kept = 0;
		for (i = 0; i < vm->nrtforwards; i++) {
			const struct hostfwd_static *st = &vm->rtforwards[i];
			const struct vm_conf *by = NULL;

			TAILQ_FOREACH(vc, &c->vms, entry)
				for (j = 0; j < vc->nforwards && !by; j++)
					if (same_socket(st, &vc->forwards[j]))
						by = vc;
			if (by)
				log_info("vm %s: run-time forward of %s goes: "
				    "vm \"%s\"'s block forwards it now",
				    vm->conf.name, describe(st, what,
				    sizeof(what)), by->name);
			else
				vm->rtforwards[kept++] = *st;
		}
		if (kept == vm->nrtforwards)
			continue;
		vm->nrtforwards = kept;
		vm_configure_forwards(vm);
	}
}
