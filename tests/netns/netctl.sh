#!/bin/bash
# tests/netns/netctl.sh - netctl's conventions: help, usage errors, the
# socket it uses, reload's report, JSON scripts can rely on, tables
#
# Checks: `netctl help`, --help and -h print the usage on stdout and exit
# 0, and --version the version; a command's --help; an ambiguous prefix
# names the candidates, and an unknown command or option, a missing or an
# extra argument each say what was wrong (exit 2); the socket comes from
# VMNETD_SOCKET unless -s says otherwise, and a failure to connect names
# the socket and says host-netd is not running (no socket, or a stale one:
# exit 3), or, for permission denied, mentions the vmnetd group; -j and
# --json, also after the command; under --json every error is a JSON
# object on stdout. The JSON of status, vms, vms NAME and forwards: a
# schema version, null for what is absent (never "-" or a 0 placeholder),
# no dots in keys (counters nested), absolute times, the forward's host
# address and port apart, state an enum with the reason apart; `vms NAME`
# for an unknown VM fails. Tables are as wide as their content (a VM name
# of 30 characters, a long error). --dump's header lines are unchanged.
# reload prints every file:line error it was refused with (also as JSON),
# and on success which VMs were added, removed, restarted, updated.
TEST_NAME=netctl
. "$(dirname "$0")/lib.sh"
bed_init

# --- no host-netd needed ---------------------------------------------------
expect() { # expect STATUS STDOUT-PATTERN STDERR-PATTERN CMD...: fixed grep
	local want=$1 outpat=$2 errpat=$3 rc=0
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] ||
		fail "$* exits $rc, not $want: $(cat "$TMP/out" "$TMP/err")"
	if [ -n "$outpat" ]; then
		grep -qF -- "$outpat" "$TMP/out" ||
			fail "$*: no \"$outpat\" on stdout: $(cat "$TMP/out")"
	else
		[ ! -s "$TMP/out" ] || fail "$*: stdout: $(cat "$TMP/out")"
	fi
	if [ -n "$errpat" ]; then
		grep -qF -- "$errpat" "$TMP/err" ||
			fail "$*: no \"$errpat\" on stderr: $(cat "$TMP/err")"
	else
		[ ! -s "$TMP/err" ] || fail "$*: stderr: $(cat "$TMP/err")"
	fi
}
for h in help --help -h; do
	expect 0 "usage: netctl" "" "$NETCTL" $h
	for c in status vms forwards monitor reload register unregister help; do
		grep -q "^  $c" "$TMP/out" || fail "netctl $h does not list $c"
	done
done
expect 0 "netctl (vmnetd) $(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$VMN_BUILDDIR/config.h")" "" \
	"$NETCTL" --version
expect 0 "usage: netctl unregister [--force] NAME" "" "$NETCTL" help unregister
expect 0 "usage: netctl vms [NAME]" "" "$NETCTL" vms --help
pass "help, --help, -h, help COMMAND, COMMAND --help, --version: stdout, exit 0"

expect 2 "" 'netctl: ambiguous command "re": reload, register' "$NETCTL" re
expect 2 "" 'netctl: unknown command "frobnicate"' "$NETCTL" frobnicate
expect 2 "" "netctl: unknown option --frobnicate" "$NETCTL" --frobnicate status
expect 2 "" "netctl: vms: unknown option -x" "$NETCTL" vms -x
expect 2 "" "netctl: option -s needs an argument" "$NETCTL" -s
expect 2 "" "netctl: unregister: missing VM name" "$NETCTL" unregister
expect 2 "" 'netctl: status: unexpected argument "now"' "$NETCTL" status now
expect 2 "" "netctl: register: --owner abc: not a process ID" "$NETCTL" register --owner abc -
expect 2 "" "netctl: no command given" "$NETCTL"
grep -q "^usage: netctl" "$TMP/err" || fail "a usage error without the usage"
pass "ambiguous, unknown command, unknown option, missing and extra argument: said, exit 2"

# Failing to connect: which socket, and what it means.
expect 3 "" "netctl: host-netd is not running (no socket at $TMP/none.sock, from VMNETD_SOCKET)" \
	env VMNETD_SOCKET="$TMP/none.sock" "$NETCTL" status
expect 3 "" "netctl: host-netd is not running (no socket at $TMP/other.sock)" \
	env VMNETD_SOCKET="$TMP/none.sock" "$NETCTL" -s "$TMP/other.sock" status
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/stale.sock"
expect 3 "" "netctl: host-netd is not running (nothing listens on $TMP/stale.sock)" \
	"$NETCTL" -s "$TMP/stale.sock" vms
expect 3 '"message":"host-netd is not running (no socket at' "" \
	"$NETCTL" -s "$TMP/none.sock" -j status
