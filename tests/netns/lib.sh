# tests/netns/lib.sh - the namespace test bed, sourced by every netns test
#
# Topology (every name carries a per-run suffix, so runs never collide):
#
#   vmn-lan-SFX   the router: lan0 203.0.113.1/24 2001:db8:1::1/64, dnsmasq
#                 with the zone test.lan, an HTTP server on :80 and a
#                 "whoami" server on :8080 that answers with the client's
#                 address (so tests see what the far end sees)
#        |
#   vmn-host-SFX  host-netd; up0 203.0.113.2/24 2001:db8:1::2/64, default
#                 routes via lan, resolv.conf -> 203.0.113.1
#        |  (veths host-netd creates)
#   vmn-NAME-SFX  guest namespaces running guest-netd over unix: channels
#
# A trap removes every namespace, process and file the run made, on
# success, failure or interrupt. Only 203.0.113.0/24, 2001:db8:1::/64 and
# the VMs' own subnets are used, all inside these namespaces.

set -u

: "${VMN_BUILDDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
HOST_NETD=$VMN_BUILDDIR/host-netd/host-netd
GUEST_NETD=$VMN_BUILDDIR/guest-netd/guest-netd
NETCTL=$VMN_BUILDDIR/netctl/netctl
SFX=${VMN_SUFFIX:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
NS_LAN=vmn-lan-$SFX
NS_HOST=vmn-host-$SFX
LAN4=203.0.113.1
HOST4=203.0.113.2
LAN6=2001:db8:1::1
HOST6=2001:db8:1::2
BED_NAMESPACES=()
BED_PIDS=()
TMP=
FAILED=0

log() { printf '%s [%s] %s\n' "$(date +%T.%3N)" "${TEST_NAME:-bed}" "$*"; }
fail() { log "FAIL: $*"; FAILED=1; bed_dump_logs; exit 1; }
pass() { log "ok: $*"; }

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "skipped: namespace tests need root"
		exit 77
	fi
	for t in ip nft dnsmasq socat dig curl; do
		command -v "$t" >/dev/null || { echo "missing tool: $t"; exit 99; }
	done
}

