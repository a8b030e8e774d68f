#!/bin/bash
# tests/netns/confine.sh - what a vmnetd group member may ask of root's host-netd
#
# Checks, as an ordinary user (nobody, with the vmnetd group): registrations
# asking for a vsock CID, a channel outside the user's directory, a veth,
# a named tap, host-ifname, a chosen subnet, allow-vm, a forward beyond
# loopback or below the unprivileged ports, or another user's process as
# owner are refused with the reason, and change nothing. A registration
# with a channel in the user's directory (which host-netd makes: root's,
# reached by root and that user alone) comes online with a guest-netd run
# by that user in a user namespace of its own, and its forward carries
# traffic; `netctl forward add` works on loopback for that VM and not
# beyond it, nor on root's VM; a 33rd VM of the user's is refused. The
# user swaps the guest's socket for a link to a socket of root's: host-netd
# does not talk to it (SO_PEERCRED).
TEST_NAME=confine
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
if ! getent group vmnetd >/dev/null; then
	groupadd --system vmnetd || fail "groupadd vmnetd"
	BED_CLEANUP_HOOK='groupdel vmnetd'
fi
GID=$(getent group vmnetd | cut -d: -f3)
U=65534		# nobody: a user with nothing of its own
bed_host_netd
bed_guest_netd g1
wait_online g1

install -m 755 "$NETCTL" "$TMP/netctl-copy"
as_user() { setpriv --reuid=$U --regid=$U --groups="$GID" "$@"; }
user_netctl() { as_user "$TMP/netctl-copy" -s "$TMP/control.sock" "$@"; }
UDIR=$TMP/user/$U

# The user's own files (pid file, resolv.conf, the server's log).
mkdir -p "$TMP/u"
chown "$U:$U" "$TMP/u"
sleep 1000 >/dev/null 2>&1 &
ROOT_PROC=$!
BED_PIDS+=("$ROOT_PROC")

refused() { # refused WHY-PATTERN BLOCK-BODY
	local out
	if out=$(printf 'vm "u1" {\n%s\n}\n' "$2" | user_netctl register - 2>&1); then
		fail "accepted from a user: $2 ($out)"
	fi
	echo "$out" | grep -q -- "$1" || fail "refused, but not for \"$1\": $out"
}
CH="channel \"unix:$UDIR/u1\""
refused 'a vsock channel needs root' 'link tap
channel "vsock:77"'
refused "yours must be a name in $UDIR/" "channel \"unix:$TMP/u1\""
refused "yours must be a name in $UDIR/" "channel \"unix:$UDIR/sub/u1\""
refused "yours must be a name in $UDIR/" "channel \"unix:$UDIR/../0/u1\""
refused 'a veth into a network namespace needs root' \
	"link veth netns \"$(guest_ns g1)\"
$CH"
refused 'a tap named by you' "link tap mytap0
$CH"
refused 'host-ifname needs root' "link tap
host-ifname \"eth9\"
$CH"
refused 'a subnet of your choosing' "link tap
subnet 10.99.0.0/24
$CH"
refused 'allow-vm needs root' "link tap
allow-vm g1
$CH"
refused 'yours may listen on loopback only' "link tap
forward tcp 18095 address 0.0.0.0
$CH"
refused 'ip_unprivileged_port_start' "link tap
forward tcp 80
$CH"
out=$(printf 'vm "u1" {\n\tlink none\n\tmode none\n\t%s\n}\n' "$CH" |
    user_netctl register --owner "$ROOT_PROC" - 2>&1) &&
	fail "a user registered root's process as its VM's owner: $out"
echo "$out" | grep -q "owner pid $ROOT_PROC is not a process of yours" ||
	fail "owner of root's refused, but not for that: $out"
[ "$(netctl --dump vms | wc -l)" = 2 ] || fail "a refused registration left something"
pass "a user's registrations beyond their own are refused, with the reason"

# The user's own VM: a channel in their directory, a guest-netd of theirs.
printf 'vm "u1" {\n\tlink none\n\tmode none\n\t%s\n\tforward tcp 18090 to 9000\n}\n' \
    "$CH" >"$TMP/u1.vm"
# An owner process of the user's: sleep started by them.
setpriv --reuid=$U --regid=$U --groups="$GID" sleep 1000 >/dev/null 2>&1 &
USER_PROC=$!
BED_PIDS+=("$USER_PROC")
wait_for 5 "the user's sleep" sh -c "[ \"\$(stat -c %u /proc/$USER_PROC)\" = $U ]"
out=$(user_netctl register --owner "$USER_PROC" "$TMP/u1.vm" 2>&1) ||
	fail "the user's own VM refused: $out"
[ "$(stat -c '%U %a' "$UDIR")" = "root 770" ] ||
	fail "$UDIR is $(stat -c '%U %a' "$UDIR"), not root's with an ACL's mask"
setpriv --reuid=65533 --regid=65533 --clear-groups ls "$UDIR" >/dev/null 2>&1 &&
	fail "another user can read $UDIR"