expect 2 '"message":"ambiguous command' "" "$NETCTL" --json re
pass "connection failures name the socket and say host-netd is not running; errors in JSON under -j"

# --- with host-netd --------------------------------------------------------
bed_up
bed_guest g1
bed_guest g2
LONG=a-rather-long-vm-name-0123456789
bed_spawn "$NS_HOST" squatter socat TCP4-LISTEN:9400,bind=127.0.0.1,reuseaddr \
    SYSTEM:'echo squatter'
wait_for 5 "the squatter listens" sh -c "ip netns exec $NS_HOST ss -ltn | grep -q 127.0.0.1:9400"
bed_write_conf g1 g2 >/dev/null
# The vmnetd group, as make install creates it (removed again on exit if
# this test made it): host-netd gives it the control socket at start.
if ! getent group vmnetd >/dev/null; then
	groupadd --system vmnetd || fail "groupadd vmnetd"
	BED_CLEANUP_HOOK='groupdel vmnetd'
fi
VMNETD_GID=$(getent group vmnetd | cut -d: -f3)
sed -i '/^vm "g1" {/a \	forward tcp 18080 to 8000\n\tforward tcp 9400 to 9400' "$TMP/host-netd.conf"
printf 'vm "%s" {\n\tlink none\n\tmode none\n\tchannel "unix:%s/long"\n}\n' \
    "$LONG" "$TMP" >>"$TMP/host-netd.conf"
bed_host_netd
bed_guest_netd g1
bed_guest_netd g2
wait_online g1 g2
wait_for 5 "the conflict is reported" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q 'in use on the host'"

# The socket from the environment; -s before it; the vmnetd group.
VMNETD_SOCKET=$TMP/control.sock "$NETCTL" status | grep -q "^host-netd " ||
	fail "VMNETD_SOCKET is not used"
VMNETD_SOCKET=$TMP/none.sock "$NETCTL" -s "$TMP/control.sock" status >/dev/null ||
	fail "-s does not override VMNETD_SOCKET"
install -m 755 "$NETCTL" "$TMP/netctl-copy"
expect 3 "" "add yourself to the vmnetd group" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/netctl-copy" \
	-s "$TMP/control.sock" status
grep -qF "permission denied on $TMP/control.sock" "$TMP/err" ||
	fail "permission denied does not name the socket: $(cat "$TMP/err")"
pass "VMNETD_SOCKET, -s over it; permission denied mentions the vmnetd group"

# A member of vmnetd by a supplementary group (its primary one is nobody's)
# may change things; a user outside it may not even connect.
[ "$(stat -c %G "$TMP/control.sock")" = vmnetd ] ||
	fail "the control socket's group is $(stat -c %G "$TMP/control.sock")"
setpriv --reuid=65534 --regid=65534 --groups="$VMNETD_GID" "$TMP/netctl-copy" \
    -s "$TMP/control.sock" reload >"$TMP/out" 2>&1 ||
	fail "a vmnetd member (supplementary group) may not reload: $(cat "$TMP/out")"
pass "a member of vmnetd by a supplementary group may reload"

# --- JSON ------------------------------------------------------------------
cat >"$TMP/check.py" <<'EOF'
# check.py WHAT: the JSON on stdin, as netctl(8) documents it.
import json, sys, time

doc = json.load(sys.stdin)
what = sys.argv[1]
now = time.time()
STATES = {"down", "waiting", "configuring", "online", "failed"}
VM_KEYS = {"name", "mode", "state", "reason", "address", "prefixlen",
           "gateway", "address6", "gateway6", "link", "mac", "mtu",
           "channel", "gen", "gen_applied", "since", "fwd_conflicts",
           "registered", "owner_pid", "counters"}

def walk(v, path="$"):
    if isinstance(v, dict):
        for k, x in v.items():
            assert "." not in k, "dot in key %s at %s" % (k, path)
            walk(x, path + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, "%s[%d]" % (path, i))
    else:
        assert v != "-" and v != "", "placeholder %r at %s" % (v, path)

def check_vm(vm):
    assert set(vm) == VM_KEYS, "vm keys: %s" % sorted(set(vm) ^ VM_KEYS)
    assert vm["state"] in STATES, vm
    assert isinstance(vm["since"], int) and now - 600 < vm["since"] <= now + 5, vm
    if vm["mode"] == "none":
        for k in ("address", "prefixlen", "gateway", "link", "mac"):
            assert vm[k] is None, (k, vm)
    else:
        assert isinstance(vm["prefixlen"], int) and vm["address"], vm
        assert isinstance(vm["gen"], int) and vm["gen"] >= 1, vm
    assert vm["registered"] is False and vm["owner_pid"] is None, vm
    assert vm["reason"] is None or isinstance(vm["reason"], str), vm
    c = vm["counters"]
    assert all(isinstance(c[g][k], int) for g, k in (("dns", "queries"),
               ("dns", "failures"), ("fwd", "connections"),
               ("fwd", "bytes_to_guest"), ("fw", "drops"))), c

