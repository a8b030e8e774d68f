#!/bin/bash
# tests/netns/policy.sh - policy(5)'s firewall rules, verified by traffic
#
# Two NAT guests, g1 and g2, and a policy in policy.d. Checks, IPv4 and
# IPv6: allow passes, deny drops (a timeout), reject refuses (TCP: reset;
# UDP: administratively prohibited); named sets of addresses and ports;
# rules for one VM only; VM to VM (an in rule of one side lets the other
# in, nothing else does); host to VM and VM to host; the lan reaching a
# guest's port only by rule (NAT's default: nothing in but replies); the
# rules' counters and the VM's drop counter; a reload under traffic keeps
# an established connection it still allows and cuts one it no longer
# does; a policy file with an error is refused with file:line, and the
# running policy stays in force.
TEST_NAME=policy
. "$(dirname "$0")/lib.sh"
bed_init
bed_up
bed_guest g1
bed_guest g2
bed_guest g3
bed_write_conf g1 g2 g3 >/dev/null
sed -i "1i policy-dir \"$TMP/policy.d\"" "$TMP/host-netd.conf"
sed -i '/^vm "g3" {/a \	mode mirrored' "$TMP/host-netd.conf"
mkdir "$TMP/policy.d"

# The lan: UDP answering on 7000 and 7001, TCP echo on 9100 (both families).
for p in 7000 7001; do
	# The answer comes after the datagram is read: a shell that answered and
	# exited first would leave socat nowhere to write it (EPIPE), and no answer.
	bed_spawn "$NS_LAN" "udp$p" socat UDP6-RECVFROM:$p,fork,ipv6only=0 \
	    SYSTEM:"read -r _; echo pong"
done
bed_spawn "$NS_LAN" echo9100 socat TCP6-LISTEN:9100,fork,reuseaddr,ipv6only=0 \
    EXEC:cat

cat >"$TMP/policy.d/10-lan.conf" <<EOF
# What the guests may reach on the lan.
set lan { $LAN4 $LAN6 }
set web { 80 8000-8999 }
firewall {
	reject out tcp to $LAN4 $LAN6 port 8080
	deny out tcp to @lan port 81
	reject out udp to @lan port 7000
}
firewall "g1" {
	deny out icmp to $LAN4 $LAN6
	# Not the replies of connections the lan opens (allowed in below).
	deny out tcp to $LAN4 $LAN6 port 30000-65535
	allow in tcp from vm "g2" port 9000
	allow in tcp from 203.0.113.0/24 $LAN6 port 9000
	reject in tcp from host port 9001
}
firewall "g2" {
	deny out to host
}
forwarding "g1" {
	ignore tcp port 9500
	forward tcp port 80 9600-9601
	forward tcp port 9602 address 0.0.0.0
}
firewall "g3" {
	allow in tcp from $LAN4 $LAN6 port 9300
	reject in tcp port 9301
	deny in tcp port 9302
}
EOF
bed_host_netd
bed_guest_netd g1
bed_guest_netd g2
bed_guest_netd g3
wait_online g1 g2 g3
"$NETCTL" -s "$TMP/control.sock" --json monitor >"$TMP/monitor.json" 2>&1 &
BED_PIDS+=($!)
grep -q "policy: 1 file in $TMP/policy.d: 12 firewall rules, 2 sets, 0 proxies, 3 forwarding rules" \
    "$TMP/host-netd.log" || fail "the policy loaded is not logged"

addr6() { ip -n "$(guest_ns "$1")" -6 -o addr show scope global |
	awk '{ sub(/\/.*/, "", $4); print $4; exit }'; }
