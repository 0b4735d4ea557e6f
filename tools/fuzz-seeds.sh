#!/bin/sh
# Builds the fuzz targets' seed corpora from real files on this machine:
# the fixture ELF files (symtab, stripped, debuglink, build-id, USDT,
# truncated), small real executables (pyenv launchers, coreutils), and
# real /proc maps and status lines and #! lines of installed scripts.
# Usage: tools/fuzz-seeds.sh FIXTURES_DIR OUT_DIR
set -eu
FIX=$1
OUT=$2
mkdir -p "$OUT/fuzz_elf" "$OUT/fuzz_resolve" "$OUT/fuzz_procfs"
n=0
seed_elf() {	# $1: file; only small ones, so that inputs stay fast to mutate
	[ -f "$1" ] && [ "$(stat -c %s "$1")" -le 262144 ] || return 0
	n=$((n + 1))
	cp "$1" "$OUT/fuzz_elf/seed$n"
	cp "$1" "$OUT/fuzz_resolve/seed$n"
}
for f in $(find "$FIX" -type f); do seed_elf "$f"; done
for f in /root/.pyenv/versions/3.*/bin/python3.[0-9]* /usr/bin/true /usr/bin/env; do seed_elf "$f"; done

i=0
line() {	# $1: one line of text
	i=$((i + 1))
	printf '%s\n' "$1" > "$OUT/fuzz_procfs/seed$i"
}
grep ' r-xp ' /proc/self/maps | head -20 | while IFS= read -r l; do line "$l"; done
line "7f0000000000-7f0000001000 r-xp 00000000 fe:00 123 /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 (deleted)"
line "$(grep '^NSpid:' /proc/self/status)"
line "$(printf 'NSpid:\t4242\t7\t1')"
line "#!/usr/bin/env -S python3 -u"
line "#!/usr/bin/python3.11"
for f in /usr/bin/*; do
	[ -f "$f" ] && head -c 2 "$f" 2>/dev/null | grep -q '#!' && line "$(head -n 1 "$f")"
	[ "$i" -ge 60 ] && break
done
line "0.25"
line "-3"
