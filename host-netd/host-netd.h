/*
 * host-netd.h - host-netd's configuration, VMs, and the functions of each file
 */
#ifndef HOST_NETD_H
#define HOST_NETD_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <time.h>

#include "addr.h"
#include "firewall.h"
#include "hostfwd.h"
#include "netconf.h"
#include "nl.h"
#include "paths.h"
#include "policy.h"
#include "ports.h"
#include "text.h"
#include "transport.h"
#include "wire.h"

#define HOSTD_CONF_FILE		VMN_CONF_FILE
#define HOSTD_STATE_DIR		VMN_STATE_DIR
#define HOSTD_CONTROL_SOCKET	VMN_CONTROL_SOCKET
#define MIRROR_MAX_EXPOSED	64	/* mirrored: listener ports steered */
#define MIRROR_MAX_UPLINKS	4	/* mirrored: links per guest */
#define HOSTD_POOL4		"172.16.0.0/12"
#define HOSTD_SUBNET_LEN4	24
#define HOSTD_GUEST_IFNAME	"eth0"
#define HOSTD_DNS_TUNNEL_ADDR	"10.255.255.254"
#define HOSTD_NFT_TABLE		"vmnetd"	/* inet vmnetd: ours alone */

#define VM_NAME_MAX		32
#define MAX_VMS			512
#define MAX_UPLINKS		8
#define MAX_ALLOW		16
#define MAX_FORWARDS		32	/* static forwards per VM */
#define MAX_RFORWARDS		32	/* reverse forwards per VM */
/* A guest's connections at once, before they are handed on: control, two
 * dns, and reverse forwards in setup (guest-netd queues past 24). */
#define VM_MAX_SESSIONS		32
#define HELLO_TIMEOUT_MS	5000	/* from connect to HELLO, at most */
#define COMMIT_TIMEOUT_MS	10000	/* a guest must answer a COMMIT */
#define VM_RETRY_MIN_MS		500
#define VM_RETRY_MAX_MS		30000

enum vm_mode { VM_MODE_NAT, VM_MODE_MIRRORED, VM_MODE_NONE, VM_MODE__MAX };
enum vm_link_kind { VM_LINK_TAP, VM_LINK_VETH, VM_LINK_NONE, VM_LINK__MAX };
enum dns_mode { DNS_MODE_TUNNEL, DNS_MODE_HOST, DNS_MODE_NONE, DNS_MODE__MAX };

enum vm_state {
	VM_S_DOWN,		/* no link yet (setting up, or retrying) */
	VM_S_WAITING,		/* link ready, no guest connected */
	VM_S_CONFIGURING,	/* configuration sent, not acked yet */
	VM_S_ONLINE,		/* the guest applied the latest generation */
	VM_S_FAILED,		/* the guest could not apply it; retrying */
	VM_S__MAX
};

/* Where a vm block's options are, for messages (0: not given). */
struct vm_conf_lines {
	int	mode, link, tap_owner, host_ifname, channel, mtu, ipv6, subnet;
	int	guest_ifname, inbound;
	int	forwards[MAX_FORWARDS];
	int	rforwards[MAX_RFORWARDS];
	int	allow[MAX_ALLOW];
};

/*
 * One `vm "name" { ... }` block. A new field must be known to reload's
 * comparisons, vm_conf_same_link() and vm_conf_equal() in host-netd.c.
 */
