#!/bin/sh
# Makes the throwaway-root base of the package test when it is missing: a
# Debian bookworm minbase root (the release the .deb is built on) with the
# package's runtime libraries. The test installs the .deb into an overlay
# over it, in a private mount namespace, so this root itself never changes.
# Idempotent: a root that is complete, with these libraries, is left as it
# is (its marker holds the list: a new runtime library makes it again).
#   tools/make-deb-root.sh [DIR]      (default /var/lib/mmtrace/deb-root, the test's path)
set -eu
ROOT=${1:-/var/lib/mmtrace/deb-root}
LIBS="libbpf1,libelf1,libdw1,zlib1g,libprotobuf-c1"
DONE="$ROOT/.mmtrace-complete"

complete() { [ -f "$DONE" ] && [ "$(cat "$DONE")" = "$LIBS" ]; }
complete && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "make-deb-root: $ROOT is missing (run as root to make it)" >&2
	exit 1
fi
# one maker at a time (test runs of other worktrees share the root)
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
complete && exit 0
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*debian\)\/* .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || { echo "make-deb-root: no Debian mirror in the apt sources" >&2; exit 1; }
# a root left half-made by an interrupted run is made again
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "make-deb-root: debootstrap bookworm into $ROOT from $mirror"
debootstrap --variant=minbase --include="$LIBS" bookworm "$ROOT" "$mirror" >"$ROOT.log" 2>&1 ||
	{ tail -20 "$ROOT.log" >&2; exit 1; }
chroot "$ROOT" /usr/bin/apt-get clean
echo "$LIBS" >"$DONE"