# Installs the packages not installed yet, without starting their services
# (benchmarks' peers: unbound, iperf3...).
install_quietly() {
	local p need=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			need+=("$p")
	done
	[ ${#need[@]} -gt 0 ] || return 0
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
}

bed_dump_logs() {
	[ -n "$TMP" ] || return 0
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 40 lines)"
		tail -n 40 "$f"
	done
}

bed_cleanup() {
	local rc=$? pid ns
	set +e
	# A test's own cleanup first (processes outside our namespaces).
	[ -n "${BED_CLEANUP_HOOK:-}" ] && eval "$BED_CLEANUP_HOOK"
	for pid in "${BED_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	# host-netd removes its links and table on SIGTERM; give it a moment.
	for pid in "${BED_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	for ns in "${BED_NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	# A sanitizer report in any daemon's log fails the test (check.sh
	# runs the suite a second time with ASan/UBSan builds).
	if [ -n "$TMP" ] && grep -lE "AddressSanitizer|LeakSanitizer|runtime error:" \
	    "$TMP"/*.log >/dev/null 2>&1; then
		log "FAIL: sanitizer report in $(grep -lE "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.log | xargs -n1 basename | tr '\n' ' ')"
		grep -hE -A30 "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.log | head -60
		rc=1
	fi
	if [ "$rc" != 0 ] && [ "$FAILED" = 0 ]; then
		bed_dump_logs
	fi
	[ -n "$TMP" ] && [ -z "${VMN_KEEP:-}" ] && rm -rf "$TMP"
	exit "$rc"
}

bed_init() {
	require_root
	TMP=$(mktemp -d /tmp/vmnetd-test.XXXXXX)
	chmod 755 "$TMP"
	trap bed_cleanup EXIT
	trap 'exit 130' INT TERM
}

# bed_netns_add NAME [lo-down]: a namespace, lo up unless asked not to.
bed_netns_add() {
	ip netns add "$1" || fail "cannot create namespace $1"
	BED_NAMESPACES+=("$1")
	[ "${2:-}" = lo-down ] || ip -n "$1" link set lo up
	mkdir -p "/etc/netns/$1"
}

# Runs a command in the background inside a namespace, output to a log.
bed_spawn() {
	local ns=$1 logname=$2
	shift 2
	ip netns exec "$ns" "$@" >>"$TMP/$logname.log" 2>&1 &
	BED_PIDS+=($!)
	LAST_PID=$!
}

bed_up() {
	bed_netns_add "$NS_LAN"
	bed_netns_add "$NS_HOST"
	ip link add up0 netns "$NS_HOST" type veth peer name lan0 netns "$NS_LAN"
	ip -n "$NS_LAN" addr add $LAN4/24 dev lan0
	ip -n "$NS_LAN" addr add $LAN6/64 dev lan0 nodad
	ip -n "$NS_LAN" link set lan0 up
	ip -n "$NS_HOST" addr add $HOST4/24 dev up0
	ip -n "$NS_HOST" addr add $HOST6/64 dev up0 nodad
	ip -n "$NS_HOST" link set up0 up
	ip -n "$NS_HOST" route add default via $LAN4
	ip -n "$NS_HOST" -6 route add default via $LAN6
	printf 'nameserver %s\nsearch test.lan\n' $LAN4 \
	    >"/etc/netns/$NS_HOST/resolv.conf"
	bed_lan_services
}

# TXT records of 1,000 bytes in all: more than a UDP answer without EDNS
# holds (dnsmasq cannot take them as one record: its lines are short).
BIG_TXT_1=$(printf 'a%.0s' $(seq 250))
BIG_TXT_2=$(printf 'b%.0s' $(seq 250))
BIG_TXT_3=$(printf 'c%.0s' $(seq 250))
BIG_TXT_4=$(printf 'd%.0s' $(seq 250))

bed_lan_services() {
	cat >"$TMP/dnsmasq.conf" <<EOF
no-resolv
no-hosts
bind-interfaces
listen-address=$LAN4
listen-address=$LAN6
except-interface=lo
local=/test.lan/
host-record=web.test.lan,$LAN4,$LAN6
host-record=only4.test.lan,$LAN4
txt-record=txt.test.lan,"vmnetd test zone"
txt-record=big.test.lan,"$BIG_TXT_1"
txt-record=big.test.lan,"$BIG_TXT_2"
txt-record=big.test.lan,"$BIG_TXT_3"
txt-record=big.test.lan,"$BIG_TXT_4"
srv-host=_http._tcp.test.lan,web.test.lan,80,0,100
EOF
	bed_spawn "$NS_LAN" dnsmasq dnsmasq --keep-in-foreground \
	    --conf-file="$TMP/dnsmasq.conf" --pid-file="$TMP/dnsmasq.pid" \
	    --log-facility=-
	# whoami: answers with the address the server sees the client as.
	# Handlers run per connection (socat fork); HTTP/1.0 so curl can talk.
	# Each reads the request's headers too (up to the blank line): a proxy
	# writes them apart from the request line, and a handler gone before
	# they came makes socat fail writing them to it, losing the answer.
	cat >"$TMP/whoami.sh" <<'EOF'
#!/bin/bash
read -r line
while read -r -t 1 line && [ -n "${line%$'\r'}" ]; do :; done
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s\n' "$SOCAT_PEERADDR"
EOF
	cat >"$TMP/hello.sh" <<'EOF'
#!/bin/bash
read -r line
while read -r -t 1 line && [ -n "${line%$'\r'}" ]; do :; done
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from lan\n'
EOF
	chmod +x "$TMP/whoami.sh" "$TMP/hello.sh"
	bed_spawn "$NS_LAN" whoami4 socat TCP4-LISTEN:8080,fork,reuseaddr \
	    EXEC:"$TMP/whoami.sh"
	bed_spawn "$NS_LAN" whoami6 socat TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1 \
	    EXEC:"$TMP/whoami.sh"
	bed_spawn "$NS_LAN" http socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 \
	    EXEC:"$TMP/hello.sh"
	wait_for 5 "dnsmasq answers" \
	    dig +short +time=1 +tries=1 @$LAN4 web.test.lan
	wait_for 5 "lan servers listen" \
	    ip netns exec "$NS_LAN" sh -c "ss -ltn | grep -q ':8080' && ss -ltn | grep -q ':80 '"
}

# bed_guest NAME: an empty namespace for a guest, as `ip netns add` makes
# it (lo down): guest-netd brings lo up itself.
bed_guest() {
	bed_netns_add "vmn-$1-$SFX" lo-down
	: >"/etc/netns/vmn-$1-$SFX/resolv.conf"
}

guest_ns() { echo "vmn-$1-$SFX"; }

# Writes a host-netd.conf for the named guests (extra lines via stdin).
bed_write_conf() {
	local conf=$TMP/host-netd.conf g
	{
		echo "state-dir \"$TMP/state\""
		echo "control-socket \"$TMP/control.sock\""
		for g in "$@"; do
			echo "vm \"$g\" {"
			echo "	link veth netns \"vmn-$g-$SFX\""
			echo "	host-ifname \"vmn-$g\""
			echo "	channel \"unix:$TMP/$g\""
			[ -n "${VM_EXTRA:-}" ] && printf '%s\n' "$VM_EXTRA" | sed "s/@VM@/$g/g"
			echo "}"
		done
	} >"$conf"
	echo "$conf"
}

bed_host_netd() {
	bed_spawn "$NS_HOST" host-netd "$HOST_NETD" -d -v -f "$TMP/host-netd.conf"
	HOST_NETD_PID=$LAST_PID
	wait_for 5 "host-netd control socket" test -S "$TMP/control.sock"
}

# cpu_ticks PID...: the CPU time of them all (utime + stime, clock ticks).
cpu_ticks() {
	local p
	for p in "$@"; do cat "/proc/$p/stat"; done |
	    awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# The engine of the host-netd started last: the process that serves the
# guests (their connections, DNS, forwarded ports), as the user
# vmnetd-engine or nobody.
engine_pid() { pgrep -P "$HOST_NETD_PID" -x vmnetd-engine; }

bed_guest_netd() {
	local ns
	ns=$(guest_ns "$1")
	bed_spawn "$ns" "guest-$1" "$GUEST_NETD" -d -v --host "unix:$TMP/$1" \
	    --resolv-conf "/etc/netns/$ns/resolv.conf" \
	    --proxy-env "$TMP/$1-proxy.sh" --apt-proxy "$TMP/$1-apt.conf" \
	    --pidfile "$TMP/$1.pid" \
	    ${GUEST_NETD_ARGS:-}
	eval "GUEST_PID_$1=\$LAST_PID"
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.1 s.
wait_for() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "timed out after ${secs}s waiting for: $what"
}

in_guest() {
	local g=$1
	shift
	ip netns exec "$(guest_ns "$g")" "$@"
}

in_host() { ip netns exec "$NS_HOST" "$@"; }

netctl() { "$NETCTL" -s "$TMP/control.sock" "$@"; }

# The VM's line in `netctl vms` as tab-separated fields.
vm_field() {
	netctl --dump vms | awk -F'\t' -v vm="$1" -v f="$2" '
	    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	    $1 == vm { print $col[f] }'
}

wait_online() {
	local g
	for g in "$@"; do
		wait_for 10 "vm $g online" sh -c \
		    "[ \"\$($NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$g\" { print \$3 }')\" = online ]"
	done
}
