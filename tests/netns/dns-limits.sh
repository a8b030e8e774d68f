#!/bin/bash
# tests/netns/dns-limits.sh - the DNS tunnel under a hostile or busy guest
#
# The upstream (dnsmasq in the lan) answers everything but names starting
# with "slow", which an nftables rule drops on their way to it (and all of
# TCP), so such queries wait at the host's resolvers until c-ares gives up.
#   - A query past 4 KiB is refused unsent (REFUSED), whatever its number.
#   - A VM's budget counts bytes: 600 slow queries of 4,000 bytes (2.4 MB)
#     on a dns channel, from a guest that speaks the protocol itself: at
#     most 512 KiB of them are held, the rest are SERVFAIL at once (counted
#     in dns.limited), and host-netd's memory does not grow by the flood.
#   - The budget outlives the channel: closing it and sending again at once
#     does not get past it while c-ares still holds the first flood.
#   - A VM's budget counts queries: of 3,000 small slow queries 2,048 are
#     held, the rest SERVFAIL at once. (guest-netd's own table stops a
#     well-behaved guest at 2,048; this guest speaks the protocol itself.)
#   - Fairness: while g1's queries fill the host's resolver slots and
#     queue behind them, g2's lookup of a name that answers is served in
#     its turn (round robin between guests), not after g1's whole queue,
#     which would take it past the 3 s a queued query may wait.
TEST_NAME=dns-limits
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 g2 >/dev/null
bed_host_netd
bed_guest_netd g1
bed_guest_netd g2
wait_online g1 g2
DNSQ=$VMN_BUILDDIR/tests/tools/vmn-dnsq
ROGUE=$VMN_BUILDDIR/tests/tools/vmn-rogue
TUN=10.255.255.254
stat() { netctl --dump status | awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
# The tunnel's buffers are the engine's (host-netd's guest-facing process).
ENGINE_PID=$(engine_pid) || fail "host-netd has no engine"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$ENGINE_PID/status"; }

# Queries whose name begins with the label "slow" never reach the upstream:
# the name starts at byte 12 of the UDP payload (8 + 12 bytes past the UDP
# header), "\x04slow". TCP goes nowhere at all (c-ares sends a query of
# more than 512 bytes over TCP).
ip netns exec "$NS_LAN" nft -f - <<EOF
table inet slow {
	chain in {
		type filter hook input priority 0
		udp dport 53 @th,160,40 0x04736c6f77 drop
		tcp dport 53 drop
	}
}
EOF
[ "$(in_guest g1 dig +short +time=2 +tries=1 web.test.lan)" = "$LAN4" ] ||
	fail "the tunnel does not answer"

out=$(in_guest g1 "$ROGUE" -t 3 -i g1 "unix:$TMP/g1" dnsflood=20,6000,web.test.lan)
[ "$out" = "answers 20 noerror 0 servfail 0 refused 20 formerr 0" ] ||
	fail "queries of 6,000 bytes: $out"
[ "$(stat dns.refused)" -ge 20 ] || fail "dns.refused is $(stat dns.refused)"
pass "queries past 4 KiB: REFUSED unsent ($out)"

rss0=$(rss_kb)
limited0=$(stat dns.limited)
# The flood's channel closes as soon as host-netd has taken it all in, so
# that the next one comes well within the 0.8 s c-ares holds the first.
ip netns exec "$(guest_ns g1)" "$ROGUE" -t 5 -i g1 "unix:$TMP/g1" \
    dnsflood=600,4000,slow.test.lan >"$TMP/flood1.out" &
flood=$!
limited_grew() { [ $(( $(stat dns.limited) - limited0 )) -ge "$1" ]; }
wait_for 5 "the flood taken in" limited_grew 469
kill "$flood"
wait "$flood"
out=$(cat "$TMP/flood1.out")
limited=$(( $(stat dns.limited) - limited0 ))
# 512 KiB holds 131 queries of 4,000 bytes; the rest are refused at once.
[ "$limited" -eq 469 ] ||
	fail "600 queries of 4,000 bytes: $limited refused for the budget, want 469 ($out)"
rss1=$(rss_kb)
# (Under ASan freed memory waits in a quarantine: RSS says nothing there.)
ldd "$HOST_NETD" | grep -q libasan || [ $((rss1 - rss0)) -lt 4096 ] ||
	fail "host-netd's engine grew by $((rss1 - rss0)) kB for a 2.4 MB flood"
# The first flood is still at the resolvers: a new channel gets nothing more
# (a few of the first may have been given up already: room for those).
limited0=$(stat dns.limited)
# (-t 3: its refusals come at once, but a loaded ASan run may take a second
# to set its channel up and read its queries.)
out=$(in_guest g1 "$ROGUE" -t 3 -i g1 "unix:$TMP/g1" dnsflood=50,4000,slow.test.lan)
limited=$(( $(stat dns.limited) - limited0 ))
[ "$limited" -ge 40 ] ||
	fail "a new channel got past the budget its VM still holds: $limited of 50 refused ($out)"
pass "bytes per VM: 600 x 4,000 bytes -> 469 refused at once, +$((rss1 - rss0)) kB; a new channel gets $((50 - limited)) of 50"

# Let c-ares give those up before the next flood.
sleep 3
limited0=$(stat dns.limited)
out=$(in_guest g1 "$ROGUE" -t 1 -i g1 "unix:$TMP/g1" dnsflood=3000,40,slow.test.lan)
limited=$(( $(stat dns.limited) - limited0 ))
[ "$limited" -eq 952 ] ||
	fail "3,000 slow queries: dns.limited grew by $limited (want 952): $out"
pass "queries per VM: 3,000 slow -> $limited refused at once ($out)"

sleep 3
# g1 fills the 128 slots at the resolvers and queues 1,872 more; g2's
# query waits for a slot like them, but in its own turn.
in_guest g1 "$DNSQ" -t 8 $TUN burst 2000 slow.test.lan >"$TMP/g1-flood.out" 2>&1 &
flood=$!
sleep 0.5
start=$(date +%s%N)
out=$(in_guest g2 dig +time=6 +tries=1 web.test.lan A)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$flood"
echo "$out" | grep -q "status: NOERROR" ||
	fail "g2's lookup during g1's flood: $(echo "$out" | grep status) after $ms ms"
pass "fairness: g2 answered in $ms ms while g1 had 2,000 queries waiting"
