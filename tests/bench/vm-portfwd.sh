#!/bin/bash
# tests/bench/vm-portfwd.sh - localhost forwarding into a real VM, against
# QEMU's user networking and passt
#
# Three VMs, booted in the same run with the same kernel, machine, memory
# and CPU count (those of vmnet-run's QEMU, read from its command line: TCG
# here, 1 vCPU, 512 MiB), each with the same servers started at boot
# (iperf3 -s, which the initramfs gets with its libraries, and vmn-bulk's
# echo server), reached from the host's 127.0.0.1 through:
#   vmnetd   vmnet-run, servers on every address: host 127.0.0.1:P ->
#            host-netd -> the guest's address through its tap
#            (forward-direct) -> the guest's server on :P
#   vmnetd-vsock  the same VM, servers on its loopback alone: host
#            127.0.0.1:P -> host-netd -> vsock (through vmnet-vsockd) ->
#            guest-netd -> the guest's server on 127.0.0.1:P
#   hostfwd  QEMU's user networking (slirp), -netdev user,hostfwd=...: host
#            127.0.0.1:HP -> QEMU -> the guest's eth0 (DHCP, 10.0.2.15)
#   passt    passt -t, QEMU on its unix socket (-netdev stream), run as an
#            ordinary user (it refuses root): host 127.0.0.1:HP -> passt ->
#            the guest's eth0 (DHCP from passt)
# The peers boot an initramfs from vmnet-initramfs whose guest-netd service
# is replaced by a sleep (they have no vsock); their boot script configures
# eth0 with busybox udhcpc. Measured path after path, with only that
# path's VM running (below: why vmnetd goes first): iperf3 throughput both
# ways (one stream, SECONDS), and short requests on a new connection each,
# one at a time, for 5 s (vmn-bulk rr: connections per second, p50/p99
# latency). Prints tables with ratios to hostfwd and passt.
#
#   tests/bench/vm-portfwd.sh [SECONDS]   (iperf3 run length, default 10)
set -u
TEST_NAME=bench-vm-portfwd
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${VMN_BUILDDIR:=$src/build}"
export VMN_BUILDDIR VMN_SRCDIR=$src
. "$src/tests/netns/lib.sh"
SECS=${1:-10}
RR_SECS=5
BULK=$VMN_BUILDDIR/tests/tools/vmn-bulk
[ -x "$BULK" ] || make -C "$VMN_BUILDDIR" tests/tools/vmn-bulk >/dev/null
USER_NAME=vmnbench
# tests/deps.sh installs these (vmnet-run needs them).
command -v qemu-system-x86_64 >/dev/null || { echo "missing: qemu-system-x86"; exit 99; }
[ -x /bin/busybox ] || { echo "missing: busybox-static"; exit 99; }

install_quietly iperf3 passt
id "$USER_NAME" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$USER_NAME"

# Guest ports, the same in every VM; host ports, one pair per path.
G_IPERF=5201 G_ECHO=7000
declare -A HOSTPORT=([vmnetd]=5201 [vmnetd-vsock]=5202 [hostfwd]=25201 [passt]=35201)
declare -A ECHOPORT=([vmnetd]=7000 [vmnetd-vsock]=7001 [hostfwd]=27000 [passt]=37000)
paths=(vmnetd vmnetd-vsock hostfwd passt)

bed_init
chmod 755 "$TMP"
# Our VMs and passt, by PID: vmnet-run first and waited for (it stops its
# QEMU and vmnet-vsockd and unregisters while host-netd still runs).
RUN_PID= PEER_PIDS=()
bench_stop() {
	local pid
	if [ -n "$RUN_PID" ]; then
		kill "$RUN_PID" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$RUN_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	for pid in "${PEER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
}
BED_CLEANUP_HOOK=bench_stop
bed_up
bed_write_conf >/dev/null
bed_host_netd
VM=p$SFX

