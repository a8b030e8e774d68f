#!/bin/bash
# tests/vm/vsockd.sh - vmnet-vsockd against a guest that misbehaves
#
# No VM: vmn-vhost-guest plays QEMU (the vhost-user front-end, guest RAM
# a memfd) and the guest's vsock driver, and host programs on the hybrid
# vsock side. One vmnet-vsockd (-v, its stderr kept) serves a new
# front-end session per scenario, as it would a VM rebooted or a QEMU
# restarted: connections echoed through socat (an echo server at
# uds_5000), refused ones, host programs' CONNECT, credit both ways, 1100
# connections at once, malformed packets and chains, corrupt rings and
# the recovery from them, vhost-user misuse. Every scenario must pass,
# vmnet-vsockd must stay up through all of them (it is restarted if it
# dies, and that is a failure) and exit cleanly on SIGTERM, and its log
# must have no sanitizer report ("AddressSanitizer", "runtime error:").
# Last, the system call filter: on, and a call off its list (an AF_INET
# socket, made by gdb inside it) kills vmnet-vsockd with SIGSYS.
# Needs neither root nor namespaces.
#
#   VMN_BUILDDIR            where vm/vmnet-vsockd and tests/tools/ are
#   VMN_VSOCKD_SCENARIOS    a subset, in order (default: all)
#   VMN_VSOCKD_VERBOSE=1    vmn-vhost-guest -v (its log is kept with the
#                           others on failure)
set -euo pipefail
TEST_NAME=vsockd
: "${VMN_BUILDDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
VSOCKD=${VMN_VSOCKD:-$VMN_BUILDDIR/vm/vmnet-vsockd}
GUEST=${VMN_VHOST_GUEST:-$VMN_BUILDDIR/tests/tools/vmn-vhost-guest}
SCENARIOS=${VMN_VSOCKD_SCENARIOS:-connect refused host-connect credit guest-credit many malformed corrupt frontend}
CID=7
ECHO_PORT=5000
SANITIZER='AddressSanitizer|LeakSanitizer|runtime error:'

log() { printf '%s [%s] %s\n' "$(date +%T.%3N)" "$TEST_NAME" "$*"; }

