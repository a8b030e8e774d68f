#!/bin/bash
# tests/bench/scale.sh - many namespace guests on one host-netd
#
# N namespace guests (s1..sN) on one host-netd, as the test bed makes them.
# Measured:
#   online      from starting every guest-netd (all at once) until netctl
#               status counts all of them online
#   memory      host-netd's VmRSS and VmHWM; the guest-netds' median VmRSS
#   idle CPU    host-netd's and the guest-netds' (all together, and per
#               guest), over 10 s with nothing to do
#   a host change, each of: an address added on the uplink, a route added,
#               the uplink's MTU changed (the one change every guest
#               applies): the time until every guest has applied it (the
#               last acknowledgement in host-netd's log), the CPU host-netd
#               spent on it, and the netlink dump requests it made for it
#   one more VM registered with netctl and its guest-netd started: the
#               time until it is online, the CPU, the dumps
# Dumps are counted with strace on host-netd (NLM_F_DUMP requests, by
# message type) during a second change of each kind, until host-netd has
# been quiet for a second, so that the timed change runs untraced. Only
# rtnetlink dumps are the issue here; libnftables' dumps (a VM start
# replaces the table) are shown apart. `netctl vms` is not polled: with
# many VMs it costs host-netd an nftables listing per VM.
#
# Host limits: the kernel's neighbour tables are shared by every
# namespace. The guests' gateway neighbours are permanent and not counted,
# but every veth's IPv6 multicast (MLD, solicitations) makes entries: about
# 3N IPv6 and N IPv4 ones for N guests (775 and 258 seen at 256), against
# defaults of 512 (gc_thresh2, where forced collection starts) and 1024
# (gc_thresh3, where new entries fail). Both are raised to 4N and 8N for
# the run when lower, and restored on exit. Nothing else needs raising:
# host-netd raises its descriptor limit itself (it holds about 4 per
# guest), and no daemon takes an inotify instance per guest.
#
#   tests/bench/scale.sh [N]   (N defaults to 256)
set -u
TEST_NAME=bench-scale
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
. "$src/tests/netns/lib.sh"
N=${1:-256}
IDLE_SECS=10
command -v strace >/dev/null || install_quietly strace

bed_init