struct vm_conf {
	TAILQ_ENTRY(vm_conf)	entry;
	char			file[PATH_MAX];	/* where it is defined */
	int			line;
	struct vm_conf_lines	lines;
	char			name[VM_NAME_MAX + 1];
	bool			registered;	/* by netctl, not in the file */
	pid_t			owner;		/* registered: ends with it */
	uint64_t		owner_start;	/* its start time (a pid reused) */
	uid_t			reg_uid;	/* who registered it */
	uid_t			tap_owner;	/* (uid_t)-1: root's */
	enum vm_mode		mode;
	enum vm_link_kind	link;
	char			netns[NAME_MAX + 1];	/* veth: target netns */
	char			tap_name[IFNAMSIZ];	/* tap: its name */
	char			host_ifname[IFNAMSIZ];
	char			guest_ifname[IFNAMSIZ];
	struct vmn_endpoint	channel;
	enum dns_mode		dns;
	uint32_t		mtu;			/* 0: from the uplinks */
	bool			ipv6;
	struct vmn_prefix	subnet4;		/* family 0: picked */
	unsigned		nallow;
	char			allow[MAX_ALLOW][VM_NAME_MAX + 1];
	bool			auto_forward;
	bool			auto_privileged; /* below the host's unprivileged start too */
	bool			forward_direct;	/* TCP to wildcard servers: via the tap */
	bool			inbound;	/* mirrored: the LAN reaches its listeners */
	unsigned		nforwards;
	struct hostfwd_static	forwards[MAX_FORWARDS];
	unsigned		nrforwards;
	struct hostfwd_rfwd	rforwards[MAX_RFORWARDS];
};
TAILQ_HEAD(vm_conf_list, vm_conf);

struct hostd_conf {
	char			file[PATH_MAX];
	char			state_dir[PATH_MAX];
	char			control_socket[PATH_MAX];
	char			policy_dir[PATH_MAX];
	uint32_t		host_port;
	uint32_t		guest_port;
	struct vmn_prefix	pool4;
	uint8_t			subnet_len4;
	struct vmn_prefix	ula;			/* family 0: generated */
	struct vmn_ip		dns_tunnel_addr;	/* in the guests, on lo */
	unsigned		nuplinks;		/* 0: automatic */
	char			uplinks[MAX_UPLINKS][IFNAMSIZ];
	unsigned		nvms;
	struct vm_conf_list	vms;
};

struct mirror_link;
struct mirror_hold;
struct ps_port;
struct ps_stats;
struct ps_vm_forwards;
struct ps_vm_stats;
struct ps_vms_stats;

/* A VM at run time. */
struct vm {
	TAILQ_ENTRY(vm)		entry;
	struct vm_conf		conf;
	uint32_t		id;		/* the engine's name for it */
	/* identity, persisted in the state dir */
	struct vmn_prefix	subnet4;
	struct vmn_prefix	subnet6;	/* family 0: no IPv6 */
	uint8_t			guest_mac[VMN_MAC_LEN];
	uint8_t			host_mac[VMN_MAC_LEN];
	/* run time */
	int			netns_fd;	/* veth into a netns given by path */
	int			ifindex;	/* host side of its link */
	uint32_t		mtu;
	int			listen_fd;	/* its channel's (engine.c accepts) */
	bool			guest;		/* its guest-netd is connected */
	uint32_t		gen;		/* last generation sent */
	uint32_t		gen_applied;	/* last one the guest acked */
	bool			commit_pending;
	bool			dirty;		/* push again once acked */
	bool			announced;	/* "online" logged this session */
	char			route_warned[VMN_PREFIX_STRLEN]; /* overlap told */
	enum vm_state		state;
	time_t			state_since;
	char			error[256];
	struct event		*retry_ev;
	unsigned		retry_ms;
	struct event		*commit_ev;	/* COMMIT_TIMEOUT_MS deadline */
	bool			keep_tap;	/* being restarted: leave a used tap */
	bool			proxy_pushed;	/* the guest has our proxy */
	/* mirrored mode: its uplink, its ports, what it listens on */
	struct mirror_link	*mlinks;	/* one per uplink it mirrors */
	unsigned		nmlinks;
	uint8_t			made_mac[VMN_MAC_LEN]; /* for L3 uplinks' links */
	int			port_slice;	/* persisted; -1: none yet */
	struct port_range	ports;		/* its ephemeral slice */
	unsigned		nholds;		/* its listeners beyond loopback */
	struct mirror_hold	*holds;		/* MIRROR_MAX_EXPOSED of them */
	int			owner_fd;	/* registered: pidfd of its owner */
	struct event		*owner_ev;
	/* netctl forward add's: until a reload changes its block (fwdctl.c) */
	unsigned		nrtforwards;
	struct hostfwd_static	rtforwards[MAX_FORWARDS];
};
TAILQ_HEAD(vm_list, vm);

