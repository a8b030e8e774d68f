/*
 * parse-vm.c - host-netd.conf(5): the options of a vm block
 *
 * One function per keyword of keywords[] (parse.c) with the vm scope: it
 * parses the rest of its statement into the block's vm_conf, through the
 * statement's end, and keeps the keyword's line in vc->lines for the
 * checks of parse-check.c.
 */
#include "config.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "parse.h"

void
vm_defaults(struct vm_conf *vc)
{
	vc->mode = VM_MODE_NAT;
	vc->link = VM_LINK_TAP;
	vc->dns = DNS_MODE_TUNNEL;
	vc->ipv6 = true;
	vc->auto_forward = true;
	vc->forward_direct = true;
	vc->tap_owner = (uid_t)-1;
	strcpy(vc->guest_ifname, HOSTD_GUEST_IFNAME);
}

bool
kw_mode(struct parser *p, struct vm_conf *vc)
{
	int v;

	vc->lines.mode = p->tok_line;
	if ((v = arg_word(p, "mode", mode_names, VM_MODE__MAX)) < 0)
		return false;
	vc->mode = (enum vm_mode)v;
	return end_of_statement(p);
}

/* link tap [NAME] | veth netns NAME|PATH | none */
bool
kw_link(struct parser *p, struct vm_conf *vc)
{
	int v;

	vc->lines.link = p->tok_line;
	if ((v = arg_word(p, "link type", link_names, VM_LINK__MAX)) < 0)
		return false;
	vc->link = (enum vm_link_kind)v;
	vc->netns[0] = vc->tap_name[0] = '\0';
	if (vc->link == VM_LINK_VETH) {
		lex_next(p);
		if ((p->tok != T_WORD && p->tok != T_STRING) ||
		    strcmp(p->text, "netns")) {
			if (p->tok != T_ERROR)
				perr(p, p->tok_line, "link veth needs netns "
				    "\"NAME\"");
			return false;
		}
		if (!arg(p, "namespace name"))
			return false;
		/* A name in /run/netns, or a path (/proc/PID/ns/net). */
		if (!p->text[0] || strlen(p->text) > NAME_MAX ||
		    (p->text[0] != '/' && (strchr(p->text, '/') ||
		    p->text[0] == '.'))) {
			perr(p, p->tok_line, "bad namespace name \"%s\" (a name "
			    "in /run/netns or an absolute path)", p->text);
			return false;
		}
		strcpy(vc->netns, p->text);
	} else if (vc->link == VM_LINK_TAP) {
		/* Optional tap name. */
		lex_next(p);
		if (p->tok != T_WORD && p->tok != T_STRING)
			return at_end(p);
		if (!ifname_ok(p->text)) {
			perr(p, p->tok_line, "bad tap name \"%s\"", p->text);
			return false;
		}
		strcpy(vc->tap_name, p->text);
	}
	return end_of_statement(p);
}

bool
kw_tap_owner(struct parser *p, struct vm_conf *vc)
{
	struct passwd *pw;
	uint32_t uid;

	vc->lines.tap_owner = p->tok_line;
	if (!arg(p, "tap-owner"))
		return false;
	if ((pw = getpwnam(p->text)))
		vc->tap_owner = pw->pw_uid;
	else if (tok_u32_or(p, "tap-owner", "a user name", 0, UINT32_MAX - 1,
	    &uid))
		vc->tap_owner = (uid_t)uid;
	else
		return false;
	return end_of_statement(p);
}

bool
kw_host_ifname(struct parser *p, struct vm_conf *vc)
{
	vc->lines.host_ifname = p->tok_line;
	return arg_ifname(p, "host-ifname", vc->host_ifname) &&
	    end_of_statement(p);
}

bool
kw_guest_ifname(struct parser *p, struct vm_conf *vc)
{
	vc->lines.guest_ifname = p->tok_line;
	return arg_ifname(p, "guest-ifname", vc->guest_ifname) &&
	    end_of_statement(p);
}

