#!/bin/bash
# tests/vm/debian.sh - Debian 12 with systemd in a VM, online through vmnetd
#
# vmnet-image builds a Debian 12 image from the host's package sources
# (mmdebstrap; its packages are cached in /var/cache/vmnetd between runs,
# the image assembled once per run) with two units of the test's: a web
# server (busybox httpd on every address) and a check that reports on the
# serial console. vmnet-run --root-image boots it under TCG through the
# initramfs, which hands over to its systemd. Checks: systemd reaches its
# target with nothing failed; guest-netd.service is active and the VM is
# online; a name of the lan resolves in the guest through the tunnel; the
# unit's server is on the host's localhost; vmnet-run --login gives a root
# shell in it, --list shows it and --stop, from elsewhere, has the guest
# power itself off; a file written at
# the first boot is there at the second (the disk persists), and
# guest-netd comes up again. Prints the build, boot and stop times.
TEST_NAME=vm-debian
. "$(dirname "$0")/../netns/lib.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "missing: qemu-system-x86"; exit 99; }
command -v mmdebstrap >/dev/null || { echo "missing: mmdebstrap"; exit 99; }
bed_init
bed_up
bed_write_conf >/dev/null
bed_host_netd
VM=d$SFX
RUN=$VMN_SRCDIR/vm/vmnet-run

cat >"$TMP/web.service" <<'EOF'
[Unit]
Description=vmnetd test: a web server on every address
[Service]
ExecStartPre=/bin/sh -c 'mkdir -p /srv/www && echo "hello from debian" >/srv/www/index.html'
ExecStart=/bin/busybox httpd -f -p 8090 -h /srv/www
[Install]
WantedBy=multi-user.target
EOF
cat >"$TMP/check.service" <<'EOF'
[Unit]
Description=vmnetd test: what the test checks, on the serial console
After=multi-user.target
[Service]
# (Not oneshot: the boot it waits for would wait for it.)
Type=simple
ExecStart=/usr/local/sbin/vmnet-check
[Install]
WantedBy=multi-user.target
EOF
cat >"$TMP/check" <<'EOF'
#!/bin/sh
# Counts the boots on the disk, waits for systemd and the network, reports.
say() { echo "vmnet-check: $*" >/dev/ttyS0; }
n=$(( $(cat /var/lib/vmnet-check/boots 2>/dev/null || echo 0) + 1 ))
mkdir -p /var/lib/vmnet-check
echo "$n" >/var/lib/vmnet-check/boots
sync
state=$(systemctl is-system-running --wait)
say "boot $n"
say "system $state"
[ "$state" = running ] || say "failed units: $(systemctl --failed --no-legend | tr '\n' ' ')"
say "guest-netd $(systemctl is-active guest-netd)"
for i in $(seq 100); do
	grep -q '^nameserver' /etc/resolv.conf && break
	sleep 0.1
done
say "dns $(getent ahostsv4 web.test.lan | head -n 1)"
say "tty $(systemctl is-active serial-getty@ttyS1) $(ls -l /dev/ttyS1 2>&1)"
modprobe overlay && grep -qw overlay /proc/filesystems && say "modules $(uname -r) ok"
say "ready"
EOF

chmod 755 "$TMP/check"
t0=$(date +%s%N)
img=$("$VMN_SRCDIR/vm/vmnet-image" -o "$TMP/debian.img" --include busybox \
    --add "$TMP/web.service:/etc/systemd/system/vmnet-web.service" \
    --add "$TMP/check.service:/etc/systemd/system/vmnet-check.service" \
    --add "$TMP/check:/usr/local/sbin/vmnet-check" \
    --enable vmnet-web.service --enable vmnet-check.service 2>"$TMP/image.log") ||
	fail "vmnet-image: $(tail -5 "$TMP/image.log")"
build_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "image built in $build_ms ms ($(du -h --apparent-size "$img" | cut -f1) sparse, $(du -h "$img" | cut -f1) used)"

# start N NAME ARGS...: vmnet-run until the VM is online.
start() {
	local n=$1 name=$2 t0
	shift 2
	t0=$(date +%s%N)
	: >"$TMP/console$n.log"
	bed_spawn "$NS_HOST" "vmnet-run$n" env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" \
	    --name "$name" --console "$TMP/console$n.log" \
	    --socket "$TMP/control.sock" "$@"
	RUN_PID=$LAST_PID
	# (A VM that stops on its way fails the test at once.)
	wait_for 300 "vm $name online (boot $n)" sh -c \
		"! kill -0 $RUN_PID 2>/dev/null || $NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$name\" && \$3 == \"online\"' | grep -q ."
	kill -0 "$RUN_PID" 2>/dev/null ||
		fail "vmnet-run ended (boot $n): $(tail -n 3 "$TMP/console$n.log")"
	ONLINE_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	T0=$t0
}
# boot N: vmnet-run on the test's image until the check says ready.
boot() {
	start "$1" "$VM" --root-image "$img"
	wait_for 180 "the guest's checks (boot $1)" grep -q "vmnet-check: ready" "$TMP/console$1.log"
	READY_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
}
check() { # check N PATTERN WHAT
	grep -q "vmnet-check: $2" "$TMP/console$1.log" ||
		fail "$3: $(grep 'vmnet-check:' "$TMP/console$1.log" | tr '\n' ' ')"
}

