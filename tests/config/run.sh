#!/bin/bash
#
# tests/config/run.sh - host-netd -nv against good and bad configuration files
#
# For every tests/config/NAME.conf:
#   NAME.ok   the file is good: `host-netd -nv -f NAME.conf` exits 0 and its
#             stdout is exactly NAME.ok; NAME.ok itself, fed back through
#             host-netd -nv, comes out unchanged (the printer writes a
#             valid configuration). Its stderr is "configuration OK" and
#             nothing else, unless there is a
#   NAME.warn as well: then stderr, normalized as for NAME.err, is exactly
#             NAME.warn (the warnings, and "configuration OK").
#   NAME.err  the file is bad: host-netd exits 1, prints nothing on stdout,
#             and its stderr is exactly NAME.err, once normalized: the
#             fixtures' directory becomes @CONFDIR@, and the log decoration
#             ("HH:MM:SS.mmm host-netd: ") before each line is dropped, so
#             the .err files hold the plain "file:line: message" lines.
#
# Environment (set by `make check`; both default to the source tree this
# script lives in): VMN_BUILDDIR, where host-netd/host-netd was built, and
# VMN_SRCDIR, where tests/config/ is. Exit 0 pass, 1 fail, 77 skip.
#
# To write the expected output of a new fixture, run host-netd by hand,
# READ what it says, and only then save it as the .ok or .err.

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${VMN_SRCDIR:-$here/../..}
builddir=${VMN_BUILDDIR:-$here/../..}
bin=$builddir/host-netd/host-netd
confdir=$srcdir/tests/config

if [ ! -x "$bin" ]; then
	echo "SKIP: $bin not built"
	exit 77
fi
if [ ! -d "$confdir" ]; then
	echo "FAIL: no fixtures in $confdir"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmn-config.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# stderr of host-netd, location-independent and without log decoration.
normalize() {
	CONFDIR=$confdir awk '
	{
		sub(/^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9] /, "")
		sub(/^host-netd: /, "")
		out = ""
		d = ENVIRON["CONFDIR"]
		while ((i = index($0, d)) > 0) {
			out = out substr($0, 1, i - 1) "@CONFDIR@"
			$0 = substr($0, i + length(d))
		}
		print out $0
	}' "$1"
}

# Shows a file indented, for the reasons of a failure.
show() {
	sed 's/^/    | /' "$1"
}

pass=0
fail=0
failed=

check_good() {
	local conf=$1 ok=$2 warn=${2%.ok}.warn rc

	"$bin" -nv -f "$conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		why="exit status $rc, expected 0"
		details=$(show "$tmp/err")
		return 1
	fi
	if ! cmp -s "$ok" "$tmp/out"; then
		why="output differs from ${ok##*/}"
		details=$(diff -u --label "${ok##*/}" --label "host-netd -nv" \
		    "$ok" "$tmp/out")
		return 1
	fi
	normalize "$tmp/err" >"$tmp/err.norm"
	if [ -e "$warn" ]; then
		cp "$warn" "$tmp/warn"
	else
		echo "configuration OK" >"$tmp/warn"
	fi
	if ! cmp -s "$tmp/warn" "$tmp/err.norm"; then
		why="stderr differs from ${warn##*/}"
		[ -e "$warn" ] || why="a warning, and no ${warn##*/}"
		details=$(diff -u --label "${warn##*/}" \
		    --label "host-netd -nv (stderr)" "$tmp/warn" "$tmp/err.norm")
		return 1
	fi
	# The printed configuration is itself a good file that prints the same.
	cp "$ok" "$tmp/again.conf"
	"$bin" -nv -f "$tmp/again.conf" >"$tmp/out2" 2>"$tmp/err2"
	rc=$?
	if [ $rc -ne 0 ]; then
		why="${ok##*/} fed back: exit status $rc, expected 0"
		details=$(show "$tmp/err2")
		return 1
	fi
	if ! cmp -s "$ok" "$tmp/out2"; then
		why="${ok##*/} fed back does not print the same"
		details=$(diff -u --label "${ok##*/}" \
		    --label "host-netd -nv (${ok##*/})" "$ok" "$tmp/out2")
		return 1
	fi
	return 0
}

check_bad() {
	local conf=$1 err=$2 rc

	"$bin" -nv -f "$conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	normalize "$tmp/err" >"$tmp/err.norm"
	if [ $rc -ne 1 ]; then
		why="exit status $rc, expected 1"
		details=$(show "$tmp/err.norm")
		return 1
	fi
	if ! cmp -s "$err" "$tmp/err.norm"; then
		why="errors differ from ${err##*/}"
		details=$(diff -u --label "${err##*/}" --label "host-netd -nv" \
		    "$err" "$tmp/err.norm")
		return 1
	fi
	if [ -s "$tmp/out" ]; then
		why="a bad file printed a configuration"
		details=$(show "$tmp/out")
		return 1
	fi
	return 0
}

nconf=0
for conf in "$confdir"/*.conf; do
	[ -e "$conf" ] || continue
	nconf=$((nconf + 1))
	name=${conf##*/}
	base=${conf%.conf}
	why=
	details=
	result=1
	if [ -e "$base.ok" ] && [ -e "$base.err" ]; then
		why="has both ${base##*/}.ok and ${base##*/}.err"
	elif [ -e "$base.warn" ] && [ ! -e "$base.ok" ]; then
		why="has ${base##*/}.warn but no ${base##*/}.ok"
	elif [ -e "$base.ok" ]; then
		check_good "$conf" "$base.ok" && result=0
	elif [ -e "$base.err" ]; then
		check_bad "$conf" "$base.err" && result=0
	else
		why="has neither ${base##*/}.ok nor ${base##*/}.err"
	fi
	if [ $result -eq 0 ]; then
		echo "PASS: $name"
		pass=$((pass + 1))
	else
		echo "FAIL: $name: $why"
		[ -n "$details" ] && printf '%s\n' "$details"
		fail=$((fail + 1))
		failed="$failed $name"
	fi
done

# An expected output without its configuration is a typo somewhere.
for exp in "$confdir"/*.ok "$confdir"/*.err "$confdir"/*.warn; do
	[ -e "$exp" ] || continue
	if [ ! -e "${exp%.*}.conf" ]; then
		b=${exp##*/}
		echo "FAIL: $b: no ${b%.*}.conf to go with it"
		fail=$((fail + 1))
		failed="$failed $b"
	fi
done

if [ $nconf -eq 0 ]; then
	echo "FAIL: no *.conf in $confdir"
	exit 1
fi
echo "$pass passed, $fail failed"
if [ $fail -ne 0 ]; then
	echo "failed:$failed"
	exit 1
fi
exit 0
