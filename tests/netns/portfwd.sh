#!/bin/bash
# tests/netns/portfwd.sh - localhost port forwarding, both directions
#
# Checks: a server in the guest appears on the host's 127.0.0.1 and [::1]
# and disappears when it stops; a static forward to another guest port;
# 64 MiB each way at once on one connection, checksums compared (no
# deadlock, no corruption); a half-closed connection still gets its reply;
# 1,000 connections at once, also to a server with a listen backlog of 5
# (none lost: guest-netd paces its connects); resets passed on both ways;
# UDP echo; a guest listener on a privileged port (22) or on the ignore
# list (mDNS) is not forwarded automatically, a static forward to 22 is; a
# port the host already uses is reported and forwarded once freed; guest-netd
# killed with connections open, then back on another guest port (which
# host-netd learns from its HELLO) with its listeners; a static forward
# wins a loopback port over the guest's own listener, and gives it back
# when removed; auto-forward off and on again; one port forwarded on
# 127.0.0.1 and ::1 to different guest ports, and a static forward on ::1
# beside the guest's own port on 127.0.0.1; reverse forwards to host
# loopback services (::1-only included), a burst of 100 at once, a host
# port nobody serves reset for the guest's client, and one the
# configuration does not allow refused; the bulk transfer again with both
# daemons' relays copying instead of splicing (VMN_RELAY_COPY). guest-netd
# accepts on the host's listening sockets of TCP ports itself (handed over
# the unix channel), or, run as portfwd-relay.sh (VMN_FWD_HANDOFF=0),
# both daemons relay.
TEST_NAME=portfwd
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
BASE_EXTRA='	forward tcp 18080 to 8000
	forward tcp 2222 to 22
	forward tcp 9600 to 9200
	forward tcp 9600 to 9300 address ::1
	forward tcp 9700 to 9200 address ::1
	reverse-forward tcp 3128
	reverse-forward tcp 3129 to 13129
	reverse-forward tcp 3130
	reverse-forward tcp 3131'
VM_EXTRA="$BASE_EXTRA
	forward tcp 9500 to 9200" bed_write_conf g1 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
ROGUE=$VMN_BUILDDIR/tests/tools/vmn-rogue
G=$(guest_ns g1)

forwarded() { # forwarded PROTO PORT: the port is an active auto forward
	netctl --dump forwards | awk -F'\t' -v p="$1" -v n="127.0.0.1:$2" \
	    '$2 == p && $3 == n && $5 == "auto" && $6 == "active" { f = 1 } END { exit !f }'
}
not_forwarded() { ! forwarded "$@"; }

# --- a server appears on the host, and goes -------------------------------
start=$(date +%s%N)
bed_spawn "$G" http socat TCP6-LISTEN:8000,fork,reuseaddr,ipv6only=0 \
    EXEC:"$TMP/hello.sh"
HTTP=$LAST_PID
wait_for 5 "8000 forwarded" forwarded tcp 8000
wait_for 5 "8000 answers on the host" sh -c \
	"ip netns exec $NS_HOST curl -sS -m 2 http://127.0.0.1:8000/ | grep -q 'hello from lan'"
