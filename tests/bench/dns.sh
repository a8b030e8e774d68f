#!/bin/bash
# tests/bench/dns.sh - DNS through the tunnel, against its peers
#
# dnsperf runs in a namespace guest against, in the same run:
#   tunnel   10.255.255.254 in the guest -> guest-netd -> host-netd (c-ares)
#   direct   the upstream resolver itself, through the NAT
#   dnsmasq  dnsmasq on the host (cache off: a forwarder, as the tunnel is)
# all ending at the same upstream: unbound in the lan with local data.
# For each: queries per second over 20 s at full speed (dnsperf keeps 100
# queries outstanding), then p50/p99 latency over 10 s at fixed offered
# loads of 10%, 25% and 50% of direct's maximum, so that latencies are
# compared at equal load. Prints tables with ratios and deltas to direct.
#
#   tests/bench/dns.sh [SECONDS]     (default 20)
set -u
TEST_NAME=bench-dns
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
. "$src/tests/netns/lib.sh"
SECS=${1:-20}

# Benchmark tools; their packages must not start system services.
install_quietly dnsperf unbound

bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1

# The upstream: unbound with 100 local names, on its own lan address.
UP=203.0.113.4
ip -n "$NS_LAN" addr add $UP/24 dev lan0
{
	echo "server:"
	echo "  interface: $UP"
	echo "  access-control: 0.0.0.0/0 allow"
	echo "  num-threads: 1"
	echo "  so-rcvbuf: 4m"
	echo "  username: \"\""
	echo "  chroot: \"\""
	echo "  directory: \"$TMP\""
	echo "  pidfile: \"$TMP/unbound.pid\""
	echo "  use-syslog: no"
	echo "  verbosity: 0"
	echo "  local-zone: \"bench.lan.\" static"
	for i in $(seq 100); do
		echo "  local-data: \"n$i.bench.lan. 300 IN A 198.51.100.$i\""
	done
	echo "remote-control:"
	echo "  control-enable: no"
} >"$TMP/unbound.conf"
bed_spawn "$NS_LAN" unbound unbound -d -c "$TMP/unbound.conf"
for i in $(seq 100); do echo "n$i.bench.lan A"; done >"$TMP/queries"
wait_for 5 "unbound answers" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=1 +tries=1 @$UP n1.bench.lan)\" = 198.51.100.1 ]"

# The tunnel's resolver is the upstream.
printf 'nameserver %s\n' $UP >"/etc/netns/$NS_HOST/resolv.conf"
wait_for 5 "the tunnel uses the upstream" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=1 +tries=1 n2.bench.lan)\" = 198.51.100.2 ]"

# dnsmasq on the host, on the VM's gateway address, forwarding upstream.
GW=$(vm_field g1 gateway)
bed_spawn "$NS_HOST" dnsmasq-host dnsmasq --keep-in-foreground --no-resolv \
    --no-hosts --bind-interfaces --listen-address="$GW" --except-interface=lo \
    --server=$UP --cache-size=0 --dns-forward-max=1000 \
    --pid-file="$TMP/dnsmasq-host.pid" --log-facility=-
wait_for 5 "dnsmasq on the host" sh -c \
	"[ \"\$(ip netns exec $(guest_ns g1) dig +short +time=1 +tries=1 @$GW n3.bench.lan)\" = 198.51.100.3 ]"

perf() { # perf SERVER SECONDS [extra dnsperf options]: prints the summary
	local server=$1 secs=$2
	shift 2
	in_guest g1 dnsperf -s "$server" -d "$TMP/queries" -l "$secs" "$@" 2>&1
}

qps_of() { awk '/Queries per second/ { printf "%d", $4 }'; }
lost_of() { awk '/Queries lost/ { print $3 }'; }

# Latency percentiles (ms) from dnsperf -v lines: "> RCODE name type secs".
percentiles() {
	awk '/^> / { print $NF * 1000 }' | sort -n | awk '
	    { v[NR] = $1 }
	    END {
		if (NR == 0) { print "- -"; exit }
		i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
		i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
		p50 = v[i50]
		p99 = v[i99]
		printf "%.3f %.3f\n", p50, p99
	    }'
}

declare -A QPS LOST P50 P99
targets=(direct tunnel dnsmasq)
declare -A SERVER=([direct]=$UP [tunnel]=10.255.255.254 [dnsmasq]=$GW)

log "throughput: ${SECS}s each at full speed (dnsperf -q 100)"
for t in "${targets[@]}"; do
	out=$(perf "${SERVER[$t]}" "$SECS")
	QPS[$t]=$(echo "$out" | qps_of)
	LOST[$t]=$(echo "$out" | lost_of)
	log "$t: ${QPS[$t]} qps, lost ${LOST[$t]}"
done
LSECS=$(( SECS / 2 > 5 ? SECS / 2 : 5 ))
RATES=()
for pct in 10 25 50; do
	RATES+=($(( QPS[direct] * pct / 100 )))
done
for rate in "${RATES[@]}"; do
	log "latency: ${LSECS}s each at $rate qps"
	for t in "${targets[@]}"; do
		read -r P50[$t,$rate] P99[$t,$rate] < <(perf "${SERVER[$t]}" \
		    "$LSECS" -Q "$rate" -v | percentiles)
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }

echo
echo "DNS through the tunnel and its peers: dnsperf in the guest, upstream unbound"
echo "(100 local names), $(nproc) CPUs shared by everything."
echo
echo "Throughput, ${SECS}s at full speed:"
printf '  %-8s %10s %9s %8s\n' path qps "x direct" lost
for t in "${targets[@]}"; do
	printf '  %-8s %10s %9s %8s\n' "$t" "${QPS[$t]}" \
	    "$(ratio "${QPS[$t]}" "${QPS[direct]}")" "${LOST[$t]}"
done
echo
echo "Latency in ms, ${LSECS}s at each offered load (share of direct's maximum):"
printf '  %-8s' path
for i in 0 1 2; do
	printf ' %22s' "${RATES[$i]} qps ($((i == 0 ? 10 : i == 1 ? 25 : 50))%)"
done
printf '\n  %-8s' ""
for i in 0 1 2; do printf ' %6s %6s %8s' p50 p99 "p99-dir"; done
echo
for t in "${targets[@]}"; do
	printf '  %-8s' "$t"
	for rate in "${RATES[@]}"; do
		printf ' %6s %6s %8s' "${P50[$t,$rate]}" "${P99[$t,$rate]}" \
		    "$(delta "${P99[$t,$rate]}" "${P99[direct,$rate]}")"
	done
	echo
done
echo
echo "targets: tunnel >= 0.9 x direct qps: $(ratio "${QPS[tunnel]}" "${QPS[direct]}");" \
    "tunnel p99 - direct p99 (ms) at 10/25/50%, <= +0.5 at 10 and 25%:" \
    "$(for r in "${RATES[@]}"; do printf '%s ' "$(delta "${P99[tunnel,$r]}" "${P99[direct,$r]}")"; done)"