g1_4=$(vm_field g1 address); g1_4=${g1_4%/*}
g2_4=$(vm_field g2 address); g2_4=${g2_4%/*}
g1_6=$(addr6 g1); g2_6=$(addr6 g2)
[ -n "$g1_6" ] && [ -n "$g2_6" ] || fail "the guests have no IPv6 address"
gw_4=$(in_guest g2 ip -4 route show default | awk '{ print $3 }')

# try_tcp NS ADDR PORT: ok, refused, or timeout (what the client sees).
# Nothing is sent: a server's shell that answered and exited before our
# data came would make its socat close without the answer. -t3: the
# answer may take a while.
try_tcp() {
	local out rc a=$2
	case $a in *:*) a="[$a]" ;; esac
	out=$(timeout 6 ip netns exec "$1" socat -t3 -T3 - \
	    "TCP:$a:$3,connect-timeout=1.5" </dev/null 2>&1)
	rc=$?
	case $out in
	*"Connection refused"*) echo refused ;;
	*"timed out"* | *"in progress"*) echo timeout ;;
	*) if [ $rc = 0 ] && [ -n "$out" ]; then echo ok; else echo "other($rc): $out"; fi ;;
	esac
}
# try_udp NS ADDR PORT: ok (an answer), prohibited (an ICMP error) or
# timeout. A datagram may be lost: three tries before a timeout.
try_udp() {
	local out a=$2 i
	case $a in *:*) a="[$a]" ;; esac
	for i in 1 2 3; do
		out=$(echo ping | timeout 4 ip netns exec "$1" socat -T3 - "UDP:$a:$3" 2>&1)
		case $out in
		pong) echo ok; return ;;
		*"No route to host"* | *"Permission denied"*) echo prohibited; return ;;
		"") ;;
		*) echo "other: $out"; return ;;
		esac
	done
	echo timeout
}
reload() {
	netctl reload >/dev/null 2>"$TMP/reload.err" ||
		fail "reload refused: $(cat "$TMP/reload.err")"
}
expect() { # expect WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: $2, not $3"
}

# --- outbound: allow, deny, reject, sets, both families --------------------------
for a in $LAN4 $LAN6; do
	for g in g1 g2; do
		expect "$g -> $a:80 (allowed)" "$(try_tcp "$(guest_ns $g)" $a 80)" ok
		expect "$g -> $a:8080 (reject)" "$(try_tcp "$(guest_ns $g)" $a 8080)" refused
		expect "$g -> $a:81 (deny, by set)" "$(try_tcp "$(guest_ns $g)" $a 81)" timeout
		expect "$g udp $a:7000 (reject)" "$(try_udp "$(guest_ns $g)" $a 7000)" prohibited
		expect "$g udp $a:7001 (allowed)" "$(try_udp "$(guest_ns $g)" $a 7001)" ok
	done
	in_guest g1 ping -c1 -W1 $a >/dev/null 2>&1 && fail "g1 pinged $a (deny icmp)"
	in_guest g2 ping -c1 -W1 $a >/dev/null 2>&1 || fail "g2 cannot ping $a"
done
pass "out: allow, deny, reject (TCP reset, UDP prohibited), sets, one VM's rules; IPv4 and IPv6"

# --- VM to VM, host to VM, VM to host -----------------------------------------------
for g in g1 g2; do
	for p in 9000 9001; do
		bed_spawn "$(guest_ns $g)" "srv-$g-$p" socat \
		    TCP6-LISTEN:$p,fork,reuseaddr,ipv6only=0 SYSTEM:"echo $g"
	done
	wait_for 5 "$g servers" in_guest $g sh -c "ss -ltn | grep -q ':9001 '"
done
bed_spawn "$NS_HOST" host9200 socat TCP6-LISTEN:9200,fork,reuseaddr,ipv6only=0 \
    SYSTEM:"echo host"
wait_for 5 "host server" in_host sh -c "ss -ltn | grep -q ':9200 '"
for pair in "$g1_4 $g2_4" "$g1_6 $g2_6"; do
	set -- $pair
	expect "g2 -> g1 $1:9000 (allow in from vm)" "$(try_tcp "$(guest_ns g2)" $1 9000)" ok
	expect "g2 -> g1 $1:9001 (default)" "$(try_tcp "$(guest_ns g2)" $1 9001)" timeout
	expect "g1 -> g2 $2:9000 (default)" "$(try_tcp "$(guest_ns g1)" $2 9000)" timeout
	expect "host -> g1 $1:9000" "$(try_tcp "$NS_HOST" $1 9000)" ok
	expect "host -> g1 $1:9001 (reject in from host)" "$(try_tcp "$NS_HOST" $1 9001)" refused
	expect "host -> g2 $2:9001" "$(try_tcp "$NS_HOST" $2 9001)" ok
done
expect "g1 -> host" "$(try_tcp "$(guest_ns g1)" "$gw_4" 9200)" ok
expect "g2 -> host (deny out to host)" "$(try_tcp "$(guest_ns g2)" "$gw_4" 9200)" timeout
pass "VM to VM by an in rule only; host to VM and VM to host by rule"

# --- the lan in: by rule only -------------------------------------------------------
ip -n "$NS_LAN" route add "${g1_4%.*}.0/24" via $HOST4
ip -n "$NS_LAN" route add "${g2_4%.*}.0/24" via $HOST4
ip -n "$NS_LAN" -6 route add "${g1_6%:*}:/64" via $HOST6
ip -n "$NS_LAN" -6 route add "${g2_6%:*}:/64" via $HOST6
for a in "$g1_4" "$g1_6"; do
	expect "lan -> g1 $a:9000 (allow in from the lan)" "$(try_tcp "$NS_LAN" "$a" 9000)" ok
	expect "lan -> g1 $a:9001 (default)" "$(try_tcp "$NS_LAN" "$a" 9001)" timeout
done
expect "lan -> g2 $g2_4:9000 (default)" "$(try_tcp "$NS_LAN" "$g2_4" 9000)" timeout
pass "the lan reaches a NAT guest's port only by rule"

# --- a mirrored guest: the same rules, in the steering table --------------------------
for a in $LAN4 $LAN6; do
	expect "g3 -> $a:80 (allowed)" "$(try_tcp "$(guest_ns g3)" $a 80)" ok
	expect "g3 -> $a:8080 (reject)" "$(try_tcp "$(guest_ns g3)" $a 8080)" refused
	expect "g3 -> $a:81 (deny)" "$(try_tcp "$(guest_ns g3)" $a 81)" timeout
	expect "g3 udp $a:7000 (reject)" "$(try_udp "$(guest_ns g3)" $a 7000)" prohibited
	expect "g3 udp $a:7001 (allowed)" "$(try_udp "$(guest_ns g3)" $a 7001)" ok
done
# (Ports of its own: the NAT guests' 9000 and 9001 are on the host's localhost.)
for p in 9300 9301 9302; do
	bed_spawn "$(guest_ns g3)" "srv-g3-$p" socat \
	    TCP6-LISTEN:$p,fork,reuseaddr,ipv6only=0 SYSTEM:"echo g3"
done
# Each port is steered (held for g3, as netctl forwards shows: the table
# is replaced before that) before the lan tries it: one not yet steered
# meets the host's closed port, refused whatever the rule says.
steered() {
	netctl --dump forwards | awk -F'\t' -v p="0.0.0.0:$1" '
	    $1 == "g3" { for (i = 2; i <= NF; i++) if ($i == p) a = 1; if (/inbound/ && a) f = 1; a = 0 }
	    END { exit !f }'
}
for p in 9300 9301 9302; do
	wait_for 5 "g3's $p steered" steered $p
done
wait_for 5 "the lan reaches g3's 9300" sh -c "[ \"\$(ip netns exec $NS_LAN socat -t3 -T3 - TCP:$HOST4:9300 </dev/null)\" = g3 ]"
for a in $HOST4 $HOST6; do
	expect "lan -> g3 $a:9300 (allow in)" "$(try_tcp "$NS_LAN" $a 9300)" ok
	expect "lan -> g3 $a:9301 (reject in)" "$(try_tcp "$NS_LAN" $a 9301)" refused
	expect "lan -> g3 $a:9302 (deny in)" "$(try_tcp "$NS_LAN" $a 9302)" timeout
done
in_host nft list counters table netdev vmnetd_mirror | grep -A1 "counter d_" |
	grep -q "packets [1-9]" || fail "the mirrored guest's drops are not counted"
pass "a mirrored guest: out rules (allow, deny, reject) and in rules for its listeners, both families"

# --- forwarding rules ------------------------------------------------------------------
for p in 80 9500 9600 9602 9700; do
	bed_spawn "$(guest_ns g1)" "fwd-g1-$p" socat \
	    TCP6-LISTEN:$p,fork,reuseaddr,ipv6only=0 SYSTEM:"echo g1-$p"
done
wait_for 5 "g1's 9700 forwarded (no rule: the default)" sh -c \
	"[ \"\$(ip netns exec $NS_HOST socat -t3 -T3 - TCP:127.0.0.1:9700 </dev/null)\" = g1-9700 ]"
wait_for 5 "g1's 80 forwarded (a rule beats the privileged default)" sh -c \
	"[ \"\$(ip netns exec $NS_HOST socat -t3 -T3 - TCP:127.0.0.1:80 </dev/null)\" = g1-80 ]"
wait_for 5 "g1's 9602 on the host's every address" sh -c \
	"[ \"\$(ip netns exec $NS_LAN socat -t3 -T3 - TCP:$HOST4:9602 </dev/null)\" = g1-9602 ]"
expect "host localhost:9600 (forward rule)" "$(try_tcp "$NS_HOST" 127.0.0.1 9600)" ok
expect "host localhost:9500 (ignore rule)" "$(try_tcp "$NS_HOST" 127.0.0.1 9500)" refused
expect "lan -> host:9700 (loopback only)" "$(try_tcp "$NS_LAN" $HOST4 9700)" refused
expect "lan -> host:9600 (loopback only)" "$(try_tcp "$NS_LAN" $HOST4 9600)" refused
grep -q "vm g1: tcp port 9500 is not forwarded automatically: .*10-lan.conf:[0-9]* ignores it" \
    "$TMP/host-netd.log" || fail "the ignored port is not logged with its rule"
pass "forwarding rules: ignore, forward (a privileged port too), an address beyond loopback; the defaults after them"

# --- counters -------------------------------------------------------------------------
counters=$(in_host nft list counters table inet vmnetd)
dropped=$(printf '%s\n' "$counters" | awk '/counter d_/ { getline; print $2 }' |
	awk '{ s += $1 } END { print s + 0 }')
[ "$dropped" -gt 0 ] || fail "no drop counted: $counters"
ruled=$(printf '%s\n' "$counters" | awk '/counter c_/ { getline; if ($2 > 0) n++ } END { print n + 0 }')
[ "$ruled" -ge 6 ] || fail "only $ruled rules counted anything: $counters"
for g in g1 g2 g3; do
	netctl vms $g | grep -q "firewall *[1-9][0-9]* packets dropped" ||
		fail "netctl vms $g shows no firewall drops: $(netctl vms $g | grep firewall)"
done
pass "rules and drops counted ($ruled rules, $dropped drops), drops per VM in netctl vms"

# --- netctl policy, netctl policy check ---------------------------------------------------
netctl policy g1 >"$TMP/policy.out" || fail "netctl policy g1 failed"
grep -Eq "^ +[1-9][0-9]*  reject out tcp to $LAN4 $LAN6 port 8080  \(.*10-lan.conf:[0-9]+\)$" \
    "$TMP/policy.out" || fail "netctl policy: no counted reject rule: $(cat "$TMP/policy.out")"
grep -q "ignore tcp port 9500" "$TMP/policy.out" || fail "netctl policy: no forwarding rules"
netctl -j policy g1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
vm = d["vms"][0]
assert d["schema"] == 1 and vm["name"] == "g1" and vm["mode"] == "nat", d
assert len(vm["firewall"]) == 8 and len(vm["forwarding"]) == 3, vm
assert vm["drops"] > 0 and vm["proxy"] is None, vm
assert sum(r["packets"] for r in vm["firewall"]) > 0, vm
' || fail "netctl -j policy g1: $(netctl -j policy g1)"
[ "$(netctl -j policy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["vms"]))')" = 3 ] ||
	fail "netctl policy does not list every VM"
echo "firewall { deny out tcp to @lan port 22 }" >"$TMP/20-new.conf"
netctl policy check "$TMP/20-new.conf" | grep -q "OK: 13 firewall rules, 2 sets" ||
	fail "policy check of a good file (using another file's set): $(netctl policy check "$TMP/20-new.conf" 2>&1)"
echo "firewall { deny out tcp to @nowhere port 22 }" >"$TMP/21-bad.conf"
if netctl policy check "$TMP/21-bad.conf" 2>"$TMP/check.err"; then
	fail "policy check accepted an unknown set"
fi
grep -q "21-bad.conf:1:.*nowhere" "$TMP/check.err" || fail "policy check: no file:line: $(cat "$TMP/check.err")"
[ "$(netctl -j policy g1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["vms"][0]["firewall"]))')" = 8 ] ||
	fail "policy check applied something"
pass "netctl policy shows each VM's rules with counters and its forwarding rules; policy check checks, applies nothing"

# --- a reload under traffic --------------------------------------------------------------
# g1 keeps one connection to the lan's echo server, a line every 0.1 s.
cat >"$TMP/ticker.sh" <<EOF
#!/bin/sh
i=0
while :; do
	i=\$((i + 1))
	echo \$i
	read -r back || exit 1
	echo "\$back" >>"$TMP/ticks"
	sleep 0.1
done
EOF
chmod +x "$TMP/ticker.sh"
: >"$TMP/ticks"
bed_spawn "$(guest_ns g1)" ticker socat EXEC:"$TMP/ticker.sh" TCP:$LAN4:9100
ticks() { wc -l <"$TMP/ticks"; }
grows() { local n; n=$(ticks); sleep 0.5; [ "$(ticks)" -gt "$n" ]; }
wait_for 5 "the connection carries lines" grows
# A rule that changes nothing for it, and the counters stay.
before=$(in_host nft list counters table inet vmnetd | md5sum)
echo 'firewall "g1" { deny out udp port 9999 }' >"$TMP/policy.d/20-more.conf"
reload
grows || fail "the connection stalled across a reload that still allows it"
in_host nft list counters table inet vmnetd | grep -A1 "counter d_" | grep -q "packets [1-9]" ||
	fail "the drop counters started again from 0 on reload"
pass "a reload keeps the established connection it still allows, and the counters"
echo 'firewall "g1" { deny out tcp port 9100 }' >"$TMP/policy.d/05-cut.conf"
reload
sleep 0.3
grows && fail "a connection the new policy denies goes on"
rm "$TMP/policy.d/05-cut.conf"
reload
wait_for 5 "the connection resumes" grows
pass "a connection the new policy denies stops; it resumes when allowed again"

# --- a policy with an error: refused, the old one stays -----------------------------------
cat >"$TMP/policy.d/30-bad.conf" <<'EOF'
firewall {
	allow out tcp port 80
	deny sideways tcp
}
EOF
if netctl reload 2>"$TMP/reload.err"; then
	fail "a policy with an error was accepted"
fi
grep -q "30-bad.conf:3: deny: in or out, not \"sideways\"" "$TMP/reload.err" ||
	fail "the error does not say where: $(cat "$TMP/reload.err")"
grep -q "the running configuration and policy stay" "$TMP/reload.err" ||
	fail "the refusal does not say what stays: $(cat "$TMP/reload.err")"
expect "g1 -> $LAN4:8080 after a refused reload" "$(try_tcp "$(guest_ns g1)" $LAN4 8080)" refused
expect "g2 -> host after a refused reload" "$(try_tcp "$(guest_ns g2)" "$gw_4" 9200)" timeout
grows || fail "the connection stalled on a refused reload"
rm "$TMP/policy.d/30-bad.conf"
grep -q '"event":"policy-refused".*30-bad.conf:3' "$TMP/monitor.json" ||
	fail "netctl monitor did not see the refused policy: $(tail -3 "$TMP/monitor.json")"
grep -q '"event":"policy-reloaded".*05-cut.conf 10-lan.conf 20-more.conf' "$TMP/monitor.json" ||
	fail "netctl monitor did not see the policy reloads: $(grep policy "$TMP/monitor.json")"
pass "a policy with an error is refused with file:line; the running one stays; netctl monitor saw both"

# --- no policy: NAT's defaults -------------------------------------------------------------
rm "$TMP/policy.d"/*.conf
reload
expect "g1 -> $LAN6:8080 without a policy" "$(try_tcp "$(guest_ns g1)" $LAN6 8080)" ok
expect "g2 -> host without a policy" "$(try_tcp "$(guest_ns g2)" "$gw_4" 9200)" ok
expect "lan -> g1 without a policy" "$(try_tcp "$NS_LAN" "$g1_4" 9000)" timeout
expect "g2 -> g1 without a policy" "$(try_tcp "$(guest_ns g2)" "$g1_4" 9000)" timeout
pass "without a policy: out allowed, nothing in but replies"
