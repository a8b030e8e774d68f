#!/bin/bash
# tests/vm/boot.sh - a real VM: booted by vmnet-run, online over real vsock
#
# host-netd runs in the test bed's host namespace, with its lan (dnsmasq,
# a web server) behind it; vmnet-run boots the host's Debian kernel under
# QEMU (TCG here, KVM where it really works) with our initramfs, a tap
# from host-netd and vsock through vmnet-vsockd, run as the user
# vmnetd-vsock (or the kernel's vhost-vsock where it exists). Checks, from
# the host: the guest came online (host-netd has its acknowledgement of
# the generation it sent);
# its address answers ping through the tap; inside the guest, a name of
# the lan resolves through the DNS tunnel and the lan's web server
# answers (NAT); a server the guest starts on 127.0.0.1:3000 is reachable
# on the host's 127.0.0.1:3000 and [::1]:3000 through the forward; a
# guest program reaches a host loopback service through a reverse
# forward; 8 MiB each way at once through that path (the guest's vsock
# flow control, both directions, checksums compared) and 400 connections
# at once. host-netd restarted under the running VM: it leaves the tap to
# QEMU and takes it over again, and the VM is online, pingable and
# forwarding as before; a reload that restarts the VM (subnet-size
# changed) keeps the tap too, with only the new address. Then vmnet-run
# stopped: QEMU and vmnet-vsockd
# gone, the VM unregistered, its tap and runtime directory removed; and a
# second VM, run by an ordinary user in the vmnetd and kvm groups, a
# microvm whose server on every address the host reaches directly through
# the tap (forward-direct), whose vmnet-run is killed outright (SIGKILL),
# takes its QEMU, vmnet-vsockd, registration and tap with it. Also: an extra
# disk (--disk, ext4) mounts in the guest, its file there; the kernel
# booted has everything vm/kernel.config lists, built in or as modules;
# vmnet-run in another network namespace than host-netd is refused.
TEST_NAME=vm-boot
. "$(dirname "$0")/../netns/lib.sh"
# tests/deps.sh installs these; missing here is an error, not a skip.
command -v qemu-system-x86_64 >/dev/null || { echo "missing: qemu-system-x86"; exit 99; }
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "missing: linux-image-amd64"; exit 99; }
[ -x /bin/busybox ] || { echo "missing: busybox-static"; exit 99; }
KERNEL=$(ls -1v /boot/vmlinuz-* | tail -1)
config=/boot/config-${KERNEL#/boot/vmlinuz-}
if [ -f "$config" ]; then
	missing=$(grep -E '^CONFIG_' "$VMN_SRCDIR/vm/kernel.config" | cut -d= -f1 |
	    while read -r o; do grep -qE "^$o=(y|m)$" "$config" || echo "$o"; done)
	[ -z "$missing" ] || { echo "vm/kernel.config: $config lacks $missing"; exit 1; }
fi
bed_init
bed_up
bed_write_conf >/dev/null
# The vmnetd group (removed again on exit if this test made it), before
# host-netd starts: it gives the group its control socket.
if ! getent group vmnetd >/dev/null; then
	groupadd --system vmnetd || fail "groupadd vmnetd"
	BED_CLEANUP_HOOK='groupdel vmnetd'
fi
# The user root's vmnet-run runs vmnet-vsockd as (make install adds it).
if ! getent passwd vmnetd-vsock >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin vmnetd-vsock || fail "useradd vmnetd-vsock"
	BED_CLEANUP_HOOK="${BED_CLEANUP_HOOK:-:}; userdel vmnetd-vsock"
fi
bed_host_netd
VM=t$SFX
RUN=$VMN_SRCDIR/vm/vmnet-run

# vmnet-run in another network namespace than host-netd (here: the test's
# own) is refused before anything is registered: QEMU would otherwise make
# a new, unconfigured tap of that name where it runs.
out=$(VMN_BUILDDIR=$VMN_BUILDDIR "$RUN" --name "x$SFX" --console "$TMP/x.log" \
    --socket "$TMP/control.sock" 2>&1) && fail "vmnet-run outside host-netd's namespace ran"
echo "$out" | grep -q "host-netd (pid $HOST_NETD_PID) runs in another network namespace.*\"$NS_HOST\".*ip netns exec $NS_HOST vmnet-run" ||
	fail "vmnet-run in the wrong namespace: $out"
[ -z "$(netctl --dump vms | sed 1d)" ] || fail "vmnet-run in the wrong namespace registered a VM"
pass "vmnet-run in another namespace than host-netd: refused, saying why"

# A host loopback service for the reverse forward.
bed_spawn "$NS_HOST" proxy socat TCP4-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr \
    SYSTEM:'echo host-proxy'

cat >"$TMP/rc.local" <<EOF
#!/bin/sh
# Waits for guest-netd's configuration, then shows what the test checks.
for i in \$(seq 600); do
	grep -q nameserver /etc/resolv.conf && ip -4 addr show eth0 | grep -q inet && break
	sleep 0.1
done
mkdir -p /www
echo "hello from the vm" >/www/index.html
httpd -p 127.0.0.1:3000 -h /www
echo "vmnet-test: dns \$(nslookup web.test.lan 2>&1 | tr '\n' ' ')"
echo "vmnet-test: lan \$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $LAN4 8080 2>&1 | tail -1)"
echo "vmnet-test: proxy \$(nc 127.0.0.1 3128 </dev/null 2>&1)"
mkdir -p /mnt && mount -o ro /dev/vda /mnt
echo "vmnet-test: disk \$(cat /mnt/marker 2>&1)"
/bin/vmn-bulk echo-server 9200 &
/bin/vmn-bulk bulk-server 9100 \$((8 << 20)) 1 >/dev/console 2>&1 &
echo "vmnet-test: ready"
EOF
chmod 755 "$TMP/rc.local"

mkdir -p "$TMP/diskroot"
echo "vmnet disk test" >"$TMP/diskroot/marker"
mkfs.ext4 -q -d "$TMP/diskroot" "$TMP/disk.img" 8M || fail "mkfs.ext4"

start=$(date +%s%N)
bed_spawn "$NS_HOST" vmnet-run env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" \
    --name "$VM" --console "$TMP/console.log" --rc-local "$TMP/rc.local" \
    --socket "$TMP/control.sock" --verbose \
    --add "$VMN_BUILDDIR/tests/tools/vmn-bulk:/bin/vmn-bulk" \
    --vm-option "reverse-forward tcp 3128" --vm-option "forward-direct no" \
    --disk "$TMP/disk.img"
RUN_PID=$LAST_PID
wait_for 120 "vm $VM online" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\"' | grep -q ."
log "online $(( ($(date +%s%N) - start) / 1000000 )) ms after vmnet-run started"
gen=$(vm_field "$VM" gen)
[ "$gen" -ge 1 ] && [ "$(vm_field "$VM" applied)" = "$gen" ] ||
	fail "generation $gen sent, $(vm_field "$VM" applied) applied"
addr=$(vm_field "$VM" address)
in_host ping -c 1 -W 5 "${addr%/*}" >/dev/null ||
	fail "no ping to ${addr%/*} through the tap"
vsockd=$(pgrep -f "[v]mnet-vsockd.*/$VM\.vhost" | head -1)
[ -n "$vsockd" ] && [ "$(stat -c %U "/proc/$vsockd")" = vmnetd-vsock ] ||
	fail "root's vmnet-vsockd does not run as vmnetd-vsock (pid ${vsockd:-none})"
pass "VM online over vsock (generation $gen applied, vmnet-vsockd as vmnetd-vsock); ${addr%/*} answers ping"

wait_for 60 "the guest's checks" grep -q "vmnet-test: ready" "$TMP/console.log"
grep "vmnet-test: dns" "$TMP/console.log" | grep -q "$LAN4" ||
	fail "no DNS answer in the guest: $(grep 'vmnet-test: dns' "$TMP/console.log")"
grep -q "vmnet-test: lan $HOST4" "$TMP/console.log" ||
	fail "the guest did not reach the lan: $(grep 'vmnet-test: lan' "$TMP/console.log")"
grep -q "nameserver 10.255.255.254" "$TMP/console.log" ||
	grep "vmnet-test: dns" "$TMP/console.log" | grep -q "10.255.255.254" ||
	fail "the guest's DNS did not go through the tunnel"
grep -q "vmnet-test: disk vmnet disk test" "$TMP/console.log" ||
	fail "the extra disk: $(grep 'vmnet-test: disk' "$TMP/console.log")"
pass "in the guest: web.test.lan resolved through the tunnel, the lan answers through NAT; the ext4 disk mounts"

wait_for 10 "3000 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q '127.0.0.1:3000'"
[ "$(in_host curl -sS -m 5 http://127.0.0.1:3000/)" = "hello from the vm" ] ||
	fail "the guest's 127.0.0.1:3000 is not on the host's 127.0.0.1:3000"
[ "$(in_host curl -sS -m 5 "http://[::1]:3000/")" = "hello from the vm" ] ||
	fail "not on the host's [::1]:3000"
grep -q "vmnet-test: proxy host-proxy" "$TMP/console.log" ||
	fail "reverse forward: $(grep 'vmnet-test: proxy' "$TMP/console.log")"
pass "guest 127.0.0.1:3000 on host 127.0.0.1:3000 and [::1]:3000; reverse forward to host 3128"

BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
BYTES=$((8 << 20))
wait_for 10 "9100 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q '127.0.0.1:9100'"
t=$(date +%s%N)
got=$(in_host "$BULK" bulk-client 127.0.0.1 9100 $BYTES 2) || fail "bulk: $got"
[ "$got" = "$("$BULK" sum $BYTES 1)" ] || fail "host received $got"
wait_for 30 "the guest's side" grep -q "^received" "$TMP/console.log"
[ "$(grep "^received" "$TMP/console.log" | tr -d '\r')" = "$("$BULK" sum $BYTES 2)" ] ||
	fail "guest received $(grep '^received' "$TMP/console.log")"
log "8 MiB each way at once in $(( ($(date +%s%N) - t) / 1000000 )) ms"
wait_for 10 "9200 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q '127.0.0.1:9200'"
out=$(in_host "$BULK" many 127.0.0.1 9200 400) ||
	fail "400 connections: $out; $(netctl --dump status | grep fwd | tr '\n' ' ')"
pass "through vsock: 8 MiB each way at once, checksums match; $out connections at once"

kill "$HOST_NETD_PID"
wait_for 10 "host-netd stopped" sh -c "! kill -0 $HOST_NETD_PID 2>/dev/null"
in_host ip link show "vmn-$VM" >/dev/null 2>&1 ||
	fail "host-netd removed the tap of a running VM"
bed_host_netd
wait_for 30 "vm $VM online again" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\"' | grep -q ."
grep -q "vm $VM: taking over tap vmn-$VM (its VM is running)" "$TMP/host-netd.log" ||
	fail "the tap was not taken over"
in_host ping -c 1 -W 5 "${addr%/*}" >/dev/null || fail "no ping after host-netd restarted"
wait_for 10 "3000 forwarded again" sh -c \
	"ip netns exec $NS_HOST curl -sS -m 2 http://127.0.0.1:3000/ | grep -q 'hello from the vm'"
pass "host-netd restarted under the running VM: tap kept and taken over, online, forwarding"

# A reload that restarts every VM (a global changed): the tap stays with
# QEMU, its old addresses go, the VM is online on its new subnet.
echo "subnet-size 25" >>"$TMP/host-netd.conf"
netctl reload >/dev/null || fail "reload with subnet-size 25"
wait_for 30 "vm $VM online on a /25" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\" && \$4 ~ /\/25\$/' | grep -q ."
addr2=$(vm_field "$VM" address)
in_host ping -c 1 -W 5 "${addr2%/*}" >/dev/null || fail "no ping to ${addr2%/*} after the reload"
[ "$(in_host ip -4 -o addr show dev "vmn-$VM" | wc -l)" = 1 ] ||
	fail "the tap kept old addresses: $(in_host ip -4 -o addr show dev "vmn-$VM")"
pass "a reload that restarts the VM: same tap, now ${addr2%/*} (/25), answering"

kill "$RUN_PID"
wait_for 10 "vmnet-run gone" sh -c "! kill -0 $RUN_PID 2>/dev/null"
wait_for 5 "unregistered" sh -c \
	"! $NETCTL -s $TMP/control.sock --dump vms | grep -q '^$VM	'"
in_host ip link show "vmn-$VM" >/dev/null 2>&1 && fail "tap left behind"
[ ! -e "/run/vmnetd/vm/$VM" ] || fail "runtime directory left behind"
pgrep -f "vmnet-vsockd.*/$VM\.vhost" >/dev/null && fail "vmnet-vsockd left running"
pgrep -f "qemu-system-x86_64 -name $VM " >/dev/null && fail "QEMU left running"
pass "vmnet-run stopped: QEMU, vmnet-vsockd, registration, tap and runtime dir gone"

# Killed outright: nothing of the VM may stay behind but its directory.
# This one is a user's (nobody, in the vmnetd and kvm groups: no root), a
# microvm (virtio-mmio, no PCI), with forward-direct on (the default): its
# server on every address ([::]:9300) is reached through the tap, vsock
# left out.
printf '#!/bin/sh\n/bin/vmn-bulk echo-server 9300 &\n' >"$TMP/rc2.local"
chmod 755 "$TMP/rc2.local"
VM2=u$SFX
U=65534
mkdir -p "$TMP/u"
: >"$TMP/console2.log"
chown "$U:$U" "$TMP/u" "$TMP/console2.log"
bed_spawn "$NS_HOST" vmnet-run2 setpriv --reuid=$U --regid=$U \
    --groups="$(getent group vmnetd | cut -d: -f3),$(getent group kvm | cut -d: -f3)" \
    env -i PATH="$PATH" VMN_BUILDDIR="$VMN_BUILDDIR" XDG_RUNTIME_DIR="$TMP/u" \
    XDG_CACHE_HOME="$TMP/u/cache" "$RUN" \
    --name "$VM2" --console "$TMP/console2.log" --socket "$TMP/control.sock" \
    --rc-local "$TMP/rc2.local" --machine microvm \
    --add "$VMN_BUILDDIR/tests/tools/vmn-bulk:/bin/vmn-bulk"
RUN2_PID=$LAST_PID
wait_for 120 "vm $VM2 online" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM2\" && \$3 == \"online\"' | grep -q ."
wait_for 30 "9300 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q '127.0.0.1:9300'"
fwd_stat() { $NETCTL -s "$TMP/control.sock" --dump status | awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
direct0=$(fwd_stat fwd.direct)
out=$(in_host "$BULK" many 127.0.0.1 9300 100) ||
	fail "100 connections to the microvm: $out"
direct=$(( $(fwd_stat fwd.direct) - direct0 ))
[ "$direct" = 100 ] && [ "$(fwd_stat fwd.direct_failed)" = 0 ] ||
	fail "$direct of 100 connections went directly ($(fwd_stat fwd.direct_failed) failed)"
[ "$(stat -c %U "/proc/$(pgrep -f "[q]emu-system-x86_64 -name $VM2 ")")" = nobody ] ||
	fail "the user's QEMU does not run as the user"
[ "$(in_host cat "/sys/class/net/vmn-$VM2/owner")" = "$U" ] ||
	fail "the user's tap is not theirs (owner $(in_host cat "/sys/class/net/vmn-$VM2/owner"))"
pass "a user's microvm (no root) online; its server on every address reached directly through the tap: $out connections"
kill -9 "$RUN2_PID"
# ([q]: pgrep must not find the sh -c running it.)
wait_for 10 "QEMU gone with vmnet-run" sh -c "! pgrep -f '[q]emu-system-x86_64 -name $VM2 '"
wait_for 10 "vmnet-vsockd gone" sh -c "! pgrep -f '[v]mnet-vsockd.*/$VM2/'"
wait_for 10 "unregistered" sh -c \
	"! $NETCTL -s $TMP/control.sock --dump vms | grep -q '^$VM2	'"
wait_for 5 "its tap removed" sh -c "! ip netns exec $NS_HOST ip link show vmn-$VM2"
pass "vmnet-run killed (SIGKILL): QEMU, vmnet-vsockd, registration and tap gone"