log "listener to working forward: $(( ($(date +%s%N) - start) / 1000000 )) ms"
[ "$(in_host curl -sS -m 3 "http://[::1]:8000/")" = "hello from lan" ] ||
	fail "no forward on [::1]:8000"
[ "$(in_host curl -sS -m 3 http://127.0.0.1:18080/)" = "hello from lan" ] ||
	fail "static forward 18080 -> 8000"
in_host ss -ltn | grep -q "127.0.0.1:8000 " || fail "not bound on 127.0.0.1"
if in_host ss -ltn | grep -q "0.0.0.0:8000 \|\*:8000 "; then
	fail "a forward was bound beyond loopback"
fi
pass "guest server on host 127.0.0.1:8000 and [::1]:8000; static 18080 -> 8000"

kill "$HTTP"
wait_for 5 "8000 no longer forwarded" not_forwarded tcp 8000
if in_host curl -sS -m 2 http://127.0.0.1:8000/ 2>/dev/null; then
	fail "8000 still answers after the guest's server stopped"
fi
pass "the forward goes with the server"

# A server on the guest's own address, not a wildcard or loopback one, is
# not localhost's: not forwarded (mirrored mode exposes such listeners).
gaddr=$(vm_field g1 address)
bed_spawn "$G" own-addr socat TCP4-LISTEN:8100,bind="${gaddr%/*}",fork,reuseaddr SYSTEM:'echo own-addr'
wait_for 5 "the guest's 8100 listening" sh -c "ip netns exec $G ss -Hltn 'sport = 8100' | grep -q ."
sleep 0.3	# three scans of the guest's listeners
forwarded tcp 8100 && fail "a listener on the guest's own address was forwarded"
in_host ss -Hltn 'sport = 8100' | grep -q . && fail "host-netd bound 8100 for it"
pass "a listener on the guest's own address only is not forwarded to localhost"

# --- bulk both ways at once ---------------------------------------------------
BYTES=$((64 << 20))
bed_spawn "$G" bulk-server "$BULK" bulk-server 9100 $BYTES 1
wait_for 5 "9100 forwarded" forwarded tcp 9100
to_host=$(in_host "$BULK" bulk-client 127.0.0.1 9100 $BYTES 2) ||
	fail "bulk transfer failed: $to_host"
wait_for 10 "the guest's side done" grep -q received "$TMP/bulk-server.log"
[ "$to_host" = "$("$BULK" sum $BYTES 1)" ] ||
	fail "host received $to_host, expected $("$BULK" sum $BYTES 1)"
[ "$(grep received "$TMP/bulk-server.log")" = "$("$BULK" sum $BYTES 2)" ] ||
	fail "guest received $(grep received "$TMP/bulk-server.log")"
pass "64 MiB each way at once, checksums match"
# Over a unix channel the host hands its client socket to guest-netd,
# which relays it alone (portfwd-relay.sh runs all this with the relay).
handed() { netctl -j status | python3 -c 'import json, sys; print(json.load(sys.stdin)["stats"]["fwd"]["handed"])'; }
some_handed() { [ "$(handed)" -gt 0 ]; }
if [ "${VMN_FWD_HANDOFF:-1}" = 0 ]; then
	sleep 1		# what the guest adds up, it reports within 0.5 s
	handed=$(handed)
	[ "$handed" = 0 ] || fail "VMN_FWD_HANDOFF=0, yet $handed connections handed over"
	pass "the host relays every connection (VMN_FWD_HANDOFF=0)"
else
	wait_for 5 "connections the guest took, counted" some_handed
	handed=$(handed)
	# guest-netd accepts on the host's listening socket itself.
	bed_spawn "$G" held socat TCP4-LISTEN:9150,fork,reuseaddr EXEC:cat
	wait_for 5 "9150 forwarded" forwarded tcp 9150
	wait_for 5 "guest-netd holds the host's socket of 9150" sh -c \
	    "ip netns exec $NS_HOST ss -tlnp 'sport = :9150' | grep -q '\"guest-netd\"'"
	[ "$(echo hi | in_host socat -t3 -T3 - TCP:127.0.0.1:9150)" = hi ] ||
		fail "9150, accepted by the guest"
	pass "the guest accepts on the host's sockets and relays alone ($handed connections so far)"
fi

# --- half-close, many connections, resets ------------------------------------
bed_spawn "$G" echo "$BULK" echo-server 9200
wait_for 5 "9200 forwarded" forwarded tcp 9200
[ "$(in_host "$BULK" half 127.0.0.1 9200)" = "request through a half-closed connection" ] ||
	fail "no reply on a half-closed connection"
pass "half-closed connection gets its reply"

out=$(in_host "$BULK" many 127.0.0.1 9200 1000) || fail "1,000 connections: $out"
pass "1,000 connections at once: $out"

# A server with listen()'s backlog of 5 drops SYNs (and resets what its
# SYN cookies let through) when a burst overflows its accept queue; a
# client in the guest loses connections to it. guest-netd paces its connects.
bed_spawn "$G" small-backlog "$BULK" echo-server 9250 5
wait_for 5 "9250 forwarded" forwarded tcp 9250
direct=$(in_guest g1 "$BULK" many 127.0.0.1 9250 1000) || true
out=$(in_host "$BULK" many 127.0.0.1 9250 1000) ||
	fail "1,000 connections at once to a server with backlog 5: $out (direct: $direct)"
pass "1,000 connections at once to a guest server with backlog 5: $out (a client in the guest: $direct)"

bed_spawn "$G" reset "$BULK" reset-server 9300
wait_for 5 "9300 forwarded" forwarded tcp 9300
out=$(in_host "$BULK" expect-reset 127.0.0.1 9300) ||
	fail "a guest server's reset reached the host as: $out"
pass "guest server resets -> host client sees a reset"

bed_spawn "$G" expect-reset "$BULK" expect-reset-server 9301
wait_for 5 "9301 forwarded" forwarded tcp 9301
in_host "$BULK" reset-client 127.0.0.1 9301
wait_for 10 "the guest server's verdict" grep -q "reset\|close\|error" "$TMP/expect-reset.log"
grep -qx reset "$TMP/expect-reset.log" ||
	fail "a host client's reset reached the guest as: $(cat "$TMP/expect-reset.log")"
pass "host client resets -> guest server sees a reset"

# --- UDP ----------------------------------------------------------------------
bed_spawn "$G" udp socat UDP4-RECVFROM:5300,fork EXEC:cat
wait_for 5 "udp 5300 forwarded" forwarded udp 5300
[ "$(echo ping-through-udp | in_host socat -T2 - UDP4:127.0.0.1:5300)" = ping-through-udp ] ||
	fail "UDP echo through the forward"
pass "UDP echo through the forward"

# --- ports the host keeps: privileged ones, and the ignore list -----------------
# The host's ip_unprivileged_port_start is 1024 (the namespace's default).
bed_spawn "$G" ssh socat TCP4-LISTEN:22,fork,reuseaddr SYSTEM:'echo guest-ssh'
bed_spawn "$G" mdns socat UDP4-RECVFROM:5353,fork EXEC:cat
wait_for 5 "port 22 seen and left alone" grep -q \
	"tcp port 22 is below the host's net.ipv4.ip_unprivileged_port_start (1024)" \
	"$TMP/host-netd.log"
wait_for 5 "udp 5353 seen and left alone" grep -q \
	"udp port 5353 (mDNS) is not forwarded automatically" "$TMP/host-netd.log"
if netctl --dump forwards | awk -F'\t' '$3 ~ /:(22|5353)$/' | grep -q .; then
	fail "a privileged or ignored port is listed: $(netctl --dump forwards | grep ':22\|:5353')"
fi
if in_host ss -Hltun | awk '{ print $5 }' | grep -q ':22$\|:5353$'; then
	fail "host-netd bound a privileged or ignored port: $(in_host ss -Hltun)"
fi
[ "$(in_host socat -T2 - TCP:127.0.0.1:2222 </dev/null)" = guest-ssh ] ||
	fail "the static forward 2222 -> guest 22"
pass "guest's 22/tcp and 5353/udp not forwarded automatically; static 2222 -> 22 works"

# --- a port the host already uses -----------------------------------------------
bed_spawn "$NS_HOST" squatter socat TCP4-LISTEN:9400,bind=127.0.0.1,reuseaddr \
    SYSTEM:'echo squatter'
SQUAT=$LAST_PID
wait_for 5 "the squatter listens" sh -c "ip netns exec $NS_HOST ss -ltn | grep -q 127.0.0.1:9400"
bed_spawn "$G" echo2 "$BULK" echo-server 9400
wait_for 5 "the conflict is reported" sh -c \
	"$NETCTL -s $TMP/control.sock forwards | grep 9400 | grep -q 'in use on the host'"
grep -q "cannot forward tcp port 9400 on 127.0.0.1: in use on the host" "$TMP/host-netd.log" ||
	fail "the conflict is not in the log"
if grep -q "forwarding localhost tcp port 9400" "$TMP/host-netd.log"; then
	fail "the log claims 9400 is forwarded while the host holds it"
fi
[ "$(vm_field g1 fwd_conflicts)" = 1 ] ||
	fail "netctl vms does not show the conflict: $(vm_field g1 fwd_conflicts)"
kill "$SQUAT"
wait_for 10 "9400 forwarded once free" forwarded tcp 9400
[ "$(in_host "$BULK" half 127.0.0.1 9400)" = "request through a half-closed connection" ] ||
	fail "9400 does not reach the guest after the host freed it"
pass "a port in use on the host is reported, then forwarded when freed"

# --- guest-netd restarted with connections open ---------------------------------
in_host socat -T30 - TCP:127.0.0.1:9200 </dev/zero >/dev/null 2>&1 &
HOLD=$!
sleep 0.5
kill -9 "$GUEST_PID_g1"
wait "$GUEST_PID_g1" 2>/dev/null	# gone, its pidfile's lock with it
wait_for 5 "the open connection ends with guest-netd" sh -c "! kill -0 $HOLD 2>/dev/null"
GUEST_NETD_ARGS="--guest-port 7801" bed_guest_netd g1
wait_online g1
wait_for 5 "9200 forwarded again" forwarded tcp 9200
[ "$(in_host "$BULK" half 127.0.0.1 9200)" = "request through a half-closed connection" ] ||
	fail "9200 does not work after guest-netd came back on port 7801"
pass "guest-netd killed: open connections end, the listeners come back (guest port 7801)"

# --- the configuration's forwards and the guest's own ---------------------------
ECHO_REPLY="request through a half-closed connection"
bed_spawn "$G" own9500 socat TCP4-LISTEN:9500,fork,reuseaddr SYSTEM:'echo guest-9500'
wait_for 5 "the guest's 9500 reported" grep -q "tcp port 9500 on 127.0.0.1: the configuration forwards it" "$TMP/host-netd.log"
[ "$(in_host "$BULK" half 127.0.0.1 9500)" = "$ECHO_REPLY" ] ||
	fail "host 9500 should be the configuration's forward to guest 9200"
VM_EXTRA="$BASE_EXTRA" bed_write_conf g1 >/dev/null
netctl reload >/dev/null || fail "reload without the 9500 forward"
wait_for 5 "9500 auto-forwarded" forwarded tcp 9500
[ "$(in_host socat -T2 - TCP:127.0.0.1:9500 </dev/null)" = guest-9500 ] ||
	fail "the guest's own 9500 did not come back when the static forward went"
pass "a static forward holds its loopback port; the guest's port returns without it"

[ "$(in_host "$BULK" half 127.0.0.1 9600)" = "$ECHO_REPLY" ] ||
	fail "127.0.0.1:9600 -> guest 9200"
in_host "$BULK" expect-reset ::1 9600 >/dev/null ||
	fail "[::1]:9600 should reach the guest's reset server on 9300"
pass "one host port on 127.0.0.1 and ::1 to two guest ports"

bed_spawn "$G" own9700 socat TCP4-LISTEN:9700,fork,reuseaddr SYSTEM:'echo guest-9700'
wait_for 5 "the guest's 9700 forwarded on 127.0.0.1" forwarded tcp 9700
[ "$(in_host socat -T2 - TCP:127.0.0.1:9700 </dev/null)" = guest-9700 ] ||
	fail "127.0.0.1:9700 should be the guest's own port"
[ "$(in_host "$BULK" half ::1 9700)" = "$ECHO_REPLY" ] ||
	fail "[::1]:9700 should be the configuration's forward to guest 9200"
pass "a static forward on ::1 leaves the guest's port on 127.0.0.1"

VM_EXTRA="$BASE_EXTRA
	auto-forward no" bed_write_conf g1 >/dev/null
netctl reload >/dev/null || fail "reload with auto-forward no"
wait_for 5 "9200 not forwarded" not_forwarded tcp 9200
VM_EXTRA="$BASE_EXTRA" bed_write_conf g1 >/dev/null
netctl reload >/dev/null || fail "reload with auto-forward yes"
wait_for 5 "9200 forwarded again without the guest's help" forwarded tcp 9200
[ "$(in_host "$BULK" half 127.0.0.1 9200)" = "$ECHO_REPLY" ] ||
	fail "9200 after auto-forward came back"
pass "auto-forward off drops the guest's ports, on brings them back"

VM_EXTRA="$BASE_EXTRA
	auto-forward-privileged yes" bed_write_conf g1 >/dev/null
netctl reload >/dev/null || fail "reload with auto-forward-privileged yes"
wait_for 5 "22 forwarded once allowed" forwarded tcp 22
[ "$(in_host socat -T2 - TCP:127.0.0.1:22 </dev/null)" = guest-ssh ] ||
	fail "host 127.0.0.1:22 should be the guest's 22"
netctl --dump forwards | awk -F'\t' '$3 ~ /:5353$/' | grep -q . &&
	fail "the ignore list does not depend on auto-forward-privileged"
VM_EXTRA="$BASE_EXTRA" bed_write_conf g1 >/dev/null
netctl reload >/dev/null || fail "reload without auto-forward-privileged"
wait_for 5 "22 given back" not_forwarded tcp 22
pass "auto-forward-privileged yes forwards the guest's 22; without it, given back"

# --- reverse forwards -----------------------------------------------------------
bed_spawn "$NS_HOST" proxy "$BULK" echo-server 3128
bed_spawn "$NS_HOST" proxy2 "$BULK" echo-server 3129
wait_for 5 "host services" sh -c "ip netns exec $NS_HOST ss -ltn | grep -q ':3129 '"
[ "$(in_guest g1 "$BULK" half 127.0.0.1 3128)" = "request through a half-closed connection" ] ||
	fail "reverse forward guest 127.0.0.1:3128 -> host 3128"
[ "$(in_guest g1 "$BULK" half 127.0.0.1 13129)" = "request through a half-closed connection" ] ||
	fail "reverse forward guest 127.0.0.1:13129 -> host 3129"
if netctl --dump forwards | awk -F'\t' '$5 == "auto"' | grep -q "3128\|13129"; then
	fail "a reverse forward's guest port was forwarded back to the host"
fi
bed_spawn "$NS_HOST" v6only socat TCP6-LISTEN:3130,bind=[::1],fork,reuseaddr \
    SYSTEM:'echo host-v6-only'
wait_for 5 "the ::1 service" sh -c "ip netns exec $NS_HOST ss -ltn | grep -q '\[::1\]:3130 '"
[ "$(in_guest g1 socat -T2 - TCP:127.0.0.1:3130 </dev/null)" = host-v6-only ] ||
	fail "reverse forward to a host service on ::1 only"
out=$(in_guest g1 "$BULK" many 127.0.0.1 3128 100) ||
	fail "100 reverse connections at once: $out"
in_guest g1 "$BULK" expect-reset 127.0.0.1 3131 >/dev/null ||
	fail "a reverse forward nobody serves on the host was not reset"
netctl --dump forwards | awk -F'\t' '$5 == "reverse" && $3 == "127.0.0.1:3131"' |
	grep -q "Connection refused" || fail "netctl forwards does not show the refusal"
out=$(in_guest g1 "$ROGUE" -t 3 -i g1 "unix:$TMP/g1" rfwd=22 || true)
echo "$out" | grep -q "error reply: not allowed by host-netd.conf" ||
	fail "a reverse forward outside the configuration was not refused: $out"
pass "reverse forwards to host loopback services; others refused"

# --- the relay's copy path: both daemons again, told not to splice -------------
# relay.c copies through a buffer where splice() does not work; VMN_RELAY_COPY
# makes every relay do so, and the bulk transfer runs through that path.
kill "$HOST_NETD_PID"
wait_for 5 "host-netd gone" sh -c "! kill -0 $HOST_NETD_PID 2>/dev/null"
kill -9 "$GUEST_PID_g1"
wait "$GUEST_PID_g1" 2>/dev/null	# gone, its pidfile's lock with it
export VMN_RELAY_COPY=1
bed_host_netd
GUEST_NETD_ARGS="--guest-port 7801" bed_guest_netd g1
unset VMN_RELAY_COPY
wait_online g1
bed_spawn "$G" bulk-copy "$BULK" bulk-server 9110 $BYTES 3
wait_for 5 "9110 forwarded" forwarded tcp 9110
to_host=$(in_host "$BULK" bulk-client 127.0.0.1 9110 $BYTES 4) ||
	fail "bulk transfer through the copy path failed: $to_host"
wait_for 10 "the guest's side done" grep -q received "$TMP/bulk-copy.log"
[ "$to_host" = "$("$BULK" sum $BYTES 3)" ] ||
	fail "copy path: host received $to_host, expected $("$BULK" sum $BYTES 3)"
[ "$(grep received "$TMP/bulk-copy.log")" = "$("$BULK" sum $BYTES 4)" ] ||
	fail "copy path: guest received $(grep received "$TMP/bulk-copy.log")"
# Handed over, the connection has one relay: guest-netd's.
relays="host-netd guest-g1"
[ "${VMN_FWD_HANDOFF:-1}" = 0 ] || relays=guest-g1
for l in $relays; do
	grep -q "relay: copying through user space" "$TMP/$l.log" ||
		fail "$l did not take the copy path"
done
pass "64 MiB each way at once through the relays' copy path, checksums match"
