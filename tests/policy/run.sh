#!/bin/bash
#
# tests/policy/run.sh - host-netd -nv against good and bad policy files
#
# For every tests/policy/NAME.policy (one policy file) or NAME.d/ (a
# policy.d of several files, read in lexical order): host-netd -nv runs
# with a host-netd.conf whose policy-dir holds it, beside two VMs, "dev"
# and "ci".
#   NAME.ok   the policy is good: the policy part of the output (after
#             "# ---- the policy: DIR") is exactly NAME.ok once the
#             directory is written @DIR@; fed back as a policy file of its
#             own, it prints the same.
#   NAME.err  the policy is bad: host-netd exits 1, prints nothing on
#             stdout, and its stderr (the directory written @DIR@, the log
#             decoration dropped) is exactly NAME.err.
#
# Environment (set by `make check`): VMN_BUILDDIR, VMN_SRCDIR. Exit 0
# pass, 1 fail, 77 skip. Write a new fixture's expected output by running
# host-netd by hand and READING it first.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${VMN_SRCDIR:-$here/../..}
builddir=${VMN_BUILDDIR:-$here/../..}
bin=$builddir/host-netd/host-netd
fixtures=$srcdir/tests/policy

[ -x "$bin" ] || { echo "SKIP: $bin not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmn-policy.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# conf DIR: a host-netd.conf with that policy-dir.
conf() {
	cat >"$tmp/host-netd.conf" <<CONF
policy-dir "$1"
vm "dev" {
	link veth netns "dev"
	channel "unix:$tmp/dev"
}
vm "ci" {
	link veth netns "ci"
	channel "unix:$tmp/ci"
}
CONF
}

# The output's policy part, and messages, with $tmp/p written @DIR@.
policy_part() {
	sed -n '/^# ---- the policy: /,$p' "$1" | sed 1d | sed "s|$tmp/p|@DIR@|g"
}
normalize() {
	sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} //; s/^host-netd: //' "$1" |
	    sed "s|$tmp/p|@DIR@|g"
}

pass=0
fail=0
for src in "$fixtures"/*.policy "$fixtures"/*.d; do
	[ -e "$src" ] || continue
	name=$(basename "$src")
	name=${name%.policy}
	name=${name%.d}
	rm -rf "$tmp/p" "$tmp/again"
	mkdir -p "$tmp/p"
	if [ -d "$src" ]; then
		cp "$src"/*.conf "$tmp/p/"
	else
		cp "$src" "$tmp/p/$name.conf"
	fi
	conf "$tmp/p"
	"$bin" -nv -f "$tmp/host-netd.conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	why=
	if [ -e "$fixtures/$name.ok" ]; then
		policy_part "$tmp/out" >"$tmp/got"
		if [ $rc -ne 0 ]; then
			why="exit status $rc: $(cat "$tmp/err")"
		elif ! cmp -s "$fixtures/$name.ok" "$tmp/got"; then
			why=$(diff -u --label "$name.ok" --label "host-netd -nv" \
			    "$fixtures/$name.ok" "$tmp/got")
		else
			# The printed policy is a policy that prints the same.
			mkdir -p "$tmp/again"
			sed "s|@DIR@|$tmp/p|g" "$tmp/got" >"$tmp/again/all.conf"
			conf "$tmp/again"
			"$bin" -nv -f "$tmp/host-netd.conf" >"$tmp/out2" 2>&1 ||
				why="fed back: $(cat "$tmp/out2")"
			sed -n '/^# ---- the policy: /,$p' "$tmp/out2" | sed 1d |
			    grep -v '^# /' >"$tmp/got2"
			grep -v '^# /' "$tmp/got" | grep -v '^# @DIR@' >"$tmp/got1"
			[ -n "$why" ] || cmp -s "$tmp/got1" "$tmp/got2" ||
				why="fed back, it prints otherwise: $(diff "$tmp/got1" "$tmp/got2")"
		fi
	elif [ -e "$fixtures/$name.err" ]; then
		normalize "$tmp/err" >"$tmp/got"
		if [ $rc -ne 1 ]; then
			why="exit status $rc, expected 1"
		elif [ -s "$tmp/out" ]; then
			why="a bad policy printed a configuration"
		elif ! cmp -s "$fixtures/$name.err" "$tmp/got"; then
			why=$(diff -u --label "$name.err" --label "host-netd -nv" \
			    "$fixtures/$name.err" "$tmp/got")
		fi
	else
		why="neither $name.ok nor $name.err"
	fi
	if [ -z "$why" ]; then
		echo "PASS: $name"
		pass=$((pass + 1))
	else
		echo "FAIL: $name: $why"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
