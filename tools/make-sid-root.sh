#!/bin/sh
# Makes the Debian sid root of the test matrix when it is missing: the
# current CPythons (python3.13, 3.14, 3.15) with their -dbg packages, run in
# their own root the way a container runs them. Idempotent: a root that is
# complete is left as it is. Uses the Debian mirror the machine's apt
# sources already name.
#   tools/make-sid-root.sh [DIR]      (default /var/lib/mmtrace/sid, the tests' path)
set -eu
ROOT=${1:-/var/lib/mmtrace/sid}
PYS="python3.13 python3.14 python3.15"
DONE="$ROOT/.mmtrace-complete"

[ -f "$DONE" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "make-sid-root: $ROOT is missing (run as root to make it)" >&2
	exit 1
fi
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*debian\)\/* .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || { echo "make-sid-root: no Debian mirror in the apt sources" >&2; exit 1; }
command -v debootstrap >/dev/null || {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
# a root left half-made by an interrupted run is made again
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "make-sid-root: debootstrap sid into $ROOT from $mirror"
include=$(echo "$PYS" | tr ' ' ',')
debootstrap --variant=minbase --include="$include" sid "$ROOT" "$mirror" >"$ROOT.log" 2>&1 ||
	{ tail -20 "$ROOT.log" >&2; exit 1; }
dbg=""
for p in $PYS; do dbg="$dbg $p-dbg"; done
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $dbg \
	>>"$ROOT.log" 2>&1 || { tail -20 "$ROOT.log" >&2; exit 1; }
chroot "$ROOT" /usr/bin/apt-get clean
touch "$DONE"
echo "make-sid-root: $(for p in $PYS; do chroot "$ROOT" /usr/bin/$p -c 'import platform; print(platform.python_version(), end=" ")'; done)"
