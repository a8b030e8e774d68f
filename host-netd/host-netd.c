/*
 * host-netd.c - the host's network daemon for lightweight VMs
 *
 * One host-netd serves every VM of the host. It reads host-netd.conf(5),
 * gives each VM its link, addresses and NAT (vm.c, hostlink.c, nat.c),
 * listens on the guests' channels (channel.c) for its engine, the
 * unprivileged process that serves them (engine.c, session.c: privsep.h),
 * serves the admin's control socket (control.c), and follows the host's
 * network and DNS (monitor.c).
 * SIGHUP re-reads the configuration: a file with errors is refused and the
 * running configuration stays. SIGTERM removes what it created: the VMs'
 * links and the nftables table.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "relay.h"
#include "host-netd.h"
#include "log.h"

struct hostd *hostd;
static struct hostd the_hostd;

static const char usage_text[] =
    "usage: host-netd [-dnv] [-f file]\n"
    "  -d, --foreground   stay in the foreground, log to stderr\n"
    "  -f, --file FILE    configuration (default " HOSTD_CONF_FILE ")\n"
    "  -n, --check        check the configuration and exit; -nv also prints it\n"
    "  -v, --verbose      more verbose logging\n"
    "  -h, --help         this text\n"
    "      --version      host-netd's version\n";

static void
init_ula(void)
{
	const char *dir = hostd->conf->state_dir;
	char buf[VMN_PREFIX_STRLEN];
	int rc;

	if (hostd->conf->ula.ip.family) {
		hostd->ula48 = hostd->conf->ula;
		return;
	}
	if (state_load_ula(dir, &hostd->ula48) == 0)
		return;
	random_ula48(&hostd->ula48);
	if ((rc = state_save_ula(dir, &hostd->ula48)) < 0)
		log_warnx("cannot save the ULA prefix in %s: %s", dir,
		    strerror(-rc));
	log_info("new IPv6 ULA prefix %s",
	    vmn_prefix_ntop(&hostd->ula48, buf, sizeof(buf)));
}

/* Creates VMs for every block not running yet; returns how many. */
static unsigned
add_new_vms(void)
{
	struct vm *vm, *added[MAX_VMS];
	struct vm_conf *vc;
	unsigned i, n = 0;

	TAILQ_FOREACH(vc, &hostd->conf->vms, entry) {
		if (vm_find(vc->name) || n >= MAX_VMS)
			continue;
		vm = vm_new(vc);
		TAILQ_INSERT_TAIL(&hostd->vms, vm, entry);
		/* Identities first, so no new VM takes one another remembers. */
		state_load_vm(hostd->conf->state_dir, vm);
		added[n++] = vm;
	}
	for (i = 0; i < n; i++)
		vm_start(added[i]);
	return n;
}

/* NAT needs forwarding; turning it on is idempotent. */
static void
forwarding_if_needed(void)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &hostd->vms, entry)
		if (vm->conf.mode == VM_MODE_NAT) {
			forwarding_enable();
			return;
		}
}

/* What policy.d holds, in the log: the policy in force. */
static void
policy_log(const struct policy *pol, const char *dir)
{
	if (pol->nfiles == 0)
		log_info("policy: none (no %s/*.conf)", dir);
	else
		log_info("policy: %u file%s in %s: %u firewall rule%s, %u "
		    "set%s, %u prox%s, %u forwarding rule%s", pol->nfiles,
		    pol->nfiles == 1 ? "" : "s", dir, pol->nrules,
		    pol->nrules == 1 ? "" : "s", pol->nsets,
		    pol->nsets == 1 ? "" : "s", pol->nproxies,
		    pol->nproxies == 1 ? "y" : "ies", pol->nfwds,
		    pol->nfwds == 1 ? "" : "s");
}

