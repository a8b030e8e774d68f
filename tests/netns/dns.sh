#!/bin/bash
# tests/netns/dns.sh - the DNS tunnel: exact, complete, and hard to break
#
# The guest's resolver is 10.255.255.254 on its lo, served by guest-netd and
# answered by host-netd with c-ares against the host's resolvers (dnsmasq in
# the lan, zone test.lan). Checks, over UDP and TCP: A, AAAA, SRV, a TXT
# answer of 1,000 bytes arriving whole (over UDP with EDNS, and after a
# truncated UDP answer over TCP), NXDOMAIN and NODATA kept apart, answers
# identical to asking the upstream directly (+dnssec too); A and AAAA with
# the same id from one socket; 1,000 queries at once; FORMERR for a
# malformed query; garbage on port 53 and on the dns channel; upstream
# stopped or silent -> SERVFAIL within the timeout, answers when it is back;
# the host's resolv.conf changed -> followed; host-netd killed with
# queries pending -> SERVFAIL at once, and the tunnel comes back with it;
# dns none -> the tunnel and its address go away, resolv.conf untouched.
# The guest's namespace starts with lo down, as `ip netns add` makes it. A
# namespace guest sharing the host's /etc does not rewrite its resolv.conf.
TEST_NAME=dns
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
# A new namespace's lo is down; guest-netd owns the tunnel address there and
# must bring it up, or the guest is "online" with a dead tunnel.
in_guest g1 ip -o link show lo | grep -q "state DOWN\|<LOOPBACK>" ||
	fail "the test bed's guest should start with lo down"
bed_guest_netd g1
wait_online g1
in_guest g1 ip -o link show lo | grep -q "<LOOPBACK,UP" ||
	fail "guest-netd left lo down: $(in_guest g1 ip -o link show lo)"
grep -q "online [0-9]* ms after guest-netd started" "$TMP/guest-g1.log" &&
    ! grep -q "after the kernel started" "$TMP/guest-g1.log" ||
	fail "a namespace guest's online log: $(grep online "$TMP/guest-g1.log")"
DNSQ=$VMN_BUILDDIR/tests/tools/vmn-dnsq
ROGUE=$VMN_BUILDDIR/tests/tools/vmn-rogue
TUN=10.255.255.254

rc=/etc/netns/$(guest_ns g1)/resolv.conf
grep -qx "nameserver $TUN" "$rc" || fail "resolv.conf does not point at the tunnel: $(cat "$rc")"
grep -qx "search test.lan" "$rc" || fail "resolv.conf lacks the host's search domain"
in_guest g1 ip -4 -o addr show dev lo | grep -q "inet $TUN/32" ||
	fail "$TUN is not on the guest's lo"
pass "resolv.conf -> $TUN, address on lo"

q() { in_guest g1 dig +time=5 +tries=1 "$@"; }

# --- every type, both transports -------------------------------------------
for t in +notcp +tcp; do
	[ "$(q $t +short web.test.lan A)" = "$LAN4" ] || fail "A over $t"
	[ "$(q $t +short web.test.lan AAAA)" = "$LAN6" ] || fail "AAAA over $t"
	[ "$(q $t +short _http._tcp.test.lan SRV)" = "0 100 80 web.test.lan." ] ||
		fail "SRV over $t: $(q $t +short _http._tcp.test.lan SRV)"
	q $t nothere.test.lan A | grep -q "status: NXDOMAIN" || fail "NXDOMAIN over $t"
	out=$(q $t only4.test.lan AAAA)
	echo "$out" | grep -q "status: NOERROR" && echo "$out" | grep -q "ANSWER: 0," ||
		fail "NODATA over $t: $out"
done
pass "A, AAAA, SRV, NXDOMAIN, NODATA over UDP and TCP"

want_txt=$(printf '"%s"\n' "$BIG_TXT_1" "$BIG_TXT_2" "$BIG_TXT_3" "$BIG_TXT_4" | sort)
txt() { q "$@" +short big.test.lan TXT | sort; }
[ "$(txt +tcp)" = "$want_txt" ] || fail "big TXT over TCP"
[ "$(txt +notcp +bufsize=4096)" = "$want_txt" ] || fail "big TXT over UDP with EDNS"
out=$(q +notcp +noedns +ignore big.test.lan TXT)
echo "$out" | grep -q "flags:[a-z ]* tc[ ;]" && echo "$out" | grep -q "ANSWER: 0," || fail "no truncated answer for a 512-byte client: $out"
# Without +ignore dig retries over TCP by itself, as resolvers do.
[ "$(txt +notcp +noedns)" = "$want_txt" ] || fail "big TXT after the TCP retry"
pass "a 1,000-byte TXT arrives whole (EDNS, or truncated then TCP)"

