#!/bin/bash
# tests/lint/cppcheck.sh - static analysis of every C file, as a test
#
# Warnings, portability and performance checks; any finding fails. A
# finding that is wrong gets an inline "// cppcheck-suppress id" with the
# reason next to it, never a global suppression here.
set -u
src=${VMN_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v cppcheck >/dev/null || { echo "skipped: cppcheck not installed"; exit 77; }
# cppcheck does not read system headers; it needs sys/queue.h's macros.
queue_h=$(echo '#include <sys/queue.h>' | cpp -H -o /dev/null 2>&1 |
	awk '/queue\.h/ { print $2; exit }')
cd "$src"
exec cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
	--enable=warning,portability,performance \
	--suppress=missingIncludeSystem -D__linux__ \
	-I common -I host-netd -I guest-netd -I dns-tunnel -I portfwd -I vm \
	-I mirrored -I policy \
	${queue_h:+--include="$queue_h"} \
	common dns-tunnel guest-netd host-netd mirrored netctl policy portfwd vm \
	tests/tools
