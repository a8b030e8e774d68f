#!/bin/bash
# tests/bench/mirrored.sh - mirrored mode against the host itself, NAT and pasta
#
# Four ways onto the lan, measured in the same run:
#   host      the host namespace itself: the kernel path a mirrored guest
#             should match
#   mirrored  a namespace guest in mode mirrored (inbound allow): the host's
#             MAC and address, steered in the kernel
#   nat       a namespace guest in NAT mode; the lan reaches it through
#             static forwards on 0.0.0.0 (a user-space relay: host-netd,
#             the channel, guest-netd)
#   pasta     pasta --config-net, which also gives its namespace the host's
#             address (run as an ordinary user; it refuses root here); the
#             lan reaches it through pasta -t
# For each, both ways: iperf3 throughput (one stream, SECONDS; guest->lan
# is the guest's client sending to a lan server, lan->guest the lan's
# client sending to the guest's server on the host's address 203.0.113.2),
# and short requests on a new connection each, one at a time, for 5 s
# (vmn-bulk rr: connections per second, p50/p99 latency). Every path has
# its own servers and ports. Prints a table with ratios to host.
#
# Connections come one after another to a single server, more than 10,000
# a second: a mirrored guest's slice of 4,096 ports is all in TIME_WAIT
# within half a second, and connect() fails (EADDRNOTAVAIL) even with
# tcp_tw_reuse, which waits 1 s. So every namespace that makes connections,
# for every path alike, reuses TIME_WAIT ports after 1 ms (tcp_tw_reuse 1,
# tcp_tw_reuse_delay 1), or keeps none (tcp_max_tw_buckets 0) on kernels
# without the delay.
#
#   tests/bench/mirrored.sh [SECONDS]   (iperf3 run length, default 10)
set -u
TEST_NAME=bench-mirrored
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
. "$src/tests/netns/lib.sh"
SECS=${1:-10}
RR_SECS=5
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
[ -x "$BULK" ] || make -C "$VMN_BUILDDIR" tests/tools/vmn-bulk >/dev/null
USER_NAME=vmnbench

install_quietly iperf3 passt
id "$USER_NAME" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$USER_NAME"
# Unprivileged pasta opens /dev/net/tun in its own namespace; Debian's
# udev makes it 0666, some containers leave it 0600.
[ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 666 /dev/net/tun

bed_init
chmod 755 "$TMP"
# pasta and its servers live in its own namespaces: gone with the bench
# user's processes (killed, then waited for: their namespaces go with them).
bench_user_gone() {
	pkill -KILL -u "$USER_NAME" 2>/dev/null
	for _ in $(seq 30); do
		pgrep -u "$USER_NAME" >/dev/null || return 0
		sleep 0.1
	done
}
bench_user_gone
BED_CLEANUP_HOOK=bench_user_gone

paths=(host mirrored nat pasta)
# Ports: lan servers 530N (iperf3) and 730N (echo), guest-side servers
# 540N and 740N, N the path's number.
declare -A N=([host]=1 [mirrored]=2 [nat]=3 [pasta]=4)

bed_up
bed_guest m1
bed_guest n1
conf=$(VM_EXTRA='	mode mirrored
	inbound allow' bed_write_conf m1)
cat >>"$conf" <<EOF
vm "n1" {
	link veth netns "$(guest_ns n1)"
	host-ifname "vmn-n1"
	channel "unix:$TMP/n1"
	forward tcp 5403 to 5403 address 0.0.0.0
	forward tcp 7403 to 7403 address 0.0.0.0
}
EOF
bed_host_netd
bed_guest_netd m1
bed_guest_netd n1
wait_online m1 n1

# pasta, in the host namespace, as a user: its namespace's servers.
cat >"$TMP/pasta-servers.sh" <<EOF
#!/bin/sh
iperf3 -s -p 5404 &
exec $BULK echo-server 7404
EOF
chmod 755 "$TMP/pasta-servers.sh"
bed_spawn "$NS_HOST" pasta su "$USER_NAME" -s /bin/sh -c \
    "pasta --config-net -f --no-map-gw -t 5404,7404 -T none -u none -U none -- $TMP/pasta-servers.sh"
PASTA_PID=
pasta_ns_pid() {
	PASTA_PID=$(pgrep -n -u "$USER_NAME" -f "echo-server 7404") && [ -n "$PASTA_PID" ]
}
for _ in $(seq 50); do
	pasta_ns_pid && break
	sleep 0.1
done
[ -n "$PASTA_PID" ] || fail "pasta did not come up: $(tail -5 "$TMP/pasta.log")"

# on WHERE CMD...: runs CMD in the lan or on a path's guest side.
on() {
	local w=$1
	shift
	case $w in
	lan)		ip netns exec "$NS_LAN" "$@" ;;
	host)		ip netns exec "$NS_HOST" "$@" ;;
	mirrored)	ip netns exec "$(guest_ns m1)" "$@" ;;
	nat)		ip netns exec "$(guest_ns n1)" "$@" ;;
	pasta)		nsenter -t "$PASTA_PID" -n -- "$@" ;;
	esac
}

