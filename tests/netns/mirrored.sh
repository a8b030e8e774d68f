#!/bin/bash
# tests/netns/mirrored.sh - mirrored mode: the guest on the host's addresses
#
# The host namespace's uplink up0 (203.0.113.2, 2001:db8:1::2, default
# routes to the lan) is mirrored into guest g1: an interface up0 in the
# guest with up0's MAC, addresses and routes, its own slice of ports, and
# traffic steered in the kernel. Checks, each with traffic: the guest's
# view; guest -> lan over TCP, UDP and ping, IPv4 and IPv6, seen from the
# lan as the host's address; the host's own connections and listeners
# untouched; lan -> a guest server (inbound allow) and the host's own
# server on another port; the guest's loopback server on the host's
# localhost; the slice reserved on the host; a container behind the
# guest's own NAT getting out; two mirrored guests (one with
# the LAN kept out) and a NAT one side by side; a port the host has (the
# guest gets it once the host lets it go), a port
# the guest has; a LAN peer that is not the gateway; the host changing
# (addresses, MTU, the uplink down and up), followed within a second;
# kill -9 and a restart; modes switched on reload; SIGTERM leaves nothing;
# the steering table's goldens load into a kernel.
TEST_NAME=mirrored
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_guest g3
conf=$(VM_EXTRA='	mode mirrored
	inbound allow' bed_write_conf g1)
# g2 mirrored too, the LAN kept out (the default); g3 in NAT mode beside them.
cat >>"$conf" <<EOF
vm "g2" {
	mode mirrored
	link veth netns "$(guest_ns g2)"
	host-ifname "vmn-g2"
	channel "unix:$TMP/g2"
}
vm "g3" {
	link veth netns "$(guest_ns g3)"
	host-ifname "vmn-g3"
	channel "unix:$TMP/g3"
}
EOF
bed_host_netd
bed_guest_netd g1
bed_guest_netd g2
bed_guest_netd g3
wait_online g1 g2 g3
G=$(guest_ns g1)
# reserved_covers LO HI: the host's reserved ports hold LO..HI.
reserved_covers() {
	in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports | tr ',' '\n' |
	    awk -F- -v lo="$1" -v hi="$2" '{ b = $2 == "" ? $1 : $2 }
		$1 <= lo && b >= hi { f = 1 } END { exit !f }'
}

# --- what the guest sees ------------------------------------------------------
hmac=$(in_host cat /sys/class/net/up0/address)
[ "$(in_guest g1 cat /sys/class/net/up0/address)" = "$hmac" ] ||
	fail "the guest's up0 has not the host's MAC: $(in_guest g1 ip -br link)"
in_guest g1 ip -4 -o addr show dev up0 | grep -q "inet $HOST4/24" ||
	fail "the guest lacks $HOST4: $(in_guest g1 ip -o addr)"
in_guest g1 ip -6 -o addr show dev up0 | grep -q "inet6 $HOST6/64" ||
	fail "the guest lacks $HOST6: $(in_guest g1 ip -o addr)"
in_guest g1 ip route | grep -q "^default via $LAN4 dev up0" ||
	fail "no default route in the guest: $(in_guest g1 ip route)"
in_guest g1 ip -6 route | grep -q "^default via $LAN6 dev up0" ||
	fail "no IPv6 default route in the guest: $(in_guest g1 ip -6 route)"
read -r lo hi < <(in_guest g1 cat /proc/sys/net/ipv4/ip_local_port_range)
reserved_covers "$lo" "$hi" ||
	fail "the guest's ports $lo-$hi are not reserved on the host: $(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
pass "guest up0: the host's MAC, addresses, routes; its ports $lo-$hi reserved on the host"

# --- the guest goes out as the host -------------------------------------------
[ "$(in_guest g1 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "guest -> lan over TCP: $(in_guest g1 curl -sS -m 5 http://$LAN4:8080/ 2>&1)"
[ "$(in_guest g1 curl -sS -m 5 "http://[$LAN6]:8080/")" = \
    "[2001:0db8:0001:0000:0000:0000:0000:0002]" ] ||
	fail "guest -> lan over TCP/IPv6: $(in_guest g1 curl -sS -m 5 "http://[$LAN6]:8080/" 2>&1)"
in_guest g1 ping -c 1 -W 3 $LAN4 >/dev/null || fail "guest ping $LAN4"
in_guest g1 ping -6 -c 1 -W 3 $LAN6 >/dev/null || fail "guest ping $LAN6"
[ "$(in_guest g1 dig +short +time=3 +tries=1 @$LAN4 web.test.lan A)" = "$LAN4" ] ||
	fail "guest -> lan over UDP (DNS)"
[ "$(in_host curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "the host's own connection to the lan"
pass "guest -> lan over TCP, UDP, ping, IPv4 and IPv6, as the host; the host's own too"

# --- the lan comes in ---------------------------------------------------------
bed_spawn "$G" guest-web socat TCP6-LISTEN:9000,fork,reuseaddr,ipv6only=0 SYSTEM:'echo guest-9000'
bed_spawn "$NS_HOST" host-web socat TCP4-LISTEN:9100,fork,reuseaddr SYSTEM:'echo host-9100'
HOST_WEB_PID=$LAST_PID
wait_for 5 "lan reaches the guest's 9000" sh -c \
	"[ \"\$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9000 </dev/null)\" = guest-9000 ]"
[ "$(ip netns exec $NS_LAN socat -T2 - "TCP6:[$HOST6]:9000" </dev/null)" = guest-9000 ] ||
	fail "lan -> guest 9000 over IPv6"
[ "$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9100 </dev/null)" = host-9100 ] ||
	fail "lan -> the host's own 9100"
wait_for 5 "9000 forwarded to host localhost" sh -c \
	"[ \"\$(ip netns exec $NS_HOST socat -T2 - TCP4:127.0.0.1:9000 </dev/null)\" = guest-9000 ]"
pass "lan -> guest's 9000 (inbound allow), lan -> host's 9100, host localhost:9000 -> guest"

# --- two mirrored guests and a NAT one, side by side ------------------------------
read -r lo2 hi2 < <(in_guest g2 cat /proc/sys/net/ipv4/ip_local_port_range)
[ "$hi2" -lt "$lo" ] || [ "$lo2" -gt "$hi" ] || fail "g2's ports $lo2-$hi2 overlap g1's $lo-$hi"
reserved=$(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports)
reserved_covers "$lo2" "$hi2" ||
	fail "g2's ports $lo2-$hi2 are not reserved: $reserved"
pids=()
for g in g1 g2; do
	in_guest $g curl -sS -m 5 -o "$TMP/$g.bulk" http://$LAN4:80/ &
	pids+=($!)
done
wait "${pids[@]}"
for g in g1 g2; do
	grep -q "hello from lan" "$TMP/$g.bulk" || fail "$g -> lan while the other was out"
done
[ "$(in_guest g3 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "the NAT guest g3 beside them"
# The NAT guest's connections leave from ports below the mirrored slices:
# replies to a slice port would be steered to a mirrored guest.
bed_spawn "$NS_LAN" whoport socat TCP4-LISTEN:8082,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERPORT'
wait_for 5 "the lan's port echo" sh -c "ip netns exec $NS_LAN ss -Hltn 'sport = 8082' | grep -q ."
low=$(( lo2 < lo ? lo2 : lo ))
# g3 picks its own ports in g1's slice, as any NAT guest may.
ip netns exec "$(guest_ns g3)" sysctl -qw net.ipv4.ip_local_port_range="$lo $hi"
for i in $(seq 40); do
	p=$(in_guest g3 socat -T2 - TCP4:$LAN4:8082 </dev/null)
	[ -n "$p" ] && [ "$p" -lt "$low" ] ||
		fail "a NAT connection left from port ${p:-none}, in the mirrored slices (from $low)"
done
bed_spawn "$(guest_ns g2)" g2-web socat TCP4-LISTEN:9200,fork,reuseaddr SYSTEM:'echo guest-9200'
wait_for 5 "g2's 9200 held on the host" sh -c "ip netns exec $NS_HOST ss -Htan 'sport = 9200' | grep -q ."
out=$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9200 </dev/null 2>&1) &&
	fail "lan reached g2's 9200 with inbound deny: $out"
in_guest g2 ping -c 1 -W 3 $LAN4 >/dev/null || fail "g2 ping with inbound deny"
pass "g1 and g2 mirrored with their own slices ($lo-$hi, $lo2-$hi2), g3 by NAT below them; g2's servers kept from the lan (deny)"

# --- a container in the guest, behind the guest's own NAT (as Docker makes it) ----
NS_C=vmn-c1-$SFX
bed_netns_add "$NS_C"
ip link add cveth netns "$G" type veth peer name eth0 netns "$NS_C"
ip -n "$G" addr add 10.88.0.1/24 dev cveth
ip -n "$G" link set cveth up
ip -n "$NS_C" addr add 10.88.0.2/24 dev eth0
ip -n "$NS_C" link set eth0 up
ip -n "$NS_C" route add default via 10.88.0.1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$G" nft -f - <<EOF
table ip docker {
	chain postrouting {
		type nat hook postrouting priority srcnat;
		oifname "up0" masquerade
	}
}
EOF
ip netns exec "$G" nft list table inet vmnetd_guest | grep -q "masquerade to :$lo-$hi" ||
	fail "guest-netd's masquerading for containers: $(ip netns exec "$G" nft list ruleset 2>&1 | head -20)"
for i in 1 2 3; do
	[ "$(ip netns exec "$NS_C" curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ] ||
		fail "the container's connection $i to the lan"
done
pass "a container behind the guest's own NAT gets out (masqueraded into the guest's slice)"

# --- ports the host has, ports the guest has ------------------------------------
bed_spawn "$G" guest-9100 socat TCP4-LISTEN:9100,fork,reuseaddr SYSTEM:'echo guest-9100'
wait_for 5 "the conflict on 9100 reported" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep inbound | grep 9100 | grep -q 'in use on the host: '"
[ "$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9100 </dev/null)" = host-9100 ] ||
	fail "the host's own 9100 was taken by the guest"
grep -q "vm g1: tcp port 9100: in use on the host: \(socat (pid [0-9]*)\|a program of uid 0\)" "$TMP/host-netd.log" ||
	fail "the conflict is not logged with its holder"
if in_host socat -T1 TCP4-LISTEN:9000,reuseaddr - </dev/null 2>"$TMP/bind.err"; then
	fail "a host program took the guest's port 9000"
fi
grep -q "Address already in use" "$TMP/bind.err" ||
	fail "binding the guest's 9000 on the host: $(cat "$TMP/bind.err")"
pass "a port the host has stays the host's (reported with its holder); the guest's 9000 is held on the host"

# The host's program ends: the guest gets its 9100 (tried every 2 s).
kill "$HOST_WEB_PID"
wait_for 5 "the guest's 9100 held" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep inbound | grep -w 9100 | grep -q active"
[ "$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9100 </dev/null)" = guest-9100 ] ||
	fail "lan does not reach the guest's 9100 once the host let it go"
grep -q "vm g1: tcp port 9100 held at last" "$TMP/host-netd.log" || fail "9100's hold not logged"
[ "$(grep -c "vm g1: tcp port 9100: in use on the host" "$TMP/host-netd.log")" = 1 ] ||
	fail "9100's conflict logged again at each retry: $(grep "port 9100" "$TMP/host-netd.log")"
pass "the port let go by the host: the guest holds it, the lan reaches the guest's"

# --- a lan peer, not the gateway --------------------------------------------------
ip -n "$NS_LAN" addr add 203.0.113.9/24 dev lan0
ip netns exec "$NS_LAN" ip -6 addr add 2001:db8:1::9/64 dev lan0 nodad
in_guest g1 ping -c 1 -W 3 203.0.113.9 >/dev/null || fail "guest ping lan peer 203.0.113.9"
in_guest g1 ping -6 -c 1 -W 3 2001:db8:1::9 >/dev/null || fail "guest ping lan peer 2001:db8:1::9"
pass "lan peers beyond the gateway resolve and answer"

# --- the host changes; the guest follows within a second ----------------------------
in_host ip addr add 203.0.113.77/24 dev up0
wait_for 1 "the new address in the guest" sh -c \
	"ip -n $G -4 -o addr show dev up0 | grep -q 203.0.113.77"
in_host ip link set up0 mtu 1400
wait_for 1 "the new MTU in the guest" sh -c \
	"ip -n $G -o link show dev up0 | grep -q 'mtu 1400'"
in_host ip addr del 203.0.113.77/24 dev up0
wait_for 1 "the address gone in the guest" sh -c \
	"! ip -n $G -4 -o addr show dev up0 | grep -q 203.0.113.77"
in_host ip link set up0 down
wait_for 1 "the guest's up0 without carrier" sh -c \
	"ip -n $G -o link show dev up0 | grep -q NO-CARRIER"
in_host ip link set up0 up
in_host ip route replace default via $LAN4
in_host ip -6 route replace default via $LAN6
wait_for 2 "the guest's up0 with carrier and routes again" sh -c \
	"! ip -n $G -o link show dev up0 | grep -q NO-CARRIER && ip -n $G route | grep -q '^default via $LAN4'"
wait_for 3 "guest -> lan after the uplink came back" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://$LAN4:8080/)\" = $HOST4 ]"
pass "followed: an address added and removed, the MTU, the uplink down and up"

# The default route moves to a second uplink, and back: the guests follow.
ip link add up1 netns "$NS_HOST" type veth peer name lan1 netns "$NS_LAN"
ip -n "$NS_LAN" addr add 198.51.100.1/24 dev lan1
ip -n "$NS_LAN" link set lan1 up
in_host ip addr add 198.51.100.2/24 dev up1
in_host ip link set up1 up
in_host ip route replace default via 198.51.100.1 dev up1
wait_for 1 "g1 on up1" sh -c "ip -n $G -4 -o addr show dev up1 2>/dev/null | grep -q 'inet 198.51.100.2/'"
[ "$(in_guest g1 cat /sys/class/net/up1/address)" = "$(in_host cat /sys/class/net/up1/address)" ] ||
	fail "g1's up1 has not up1's MAC"
wait_for 3 "g1 out through up1" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://$LAN4:8080/)\" = 198.51.100.2 ]"
in_guest g1 ip link show up0 >/dev/null 2>&1 && fail "g1 kept up0 after the move"
in_host ip route replace default via $LAN4 dev up0
in_host ip link set up1 down
wait_for 1 "g1 back on up0" sh -c "ip -n $G -4 -o addr show dev up0 2>/dev/null | grep -q 'inet $HOST4/'"
wait_online g1 g2
wait_for 3 "g1 out through up0 again" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://$LAN4:8080/)\" = $HOST4 ]"
wait_for 5 "lan reaches the guest's 9000 after the move" sh -c \
	"[ \"\$(ip netns exec $NS_LAN socat -T2 - TCP4:$HOST4:9000 </dev/null)\" = guest-9000 ]"
pass "the default route moved to up1 and back: the guest followed both ways"

# --- a VPN and a second network at once: the guest mirrors every uplink ---------------
# The VPN: a tun on each side (socat over UDP across the lan), its 0/1 and
# 128/1 routes taking over from the default route as OpenVPN's do; an L3
# uplink, without MACs. The lan is 10.9.9.9 behind it. The guest's up0
# stays as it is while they come and go.
up0_index=$(in_guest g1 cat /sys/class/net/up0/ifindex)
bed_spawn "$NS_LAN" vpn-lan socat -b 65535 \
	TUN:10.8.0.1/24,tun-name=vpnl,tun-type=tun,iff-no-pi,iff-up UDP4-LISTEN:9999
wait_for 5 "the lan's VPN end" sh -c "ip netns exec $NS_LAN ss -Hlun 'sport = 9999' | grep -q ."
bed_spawn "$NS_HOST" vpn-host socat -b 65535 \
	TUN:10.8.0.2/24,tun-name=vpn0,tun-type=tun,iff-no-pi,iff-up UDP4:$LAN4:9999
VPN_PID=$LAST_PID
ip -n "$NS_LAN" addr add 10.9.9.9/32 dev lo
# The answer after the datagram is read: a shell that answered and exited
# first would leave socat nowhere to write it (EPIPE), and no answer.
bed_spawn "$NS_LAN" vpn-udp socat UDP4-RECVFROM:5400,bind=10.9.9.9,fork \
	SYSTEM:'read -r _; echo \$SOCAT_PEERADDR'
wait_for 5 "vpn0 on the host" sh -c "ip -n $NS_HOST link show vpn0 >/dev/null 2>&1"
in_host ip route add 0.0.0.0/1 via 10.8.0.1 dev vpn0
in_host ip route add 128.0.0.0/1 via 10.8.0.1 dev vpn0
wait_for 5 "the host through the VPN" sh -c \
	"[ \"\$(ip netns exec $NS_HOST curl -sS -m 1 http://10.9.9.9:8080/)\" = 10.8.0.2 ]"
wait_for 2 "g1 on vpn0" sh -c "ip -n $G -4 -o addr show dev vpn0 2>/dev/null | grep -q 'inet 10.8.0.2/24'"
in_guest g1 ip -o link show vpn0 | grep -q NOARP || fail "g1's vpn0 does ARP: $(in_guest g1 ip -o link show vpn0)"
in_guest g1 ip route | grep -q "^0.0.0.0/1 via 10.8.0.1 dev vpn0" ||
	fail "the VPN's routes in g1: $(in_guest g1 ip route)"
wait_online g1 g2
wait_for 3 "g1 through the VPN as the host's 10.8.0.2" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://10.9.9.9:8080/)\" = 10.8.0.2 ]"
in_guest g1 ping -c 1 -W 3 10.9.9.9 >/dev/null || fail "g1 ping through the VPN"
[ "$(echo hi | in_guest g1 socat -T2 - UDP4:10.9.9.9:5400)" = 10.8.0.2 ] ||
	fail "g1 -> the VPN's far side over UDP"
[ "$(in_guest g1 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "g1 -> the lan beside the VPN"
[ "$(ip netns exec $NS_LAN socat -T2 - TCP4:10.8.0.2:9000 </dev/null)" = guest-9000 ] ||
	fail "the VPN's far side -> g1's 9000"
[ "$(in_host curl -sS -m 5 http://10.9.9.9:8080/)" = 10.8.0.2 ] ||
	fail "the host's own connection through the VPN"
pass "a VPN (an L3 uplink): g1 has vpn0 without ARP, its address and routes; out and in through it, as the host"

# A second network with its own default route (a higher metric): both.
in_host ip link set up1 up
in_host ip route add default via 198.51.100.1 dev up1 metric 200
wait_for 2 "g1 on up1 beside up0" sh -c \
	"ip -n $G -4 -o addr show dev up1 2>/dev/null | grep -q 'inet 198.51.100.2/' &&
	 ip -n $G -4 -o addr show dev up0 | grep -q 'inet $HOST4/'"
in_guest g1 ip route | grep -q "^default via 198.51.100.1 dev up1 .*metric 200" ||
	fail "up1's default route in g1: $(in_guest g1 ip route)"
wait_online g1 g2
wait_for 3 "g1 -> the second network" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://198.51.100.1:8080/)\" = 198.51.100.2 ]"
[ "$(in_guest g1 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] || fail "g1 -> up0's lan beside up1"
[ "$(in_guest g1 curl -sS -m 5 http://10.9.9.9:8080/)" = 10.8.0.2 ] || fail "g1 -> the VPN beside up1"
[ "$(in_guest g2 curl -sS -m 5 http://198.51.100.1:8080/)" = 198.51.100.2 ] || fail "g2 -> the second network"
[ "$(in_guest g1 cat /sys/class/net/up0/ifindex)" = "$up0_index" ] ||
	fail "g1's up0 was made again when the VPN and up1 came"
pass "two networks and a VPN at once: g1 and g2 mirror all three, g1's up0 untouched"

# The VPN goes, the second network's route goes: back to up0 alone.
kill "$VPN_PID"
in_host ip route del default via 198.51.100.1 dev up1 metric 200
wait_for 2 "g1 on up0 alone" sh -c \
	"! ip -n $G link show vpn0 >/dev/null 2>&1 && ! ip -n $G link show up1 >/dev/null 2>&1"
in_host ip -o link | grep -q "vmn-g1+" && fail "a link for a gone uplink is left: $(in_host ip -br link)"
wait_online g1 g2
wait_for 3 "g1 out through up0 alone" sh -c \
	"[ \"\$(ip netns exec $G curl -sS -m 1 http://$LAN4:8080/)\" = $HOST4 ]"
[ "$(in_guest g1 cat /sys/class/net/up0/ifindex)" = "$up0_index" ] ||
	fail "g1's up0 was made again when the VPN and up1 went"
pass "the VPN and the second network gone: g1 on up0 alone, untouched, nothing left on the host"

# --- restarted, even killed: consistent ------------------------------------------------
kill -9 "$HOST_NETD_PID"
wait_for 5 "host-netd gone" sh -c "! kill -0 $HOST_NETD_PID"
bed_host_netd
wait_online g1 g2 g3
reaches_9000() {
	[ "$(ip netns exec "$NS_LAN" socat -T2 - TCP4:$HOST4:9000 </dev/null)" = guest-9000 ]
}
for _ in $(seq 50); do reaches_9000 && break; sleep 0.1; done
reaches_9000 || fail "lan does not reach the guest's 9000 after the restart: $(netctl --dump forwards | grep -w 9000;
	in_host nft list table netdev vmnetd_mirror 2>&1 | grep -n '9000\|elements' | head; grep -n '9000' "$TMP/host-netd.log" | tail -5
	in_host ss -tuanpe 'sport = :9000')"
[ "$(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "$reserved" ] ||
	fail "after a kill -9 and a restart: reserved $(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports), not $reserved"
[ "$(in_host nft list tables | grep -c vmnetd_mirror)" = 1 ] || fail "steering tables: $(in_host nft list tables)"
pass "killed with -9 and started again: the same slice, one table, the guest reachable"

# --- modes switched on reload ----------------------------------------------------
sed -i '/^vm "g2" {/,/^}/ s/^\tmode mirrored$/\tmode nat/; /^vm "g3" {/ a \	mode mirrored' "$conf"
netctl reload >/dev/null || fail "reload switching g2 to NAT and g3 to mirrored"
wait_for 5 "g3 mirrored" sh -c "ip -n $(guest_ns g3) -4 -o addr show dev up0 2>/dev/null | grep -q 'inet $HOST4/'"
wait_for 5 "g2 by NAT" sh -c "ip -n $(guest_ns g2) -4 -o addr show dev eth0 2>/dev/null | grep -q 'inet 172\.'"
wait_online g2 g3
[ "$(in_guest g3 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] || fail "g3 out, now mirrored"
[ "$(in_guest g2 curl -sS -m 5 http://$LAN4:8080/)" = "$HOST4" ] || fail "g2 out, now by NAT: $(in_guest g2 ip -br addr; in_guest g2 ip route; in_guest g2 ip neigh; in_guest g2 curl -sS -m 2 http://$LAN4:8080/ 2>&1; in_host ip -br addr; in_host nft list table inet vmnetd | head -30)"
pass "reload: g2 mirrored -> NAT, g3 NAT -> mirrored, both out"

# --- SIGTERM leaves nothing ----------------------------------------------------
kill -TERM "$HOST_NETD_PID"
wait_for 5 "host-netd exits" sh -c "! kill -0 $HOST_NETD_PID"
in_host nft list tables | grep -q vmnetd_mirror && fail "the steering table is left"
[ -z "$(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports)" ] ||
	fail "the reservation is left: $(in_host cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
pass "SIGTERM: no steering table, no reserved ports left"

# The steering tables tests/unit/test_steer.c holds as goldens load, in a
# namespace with the links they name.
NS_GOLD=vmn-gold-$SFX
bed_netns_add "$NS_GOLD"
for l in up0 up1 vmn-g1 vmn-g2 vmn-g3 vmn-g1+1; do
	ip -n "$NS_GOLD" link add "$l" type veth peer name "x$l"
done
ip -n "$NS_GOLD" tuntap add tun0 mode tun
for f in "$VMN_SRCDIR"/tests/unit/nft/mirror-*.nft; do
	ip netns exec "$NS_GOLD" nft -f "$f" ||
		fail "nft refuses the golden $(basename "$f")"
done
pass "the steering goldens load"
