"""--pprof: the stacks of one run written as a gzipped profile.proto and
read back by its real consumer, `go tool pprof -raw`, against the folded
files of the same run: every stack's weight per metric, the labels, and the
function, file and line the interpreter's dis module gives."""
import json
import os
import re
import shutil
import subprocess
from collections import defaultdict

import pytest

from conftest import MATRIX, MMTRACE, WORKLOADS, require
from test_stacks import parse_folded

WORKLOAD = os.path.join(WORKLOADS, "stacks_workload.py")
CELLS = [c for c in MATRIX if c.name in ("pyenv-3.12", "debian-3.11-dbg")]
# folded metric -> the sample type that holds the same weights
SAME_WEIGHTS = {"gc-count": "gc_collections", "gc-pause-ns": "gc_pause", "growth-bytes": "growth_space",
                "arena-bytes": "arena_space"}
# -raw prints "name file:line": qualnames hold no space, markers are [...]
LOCATION = re.compile(r"^\s*(?P<id>\d+): 0x[0-9a-f]+ M=\d+ (?P<name>\[[^\]]*\]|\S+) (?P<file>.*):(?P<line>-?\d+) "
                      r"s=\d+")
SAMPLE = re.compile(r"^\s*(?P<values>-?\d+(?: +-?\d+)*):(?P<locs>(?: \d+)*) *$")
LABEL = re.compile(r"(\w+):\[([^\]]*)\]")


@pytest.fixture(params=CELLS, ids=[c.name for c in CELLS])
def cell(request):
    require(request.param)
    return request.param


def go_pprof(*args):
    go = shutil.which("go")
    if not go:
        why = "go tool pprof is not installed (tools/install-deps.sh installs golang-go)"
        if os.environ.get("CI") == "true":
            pytest.fail("the consumer is missing under CI: " + why)
        pytest.skip(why)
    r = subprocess.run([go, "tool", "pprof"] + list(args), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def parse_raw(text):
    """go tool pprof -raw -> (sample types, [(values, [frame text, leaf last], labels)])."""
    lines = text.splitlines()
    types = lines[lines.index("Samples:") + 1].split()
    types = [t.split("/")[0] for t in types]
    locations = {}
    for line in lines[lines.index("Locations") + 1:]:
        m = LOCATION.match(line)
        if not m:
            break
        name, file, no = m.group("name"), m.group("file"), int(m.group("line"))
        # as symbolize.c writes a frame: markers have no file, a frame without line none
        locations[m.group("id")] = (name if not file else "%s (%s:%d)" % (name, file, no) if no else
                                    "%s (%s)" % (name, file))
    samples = []
    for line in lines[lines.index("Samples:") + 2:lines.index("Locations")]:
        m = SAMPLE.match(line)
        if m:
            frames = [locations[i] for i in m.group("locs").split()][::-1]
            samples.append(([int(v) for v in m.group("values").split()], frames, {}))
        elif line.strip():
            samples[-1][2].update(LABEL.findall(line))
    return [t.replace("[dflt]", "") for t in types], samples


def run(cell, tmp_path):
    prefix, profile = str(tmp_path / "out"), str(tmp_path / "out.pb.gz")
    r = subprocess.run([MMTRACE, "--alloc=growth", "--stacks", "--json", "--folded", prefix, "--pprof", profile] +
                       cell.extra_args + ["--", cell.exe, WORKLOAD, "grow"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads([l for l in r.stderr.splitlines() if l.startswith("INFO ")][0][5:])
    proc = json.loads(r.stdout.splitlines()[-1])["processes"][0]
    folded = {}
    for metric in SAME_WEIGHTS:
        with open("%s.%s.folded" % (prefix, metric)) as f:
            folded[metric] = parse_folded(f.read())
    with open(profile, "rb") as f:
        assert f.read(2) == b"\x1f\x8b", "gzipped"
    return info, proc, folded, parse_raw(go_pprof("-raw", profile))


def no_line_zero(frame):
    """pprof's line 0 is "no line": a frame at line 0 (a module's first
    instruction) reads as one without line."""
    return re.sub(r":0\)$", ")", frame)


def weights(types, samples, sample_type):
    """Per stack, as the folded files key them (GC: the generation first)."""
    out = defaultdict(int)
    i = types.index(sample_type)
    for values, frames, labels in samples:
        if values[i]:
            gen = ["gen" + labels["gc_generation"]] if "gc_generation" in labels else []
            out[tuple(gen + frames)] += values[i]
    return dict(out)


def test_pprof_equals_folded(cell, tmp_path):
    info, proc, folded, (types, samples) = run(cell, tmp_path)
    pools = "arena_space" in types
    assert types == ["gc_collections", "gc_pause"] + (["arena_events", "arena_space"] if pools else []) + \
        ["growth_events", "growth_space"], "only what the run recorded, the growth bytes last (the default)"
    if not pools:   # growth is counted in arenas: the same stacks as arena-bytes
        assert folded["arena-bytes"] == folded["growth-bytes"]
    for metric, sample_type in SAME_WEIGHTS.items():
        if sample_type in types:
            want = defaultdict(int)
            for frames, w in folded[metric]:
                want[tuple(no_line_zero(f) for f in frames)] += w
            assert weights(types, samples, sample_type) == dict(want), metric
    for values, _, labels in samples:
        assert labels["pid"] == str(proc["pid"]) and labels["comm"] == proc["comm"], labels
        assert ("gc_generation" in labels) == bool(values[types.index("gc_collections")]), (values, labels)
        for kind in ("growth", "arena") if pools else ("growth",):
            assert bool(values[types.index(kind + "_events")]) == bool(values[types.index(kind + "_space")])
    # the allocating line, as dis gives it, holds the growth
    where = "grow_heap_here (%s:%d)" % (info["file"], info["lines"]["grow_heap_here"])
    growth = weights(types, samples, "growth_space")
    assert sum(w for s, w in growth.items() if where in s) >= 0.9 * sum(growth.values()), where


def test_pprof_options(tmp_path):
    cell = CELLS[0]
    require(cell)
    bad = subprocess.run([MMTRACE, "--pprof", str(tmp_path / "x.pb.gz"), "-p", "1"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--stacks" in bad.stderr, bad.stderr
    unwritable = str(tmp_path / "missing-dir" / "x.pb.gz")
    r = subprocess.run([MMTRACE, "--stacks", "--pprof", unwritable, "--", cell.exe, "-c", "pass"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "mmtrace: cannot write %s: No such file or directory" % unwritable
    # the folded files likewise: said on stderr, not only in the exit code
    unwritable = str(tmp_path / "missing-dir" / "out")
    r = subprocess.run([MMTRACE, "--stacks", "--folded", unwritable, "--", cell.exe, "-c", "pass"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("mmtrace: cannot write %s." % unwritable), r.stderr
