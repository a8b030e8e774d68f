#!/bin/bash
# tests/fuzz/mkseeds.sh - (re)writes the seed corpora in tests/fuzz/corpus/
#
# The binary seeds come from tests/fuzz/mkseeds.c (built by build.sh, with
# the project's own encoders); the text ones are the fixtures of
# tests/config (host-netd.conf files, and their vm blocks alone for
# registrations) and tests/policy. Files of those names are rewritten;
# others (entries a campaign merged in, tests/fuzz/README.md says how) are
# left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
bin=$("$here/build.sh")
corpus=$here/corpus

mkdir -p "$corpus"
"$bin/mkseeds" "$corpus"

mkdir -p "$corpus/config" "$corpus/register" "$corpus/policy"
for f in "$src"/tests/config/*.conf; do
	cp "$f" "$corpus/config/"
done
# A registration is one vm block: the first of each good file, and a few
# that host-netd must refuse (global options, two blocks, none).
for f in "$src"/tests/config/good-*.conf; do
	awk '/^vm /{p=1} p{print} p&&/^}/{exit}' "$f" \
		>"$corpus/register/$(basename "$f")"
done
printf 'host-port 7700\nvm "x" {\n\tlink tap\n\tchannel vsock:7\n}\n' \
	>"$corpus/register/bad-global.conf"
printf 'vm "a" {\n\tlink none\n\tmode none\n\tchannel vsock:7\n}\nvm "b" {\n}\n' \
	>"$corpus/register/bad-two.conf"
printf '# nothing\n' >"$corpus/register/bad-empty.conf"
for f in "$src"/tests/policy/*.policy; do
	cp "$f" "$corpus/policy/"
done
for f in "$src"/tests/policy/*.d/*.conf; do
	cp "$f" "$corpus/policy/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# Empty files are no seeds; libFuzzer tries the empty input anyway.
find "$corpus" -type f -empty -delete
echo "$(find "$corpus" -type f | wc -l) seeds, $(du -sb "$corpus" | cut -f1) bytes in $corpus"