struct uplinks {
	unsigned	n;
	int		index[MAX_UPLINKS];
	char		name[MAX_UPLINKS][IFNAMSIZ];
	uint32_t	min_mtu;	/* 0: no uplink found */
};

struct hostdns {
	unsigned	nservers;
	struct vmn_ip	servers[VMN_NC_MAX_SERVERS];
	unsigned	nsearch;
	char		search[VMN_NC_MAX_SEARCH][VMN_NC_DOMAIN_MAX];
	char		options[256];
};

struct hostd {
	struct event_base	*base;
	struct hostd_conf	*conf;
	struct policy		*policy;	/* policy.d, as last loaded */
	struct vm_list		 vms;
	struct vmn_nl		 nl;
	struct vmn_prefix	 ula48;
	struct uplinks		 uplinks;
	struct hostdns		 dns;
	int			 vsock_fd;	/* the engine accepts on it */
	time_t			 started;
	bool			 shutting_down;
};

extern struct hostd *hostd;

/* parse.c (the grammar; parse.h holds what its parts share) */
struct hostd_conf	*conf_new(void);
struct hostd_conf	*parse_config(const char *path);
struct vm_conf		*parse_vm_text(const char *src, const char *text,
			    size_t len, char *err, size_t errlen);
struct hostd_conf	*conf_dup(const struct hostd_conf *c);
void			 conf_free(struct hostd_conf *conf);

/* parse-policy.c */
struct policy		*parse_policy_dir(const char *dir,
			    const struct hostd_conf *conf, char *err,
			    size_t errlen);
struct policy		*parse_policy_dir_with(const char *dir,
			    const struct hostd_conf *conf, const char *name,
			    const char *text, size_t textlen, char *err,
			    size_t errlen);
struct policy		*parse_policy_text(const char *name, const char *text,
			    size_t len, const struct hostd_conf *conf,
			    char *err, size_t errlen);

/* parse-check.c */
int			 conf_check(struct hostd_conf *c, char *err,
			    size_t errlen);

/* parse-value.c */
const char		*vm_mode_name(enum vm_mode m);
const char		*vm_link_name(enum vm_link_kind k);
const char		*dns_mode_name(enum dns_mode m);
const char		*vm_state_name(enum vm_state s);

/* printconf.c */
void	print_config(FILE *f, const struct hostd_conf *conf);
void	print_policy(FILE *f, const struct policy *pol);

/* subnet.c */
uint32_t name_hash(const char *s);
int	subnet_pick(const struct vmn_prefix *pool, uint8_t plen,
	    const struct vmn_prefix *avoid, size_t navoid, uint32_t hint,
	    struct vmn_prefix *out);
bool	subnet_collides(const struct vmn_prefix *p,
	    const struct vmn_prefix *avoid, size_t navoid);
void	random_mac(uint8_t mac[VMN_MAC_LEN]);
void	random_ula48(struct vmn_prefix *p);

/* registry.c */
int	rundir_path(const char *control_socket, const char *sub, char *buf,
	    size_t len);
void	registry_load(struct hostd_conf *c);
int	registry_save(const struct vm_conf *vc, const char *text, size_t len);
void	registry_remove(const char *name);
uint64_t process_start(pid_t pid);
int	owner_pidfd(pid_t pid);
int	owner_signal(const struct vm_conf *vc, int pidfd, int sig);
bool	process_descends(pid_t pid, pid_t ancestor);
uid_t	process_uid(pid_t pid);
void	process_name(pid_t pid, char *buf, size_t len);

/* mirror.c */
int	mirror_link_prepare(struct vm *vm, char *err, size_t errlen);
int	mirror_links_up(struct vm *vm, char *err, size_t errlen);
void	mirror_links_down(struct vm *vm);
uint32_t mirror_mtu(const struct vm *vm);
const char *mirror_uplink_names(const struct vm *vm, char *buf, size_t len);
void	mirror_build_netconf(const struct vm *vm, struct vmn_netconf *nc);
int	mirror_apply(void);
void	mirror_host_changed(void);
void	mirror_listener(struct vm *vm, bool added, uint8_t proto,
	    uint16_t port);
