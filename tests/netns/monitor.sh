#!/bin/bash
# tests/netns/monitor.sh - netctl monitor, netctl forward add|remove, and
# the per-VM counters of netctl vms NAME
#
# Checks: `netctl monitor --json` (one JSON object a line, schema 1) sees
# each kind of event as it happens: the VM's states up to online and down
# again, configuration generations applied and one failed (the guest's
# reason), forwards added and removed
# (automatic from a guest listener, and by `netctl forward`), a port the
# host has (and freed), the host's resolv.conf changed, reloads done and
# refused, VMs changed by a reload, a registration and an unregistration;
# the human format too. A
# monitor stopped with SIGSTOP while 300 events happen does not slow the
# daemon, and once it reads again it is told how many it lost, exactly the
# gaps in the events' numbers, while a monitor that reads loses none.
# `netctl forward add` carries traffic through the new port at once and
# `remove` leaves it refusing; unknown VM, a port forwarded already or in
# use on the host, bad syntax and a forward of the file are refused and
# change nothing; a reload keeps run-time forwards of a VM whose block did
# not change and drops them when it changed; a registered block that
# forwards the same port wins it. `netctl vms g1` counts real DNS queries
# and failures, and forwarded connections and bytes each way.
TEST_NAME=monitor
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
G=$(guest_ns g1)

# monitor FILE [ARGS...]: netctl monitor in the background (not through the
# netctl function, whose & would give a subshell's pid); $! is netctl's.
monitor() {
	local out=$1
	shift
	"$NETCTL" -s "$TMP/control.sock" monitor "$@" >"$out" 2>"$out.err" &
	BED_PIDS+=($!)
}

cat >"$TMP/ev.py" <<'EOF'
# ev.py FILE KIND [KEY=VALUE...]: an event of KIND with those fields is in
# FILE (netctl monitor --json); every line must be one valid event.
import json, sys

KEYS = {"schema", "seq", "time", "event", "vm", "text"}
found = False
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["schema"] == 1 and KEYS <= set(e), e
    assert all("." not in k for k in e), e
    if e["event"] != sys.argv[2]:
        continue
    if all(str(e.get(k)) == v for k, v in
           (a.split("=", 1) for a in sys.argv[3:])):
        found = True
sys.exit(0 if found else 1)
EOF
event() { python3 "$TMP/ev.py" "$@"; }
wait_event() { # wait_event FILE KIND [KEY=VALUE...]
	wait_for 10 "event $2 ${*:3} in $(basename "$1")" event "$@"
}

monitor "$TMP/mon.json" --json
wait_event "$TMP/mon.json" monitor pid="$HOST_NETD_PID"
pass "netctl monitor --json starts with a monitor event naming host-netd"

# --- the VM comes up --------------------------------------------------------
bed_guest_netd g1
wait_online g1
wait_event "$TMP/mon.json" vm-state vm=g1 to=online
wait_event "$TMP/mon.json" config-applied vm=g1 gen=1
event "$TMP/mon.json" vm-state vm=g1 from=waiting to=configuring ||
	fail "no waiting -> configuring: $(cat "$TMP/mon.json")"
pass "vm-state up to online, config-applied"

# --- a configuration the guest refuses --------------------------------------------
# g2's namespace shares the host's /etc (no /etc/netns/NAME/resolv.conf):
# its guest-netd refuses to write the host's resolv.conf, so generation 1
# fails. (The host's file is restored on exit should that ever change.)
cp /etc/resolv.conf "$TMP/host-resolv.conf"
BED_CLEANUP_HOOK='cmp -s /etc/resolv.conf "$TMP/host-resolv.conf" || cat "$TMP/host-resolv.conf" >/etc/resolv.conf'
NS_SHARED=vmn-g2-$SFX
bed_netns_add "$NS_SHARED" lo-down
rm -f "/etc/netns/$NS_SHARED/resolv.conf"
printf 'vm "g2" {\n\tlink veth netns "%s"\n\thost-ifname "vmn-g2"\n\tchannel "unix:%s/g2"\n}\n' \
    "$NS_SHARED" "$TMP" | netctl register - >/dev/null || fail "register g2"
