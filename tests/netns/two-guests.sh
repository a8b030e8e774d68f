#!/bin/bash
# tests/netns/two-guests.sh - two guests at once, each its own, isolated
#
# Checks: two guests come online with distinct subnets (one picked, one
# configured) and both reach the
# lan; neither can open a connection to the other; allow-vm, added by a
# reload through netctl, lets g1 reach g2 but still not g2 reach g1, and
# leaves g1 and g2 running untouched; a reload of a broken file is refused
# and changes nothing; after a host-netd restart each guest has its own
# address again.
TEST_NAME=two-guests
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 g2 >/dev/null
# g2 has a fixed subnet and the host's resolvers; g1's subnet is picked
# and its DNS tunneled.
sed -i '/^vm "g2" {/a \	subnet 10.99.7.0/24\n\tdns host' "$TMP/host-netd.conf"
bed_host_netd
bed_guest_netd g1
bed_guest_netd g2
wait_online g1 g2

a1=$(vm_field g1 address); a1=${a1%/*}
a2=$(vm_field g2 address); a2=${a2%/*}
[ "${a1%.*}" != "${a2%.*}" ] || fail "g1 ($a1) and g2 ($a2) share a subnet"
[ "$a2" = 10.99.7.2 ] || fail "g2 did not get its configured subnet: $a2"
log "g1 $a1, g2 $a2"
for g in g1 g2; do
	[ "$(in_guest $g curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ] ||
		fail "$g cannot reach the lan"
	[ "$(in_guest $g dig +short +time=2 +tries=1 web.test.lan)" = "$LAN4" ] ||
		fail "$g has no DNS"
done
grep -qx "nameserver $LAN4" "/etc/netns/$(guest_ns g2)/resolv.conf" ||
	fail "dns host: g2 does not use the host's nameserver"
grep -qx "nameserver 10.255.255.254" "/etc/netns/$(guest_ns g1)/resolv.conf" ||
	fail "dns tunnel: g1 does not use the tunnel"
pass "both online, distinct subnets, lan and DNS (tunnel, host) reachable"

for g in g1 g2; do
	bed_spawn "$(guest_ns $g)" "server-$g" socat TCP-LISTEN:9000,fork,reuseaddr \
	    SYSTEM:"echo $g"
	wait_for 5 "$g server" in_guest $g sh -c "ss -ltn | grep -q :9000"
done
reach() { # reach FROM ADDR
	[ "$(in_guest "$1" socat -T2 - TCP:"$2":9000,connect-timeout=2 </dev/null 2>/dev/null)" != "" ]
}
reach g1 "$a2" && fail "g1 reached g2 while isolated"
reach g2 "$a1" && fail "g2 reached g1 while isolated"
pass "isolated from each other by default"

sed -i '/^vm "g1" {/a \	allow-vm "g2"' "$TMP/host-netd.conf"
connects=$(grep -c "vm g1: guest connected" "$TMP/host-netd.log")
netctl reload >/dev/null || fail "reload refused"
reach g1 "$a2" || fail "g1 cannot reach g2 with allow-vm"
reach g2 "$a1" && fail "g2 reached g1: allow-vm is one way"
# Only the firewall changed: nobody's link or session was recreated.
[ "$(grep -c "vm g1: guest connected" "$TMP/host-netd.log")" = "$connects" ] ||
	fail "g1 was disconnected by a reload that only changed allow-vm"
wait_online g1 g2
[ "$(vm_field g1 address)" = "$a1/24" ] || fail "g1 changed address on reload"
pass "allow-vm by reload: g1 -> g2 only, applied in place"

cp "$TMP/host-netd.conf" "$TMP/good.conf"
echo 'vm "g3" { link bogus }' >>"$TMP/host-netd.conf"
if netctl reload 2>"$TMP/reload.err"; then
	fail "a broken file was accepted"
fi
grep -q "errors; the running configuration stays" "$TMP/reload.err" ||
	fail "unclear reload error: $(cat "$TMP/reload.err")"
grep -q "host-netd.conf:[0-9]*: unknown link type \"bogus\"" "$TMP/host-netd.log" ||
	fail "the log does not say where the error is"
reach g1 "$a2" || fail "a refused reload changed the running state"
[ "$(netctl --dump vms | tail -n +2 | wc -l)" = 2 ] || fail "VM list changed"
# The same through SIGHUP.
kill -HUP "$HOST_NETD_PID"
wait_for 5 "SIGHUP reload refused" sh -c \
	"[ \$(grep -c 'has errors; the running configuration stays' $TMP/host-netd.log) -ge 2 ]"
kill -0 "$HOST_NETD_PID" || fail "host-netd died on SIGHUP with a broken file"
reach g1 "$a2" || fail "a refused SIGHUP reload changed the running state"
cp "$TMP/good.conf" "$TMP/host-netd.conf"
# And a good file through SIGHUP: g1 loses allow-vm again.
sed -i '/allow-vm "g2"/d' "$TMP/host-netd.conf"
kill -HUP "$HOST_NETD_PID"
wait_for 5 "SIGHUP reload applied" sh -c "! ip netns exec $NS_HOST nft list table inet vmnetd | grep -q 'iifname \"vmn-g1\" accept'"
reach g1 "$a2" && fail "allow-vm removed by SIGHUP, but g1 still reaches g2"
pass "a broken file is refused (netctl and SIGHUP); a good one applies"

kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
bed_host_netd
wait_online g1 g2
[ "$(vm_field g1 address)" = "$a1/24" ] || fail "g1 changed address across restart"
[ "$(vm_field g2 address)" = "$a2/24" ] || fail "g2 changed address across restart"
for g in g1 g2; do
	[ "$(in_guest $g curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ] ||
		fail "$g cannot reach the lan after restart"
done
pass "both keep their addresses across a host-netd restart"

# A host route over g2's subnet is reported once, also when the VMs before
# it in host-netd's list go away (the warning was once remembered by a VM's
# place in that list, so g2 was warned again when g1 was removed).
g2net=$(vm_field g2 address | sed 's|\.[0-9]*/24$|.0/25|')
in_host ip route add "$g2net" dev up0
wait_for 5 "the overlap reported" grep -q "vm g2: host route $g2net now overlaps" "$TMP/host-netd.log"
awk '/^vm "g1"/ { skip = 1 } !skip { print } skip && /^}/ { skip = 0 }' \
    "$TMP/host-netd.conf" >"$TMP/g2-only.conf"
cp "$TMP/g2-only.conf" "$TMP/host-netd.conf"
netctl reload >/dev/null || fail "reload without g1 refused"
wait_for 5 "g1 removed" sh -c "! ip netns exec $NS_HOST ip link show vmn-g1 2>/dev/null | grep -q ."
sleep 1.5	# the monitor's debounce, and a margin
n=$(grep -c "vm g2: host route $g2net now overlaps" "$TMP/host-netd.log")
[ "$n" = 1 ] || fail "the overlap of g2's subnet was reported $n times"
pass "a host route over a VM's subnet: reported once, also after another VM went"
