#!/bin/bash
# tests/netns/load.sh - load held: many connections, many VMs, at once
#
# 64 namespace guests on one host-netd, each with an echo server on its
# own port (9000 + i), forwarded to the host's loopback. Checks:
#   - 4,096 forwarded connections to one VM (its limit), held open for
#     10 s, each with its echo, none ended or refused: to g1, which
#     accepts on the host's sockets itself, and to g64, whose guest-netd
#     takes none (VMN_FWD_HANDOFF=0), so that host-netd relays all 4,096
#     over its channels, as for a VM;
#   - all 64 VMs at once, each with 100 forwarded connections (a request
#     and its echo) and a burst of 50 DNS queries through its tunnel: all
#     6,400 connections echo, all 3,200 queries answer NOERROR;
#   - host-netd's memory bounded: the peaks (VmHWM) of its two processes,
#     parent and engine, are logged, and their sum must stay under 64 MiB
#     (about 16 at rest with 256 VMs) but in a sanitizer build.
TEST_NAME=load
. "$(dirname "$0")/lib.sh"
N=64
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
DNSQ=$VMN_BUILDDIR/tests/tools/vmn-dnsq
bed_init
bed_up
names=()
for i in $(seq $N); do
	names+=("g$i")
	bed_guest "g$i"
done
bed_write_conf "${names[@]}" >/dev/null
bed_host_netd
for i in $(seq $((N - 1))); do
	bed_guest_netd "g$i"
done
(export VMN_FWD_HANDOFF=0; bed_guest_netd "g$N")
wait_online "${names[@]}"
for i in $(seq $N); do
	bed_spawn "$(guest_ns "g$i")" "echo-g$i" "$BULK" echo-server $((9000 + i))
done
forwarded() { # forwarded: every guest's port on the host
	[ "$(netctl --dump forwards | grep -c '127\.0\.0\.1:9[0-9]*[[:space:]]')" -ge $N ]
}
wait_for 30 "$N ports forwarded" forwarded
log "$N guests online, their ports forwarded"

# --- 4,096 connections on one VM -------------------------------------------------
for i in 1 $N; do
	out=$(in_host "$BULK" flood 127.0.0.1 $((9000 + i)) 4096 10)
	[ "$out" = "4096 of 4096 echoed, 0 made again" ] ||
		fail "4,096 connections to g$i: $out"
done
pass "4,096 forwarded connections to one VM held 10 s, handed to the guest and relayed by host-netd: $out"

# --- every VM at once: connections and DNS -----------------------------------------
pids=()
for i in $(seq $N); do
	in_host "$BULK" many 127.0.0.1 $((9000 + i)) 100 >"$TMP/many.$i" 2>&1 &
	pids+=($!)
	in_guest "g$i" "$DNSQ" -t 10 10.255.255.254 burst 50 web.test.lan \
	    >"$TMP/dnsq.$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
for i in $(seq $N); do
	[ "$(cat "$TMP/many.$i")" = "100 ok of 100" ] ||
		fail "g$i: connections: $(cat "$TMP/many.$i")"
	[ "$(cat "$TMP/dnsq.$i")" = "answered 50 of 50: NOERROR 50 SERVFAIL 0 other 0" ] ||
		fail "g$i: DNS: $(cat "$TMP/dnsq.$i")"
done
# Both processes: the engine relays and resolves, the parent keeps state.
mem() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
engine=$(engine_pid) || fail "host-netd has no engine"
hwm=$(( $(mem "$HOST_NETD_PID" VmHWM) + $(mem "$engine" VmHWM) ))
rss=$(( $(mem "$HOST_NETD_PID" VmRSS) + $(mem "$engine" VmRSS) ))
log "host-netd: VmRSS $((rss / 1024)) MiB, peak (VmHWM) $((hwm / 1024)) MiB (parent $(( $(mem "$HOST_NETD_PID" VmHWM) / 1024 )), engine $(( $(mem "$engine" VmHWM) / 1024 )))"
# (AddressSanitizer's shadow and quarantine multiply it: logged only.)
ldd "$HOST_NETD" | grep -q libasan || [ "$hwm" -lt $((64 * 1024)) ] ||
	fail "host-netd peaked at $((hwm / 1024)) MiB"
pass "$N VMs at once: 6,400 forwarded connections echoed, 3,200 DNS queries answered; host-netd peaked at $((hwm / 1024)) MiB"