void	mirror_vm_gone(struct vm *vm);
void	mirror_foreach(struct vm *vm, hostfwd_port_fn fn, void *arg);
unsigned mirror_conflicts(const struct vm *vm);
bool	mirror_masquerade_range(struct port_range *r);
void	mirror_put_addresses(struct vmn_buf *b, const struct vm *vm);
int	mirror_remove(void);

/* state.c */
int	state_load_vm(const char *dir, struct vm *vm);
int	state_save_vm(const char *dir, const struct vm *vm);
int	state_load_ula(const char *dir, struct vmn_prefix *ula);
int	state_save_ula(const char *dir, const struct vmn_prefix *ula);
int	state_load_reserved(const char *dir, struct port_ranges *ours);
int	state_save_reserved(const char *dir, const struct port_ranges *ours);
int	mkdir_p(const char *path, mode_t mode);

/* hostlink.c */
#define HOSTLINK_ALIAS_PREFIX	"vmnetd:"
int	hostlink_create_veth(struct vmn_nl *nl, struct vm *vm, uint32_t mtu);
int	hostlink_create_tap(struct vmn_nl *nl, const struct vm *vm,
	    uint32_t mtu);
int	hostlink_delete(struct vmn_nl *nl, int ifindex);
int	hostlink_find_tap(struct vmn_nl *nl, const struct vm *vm);
void	hostlink_sweep(struct vmn_nl *nl, const struct hostd_conf *conf);
int	hostlink_flush_addrs(struct vmn_nl *nl, int ifindex);
bool	hostlink_tap_in_use(struct vmn_nl *nl, int ifindex);
int	hostlink_remove_stale(struct vmn_nl *nl, const char *ifname,
	    const char *vmname);
int	hostlink_configure(struct vmn_nl *nl, const struct vm *vm);
int	hostlink_configure_port(struct vmn_nl *nl, const struct vm *vm,
	    int ifindex, const char *ifname, bool keep_ipv6);
int	hostlink_create_veth_pair(struct vmn_nl *nl, struct vm *vm,
	    const char *ifname, const uint8_t *guest_mac, uint32_t mtu);
int	hostlink_neigh_pin(struct vmn_nl *nl, int ifindex,
	    const struct vmn_ip *ip, const uint8_t *mac);
int	hostlink_set_mtu(struct vmn_nl *nl, int ifindex, uint32_t mtu);
int	hostlink_exists(struct vmn_nl *nl, int ifindex, const char *ifname);
int	hostlink_routes(struct vmn_nl *nl, struct vmn_prefix *out,
	    int *oifs, size_t max);
int	hostlink_uplinks(struct vmn_nl *nl, const struct hostd_conf *conf,
	    struct uplinks *up);
void	hostlink_pass_begin(void);
void	hostlink_pass_end(void);

/* policyctl.c */
int	policyctl_show(struct vmn_conn *conn, uint32_t seq, const char *name,
	    uint8_t *buf, size_t len);

/* proxy.c: a VM's proxy, and the reverse forwards a loopback proxy needs */
struct vm_proxy {
	struct vmn_nc_proxy	nc;
	unsigned		nrfwds;
	struct hostfwd_rfwd	rfwds[3];	/* http, https, PAC */
};
void	proxy_for_vm(const struct vm *vm, struct vm_proxy *vp);
int	proxy_watch_start(void);
void	proxy_watch_reset(void);
void	proxy_watch_stop(void);

/* hostdns.c */
int	hostdns_read(const char *path, struct hostdns *dns);
int	hostdns_load(struct hostdns *dns);

/* nat.c */
int	nat_render(const struct vm_list *vms, const struct port_range *masq,
	    const struct policy *pol, const struct fw_counters *keep,
	    char *buf, size_t len);
int	nat_apply(const struct vm_list *vms, const struct port_range *masq,
	    const struct policy *pol);
int	nft_counters(const char *table, struct fw_counters *c);
uint64_t vm_fw_drops(const struct vm *vm);
int	nat_remove(void);
bool	nat_present(void);
void	nft_init(void);
int	nft_run(const char *cmds, bool quiet);
int	forwarding_enable(void);