bed_spawn "$NS_SHARED" guest-g2 "$GUEST_NETD" -d -v --host "unix:$TMP/g2" \
    --proxy-env "$TMP/g2-proxy.sh" --pidfile "$TMP/g2.pid"
wait_event "$TMP/mon.json" config-failed vm=g2 gen=1
python3 - "$TMP/mon.json" <<'EOF' || fail "config-failed does not say why: $(grep config-failed "$TMP/mon.json")"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
f = [x for x in e if x["event"] == "config-failed" and x["vm"] == "g2"][0]
assert "not writing /etc/resolv.conf" in f["text"], f
EOF
cmp -s /etc/resolv.conf "$TMP/host-resolv.conf" || fail "a namespace guest rewrote the host's /etc/resolv.conf"
netctl unregister --force g2 >/dev/null || fail "unregister g2"
pass "config-failed, with the guest's reason"

# --- automatic forwards, and a port the host has ---------------------------
bed_spawn "$G" echo socat TCP4-LISTEN:8000,fork,reuseaddr EXEC:cat
wait_event "$TMP/mon.json" forward-added vm=g1 kind=auto host_port=8000 guest_port=8000 proto=tcp
bed_spawn "$NS_HOST" squatter socat TCP4-LISTEN:9450,bind=127.0.0.1,reuseaddr \
    SYSTEM:'echo squatter'
SQUATTER=$LAST_PID
wait_for 5 "the squatter listens" sh -c "ip netns exec $NS_HOST ss -Hltn 'sport = 9450' | grep -q ."
bed_spawn "$G" own9450 socat TCP4-LISTEN:9450,fork,reuseaddr SYSTEM:'echo guest'
wait_event "$TMP/mon.json" port-conflict vm=g1 host_port=9450 kind=auto
event "$TMP/mon.json" port-conflict host_port=9450 \
    "reason=tcp port 9450 on 127.0.0.1: in use on the host" ||
	fail "port-conflict without its reason: $(grep 9450 "$TMP/mon.json")"
kill "$SQUATTER"
wait_event "$TMP/mon.json" port-conflict-cleared vm=g1 host_port=9450
pass "forward-added (auto), port-conflict with its reason, port-conflict-cleared"

# --- netctl forward add and remove -------------------------------------------
expect_fail() { # expect_fail STATUS MESSAGE ARGS...: netctl fails so
	local want=$1 msg=$2 rc=0
	shift 2
	netctl "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || fail "netctl $* exits $rc, not $want: $(cat "$TMP/out" "$TMP/err")"
	grep -qF -- "$msg" "$TMP/err" || fail "netctl $*: no \"$msg\": $(cat "$TMP/err")"
}
netctl --dump forwards >"$TMP/forwards.before"
out=$(netctl forward add g1 tcp 18090 to 8000) || fail "forward add: $out"
[ "$out" = "vm g1: tcp 127.0.0.1:18090 forwarded to guest port 8000, until a reload changes its block" ] ||
	fail "forward add says: $out"
wait_event "$TMP/mon.json" forward-added vm=g1 kind=runtime host_port=18090 guest_port=8000
head -c 100000 /dev/urandom >"$TMP/blob"
in_host socat -T5 - TCP:127.0.0.1:18090 <"$TMP/blob" >"$TMP/blob.back" ||
	fail "no traffic through the new forward"
cmp -s "$TMP/blob" "$TMP/blob.back" || fail "the forward's echo differs"
pass "forward add: 100 kB echoed through the new port at once"

expect_fail 1 'no vm "nope"' forward add nope tcp 18095
expect_fail 1 "tcp port 18090 on 127.0.0.1 is forwarded already, by vm \"g1\" (netctl forward add)" \
	forward add g1 tcp 18090