# The tunnel answers exactly as the upstream does (dnsmasq rotates records
# between answers, so lines are compared as sets).
for args in "web.test.lan A" "web.test.lan AAAA" "big.test.lan TXT" \
    "_http._tcp.test.lan SRV" "nothere.test.lan A" "only4.test.lan AAAA" \
    "+dnssec web.test.lan A" "+bufsize=1232 web.test.lan ANY"; do
	via=$(q +nocmd +nostats +noquestion $args | grep -v "^;; ->>HEADER\|^;; Got answer\|^$" | sort)
	direct=$(q @$LAN4 +nocmd +nostats +noquestion $args | grep -v "^;; ->>HEADER\|^;; Got answer\|^$" | sort)
	[ "$via" = "$direct" ] || fail "answer for $args differs from the upstream's:
$via
--- direct:
$direct"
done
pass "answers identical to the upstream's (flags, EDNS, sections)"

# --- clients that resolvers really are -------------------------------------
out=$(in_guest g1 "$DNSQ" $TUN sameid web.test.lan) ||
	fail "A+AAAA with one id from one socket: $out"
pass "A and AAAA with the same id from one socket: $out"

out=$(in_guest g1 "$DNSQ" -t 10 $TUN burst 1000 web.test.lan) ||
	fail "1,000 concurrent queries: $out"
pass "1,000 concurrent queries: $out"

out=$(in_guest g1 "$DNSQ" $TUN formerr) || fail "malformed query: $out"
pass "malformed query -> FORMERR ($out)"

# --- garbage, on port 53 and on the channel ----------------------------------
in_guest g1 "$DNSQ" $TUN garbage >/dev/null || fail "could not send garbage"
out=$(in_guest g1 "$ROGUE" -t 5 -i g1 "unix:$TMP/g1" dns) ||
	fail "garbage on a dns channel was not disconnected: $out"
kill -0 "$GUEST_PID_g1" || fail "guest-netd died of garbage"
kill -0 "$HOST_NETD_PID" || fail "host-netd died of garbage"
[ "$(q +short web.test.lan A)" = "$LAN4" ] || fail "the tunnel is broken after garbage"
pass "garbage on port 53 and on the channel: no crash, the tunnel works"

stat() { netctl --dump status | awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
[ "$(stat dns.queries)" -ge 1000 ] || fail "dns.queries is $(stat dns.queries)"
[ "$(stat dns.formerr)" -ge 1 ] || fail "dns.formerr is $(stat dns.formerr)"
[ "$(stat dns.answers)" -ge 1000 ] || fail "dns.answers is $(stat dns.answers)"
pass "netctl status counts them: $(netctl status | tail -1)"

# --- upstream down, back, changed --------------------------------------------
kill "$(cat "$TMP/dnsmasq.pid")"
wait_for 5 "dnsmasq stopped" sh -c "! kill -0 $(cat "$TMP/dnsmasq.pid") 2>/dev/null"
start=$(date +%s%N)
out=$(q fresh1.test.lan A)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$out" | grep -q "status: SERVFAIL" || fail "no SERVFAIL with the upstream down: $out"
[ "$ms" -lt 4000 ] || fail "SERVFAIL took $ms ms"
pass "upstream down -> SERVFAIL in $ms ms"
bed_spawn "$NS_LAN" dnsmasq2 dnsmasq --keep-in-foreground \
    --conf-file="$TMP/dnsmasq.conf" --pid-file="$TMP/dnsmasq.pid" --log-facility=-
wait_for 5 "upstream answers again" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=2 +tries=1 web.test.lan)\" = $LAN4 ]"
pass "upstream back -> answers again"

# A second resolver with other data; the host switches to it.
ip -n "$NS_LAN" addr add 203.0.113.3/24 dev lan0
cat >"$TMP/dnsmasq-b.conf" <<EOF
no-resolv
no-hosts
bind-interfaces
listen-address=203.0.113.3
local=/test.lan/
host-record=changed.test.lan,198.51.100.9
EOF
bed_spawn "$NS_LAN" dnsmasq-b dnsmasq --keep-in-foreground \
    --conf-file="$TMP/dnsmasq-b.conf" --pid-file="$TMP/dnsmasq-b.pid" --log-facility=-
q changed.test.lan A | grep -q "status: NXDOMAIN" || fail "the first upstream knows changed.test.lan?"
printf 'nameserver 203.0.113.3\nsearch test.lan\n' >"/etc/netns/$NS_HOST/resolv.conf"
wait_for 5 "the tunnel follows resolv.conf" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=2 +tries=1 changed.test.lan)\" = 198.51.100.9 ]"
pass "the host's resolv.conf changed -> followed"
printf 'nameserver %s\nsearch test.lan\n' $LAN4 >"/etc/netns/$NS_HOST/resolv.conf"
wait_for 5 "back to the first upstream" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=2 +tries=1 web.test.lan)\" = $LAN4 ]"

