#!/bin/bash
# tests/build.sh - install dependencies and build vmnetd out of tree
#
#   tests/build.sh [BUILDDIR [configure options...]]
#
# BUILDDIR defaults to build/ in the source tree. Prints the build dir.
set -euo pipefail
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
    [ "$*" != "$(cat .vmn-configure-args 2>/dev/null)" ]; then
	"$src/configure" -q "$@"
	echo "$*" >.vmn-configure-args
fi
make -j"$(nproc)" >/dev/null
echo "$builddir"
