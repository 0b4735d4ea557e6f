"""The DWARF cache changes how long an answer takes, never the answer.

Opening a compressed debug file costs libdw 0.15-0.3 s here, so what mmtrace
asks of it (3.14's generation_stats, the heap's offsets) is kept per file in
a cache. With no cache, with an empty one (a miss, which writes a record)
and with that record (a hit), the plan and the heap read are the same; a
record whose bytes were damaged is read as a miss and rewritten."""
import json
import os
import subprocess

import pytest

from conftest import DEBIAN_PY, MMTRACE, debian_debug_file_installed
from test_sid import SID, SID_MATRIX


def run(args, cache, **kw):
    env = dict(os.environ, MMTRACE_CACHE_DIR=cache)
    r = subprocess.run([MMTRACE] + args, capture_output=True, text=True, timeout=120, env=env, **kw)
    assert r.returncode == 0, r.stderr
    return r.stdout


def records(cache):
    return sorted(os.listdir(cache)) if os.path.isdir(cache) else []


def three_ways(args, tmp_path):
    """The output with no cache, at a miss and at a hit; the records made."""
    cache = str(tmp_path / "cache")
    none = run(args, "")
    miss = run(args, cache)
    made = records(cache)
    hit = run(args, cache)
    assert records(cache) == made, "a hit writes nothing"
    return none, miss, hit, cache, made


def test_sid_314_plan_is_the_same_from_the_cache(tmp_path):
    cell = next(c for c in SID_MATRIX if c.name == "sid-3.14")
    if cell.missing:
        pytest.skip(cell.missing)
    args = ["--probes", "--json", "--no-usdt", "--debug-dir", SID + "/usr/lib/debug", "--",
            SID + cell.exe, "-c", "1"]
    none, miss, hit, cache, made = three_ways(args, tmp_path)
    assert made, "the miss kept a record"
    assert none == miss == hit
    reason = json.loads(none)["targets"][0]["metrics"]["gc.collections"]["reason"]
    assert "generation_stats +120 (DWARF)" in reason, reason
    # damaged: every byte after the header flipped, then read again
    for name in made:
        path = os.path.join(cache, name)
        data = bytearray(open(path, "rb").read())
        for i in range(72, len(data)):
            data[i] ^= 0xff
        open(path, "wb").write(bytes(data))
    assert run(args, cache) == none


def test_heap_offsets_are_the_same_from_the_cache(tmp_path):
    if not (os.access(DEBIAN_PY, os.X_OK) and debian_debug_file_installed()):
        pytest.fail("python3.11-dbg is not installed") if os.environ.get("CI") == "true" else \
            pytest.skip("python3.11-dbg is not installed")
    p = subprocess.Popen([DEBIAN_PY, "-c", "import sys; print(1, flush=True); sys.stdin.read()"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        p.stdout.readline()
        args = ["--heap", "--json", "-p", str(p.pid), "0.1", "1"]
        outs = three_ways(args, tmp_path)[:3]
        heaps = [json.loads(o.splitlines()[0])["processes"][0]["heap"] for o in outs]
        assert "DWARF of" in heaps[0]["offsets"], heaps[0]["offsets"]
        keys = ("source", "offsets", "arenas_current", "arenas_allocated_total", "arenas_highwater")
        assert [[h[k] for k in keys] for h in heaps] == [[heaps[0][k] for k in keys]] * 3
    finally:
        p.stdin.close()
        p.wait()