as_user ls "$UDIR" >/dev/null || fail "the user cannot read $UDIR"
# guest-netd and a server, as the user, in a user and network namespace.
SERVER="echo users-server-$SFX"
BED_CLEANUP_HOOK="${BED_CLEANUP_HOOK:-:}; pkill -f -- '$SERVER'; pkill -f -- '$UDIR/'"
setpriv --reuid=$U --regid=$U --groups="$GID" unshare -Urn sh -c "
	socat TCP4-LISTEN:9000,bind=127.0.0.1,reuseaddr,fork SYSTEM:'$SERVER' &
	exec '$GUEST_NETD' -d -v --host 'unix:$UDIR/u1' \
	    --resolv-conf '$TMP/u/resolv.conf' --proxy-env '$TMP/u/proxy.sh' \
	    --apt-proxy '$TMP/u/apt.conf' --pidfile '$TMP/u/u1.pid'
" >>"$TMP/guest-u1.log" 2>&1 &
USER_GUEST=$!
BED_PIDS+=("$USER_GUEST")
wait_online u1
got=$(in_host socat -T 3 - TCP4:127.0.0.1:18090 </dev/null 2>&1)
[ "$got" = "users-server-$SFX" ] || fail "the user's forward: \"$got\""
pass "a user's VM with a channel in their directory: online, its forward carries traffic"

# A user's VMs at once: 32 (u1 and 31 more); the 33rd is refused.
for i in $(seq 2 32); do
	printf 'vm "u%s" {\n\tlink none\n\tmode none\n\tchannel "unix:%s/u%s"\n}\n' \
	    "$i" "$UDIR" "$i" | user_netctl register - >"$TMP/out" 2>&1 ||
		fail "the user's VM u$i refused: $(cat "$TMP/out")"
done
printf 'vm "u33" {\n\tlink none\n\tmode none\n\tchannel "unix:%s/u33"\n}\n' "$UDIR" |
    user_netctl register - >"$TMP/out" 2>&1 && fail "a user registered a 33rd VM"
grep -q 'the most a user other than root may' "$TMP/out" ||
	fail "the 33rd VM refused, but not for that: $(cat "$TMP/out")"
for i in $(seq 2 32); do
	user_netctl unregister "u$i" >/dev/null || fail "the user cannot unregister u$i"
done
pass "a user may have 32 VMs at once, not 33"

# Run-time forwards: loopback on the user's VM, not beyond, not root's VM.
user_netctl forward add u1 tcp 18091 to 9000 >"$TMP/out" 2>&1 ||
	fail "forward add on the user's VM: $(cat "$TMP/out")"
got=$(in_host socat -T 3 - TCP4:127.0.0.1:18091 </dev/null 2>&1)
[ "$got" = "users-server-$SFX" ] || fail "the user's run-time forward: \"$got\""
user_netctl forward add u1 tcp 18092 to 9000 address 0.0.0.0 >"$TMP/out" 2>&1 &&
	fail "a user forwarded beyond loopback"
grep -q 'loopback only' "$TMP/out" || fail "not refused for loopback: $(cat "$TMP/out")"
user_netctl forward add g1 tcp 18093 to 9000 >"$TMP/out" 2>&1 &&
	fail "a user added a forward to root's VM"
grep -q 'in the configuration' "$TMP/out" || fail "not refused for that: $(cat "$TMP/out")"
pass "netctl forward add: the user's VM on loopback; not beyond, not root's VM"

# The user swaps guest-netd's socket for a link to a socket of root's;
# host-netd connects to it for the next forwarded connection, sees root's
# credentials, and sends nothing (without the check: its HELLO).
GSOCK=$(find "$UDIR" -maxdepth 1 -user "$U" -name 'u1_*' | head -1)
[ -n "$GSOCK" ] || fail "no socket of guest-netd's in $UDIR: $(ls -l "$UDIR")"
kill "$USER_GUEST"
wait "$USER_GUEST" 2>/dev/null
pgrep -f -- "--host unix:$UDIR/u1" >/dev/null && fail "the user's guest-netd survived"
socat -u UNIX-LISTEN:"$TMP/root.sock",fork OPEN:"$TMP/root-got",creat,append &
BED_PIDS+=($!)
wait_for 5 "root's socket" test -S "$TMP/root.sock"
as_user sh -c "rm -f '$GSOCK' && ln -s '$TMP/root.sock' '$GSOCK'" ||
	fail "the user cannot replace their own socket"
for _ in 1 2 3; do
	echo probe | in_host socat -T 1 - TCP4:127.0.0.1:18090 >/dev/null 2>&1 || true
done
sleep 1
[ -s "$TMP/root-got" ] &&
	fail "host-netd wrote to root's socket: $(od -c "$TMP/root-got" | head -3)"
[ -e "$TMP/root-got" ] ||
	fail "host-netd never connected through the link: the test proves nothing"
pass "a link to root's socket in the user's directory gets nothing"

kill "$ROOT_PROC" "$USER_PROC" 2>/dev/null || true
log "PASS"