/* nat-fw.c: the NAT VMs' firewall chains in that table */
#define NATFW_MAX_VMS	MAX_VMS
enum natfw_chain { NATFW_OUT, NATFW_IN, NATFW_HOST_OUT, NATFW_HOST_IN };
struct natfw {
	const struct vm_list	*vms;
	const struct policy	*pol;		/* NULL: no rules */
	const struct fw_counters *keep;		/* values to carry over */
	struct {
		bool	out, host_out, host_in;
	}			 has[NATFW_MAX_VMS]; /* linked NAT VMs, in order */
};
bool	nat_has_link(const struct vm *vm);
void	natfw_init(struct natfw *f, const struct vm_list *vms,
	    const struct policy *pol, const struct fw_counters *keep);
void	natfw_objects(struct vmn_text *o, const struct natfw *f);
void	natfw_chains(struct vmn_text *o, struct natfw *f);
void	natfw_vmap(struct vmn_text *o, const struct natfw *f,
	    const char *match, const char *prefix, enum natfw_chain which);
bool	natfw_any(const struct natfw *f, enum natfw_chain which);

/* vm.c */
struct vm	*vm_new(const struct vm_conf *vc);
void		 vm_free(struct vm *vm);
struct vm	*vm_find(const char *name);
struct vm	*vm_find_id(uint32_t id);
int		 vm_may_bind(const struct vm *vm, const struct vmn_ip *addr,
		    uint8_t proto, uint16_t port, bool reuseport, char *err,
		    size_t errlen);
int		 vm_start(struct vm *vm);
void		 vm_stop(struct vm *vm);
void		 vm_set_state(struct vm *vm, enum vm_state s, const char *error);
void		 vm_push_config(struct vm *vm);
void		 vm_config_acked(struct vm *vm, uint32_t gen);
void		 vm_config_failed(struct vm *vm, int err, const char *msg);
void		 vm_configure_forwards(struct vm *vm);
#define VM_MAX_RFORWARDS	(MAX_RFORWARDS + 3)	/* with a proxy's */
unsigned	 vm_rforwards(const struct vm *vm, struct hostfwd_rfwd *rv);
void		 vm_build_netconf(const struct vm *vm, struct vmn_netconf *nc);
void		 vm_gateway4(const struct vm *vm, struct vmn_ip *ip);
void		 vm_guest4(const struct vm *vm, struct vmn_ip *ip);
void		 vm_gateway6(const struct vm *vm, struct vmn_ip *ip);
void		 vm_guest6(const struct vm *vm, struct vmn_ip *ip);
void		 vm_link_lost(struct vm *vm);
void		 vms_update_mtu(void);
void		 vms_push_all(void);
void		 vms_proxy_changed(void);
int		 vms_apply_tables(void);
int		 vms_remove_tables(void);

/* channel.c: the channels' listeners, made here and accepted on by the
 * engine */
int	channel_listen(struct vm *vm);
void	channel_unlisten(struct vm *vm);
int	channel_vsock_listen(void);
void	channel_vsock_unlisten(void);

/* privsep.c: the engine (privsep.h), as the parent tells and asks it */
int	engine_spawn(int foreground, int verbose);
void	engine_attach(pid_t pid, int cmd, int notice, int rpc);
void	engine_listen(struct event_base *base);
void	engine_stop(void);
void	engine_vm_new(const struct vm *vm);
void	engine_vm_free(const struct vm *vm);
void	engine_vm_listen(const struct vm *vm, int fd);
void	engine_vm_stop(const struct vm *vm);
void	engine_vm_dns(const struct vm *vm);
void	engine_vm_forwards(const struct vm *vm,
	    const struct ps_vm_forwards *f);
int	engine_push_config(const struct vm *vm, uint32_t gen,
	    const struct vmn_netconf *nc);
void	engine_drop_control(const struct vm *vm);
void	engine_vsock_listen(int fd);
void	engine_dns_reload(void);
void	engine_stats(struct ps_stats *s);
void	engine_vms_stats(struct ps_vms_stats *all);
const struct ps_vm_stats *ps_vms_stats_of(const struct ps_vms_stats *all,
	    const struct vm *vm);
void	engine_foreach_port(const struct vm *vm, hostfwd_port_fn fn,
	    void *arg);