# Servers: in the lan for every path, on each path's guest side.
for p in "${paths[@]}"; do
	bed_spawn "$NS_LAN" "lan-iperf-$p" iperf3 -s -p "530${N[$p]}"
	bed_spawn "$NS_LAN" "lan-echo-$p" "$BULK" echo-server "730${N[$p]}"
done
bed_spawn "$NS_HOST" host-iperf iperf3 -s -p 5401
bed_spawn "$NS_HOST" host-echo "$BULK" echo-server 7401
for p in mirrored nat; do
	g=$([ $p = mirrored ] && echo m1 || echo n1)
	bed_spawn "$(guest_ns $g)" "$p-iperf" iperf3 -s -p "540${N[$p]}"
	bed_spawn "$(guest_ns $g)" "$p-echo" "$BULK" echo-server "740${N[$p]}"
done

if [ -e /proc/sys/net/ipv4/tcp_tw_reuse_delay ]; then
	TW="net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_tw_reuse_delay=1"
else
	TW="net.ipv4.tcp_max_tw_buckets=0"
fi
for w in lan "${paths[@]}"; do
	# shellcheck disable=SC2086
	on "$w" sysctl -qw $TW || fail "cannot set $TW on the $w side"
done

# --- every path up, both ways, before anything is measured ------------------
listens() { on "$1" ss -Hltn "sport = :$2" | grep -q .; }
for p in "${paths[@]}"; do
	i=${N[$p]}
	wait_for 5 "the lan's iperf3 server for $p" listens lan "530$i"
	wait_for 5 "the lan's echo server for $p" listens lan "730$i"
	wait_for 5 "$p's iperf3 server" listens "$p" "540$i"
	wait_for 5 "$p's echo server" listens "$p" "740$i"
done
for p in mirrored pasta; do
	on "$p" ip -4 -o addr show | grep -q "inet $HOST4/" ||
		fail "$p's guest side lacks the host's address $HOST4: $(on "$p" ip -br addr)"
done
inbound_active() {
	netctl --dump forwards | awk -F'\t' -v h="0.0.0.0:$1" \
	    '$1 == "m1" && $3 == h && $5 == "inbound" && $6 == "active" { f = 1 } END { exit !f }'
}
wait_for 5 "m1's 5402 steered from the lan" inbound_active 5402
wait_for 5 "m1's 7402 steered from the lan" inbound_active 7402
for p in "${paths[@]}"; do
	i=${N[$p]}
	on "$p" "$BULK" wait-port $LAN4 "730$i" >/dev/null 2>&1 ||
		fail "$p: the guest side does not reach the lan's $LAN4:730$i"
	on lan "$BULK" wait-port $HOST4 "740$i" >/dev/null 2>&1 ||
		fail "$p: the lan does not reach $HOST4:740$i on the guest side"
done
SLICE=$(on mirrored cat /proc/sys/net/ipv4/ip_local_port_range | awk '{ print $1 "-" $2 }')
log "every path up; the mirrored guest's ports: $SLICE"

