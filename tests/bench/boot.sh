#!/bin/bash
# tests/bench/boot.sh - how long until a VM is online
#
# Boots the VM of tests/vm/boot.sh N times with vmnet-run (the initramfs
# is built before the first timed boot) and reports, per boot:
#   kernel->online  from the kernel's start to guest-netd's configuration
#                   applied (CLOCK_BOOTTIME in the guest: guest-netd logs it)
#   launch->online  from starting vmnet-run to host-netd seeing the ack
#                   (QEMU's start, firmware and kernel loading included)
# and, for scale, the namespace guest of the test bed: guest-netd started
# -> online. Prints a table with medians.
#
#   tests/bench/boot.sh [N] [-- VMNET-RUN-OPTIONS...]   (N defaults to 5)
set -u
TEST_NAME=bench-boot
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
export VMN_BUILDDIR VMN_SRCDIR=$src
. "$src/tests/netns/lib.sh"
N=${1:-5}
shift || true
[ "${1:-}" = -- ] && shift
EXTRA=("$@")

bed_init
bed_up
bed_guest g1
bed_write_conf g1 >/dev/null
bed_host_netd
VM=b$SFX

boot() { # boot LOG: one VM boot; prints "launch_ms kernel_ms"
	local t0 ms k
	t0=$(date +%s%N)
	bed_spawn "$NS_HOST" "vmnet-run-$1" "$src/vm/vmnet-run" --name "$VM" \
	    --console "$TMP/$1.console" --socket "$TMP/control.sock" --verbose \
	    "${EXTRA[@]}"
	local pid=$LAST_PID
	wait_for 180 "vm online" sh -c \
		"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\"' | grep -q ."
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	wait_for 10 "guest-netd's boot time" grep -q "after the kernel started" "$TMP/$1.console"
	k=$(tr -d '\r' <"$TMP/$1.console" |
	    sed -n 's/.*online \([0-9.]*\) s after the kernel started.*/\1/p' | head -1)
	kill "$pid"
	wait_for 10 "vmnet-run gone" sh -c "! kill -0 $pid 2>/dev/null"
	echo "$ms $(awk -v k="$k" 'BEGIN { printf "%d", k * 1000 }')"
}

log "warm-up boot (builds the initramfs)"
boot warmup >/dev/null
accel=$(sed -n 's/.*vm .*: \(kvm\|tcg\), vsock.*/\1/p' "$TMP/vmnet-run-warmup.log" | head -1)
launch=() kernel=()
for i in $(seq "$N"); do
	read -r l k < <(boot "b$i")
	launch+=("$l")
	kernel+=("$k")
	log "boot $i: launch->online $l ms, kernel->online $k ms"
done

# The namespace guest: guest-netd started -> online.
ns=()
for i in $(seq "$N"); do
	t0=$(date +%s%N)
	bed_guest_netd g1
	wait_online g1
	ns+=($(( ($(date +%s%N) - t0) / 1000000 )))
	eval "kill \$GUEST_PID_g1"
	wait_for 5 "guest-netd gone" sh -c "! $NETCTL -s $TMP/control.sock --dump vms | grep -q '^g1	online'"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "Boot to online, $N boots each, median (min-max) in ms; VM under ${accel:-?}:"
printf '  %-34s %8s  %s\n' "" "median" "range"
printf '  %-34s %8s  %s-%s\n' "VM: kernel start -> online" "$(median "${kernel[@]}")" \
    "$(printf '%s\n' "${kernel[@]}" | sort -n | head -1)" "$(printf '%s\n' "${kernel[@]}" | sort -n | tail -1)"
printf '  %-34s %8s  %s-%s\n' "VM: vmnet-run start -> online" "$(median "${launch[@]}")" \
    "$(printf '%s\n' "${launch[@]}" | sort -n | head -1)" "$(printf '%s\n' "${launch[@]}" | sort -n | tail -1)"
printf '  %-34s %8s  %s-%s\n' "namespace: guest-netd -> online" "$(median "${ns[@]}")" \
    "$(printf '%s\n' "${ns[@]}" | sort -n | head -1)" "$(printf '%s\n' "${ns[@]}" | sort -n | tail -1)"
