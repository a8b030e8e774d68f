#!/bin/bash
# tests/netns/faults.sh - faults of the host, survived
#
# The faults: the uplink down and up again (its routes gone with it, put
# back as DHCP would); the default route moving to another interface with
# a smaller MTU (a VPN coming up) and back; the host's resolv.conf
# rewritten 100 times in a second; the state directory's disk full (a VM
# registered then, and host-netd restarted then); host-netd, then
# guest-netd, killed outright (-9) under load (1,000 forwarded connections
# held open and a DNS flood) and started again; host-netd, its engine and
# guest-netd all stopped (SIGSTOP) for 60 s, as a host that sleeps, with
# clients waiting on a forwarded port meanwhile.
#
# After each, verified by traffic: the guest reaches the lan through NAT,
# a name resolves through the DNS tunnel, and the port the guest listens
# on answers on the host's loopback. And nothing lost or left over: the
# VM online with the same address and MAC, one link of its own, the
# nftables table rule for rule as before (counters aside), the guest's
# MTU as before. The resolv.conf storm ends on a resolver that cannot
# answer, then on the real one: the tunnel follows the last write each
# time. With the disk full, host-netd says it cannot save an identity,
# the new VM comes online all the same, the files it has are intact, and
# restarted it gives g1 the same identity from them. Not simulated: the
# clock jumping (it would move the machine's).
TEST_NAME=faults
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
# The state directory on a disk of its own, to fill.
mkdir -p "$TMP/state"
mount -t tmpfs -o size=256k,mode=0755 vmn-faults-state "$TMP/state" ||
	fail "cannot mount a tmpfs for the state directory"
BED_CLEANUP_HOOK='umount -l "$TMP/state"'
bed_host_netd
bed_guest_netd g1
wait_online g1
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
TUN=10.255.255.254
NOWHERE=203.0.113.99	# in the lan's subnet; nothing answers there

bed_spawn "$(guest_ns g1)" echo "$BULK" echo-server 8000
wait_for 10 "8000 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q '127.0.0.1:8000'"

resolves() { [ "$(in_guest g1 dig +short +time=2 +tries=1 web.test.lan A @$TUN)" = "$LAN4" ]; }
nat_works() { [ "$(in_guest g1 curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ]; }
forward_works() { [ "$(in_host "$BULK" many 127.0.0.1 8000 20)" = "20 ok of 20" ]; }
table() { in_host nft -s list table inet vmnetd; }
links() { in_host ip -o link | grep -c 'vmnetd:g1'; }

addr=$(vm_field g1 address) mac=$(vm_field g1 mac)
mtu=$(in_guest g1 cat /sys/class/net/eth0/mtu)
wait_for 10 "a name through the tunnel at start" resolves
wait_for 10 "NAT at start" nat_works
wait_for 10 "the forward at start" forward_works
table >"$TMP/table.start"
[ "$(links)" = 1 ] || fail "$(links) links of g1 at start"

# healthy WHAT: every check after fault WHAT, waiting up to 15 s for each.
healthy() {
	wait_online g1
	wait_for 15 "NAT after $1" nat_works
	wait_for 15 "a name through the tunnel after $1" resolves
	wait_for 15 "the forward after $1" forward_works
	[ "$(vm_field g1 address)" = "$addr" ] && [ "$(vm_field g1 mac)" = "$mac" ] ||
		fail "after $1: g1 is $(vm_field g1 address) $(vm_field g1 mac), was $addr $mac"
	[ "$(links)" = 1 ] || fail "after $1: $(links) links of g1"
	wait_for 10 "the guest's MTU back to $mtu after $1" sh -c \
		"[ \$(ip netns exec $(guest_ns g1) cat /sys/class/net/eth0/mtu) = $mtu ]"
	table >"$TMP/table.now"
	diff -u "$TMP/table.start" "$TMP/table.now" >"$TMP/table.diff" ||
		fail "after $1 the nftables table differs: $(cat "$TMP/table.diff")"
}

# --- the uplink down and up -------------------------------------------------
in_host ip link set up0 down
sleep 2
kill -0 "$HOST_NETD_PID" || fail "host-netd died with its uplink"
in_host ip link set up0 up
in_host ip route replace default via $LAN4
in_host ip -6 route replace default via $LAN6
healthy "the uplink went down and came up"
pass "uplink down for 2 s and up: NAT, DNS, forward, identity and table as before"

# --- a VPN takes the default route, then goes ----------------------------------
in_host ip link add vpn0 type veth peer name vpn0p
in_host ip link set vpn0p up
in_host ip link set vpn0 mtu 1380 up
in_host ip addr add 198.18.0.2/24 dev vpn0
in_host ip route replace default dev vpn0
in_host ip -6 route replace default dev vpn0
wait_for 10 "the guest's MTU follows the VPN's" sh -c \
	"[ \$(ip netns exec $(guest_ns g1) cat /sys/class/net/eth0/mtu) -le 1380 ]"
wait_for 15 "NAT to the lan (a connected route) with the VPN up" nat_works
in_host ip route replace default via $LAN4 dev up0
in_host ip -6 route replace default via $LAN6 dev up0
in_host ip link del vpn0
healthy "a VPN came and went"
pass "the default route on a VPN (MTU 1380) and back: the guest's MTU followed and came back; all as before"

# --- resolv.conf rewritten 100 times in a second --------------------------------
rc=/etc/netns/$NS_HOST/resolv.conf
storm() { # storm LAST: 100 rewrites in about a second, LAST's the last
	local i ns
	for ((i = 1; i <= 100; i++)); do
		ns=$NOWHERE
		[ $((i % 2)) = 0 ] && ns=$LAN4
		[ "$i" = 100 ] && ns=$1
		# In place: host-netd sees this file through the bind mount
		# ip netns exec makes, which a rename would not reach.
		printf 'nameserver %s\nsearch test.lan\n' "$ns" >"$rc"
		sleep 0.01
	done
}
unresolved() { ! resolves; }
t0=$(date +%s%N)
storm $NOWHERE
log "100 rewrites in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
kill -0 "$HOST_NETD_PID" || fail "host-netd died in the storm"
wait_for 15 "the tunnel to follow the last write (nothing answers)" unresolved
storm $LAN4
healthy "resolv.conf rewritten 100 times in a second"
pass "resolv.conf rewritten 100 times in a second, twice: the tunnel followed the last write each time"

# --- the state directory's disk full ------------------------------------------
dd if=/dev/zero of="$TMP/state/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$TMP/state" | tail -1)" -lt 8 ] ||
	fail "the state disk is not full: $(df "$TMP/state" | tail -1)"
cp "$TMP/state/vm/g1" "$TMP/g1.state"
bed_guest g2
printf 'vm "g2" {\n\tlink veth netns "%s"\n\thost-ifname "vmn-g2"\n\tchannel "unix:%s"\n}\n' \
    "$(guest_ns g2)" "$TMP/g2" >"$TMP/g2.vm"
netctl register "$TMP/g2.vm" >/dev/null || fail "register g2 with the disk full"
bed_guest_netd g2
wait_online g2
grep -q "vm g2: cannot save state in $TMP/state: No space left on device" "$TMP/host-netd.log" ||
	fail "host-netd did not say it could not save g2's identity"
wait_for 10 "g2 through NAT with the disk full" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g2) curl -sS -m 3 http://$LAN4:8080/)\" = $HOST4 ]"
netctl unregister g2 >/dev/null || fail "unregister g2"
kill "$GUEST_PID_g2"
# Restarted with the disk still full: g1's identity from its file.
kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
bed_host_netd
cmp -s "$TMP/state/vm/g1" "$TMP/g1.state" || fail "g1's state file changed on a full disk"
healthy "a restart with the state disk full"
rm -f "$TMP/state/filler"
pass "state disk full: g2 online unsaved (said so), g1's file intact and its identity kept across a restart"

