#!/bin/bash
# tests/fuzz/run.sh - build the fuzz harnesses and run each one for a while
#
#   tests/fuzz/run.sh [SECONDS_PER_HARNESS [NAME...]]
#
# Builds (tests/fuzz/build.sh), then runs every harness (or the NAMEs
# given: wire, dns, ...) for SECONDS_PER_HARNESS seconds (default 10) over
# its seed corpus, tests/fuzz/corpus/NAME, one process at a time. Prints one
# line per harness: executions, executions per second, coverage (libFuzzer's
# cov: edges, ft: features), corpus size. Exits 1 if any harness crashed,
# hung (an input over 30 s), ran out of memory, leaked, or reported
# anything from ASan or UBSan; its log and the input that did it are then
# kept, and named, in the work directory.
#
# Nothing is written into the source tree: new corpus entries, crash
# artefacts and logs go to a temporary directory ($VMN_FUZZ_WORK, or a new
# one under ${TMPDIR:-/tmp}), removed when everything passed unless
# VMN_FUZZ_KEEP=1. VMN_FUZZ_OUT is where build.sh builds (default
# /tmp/vmnetd-fuzz). VMN_FUZZ_LOCK=FILE runs each harness under flock(1)
# on FILE (a machine shared with benchmarks). Extra libFuzzer options can
# be given in VMN_FUZZ_ARGS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
shift || true
case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_HARNESS [NAME...]]" >&2; exit 2 ;;
esac

bin=$("$here/build.sh" "${VMN_FUZZ_OUT:-/tmp/vmnetd-fuzz}") || {
	echo "run.sh: build failed" >&2
	exit 1
}
if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in "$here"/fuzz_*.c; do
		n=$(basename "${f%.c}")
		names+=("${n#fuzz_}")
	done
fi

work=${VMN_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/vmnetd-fuzz-run.XXXXXX")}
mkdir -p "$work/tmp"
case "$work/" in
"$(cd "$here/../.." && pwd)"/*) echo "run.sh: $work is inside the tree" >&2; exit 2 ;;
esac

# Sanitizer reports end the process (libFuzzer then saves the input);
# leaks are checked after each input that allocated more than it freed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
lock=()
[ -n "${VMN_FUZZ_LOCK:-}" ] && lock=(flock "$VMN_FUZZ_LOCK")

failed=0
for n in "${names[@]}"; do
	b=$bin/fuzz_$n
	if [ ! -x "$b" ]; then
		echo "fuzz_$n: no such harness" >&2
		failed=1
		continue
	fi
	mkdir -p "$work/$n/new" "$work/$n/artifacts"
	log=$work/$n/log
	seeds=$here/corpus/$n
	[ -d "$seeds" ] || seeds=
	# New entries go to the first directory only: the temporary one. The
	# harness's sockets go under $work/tmp (left behind by a crash).
	TMPDIR=$work/tmp "${lock[@]}" "$b" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/$n/artifacts/" \
		${VMN_FUZZ_ARGS:-} "$work/$n/new" ${seeds:+"$seeds"} >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/.*/cov \1, ft \2, corpus \3/p' \
		<<<"$done_line")
	problems=$(grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|check failed|descriptors open after' \
		"$log" | head -3)
	if [ $rc -ne 0 ] || [ -z "$done_line" ] || [ -n "$problems" ]; then
		failed=1
		printf '%-18s FAILED (exit %s) after %s execs; log: %s\n' \
			"fuzz_$n" "$rc" "${execs:-?}" "$log"
		[ -n "$problems" ] && sed 's/^/    /' <<<"$problems"
		for a in "$work/$n/artifacts"/*; do
			[ -e "$a" ] && echo "    input: $a (replay: $b $a)"
		done
		# The report itself: the first stack trace.
		grep -E -A12 '^==[0-9]+==ERROR|^SUMMARY|runtime error:' "$log" |
			head -24 | sed 's/^/    | /'
	else
		printf '%-18s ok: %9s execs, %7s/s, %s\n' "fuzz_$n" \
			"$execs" "$rate" "$cov"
	fi
done

if [ $failed -ne 0 ]; then
	echo "run.sh: FAILED; logs and inputs kept in $work"
	exit 1
fi
if [ "${VMN_FUZZ_KEEP:-0}" = 1 ] || [ -n "${VMN_FUZZ_WORK:-}" ]; then
	echo "run.sh: all ${#names[@]} harnesses passed; new corpus entries in $work/NAME/new"
else
	rm -rf "$work"
	echo "run.sh: all ${#names[@]} harnesses passed"
fi
