#!/bin/bash
# tests/demo.sh - build vmnetd, start host-netd and a guest, show it working:
# online, DNS through the tunnel, NAT, and a guest port on host localhost
#
# The guest is a real VM: vmnet-run boots the host's Debian kernel under
# QEMU (KVM where it works, TCG otherwise) with an initramfs that starts
# guest-netd, a tap from host-netd and vsock through vmnet-vsockd. With
# --netns it is a network namespace running guest-netd over a unix
# channel instead (the same protocol and code paths, up in milliseconds).
# host-netd runs in a "host" namespace whose uplink leads to a "lan"
# namespace with a DNS server and a web server. Nothing outside these
# namespaces is touched and everything is removed on exit.
#
#   tests/demo.sh [--netns]          keep running until Ctrl-C (on a terminal)
#   tests/demo.sh [--netns] --once   show it working, then clean up and exit
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/root.sh"
become_root "$@"
once=0 netns=0
for a in "$@"; do
	case $a in
	--once) once=1 ;;
	--netns) netns=1 ;;
	*) echo "usage: tests/demo.sh [--netns] [--once]" >&2; exit 2 ;;
	esac
done
[ -t 0 ] || once=1

echo "== building (tests/build.sh)"
VMN_BUILDDIR=$("$src/tests/build.sh")
export VMN_BUILDDIR VMN_SRCDIR=$src
TEST_NAME=demo
. "$src/tests/netns/lib.sh"
set +e

show() {
	echo
	echo "\$ $*"
	"$@" 2>&1 | sed 's/^/   /'
}
netctl() { "$NETCTL" -s "$TMP/control.sock" "$@"; }

bed_init
echo "== test bed: lan $NS_LAN (dnsmasq, web), host $NS_HOST"
bed_up

# ---- a namespace guest ----------------------------------------------------
demo_netns() {
	bed_guest demo
	bed_write_conf demo >/dev/null
	echo "== host-netd.conf"
	sed 's/^/   /' "$TMP/host-netd.conf"
	bed_host_netd
	start=$(date +%s%N)
	bed_guest_netd demo
	wait_online demo
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	echo
	echo "== the guest is online ${ms} ms after guest-netd started"
	show netctl vms
	echo
	echo "== inside the guest"
	show in_guest demo ip -br addr show eth0
	show in_guest demo ip route
	show cat "/etc/netns/$(guest_ns demo)/resolv.conf"
	echo
	echo "== DNS: the guest asks 10.255.255.254; host-netd answers with the host's resolvers"
	show in_guest demo dig +short web.test.lan A web.test.lan AAAA
	echo
	echo "== the web, by name (search domain), through NAT: the lan sees the host's address"
	show in_guest demo curl -sS -m 5 http://web/
	show in_guest demo curl -sS -m 5 http://$LAN4:8080/
	echo
	echo "== a server started in the guest is on the host's localhost at once"
	cat >"$TMP/guest-web.sh" <<'EOF'
#!/bin/sh
read -r line
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from the guest\n'
EOF
	chmod +x "$TMP/guest-web.sh"
	bed_spawn "$(guest_ns demo)" guest-web socat \
	    TCP6-LISTEN:3000,fork,reuseaddr,ipv6only=0 EXEC:"$TMP/guest-web.sh"
	start=$(date +%s%N)
	wait_for 5 "port 3000 forwarded" sh -c \
		"ip netns exec $NS_HOST curl -sS -m 1 http://127.0.0.1:3000/ >/dev/null"
	echo "   (guest: socat listening on port 3000; on the host $(( ($(date +%s%N) - start) / 1000000 )) ms later:)"
	show in_host curl -sS -m 5 http://localhost:3000/
	show in_host curl -sS -m 5 "http://[::1]:3000/"
	show netctl forwards
	HINT="ip netns exec $(guest_ns demo) bash"
}

# ---- a real VM ----------------------------------------------------------------
demo_vm() {
	bed_write_conf >/dev/null
	echo "== host-netd.conf (no VM in it: vmnet-run registers one)"
	sed 's/^/   /' "$TMP/host-netd.conf"
	bed_host_netd
	cat >"$TMP/rc.local" <<EOF
#!/bin/sh
# The demo's part inside the VM: show the network once guest-netd set it up,
# then serve a page on the VM's localhost, port 3000.
for i in \$(seq 600); do
	grep -q nameserver /etc/resolv.conf && ip -4 addr show eth0 | grep -q inet && break
	sleep 0.1
done
echo "demo-report-begin" >/dev/console
{
	echo "\\$ ip addr show eth0"; ip addr show eth0
	echo "\\$ ip route"; ip route
	echo "\\$ cat /etc/resolv.conf"; cat /etc/resolv.conf
	echo "\\$ nslookup web.test.lan"; nslookup web.test.lan
	echo "\\$ nc web.test.lan 80    (GET /, through NAT)"
	printf 'GET / HTTP/1.0\r\nHost: web.test.lan\r\n\r\n' | nc -w 5 web.test.lan 80 | tail -1
} 2>&1 | sed 's/^/   /' >/dev/console
echo "demo-report-end" >/dev/console
mkdir -p /www
echo "hello from the VM" >/www/index.html
httpd -p 127.0.0.1:3000 -h /www
EOF
	chmod 755 "$TMP/rc.local"
	echo
	echo "== vmnet-run: the host's kernel, our initramfs, QEMU (first run builds the initramfs)"
	start=$(date +%s%N)
	bed_spawn "$NS_HOST" vmnet-run "$src/vm/vmnet-run" --name demo \
	    --console "$TMP/console.log" --rc-local "$TMP/rc.local" \
	    --socket "$TMP/control.sock"
	RUN_PID=$LAST_PID
	wait_for 180 "the VM online" sh -c \
		"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"demo\" && \$3 == \"online\"' | grep -q ."
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	sed 's/^/   /' "$TMP/vmnet-run.log"
	echo
	echo "== the VM is online ${ms} ms after vmnet-run started (QEMU boot included)"
	show netctl vms
	wait_for 60 "the VM's own report" grep -q "demo-report-end" "$TMP/console.log"
	echo
	echo "== inside the VM (from its console): address, routes, DNS through the tunnel, NAT"
	tr -d '\r' <"$TMP/console.log" |
	    sed -n '/demo-report-begin/,/demo-report-end/p' | grep -v "demo-report-" 
	echo
	echo "== the VM's server on its 127.0.0.1:3000 is on the host's localhost"
	wait_for 10 "port 3000 forwarded" sh -c \
		"ip netns exec $NS_HOST curl -sS -m 1 http://127.0.0.1:3000/ >/dev/null"
	show in_host curl -sS -m 5 http://localhost:3000/
	show in_host curl -sS -m 5 "http://[::1]:3000/"
	show netctl forwards
	HINT="tail -f $TMP/console.log   (the VM's console)"
}

if [ "$netns" = 1 ]; then demo_netns; else demo_vm; fi

if [ "$once" = 0 ]; then
	echo
	echo "== running. Try: $HINT"
	echo "   netctl: $NETCTL -s $TMP/control.sock vms"
	echo "   Ctrl-C stops everything and removes the namespaces."
	while kill -0 "$HOST_NETD_PID" 2>/dev/null; do sleep 1; done
fi