# --- both daemons killed under load -------------------------------------------
# 1,000 forwarded connections held open, each made again as soon as it
# ends, and a DNS flood in the guest, while host-netd and then guest-netd
# are killed outright and started again. By the end every one of the
# 1,000 has its echo.
in_host "$BULK" flood 127.0.0.1 8000 1000 30 >"$TMP/flood.out" 2>&1 &
flood=$!
touch "$TMP/dnsflood.on"
(
	while [ -e "$TMP/dnsflood.on" ]; do
		in_guest g1 "$VMN_BUILDDIR/tests/tools/vmn-dnsq" -t 2 $TUN burst 100 \
		    web.test.lan >/dev/null 2>&1
	done
) &
dnsflood=$!
sleep 5
kill -9 "$HOST_NETD_PID"
wait "$HOST_NETD_PID" 2>/dev/null
bed_host_netd
wait_online g1
sleep 3
kill -9 "$GUEST_PID_g1"
wait "$GUEST_PID_g1" 2>/dev/null	# gone, its pidfile's lock with it
bed_guest_netd g1
wait_online g1
rm -f "$TMP/dnsflood.on"
wait "$dnsflood" "$flood"
grep -q "^1000 of 1000 echoed" "$TMP/flood.out" ||
	fail "1,000 connections through the kills: $(cat "$TMP/flood.out")"
healthy "host-netd and guest-netd killed under load"
pass "host-netd, then guest-netd, killed (-9) under 1,000 connections and a DNS flood: $(cat "$TMP/flood.out"); all as before"

# --- both daemons asleep for 60 s --------------------------------------------------
# A host asleep stops every process: host-netd's engine too.
ENGINE_PID=$(engine_pid) || fail "host-netd has no engine"
kill -STOP "$HOST_NETD_PID" "$ENGINE_PID" "$GUEST_PID_g1"
log "host-netd and guest-netd stopped for 60 s"
# Clients that connect meanwhile wait in the listen queue, and for their
# echo (socat -t: up to 100 s after sending).
waiting=()
for i in 1 2 3; do
	echo "asleep $i" | in_host timeout 120 socat -t 100 - TCP:127.0.0.1:8000 \
	    >"$TMP/asleep.$i" 2>&1 &
	waiting+=($!)
done
sleep 60
kill -CONT "$HOST_NETD_PID" "$ENGINE_PID" "$GUEST_PID_g1"
wait "${waiting[@]}"
for i in 1 2 3; do
	[ "$(cat "$TMP/asleep.$i")" = "asleep $i" ] ||
		fail "a connection made while asleep: $(cat "$TMP/asleep.$i")"
done
healthy "60 s asleep"
pass "both daemons stopped for 60 s: the connections made meanwhile answered on waking; all as before"
