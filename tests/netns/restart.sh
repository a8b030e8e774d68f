#!/bin/bash
# tests/netns/restart.sh - either side restarts; the guest keeps its address
#
# Checks: host-netd stopped and started again (SIGTERM, then kill -9 that
# leaves its link and table behind) gives the guest the same address and
# connectivity back; guest-netd killed with -9 and restarted re-applies the
# configuration with no duplicate addresses, routes or neighbours; stale
# objects tagged with our protocol are swept while other routes stay; the
# guest keeps its configuration while the host is away.
TEST_NAME=restart
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1

addr=$(vm_field g1 address)
addr6=$(vm_field g1 address6)
mac=$(vm_field g1 mac)
log "g1 is $addr $addr6 $mac"
grep -q "subnet4 ${addr%.*/*}.0/24" "$TMP/state/vm/g1" ||
	fail "state file does not hold the subnet: $(cat "$TMP/state/vm/g1")"

reachable() {
	[ "$(in_guest g1 curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ]
}

same_identity() {
	[ "$(vm_field g1 address)" = "$addr" ] || fail "address changed: $(vm_field g1 address), was $addr"
	[ "$(vm_field g1 address6)" = "$addr6" ] || fail "IPv6 address changed"
	[ "$(vm_field g1 mac)" = "$mac" ] || fail "MAC changed"
}

# Exactly one of each object we configure: no duplicates after re-applying.
no_duplicates() {
	local n
	n=$(in_guest g1 ip -4 -o addr show dev eth0 | wc -l)
	[ "$n" = 1 ] || fail "$n IPv4 addresses on eth0: $(in_guest g1 ip -4 -o addr)"
	n=$(in_guest g1 ip -6 -o addr show dev eth0 scope global | wc -l)
	[ "$n" = 1 ] || fail "$n global IPv6 addresses on eth0"
	n=$(in_guest g1 ip -4 route show default | wc -l)
	[ "$n" = 1 ] || fail "$n IPv4 default routes: $(in_guest g1 ip -4 route)"
	n=$(in_guest g1 ip -6 route show default | wc -l)
	[ "$n" = 1 ] || fail "$n IPv6 default routes"
	n=$(in_guest g1 ip neigh show nud permanent | wc -l)
	[ "$n" = 2 ] || fail "$n permanent neighbours: $(in_guest g1 ip neigh)"
	n=$(in_guest g1 ip -o link | grep -c 'link/ether')
	[ "$n" = 1 ] || fail "$n ethernet links in the guest"
}

reachable || fail "no connectivity at start"
no_duplicates

# --- host-netd stops cleanly and comes back --------------------------------
kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
wait_for 5 "guest-netd notices" grep -q "lost host-netd" "$TMP/guest-g1.log"
kill -0 "$GUEST_PID_g1" || fail "guest-netd died with the host"
bed_host_netd
wait_online g1
same_identity
reachable || fail "no connectivity after host-netd restart"
no_duplicates
pass "host-netd restart (SIGTERM): same address, connectivity back"

# --- host-netd killed: its link and table are left; the next run copes ----
kill -9 "$HOST_NETD_PID"
wait_for 5 "host-netd gone" sh -c "! kill -0 $HOST_NETD_PID"
in_host ip link show vmn-g1 >/dev/null || fail "kill -9 should leave the link"
# The guest keeps working meanwhile: the kernel state outlives both daemons.
reachable || fail "guest lost connectivity while host-netd was down"
in_guest g1 ip -4 -o addr show dev eth0 | grep -q "inet $addr" ||
	fail "guest dropped its configuration when the host went away"
bed_host_netd
wait_online g1
same_identity
reachable || fail "no connectivity after host-netd kill -9 and restart"
grep -q "removing vmn-g1 left by an earlier run" "$TMP/host-netd.log" ||
	fail "the stale link was not recognised as ours"
no_duplicates
[ "$(in_host nft list table inet vmnetd | grep -c masquerade)" = 1 ] ||
	fail "the table was not replaced as a whole"
pass "host-netd kill -9 and restart"

# --- guest-netd killed and restarted; stale objects swept -----------------
gw=$(vm_field g1 gateway)
in_guest g1 ip route add 10.77.0.0/16 via "$gw" proto 86
in_guest g1 ip route add 10.88.0.0/16 via "$gw" proto static
gen=$(vm_field g1 applied)
kill -9 "$GUEST_PID_g1"
wait "$GUEST_PID_g1" 2>/dev/null	# gone, its pidfile's lock with it
bed_guest_netd g1
wait_for 10 "a new generation applied" sh -c \
	"[ \"\$($NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"g1\" { print \$12 }')\" -gt $gen ]"
wait_online g1
no_duplicates
same_identity
if in_guest g1 ip route show 10.77.0.0/16 | grep -q .; then
	fail "a stale route with our protocol was not removed"
fi
in_guest g1 ip route show 10.88.0.0/16 | grep -q "proto static" ||
	fail "a route that is not ours was removed"
reachable || fail "no connectivity after guest-netd restart"
pass "guest-netd kill -9 and restart: re-applied, no duplicates, sweep"

# --- a second guest-netd for the same guest refuses to run ----------------
gen=$(vm_field g1 applied)
if in_guest g1 "$GUEST_NETD" -d --host "unix:$TMP/g1" --pidfile "$TMP/g1.pid" \
    --resolv-conf "/etc/netns/$(guest_ns g1)/resolv.conf" 2>"$TMP/second.err"; then
	fail "a second guest-netd started"
fi
grep -q "already running" "$TMP/second.err" || fail "no clear error: $(cat "$TMP/second.err")"
sleep 0.5
[ "$(vm_field g1 state)" = online ] && [ "$(vm_field g1 applied)" = "$gen" ] ||
	fail "the first guest-netd's session was disturbed"
pass "a second guest-netd for the same guest refuses to start"
