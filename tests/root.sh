# tests/root.sh - sourced by the scripts a user runs by hand: become root
#
# The README's commands must work for root (a fresh Debian 12 machine has
# no sudo) and for a sudoer, so a script run by someone else asks sudo for
# itself, with the same arguments.
become_root() {
	[ "$(id -u)" = 0 ] && return 0
	if ! command -v sudo >/dev/null; then
		echo "$(basename "$0"): needs root: run it as root (sudo is not installed)" >&2
		exit 1
	fi
	exec sudo -- "$0" "$@"
}