/* inbound allow|deny: whether the LAN reaches a mirrored guest's servers. */
bool
kw_inbound(struct parser *p, struct vm_conf *vc)
{
	static const char *const words[] = { "deny", "allow" };
	int v;

	vc->lines.inbound = p->tok_line;
	if ((v = arg_word(p, "inbound", words, 2)) < 0)
		return false;
	vc->inbound = v == 1;
	return end_of_statement(p);
}

bool
kw_channel(struct parser *p, struct vm_conf *vc)
{
	const char *why = NULL;

	vc->lines.channel = p->tok_line;
	if (!arg(p, "channel URI"))
		return false;
	if (vmn_endpoint_parse(p->text, &vc->channel, &why) < 0) {
		perr(p, p->tok_line, "channel \"%s\": %s", p->text, why);
		return false;
	}
	if (vc->channel.kind == VMN_TR_VSOCK &&
	    (vc->channel.cid < 3 || vc->channel.cid == UINT32_MAX ||
	    vc->channel.port)) {
		perr(p, p->tok_line, "channel \"%s\": a VM's vsock CID is from "
		    "3 to 4294967294, without a port", p->text);
		return false;
	}
	return end_of_statement(p);
}

bool
kw_dns(struct parser *p, struct vm_conf *vc)
{
	int v;

	if ((v = arg_word(p, "dns mode", dns_names, DNS_MODE__MAX)) < 0)
		return false;
	vc->dns = (enum dns_mode)v;
	return end_of_statement(p);
}

bool
kw_mtu(struct parser *p, struct vm_conf *vc)
{
	vc->lines.mtu = p->tok_line;
	if (!arg(p, "mtu"))
		return false;
	if (strcmp(p->text, "auto") == 0)
		vc->mtu = 0;
	else if (!tok_u32_or(p, "mtu", "auto", 576, 65535, &vc->mtu))
		return false;
	return end_of_statement(p);
}

bool
kw_ipv6(struct parser *p, struct vm_conf *vc)
{
	vc->lines.ipv6 = p->tok_line;
	return arg_yesno(p, "ipv6", &vc->ipv6) && end_of_statement(p);
}

bool
kw_subnet(struct parser *p, struct vm_conf *vc)
{
	vc->lines.subnet = p->tok_line;
	if (!arg(p, "subnet"))
		return false;
	if (strcmp(p->text, "auto") == 0) {
		memset(&vc->subnet4, 0, sizeof(vc->subnet4));
	} else {
		if (!tok_prefix(p, "subnet", AF_INET, &vc->subnet4) ||
		    !unicast4_ok(p, "subnet", &vc->subnet4))
			return false;
		if (vc->subnet4.plen > 30) {
			perr(p, p->tok_line, "subnet must be /30 or larger "
			    "(gateway, guest)");
			return false;
		}
	}
	return end_of_statement(p);
}

bool
kw_auto_forward(struct parser *p, struct vm_conf *vc)
{
	return arg_yesno(p, "auto-forward", &vc->auto_forward) &&
	    end_of_statement(p);
}

bool
kw_auto_forward_privileged(struct parser *p, struct vm_conf *vc)
{
	return arg_yesno(p, "auto-forward-privileged", &vc->auto_privileged) &&
	    end_of_statement(p);
}

bool
kw_forward_direct(struct parser *p, struct vm_conf *vc)
{
	return arg_yesno(p, "forward-direct", &vc->forward_direct) &&
	    end_of_statement(p);
}

static const char *const protos[] = { "tcp", "udp" };
static const char *const forward_words[] = { "to", "address" };

/* The protocol of a forward: IPPROTO_TCP or IPPROTO_UDP, or -1. */
static int
arg_proto(struct parser *p, const char *what)
{
	int v = arg_word(p, what, protos, nitems(protos));

	return v < 0 ? -1 : v == 0 ? IPPROTO_TCP : IPPROTO_UDP;
}

/*
 * The end of a forward statement, where a word may be one of its
 * keywords misspelt, and a number a guest port without its "to".
 */