/* netctl monitor: the policy now in force, by its files' names. */
static void
policy_event(const struct policy *pol)
{
	char files[1024] = "";
	size_t off = 0;
	const char *base;
	unsigned i;
	int n;

	for (i = 0; i < pol->nfiles && off < sizeof(files); i++) {
		base = strrchr(pol->files[i], '/');
		n = snprintf(files + off, sizeof(files) - off, "%s%s",
		    off ? " " : "", base ? base + 1 : pol->files[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	events_policy_reload(true, files, NULL);
}

/*
 * The configured VMs changed (start, reload, netctl register): start the
 * new ones, with what they need from the host. The caller applies NAT.
 */
static void
vms_changed(void)
{
	int rc;

	add_new_vms();
	forwarding_if_needed();
	if ((rc = channel_vsock_listen()) < 0)
		log_warnx("vsock listener: %s (is vhost_vsock loaded?)",
		    strerror(-rc));
}

static bool
prefix_equal(const struct vmn_prefix *a, const struct vmn_prefix *b)
{
	return a->plen == b->plen && a->ip.family == b->ip.family &&
	    (!a->ip.family || vmn_ip_equal(&a->ip, &b->ip));
}

/*
 * Equal apart from what can change under a running VM: the firewall
 * (allow-vm), its DNS mode, MTU and forwards are updated in place;
 * anything else (link, channel, addressing, registration) means recreating
 * the VM. Field by field: a new field of struct vm_conf belongs in this
 * function or in vm_conf_equal(); where it was defined (file, lines) in
 * neither.
 */
static bool
vm_conf_same_link(const struct vm_conf *a, const struct vm_conf *b)
{
	return a->mode == b->mode && a->link == b->link &&
	    strcmp(a->netns, b->netns) == 0 &&
	    strcmp(a->tap_name, b->tap_name) == 0 &&
	    strcmp(a->host_ifname, b->host_ifname) == 0 &&
	    strcmp(a->guest_ifname, b->guest_ifname) == 0 &&
	    a->tap_owner == b->tap_owner &&
	    a->channel.kind == b->channel.kind &&
	    a->channel.cid == b->channel.cid &&
	    a->channel.port == b->channel.port &&
	    strcmp(a->channel.path, b->channel.path) == 0 &&
	    a->ipv6 == b->ipv6 && prefix_equal(&a->subnet4, &b->subnet4) &&
	    a->registered == b->registered && a->owner == b->owner &&
	    a->owner_start == b->owner_start && a->reg_uid == b->reg_uid;
}

static bool
globals_equal(const struct hostd_conf *a, const struct hostd_conf *b)
{
	return strcmp(a->state_dir, b->state_dir) == 0 &&
	    a->host_port == b->host_port && a->guest_port == b->guest_port &&
	    prefix_equal(&a->pool4, &b->pool4) &&
	    a->subnet_len4 == b->subnet_len4 &&
	    prefix_equal(&a->ula, &b->ula) &&
	    vmn_ip_equal(&a->dns_tunnel_addr, &b->dns_tunnel_addr);
}

static struct vm_conf *
conf_find_vm(struct hostd_conf *c, const char *name)
{
	struct vm_conf *vc;

	TAILQ_FOREACH(vc, &c->vms, entry)
		if (strcmp(vc->name, name) == 0)
			return vc;
	return NULL;
}

static const char *const change_names[] = {
	"added", "removed", "restarted", "updated" };
_Static_assert(sizeof(change_names) / sizeof(*change_names) == VM_CH__MAX,
    "change names");

const char *
vm_change_name(enum vm_change c)
{
	return (unsigned)c < VM_CH__MAX ? change_names[c] : "unknown";
}

static void
report_change(struct reload_report *r, const char *name, enum vm_change what)
{
	if (r->nchanges >= sizeof(r->changes) / sizeof(r->changes[0]))
		return;
	snprintf(r->changes[r->nchanges].name,
	    sizeof(r->changes[r->nchanges].name), "%s", name);
	r->changes[r->nchanges++].what = what;
}

static bool
report_has(const struct reload_report *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->nchanges; i++)
		if (strcmp(r->changes[i].name, name) == 0)
			return true;
	return false;
}

/* Whether a VM's block says the same, wherever in the file it is. */
/* Same link, and the same of what is applied in place. */
static bool
vm_conf_equal(const struct vm_conf *a, const struct vm_conf *b)
{
	unsigned i;

	if (!vm_conf_same_link(a, b) || a->dns != b->dns || a->mtu != b->mtu ||
	    a->auto_forward != b->auto_forward ||
	    a->auto_privileged != b->auto_privileged ||
	    a->forward_direct != b->forward_direct ||
	    a->inbound != b->inbound || a->nallow != b->nallow ||
	    a->nforwards != b->nforwards || a->nrforwards != b->nrforwards)
		return false;
	for (i = 0; i < a->nallow; i++)
		if (strcmp(a->allow[i], b->allow[i]) != 0)
			return false;
	for (i = 0; i < a->nforwards; i++) {
		const struct hostfwd_static *x = &a->forwards[i];
		const struct hostfwd_static *y = &b->forwards[i];

		if (x->proto != y->proto || x->host_port != y->host_port ||
		    x->guest_port != y->guest_port ||
		    !vmn_ip_equal(&x->addr, &y->addr))
			return false;
	}
	for (i = 0; i < a->nrforwards; i++) {
		const struct hostfwd_rfwd *x = &a->rforwards[i];
		const struct hostfwd_rfwd *y = &b->rforwards[i];

		if (x->proto != y->proto || x->port != y->port ||
		    x->guest_port != y->guest_port)
			return false;
	}
	return true;
}

/*
 * Re-reads the configuration file. VMs whose link and addressing are
 * unchanged keep running (allow-vm, dns and mtu apply in place); removed
 * ones are stopped, ones whose link changed are recreated with their
 * remembered identity, new ones are started. r gets what happened: the
 * errors the file was refused with (the parser logs them; they are
 * collected as it does), or what changed for which VM.
 */
int
hostd_reload_report(const char *why, struct reload_report *r)
{
	struct hostd_conf *newc, *old = hostd->conf;
	struct vm *vm, *tmp;
	struct vm_conf *vc, *copy;
	struct policy *newpol;
	char cause[64], first[512];
	bool globals;
	unsigned i;

	r->summary[0] = r->errors[0] = '\0';
	r->nchanges = 0;
	log_info("reloading %s (%s)", old->file, why);
	log_capture(r->errors, sizeof(r->errors));
	newc = parse_config(old->file);
	log_capture(NULL, 0);
	if (!newc) {
		snprintf(r->summary, sizeof(r->summary), "%s has errors; the "
		    "running configuration stays", old->file);
		log_warnx("%s", r->summary);
		events_reload(old->file, why, 0, r->errors);
		return -EINVAL;
	}
	r->errors[0] = '\0';	/* warnings of a file that parsed */
	/* Registered VMs are not in the file; they stay, checked with it. */
	TAILQ_FOREACH(vc, &old->vms, entry) {
		if (!vc->registered)
			continue;
		if (!(copy = malloc(sizeof(*copy))))
			fatal("malloc");
		*copy = *vc;
		TAILQ_INSERT_TAIL(&newc->vms, copy, entry);
		newc->nvms++;
	}
	if (conf_check(newc, r->errors, sizeof(r->errors)) < 0) {
		snprintf(r->summary, sizeof(r->summary), "%s clashes with the "
		    "registered VMs; the running configuration stays",
		    old->file);
		log_warnx("%s", r->summary);
		events_reload(old->file, why, 0, r->errors);
		conf_free(newc);
		return -EINVAL;
	}
	/* The policy goes with it: a policy with errors refuses both. */
	if (!(newpol = parse_policy_dir(newc->policy_dir, newc, r->errors,
	    sizeof(r->errors)))) {
		snprintf(r->summary, sizeof(r->summary), "the policy in %s has "
		    "errors; the running configuration and policy stay",
		    newc->policy_dir);
		log_warnx("%s", r->summary);
		snprintf(first, sizeof(first), "%.*s",
		    (int)strcspn(r->errors, "\n"), r->errors);
		events_policy_reload(false, newc->policy_dir, first);
		events_reload(old->file, why, 0, r->errors);
		conf_free(newc);
		return -EINVAL;
	}
	policy_log(newpol, newc->policy_dir);
	policy_event(newpol);
	policy_free(hostd->policy);
	hostd->policy = newpol;
	proxy_watch_reset();
	globals = globals_equal(old, newc);
	fwdctl_yield(newc);
	for (vm = TAILQ_FIRST(&hostd->vms); vm; vm = tmp) {
		tmp = TAILQ_NEXT(vm, entry);
		vc = conf_find_vm(newc, vm->conf.name);
		if (vc && globals && vm_conf_same_link(&vm->conf, vc)) {
			if (!vm_conf_equal(&vm->conf, vc)) {
				log_info("vm %s: configuration changed, "
				    "applied in place", vm->conf.name);
				report_change(r, vm->conf.name, VM_CH_UPDATED);
				fwdctl_forget(vm, "its block changed");
			}
			/* Pushed below, with the MTU recomputed. */
			vm->conf = *vc;
			engine_vm_dns(vm);	/* its dns channels may end */
			vm_configure_forwards(vm);
			continue;
		}
		log_info("vm %s: %s", vm->conf.name, vc ? "configuration "
		    "changed, restarting" : "removed");
		report_change(r, vm->conf.name, vc ? VM_CH_RESTARTED :
		    VM_CH_REMOVED);
		/* Restarted: a QEMU on its tap keeps it (taken over below). */
		vm->keep_tap = vc != NULL;
		TAILQ_REMOVE(&hostd->vms, vm, entry);
		vm_free(vm);
	}
	/* Those not running now, and not just stopped to restart, are new. */
	TAILQ_FOREACH(vc, &newc->vms, entry)
		if (!vm_find(vc->name) && !report_has(r, vc->name))
			report_change(r, vc->name, VM_CH_ADDED);
	if (strcmp(old->control_socket, newc->control_socket) != 0) {
		/* Its group ownership needs a privilege dropped at start. */
		log_warnx("control-socket changes take effect at restart; "
		    "still serving %s", old->control_socket);
		strcpy(newc->control_socket, old->control_socket);
	}
	if (old->host_port != newc->host_port)
		channel_vsock_unlisten();	/* re-bound below */
	hostd->conf = newc;
	conf_free(old);
	if (!globals) {
		mkdir_p(hostd->conf->state_dir, 0755);
		init_ula();
	}
	hostdns_load(&hostd->dns);
	hostlink_uplinks(&hostd->nl, hostd->conf, &hostd->uplinks);
	vms_changed();
	vms_update_mtu();
	if (vms_apply_tables() < 0)
		log_warnx("nftables table not updated");
	vms_push_all();
	snprintf(cause, sizeof(cause), "reload, %s", why);
	for (i = 0; i < r->nchanges; i++)
		events_vm_change(r->changes[i].name, r->changes[i].what, cause);
	events_reload(hostd->conf->file, why, r->nchanges, NULL);
	return 0;
}

/* SIGHUP: the same, with only the log to tell. */
int
hostd_reload(const char *why, char *err, size_t errlen)
{
	static struct reload_report r;
	int rc;

	if ((rc = hostd_reload_report(why, &r)) < 0)
		snprintf(err, errlen, "%s", r.summary);
	return rc;
}

/*
 * netctl register: one vm block (text, named src in messages) for as long
 * as process owner runs (0: until unregistered), from a client with uid.
 * The VM starts at once; on error nothing changes and err says why.
 */
int
hostd_register(const char *src, const char *text, size_t len, pid_t owner,
    uid_t uid, char *err, size_t errlen, struct vm **out)
{
	struct hostd_conf *trial;
	struct vm_conf *vc;
	struct vm *vm;
	int rc;

	if (!(vc = parse_vm_text(src, text, len, err, errlen)))
		return -EINVAL;
	if ((vm = vm_find(vc->name))) {
		snprintf(err, errlen, "vm \"%s\" exists (%s:%d)", vc->name,
		    vm->conf.file, vm->conf.line);
		free(vc);
		return -EEXIST;
	}
	vc->reg_uid = uid;
	if ((rc = confine_registration(vc, hostd->conf, uid, err,
	    errlen)) < 0 || (rc = confine_owner(owner, uid, err, errlen)) < 0) {
		free(vc);
		return rc;
	}
	if (owner > 0 && !(vc->owner_start = process_start(owner))) {
		snprintf(err, errlen, "owner pid %d: no such process", (int)owner);
		free(vc);
		return -ESRCH;
	}
	vc->owner = owner;
	trial = conf_dup(hostd->conf);
	TAILQ_INSERT_TAIL(&trial->vms, vc, entry);
	trial->nvms++;
	if (conf_check(trial, err, errlen) < 0) {
		conf_free(trial);
		return -EINVAL;
	}
	if ((rc = registry_save(vc, text, len)) < 0) {
		snprintf(err, errlen, "cannot keep the registration: %s",
		    strerror(-rc));
		conf_free(trial);
		return rc;
	}
	fwdctl_yield(trial);
	conf_free(hostd->conf);
	hostd->conf = trial;
	vms_changed();		/* a vsock VM may be the first one */
	if (vms_apply_tables() < 0)
		log_warnx("nftables table not updated");
	if (owner > 0)
		log_info("vm %s registered by pid %d", vc->name, (int)owner);
	else
		log_info("vm %s registered", vc->name);
	events_vm_change(vc->name, VM_CH_ADDED, "registered");
	*out = vm_find(vc->name);
	return 0;
}

/* Whether uid may remove vm name (vc: its block, if any); err says why not. */
static int
may_unregister(const struct vm_conf *vc, const char *name, uid_t uid,
    char *err, size_t errlen)
{
	if (!vc) {
		snprintf(err, errlen, "no vm \"%s\"", name);
		return -ENOENT;
	}
	if (!vc->registered) {
		snprintf(err, errlen, "vm \"%s\" is defined in %s: remove it "
		    "there and reload", name, vc->file);
		return -EPERM;
	}
	if (uid != 0 && uid != vc->reg_uid) {
		snprintf(err, errlen, "vm \"%s\" was registered by uid %u",
		    name, (unsigned)vc->reg_uid);
		return -EPERM;
	}
	return 0;
}

/* netctl unregister, or the owner gone: the VM stops and is forgotten. */
int
hostd_unregister(const char *name, uid_t uid, const char *why, char *err,
    size_t errlen)
{
	struct vm_conf *vc = conf_find_vm(hostd->conf, name);
	struct vm *vm;
	int rc;

	if ((rc = may_unregister(vc, name, uid, err, errlen)) < 0)
		return rc;
	if ((vm = vm_find(name))) {
		TAILQ_REMOVE(&hostd->vms, vm, entry);
		vm_free(vm);
	}
	TAILQ_REMOVE(&hostd->conf->vms, vc, entry);
	hostd->conf->nvms--;
	free(vc);
	registry_remove(name);
	if (vms_apply_tables() < 0)
		log_warnx("nftables table not updated");
	log_info("vm %s unregistered (%s)", name, why);
	events_vm_change(name, VM_CH_REMOVED, why);
	return 0;
}

/*
 * netctl unregister from a client with uid and pid peer. A VM whose owner
 * runs is in use: removed under it, the owner's hypervisor would run on
 * with its tap gone. So that is refused unless force, and with force the
 * owner is sent SIGTERM, on which a launcher (vmnet-run) stops its VM;
 * only root may have a process of another user signalled. A request of
 * the owner's own (from it or a process it started, as vmnet-run's as it
 * exits) is not refused. *told: the owner signalled, or 0.
 */
int
hostd_unregister_ctl(const char *name, uid_t uid, pid_t peer, bool force,
    char *err, size_t errlen, pid_t *told)
{
	struct vm_conf *vc = conf_find_vm(hostd->conf, name);
	struct vm *vm = vm_find(name);
	char why[64], comm[32], who[64];
	int pidfd = vm ? vm->owner_fd : -1, rc;
	pid_t owner;

	*told = 0;
	snprintf(why, sizeof(why), "netctl, uid %u", (unsigned)uid);
	if ((rc = may_unregister(vc, name, uid, err, errlen)) < 0)
		return rc;
	owner = vc->owner;
	if (owner <= 0 || process_descends(peer, owner) ||
	    owner_signal(vc, pidfd, 0) == -ESRCH)
		return hostd_unregister(name, uid, why, err, errlen);
	process_name(owner, comm, sizeof(comm));
	snprintf(who, sizeof(who), "pid %d%s%s%s", (int)owner,
	    comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
	if (!force) {
		snprintf(err, errlen, "vm \"%s\" is in use: its owner, %s, "
		    "runs; it goes when that process exits, or with "
		    "unregister --force, which tells it to stop (SIGTERM)",
		    name, who);
		return -EBUSY;
	}
	if (uid != 0 && process_uid(owner) != uid) {
		snprintf(err, errlen, "vm \"%s\": its owner, %s, is not "
		    "yours to stop", name, who);
		return -EPERM;
	}
	if ((rc = owner_signal(vc, pidfd, SIGTERM)) < 0 && rc != -ESRCH) {
		/* Without CAP_KILL, only processes of our own uid (root). */
		snprintf(err, errlen, "vm \"%s\": cannot signal its owner, "
		    "%s: %s%s; nothing changed", name, who, strerror(-rc),
		    rc == -EPERM ? " (host-netd signals only root's "
		    "processes): stop it yourself" : "");
		return rc;
	}
	if (rc == 0) {
		log_info("vm %s: SIGTERM to its owner, %s, to stop it "
		    "(unregister --force, uid %u)", name, who, (unsigned)uid);
		*told = owner;
	}
	return hostd_unregister(name, uid, why, err, errlen);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	char err[512];

	switch (sig) {
	case SIGHUP:
		hostd_reload("SIGHUP", err, sizeof(err));
		break;
	default:
		log_info("exiting on signal %d", (int)sig);
		event_base_loopbreak(hostd->base);
		break;
	}
}

static void
shutdown_all(void)
{
	struct vm *vm;

	hostd->shutting_down = true;
	monitor_stop();
	proxy_watch_stop();
	control_close();
	while ((vm = TAILQ_FIRST(&hostd->vms))) {
		TAILQ_REMOVE(&hostd->vms, vm, entry);
		vm_free(vm);
	}
	channel_vsock_unlisten();
	engine_stop();
	if (vms_remove_tables() < 0)
		log_warnx("could not remove nftables table inet %s",
		    HOSTD_NFT_TABLE);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = HOSTD_CONF_FILE;
	struct event *sigs[3];
	static const int signums[3] = { SIGHUP, SIGTERM, SIGINT };
	struct hostd_conf *conf;
	struct policy *policy;
	int ch, foreground = 0, check = 0, verbose = 0, rc, i;

	while ((ch = getopt_long(argc, argv, ":df:nvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			vmn_cli_help(usage_text);
		case 'V':
			vmn_cli_version("host-netd");
		case 'd':
			foreground = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			vmn_cli_getopt_error("host-netd", usage_text, argv, ch);
		}
	}
	if (optind != argc)
		vmn_cli_usage_error("host-netd", usage_text,
		    "unexpected argument \"%s\"", argv[optind]);
	/*
	 * -n reports "file:line: message" lines, nothing else. Otherwise
	 * stderr until we detach, so that a failed start is seen.
	 */
	log_init("host-netd", check ? LOG_PLAIN : LOG_TO_STDERR, verbose);

	if (!(conf = parse_config(file)))
		exit(1);
	if (!(policy = parse_policy_dir(conf->policy_dir, conf, NULL, 0)))
		exit(1);
	if (check) {
		if (verbose) {
			print_config(stdout, conf);
			if (policy->nfiles) {
				printf("\n# ---- the policy: %s\n",
				    conf->policy_dir);
				print_policy(stdout, policy);
			}
		}
		fprintf(stderr, "configuration OK\n");
		conf_free(conf);
		policy_free(policy);
		exit(0);
	}
	/*
	 * A second host-netd would take the first one's links for leftovers
	 * and delete them: refuse to start while the control socket answers.
	 */
	if (control_in_use(conf->control_socket))
		fatalx("another host-netd is running (%s answers)",
		    conf->control_socket);

	hostd = &the_hostd;
	hostd->conf = conf;
	hostd->policy = policy;
	policy_log(policy, conf->policy_dir);
	registry_load(conf);	/* VMs registered before a restart */
	hostd->vsock_fd = -1;
	hostd->started = time(NULL);
	TAILQ_INIT(&hostd->vms);
	signal(SIGPIPE, SIG_IGN);
	nft_init();		/* a low descriptor, while there are some */
	/* Before the loop exists: the engine makes its own. */
	if (engine_spawn(foreground, verbose) < 0)
		fatalx("cannot start the engine");
	if (!(hostd->base = event_base_new()))
		fatalx("event_base_new failed");
	engine_listen(hostd->base);
	relay_raise_nofile();
	if ((rc = vmn_nl_open(&hostd->nl, NETLINK_ROUTE, 0)) < 0)
		fatalx("netlink: %s", strerror(-rc));
	if ((rc = mkdir_p(conf->state_dir, 0755)) < 0)
		fatalx("state dir %s: %s", conf->state_dir, strerror(-rc));
	init_ula();
	hostdns_load(&hostd->dns);
	if ((rc = hostlink_uplinks(&hostd->nl, conf, &hostd->uplinks)) < 0)
		log_warnx("listing uplinks: %s", strerror(-rc));
	if (hostd->uplinks.n == 0)
		log_warnx("no uplink found (no default route); VMs get mtu "
		    "1500 and no way out until one appears");

	hostlink_sweep(&hostd->nl, hostd->conf);
	vms_changed();
	if (vms_apply_tables() < 0) {
		shutdown_all();
		fatalx("cannot install nftables table inet %s", HOSTD_NFT_TABLE);
	}
	if ((rc = control_listen(conf->control_socket)) < 0) {
		shutdown_all();
		fatalx("control socket %s: %s", conf->control_socket,
		    strerror(-rc));
	}
	if ((rc = proxy_watch_start()) < 0)
		fatalx("watching the host's proxy settings: %s", strerror(-rc));
	if ((rc = monitor_start()) < 0)
		log_warnx("cannot follow host network changes: %s",
		    strerror(-rc));
	if ((rc = isolation_drop_caps()) < 0)
		log_warnx("cannot drop capabilities: %s", strerror(-rc));

	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(hostd->base, signums[i], signal_cb, NULL);
		evsignal_add(sigs[i], NULL);
	}
	/* Detach only now, so a failed start shows in the exit status. */
	if (!foreground) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init("host-netd", LOG_TO_SYSLOG, verbose);
		if (event_reinit(hostd->base) < 0)
			fatalx("event_reinit failed");
	}
	if ((rc = isolation_filter_syscalls()) < 0)
		fatalx("system call filter: %s", strerror(-rc));
	log_info("ready: %u VM%s, uplinks mtu %u", hostd->conf->nvms,
	    hostd->conf->nvms == 1 ? "" : "s", hostd->uplinks.min_mtu);
	event_base_dispatch(hostd->base);

	shutdown_all();
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	vmn_nl_close(&hostd->nl);
	event_base_free(hostd->base);
	conf_free(hostd->conf);
	policy_free(hostd->policy);
	log_info("stopped");
	return 0;
}
