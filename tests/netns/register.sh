#!/bin/bash
# tests/netns/register.sh - VMs registered at run time with netctl
#
# Checks: a VM registered with `netctl register --owner PID` comes online
# and reaches the lan, with no line in host-netd.conf; `netctl vms` shows
# its owner; a second registration under the same name, one that clashes
# with the file (its channel), one with a global option and one that does
# not parse are refused with the reason, and change nothing; host-netd
# restarted takes the registration back while its owner runs; a reload
# keeps it; the owner killed (SIGKILL) takes the VM with it: its link and
# registry files go; `netctl unregister` removes another, and refuses a VM
# from the file. A VM whose owner runs: `netctl unregister` is refused and
# the VM stays registered and online, unless the request comes from the
# owner itself (a launcher cleaning up); with --force the VM goes and the
# owner gets SIGTERM, the log says so, and the owner exits.
TEST_NAME=register
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_write_conf g1 >/dev/null
bed_host_netd
bed_guest_netd g1
wait_online g1

# The owner: any process that lives as long as the VM should.
sleep 1000 &
OWNER=$!
BED_PIDS+=("$OWNER")
block() { # block NAME NS: a vm block for guest namespace NS
	printf 'vm "%s" {\n\tlink veth netns "%s"\n\thost-ifname "vmn-%s"\n\tchannel "unix:%s"\n}\n' \
	    "$1" "$(guest_ns "$2")" "$1" "$TMP/$2"
}
block g2 g2 >"$TMP/g2.vm"
out=$(netctl --dump register --owner "$OWNER" "$TMP/g2.vm") ||
	fail "register: $out"
echo "$out" | awk -F'\t' 'NR == 2 && $1 == "g2" && $8 == "vmn-g2" { ok = 1 } END { exit !ok }' ||
	fail "register did not print the VM: $out"
bed_guest_netd g2
wait_online g2
[ "$(in_guest g2 curl -sS -m 3 http://$LAN4:8080/)" = "$HOST4" ] ||
	fail "the registered VM cannot reach the lan"
[ "$(vm_field g2 owner)" = "$OWNER" ] || fail "netctl vms: owner $(vm_field g2 owner)"
grep -q '"g2"' "$TMP/host-netd.conf" && fail "registration wrote host-netd.conf"
[ -f "$TMP/vms/g2.conf" ] && [ -f "$TMP/vms/g2.owner" ] ||
	fail "no registry files in $TMP/vms"
pass "registered VM online with its owner; host-netd.conf untouched"

# Refusals, each with its reason; nothing changes.
refused() { # refused WHY-PATTERN BLOCK
	local out
	if out=$(printf '%s\n' "$2" | netctl register - 2>&1); then
		fail "accepted: $out"
	fi
	echo "$out" | grep -q "$1" || fail "refused, but not for \"$1\": $out"
}
refused 'vm "g2" exists' "$(block g2 g2)"
refused 'channel already used by vm "g1"' \
	"$(printf 'vm "g3" {\n\tlink none\n\tmode none\n\tchannel "unix:%s"\n}' "$TMP/g1")"
refused 'only a vm block can be registered' \
	"$(printf 'state-dir "/tmp"\nvm "g3" {\n\tchannel "vsock:9"\n}')"
refused 'unknown VM option "frobnicate"' \
	"$(printf 'vm "g3" {\n\tchannel "vsock:9"\n\tfrobnicate yes\n}')"
[ "$(netctl --dump vms | wc -l)" = 3 ] || fail "a refused registration left something"
pass "duplicate, clashing, global and malformed registrations refused"

# host-netd restarted: the registration is taken back, and kept on reload.
kill "$HOST_NETD_PID"
wait "$HOST_NETD_PID" 2>/dev/null
bed_host_netd
wait_online g1 g2
grep -q "registered vm g2 taken back" "$TMP/host-netd.log" ||
	fail "no log of the registration taken back"
netctl reload >/dev/null || fail "reload"
wait_online g2
pass "host-netd restart and reload keep the registered VM"

# The owner dies: the VM goes with it.
kill -9 "$OWNER"
wait_for 5 "g2 gone with its owner" sh -c \
	"! $NETCTL -s $TMP/control.sock --dump vms | grep -q '^g2	'"
wait_for 5 "g2's link removed" sh -c "! ip netns exec $NS_HOST ip link show vmn-g2"
[ ! -e "$TMP/vms/g2.conf" ] || fail "registry file left behind"
grep -q "vm g2 unregistered (its owner, pid $OWNER, exited)" "$TMP/host-netd.log" ||
	fail "the owner's exit is not logged"
