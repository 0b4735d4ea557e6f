"""Python stacks walked in BPF and named in user space, against the
interpreter's own view: functions at the lines its dis module gives, heap
growth and collection triggers attributed to the code that caused them, per
thread. The folded output is parsed back for its format."""
import json
import os
import re
import subprocess
from collections import defaultdict

import pytest

from conftest import MMTRACE, WORKLOADS, Traced, stop

WORKLOAD = os.path.join(WORKLOADS, "stacks_workload.py")
FOLDED_LINE = re.compile(r"^(?P<stack>[^\n]+) (?P<weight>[1-9][0-9]*)$")


def run(interp, mode, tmp_path, extra=()):
    prefix = str(tmp_path / ("out-" + mode))
    r = subprocess.run([MMTRACE, "--alloc=growth", "--stacks", "--json", "--folded", prefix] + list(extra) +
                       interp.extra_args + ["--", interp.exe, WORKLOAD, mode],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads([l for l in r.stderr.splitlines() if l.startswith("INFO ")][0][5:])
    final = json.loads(r.stdout.splitlines()[-1])
    folded = {}
    for metric in ("gc-count", "gc-pause-ns", "growth-bytes", "arena-bytes"):
        with open("%s.%s.folded" % (prefix, metric)) as f:
            folded[metric] = parse_folded(f.read())
    return info, final["processes"][0], folded


def parse_folded(text):
    """[(frames, weight)]; every line must be 'frame;frame;... weight'."""
    out = []
    for line in text.splitlines():
        m = FOLDED_LINE.match(line)
        assert m, "not a collapsed-stack line: %r" % line
        frames = m.group("stack").split(";")
        assert all(frames), line
        out.append((frames, int(m.group("weight"))))
    return out


def frame_name(frame):
    return frame.split(" (", 1)[0]


def growth_available(interp):
    return interp.name != "debian-3.11"     # stripped: no growth probe (see --alloc=growth)


def test_growth_attributed_to_its_line(interp, tmp_path):
    info, proc, folded = run(interp, "grow", tmp_path)
    growth = folded["growth-bytes"]
    if not growth_available(interp):
        assert growth == [] and proc["stacks"]["growth-bytes"] == []
        return
    where = "grow_heap_here (%s:%d)" % (info["file"], info["lines"]["grow_heap_here"])
    total = sum(w for _, w in growth)
    mine = sum(w for frames, w in growth if where in frames)
    assert total >= 90 << 20, "the workload grew the heap by ~100 MB"
    assert mine >= 0.9 * total, (where, mine, total, sorted(growth, key=lambda x: -x[1])[:3])
    # outermost first: the module, then main's call, then grow_heap_here
    heaviest = max(growth, key=lambda x: x[1])[0]
    assert frame_name(heaviest[0]) == "<module>" and where in heaviest
    s = proc["stacks"]
    assert s["symbol_cache_hits"] > s["symbol_cache_misses"] > 0


def test_threads_attributed_to_their_own_stacks(interp, tmp_path):
    if not growth_available(interp):
        pytest.skip("growth stacks need the growth probes, which Debian's stripped build hides "
                    "(the debian-3.11-dbg cell runs this)")
    info, proc, _ = run(interp, "threads", tmp_path)
    tids = info["tids"]
    seen = defaultdict(int)
    for entry in proc["stacks"]["growth-bytes"]:
        names = {frame_name(f) for f in entry["frames"]}
        for who in ("alpha", "beta"):
            if "alloc_in_thread_" + who in names:
                assert entry["tid"] == tids[who], (who, entry, tids)
                assert "alloc_in_thread_" + ("beta" if who == "alpha" else "alpha") not in names
                seen[who] += entry["weight"]
    assert seen["alpha"] >= 10 << 20 and seen["beta"] >= 10 << 20, seen


def test_gc_trigger_is_the_cycle_maker(interp, tmp_path):
    info, proc, folded = run(interp, "cycles", tmp_path)
    by_function = defaultdict(int)
    for frames, weight in folded["gc-count"]:
        if frames[0] == "gen0":
            by_function[frame_name(frames[-1])] += weight
    top = max(by_function, key=by_function.get)
    assert top == "make_cycles_here", dict(by_function)
    assert by_function["make_cycles_here"] >= 10     # 3.13: a threshold of 2000
    # the pause metric has the same stacks, weighted by time
    pauses = {tuple(f) for f, _ in folded["gc-pause-ns"]}
    assert {tuple(f) for f, _ in folded["gc-count"]} == pauses


def test_folded_metric_choice_and_bad_input(interp, tmp_path):
    path = str(tmp_path / "only.folded")
    r = subprocess.run([MMTRACE, "--stacks", "--folded", path, "--folded-metric", "gc-count"] + interp.extra_args +
                       ["--", interp.exe, "-c", "import gc; gc.collect()"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = parse_folded(open(path).read())
    assert lines and all(f[0].startswith("gen") for f, _ in lines)
    bad = subprocess.run([MMTRACE, "--folded-metric", "bytes", "--folded", path, "-p", "1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid --folded-metric" in bad.stderr
    bad = subprocess.run([MMTRACE, "--stack-depth", "500", "--stacks", "-p", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid --stack-depth" in bad.stderr
    bad = subprocess.run([MMTRACE, "--stacks", "--sample-bytes", "4096", "-p", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--sample-bytes goes with --alloc=exact" in bad.stderr


def test_sampled_allocation_stacks(interp, tmp_path):
    """--alloc=exact with stacks: one stack per --sample-bytes a thread
    requests, weighted by those bytes. Attached while the workload is
    stopped after start-up, so the window is grow_heap_here's."""
    if interp.name.startswith("debian"):
        pytest.skip("the exact level is partial on Debian's LTO build (see test_alloc_exact.py): "
                    "sampled stacks are checked on the builds where it is exact")
    import signal
    import time
    prefix = str(tmp_path / "sampled")
    mm = None
    wl = subprocess.Popen([interp.exe, WORKLOAD, "sample"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while open("/proc/%d/stat" % wl.pid).read().rsplit(")", 1)[1].split()[0] != "T":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        mm = Traced(["--alloc=exact", "--folded", prefix, "--sample-bytes", "65536", "--json", "-p", str(wl.pid),
                     "0.2"])
        assert mm.report()["processes"], "attached"
        os.kill(wl.pid, signal.SIGCONT)
        _, err = wl.communicate(timeout=300)
        assert mm.wait() == 0, "".join(mm.stderr)
        final = mm.final()["processes"][0]
    finally:
        if wl.poll() is None:
            wl.kill()
            wl.wait()
        if mm:
            stop(mm.p)
    info = json.loads([l for l in err.decode().splitlines() if l.startswith("INFO ")][0][5:])
    where = "grow_heap_here (%s:%d)" % (info["file"], info["lines"]["grow_heap_here"])
    with open(prefix + ".alloc-bytes.folded") as f:
        sampled = parse_folded(f.read())
    total = sum(w for _, w in sampled)
    mine = sum(w for frames, w in sampled if where in frames)
    requested = sum(final["alloc_exact"]["domains"][d]["bytes_requested"] for d in ("raw", "mem", "obj"))
    assert 5 << 20 <= total <= requested, (total, requested)
    assert requested - total < 65536 * 8, "each thread holds less than one sample back"
    assert mine >= 0.9 * total, (where, mine, total, sorted(sampled, key=lambda x: -x[1])[:2])