bed_spawn "$NS_HOST" squatter2 socat TCP4-LISTEN:9460,bind=127.0.0.1,reuseaddr SYSTEM:'echo x'
wait_for 5 "the second squatter listens" sh -c "ip netns exec $NS_HOST ss -Hltn 'sport = 9460' | grep -q ."
expect_fail 1 "tcp port 9460 on 127.0.0.1: in use on the host" forward add g1 tcp 9460
expect_fail 2 "not a port (1 to 65535)" forward add g1 tcp 70000
expect_fail 2 '"sctp": not a protocol (tcp or udp)' forward add g1 sctp 1
expect_fail 2 'unexpected "too" (to or address)' forward add g1 tcp 18096 too 80
expect_fail 2 'address "nowhere": not an IP address' forward add g1 tcp 18096 address nowhere
expect_fail 2 "missing port" forward add g1 tcp
expect_fail 1 'vm "g1" has no run-time forward of tcp port 18097' forward remove g1 tcp 18097
rc=0; out=$(netctl -j forward add nope tcp 1) || rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q '"message":"no vm \\"nope\\""' ||
	fail "forward add -j of an unknown VM: $rc $out"
netctl --dump forwards | grep -v 18090 | diff - "$TMP/forwards.before" >/dev/null ||
	fail "a refused forward changed something: $(netctl --dump forwards)"
pass "unknown VM, forwarded already, in use on the host, bad syntax, nothing to remove: refused, nothing changed"

# The guest reports what it accepted within half a second.
wait_for 5 "18090's connection counted" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | awk -F'\t' '\$3 == \"127.0.0.1:18090\" && \$7 == 1 { f = 1 } END { exit !f }'"
out=$(netctl -j forward remove g1 tcp 18090) || fail "forward remove: $out"
echo "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)["removed"]
assert d["vm"] == "g1" and d["host_port"] == 18090 and d["guest_port"] == 8000, d
assert d["kind"] == "runtime" and d["connections"] == 1, d' || fail "forward remove -j: $out"
wait_event "$TMP/mon.json" forward-removed vm=g1 kind=runtime host_port=18090
in_host socat -T2 - TCP:127.0.0.1:18090 </dev/null >/dev/null 2>"$TMP/err" &&
	fail "18090 still answers after remove"
grep -q "Connection refused" "$TMP/err" || fail "18090 after remove: $(cat "$TMP/err")"
pass "forward remove: forward-removed, and the port refuses"

# --- the counters of netctl vms NAME -------------------------------------------
for n in 1 2 3; do
	in_guest g1 dig +short +time=2 +tries=1 web.test.lan >/dev/null ||
		fail "dig in the guest"
done
# Queries past 4 KiB straight on the dns channel: refused by host-netd.
out=$(in_guest g1 "$VMN_BUILDDIR/tests/tools/vmn-rogue" -t 3 -i g1 "unix:$TMP/g1" \
    dnsflood=2,6000,web.test.lan)
[ "$out" = "answers 2 noerror 0 servfail 0 refused 2 formerr 0" ] ||
	fail "queries of 6,000 bytes: $out"
for n in 1 2; do
	[ "$(echo hi | in_host socat -T2 - TCP:127.0.0.1:8000)" = hi ] ||
		fail "the auto forward of 8000"
done
# A connection handed to guest-netd is counted when it ends, as the guest
# reports it: a moment after the client is done.
counted() {
	netctl -j vms g1 | python3 -c 'import json, sys
c = json.load(sys.stdin)["vm"]["counters"]
assert c["dns"]["queries"] >= 5 and c["dns"]["failures"] >= 2, c
assert c["fwd"]["connections"] >= 3, c
assert c["fwd"]["bytes_to_guest"] >= 100006, c
assert c["fwd"]["bytes_from_guest"] >= 100006, c
assert c["fw"]["drops"] == 0, c'
}
wait_for 5 "vms g1 counters: $(netctl -j vms g1)" counted
netctl vms g1 | grep -q "^dns  *[5-9][0-9]* queries, [2-9][0-9]* failed$" ||
	fail "vms g1 shows no DNS counters: $(netctl vms g1)"
