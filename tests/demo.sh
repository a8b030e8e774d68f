#!/bin/bash
# tests/demo.sh - build vmnetd, start host-netd and a guest, show it working:
# online, DNS through the tunnel, NAT, and a guest port on host localhost
#
# The guest is a network namespace running guest-netd over a unix channel
# (the same protocol and code paths a VM uses over vsock); host-netd runs in
# a "host" namespace whose uplink leads to a "lan" namespace with a DNS
# server and a web server. Nothing outside these namespaces is touched and
# everything is removed on exit.
#
#   tests/demo.sh           keep running until Ctrl-C when on a terminal
#   tests/demo.sh --once    show it working, then clean up and exit
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
once=0
[ "${1:-}" = --once ] && once=1
[ -t 0 ] || once=1

echo "== building (tests/build.sh)"
VMN_BUILDDIR=$("$src/tests/build.sh")
export VMN_BUILDDIR
TEST_NAME=demo
. "$src/tests/netns/lib.sh"
set +e

bed_init
echo "== test bed: lan $NS_LAN (dnsmasq, web), host $NS_HOST, guest $(echo vmn-demo-$SFX)"
bed_up
bed_guest demo
bed_write_conf demo >/dev/null
echo "== host-netd.conf"
sed 's/^/   /' "$TMP/host-netd.conf"
bed_host_netd
start=$(date +%s%N)
bed_guest_netd demo
wait_online demo
ms=$(( ($(date +%s%N) - start) / 1000000 ))

show() {
	echo
	echo "\$ $*"
	"$@" 2>&1 | sed 's/^/   /'
}
echo
echo "== the guest is online ${ms} ms after guest-netd started"
show "$NETCTL" -s "$TMP/control.sock" vms
echo
echo "== inside the guest"
show in_guest demo ip -br addr show eth0
show in_guest demo ip route
show in_guest demo ip -6 route show default
show cat "/etc/netns/$(guest_ns demo)/resolv.conf"
echo
echo "== DNS: the guest asks 10.255.255.254; host-netd answers with the host's resolvers"
show in_guest demo dig +short web.test.lan A web.test.lan AAAA
echo
echo "== the web, by name (search domain), through NAT"
show in_guest demo curl -sS -m 5 http://web/
echo
echo "== what the lan sees: the host's address, not the guest's"
show in_guest demo curl -sS -m 5 http://$LAN4:8080/
show in_guest demo curl -sS -m 5 "http://[$LAN6]:8080/"

echo
echo "== a server started in the guest is on the host's localhost at once"
cat >"$TMP/guest-web.sh" <<'EOF'
#!/bin/sh
read -r line
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from the guest\n'
EOF
chmod +x "$TMP/guest-web.sh"
bed_spawn "$(guest_ns demo)" guest-web socat TCP6-LISTEN:3000,fork,reuseaddr,ipv6only=0 \
    EXEC:"$TMP/guest-web.sh"
start=$(date +%s%N)
wait_for 5 "port 3000 forwarded" sh -c \
	"ip netns exec $NS_HOST curl -sS -m 1 http://127.0.0.1:3000/ >/dev/null"
echo "   (guest: socat listening on port 3000; on the host $(( ($(date +%s%N) - start) / 1000000 )) ms later:)"
show in_host curl -sS -m 5 http://localhost:3000/
show in_host curl -sS -m 5 "http://[::1]:3000/"
show "$NETCTL" -s "$TMP/control.sock" forwards

if [ "$once" = 0 ]; then
	echo
	echo "== running. Try: ip netns exec $(guest_ns demo) bash"
	echo "   netctl: $NETCTL -s $TMP/control.sock vms"
	echo "   Ctrl-C stops everything and removes the namespaces."
	while kill -0 "$HOST_NETD_PID" 2>/dev/null; do sleep 1; done
fi
