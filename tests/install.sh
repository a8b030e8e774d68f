#!/bin/bash
# tests/install.sh - make install gives a layout that works, end to end
#
# Configures a build whose every directory is under a temporary root
# (--prefix, --sysconfdir, --localstatedir, --runstatedir), installs it
# and checks: the files where they belong (the guest's unit not among the
# host's units); the installed host-netd.conf valid as it is, and kept when
# edited and installed over; the configured paths in the binaries, the
# scripts and the man pages; the unit accepted by systemd-analyze; the
# sysusers.d file creating group vmnetd and users vmnetd-engine and
# vmnetd-vsock (neither in vmnetd). Then it
# runs what was installed, with no path option anywhere: host-netd (its
# default configuration, state and socket), netctl (its default socket)
# and vmnet-run booting a VM that comes online, as the README's "run for
# real" does.
#
# make install runs systemd-sysusers on the live system when DESTDIR is
# empty; here DESTDIR is "/" (the same files, and no group made on the
# machine running the tests): the sysusers file is applied to a scratch root.
#
#   tests/install.sh        (run by tests/check.sh; needs root)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
TEST_NAME=install
. "$src/tests/netns/lib.sh"
bed_init
# Short: the VM's hybrid vsock socket paths live under the runtime dir.
T=$TMP/r
builddir=$src/build-install

log "configure and make install under $T"
"$src/tests/build.sh" "$builddir" --prefix="$T/usr" --sysconfdir="$T/etc" \
    --localstatedir="$T/var" --runstatedir="$T/run" >/dev/null
make -C "$builddir" install DESTDIR=/ >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "make install"; }

for f in usr/sbin/host-netd usr/sbin/guest-netd usr/sbin/vmnet-vsockd \
    usr/bin/netctl usr/bin/vmnet-run usr/bin/vmnet-initramfs \
    usr/bin/vmnet-kvm-ok etc/vmnetd/host-netd.conf \
    usr/lib/systemd/system/host-netd.service \
    usr/share/vmnetd/guest/guest-netd.service \
    usr/lib/sysusers.d/vmnetd.conf usr/share/vmnetd/initramfs/inittab \
    usr/share/man/man8/host-netd.8 usr/share/man/man5/host-netd.conf.5 \
    etc/iproute2/rt_protos.d/vmnetd.conf; do
	[ -e "$T/$f" ] || fail "not installed: $f"
done
[ ! -e "$T/usr/lib/systemd/system/guest-netd.service" ] ||
	fail "guest-netd.service installed among the host's units"
pass "installed layout"

# The binaries and scripts know where they are.
HN=$T/usr/sbin/host-netd
"$HN" --help | grep -qF "$T/etc/vmnetd/host-netd.conf" ||
	fail "host-netd's default configuration: $("$HN" --help | grep default)"
out=$("$HN" -n) || fail "the installed host-netd.conf is refused: $out"
"$HN" -nv | grep -qF "state-dir \"$T/var/lib/vmnetd\"" &&
    "$HN" -nv | grep -qF "control-socket \"$T/run/vmnetd/control.sock\"" ||
	fail "default paths: $("$HN" -nv | head -2)"
[ "$("$T/usr/bin/vmnet-initramfs" --print-datadir)" = "$T/usr/share/vmnetd/initramfs" ] ||
	fail "vmnet-initramfs --print-datadir: $("$T/usr/bin/vmnet-initramfs" --print-datadir 2>&1)"
! grep -q '@[a-zA-Z_]*@' "$T/usr/bin/vmnet-run" "$T/usr/bin/vmnet-initramfs" ||
	fail "placeholders left: $(grep -ho '@[a-zA-Z_]*@' "$T/usr/bin/vmnet-run" | sort -u)"
"$T/usr/bin/vmnet-run" --version | grep -q "(vmnetd) [0-9]" ||
	fail "vmnet-run --version: $("$T/usr/bin/vmnet-run" --version)"
man=$T/usr/share/man/man8/host-netd.8
grep -qF "$T/etc/vmnetd" "$man" && ! sed "s|$T/etc/vmnetd||g" "$man" | grep -q /etc/vmnetd ||
	fail "host-netd(8) does not name the configured paths"
grep -q "ExecStart=$T/usr/sbin/host-netd" "$T/usr/lib/systemd/system/host-netd.service" ||
	fail "the unit's ExecStart"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no \
	    "$T/usr/lib/systemd/system/host-netd.service" 2>&1 |
	    grep -v "Failed to \|not running\|No such file" || true)
	[ -z "$out" ] || fail "systemd-analyze verify host-netd.service: $out"
fi
mkdir -p "$TMP/sysroot/etc"
systemd-sysusers --root="$TMP/sysroot" "$T/usr/lib/sysusers.d/vmnetd.conf" ||
	fail "systemd-sysusers"
grep -q "^vmnetd:" "$TMP/sysroot/etc/group" || fail "sysusers.d made no group vmnetd"
for u in vmnetd-engine vmnetd-vsock; do
	grep -q "^$u:" "$TMP/sysroot/etc/passwd" || fail "sysusers.d made no user $u"
	grep "^vmnetd:" "$TMP/sysroot/etc/group" | grep -q "$u" &&
		fail "$u is in group vmnetd (it could change host-netd)"
done
pass "configured paths in host-netd, vmnet-run, vmnet-initramfs, the man pages and the unit; sysusers.d makes the group, the engine's and vmnet-vsockd's users"

# Installing again keeps an edited host-netd.conf.
echo "# edited by the test" >>"$T/etc/vmnetd/host-netd.conf"
make -C "$builddir" install DESTDIR=/ >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log"; fail "make install, again"; }
grep -q "edited by the test" "$T/etc/vmnetd/host-netd.conf" ||
	fail "make install overwrote an edited host-netd.conf"
pass "make install keeps an edited host-netd.conf"

# Run for real, with nothing but defaults.
bed_up
bed_spawn "$NS_HOST" host-netd "$HN" -d -v
HOST_NETD_PID=$LAST_PID
wait_for 5 "host-netd's default control socket" test -S "$T/run/vmnetd/control.sock"
NETCTL=$T/usr/bin/netctl
"$NETCTL" status | grep -q "^host-netd" || fail "netctl status: $("$NETCTL" status 2>&1)"
bed_spawn "$NS_HOST" vmnet-run env -u VMN_BUILDDIR "$T/usr/bin/vmnet-run" \
    --name dev --console "$TMP/console.log"
wait_for 120 "vm dev online" sh -c \
	"ip netns exec $NS_HOST $NETCTL --dump vms | awk -F'\t' '\$1 == \"dev\" && \$3 == \"online\"' | grep -q ."
# vmnet-run's own watcher says so a moment after host-netd has the ack.
wait_for 5 "vmnet-run to say the VM is online" grep -q "vm dev online at" \
    "$TMP/vmnet-run.log"
[ -d "$T/var/cache/vmnetd" ] && ls "$T/var/cache/vmnetd"/initramfs-*.img >/dev/null ||
	fail "the initramfs was not cached in the configured localstatedir"
pass "installed host-netd, netctl and vmnet-run: a VM online with no path given"