bool	engine_port_info(const struct vm *vm, const struct hostfwd_static *st,
	    struct ps_port *p, struct hostfwd_port_info *pi);
int	engine_probe(const struct vm *vm, const struct hostfwd_static *st,
	    char *err, size_t errlen);

/* monitor.c */
uint64_t	file_hash(const char *path);
int	monitor_start(void);
void	monitor_stop(void);

/* confine.c: what a user other than root may ask */
int	confine_registration(struct vm_conf *vc, const struct hostd_conf *c,
	    uid_t uid, char *err, size_t errlen);
int	confine_forward(const struct hostfwd_static *st, uid_t uid, char *err,
	    size_t errlen);
int	confine_owner(pid_t owner, uid_t uid, char *err, size_t errlen);
int	confine_vm_access(const struct vm *vm, uid_t uid, char *err,
	    size_t errlen);

/* fwdctl.c: netctl forward add|remove */
int	fwdctl_add(const char *name, const struct hostfwd_static *st,
	    uid_t uid, struct hostfwd_port_info *pi, char *err,
	    size_t errlen);
int	fwdctl_remove(const char *name, const struct hostfwd_static *st,
	    uid_t uid, struct hostfwd_port_info *pi, char *err,
	    size_t errlen);
void	fwdctl_forget(struct vm *vm, const char *why);
void	fwdctl_yield(const struct hostd_conf *c);

/* events.c: what netctl monitor streams (see there for each kind) */
#define EVENTS_MAX_SUBSCRIBERS	8		/* monitors at once */
#define EVENTS_QUEUE_MAX	(32 * 1024)	/* unread bytes per monitor */
struct vmn_conn;
int	events_subscribe(struct vmn_conn *c, uint32_t seq, char *err,
	    size_t errlen);
void	events_unsubscribe(struct vmn_conn *c);
void	events_vm_state(const struct vm *vm, enum vm_state from);
void	events_config(const struct vm *vm, uint32_t gen, const char *error);
void	events_forward(const char *vm, enum hostfwd_note note,
	    const struct hostfwd_port_info *pi);
void	events_resolver(const struct hostdns *dns);
void	events_reload(const char *file, const char *cause, unsigned nchanges,
	    const char *errors);
/*
 * A reload of the policy files: ok, the policy read from files (their
 * names, space-separated; "" for none) is in force; or not, error says
 * why ("file:line: message", the first) and the running policy stays.
 */
void	events_policy_reload(bool ok, const char *files, const char *error);

/* control.c */
bool	control_in_use(const char *path);
int	control_listen(const char *path);
void	control_close(void);

/* isolation.c */
int	isolation_drop_caps(void);
int	isolation_filter_syscalls(void);

/* host-netd.c */
enum vm_change {
	VM_CH_ADDED,		/* new in the file: started */
	VM_CH_REMOVED,		/* gone from the file: stopped */
	VM_CH_RESTARTED,	/* its link or addressing changed: recreated */
	VM_CH_UPDATED,		/* changed in place (allow-vm, dns, forwards...) */
	VM_CH__MAX
};

/* What a reload did, for netctl: the errors, or the VMs it changed. */
struct reload_report {
	char		summary[PATH_MAX + 128];	/* refused: why */
	char		errors[16384];	/* refused: "file:line: message" lines */
	unsigned	nchanges;
	struct {
		char		name[VM_NAME_MAX + 1];
		enum vm_change	what;
	}		changes[2 * MAX_VMS];
};

const char *vm_change_name(enum vm_change c);
/* events.c, for these changes: cause says what made them */
void	events_vm_change(const char *vm, enum vm_change what,
	    const char *cause);
int	hostd_reload(const char *why, char *err, size_t errlen);
int	hostd_reload_report(const char *why, struct reload_report *r);
int	hostd_register(const char *src, const char *text, size_t len,
	    pid_t owner, uid_t uid, char *err, size_t errlen, struct vm **out);
int	hostd_unregister(const char *name, uid_t uid, const char *why,
	    char *err, size_t errlen);
int	hostd_unregister_ctl(const char *name, uid_t uid, pid_t peer,
	    bool force, char *err, size_t errlen, pid_t *told);

#endif