[ -x "$VSOCKD" ] || { echo "missing $VSOCKD"; exit 99; }
[ -x "$GUEST" ] || { echo "missing $GUEST (make check builds it)"; exit 99; }
command -v socat >/dev/null || { echo "missing tool: socat"; exit 99; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmn-vsockd.XXXXXX")
VSOCKD_PID=
SOCAT_PID=
NLOG=0
FAILED=0
KEEP_LOGS=0

# shellcheck disable=SC2317	# run by the trap
cleanup() {
	local rc=$?
	set +e
	[ -n "$SOCAT_PID" ] && kill "$SOCAT_PID" 2>/dev/null
	[ -n "$VSOCKD_PID" ] && kill "$VSOCKD_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "$rc" != 0 ] || [ "$KEEP_LOGS" = 1 ]; then
		# Without the one line per vhost-user request.
		for f in "$TMP"/*.log; do
			[ -s "$f" ] || continue
			echo "----- $(basename "$f") (last 40 lines)"
			grep -v 'vhost-user: [A-Z_]* (' "$f" | tail -n 40
		done
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { log "FAIL: $*"; FAILED=1; KEEP_LOGS=1; }

# Whether pid runs (a zombie does not: kill -0 would say it does).
running() {
	[ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]
}

wait_for_socket() {
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# vmnet-vsockd needs a descriptor per connection: 1024 and more.
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [ "$soft" != unlimited ] && [ "$soft" -lt 4096 ]; then
	if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then
		ulimit -Sn 4096
	else
		ulimit -Sn "$hard"
		log "note: open files limited to $hard (many needs over 1100)"
	fi
fi

start_vsockd() {
	NLOG=$((NLOG + 1))
	VSOCKD_LOG=$TMP/vsockd.$NLOG.log
	rm -f "$TMP/vhost.sock" "$TMP/vsock"
	"$VSOCKD" -v --socket "$TMP/vhost.sock" --uds "$TMP/vsock" \
	    --guest-cid "$CID" 2>"$VSOCKD_LOG" &
	VSOCKD_PID=$!
	if ! wait_for_socket "$TMP/vhost.sock" ||
	    ! wait_for_socket "$TMP/vsock"; then
		fail "vmnet-vsockd did not start"
		exit 1
	fi
}

# The exit status of vmnet-vsockd, once it has ended.
reap_vsockd() {
	local st=0
	wait "$VSOCKD_PID" 2>/dev/null || st=$?
	VSOCKD_PID=
	echo "$st"
}

# A clean exit on SIGTERM (the sanitizers report leaks then).
stop_vsockd() {
	local st
	kill -TERM "$VSOCKD_PID"
	for _ in $(seq 100); do
		running "$VSOCKD_PID" || break
		sleep 0.05
	done
	if running "$VSOCKD_PID"; then
		fail "vmnet-vsockd ignored SIGTERM for 5 s"
		kill -KILL "$VSOCKD_PID"
	fi
	st=$(reap_vsockd)
	[ "$st" = 0 ] || fail "vmnet-vsockd exited with status $st on SIGTERM"
	[ -e "$TMP/vsock" ] && fail "vmnet-vsockd left its socket $TMP/vsock behind"
	return 0
}

start_vsockd
socat UNIX-LISTEN:"$TMP/vsock_$ECHO_PORT",fork,unlink-early EXEC:cat \
    2>"$TMP/socat.log" &
SOCAT_PID=$!
wait_for_socket "$TMP/vsock_$ECHO_PORT" || { fail "socat did not listen"; exit 1; }
log "vmnet-vsockd $VSOCKD (pid $VSOCKD_PID), guest CID $CID; echo server at vsock_$ECHO_PORT"

opts=(-t 90 --socket "$TMP/vhost.sock" --uds "$TMP/vsock"
    --echo-port "$ECHO_PORT" --expect-cid "$CID")
[ "${VMN_VSOCKD_VERBOSE:-0}" = 1 ] && opts+=(-v)
npass=0
nfail=0
for sc in $SCENARIOS; do
	# vhost-user misuse may take vmnet-vsockd down: not this one.
	if [ "$sc" = frontend ] && [ "$NLOG" = 1 ]; then
		stop_vsockd
		start_vsockd
	fi
	lines_before=$(wc -l <"$VSOCKD_LOG")
	start=$(date +%s%N)
	rc=0
	timeout 150 "$GUEST" "${opts[@]}" "$sc" >"$TMP/out" \
	    2>"$TMP/guest-$sc.log" || rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	ok=1
	if [ "$rc" = 124 ]; then
		fail "$sc: vmn-vhost-guest hung (killed after 150 s)"
		ok=0
	elif [ "$rc" = 0 ] && grep -q '^ok ' "$TMP/out"; then
		log "ok ($ms ms): $(sed 's/^ok //' "$TMP/out")"
	else
		while IFS= read -r line; do
			fail "${line#FAIL }"
		done < <(grep -v '^ok ' "$TMP/out" || true)
		grep -q . "$TMP/out" || fail "$sc: vmn-vhost-guest exited $rc, saying nothing"
		ok=0
	fi
	# The tool itself may be built with sanitizers: its own failure.
	if grep -Eq "$SANITIZER" "$TMP/guest-$sc.log"; then
		fail "$sc: a sanitizer report from vmn-vhost-guest itself:"
		grep -E -m 5 -A 6 "$SANITIZER" "$TMP/guest-$sc.log" | sed 's/^/    /'
		ok=0
	fi
	# What the back-end said meanwhile: sanitizers, a crash.
	if tail -n +"$((lines_before + 1))" "$VSOCKD_LOG" | grep -Eq "$SANITIZER"; then
		fail "$sc: a sanitizer report in vmnet-vsockd's log:"
		tail -n +"$((lines_before + 1))" "$VSOCKD_LOG" |
		    grep -E -m 5 -A 6 "$SANITIZER" | sed 's/^/    /'
		ok=0
	fi
	if ! running "$VSOCKD_PID"; then
		st=$(reap_vsockd)
		fail "$sc: vmnet-vsockd died (exit status $st); its last words:"
		grep -v 'vhost-user: [A-Z_]* (' "$VSOCKD_LOG" | tail -n 5 | sed 's/^/    /'
		ok=0
		start_vsockd	# for the scenarios still to come
		log "vmnet-vsockd restarted (pid $VSOCKD_PID)"
	fi
	if [ "$ok" = 1 ]; then
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
	fi
done

# A clean exit, and nothing from the sanitizers at exit (leaks) either.
stop_vsockd

# The system call filter: on once set up (and, run by root, no capability
# left), and a call off its list (an AF_INET socket, made inside it by
# gdb) kills the process with SIGSYS.
start_vsockd
for _ in $(seq 50); do
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$VSOCKD_PID/status" && break
	sleep 0.05
done
if ! grep -q '^Seccomp:[[:space:]]*2' "/proc/$VSOCKD_PID/status"; then
	fail "vmnet-vsockd runs without its system call filter"
elif ! grep -q '^CapEff:[[:space:]]*0*$' "/proc/$VSOCKD_PID/status" ||
    ! grep -q '^CapBnd:[[:space:]]*0*$' "/proc/$VSOCKD_PID/status"; then
	fail "vmnet-vsockd, run by root, kept capabilities: $(grep '^Cap' "/proc/$VSOCKD_PID/status" | tr '\n' ' ')"
elif ! command -v gdb >/dev/null; then
	fail "missing tool: gdb (tests/deps.sh installs it)"
else
	gdb -p "$VSOCKD_PID" -batch -ex 'call (int)socket(2, 1, 0)' \
	    >"$TMP/gdb.log" 2>&1 || true
	for _ in $(seq 100); do
		running "$VSOCKD_PID" || break
		sleep 0.05
	done
	if running "$VSOCKD_PID"; then
		fail "vmnet-vsockd survived socket(AF_INET): $(tail -n 3 "$TMP/gdb.log")"
		stop_vsockd
	else
		st=$(reap_vsockd)
		if [ "$st" = $((128 + 31)) ]; then
			log "ok: seccomp: on; socket(AF_INET) killed vmnet-vsockd with SIGSYS"
		else
			fail "vmnet-vsockd ended with status $st, not SIGSYS's"
		fi
	fi
fi
for f in "$TMP"/vsockd.*.log; do
	if grep -Eq "$SANITIZER" "$f"; then
		fail "$(basename "$f"): sanitizer reports:"
		grep -E "$SANITIZER" "$f" | sort | uniq -c | head -n 10 | sed 's/^/    /'
	fi
done

if [ "$FAILED" = 0 ]; then
	log "PASS: all $npass scenarios"
	exit 0
fi
log "FAILED: $nfail of $((npass + nfail)) scenarios failed"
exit 1
