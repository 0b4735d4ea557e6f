#!/bin/sh
# Builds the fuzz targets' seed corpora from real files on this machine:
# the fixture ELF files (symtab, stripped, debuglink, build-id, USDT,
# truncated), small real executables (pyenv launchers, coreutils), and
# real /proc maps and status lines and #! lines of installed scripts.
# Usage: tools/fuzz-seeds.sh FIXTURES_DIR OUT_DIR
set -eu
FIX=$1
OUT=$2
mkdir -p "$OUT/fuzz_elf" "$OUT/fuzz_resolve" "$OUT/fuzz_procfs" "$OUT/fuzz_heap" "$OUT/fuzz_stacks"
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

# fuzz_heap: layout choice bytes, then a small image whose words point back
# into it (arena table, pool headers), as a live heap's do
python3 - "$OUT/fuzz_heap" <<'PY'
import os, struct, sys
out = sys.argv[1]
base = 0x10000000
for i, cfg in enumerate((bytes([0, 64, 1, 0, 0, 128, 136, 144, 152, 160]),
                         bytes([7, 64, 1, 0, 0, 128, 0, 0, 0, 0]))):
    img = bytearray(cfg) + bytearray(4096 * 4)
    struct.pack_into("<QQ", img, 64 + 24, 0, 0)
    struct.pack_into("<ii", img, 64 + 12, 1, 0)
    struct.pack_into("<Q", img, 128, base + 256)     # arenas -> table at 256
    struct.pack_into("<I", img, 136, 2)               # maxarenas
    struct.pack_into("<QQQ", img, 144, 1, 3, 2)       # current, total, highwater
    struct.pack_into("<QQII", img, 256, base + 4096, base + 4096 * 3, 1, 3)
    struct.pack_into("<II", img, 4096, 5, 0)          # a pool: 5 blocks
    struct.pack_into("<II", img, 4096 + 36, 2, 0)     # of size class 2
    open(os.path.join(out, "seed%d" % i), "wb").write(bytes(img))
PY
grep -h '' /proc/self/smaps_rollup > "$OUT/fuzz_procfs/rollup" 2>/dev/null || true
grep -v ' r-xp ' /proc/self/maps | head -10 | while IFS= read -r l; do line "$l"; done

# fuzz_stacks: real line tables of this machine's interpreters, as raw bytes
for py in /root/.pyenv/versions/3.*/bin/python3.[0-9]*; do
	[ -x "$py" ] || continue
	"$py" - "$OUT/fuzz_stacks" <<'PY' 2>/dev/null || true
import os, sys
def f(x):
    y = [i * 2 for i in range(x)]
    return sum(y)
c = f.__code__
table = getattr(c, "co_linetable", None) or c.co_lnotab
name = "seed-%d.%d" % sys.version_info[:2]
open(os.path.join(sys.argv[1], name), "wb").write(bytes([3, 2]) + table)
PY
done

# fuzz_pyoffsets: the minor byte (3.12 + byte % 5), then the real
# _Py_DebugOffsets (the start of .PyRuntime) of each 3.13+ on this machine
mkdir -p "$OUT/fuzz_pyoffsets"
j=0
for py in /root/.pyenv/versions/3.1[3-9]*/lib/libpython3.1[3-9].so.1.0 /var/lib/mmtrace/sid/usr/bin/python3.1[3-9]; do
	[ -f "$py" ] || continue
	minor=$(basename "$py" | sed -n 's/.*python3\.\([0-9]*\).*/\1/p')
	off=$(readelf -S -W "$py" 2>/dev/null | sed -n 's/.*\] \.PyRuntime *PROGBITS *[0-9a-f]* \([0-9a-f]*\) .*/\1/p')
	[ -n "$minor" ] && [ -n "$off" ] || continue
	j=$((j + 1))
	{ printf "$(printf '\\%03o' $((minor - 12)))"; tail -c +$((0x$off + 1)) "$py" | head -c 1024; } \
		> "$OUT/fuzz_pyoffsets/seed$j"
done

# fuzz_gcpoll: a 3.12-shaped and a 3.15-shaped memory image (the plan byte,
# then memory from 0x10000: _PyRuntime -> interp -> stats or a ring block)
mkdir -p "$OUT/fuzz_gcpoll"
python3 - "$OUT/fuzz_gcpoll" <<'PY'
import os, struct, sys
base = 0x10000
for name, plan, ring in (("inline", 0, False), ("ring", 0x81, True)):
    mem = bytearray(0x3000)
    struct.pack_into("<Q", mem, 40, base + 0x1000)            # _PyRuntime +40 -> interp
    if ring:
        struct.pack_into("<Q", mem, 0x1000 + 200, base + 0x2000)  # interp +200 -> gc_stats
        for buf, n, idx in ((0, 11, 3), (712, 3, 1), (912, 3, 2)):
            mem[0x2000 + buf + n * 64] = idx
            struct.pack_into("<qqqqd", mem, 0x2000 + buf + idx * 64 + 16, 5, 6, 7, 8, 0.5)
    else:
        struct.pack_into("<9q", mem, 0x1000 + 200, *range(1, 10))
    open(os.path.join(sys.argv[1], "seed-" + name), "wb").write(bytes([plan]) + mem)
PY

# fuzz_insn: the flag byte, then the first instructions of the functions
# mmtrace probes (push, mov, test, sub, endbr64, nops, branches)
mkdir -p "$OUT/fuzz_insn"
i=0
for code in '\x41\x57\x41\x56' '\x48\x8b\x05\x19\x48\x37\x00' '\x48\x85\xff\x78\x18' \
	'\x48\x83\xec\x08' '\xf3\x0f\x1e\xfa\x55' '\x0f\x1f\x44\x00\x00' '\x66\x0f\x1f\x44\x00\x00' \
	'\x90' '\xe9\x00\x00\x00\x00' '\x0f\x84\x10\x00\x00\x00' '\x66\xe8\x00\x00' '\xff\x60\x30'; do
	for flag in '\x00' '\x01'; do
		i=$((i + 1))
		printf "$flag$code" > "$OUT/fuzz_insn/seed$i"
	done
done
