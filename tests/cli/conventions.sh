#!/bin/bash
# tests/cli/conventions.sh - every program's command line behaves the same
#
# --help: usage on stdout, exit 0. --version: "PROGRAM (vmnetd) VERSION",
# exit 0. An unknown option, a missing argument or an unexpected argument:
# a line on stderr that says what was wrong, exit 2. No root needed.
set -u
b=${VMN_BUILDDIR:?} s=${VMN_SRCDIR:?}
version=$(sed -n 's/^AC_INIT(\[vmnetd\], \[\([^]]*\)\].*/\1/p' "$s/configure.ac")
failed=0
bad() { echo "FAIL: $*"; failed=1; }

check() { # check NAME PATH MISSING-ARG-OPTION
	local name=$1 prog=$2 opt=$3 out err rc
	out=$("$prog" --help 2>/dev/null); rc=$?
	[ $rc = 0 ] && echo "$out" | grep -qi "usage" ||
		bad "$name --help: exit $rc, stdout: ${out:0:60}"
	out=$("$prog" --version 2>/dev/null); rc=$?
	[ $rc = 0 ] && [ "$out" = "$name (vmnetd) $version" ] ||
		bad "$name --version: exit $rc, '$out'"
	err=$("$prog" --no-such-option 2>&1 >/dev/null); rc=$?
	[ $rc = 2 ] && echo "$err" | grep -q "^$name: unknown option \"\{0,1\}--no-such-option" ||
		bad "$name --no-such-option: exit $rc, '${err%%$'\n'*}'"
	if [ -n "$opt" ]; then
		err=$("$prog" "$opt" 2>&1 >/dev/null); rc=$?
		[ $rc = 2 ] && echo "$err" | grep -q "^$name: option $opt needs an argument" ||
			bad "$name $opt (no argument): exit $rc, '${err%%$'\n'*}'"
	fi
	echo "ok: $name"
}

check host-netd "$b/host-netd/host-netd" -f
check guest-netd "$b/guest-netd/guest-netd" --host
check vmnet-vsockd "$b/vm/vmnet-vsockd" --socket
check vmnet-kvm-ok "$b/vm/vmnet-kvm-ok" ""
check vmnet-run "$s/vm/vmnet-run" --name
check vmnet-initramfs "$s/vm/vmnet-initramfs" -o
check vmnet-image "$s/vm/vmnet-image" -o
check netctl "$b/netctl/netctl" -s

# Leftover arguments are named.
err=$("$b/host-netd/host-netd" -n extra 2>&1); rc=$?
[ $rc = 2 ] && echo "$err" | grep -q 'unexpected argument "extra"' ||
	bad "host-netd -n extra: exit $rc, '${err%%$'\n'*}'"
exit $failed