walk(doc)
assert doc["schema"] == 1, doc
if what == "status":
    assert isinstance(doc["version"], str), doc
    assert now - 600 < doc["started"] <= now + 5, doc
    assert isinstance(doc["stats"]["dns"]["queries"], int), doc
    assert isinstance(doc["stats"]["fwd"]["ports_in_use"], int), doc
    assert doc["vms_online"] == 2, doc
elif what == "vms":
    names = sorted(vm["name"] for vm in doc["vms"])
    assert names == sorted(["g1", "g2", sys.argv[2]]), names
    for vm in doc["vms"]:
        check_vm(vm)
elif what == "vm":
    check_vm(doc["vm"])
    assert doc["vm"]["name"] == "g1" and doc["vm"]["state"] == "online", doc
    assert doc["vm"]["fwd_conflicts"] == 1, doc
elif what == "forwards":
    by = {(f["vm"], f["host_port"]): f for f in doc["forwards"]}
    a, c = by[("g1", 18080)], by[("g1", 9400)]
    assert a["host_address"] == "127.0.0.1" and a["guest_port"] == 8000, a
    assert a["proto"] == "tcp" and a["kind"] == "static", a
    assert a["state"] == "active" and a["reason"] is None, a
    assert c["state"] == "error" and "in use on the host" in c["reason"], c
    assert isinstance(c["connections"], int), c
elif what == "error":
    e = doc["error"]
    assert e["message"] == sys.argv[2], e
    assert e["errno"] == int(sys.argv[3]), e
    assert isinstance(e["errors"], list), e
else:
    raise SystemExit("check.py: what?")
EOF
check() { # check WHAT [ARGS...] <JSON
	python3 "$TMP/check.py" "$@" 2>&1 || return 1
}
out=$(netctl -j status) || fail "status -j"
echo "$out" | check status || fail "status JSON: $out"
out=$(netctl --json vms) || fail "vms --json"
echo "$out" | check vms "$LONG" || fail "vms JSON: $out"
out=$(netctl vms g1 -j) || fail "vms g1 -j (the option after the command)"
echo "$out" | check vm || fail "vms g1 JSON: $out"
out=$(netctl -j forwards) || fail "forwards -j"
echo "$out" | check forwards || fail "forwards JSON: $out"
pass "JSON: schema, null for absent, no dots in keys, absolute times, host address and port apart, state and reason apart"

# One VM; an unknown one.
out=$(netctl vms g1) || fail "vms g1"
echo "$out" | grep -q "^state *online since " || fail "vms g1 shows no state: $out"
echo "$out" | grep -q "^address *[0-9.]*/24" || fail "vms g1 shows no address: $out"
echo "$out" | grep -q "$LONG\|g2" && fail "vms g1 shows other VMs: $out"
[ "$(netctl --dump vms g2 | wc -l)" = 2 ] || fail "vms g2 --dump: not a header and one line"
expect 1 "" 'netctl: no vm "nope"' "$NETCTL" -s "$TMP/control.sock" vms nope
rc=0; out=$(netctl -j vms nope 2>"$TMP/err") || rc=$?
[ "$rc" = 1 ] && [ ! -s "$TMP/err" ] || fail "vms nope -j: exit $rc, stderr $(cat "$TMP/err")"
echo "$out" | check error 'no vm "nope"' 2 || fail "vms nope -j: $out"
pass "vms NAME: that VM in detail; an unknown one fails (JSON error on stdout under -j)"

# Tables: every cell starts where its heading does, however long.
cat >"$TMP/table.py" <<'EOF'
# table.py: a table on stdin; each row's cells start under their headings.
import re, sys
lines = sys.stdin.read().splitlines()
head = lines[0]
starts = [m.start() for m in re.finditer(r"(?<!\S)\S+( \S+)?(?=\s{2}|$)", head)]
rows = [l for l in lines[1:] if l and not l.startswith(" ")]
assert rows, "no rows"
for row in rows:
    for s in starts[1:]:
        assert row[s - 1] == " " and row[s] != " ", "misaligned at %d: %r" % (s, row)
print(len(rows))
EOF
out=$(netctl vms) || fail "vms"
echo "$out" | grep -q "^$LONG " || fail "the long VM name is cut: $out"
[ "$(echo "$out" | python3 "$TMP/table.py")" = 3 ] || fail "vms table misaligned: $out"
out=$(netctl forwards) || fail "forwards"
[ "$(echo "$out" | python3 "$TMP/table.py")" -ge 2 ] || fail "forwards table misaligned: $out"
echo "$out" | grep -q "tcp port 9400 on 127.0.0.1: in use on the host$" ||
	fail "the forward's reason is not in the table: $out"