static bool
at_forward_end(struct parser *p, size_t nwords)
{
	const char *guess;

	if (p->tok == T_WORD && isdigit((unsigned char)p->text[0])) {
		perr(p, p->tok_line, "unexpected \"%s\" at end of statement: "
		    "did you mean \"to %s\"?", p->text, p->text);
		return false;
	}
	if (p->tok == T_WORD &&
	    (guess = suggest(p->text, forward_words, nwords))) {
		perr(p, p->tok_line, "unexpected \"%s\" at end of statement: "
		    "did you mean \"%s\"?", p->text, guess);
		return false;
	}
	return at_end(p);
}

/* forward tcp|udp HOSTPORT [to GUESTPORT] [address ADDR] */
bool
kw_forward(struct parser *p, struct vm_conf *vc)
{
	struct hostfwd_static f;
	int proto, line = p->tok_line;
	uint32_t port;

	memset(&f, 0, sizeof(f));
	if ((proto = arg_proto(p, "forward protocol")) < 0 ||
	    !arg_port(p, "forward", proto, &port))
		return false;
	f.proto = (uint8_t)proto;
	f.host_port = f.guest_port = (uint16_t)port;
	vmn_ip_parse("127.0.0.1", &f.addr);
	for (lex_next(p); p->tok == T_WORD; lex_next(p)) {
		if (strcmp(p->text, "to") == 0) {
			if (!arg_u32(p, "guest port", 1, 65535, &port))
				return false;
			f.guest_port = (uint16_t)port;
		} else if (strcmp(p->text, "address") == 0) {
			if (!arg(p, "forward address"))
				return false;
			if (vmn_ip_parse(p->text, &f.addr) < 0) {
				perr(p, p->tok_line, "forward address \"%s\" "
				    "is not an IP address", p->text);
				return false;
			}
		} else {
			break;
		}
	}
	if (vc->nforwards >= MAX_FORWARDS) {
		perr(p, p->tok_line, "too many forwards (at most %d)",
		    MAX_FORWARDS);
		return false;
	}
	vc->lines.forwards[vc->nforwards] = line;
	vc->forwards[vc->nforwards++] = f;
	return at_forward_end(p, nitems(forward_words));
}

/* reverse-forward tcp PORT [to GUESTPORT] */
bool
kw_reverse_forward(struct parser *p, struct vm_conf *vc)
{
	struct hostfwd_rfwd f;
	int proto, line = p->tok_line;
	uint32_t port;

	memset(&f, 0, sizeof(f));
	if ((proto = arg_proto(p, "reverse-forward protocol")) < 0)
		return false;
	if (proto != IPPROTO_TCP) {
		perr(p, p->tok_line, "reverse forwards are tcp only");
		return false;
	}
	if (!arg_port(p, "reverse-forward", proto, &port))
		return false;
	f.proto = (uint8_t)proto;
	f.port = f.guest_port = (uint16_t)port;
	lex_next(p);
	if (p->tok == T_WORD && strcmp(p->text, "to") == 0) {
		if (!arg_u32(p, "guest port", 1, 65535, &port))
			return false;
		f.guest_port = (uint16_t)port;
		lex_next(p);
	}
	if (vc->nrforwards >= MAX_RFORWARDS) {
		perr(p, p->tok_line, "too many reverse forwards (at most %d)",
		    MAX_RFORWARDS);
		return false;
	}
	vc->lines.rforwards[vc->nrforwards] = line;
	vc->rforwards[vc->nrforwards++] = f;
	return at_forward_end(p, 1);	/* "to" only */
}

bool
kw_allow_vm(struct parser *p, struct vm_conf *vc)
{
	if (!arg(p, "VM name"))
		return false;
	if (vc->nallow >= MAX_ALLOW) {
		perr(p, p->tok_line, "too many allow-vm (at most %d)",
		    MAX_ALLOW);
		return false;
	}
	if (!vm_name_ok(p->text)) {
		perr(p, p->tok_line, "bad VM name \"%s\"", p->text);
		return false;
	}
	vc->lines.allow[vc->nallow] = p->tok_line;
	strcpy(vc->allow[vc->nallow++], p->text);
	return end_of_statement(p);
}
