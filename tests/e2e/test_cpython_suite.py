"""CPython's own regression tests pass under mmtrace exactly as they do
without it, in GC mode and in allocation growth mode, and mmtrace's counts
for the test process equal the interpreter's own at the end of the run."""
import json
import os
import subprocess

import pytest

from conftest import DEBIAN_PY, MMTRACE, WORKLOADS, HostTrace, interpreter_or_skip, mm_triplets, row

SUITE = ["test_gc", "test_weakref", "test_dict", "test_threading"]


def summary_of(stdout):
    return [l for l in stdout.splitlines() if l.startswith(("All ", "Tests result:")) or " OK." in l
            or "skipped" in l or "failed" in l]


def regrtest(prefix=()):
    """The suite in one process (under the command prefix, e.g. an mmtrace
    -- CMD): its status, summary, pid, gc.get_stats() and arena counts."""
    r = subprocess.run(list(prefix) + [DEBIAN_PY, os.path.join(WORKLOADS, "regrtest_with_stats.py")] + SUITE,
                       capture_output=True, text=True, timeout=900)
    stats_line = [l for l in r.stderr.splitlines() if l.startswith("MMTRACE_STATS ")]
    assert stats_line, r.stderr[-3000:]
    _, pid, stats, arenas = stats_line[0].split(" ", 3)
    return r.returncode, summary_of(r.stdout), int(pid), json.loads(stats), json.loads(arenas)


def need_testsuite():
    if not os.path.isdir("/usr/lib/python3.11/test/libregrtest"):
        if os.environ.get("CI") == "true":
            pytest.fail("libpython3.11-testsuite is not installed (make test installs it)")
        pytest.skip("libpython3.11-testsuite is not installed")


def untraced_run():
    """The suite once without mmtrace. It does not depend on mmtrace's build,
    so tests/run.sh has both passes share one run through the file named by
    MMTRACE_SUITE_REFERENCE (the first pass writes it, the second reads it)."""
    ref = os.environ.get("MMTRACE_SUITE_REFERENCE")
    if ref and os.path.exists(ref):
        with open(ref) as f:
            return tuple(json.load(f))
    rc, summary, _, _, _ = regrtest()
    if ref:
        with open(ref, "w") as f:
            json.dump([rc, summary], f)
    return rc, summary


_traced = {}


def traced_run(tmp_path_factory):
    """The suite once per pass, watched at the same time by the three
    configurations under test, each its own mmtrace: system-wide in GC mode,
    system-wide with --alloc=growth, and the one-process mode with
    --alloc=growth --stacks (Debian's python3.11 through its debug file),
    which starts the suite. Each checks its own counts; the suite's result
    must equal the untraced run's. Run once, shared by the three tests."""
    if not _traced:
        folded = str(tmp_path_factory.mktemp("suite") / "suite")
        tracers = {"gc": HostTrace([], interval="1"), "growth": HostTrace(["--alloc=growth"], interval="1")}
        try:
            for mm in tracers.values():
                mm.report()     # probes and tracepoints are live
            rc, summary, pid, stats, arenas = regrtest(
                [MMTRACE, "--alloc=growth", "--stacks", "--no-usdt", "--folded", folded, "-o", "/dev/null", "--"])
            finals = {mode: mm.finish() for mode, mm in tracers.items()}
        finally:
            for mm in tracers.values():
                if mm.p.poll() is None:
                    mm.finish()
        _traced.update(rc=rc, summary=summary, pid=pid, stats=stats, arenas=arenas, finals=finals, folded=folded)
    return _traced


@pytest.mark.parametrize("mode", ["gc", "growth"])
def test_regression_suite_unchanged_under_tracing(mode, tmp_path_factory):
    need_testsuite()
    rc0, summary0 = untraced_run()
    assert rc0 == 0, summary0
    t = traced_run(tmp_path_factory)
    assert (t["rc"], t["summary"]) == (rc0, summary0)
    final, stats, arenas = t["finals"][mode], t["stats"], t["arenas"]
    p = row(final, t["pid"])
    assert p["traced_from"] == "exec" and p["exited"]
    assert mm_triplets(p) == stats, "the test process's own gc.get_stats() at the end"
    # test_threading runs subinterpreters: their collections are counted apart
    assert sum(p["gc"]["subinterpreters"]["collections"]) > 0
    assert sum(c for c, _, _ in stats) > 100, "the suite collects a lot"
    assert p["gc"]["read_errors"] == 0
    assert final["host"]["lost_events"] == 0
    if mode == "growth":
        # counted from exec: the process's whole arena history, as pymalloc reports it
        assert [p["alloc"]["arenas_allocated"], p["alloc"]["arenas_freed"]] == arenas
        assert arenas[0] > 10


# --alloc=exact traps on every allocator call (~100x here): the suite above
# would take most of an hour, so this named subset runs instead.
EXACT_SUBSET = ["test_dict"]


def test_regression_subset_unchanged_under_exact_allocation_tracing():
    """CPython 3.11's own test_dict (pyenv build: exact coverage) passes the
    same under --alloc=exact, and every allocator call was accounted."""
    exe = interpreter_or_skip("3.11")
    argv = [exe, os.path.join(WORKLOADS, "regrtest_with_stats.py")] + EXACT_SUBSET

    def summary(r):
        return [l for l in r.stdout.splitlines() if l.startswith(("Tests result:", "Result:", "All "))
                or " OK." in l]

    plain = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    traced = subprocess.run([MMTRACE, "--alloc=exact", "--json", "-o", "/dev/stderr", "60", "--"] + argv,
                            capture_output=True, text=True, timeout=900)
    assert plain.returncode == 0 and traced.returncode == 0, traced.stderr[-3000:]
    assert summary(traced) == summary(plain) and summary(plain)
    final = json.loads([l for l in traced.stderr.splitlines() if l.startswith('{"time"')][-1])
    ex = final["processes"][0]["alloc_exact"]
    assert ex["unmatched"] == 0 and ex["untracked"] == 0
    assert ex["domains"]["obj"]["coverage"] == "exact"
    assert ex["domains"]["obj"]["malloc"] > 100000, "the suite allocates a lot"
    stats = [l for l in traced.stderr.splitlines() if l.startswith("MMTRACE_STATS ")][0].split(" ", 3)
    assert mm_triplets(final["processes"][0]) == json.loads(stats[2])


def test_regression_suite_unchanged_with_stacks(tmp_path_factory):
    """The same suite in one process traced with --alloc=growth --stacks (a
    stack walked at every collection and every pool or arena taken), Debian's
    python3.11 with its debug file: the results must not change, and the
    stacks must name real frames."""
    need_testsuite()
    rc0, summary0 = untraced_run()
    t = traced_run(tmp_path_factory)
    assert (t["rc"], t["summary"]) == (rc0, summary0)
    with open(t["folded"] + ".gc-count.folded") as f:
        lines = f.read().splitlines()
    assert len(lines) > 20, "collections were attributed to many stacks"
    assert any("test_gc.py:" in l for l in lines), "test_gc's own frames trigger collections"
