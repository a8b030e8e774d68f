#!/bin/bash
# tests/bench/portfwd.sh - localhost port forwarding, against its peers
#
# Servers (iperf3, an echo server) run in a namespace guest; clients on the
# host reach them, in the same run, through:
#   direct   no forwarding at all: client and server on the guest's loopback
#   vmnetd   host 127.0.0.1:P -> guest-netd, which host-netd handed the
#            client's socket to over the unix channel
#   relay    host 127.0.0.1:P -> host-netd -> unix channel -> guest-netd
#            (a second guest whose guest-netd takes no handed sockets,
#            VMN_FWD_HANDOFF=0: the path VMs take)
#   pasta    pasta -t (run as an ordinary user; it refuses root here)
#   socat    two socat processes joined by a unix socket (two-hop)
# Measured: iperf3 throughput both ways (one stream), connections per
# second and latency for short requests (a new connection each), the time
# from listen() in the guest to a working port on the host, and the idle
# CPU of both daemons. Prints tables with ratios.
#
#   tests/bench/portfwd.sh [SECONDS]   (iperf3 run length, default 10)
set -u
TEST_NAME=bench-portfwd
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
. "$src/tests/netns/lib.sh"
SECS=${1:-10}
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
# pasta's servers live in its own namespaces: gone with the bench user's.
pkill -KILL -u "$USER_NAME" 2>/dev/null
BED_CLEANUP_HOOK="pkill -KILL -u $USER_NAME"
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 g2 >/dev/null
bed_host_netd
bed_guest_netd g1
VMN_FWD_HANDOFF=0 bed_guest_netd g2
wait_online g1 g2
G=$(guest_ns g1)

# Servers in the guests: forwarded automatically.
bed_spawn "$G" iperf3 iperf3 -s -p 5201
bed_spawn "$G" echo "$BULK" echo-server 7000
bed_spawn "$(guest_ns g2)" iperf3-g2 iperf3 -s -p 5202
bed_spawn "$(guest_ns g2)" echo-g2 "$BULK" echo-server 7002
forwarded() {
	netctl --dump forwards | awk -F'\t' -v n="127.0.0.1:$1" \
	    '$3 == n && $6 == "active" { f = 1 } END { exit !f }'
}
wait_for 5 "5201 forwarded" forwarded 5201
wait_for 5 "7000 forwarded" forwarded 7000
wait_for 5 "5202 forwarded" forwarded 5202
wait_for 5 "7002 forwarded" forwarded 7002

# socat: host 15201/17000 -> unix socket -> guest 5201/7000.
for p in 5201 7000; do
	bed_spawn "$G" "socat-g$p" socat UNIX-LISTEN:"$TMP/socat-$p.sock",fork,mode=666 \
	    TCP:127.0.0.1:$p
	wait_for 5 "socat unix socket" test -S "$TMP/socat-$p.sock"
	bed_spawn "$NS_HOST" "socat-h$p" socat TCP-LISTEN:1$p,fork,reuseaddr,bind=127.0.0.1 \
	    UNIX-CONNECT:"$TMP/socat-$p.sock"
done

# pasta: host 25201/27000 -> pasta's namespace 5301/7100, as a user.
# Other ports than vmnetd's: pasta also binds the namespace's ports on
# the host by default (-T auto), and they must not collide.
cat >"$TMP/pasta-servers.sh" <<EOF
#!/bin/sh
iperf3 -s -p 5301 &
exec $BULK echo-server 7100
EOF
chmod 755 "$TMP/pasta-servers.sh"
bed_spawn "$NS_HOST" pasta su "$USER_NAME" -s /bin/sh -c \
    "pasta --config-net -f -t 25201:5301,27000:7100 -- $TMP/pasta-servers.sh"
HAVE_PASTA=0
if in_host "$BULK" wait-port 127.0.0.1 27000 >/dev/null 2>&1; then
	HAVE_PASTA=1
else
	log "pasta did not come up: $(tail -3 "$TMP/pasta.log")"
fi

declare -A HOSTPORT=([direct]=5201 [vmnetd]=5201 [relay]=5202 [pasta]=25201
    [socat]=15201)
declare -A ECHOPORT=([direct]=7000 [vmnetd]=7000 [relay]=7002 [pasta]=27000
    [socat]=17000)
paths=(direct vmnetd relay pasta socat)
[ "$HAVE_PASTA" = 1 ] || paths=(direct vmnetd relay socat)

client() { # client PATH CMD...: direct runs in the guest, the rest on the host
	local p=$1
	shift
	if [ "$p" = direct ]; then in_guest g1 "$@"; else in_host "$@"; fi
}

