/*
 * policyctl.c - host-netd: netctl policy, the policy as each VM has it
 *
 * For each VM (or the one asked for): its mode, its firewall drops, its
 * proxy as the guest gets it and where that comes from, then each
 * firewall rule that applies to it with its counter and each forwarding
 * rule, in the order they apply. A reply per item, so that no policy is
 * too long for a frame; netctl puts them together.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "host-netd.h"
#include "log.h"
#include "steer.h"

struct show {
	struct vmn_conn		*conn;
	uint32_t		 seq;
	uint8_t			*buf;
	size_t			 len;
	struct fw_counters	 nat, mirror;	/* the tables' counters now */
};

static void
begin(struct show *sh, struct vmn_buf *b, const struct vm *vm,
    const char *kind)
{
	vmn_buf_init(b, sh->buf, sh->len);
	vmn_msg_begin(b, VMN_MSG_CTL_POLICY, VMN_F_REPLY, sh->seq);
	vmn_put_str(b, VMN_A_VM_ID, vm->conf.name);
	vmn_put_str(b, VMN_A_KIND, kind);
}

static uint64_t
packets(const struct show *sh, const struct vm *vm, const char *name)
{
	const struct fw_counter *c = fw_counters_find(vm->conf.mode ==
	    VM_MODE_MIRRORED ? &sh->mirror : &sh->nat, name);

	return c ? c->packets : 0;
}

static int
send_vm(struct show *sh, const struct vm *vm)
{
	const struct policy *pol = hostd->policy;
	const struct policy_proxy *px = policy_proxy_for(pol, vm->conf.name);
	char where[PATH_MAX + 80], name[FW_COUNTER_NAME];
	struct vm_proxy vp;
	struct vmn_buf b;

	begin(sh, &b, vm, "vm");
	vmn_put_str(&b, VMN_A_MODE, vm_mode_name(vm->conf.mode));
	fw_drop_counter_name(vm->conf.name, name);
	vmn_put_u64(&b, VMN_A_COUNT, packets(sh, vm, name));
	proxy_for_vm(vm, &vp);
	where[0] = '\0';
	if (px)
		snprintf(where, sizeof(where), "%s:%d%s%s%s", px->at.file,
		    px->at.line, px->none ? " (none)" : "",
		    px->follow_host ? " (follow-host " : "",
		    px->follow_host ? px->source : "");
	if (px && px->follow_host)
		strncat(where, ")", sizeof(where) - strlen(where) - 1);
	vmn_put_str(&b, VMN_A_VALUE, where);
	vmn_put_str(&b, VMN_A_HTTP_PROXY, vp.nc.http);
	vmn_put_str(&b, VMN_A_HTTPS_PROXY, vp.nc.https);
	vmn_put_str(&b, VMN_A_PAC_URL, vp.nc.pac);
	vmn_put_str(&b, VMN_A_NO_PROXY, vp.nc.no_proxy);
	return vmn_conn_send_buf(sh->conn, &b);
}

static int
send_rules(struct show *sh, const struct vm *vm)
{
	const struct policy *pol = hostd->policy;
	char text[POLICY_RULE_TEXT], where[PATH_MAX + 16];
	char name[FW_COUNTER_NAME];
	struct vmn_buf b;
	unsigned i;
	int rc;

	for (i = 0; i < pol->nrules; i++) {
		const struct policy_rule *r = &pol->rules[i];

		if (!policy_scope_has(pol, r->scope, vm->conf.name))
			continue;
		policy_rule_format(r, text, sizeof(text));
		snprintf(where, sizeof(where), "%s:%d", r->at.file, r->at.line);
		fw_rule_counter(pol, vm->conf.name, i, name);
		begin(sh, &b, vm, "firewall");
		vmn_put_str(&b, VMN_A_NAME, where);
		vmn_put_str(&b, VMN_A_VALUE, text);
		vmn_put_u64(&b, VMN_A_COUNT, packets(sh, vm, name));
		if ((rc = vmn_conn_send_buf(sh->conn, &b)) < 0)
			return rc;
	}
	for (i = 0; i < pol->nfwds; i++) {
		const struct policy_fwd *f = &pol->fwds[i];

		if (!policy_scope_has(pol, f->scope, vm->conf.name))
			continue;
		policy_fwd_format(f, text, sizeof(text));
		snprintf(where, sizeof(where), "%s:%d", f->at.file, f->at.line);
		begin(sh, &b, vm, "forwarding");
		vmn_put_str(&b, VMN_A_NAME, where);
		vmn_put_str(&b, VMN_A_VALUE, text);
		if ((rc = vmn_conn_send_buf(sh->conn, &b)) < 0)
			return rc;
	}
	return 0;
}

/* name: the VM asked for, or "" for every one (the caller checked it). */
int
policyctl_show(struct vmn_conn *conn, uint32_t seq, const char *name,
    uint8_t *buf, size_t len)
{
	struct show sh = { .conn = conn, .seq = seq, .buf = buf, .len = len };
	const struct vm *vm;
	struct vmn_buf b;
	int rc = 0;

	if (nft_counters("inet " HOSTD_NFT_TABLE, &sh.nat) < 0 ||
	    nft_counters("netdev " STEER_TABLE, &sh.mirror) < 0)
		log_warnx("netctl policy: the firewall's counters not read");
	TAILQ_FOREACH(vm, &hostd->vms, entry) {
		if (name[0] && strcmp(name, vm->conf.name) != 0)
			continue;
		if ((rc = send_vm(&sh, vm)) < 0 ||
		    (rc = send_rules(&sh, vm)) < 0)
			break;
	}
	fw_counters_free(&sh.nat);
	fw_counters_free(&sh.mirror);
	if (rc < 0)
		return rc;
	vmn_buf_init(&b, buf, len);
	vmn_msg_begin(&b, VMN_MSG_CTL_POLICY, VMN_F_REPLY | VMN_F_END, seq);
	return vmn_conn_send_buf(conn, &b);
}
