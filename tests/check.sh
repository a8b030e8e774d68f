#!/bin/bash
# tests/check.sh - install dependencies, build with -Werror, run every test
#
# Runs as root (asking sudo when a sudoer runs it). Runs the whole suite
# twice: a normal -Werror build, then a build with AddressSanitizer and UBSan
# (every daemon the namespace tests start is the instrumented one, and a
# sanitizer report anywhere fails the run). Between the two, the README's
# first command runs as on a fresh machine (tests/first-run.sh) and an
# installed tree is run (tests/install.sh). Last, a short fuzzing run of
# every harness in tests/fuzz.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/root.sh"
become_root "$@"

run_suite() {
	local builddir=$1
	shift
	echo "=== build in $builddir ($*)"
	"$src/tests/build.sh" "$builddir" "$@" >/dev/null
	echo "=== make check in $builddir"
	if ! make -C "$builddir" check; then
		cat "$builddir"/test-suite.log || true
		exit 1
	fi
}

run_suite "$src/build" --enable-werror
# The README's first command, with deps.sh on its installation path; then
# make install under a scratch root, and what it installed run for real.
"$src/tests/first-run.sh"
"$src/tests/install.sh"
run_suite "$src/build-sanitizers" --enable-werror --enable-sanitizers
# Every parser of untrusted bytes, fuzzed briefly from its corpus (clang,
# libFuzzer, ASan and UBSan): a smoke run; tests/fuzz/README.md has more.
echo "=== fuzz smoke run"
"$src/tests/fuzz/run.sh" 5
echo "=== all tests passed"
