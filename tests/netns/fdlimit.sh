#!/bin/bash
# tests/netns/fdlimit.sh - host-netd out of file descriptors
#
# host-netd runs under a limit of FDS open files (soft and hard: it cannot
# raise it, nor can its engine, which inherits it and relays); a guest echo
# server is forwarded, and a flood of host clients, each connecting again
# as soon as its connection ends, keeps more of them coming than the engine
# has descriptors for. Checks: the engine does not spin
# on a listener it cannot accept from (under 5 % of a CPU over 3 s while
# the flood lasts) and says that it pauses, once in a while, as it logs the
# connections it drops; the connections it holds keep relaying; once the
# flood is over, a new connection works at once.
TEST_NAME=fdlimit
. "$(dirname "$0")/lib.sh"
command -v prlimit >/dev/null || { echo "missing tool: prlimit"; exit 99; }
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
# host-netd accepting and relaying, as it does for VMs: a namespace guest
# would otherwise accept on the host's socket itself (and host-netd's
# descriptors would never run out).
export VMN_FWD_HANDOFF=0
FDS=96
bed_spawn "$NS_HOST" host-netd prlimit --nofile=$FDS:$FDS "$HOST_NETD" -d -v \
    -f "$TMP/host-netd.conf"
HOST_NETD_PID=$LAST_PID
wait_for 5 "host-netd control socket" test -S "$TMP/control.sock"
[ "$(cat /proc/$HOST_NETD_PID/comm)" = host-netd ] ||
	fail "pid $HOST_NETD_PID is $(cat /proc/$HOST_NETD_PID/comm), not host-netd"
# The engine accepts and relays: its descriptors are the ones that run out.
ENGINE_PID=$(engine_pid) ||
	fail "host-netd has no engine"
bed_guest_netd g1
wait_online g1
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
ECHO_REPLY="request through a half-closed connection"

forwarded() {
	netctl --dump forwards | awk -F'\t' -v n="127.0.0.1:$1" \
	    '$3 == n && $5 == "auto" && $6 == "active" { f = 1 } END { exit !f }'
}

bed_spawn "$(guest_ns g1)" echo "$BULK" echo-server 9200
wait_for 5 "9200 forwarded" forwarded 9200
[ "$(in_host "$BULK" half 127.0.0.1 9200)" = "$ECHO_REPLY" ] ||
	fail "9200 does not answer before the flood"
log "the engine holds $(ls /proc/$ENGINE_PID/fd | wc -l) of $FDS descriptors"

# 300 connections, 3 (or 2, or 6 with the relay's pipes) descriptors each
# in the engine: far more than it has.
in_host "$BULK" flood 127.0.0.1 9200 300 9 >"$TMP/flood.out" 2>&1 &
FLOOD=$!
wait_for 5 "the descriptors used up" sh -c \
	"[ \$(ls /proc/$ENGINE_PID/fd | wc -l) -ge $((FDS - 2)) ]"
sleep 2
t0=$(cpu_ticks "$ENGINE_PID")
sleep 3
t1=$(cpu_ticks "$ENGINE_PID")
hz=$(getconf CLK_TCK)
cpu=$(( (t1 - t0) * 100 / (3 * hz) ))
log "the engine at $(ls /proc/$ENGINE_PID/fd | wc -l) descriptors used $cpu % of a CPU"
[ "$cpu" -lt 5 ] || fail "the engine spins while out of descriptors: $cpu % of a CPU"
wait "$FLOOD" || fail "the flood client failed: $(cat "$TMP/flood.out")"
echoed=$(awk '{ print $1 }' "$TMP/flood.out")
[ "${echoed:-0}" -gt 0 ] || fail "no connection relayed during the flood: $(cat "$TMP/flood.out")"
grep -q "accepting connections: Too many open files; pausing" "$TMP/host-netd.log" ||
	fail "host-netd did not say it paused accepting"
# Connections it had to drop are logged 10 per 10 s, not one line each.
shed=$(grep -c "no channel to the guest" "$TMP/host-netd.log")
[ "$shed" -le 20 ] || fail "$shed lines for connections dropped in 9 s"
pass "out of descriptors: ${cpu} % of a CPU, still relaying ($(cat "$TMP/flood.out"))"

wait_for 5 "a new connection once the flood is over" sh -c \
	"[ \"\$(ip netns exec $NS_HOST $BULK half 127.0.0.1 9200)\" = \"$ECHO_REPLY\" ]"
kill -0 "$HOST_NETD_PID" || fail "host-netd is gone"
kill -0 "$ENGINE_PID" || fail "its engine is gone"
pass "recovers when descriptors are free again"