netctl vms g1 | grep -q "^forwarded  *[3-9][0-9]* connections" ||
	fail "vms g1 shows no forwarding counters: $(netctl vms g1)"
netctl --dump vms g1 | awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { exit !($c["dns_queries"] >= 5 && $c["fwd_bytes_to_guest"] >= 100006 && $c["fw_drops"] == 0) }' ||
	fail "vms g1 --dump counters: $(netctl --dump vms g1)"
pass "vms g1 counts DNS queries and failures, connections and bytes each way: $(netctl vms g1 | grep -E '^(dns|forwarded)' | tr -s ' ' | tr '\n' ';')"

# --- the host's resolvers ------------------------------------------------------
printf 'nameserver %s\nnameserver 203.0.113.9\nsearch test.lan\n' $LAN4 \
    >"/etc/netns/$NS_HOST/resolv.conf"
wait_event "$TMP/mon.json" resolver "nameservers=$LAN4 203.0.113.9" search=test.lan
pass "resolver: the new nameservers and search"

# --- reloads, registrations ----------------------------------------------------
monitor "$TMP/mon.txt"
wait_for 5 "the human monitor starts" grep -q "monitor *monitoring host-netd" "$TMP/mon.txt"
netctl forward add g1 tcp 18091 to 8000 >/dev/null || fail "forward add 18091"
netctl reload >/dev/null || fail "reload"
wait_event "$TMP/mon.json" reloaded cause=netctl changes=0 "file=$TMP/host-netd.conf"
netctl --dump forwards | grep -q "127.0.0.1:18091	8000	runtime	active" ||
	fail "a reload that did not change g1 dropped its run-time forward: $(netctl --dump forwards)"
cp "$TMP/host-netd.conf" "$TMP/good.conf"
echo "frobnicate yes" >>"$TMP/host-netd.conf"
netctl reload >/dev/null 2>&1 && fail "a broken file reloaded"
wait_event "$TMP/mon.json" reload-refused cause=netctl
event "$TMP/mon.json" reload-refused "error=$TMP/host-netd.conf:$(wc -l <"$TMP/host-netd.conf"): unknown option \"frobnicate\"" ||
	fail "reload-refused without its error: $(grep reload-refused "$TMP/mon.json")"
cp "$TMP/good.conf" "$TMP/host-netd.conf"
sed -i '/^vm "g1" {/a \	mtu 1400' "$TMP/host-netd.conf"
[ "$(netctl reload)" = "reloaded: vm g1 updated in place" ] || fail "reload with g1's mtu"
wait_event "$TMP/mon.json" vm-changed vm=g1 change=updated "cause=reload, netctl"
wait_event "$TMP/mon.json" reloaded changes=1
wait_event "$TMP/mon.json" forward-removed vm=g1 host_port=18091 kind=runtime
netctl --dump forwards | grep -q 18091 && fail "g1's block changed, its run-time forward stays"
grep -q "vm-changed *vm g1 updated in place (reload, netctl)" "$TMP/mon.txt" ||
	fail "the human monitor: $(cat "$TMP/mon.txt")"
pass "reload: run-time forwards kept while the block is the same, dropped when it changes; reloaded, reload-refused, vm-changed"

netctl forward add g1 tcp 18092 to 8000 >/dev/null || fail "forward add 18092"
printf 'vm "g2" {\n\tlink none\n\tmode none\n\tchannel "unix:%s/g2"\n\tforward tcp 18092\n}\n' \
    "$TMP" | netctl register - >/dev/null || fail "register g2"
wait_event "$TMP/mon.json" vm-changed vm=g2 change=added cause=registered
wait_event "$TMP/mon.json" forward-removed vm=g1 host_port=18092 kind=runtime
wait_event "$TMP/mon.json" forward-added vm=g2 host_port=18092 kind=static
netctl --dump forwards | grep -q "^g2	tcp	127.0.0.1:18092	18092	static	active" ||
	fail "g2's forward did not win its port: $(netctl --dump forwards)"