iperf() { # iperf PATH [-R]: receiver Mbit/s
	client "$1" iperf3 -c 127.0.0.1 -p "${HOSTPORT[$1]}" -t "$SECS" -f m ${2:-} 2>&1 |
	    awk '/receiver/ { print $7 }'
}

declare -A UP DOWN RATE P50 P99
for p in "${paths[@]}"; do
	log "$p: iperf3 host->guest, ${SECS}s"
	UP[$p]=$(iperf "$p")
	log "$p: iperf3 guest->host, ${SECS}s"
	DOWN[$p]=$(iperf "$p" -R)
	read -r RATE[$p] _ _ P50[$p] _ _ P99[$p] _ < <(client "$p" "$BULK" rr \
	    127.0.0.1 "${ECHOPORT[$p]}" 5)
	log "$p: ${UP[$p]} / ${DOWN[$p]} Mbit/s, ${RATE[$p]} conns/s"
done

# Detection: listen() in the guest -> the port works on the host.
lat=()
for i in $(seq 20); do
	port=$((31000 + i))
	in_guest g1 "$BULK" listen-at $port >"$TMP/listen-$i" &
	LPID=$!
	t1=$(in_host "$BULK" wait-port 127.0.0.1 $port)
	wait_for 2 "listen time" test -s "$TMP/listen-$i"
	t0=$(head -1 "$TMP/listen-$i")
	lat+=($(( (t1 - t0) / 1000000 )))
	kill $LPID
	sleep 0.15
done
read -r DET50 DET99 DETMAX < <(printf '%s\n' "${lat[@]}" | sort -n | awk '
    { v[NR] = $1 }
    END {
	i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
	print v[int(NR / 2) + 1], v[i99], v[NR]
    }')

# Idle CPU: nothing forwarded, nothing asked, 30 s.
HZ=$(getconf CLK_TCK)
HOSTD=("$HOST_NETD_PID" "$(engine_pid)")	# the parent and its engine
g0=$(cpu_ticks "$GUEST_PID_g1"); h0=$(cpu_ticks "${HOSTD[@]}")
sleep 30
g1=$(cpu_ticks "$GUEST_PID_g1"); h1=$(cpu_ticks "${HOSTD[@]}")
IDLE_G=$(awk -v t=$((g1 - g0)) -v hz="$HZ" 'BEGIN { printf "%.2f", 100 * t / hz / 30 }')
IDLE_H=$(awk -v t=$((h1 - h0)) -v hz="$HZ" 'BEGIN { printf "%.2f", 100 * t / hz / 30 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Localhost port forwarding: host client -> guest server, $(nproc) CPUs shared by everything."
echo
echo "Throughput, iperf3, one stream, ${SECS}s, Mbit/s:"
printf '  %-8s %12s %9s %12s %9s\n' path host-\>guest "x direct" guest-\>host "x direct"
for p in "${paths[@]}"; do
	printf '  %-8s %12s %9s %12s %9s\n' "$p" "${UP[$p]}" \
	    "$(ratio "${UP[$p]}" "${UP[direct]}")" "${DOWN[$p]}" \
	    "$(ratio "${DOWN[$p]}" "${DOWN[direct]}")"
done
echo
echo "Short requests, a new connection each, one at a time, 5s:"
printf '  %-8s %10s %9s %9s\n' path conns/s "p50 us" "p99 us"
for p in "${paths[@]}"; do
	printf '  %-8s %10s %9s %9s\n' "$p" "${RATE[$p]}" "${P50[$p]}" "${P99[$p]}"
done
echo
echo "Detection, listen() in the guest to a working host port, 20 ports:" \
    "p50 ${DET50} ms, p99 ${DET99} ms, max ${DETMAX} ms"
echo "Idle CPU over 30s: guest-netd ${IDLE_G}%, host-netd ${IDLE_H}%"
echo
if [ "$HAVE_PASTA" = 1 ]; then
	echo "targets: vmnetd >= pasta: $(ratio "${UP[vmnetd]}" "${UP[pasta]}") /" \
	    "$(ratio "${DOWN[vmnetd]}" "${DOWN[pasta]}") x pasta;" \
	    "conns/s >= 1.5x pasta: $(ratio "${RATE[vmnetd]}" "${RATE[pasta]}") x;" \
	    ">= 5x socat: $(ratio "${UP[vmnetd]}" "${UP[socat]}") /" \
	    "$(ratio "${DOWN[vmnetd]}" "${DOWN[socat]}") x socat; detection p99 <= 250 ms: ${DET99} ms"
fi
