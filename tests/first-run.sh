#!/bin/bash
# tests/first-run.sh - the README's first command, as on a fresh machine
#
# On a fresh machine tests/deps.sh installs packages, and the demo once
# broke only then: deps.sh's progress line reached tests/build.sh's stdout,
# which the demo takes as the build directory. Here dpkg-query and apt-get
# are stubbed (first on PATH) so that deps.sh believes a package is missing
# and takes the installation path, printing what it prints there, and the
# demo must still work: tests/demo.sh --netns --once, then the VM demo
# (tests/demo.sh --once) the README shows first. The stubbed apt-get
# installs nothing (the packages are there) but records that it ran.
#
#   tests/first-run.sh        (run by tests/check.sh after the first build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
stubs=$(mktemp -d /tmp/vmnetd-first-run.XXXXXX)
trap 'rm -rf "$stubs"' EXIT

# The first package deps.sh asks about is "missing"; the rest are real.
cat >"$stubs/dpkg-query" <<STUB
#!/bin/sh
for a; do last=\$a; done
if [ "\$last" = build-essential ]; then
	printf 'install ok not-installed'
	exit 0
fi
exec /usr/bin/dpkg-query "\$@"
STUB
# apt-get prints what apt prints (on stdout) and records its arguments.
cat >"$stubs/apt-get" <<STUB
#!/bin/sh
echo "apt-get \$*" >>"$stubs/apt.log"
echo "Reading package lists... Done"
STUB
chmod +x "$stubs/dpkg-query" "$stubs/apt-get"

# run_demo "WANTED|OUTPUT|LINES" DEMO-ARGS...
run_demo() {
	local out=$stubs/demo.out want w
	want=$1
	shift
	: >"$stubs/apt.log"
	echo "=== first run: tests/demo.sh $* (deps.sh installing, apt stubbed)"
	if ! PATH=$stubs:$PATH "$src/tests/demo.sh" "$@" </dev/null >"$out" 2>&1; then
		cat "$out"
		echo "FAIL: tests/demo.sh $* failed on the installation path"
		exit 1
	fi
	if ! grep -q "apt-get install .*build-essential" "$stubs/apt.log"; then
		cat "$out"
		echo "FAIL: deps.sh did not take the installation path"
		exit 1
	fi
	IFS='|' read -ra want <<<"$want"
	for w in "${want[@]}"; do
		if ! grep -qF -- "$w" "$out"; then
			cat "$out"
			echo "FAIL: the demo's output lacks: $w"
			exit 1
		fi
	done
	echo "ok: tests/demo.sh $* ran on the installation path"
}

run_demo "is online|hello from the guest|10.255.255.254" --netns --once
run_demo "is online|hello from the VM|nameserver 10.255.255.254" --once