pass "owner killed: VM, link and registry files gone"

# Without an owner it lasts until unregistered; file VMs cannot be.
block g2 g2 >"$TMP/g2.vm"
netctl register "$TMP/g2.vm" >/dev/null || fail "register without owner"
wait_online g2
out=$(netctl unregister g1 2>&1) && fail "unregistered a VM from the file"
echo "$out" | grep -q "is defined in" || fail "unregister g1: $out"
netctl unregister g2 >/dev/null || fail "unregister g2"
netctl --dump vms | grep -q '^g2	' && fail "g2 still there"
wait_online g1
pass "unregister removes a registered VM and refuses a configured one"

# An owner that must learn of `unregister --force`: on SIGTERM it notes it
# and exits, as vmnet-run stops its VM; on SIGUSR1 it unregisters its VM
# itself, through a netctl it starts, as vmnet-run does when it exits.
cat >"$TMP/owner.sh" <<EOF
#!/bin/bash
trap 'echo TERM >"$TMP/owner.term"; exit 0' TERM
trap '"$NETCTL" -s "$TMP/control.sock" unregister g2 >"$TMP/owner.unreg" 2>&1; echo "rc=\$?" >>"$TMP/owner.unreg"' USR1
while :; do sleep 0.1; done
EOF
chmod +x "$TMP/owner.sh"
"$TMP/owner.sh" &
OWNER2=$!
BED_PIDS+=("$OWNER2")
netctl register --owner "$OWNER2" "$TMP/g2.vm" >/dev/null || fail "register with owner.sh"
wait_online g2
if out=$(netctl unregister g2 2>&1); then
	fail "unregistered a VM whose owner runs, without --force: $out"
fi
rc=0; netctl unregister g2 >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "refused unregister exits $rc, not 1"
echo "$out" | grep -q "in use: its owner, pid $OWNER2 (owner.sh)" ||
	fail "the refusal does not name the owner: $out"
echo "$out" | grep -q -- "--force" || fail "the refusal does not mention --force: $out"
[ "$(vm_field g2 owner)" = "$OWNER2" ] && [ "$(vm_field g2 state)" = online ] ||
	fail "a refused unregister changed g2: $(netctl --dump vms)"
kill -0 "$OWNER2" && [ ! -e "$TMP/owner.term" ] || fail "a refused unregister signalled the owner"
pass "unregister of a VM whose owner runs: refused; VM registered and online"

kill -USR1 "$OWNER2"
wait_for 5 "the owner's own unregister" grep -q "rc=" "$TMP/owner.unreg"
grep -q "^rc=0" "$TMP/owner.unreg" && grep -q "^unregistered g2" "$TMP/owner.unreg" ||
	fail "the owner could not unregister its own VM: $(cat "$TMP/owner.unreg")"
netctl --dump vms | grep -q '^g2	' && fail "g2 still there after its owner unregistered it"
sleep 0.3
kill -0 "$OWNER2" && [ ! -e "$TMP/owner.term" ] ||
	fail "the owner was signalled for unregistering its own VM"
pass "the owner (through a netctl it started) unregisters its VM without --force"

netctl register --owner "$OWNER2" "$TMP/g2.vm" >/dev/null || fail "register g2 again"
wait_online g2
out=$(netctl -j unregister --force g2) || fail "unregister --force: $out"
echo "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["schema"] == 1 and d["unregistered"] == "g2", d
assert d["owner_signalled"] == int(sys.argv[1]), d' "$OWNER2" ||
	fail "unregister --force --json: $out"
wait_for 5 "the owner exits on SIGTERM" sh -c "! kill -0 $OWNER2 2>/dev/null"
[ "$(cat "$TMP/owner.term" 2>/dev/null)" = TERM ] || fail "the owner did not get SIGTERM"
netctl --dump vms | grep -q '^g2	' && fail "g2 still there after unregister --force"
wait_for 5 "g2's link removed" sh -c "! ip netns exec $NS_HOST ip link show vmn-g2 2>/dev/null"
[ ! -e "$TMP/vms/g2.conf" ] || fail "registry file left behind by unregister --force"
grep -q "vm g2: SIGTERM to its owner, pid $OWNER2 (owner.sh), to stop it" "$TMP/host-netd.log" ||
	fail "the signal to the owner is not logged"
grep -q "vm g2 unregistered (netctl, uid 0)" "$TMP/host-netd.log" ||
	fail "unregister --force is not logged"
wait_online g1
pass "unregister --force: VM, link and registration gone; the owner got SIGTERM and exited"
