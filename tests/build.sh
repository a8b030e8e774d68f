#!/bin/bash
# tests/build.sh - install dependencies and build vmnetd out of tree
#
#   tests/build.sh [BUILDDIR [configure options...]]
#
# BUILDDIR defaults to build/ in the source tree. Without configure options
# a build dir already configured keeps its options (so the demo after
# tests/check.sh reuses its -Werror build); with them it is reconfigured,
# and rebuilt from scratch, when they change. The build dir is the only thing printed on stdout:
# callers take it with $(...), so all progress goes to stderr.
set -euo pipefail
exec 3>&1 1>&2
src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-$src/build}
shift || true
"$src/tests/deps.sh"
cd "$src"
[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] ||
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p "$builddir"
cd "$builddir"
if [ ! -f Makefile ] || [ "$src/configure" -nt config.status ] ||
    { [ $# -gt 0 ] && [ "$*" != "$(cat .vmn-configure-args 2>/dev/null)" ]; }; then
	[ $# -gt 0 ] || [ ! -f .vmn-configure-args ] ||
		set -- $(cat .vmn-configure-args)
	"$src/configure" -q "$@"
	# make does not see changed flags (paths, -Werror, sanitizers).
	[ "$*" = "$(cat .vmn-configure-args 2>/dev/null)" ] || make clean >/dev/null
	echo "$*" >.vmn-configure-args
fi
make -j"$(nproc)" >/dev/null
echo "$builddir" >&3