expect_fail 1 "tcp port 18092 on 127.0.0.1 is a forward of its block (<stdin>:" forward remove g2 tcp 18092
# The listing of every VM takes its counters from one answer of the
# engine's: each VM gets its own.
netctl -j vms | python3 -c 'import json, sys
v = {x["name"]: x["counters"] for x in json.load(sys.stdin)["vms"]}
assert v["g1"]["fwd"]["connections"] >= 3 and v["g1"]["dns"]["queries"] >= 5, v
assert v["g2"]["fwd"]["connections"] == 0 and v["g2"]["dns"]["queries"] == 0, v' ||
	fail "vms: each VM's counters: $(netctl -j vms)"
netctl unregister g2 >/dev/null || fail "unregister g2"
wait_event "$TMP/mon.json" vm-changed vm=g2 change=removed
wait_event "$TMP/mon.json" vm-state vm=g2 to=down
pass "a registered forward wins its port from a run-time one; vm-changed added and removed; vm-state down"

# --- a slow monitor ------------------------------------------------------------
monitor "$TMP/slow.json" --json
SLOW=$!
BED_CLEANUP_HOOK="kill -CONT $SLOW 2>/dev/null"
wait_event "$TMP/slow.json" monitor
churn() { # churn N: N forwards added and removed, 2N events, in CHURN_MS
	local i start=$(date +%s%N)
	for ((i = 0; i < $1; i++)); do
		netctl forward add g1 udp $((20000 + i)) >/dev/null || fail "forward add udp $((20000 + i))"
		netctl forward remove g1 udp $((20000 + i)) >/dev/null || fail "forward remove udp $((20000 + i))"
	done
	CHURN_MS=$(( ($(date +%s%N) - start) / 1000000 ))
}
churn 20
base=$CHURN_MS
kill -STOP "$SLOW"
churn 150
stopped=$CHURN_MS
start=$(date +%s%N)
netctl status >/dev/null || fail "status while a monitor is stopped"
status_ms=$(( ($(date +%s%N) - start) / 1000000 ))
log "20 add/remove pairs: $base ms; 150 with a stopped monitor: $stopped ms; status: $status_ms ms"
[ $((stopped / 150)) -le $((3 * base / 20 + 20)) ] ||
	fail "a stopped monitor slowed the daemon: $((stopped / 150)) ms a pair, $((base / 20)) before"
[ "$status_ms" -lt 1000 ] || fail "status took $status_ms ms"
kill -0 "$HOST_NETD_PID" || fail "host-netd died"
kill -CONT "$SLOW"
wait_event "$TMP/slow.json" dropped
netctl forward add g1 tcp 18093 >/dev/null || fail "forward add 18093"
wait_event "$TMP/slow.json" forward-added host_port=18093
wait_event "$TMP/mon.json" forward-added host_port=18093
python3 - "$TMP/slow.json" "$TMP/mon.json" <<'EOF' || fail "drops and event numbers do not agree"
import json, sys
slow = [json.loads(l) for l in open(sys.argv[1])]
fast = [json.loads(l) for l in open(sys.argv[2])]
seqs = [e["seq"] for e in slow if e["seq"] is not None]
dropped = sum(e["count"] for e in slow if e["event"] == "dropped")
assert seqs == sorted(seqs), "out of order"
missing = seqs[-1] - seqs[0] + 1 - len(seqs)
print("slow monitor: %d events, %d dropped (told), %d missing" %
      (len(seqs), dropped, missing))
assert dropped > 0 and dropped == missing, (dropped, missing)
told = [e for e in slow if e["event"] == "dropped"][0]
assert "did not read them in time" in told["text"], told
fs = [e["seq"] for e in fast if e["seq"] is not None]
assert fs == list(range(fs[0], fs[-1] + 1)), "the monitor that reads lost events"
EOF
pass "a stopped monitor: the daemon unhindered ($stopped ms for 300 events), then told of exactly the events it lost"
