#!/bin/bash
# tests/netns/tap.sh - the tap link host-netd makes for a QEMU guest
#
# Checks: host-netd creates a persistent tap with vnet headers, tagged with
# the alias vmnetd:<vm>, carrying the gateway addresses and the uplink's
# MTU, and the VM waits for its guest; an interface of the same name that
# is not ours is never deleted (the VM reports why and retries, and comes
# up once the name is free); SIGTERM removes the tap.
TEST_NAME=tap
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
cat >"$TMP/host-netd.conf" <<EOF
state-dir "$TMP/state"
control-socket "$TMP/control.sock"
vm "qemu1" {
	link tap "vmtap-q1"
	channel "unix:$TMP/qemu1"
}
vm "qemu2" {
	link tap "vmtap-q2"
	channel "unix:$TMP/qemu2"
}
EOF
# Somebody else's interface holds qemu2's name.
in_host ip link add vmtap-q2 type bridge || fail "cannot create the foreign interface"
bed_host_netd

wait_for 5 "qemu1 waits for its guest" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | grep -q '^qemu1	nat	waiting'"
details=$(in_host ip -d link show vmtap-q1)
echo "$details" | grep -q "tun type tap" || fail "vmtap-q1 is not a tap: $details"
echo "$details" | grep -q "vnet_hdr on" || fail "vmtap-q1 lacks vnet headers: $details"
echo "$details" | grep -q "persist on" || fail "vmtap-q1 is not persistent"
echo "$details" | grep -q "alias vmnetd:qemu1" || fail "vmtap-q1 is not tagged"
echo "$details" | grep -q "mtu 1500" || fail "vmtap-q1 mtu: $details"
gw=$(vm_field qemu1 gateway)
in_host ip -4 -o addr show dev vmtap-q1 | grep -q "inet $gw/24" ||
	fail "vmtap-q1 lacks the gateway $gw"
[ "$(in_host sysctl -n net.ipv6.conf.vmtap-q1.accept_ra)" = 0 ] ||
	fail "vmtap-q1 accepts router advertisements"
mac=$(vm_field qemu1 mac)
case $mac in [0-9a-f][26ae]:*) ;; *) fail "guest MAC $mac is not locally administered" ;; esac
pass "qemu1: tap created, tagged, addressed; guest MAC $mac for QEMU"

# qemu2: the name is taken by an interface that is not ours.
wait_for 5 "qemu2 reports the conflict" sh -c \
	"$NETCTL -s $TMP/control.sock vms | grep -q 'vmtap-q2 exists and is not ours'"
in_host ip -d link show vmtap-q2 | grep -q bridge || fail "somebody else's interface was touched"
in_host ip link del vmtap-q2
wait_for 10 "qemu2 comes up once the name is free" sh -c \
	"ip netns exec $NS_HOST ip -d link show vmtap-q2 | grep -q 'alias vmnetd:qemu2'"
pass "qemu2: a foreign interface is left alone; retried until free"

kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
for t in vmtap-q1 vmtap-q2; do
	if in_host ip link show $t >/dev/null 2>&1; then
		fail "$t left behind"
	fi
done
pass "SIGTERM removes the taps"