# --- measured ---------------------------------------------------------------
FAILS=0
iperf() { # iperf WHERE HOST PORT NAME: the receiver's Mbit/s, else "fail"
	local out=$TMP/iperf-$4.out v
	on "$1" timeout $((SECS + 30)) iperf3 -c "$2" -p "$3" -t "$SECS" -f m \
	    --connect-timeout 5000 >"$out" 2>&1
	v=$(awk '/receiver/ { print $7 }' "$out")
	echo "${v:-fail}"
}
rr() { # rr WHERE HOST PORT NAME: conns/s p50 p99, else "fail - -"
	local out=$TMP/rr-$4.out
	on "$1" timeout $((RR_SECS + 30)) "$BULK" rr "$2" "$3" "$RR_SECS" >"$out" 2>&1
	awk '/conns\/s/ { print $1, $4, $7; f = 1 } END { if (!f) print "fail - -" }' "$out"
}
declare -A G2L L2G CR CP50 CP99 LR LP50 LP99
for p in "${paths[@]}"; do
	i=${N[$p]}
	log "$p: iperf3 guest->lan, ${SECS}s"
	G2L[$p]=$(iperf "$p" $LAN4 "530$i" "$p-g2l")
	log "$p: iperf3 lan->guest, ${SECS}s"
	L2G[$p]=$(iperf lan $HOST4 "540$i" "$p-l2g")
	log "$p: connections guest->lan, ${RR_SECS}s"
	read -r CR[$p] CP50[$p] CP99[$p] < <(rr "$p" $LAN4 "730$i" "$p-g2l")
	log "$p: connections lan->guest, ${RR_SECS}s"
	read -r LR[$p] LP50[$p] LP99[$p] < <(rr lan $HOST4 "740$i" "$p-l2g")
	for f in "$TMP"/iperf-"$p"-*.out "$TMP"/rr-"$p"-*.out; do
		grep -q 'receiver\|conns/s' "$f" && continue
		log "$p: $(basename "$f" .out) failed: $(tail -3 "$f" | tr '\n' ' ')"
		FAILS=$((FAILS + 1))
	done
	log "$p: ${G2L[$p]} / ${L2G[$p]} Mbit/s, ${CR[$p]} / ${LR[$p]} conns/s"
done

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b
	    else print "-" }'
}

echo
echo "Mirrored mode against its peers, $(nproc) CPUs shared by everything."
echo "Throughput: iperf3, one stream, ${SECS}s; the client sends: guest->lan from the guest side"
echo "to a lan server, lan->guest from the lan to the guest side's server on $HOST4."
echo "Connections: a short request on a new connection each, one at a time, ${RR_SECS}s."
echo
fmt='  %-8s %10s %6s %10s %6s %9s %6s %13s %9s %6s %13s\n'
printf "$fmt" "" Mbit/s "" Mbit/s "" conns/s "" "" conns/s "" ""
printf "$fmt" path guest-\>lan "x host" lan-\>guest "x host" guest-\>lan "x host" \
    "p50/p99 us" lan-\>guest "x host" "p50/p99 us"
for p in "${paths[@]}"; do
	printf "$fmt" "$p" \
	    "${G2L[$p]}" "$(ratio "${G2L[$p]}" "${G2L[host]}")" \
	    "${L2G[$p]}" "$(ratio "${L2G[$p]}" "${L2G[host]}")" \
	    "${CR[$p]}" "$(ratio "${CR[$p]}" "${CR[host]}")" "${CP50[$p]}/${CP99[$p]}" \
	    "${LR[$p]}" "$(ratio "${LR[$p]}" "${LR[host]}")" "${LP50[$p]}/${LP99[$p]}"
done
echo
echo "nat lan->guest: static forwards on 0.0.0.0, relayed by host-netd and guest-netd."
echo "mirrored guest's ports: $SLICE; every path's clients: $TW."
echo
echo "targets: mirrored >= 0.95x host: $(ratio "${G2L[mirrored]}" "${G2L[host]}") /" \
    "$(ratio "${L2G[mirrored]}" "${L2G[host]}");" \
    "mirrored > pasta: $(ratio "${G2L[mirrored]}" "${G2L[pasta]}") /" \
    "$(ratio "${L2G[mirrored]}" "${L2G[pasta]}")"
echo "connections (guest->lan / lan->guest): mirrored" \
    "$(ratio "${CR[mirrored]}" "${CR[host]}") / $(ratio "${LR[mirrored]}" "${LR[host]}") x host," \
    "$(ratio "${CR[mirrored]}" "${CR[pasta]}") / $(ratio "${LR[mirrored]}" "${LR[pasta]}") x pasta"
[ "$FAILS" = 0 ] || fail "$FAILS measurement(s) failed (see above)"
