#!/bin/bash
# tests/deps.sh - install what vmnetd's build, tests and demo need (Debian 12)
#
# Idempotent: packages already present are skipped, so a second run costs
# one dpkg query. Everything it says goes to stderr: callers capture the
# stdout of the scripts that run it (tests/build.sh prints the build dir).
set -euo pipefail
exec 1>&2

BUILD_PKGS="build-essential autoconf automake libtool pkg-config
	libmnl-dev libnftables-dev libc-ares-dev libevent-dev libcmocka-dev"
TEST_PKGS="iproute2 nftables dnsmasq-base socat dnsutils curl procps
	iputils-ping cppcheck python3 tinyproxy-bin gdb"
# The VM: QEMU, a kernel to boot (Debian's, its modules in /lib/modules),
# busybox for the initramfs, and mmdebstrap for the Debian image.
VM_PKGS="qemu-system-x86 linux-image-amd64 busybox-static cpio e2fsprogs
	mmdebstrap"

missing=()
for p in $BUILD_PKGS $TEST_PKGS $VM_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: need root to install: ${missing[*]}"
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