# iperf3 and what it links with (the initramfs has only guest-netd's
# libraries), vmn-bulk (libc only) and the servers' start, for every VM.
IPERF3=$(command -v iperf3)
ADDS=(--add "$BULK:/bin/vmn-bulk" --add "$IPERF3:/bin/iperf3")
for lib in $(ldd "$IPERF3" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
	ADDS+=(--add "$lib:$lib")
done
servers() {
	cat <<EOF
iperf3 -s -p $G_IPERF -D
# The echo server last, once iperf3 listens: a working echo means both do.
for i in \$(seq 100); do
	netstat -ltn | grep -q ":$G_IPERF " && break
	sleep 0.1
done
/bin/vmn-bulk echo-server $G_ECHO &
echo "vm-bench: servers started"
EOF
}
{
	printf '#!/bin/sh\n# vmnetd: guest-netd forwards what listens.\n'
	printf 'iperf3 -s -p %s -B 127.0.0.1 -D\n' "${HOSTPORT[vmnetd-vsock]}"
	printf 'VMN_BULK_LOOPBACK=1 /bin/vmn-bulk echo-server %s &\n' "${ECHOPORT[vmnetd-vsock]}"
	servers
} >"$TMP/rc.vmnetd"
# The peers: eth0 from DHCP (QEMU's slirp or passt answers it).
cat >"$TMP/udhcpc.script" <<'EOF'
#!/bin/sh
case $1 in
deconfig)
	ip link set "$interface" up
	ip addr flush dev "$interface"
	;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do
		ip route replace default via "$r" dev "$interface"
		break
	done
	;;
esac
exit 0
EOF
{
	printf '#!/bin/sh\n# A peer VM: eth0 by DHCP.\n'
	printf 'udhcpc -i eth0 -s /etc/udhcpc.script -q -n -t 20 -T 1 >/dev/console 2>&1\n'
	printf 'echo "vm-bench: eth0 $(ip -4 -o addr show eth0 | awk '"'"'{ print $4 }'"'"')"\n'
	servers
} >"$TMP/rc.peer"
chmod 755 "$TMP/rc.vmnetd" "$TMP/rc.peer" "$TMP/udhcpc.script"

# The vmnetd VM, booted by vmnet-run (it builds its initramfs, and picks
# the kernel, PVH entry and accelerator).
log "booting the vmnetd VM (vmnet-run)"
bed_spawn "$NS_HOST" vmnet-run "$src/vm/vmnet-run" --name "$VM" \
    --console "$TMP/vmnetd.console" --socket "$TMP/control.sock" \
    --rc-local "$TMP/rc.vmnetd" "${ADDS[@]}" \
    -- -qmp "unix:$TMP/qmp-vmnetd.sock,server=on,wait=off"
RUN_PID=$LAST_PID
wait_for 300 "vmnet-run's QEMU" pgrep -P "$RUN_PID" -x qemu-system-x86
QPID=$(pgrep -P "$RUN_PID" -x qemu-system-x86 | head -1)