pass "tables as wide as their content"

# --dump keeps its columns.
[ "$(netctl --dump vms | head -1)" = "$(printf 'name\tmode\tstate\taddress\tgateway\taddress6\tgateway6\tlink\tmac\tmtu\tgen\tapplied\tsince\tchannel\terror\tfwd_conflicts\towner\tdns_queries\tdns_failures\tfwd_connections\tfwd_reverse\tfwd_bytes_to_guest\tfwd_bytes_from_guest\tfw_drops')" ] ||
	fail "vms --dump columns changed: $(netctl --dump vms | head -1)"
[ "$(netctl --dump forwards | head -1)" = "$(printf 'vm\tproto\thost\tguest_port\tkind\tstate\tconnections')" ] ||
	fail "forwards --dump columns changed"
netctl --dump forwards | grep -q "$(printf 'g1\ttcp\t127.0.0.1:9400\t9400\tstatic\ttcp port 9400 on 127.0.0.1: in use on the host\t0')" ||
	fail "forwards --dump line changed: $(netctl --dump forwards)"
netctl --dump status | grep -q "^dns.queries	[0-9]*$" || fail "status --dump changed"
pass "--dump: columns and values as before"

# --- reload ----------------------------------------------------------------
cp "$TMP/host-netd.conf" "$TMP/good.conf"
printf 'vm "g3" {\n\tlink bogus\n}\nfrobnicate yes\n' >>"$TMP/host-netd.conf"
l1=$(grep -n "link bogus" "$TMP/host-netd.conf" | cut -d: -f1)
l2=$(grep -n "frobnicate" "$TMP/host-netd.conf" | cut -d: -f1)
expect 1 "" "netctl: $TMP/host-netd.conf has errors; the running configuration stays" \
	"$NETCTL" -s "$TMP/control.sock" reload
grep -q "^$TMP/host-netd.conf:$l1: .*bogus" "$TMP/err" ||
	fail "reload does not print the first error: $(cat "$TMP/err")"
grep -q "^$TMP/host-netd.conf:$l2: .*frobnicate" "$TMP/err" ||
	fail "reload does not print the second error: $(cat "$TMP/err")"
rc=0; out=$(netctl -j reload) || rc=$?
[ "$rc" = 1 ] || fail "reload -j of a broken file exits $rc"
echo "$out" | python3 -c 'import json, sys
e = json.load(sys.stdin)["error"]
assert "has errors" in e["message"], e
lines = [(x["file"], x["line"]) for x in e["errors"]]
assert (sys.argv[1], int(sys.argv[2])) in lines and (sys.argv[1], int(sys.argv[3])) in lines, e
assert all(x["message"] for x in e["errors"]), e' "$TMP/host-netd.conf" "$l1" "$l2" ||
	fail "reload -j errors: $out"
pass "a refused reload prints each file:line error (and as JSON)"

cp "$TMP/good.conf" "$TMP/host-netd.conf"
[ "$(netctl reload)" = "reloaded: no VM changed" ] || fail "reload of the same file: $(netctl reload)"
# g1: allow-vm (in place); g2: another host-ifname (restart); the long
# one removed; g3 added.
sed -i '/^vm "g1" {/a \	allow-vm "g2"' "$TMP/host-netd.conf"
sed -i 's/host-ifname "vmn-g2"/host-ifname "vmn-g2b"/' "$TMP/host-netd.conf"
sed -i "/^vm \"$LONG\" {/,/^}/d" "$TMP/host-netd.conf"
printf 'vm "g3" {\n\tlink none\n\tmode none\n\tchannel "unix:%s/g3"\n}\n' "$TMP" >>"$TMP/host-netd.conf"
cp "$TMP/host-netd.conf" "$TMP/changed.conf"
out=$(netctl reload) || fail "reload: $out"
[ "$out" = "reloaded: vm g1 updated in place, vm g2 restarted, vm $LONG removed, vm g3 added" ] ||
	fail "reload says: $out"
# The same changes back and forth, as JSON.
cp "$TMP/good.conf" "$TMP/host-netd.conf"
netctl reload >/dev/null || fail "reload back"
cp "$TMP/changed.conf" "$TMP/host-netd.conf"
out=$(netctl -j reload) || fail "reload -j: $out"
echo "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["schema"] == 1 and d["reloaded"] is True, d
assert d["added"] == ["g3"] and d["removed"] == [sys.argv[1]], d
assert d["restarted"] == ["g2"] and d["updated"] == ["g1"], d' "$LONG" ||
	fail "reload -j: $out"
[ "$(netctl --dump reload)" = reloaded ] || fail "reload --dump of the same file"
wait_online g1
pass "reload says which VMs were added, removed, restarted and updated (and as JSON)"
