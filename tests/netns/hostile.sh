#!/bin/bash
# tests/netns/hostile.sh - a hostile guest costs only its own session
#
# g1 is a real guest; on g2's channel a rogue sends garbage, oversized
# frames, bad magic and versions, malformed and too deeply nested
# attributes, unknown or forbidden message types, frames before HELLO, a
# HELLO that claims another VM, nothing at all, and a connection flood.
# Each time host-netd must hang up on the rogue, stay up, keep g1 online
# and forwarding, and answer netctl.
TEST_NAME=hostile
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 g2 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1
ROGUE=$VMN_BUILDDIR/tests/tools/vmn-rogue
[ -x "$ROGUE" ] || fail "missing $ROGUE (make check builds it)"
gen=$(vm_field g1 applied)

healthy() {
	kill -0 "$HOST_NETD_PID" || fail "host-netd died ($1)"
	[ "$(vm_field g1 state)" = online ] || fail "g1 not online after $1"
	[ "$(vm_field g1 applied)" = "$gen" ] || fail "g1 was reconfigured by $1"
	[ "$(in_guest g1 curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ] ||
		fail "g1 lost connectivity after $1"
}

for mode in garbage magic huge version badattr deepnest unknown notallowed nohello; do
	out=$(in_guest g2 "$ROGUE" -t 5 "unix:$TMP/g2" $mode) ||
		fail "host-netd kept the connection open after '$mode': $out"
	healthy "$mode"
	pass "$mode: disconnected; g1 unaffected"
done

out=$(in_guest g2 "$ROGUE" -t 5 -i g1 "unix:$TMP/g2" wrongvm) ||
	fail "a HELLO claiming vm g1 on g2's channel was kept: $out"
echo "$out" | grep -q "error reply: this channel belongs to another VM" ||
	fail "no clear error for a HELLO claiming another VM: $out"
healthy wrongvm
# The log says why the refused connection closed (its reason was once lost).
wait_for 2 "the refused connection's close logged" \
    grep -q "vm g2: connection closed before its HELLO was accepted: this channel belongs to another VM" \
    "$TMP/host-netd.log"
! grep -E "connection closed[^:]*: *$" "$TMP/host-netd.log" ||
	fail "a connection closed with no reason in host-netd's log"
pass "wrongvm: refused with an error, logged with its reason; g1 unaffected"

# No HELLO within the deadline: dropped (HELLO_TIMEOUT_MS is 5 s).
out=$(in_guest g2 "$ROGUE" -t 8 "unix:$TMP/g2" silent) ||
	fail "a silent connection was never dropped"
healthy silent
pass "silent: dropped after the HELLO deadline"

# Trickling a HELLO byte by byte does not extend the deadline.
start=$(date +%s)
out=$(in_guest g2 "$ROGUE" -t 3 -i g2 "unix:$TMP/g2" trickle) ||
	fail "a trickled HELLO kept the connection: $out"
[ $(( $(date +%s) - start )) -le 8 ] || fail "the HELLO deadline was extended by trickling"
healthy trickle
pass "trickle: dropped at the HELLO deadline"

out=$(in_guest g2 "$ROGUE" "unix:$TMP/g2" flood) ||
	fail "a flood of 64 connections was not limited: $out"
healthy flood
pass "flood: $out; g1 unaffected"

# After all that, g2's channel still serves a well-behaved guest.
out=$(in_guest g2 "$ROGUE" -t 2 -i g2 "unix:$TMP/g2" good || true)
echo "$out" | grep -q "reply: hello" || fail "g2's channel no longer answers: $out"
echo "$out" | grep -qx open || fail "a good HELLO was disconnected: $out"
pass "g2's channel still serves a good guest"

# A guest that plays router: the host must take no route or address from it
# (VM links get accept_ra=0 whatever the host's defaults say).
in_host sysctl -qw net.ipv6.conf.default.accept_ra=2
in_guest g1 "$ROGUE" ra eth0 >/dev/null || fail "could not send router advertisements"
sleep 0.5
if in_host ip -6 route | grep -q "proto ra\|2001:db8:bad"; then
	fail "the host took a route from a guest's RA: $(in_host ip -6 route | grep 'ra\|bad')"
fi
if in_host ip -6 addr | grep -q "2001:db8:bad"; then
	fail "the host configured an address from a guest's RA"
fi
healthy "router advertisements"
pass "router advertisements from a guest are ignored by the host"

n=$(grep -c "vm g2: dropping" "$TMP/host-netd.log")
[ "$n" -ge 11 ] || fail "only $n rogue disconnects logged"
pass "$n rogue sessions dropped and logged"
