#!/bin/bash
# tests/netns/seccomp.sh - host-netd's and guest-netd's system call filters
#
# Checks: both daemons run under their filter once set up (Seccomp: 2 in
# /proc/PID/status), with the VM online; a call off the list, made inside
# each by gdb (chroot, which neither ever makes), kills it with SIGSYS; the
# rest of the suite runs with the filters on. guest-netd's systemctl helper
# runs outside the filter (it executes systemctl, which the filter refuses).
TEST_NAME=seccomp
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { echo "missing: gdb (tests/deps.sh installs it)"; exit 99; }
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
GUEST_NETD_ARGS="--systemctl /bin/true" bed_guest_netd g1
wait_online g1

filtered() { grep -q '^Seccomp:[[:space:]]*2' "/proc/$1/status"; }
filtered "$HOST_NETD_PID" || fail "host-netd runs without its system call filter"
filtered "$GUEST_PID_g1" || fail "guest-netd runs without its system call filter"
helper=$(pgrep -P "$GUEST_PID_g1" | head -1)
[ -n "$helper" ] || fail "guest-netd has no systemctl helper"
filtered "$helper" && fail "guest-netd's systemctl helper is filtered: it could not run systemctl"
pass "host-netd and guest-netd filtered, guest-netd's systemctl helper not"

# killed NAME PID: a call off the list kills it with SIGSYS.
killed() {
	local st
	gdb -p "$2" -batch -ex 'call (int)chroot("/")' >"$TMP/gdb-$1.log" 2>&1 || true
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$2" 2>/dev/null &&
		fail "$1 survived chroot(): $(tail -n 3 "$TMP/gdb-$1.log")"
	wait "$2" 2>/dev/null
	st=$?
	[ "$st" = $((128 + 31)) ] || fail "$1 ended with status $st, not SIGSYS's"
}
killed guest-netd "$GUEST_PID_g1"
killed host-netd "$HOST_NETD_PID"
pass "chroot() kills guest-netd and host-netd with SIGSYS"
log "PASS"
