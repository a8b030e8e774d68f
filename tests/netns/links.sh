#!/bin/bash
# tests/netns/links.sh - the links host-netd makes, over their lifetime
#
# Checks: host-netd creates a persistent tap with vnet headers for a QEMU
# guest, tagged with the alias vmnetd:<vm>, carrying the gateway addresses
# and the uplink's MTU; an interface of the same name that is not ours is
# never deleted (the VM reports why, retries, and comes up once the name is
# free); a veth into a namespace given as /proc/PID/ns/net is recreated when
# deleted, long after host-netd dropped its privileges; a guest whose link
# is already up (as a VM's NIC is at boot) is renamed and online at the
# first try; a guest interface name with a dot works with IPv6; SIGTERM
# removes everything.
TEST_NAME=links
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
vm "bypath" {
	link veth netns "@NSPATH@"
	host-ifname "vmn-bypath"
	guest-ifname "lan.5"
	channel "unix:$TMP/bypath"
}
EOF
# A guest namespace known only by a process living in it.
bed_guest bypath
bed_spawn "$(guest_ns bypath)" holder sleep 600
sed -i "s|@NSPATH@|/proc/$LAST_PID/ns/net|" "$TMP/host-netd.conf"
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

# bypath: the guest's link is up before guest-netd renames it, as a VM's
# NIC is at boot; the first configuration must work.
ns=$(guest_ns bypath)
wait_for 5 "the link in the namespace" sh -c "ip -n $ns -o link | grep -q vmg-"
peer=$(ip -n "$ns" -o link | sed -n 's/^[0-9]*: \(vmg-[0-9a-f]*\)@.*/\1/p')
ip -n "$ns" link set "$peer" up
bed_guest_netd bypath
wait_online bypath
[ "$(vm_field bypath applied)" = 1 ] || fail "the first configuration failed (applied $(vm_field bypath applied))"
in_guest bypath ip -o link show lan.5 | grep -q "state UP" || fail "lan.5 is not up"
[ "$(in_guest bypath curl -sS -m 5 "http://[$LAN6]:8080/")" = "[2001:0db8:0001:0000:0000:0000:0000:0002]" ] ||
	fail "IPv6 through a dotted interface name"
pass "bypath: an up link renamed to lan.5, online at once, IPv6 works"

# The link goes away; host-netd, without privileges by now, makes it again
# in the namespace it knows by path.
in_host ip link del vmn-bypath
wait_for 10 "vmn-bypath recreated" sh -c \
	"ip netns exec $NS_HOST ip -d link show vmn-bypath 2>/dev/null | grep -q 'alias vmnetd:bypath'"
wait_online bypath
[ "$(in_guest bypath curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "no connectivity after the link was recreated"
pass "bypath: a deleted link is recreated in a namespace given by path"

kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
for t in vmtap-q1 vmtap-q2 vmn-bypath; do
	if in_host ip link show $t >/dev/null 2>&1; then
		fail "$t left behind"
	fi
done
pass "SIGTERM removes the links"