# Its command line gives the peers the same kernel and machine.
mapfile -d '' QARGS <"/proc/$QPID/cmdline"
qarg() { # qarg OPTION: the value after OPTION in vmnet-run's QEMU command line
	local i
	for ((i = 0; i < ${#QARGS[@]} - 1; i++)); do
		[ "${QARGS[i]}" = "$1" ] && { echo "${QARGS[i + 1]}"; return; }
	done
}
KERNEL=$(qarg -kernel) MEM=$(qarg -m) CPUS=$(qarg -smp) MACHINE=$(qarg -machine)
MEMOBJ=$(qarg -object) CPU=$(qarg -cpu)
# Its kernel command line without vmnet.* (read by our init scripts only).
APPEND=$(qarg -append | tr ' ' '\n' | grep -v '^vmnet\.' | tr '\n' ' ')
ACCEL=$(echo "$MACHINE" | sed -n 's/.*accel=\([a-z]*\).*/\1/p')
log "kernel $KERNEL, -m $MEM -smp $CPUS -machine $MACHINE"

# The peers' initramfs: vmnet-initramfs with our init scripts, but
# guest-netd's service replaced by a sleep (there is no vsock to reach).
KVER=
for k in $(ls -1v /boot/vmlinuz-* 2>/dev/null | tac); do
	[ -d "/lib/modules/${k#/boot/vmlinuz-}" ] && { KVER=${k#/boot/vmlinuz-}; break; }
done
[ -n "$KVER" ] || fail "no kernel with modules in /boot"
mkdir "$TMP/initramfs"
cp "$src"/vm/initramfs/* "$TMP/initramfs/"
printf '#!/bin/sh\nexec sleep 2147483647\n' >"$TMP/initramfs/guest-netd.sh"
VMNET_DATADIR=$TMP/initramfs "$src/vm/vmnet-initramfs" -o "$TMP/peer.img" \
    --kver "$KVER" --guest-netd "$VMN_BUILDDIR/guest-netd/guest-netd" \
    --add "$TMP/rc.peer:/etc/vmnet/rc.local" \
    --add "$TMP/udhcpc.script:/etc/udhcpc.script" "${ADDS[@]}" ||
	fail "cannot build the peers' initramfs"

peer_qemu() { # peer_qemu NAME NETDEV: a peer VM as vmnet-run boots one
	local q=(qemu-system-x86_64 -name "$1" -nodefaults -no-user-config
	    -nographic -no-reboot -m "$MEM" -smp "$CPUS" -object "$MEMOBJ"
	    -kernel "$KERNEL" -initrd "$TMP/peer.img" -append "$APPEND"
	    -serial "file:$TMP/$1.console" -netdev "$2"
	    -device "virtio-net-pci,netdev=net0,romfile=" -machine "$MACHINE"
	    -qmp "unix:$TMP/qmp-$1.sock,server=on,wait=off")
	[ -n "$CPU" ] && q+=(-cpu "$CPU")
	# It dies with us even if we are killed outright.
	bed_spawn "$NS_HOST" "qemu-$1" setpriv --pdeathsig KILL "${q[@]}"
	PEER_PIDS+=("$LAST_PID")
	QEMU_PID[$1]=$LAST_PID
}
declare -A QEMU_PID

log "booting the hostfwd VM (QEMU user networking)"
peer_qemu hostfwd "user,id=net0,hostfwd=tcp:127.0.0.1:${HOSTPORT[hostfwd]}-:$G_IPERF,hostfwd=tcp:127.0.0.1:${ECHOPORT[hostfwd]}-:$G_ECHO"

# passt as the bench user, its socket in a directory that user owns.
log "booting the passt VM"
mkdir "$TMP/passt"
chown "$USER_NAME" "$TMP/passt"
bed_spawn "$NS_HOST" passt setpriv --reuid="$USER_NAME" --regid="$USER_NAME" \
    --init-groups --pdeathsig KILL passt -f -s "$TMP/passt/passt.sock" \
    -l "$TMP/passt/passt.log" -t "127.0.0.1/${HOSTPORT[passt]}:$G_IPERF" \
    -t "127.0.0.1/${ECHOPORT[passt]}:$G_ECHO"
PEER_PIDS+=("$LAST_PID")
HAVE_PASST=1
for _ in $(seq 50); do
	[ -S "$TMP/passt/passt.sock" ] && break
	sleep 0.1
done
if [ -S "$TMP/passt/passt.sock" ]; then
	peer_qemu passt "stream,id=net0,server=off,addr.type=unix,addr.path=$TMP/passt/passt.sock"
else
	log "passt did not start: $(tail -3 "$TMP/passt.log" "$TMP/passt/passt.log" 2>&1)"
	HAVE_PASST=0
fi

wait_for 300 "vm $VM online" sh -c \
	"$NETCTL -s $TMP/control.sock --dump vms | awk -F'\t' '\$1 == \"$VM\" && \$3 == \"online\"' | grep -q ."
forwarded() {
	netctl --dump forwards | awk -F'\t' -v n="127.0.0.1:$1" \
	    '$3 == n && $6 == "active" { f = 1 } END { exit !f }'
}
for port in $G_IPERF $G_ECHO "${HOSTPORT[vmnetd-vsock]}" "${ECHOPORT[vmnetd-vsock]}"; do
	wait_for 120 "$port forwarded" forwarded "$port"
done

# A path is ready when a request's echo comes back through it (QEMU and
# passt accept on the host before the guest listens).
echoes() { in_host timeout 5 "$BULK" rr 127.0.0.1 "$1" 0.05; }
ready() { # ready PATH: up to 300 s
	local i
	for ((i = 0; i < 600; i++)); do
		echoes "${ECHOPORT[$1]}" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
HAVE_HOSTFWD=1
for p in "${paths[@]}"; do
	[ "$p" = passt ] && [ "$HAVE_PASST" = 0 ] && continue
	if ready "$p"; then
		log "$p: ready"
	elif [[ $p == vmnetd* ]]; then
		fail "$p: no echo through 127.0.0.1:${ECHOPORT[$p]}"
	else
		log "$p: no echo through 127.0.0.1:${ECHOPORT[$p]}: left out" \
		    "($(grep 'vm-bench' "$TMP/$p.console" | tr -d '\r' | tr '\n' ' '))"
		[ "$p" = passt ] && HAVE_PASST=0
		[ "$p" = hostfwd ] && HAVE_HOSTFWD=0
		# Idle, it would take CPU from the others.
		kill "${QEMU_PID[$p]:-}" 2>/dev/null
	fi
done
kept=()
for p in "${paths[@]}"; do
	[ "$p" = passt ] && [ "$HAVE_PASST" = 0 ] && continue
	[ "$p" = hostfwd ] && [ "$HAVE_HOSTFWD" = 0 ] && continue
	kept+=("$p")
done
paths=("${kept[@]}")
for p in hostfwd passt; do
	[ -f "$TMP/$p.console" ] && log "$p: guest $(grep -a 'vm-bench: eth0' "$TMP/$p.console" | tr -d '\r')"
done

# iperf3's server closes its listening socket after each test and opens a
# new one, so before each test: time for that, and for vmnetd, time for
# guest-netd to see the new listener and host-netd to bind the port again
# (a client in between is refused).
settle() { # settle PATH
	local i
	sleep 2
	[[ $1 == vmnetd* ]] || return 0
	for ((i = 0; i < 100; i++)); do
		forwarded "${HOSTPORT[$1]}" && return 0
		sleep 0.1
	done
	log "$1: port ${HOSTPORT[$1]} not forwarded again after 10 s" >&2
}
iperf() { # iperf PATH [-R]: receiver Mbit/s; a failed test is logged, tried again once
	local out=$TMP/iperf3-$1${2:-}.out try
	for try in 1 2; do
		settle "$1"
		in_host timeout $((SECS + 60)) iperf3 -c 127.0.0.1 -p "${HOSTPORT[$1]}" \
		    -t "$SECS" -f m ${2:-} >"$out" 2>&1
		grep -q receiver "$out" && break
		log "$1: iperf3 ${2:+$2 }failed (try $try): $(tail -1 "$out")" >&2
		cp "$out" "$out.failed$try"
	done
	awk '/receiver/ { print $7 }' "$out"
}
measure() { # measure PATH: its figures into UP, DOWN, RATE, P50, P99
	local p=$1
	log "$p: iperf3 host->guest, ${SECS}s"
	UP[$p]=$(iperf "$p")
	log "$p: iperf3 guest->host, ${SECS}s"
	DOWN[$p]=$(iperf "$p" -R)
	sleep 1
	log "$p: short requests, ${RR_SECS}s"
	read -r RATE[$p] _ _ P50[$p] _ _ P99[$p] _ < <(in_host "$BULK" rr \
	    127.0.0.1 "${ECHOPORT[$p]}" $RR_SECS)
	: "${UP[$p]:=-}" "${DOWN[$p]:=-}" "${RATE[$p]:=-}" "${P50[$p]:=-}" "${P99[$p]:=-}"
	log "$p: ${UP[$p]} / ${DOWN[$p]} Mbit/s, ${RATE[$p]} conns/s," \
	    "p50 ${P50[$p]} us, p99 ${P99[$p]} us"
}

# Only the VM being measured runs: an idle guest under TCG takes about 8%
# of a host CPU here (its timers), the vmnetd one about 30% (guest-netd's
# listener scans), which would otherwise come off whichever path is
# measured. The peers are paused with QMP stop (their clocks stop too, so
# no guest sees time jump). The vmnetd VM cannot be: a pause stops the
# vsock device's rings, on which vmnet-vsockd closes every vsock
# connection, guest-netd's control connection included, and guest-netd
# takes from half a minute to over a minute after the resume to notice.
# So vmnetd goes first (both ways), then its VM is shut down, then each
# peer in turn.
qmp() { # qmp PATH COMMAND
	printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$2" |
	    socat -t 2 - UNIX-CONNECT:"$TMP/qmp-$1.sock" 2>/dev/null |
	    grep -c '"return"' | grep -qx 2 || fail "$1: QMP $2 refused"
}
only() { # only PATH: resumes PATH's VM, pauses the other peers
	local p
	for p in "${paths[@]}"; do
		[[ $p == vmnetd* ]] || [ "$p" = "$1" ] || qmp "$p" stop
	done
	[[ $1 == vmnetd* ]] || qmp "$1" cont
	sleep 1
}

declare -A UP DOWN RATE P50 P99
for p in "${paths[@]}"; do
	only "$p"
	measure "$p"
	if [ "$p" = vmnetd-vsock ]; then
		kill "$RUN_PID"
		wait_for 30 "vmnet-run stopped" sh -c "! kill -0 $RUN_PID"
		RUN_PID=
	fi
done

ratio() { # ratio PATH-VALUE PEER: "-" without the peer or a figure
	local b=${2:-}
	awk -v a="$1" -v b="$b" 'BEGIN {
		if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}

echo
echo "Localhost forwarding into a VM: host client -> guest server; VM under" \
    "${ACCEL:-?}, ${CPUS} vCPU, ${MEM} MiB; $(nproc) host CPUs shared by everything."
echo
echo "Throughput, iperf3, one stream, ${SECS}s, Mbit/s:"
printf '  %-13s %12s %10s %8s %12s %10s %8s\n' path host-\>guest "x hostfwd" "x passt" \
    guest-\>host "x hostfwd" "x passt"
for p in "${paths[@]}"; do
	printf '  %-13s %12s %10s %8s %12s %10s %8s\n' "$p" "${UP[$p]}" \
	    "$(ratio "${UP[$p]}" "${UP[hostfwd]:-}")" \
	    "$(ratio "${UP[$p]}" "${UP[passt]:-}")" "${DOWN[$p]}" \
	    "$(ratio "${DOWN[$p]}" "${DOWN[hostfwd]:-}")" \
	    "$(ratio "${DOWN[$p]}" "${DOWN[passt]:-}")"
done
echo
echo "Short requests, a new connection each, one at a time, ${RR_SECS}s:"
printf '  %-13s %10s %10s %8s %9s %9s\n' path conns/s "x hostfwd" "x passt" "p50 us" "p99 us"
for p in "${paths[@]}"; do
	printf '  %-13s %10s %10s %8s %9s %9s\n' "$p" "${RATE[$p]}" \
	    "$(ratio "${RATE[$p]}" "${RATE[hostfwd]:-}")" \
	    "$(ratio "${RATE[$p]}" "${RATE[passt]:-}")" "${P50[$p]}" "${P99[$p]}"
done
echo
echo "vmnetd: host->guest $(ratio "${UP[vmnetd]}" "${UP[hostfwd]:-}") x hostfwd," \
    "$(ratio "${UP[vmnetd]}" "${UP[passt]:-}") x passt;" \
    "guest->host $(ratio "${DOWN[vmnetd]}" "${DOWN[hostfwd]:-}") x hostfwd," \
    "$(ratio "${DOWN[vmnetd]}" "${DOWN[passt]:-}") x passt;" \
    "conns/s $(ratio "${RATE[vmnetd]}" "${RATE[hostfwd]:-}") x hostfwd," \
    "$(ratio "${RATE[vmnetd]}" "${RATE[passt]:-}") x passt"
echo "vmnetd-vsock (servers on the guest's loopback): host->guest" \
    "$(ratio "${UP[vmnetd-vsock]}" "${UP[hostfwd]:-}") x hostfwd," \
    "guest->host $(ratio "${DOWN[vmnetd-vsock]}" "${DOWN[hostfwd]:-}") x hostfwd," \
    "conns/s $(ratio "${RATE[vmnetd-vsock]}" "${RATE[hostfwd]:-}") x hostfwd"
