#!/bin/bash
# tests/vm/mirrored.sh - a real VM in mirrored mode, booted by vmnet-run
#
# vmnet-run boots the host's Debian kernel under QEMU (TCG here) with
# "mode mirrored" and "inbound allow": the VM's NIC gets the host's uplink
# MAC, and guest-netd gives it the uplink's name and addresses. Checks:
# online with the host's address; inside the VM, the lan's whoami sees the
# host's address and ping answers; the lan reaches a server the VM runs on
# every address, and the VM's 127.0.0.1 server is on the host's localhost.
TEST_NAME=vm-mirrored
. "$(dirname "$0")/../netns/lib.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "missing: qemu-system-x86"; exit 99; }
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "missing: linux-image-amd64"; exit 99; }
bed_init
bed_up
bed_write_conf >/dev/null
bed_host_netd
VM=m$SFX
RUN=$VMN_SRCDIR/vm/vmnet-run

cat >"$TMP/rc.local" <<RC
#!/bin/sh
# Waits for the mirrored configuration, then shows what the test checks.
for i in \$(seq 600); do
	ip -4 addr show up0 2>/dev/null | grep -q "inet $HOST4/" && break
	sleep 0.1
done
mkdir -p /www /lo
echo "hello from the mirrored vm" >/www/index.html
echo "loopback of the mirrored vm" >/lo/index.html
httpd -p 9000 -h /www
httpd -p 127.0.0.1:3000 -h /lo
echo "vmnet-test: mac \$(cat /sys/class/net/up0/address)"
echo "vmnet-test: lan \$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $LAN4 8080 2>&1 | tail -1)"
echo "vmnet-test: ping \$(ping -c 1 -W 5 $LAN4 >/dev/null 2>&1 && echo ok || echo failed)"
echo "vmnet-test: ready"
RC
chmod 755 "$TMP/rc.local"

start=$(date +%s%N)
bed_spawn "$NS_HOST" vmnet-run env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" \
    --name "$VM" --console "$TMP/console.log" --rc-local "$TMP/rc.local" \
    --socket "$TMP/control.sock" --vm-option "mode mirrored" \
    --vm-option "inbound allow"
wait_for 120 "vm $VM online" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\"' | grep -q ."
log "online $(( ($(date +%s%N) - start) / 1000000 )) ms after vmnet-run started"
wait_for 60 "the guest's checks" grep -q "vmnet-test: ready" "$TMP/console.log"
tr -d '\r' <"$TMP/console.log" | grep "vmnet-test:" >"$TMP/report"
grep -q "vmnet-test: mac $(in_host cat /sys/class/net/up0/address)" "$TMP/report" ||
	fail "the VM's NIC has not the uplink's MAC: $(cat "$TMP/report")"
grep -q "vmnet-test: lan $HOST4" "$TMP/report" ||
	fail "the lan did not see the host's address: $(cat "$TMP/report")"
grep -q "vmnet-test: ping ok" "$TMP/report" || fail "ping from the VM: $(cat "$TMP/report")"
pass "the VM is on the host's address and MAC; out to the lan as the host, ping"

wait_for 20 "the lan reaches the VM's 9000" sh -c \
	"ip netns exec $NS_LAN curl -sS -m 2 http://$HOST4:9000/ | grep -q 'hello from the mirrored vm'"
wait_for 20 "the VM's 127.0.0.1:3000 on the host's localhost" sh -c \
	"ip netns exec $NS_HOST curl -sS -m 2 http://127.0.0.1:3000/ | grep -q 'loopback of the mirrored vm'"
pass "the lan reaches the VM's server; its loopback server is on the host's localhost"