# --- the host goes away with queries pending ---------------------------------
# The upstream swallows queries, so they wait in host-netd's c-ares...
ip netns exec "$NS_LAN" nft -f - <<EOF
table inet blackhole {
	chain in {
		type filter hook input priority 0
		udp dport 53 drop
		tcp dport 53 drop
	}
}
EOF
# A silent upstream: SERVFAIL from c-ares' timeout (2.4 s), before the
# guest's own deadline (4 s) and well before a resolver gives up (5 s).
start=$(date +%s%N)
out=$(q silent.test.lan A)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$out" | grep -q "status: SERVFAIL" || fail "no SERVFAIL from a silent upstream: $out"
[ "$ms" -ge 2000 ] && [ "$ms" -lt 3500 ] || fail "SERVFAIL after $ms ms, not from the upstream timeout"
pass "silent upstream -> SERVFAIL on timeout after $ms ms"
(in_guest g1 dig +time=6 +tries=1 pending.test.lan A >"$TMP/pending.out" 2>&1; date +%s%N >"$TMP/pending.end") &
sleep 0.5
killed=$(date +%s%N)
kill -9 "$HOST_NETD_PID"
wait_for 5 "the pending query answered" test -s "$TMP/pending.end"
ms=$(( ($(cat "$TMP/pending.end") - killed) / 1000000 ))
grep -q "status: SERVFAIL" "$TMP/pending.out" || fail "no SERVFAIL for a query lost with the host: $(cat "$TMP/pending.out")"
[ "$ms" -lt 1000 ] || fail "the lost query was answered after $ms ms, not at once"
pass "host-netd gone with a query pending -> SERVFAIL after $ms ms"
ip netns exec "$NS_LAN" nft delete table inet blackhole
bed_host_netd
wait_online g1
wait_for 10 "the tunnel reconnects" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=2 +tries=1 web.test.lan)\" = $LAN4 ]"
pass "the tunnel comes back with host-netd"

# --- dns none: the tunnel goes, resolv.conf stays ----------------------------
cp "$rc" "$TMP/resolv.before"
sed -i '/^vm "g1" {/a \	dns none' "$TMP/host-netd.conf"
netctl reload >/dev/null || fail "reload refused"
wait_for 5 "the tunnel address leaves lo" sh -c \
	"! ip -n $(guest_ns g1) -4 -o addr show dev lo | grep -q $TUN"
cmp -s "$rc" "$TMP/resolv.before" || fail "dns none touched resolv.conf"
if in_guest g1 dig +short +time=1 +tries=1 @$TUN web.test.lan >/dev/null 2>&1 &&
    [ -n "$(in_guest g1 dig +short +time=1 +tries=1 @$TUN web.test.lan)" ]; then
	fail "the tunnel still answers with dns none"
fi
pass "dns none: tunnel and address gone, resolv.conf untouched"

# --- a namespace guest sharing the host's /etc ---------------------------------
# Without /etc/netns/NAME/resolv.conf, ip netns exec leaves the host's /etc in
# place: guest-netd with its default --resolv-conf must refuse to rewrite the
# host's DNS, and say so where netctl shows it. (The host's file is restored
# on exit should that ever fail.)
cp /etc/resolv.conf "$TMP/host-resolv.conf"
BED_CLEANUP_HOOK='cmp -s /etc/resolv.conf "$TMP/host-resolv.conf" || cat "$TMP/host-resolv.conf" >/etc/resolv.conf'
NS_SHARED=vmn-g2-$SFX
bed_netns_add "$NS_SHARED" lo-down
rm -f "/etc/netns/$NS_SHARED/resolv.conf"
printf 'vm "g2" {\n\tlink veth netns "%s"\n\thost-ifname "vmn-g2"\n\tchannel "unix:%s/g2"\n}\n' \
    "$NS_SHARED" "$TMP" | netctl register - >/dev/null || fail "register g2"
bed_spawn "$NS_SHARED" guest-g2 "$GUEST_NETD" -d -v --host "unix:$TMP/g2" \
    --proxy-env "$TMP/g2-proxy.sh" --pidfile "$TMP/g2.pid"
wait_for 10 "g2's configuration refused" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | grep -q 'not writing /etc/resolv.conf: it is the host'"
cmp -s /etc/resolv.conf "$TMP/host-resolv.conf" || fail "a namespace guest rewrote the host's /etc/resolv.conf"
grep -q "/etc/resolv.conf: it is the host's" "$TMP/guest-g2.log" ||
	fail "guest-netd did not warn at start: $(head -3 "$TMP/guest-g2.log")"
pass "a namespace sharing the host's /etc: resolv.conf left alone, the reason in netctl vms"