# ---- host limits, raised for the run ---------------------------------------
SYSCTL_SAVED=()
raise_sysctl() { # raise_sysctl KEY MIN: KEY at least MIN until the run ends
	local f=/proc/sys/${1//.//} cur
	cur=$(cat "$f") || return 0
	[ "$cur" -ge "$2" ] && return 0
	SYSCTL_SAVED+=("$f=$cur")
	echo "$2" >"$f"
	log "raised $1 from $cur to $2 for the run"
}
restore_sysctls() {
	local s
	for s in "${SYSCTL_SAVED[@]}"; do
		echo "${s#*=}" >"${s%%=*}"
	done
}
BED_CLEANUP_HOOK=restore_sysctls
for fam in ipv4 ipv6; do
	raise_sysctl net.$fam.neigh.default.gc_thresh2 $((4 * N))
	raise_sysctl net.$fam.neigh.default.gc_thresh3 $((8 * N))
done

# ---- the bed ---------------------------------------------------------------
bed_up
t0=$(date +%s%N)
names=()
for i in $(seq "$N"); do
	names+=("s$i")
done
for g in "${names[@]}" x1 x2; do
	bed_guest "$g"
done
log "$((N + 2)) guest namespaces in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
bed_write_conf "${names[@]}" >/dev/null
t0=$(date +%s%N)
bed_host_netd

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
stat_field() { # stat_field NAME: a counter of `netctl --dump status`
	netctl --dump status 2>/dev/null | awk -F'\t' -v k="$1" '$1 == k { print $2 }'
}
online() { stat_field vms_online; }
# Every link made: the log says so for each VM.
wait_for 120 "host-netd's $N links" sh -c \
    "[ \$(grep -c ': veth vmn-' $TMP/host-netd.log) -ge $N ]"
log "host-netd started with $N VMs, their links made, in $(ms_since "$t0") ms"

# ---- all guests at once ------------------------------------------------------
# When each guest acknowledged a configuration: host-netd's log (-v) says
# so, to the millisecond. (`netctl monitor` would drop events in bursts of
# N; polling `netctl vms` would load host-netd.)
HLOG=$TMP/host-netd.log
lines() { wc -l <"$HLOG"; }
logged_since() { # logged_since LINE ERE: host-netd's log lines after LINE
	tail -n +$(($1 + 1)) "$HLOG" | grep -E "$2"
}
ACK_RE=': configuration [0-9]+ applied$'
day_ms() { # day_ms HH:MM:SS.mmm: milliseconds since midnight
	awk -v t="$1" 'BEGIN { split(t, a, ":"); printf "%d", ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }'
}
now_ms() { day_ms "$(date +%T.%3N)"; }
# elapsed T0 LINE: from T0 (day_ms) to the time of a log line
elapsed() {
	local d=$(( $(day_ms "${2%% *}") - $1 ))
	[ "$d" -lt 0 ] && d=$((d + 86400000))	# past midnight
	echo "$d"
}

HZ=$(getconf CLK_TCK)

# host-netd is two processes: the parent and its engine (privsep.h).
HOSTD=("$HOST_NETD_PID" "$(engine_pid)")
mark=$(lines)
c0=$(cpu_ticks "${HOSTD[@]}")
t0=$(now_ms)
for g in "${names[@]}"; do
	bed_guest_netd "$g"
done
SPAWN_MS=$(( $(now_ms) - t0 ))
for ((i = 0; i < 3000; i++)); do
	[ "$(online)" = "$N" ] && break
	sleep 0.02
done
[ "$(online)" = "$N" ] || fail "only $(online) of $N guests online after 60 s"
ONLINE_MS=$(elapsed "$t0" "$(logged_since "$mark" ': online at ' | tail -n +"$N" | head -1)")
ONLINE_CPU=$(( ($(cpu_ticks "${HOSTD[@]}") - c0) * 1000 / HZ ))
log "all $N guests online ${ONLINE_MS} ms after starting them (${SPAWN_MS} ms to start them)"

GPIDS=()
for g in "${names[@]}"; do
	eval "GPIDS+=(\$GUEST_PID_$g)"
done

sleep 2
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
HOST_RSS=$(( $(kib "${HOSTD[0]}" VmRSS) + $(kib "${HOSTD[1]}" VmRSS) ))
HOST_HWM=$(( $(kib "${HOSTD[0]}" VmHWM) + $(kib "${HOSTD[1]}" VmHWM) ))
GUEST_RSS=$(for p in "${GPIDS[@]}"; do kib "$p" VmRSS; done | sort -n |
    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
GUEST_RSS_MAX=$(for p in "${GPIDS[@]}"; do kib "$p" VmRSS; done | sort -n | tail -1)

# ---- idle ------------------------------------------------------------------
h0=$(cpu_ticks "${HOSTD[@]}")
g0=$(cpu_ticks "${GPIDS[@]}")
sleep "$IDLE_SECS"
h1=$(cpu_ticks "${HOSTD[@]}")
g1=$(cpu_ticks "${GPIDS[@]}")
pct() { awk -v t="$1" -v hz="$HZ" -v s="$IDLE_SECS" -v n="${2:-1}" \
    'BEGIN { printf "%.2f", 100 * t / hz / s / n }'; }
IDLE_H=$(pct $((h1 - h0)))
IDLE_G=$(pct $((g1 - g0)))
IDLE_G1=$(pct $((g1 - g0)) "$N")

# ---- host changes ----------------------------------------------------------
# settled CMD: until CMD's output has not changed for a second (two
# looks 0.5 s apart), at most 30 s.
settled() {
	local a b i same=0
	b=$("$@")
	for ((i = 0; i < 60 && same < 2; i++)); do
		sleep 0.5
		a=$b
		b=$("$@")
		if [ "$a" = "$b" ]; then same=$((same + 1)); else same=0; fi
	done
}
# Requests host-netd made so far in an strace log.
requests() { grep -c nlmsg_type "$1" 2>/dev/null; }

STRACE_PID=
trace_start() { # trace_start FILE: strace on host-netd, attached on return
	: >"$TMP/strace.err"
	strace -f -e trace=sendto,sendmsg -e signal=none -s 64 -o "$1" \
	    -p "$HOST_NETD_PID" 2>"$TMP/strace.err" &
	STRACE_PID=$!
	BED_PIDS+=("$STRACE_PID")
	wait_for 10 "strace attached to host-netd" grep -q attached "$TMP/strace.err"
}
trace_stop() {
	kill "$STRACE_PID"
	wait "$STRACE_PID" 2>/dev/null
}

# dumps FILE: "all link addr route nft" dump requests in an strace log.
# strace names the types and flags when it can tell the socket's protocol,
# else prints numbers: both are read.
dumps() {
	awk '
	function num(s,    i, c, v) {
		if (s !~ /^0x/)
			return s + 0
		v = 0
		for (i = 3; i <= length(s); i++) {
			c = index("0123456789abcdef", tolower(substr(s, i, 1)))
			if (c == 0)
				break
			v = v * 16 + c - 1
		}
		return v
	}
	function dumpflag(f,    n, i, p, x) {
		if (f ~ /NLM_F_DUMP/ || (f ~ /NLM_F_ROOT/ && f ~ /NLM_F_MATCH/))
			return 1
		n = split(f, p, "|")
		for (i = 1; i <= n; i++)
			if (p[i] ~ /^0x/) {
				x = num(p[i])
				if (int(x / 256) % 4 == 3)	# 0x300
					return 1
			}
		return 0
	}
	{
		n = split($0, m, "nlmsg_type=")
		for (i = 2; i <= n; i++) {
			t = m[i]
			sub(/[ ,].*/, "", t)
			f = m[i]
			sub(/.*nlmsg_flags=/, "", f)
			sub(/,.*/, "", f)
			if (!dumpflag(f))
				continue
			if (t == "RTM_GETLINK" || num(t) == 18) link++
			else if (t == "RTM_GETADDR" || num(t) == 22) addr++
			else if (t == "RTM_GETROUTE" || num(t) == 26) route++
			else if (t ~ /^RTM_/ || num(t) < 256) other++
			else nft++
		}
	}
	END { printf "%d %d %d %d %d\n", link + addr + route + other,
	    link + 0, addr + 0, route + 0, nft + 0 }' "$1"
}

declare -A TIME CPU DUMPS
# change NAME TIMED-CMD TRACED-CMD [WAIT]: one change timed, one traced.
# WAIT "acks": every guest applies the change: timed to the last of N
# acknowledgements; ERE: timed to the first log line matching it; none:
# not timed (nothing for the guests to apply).
change() {
	local name=$1 timed=$2 traced=$3 how=${4:-} mark t0 c0 i re last
	re=$how
	[ "$how" = acks ] && re=$ACK_RE
	mark=$(lines)
	c0=$(cpu_ticks "${HOSTD[@]}")
	t0=$(now_ms)
	eval "$timed"
	TIME[$name]=-
	if [ -n "$how" ]; then
		for ((i = 0; i < 1500; i++)); do
			last=$(logged_since "$mark" "$re" | { [ "$how" = acks ] && tail -n +"$N" || cat; } | head -1)
			[ -n "$last" ] && break
			sleep 0.02
		done
		[ -n "$last" ] || fail "$name: not applied within 30 s ($(logged_since "$mark" "$re" | wc -l) acks)"
		TIME[$name]=$(elapsed "$t0" "$last")
	fi
	settled cpu_ticks "${HOSTD[@]}"
	CPU[$name]=$(( ($(cpu_ticks "${HOSTD[@]}") - c0) * 1000 / HZ ))
	trace_start "$TMP/strace.$name"
	mark=$(lines)
	eval "$traced"
	if [ "$how" = acks ]; then
		for ((i = 0; i < 3000; i++)); do
			[ "$(logged_since "$mark" "$ACK_RE" | wc -l)" -ge "$N" ] && break
			sleep 0.02
		done
	fi
	settled requests "$TMP/strace.$name"
	trace_stop
	DUMPS[$name]=$(dumps "$TMP/strace.$name")
	log "$name: ${TIME[$name]} ms, host-netd ${CPU[$name]} ms CPU, dumps (all link addr route nft) ${DUMPS[$name]}"
}

H() { ip -n "$NS_HOST" "$@"; }
change "address added on the uplink" \
    "H addr add 198.51.100.2/24 dev up0" "H addr add 198.51.100.3/24 dev up0"
change "route added" \
    "H route add 192.0.2.0/25 via $LAN4" "H route add 192.0.2.128/25 via $LAN4"
change "uplink MTU 1500 -> 1400 -> 1300" \
    "H link set up0 mtu 1400" "H link set up0 mtu 1300" acks
mtu_ok=$(in_guest "s$N" cat /sys/class/net/eth0/mtu)
[ "$mtu_ok" = 1300 ] || fail "guest s$N has mtu $mtu_ok, not 1300"

# ---- one more VM -----------------------------------------------------------
block() { # block NAME: a vm block for guest NAME
	printf 'vm "%s" {\n\tlink veth netns "%s"\n\thost-ifname "vmn-%s"\n\tchannel "unix:%s"\n}\n' \
	    "$1" "$(guest_ns "$1")" "$1" "$TMP/$1"
}
declare -A REG_MS GUEST_AT
start_vm() { # start_vm NAME: registered, its guest-netd started
	local t0
	block "$1" >"$TMP/$1.vm"
	t0=$(now_ms)
	netctl register "$TMP/$1.vm" >/dev/null || fail "register $1"
	REG_MS[$1]=$(( $(now_ms) - t0 ))
	GUEST_AT[$1]=$(now_ms)
	bed_guest_netd "$1"
}
change "one more VM started" "start_vm x1" "start_vm x2" ": vm x[12]: online at"
# Its two halves: host-netd's (netctl register returns once the link,
# the configuration and the nftables table are made), the guest's.
X1_GUEST_MS=$(elapsed "${GUEST_AT[x1]}" "$(grep -E ': vm x1: online at' "$HLOG" | head -1)")

# ---- the table ---------------------------------------------------------------
echo
echo "Scale: $N namespace guests on one host-netd, $(nproc) CPUs shared by everything."
echo
printf '  %-44s %s\n' "all $N guest-netds started -> all online" "$ONLINE_MS ms (starting them: $SPAWN_MS ms)"
printf '  %-44s %s\n' "host-netd's CPU meanwhile" "$ONLINE_CPU ms"
printf '  %-44s %s\n' "host-netd VmRSS / VmHWM (parent + engine)" \
    "$(awk -v a="$HOST_RSS" -v b="$HOST_HWM" 'BEGIN { printf "%.1f / %.1f MiB", a / 1024, b / 1024 }')"
printf '  %-44s %s\n' "guest-netd VmRSS, median (max)" \
    "$(awk -v a="$GUEST_RSS" -v b="$GUEST_RSS_MAX" 'BEGIN { printf "%.1f MiB (%.1f)", a / 1024, b / 1024 }')"
printf '  %-44s %s\n' "idle CPU over ${IDLE_SECS}s: host-netd" "$IDLE_H%"
printf '  %-44s %s\n' "idle CPU: all $N guest-netds (per guest)" "$IDLE_G% ($IDLE_G1%)"
echo
echo "A change: time until every guest applied it, host-netd's CPU, its netlink dumps:"
printf '  %-32s %9s %8s %6s %5s %5s %6s %5s\n' change "applied" "CPU" dumps link addr route nft
for c in "address added on the uplink" "route added" "uplink MTU 1500 -> 1400 -> 1300" \
    "one more VM started"; do
	read -r all l a r nft <<<"${DUMPS[$c]}"
	printf '  %-32s %9s %8s %6s %5s %5s %6s %5s\n' "$c" \
	    "${TIME[$c]}$([ "${TIME[$c]}" = - ] || echo ' ms')" "${CPU[$c]} ms" \
	    "$all" "$l" "$a" "$r" "$nft"
done
echo
echo "  (applied: the MTU, to the last guest's ack; one more VM: registered -> online:"
echo "   netctl register returned after ${REG_MS[x1]} ms, its guest-netd started -> online ${X1_GUEST_MS} ms."
echo "   dumps: rtnetlink dump requests, all and by type; nft: libnftables' own, apart.)"