boot 1
log "boot 1: online $ONLINE_MS ms after vmnet-run started, systemd's target at $READY_MS ms"
check 1 "boot 1" "the first boot"
check 1 "system running" "systemd did not reach its target cleanly"
check 1 "guest-netd active" "guest-netd.service is not active"
check 1 "dns $LAN4" "web.test.lan did not resolve in the guest"
check 1 "modules .* ok" "the kernel's modules (overlay) do not load in the guest"
pass "Debian with systemd: its target reached, guest-netd.service active, online; web.test.lan resolves; the kernel's modules load"

wait_for 30 "8090 forwarded" sh -c \
	"$NETCTL -s $TMP/control.sock --dump forwards | grep -q ':8090'"
got=$(in_host curl -sS -m 10 http://127.0.0.1:8090/ 2>&1)
[ "$got" = "hello from debian" ] || fail "the guest unit's server on the host's localhost: $got"
pass "a server started by a systemd unit in the guest is on the host's localhost"

# A shell from elsewhere, on the second console.
out=$(printf 'echo shell-$((6 * 7)) $(id -un)\n' |
    in_host env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" --login "$VM" 2>&1)
echo "$out" | grep -q "shell-42 root" ||
	fail "vmnet-run --login: $out (ttyS1: $(grep -a 'vmnet-check: tty' "$TMP/console1.log"))"
pass "vmnet-run --login: a root shell in the guest, from another terminal"

# Listed, and stopped from elsewhere: powered off through the guest.
list=$(in_host env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" --list --socket "$TMP/control.sock" 2>&1)
echo "$list" | grep -q "^ *$VM  *online" || fail "vmnet-run --list: $list"
t0=$(date +%s%N)
out=$(in_host env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" --stop "$VM" \
    --socket "$TMP/control.sock" 2>&1) || fail "vmnet-run --stop: $out"
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -0 "$RUN_PID" 2>/dev/null && fail "vmnet-run still runs after --stop"
grep -q "reboot: Power down" "$TMP/console1.log" ||
	fail "the guest did not power itself off: $(tail -n 5 "$TMP/console1.log")"
grep -q "did not power off" "$TMP/vmnet-run1.log" && fail "the guest was stopped, not powered off"
wait_for 10 "unregistered" sh -c "! $NETCTL -s $TMP/control.sock --dump vms | grep -q '^$VM	'"
pass "vmnet-run --list shows it online; --stop powers it off through the guest ($stop_ms ms)"
boot 2
log "boot 2: online $ONLINE_MS ms, systemd's target at $READY_MS ms"
check 2 "boot 2" "the file written at the first boot is gone"
check 2 "guest-netd active" "guest-netd.service is not active after a reboot"
pass "the disk persists across boots (boot 2 counted), guest-netd up again"
kill "$RUN_PID"
wait_for 60 "vmnet-run gone" sh -c "! kill -0 $RUN_PID 2>/dev/null"

# One command, as a new user would: vmnet-run --debian builds the default
# image (or takes it from the cache) and gives the VM a disk of its own.
# (Built here first: host-netd's namespace in this bed has no way to
# Debian's mirror, which a host's has.)
t0=$(date +%s%N)
"$VMN_SRCDIR/vm/vmnet-image" --guest-netd "$VMN_BUILDDIR/guest-netd/guest-netd" \
    >/dev/null 2>"$TMP/image3.log" || fail "vmnet-image: $(tail -5 "$TMP/image3.log")"
log "the default image built in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
VM3=e$SFX
disk=/var/lib/vmnetd/disks/$VM3.img
BED_CLEANUP_HOOK="${BED_CLEANUP_HOOK:-:}; rm -f '$disk'"
start 3 "$VM3" --debian --stop-timeout 5
log "vmnet-run --debian: online $ONLINE_MS ms after it started (the image built or taken from the cache)"
[ -f "$disk" ] || fail "vmnet-run --debian made no disk at $disk"
in_host env VMN_BUILDDIR="$VMN_BUILDDIR" "$RUN" --stop "$VM3" \
    --socket "$TMP/control.sock" >"$TMP/stop3.log" 2>&1 ||
	fail "vmnet-run --stop: $(cat "$TMP/stop3.log")"
pass "vmnet-run --debian: online, its own disk at $disk, stopped"
log "PASS"
