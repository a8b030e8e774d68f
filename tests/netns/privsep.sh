#!/bin/bash
# tests/netns/privsep.sh - host-netd's privilege separation
#
# Checks: host-netd runs as two processes, the parent (root) and its
# engine (vmnetd-engine, or nobody where that user is not made: not root,
# no capability in any set, no_new_privs, its own system call filter);
# every connection from the guest (control, dns, fwd) and every forwarded
# port's socket is the engine's, none the parent's, while DNS through the
# tunnel, a forward each way and a static forward on a port below 1024
# (bound by the parent for the engine) work; where the kernel has
# Landlock, the engine reads /etc but not /bin/sh, makes no file in /tmp
# and binds no TCP port; a call off the engine's list (chroot) kills it,
# and the parent then stops too, leaving links and nftables for the next
# start, which brings the guest back online with its forward.
TEST_NAME=privsep
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null || { echo "missing: gdb (tests/deps.sh installs it)"; exit 99; }
bed_init
bed_up
bed_guest g1
VM_EXTRA='	forward tcp 80 to 8000
	reverse-forward tcp 3128'
bed_write_conf g1 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1
G=$(guest_ns g1)

engine=$(engine_pid || true)
[ -n "$engine" ] || fail "host-netd has no engine process: $(pgrep -a -P "$HOST_NETD_PID")"
st=/proc/$engine/status
uid=$(awk '/^Uid:/ { print $2 }' "$st")
[ "$uid" != 0 ] || fail "the engine runs as root"
want=$(id -u vmnetd-engine 2>/dev/null || id -u nobody)
[ "$uid" = "$want" ] || fail "the engine runs as uid $uid, not $want"
for set in CapInh CapPrm CapEff CapAmb; do
	grep -q "^$set:[[:space:]]*0000000000000000" "$st" ||
		fail "the engine has capabilities: $(grep "^$set" "$st")"
done
grep -q '^NoNewPrivs:[[:space:]]*1' "$st" || fail "the engine may gain privileges"
grep -q '^Seccomp:[[:space:]]*2' "$st" || fail "the engine runs without its filter"
pass "the engine: uid $uid, no capabilities, no_new_privs, filtered"

# Traffic through it: a server in the guest, DNS, both forward directions.
bed_spawn "$G" http socat TCP4-LISTEN:8000,fork,reuseaddr SYSTEM:'echo hello from guest'
get() { in_host socat -t3 -T3 - "TCP:127.0.0.1:$1" </dev/null; }
wait_for 10 "guest port 8000 forwarded" \
	sh -c "ip netns exec $NS_HOST socat -t3 -T3 - TCP:127.0.0.1:8000 </dev/null | grep -q 'hello from guest'"
[ "$(get 80)" = "hello from guest" ] ||
	fail "static forward on port 80 does not reach the guest"
bed_spawn "$NS_HOST" proxy socat TCP4-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr SYSTEM:'echo hello from host'
wait_for 5 "host service on 3128" sh -c "ip netns exec $NS_HOST ss -ltn | grep -q 127.0.0.1:3128"
[ "$(in_guest g1 socat -t3 -T3 - TCP:127.0.0.1:3128 </dev/null)" = "hello from host" ] ||
	fail "reverse forward to the host's 3128 failed"
[ "$(in_guest g1 dig +short +time=2 +tries=2 web.test.lan)" = "$LAN4" ] ||
	fail "no answer through the DNS tunnel"
pass "DNS tunnel, forwards both ways and port 80 work through the engine"

# Who holds what: the guest's connections (a unix socket accepted lives in
# its connecting peer's namespace: the guest's) and the forwarded ports.
socks=$({ in_guest g1 ss -xpn; in_host ss -xpn; } | grep -F "$TMP/g1_" || true)
[ -n "$socks" ] || fail "no connection on the guest's channel"
echo "$socks" | awk '$2 == "ESTAB"' | grep -q "pid=$engine," ||
	fail "the engine holds no guest connection: $socks"
echo "$socks" | awk '$2 == "ESTAB"' | grep -q "pid=$HOST_NETD_PID," &&
	fail "the parent holds a guest connection: $socks"
for p in 80 8000; do
	owners=$(in_host ss -ltnp "sport = :$p" | tail -n +2)
	grep -q "pid=$engine," <<<"$owners" ||
		fail "port $p is not the engine's: $owners"
	grep -q "pid=$HOST_NETD_PID," <<<"$owners" &&
		fail "the parent holds port $p too: $owners"
done
pass "guest connections and forwarded ports are the engine's alone"

# What it keeps of the file system (Landlock, where the kernel has it),
# asked inside it by gdb: /etc read (resolv.conf again after a change),
# nothing else read (/bin/sh), nothing written (a new file in /tmp), no TCP
# port bound (ABI 4 on); the engine lives on.
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))')
if [ "$abi" -ge 1 ]; then
	probe=/tmp/vmn-engine-probe-$SFX
	gdb -p "$engine" -batch -ex 'call (int)open("/etc/resolv.conf", 0)' \
	    -ex 'call (int)open("/bin/sh", 0)' \
	    -ex "call (int)open(\"$probe\", 0101, 0644)" \
	    -ex 'call (int)socket(2, 1, 0)' \
	    -ex 'call (int)bind($4, "\002\000\000\000\177\000\000\001\000\000\000\000\000\000\000\000", 16)' \
	    -ex 'call (int)close($1)' -ex 'call (int)close($4)' >"$TMP/gdb-landlock.log" 2>&1 || true
	read -r -a v <<<"$(awk '/^\$[0-9]+ = / { printf "%s ", $3 }' "$TMP/gdb-landlock.log")"
	[ "${#v[@]}" = 7 ] || fail "gdb in the engine: $(cat "$TMP/gdb-landlock.log")"
	[ "${v[0]}" -ge 0 ] || fail "the engine cannot read /etc/resolv.conf"
	[ "${v[1]}" = -1 ] || fail "the engine reads /bin/sh"
	if [ "${v[2]}" != -1 ] || [ -e "$probe" ]; then
		rm -f "$probe"
		fail "the engine made a file in /tmp"
	fi
	if [ "$abi" -ge 4 ]; then
		[ "${v[4]}" = -1 ] || fail "the engine bound a TCP port"
	fi
	kill -0 "$engine" || fail "the engine did not survive its probes"
	pass "the engine reads /etc and nothing else, writes nothing, binds no TCP port (Landlock ABI $abi)"
else
	log "no Landlock in this kernel: the engine's file system is its user's"
fi

# A call off the list ends the engine, and with it the parent.
gdb -p "$engine" -batch -ex 'call (int)chroot("/")' >"$TMP/gdb.log" 2>&1 || true
wait_for 5 "the engine to end" sh -c "! kill -0 $engine"
wait_for 5 "the parent to end" sh -c "! kill -0 $HOST_NETD_PID"
wait "$HOST_NETD_PID" 2>/dev/null && fail "host-netd exited 0 after losing its engine"
grep -q "the engine is gone" "$TMP/host-netd.log" ||
	fail "host-netd did not say why it stopped: $(tail -n 5 "$TMP/host-netd.log")"
in_host ip link show vmn-g1 >/dev/null || fail "the VM's link went with the engine"
pass "chroot() kills the engine; host-netd stops, its link stays"

bed_host_netd
wait_online g1
wait_for 10 "port 80 forwarded again" \
	sh -c "ip netns exec $NS_HOST socat -t3 -T3 - TCP:127.0.0.1:80 </dev/null | grep -q 'hello from guest'"
pass "a new host-netd takes the guest back"
log "PASS"
