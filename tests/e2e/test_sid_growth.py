"""--alloc=growth on Debian sid's interpreters (3.13, 3.14, 3.15), chrooted
in the sid root as a container would: their growth functions
(_PyMem_ArenaAlloc/_PyMem_ArenaFree, allocate_from_new_pool's LTO clone)
come from the build-id debug file inside the root. Arenas taken and given
back, and pools taken for the workload's own size class, equal what
sys._debugmallocstats() reports (the same check as test_gc_truth's cells).
Without the debug file (--debug-dir to nowhere, as in a slim image) growth
is unavailable and the plan names the package that has it.
"""
import json
import os
import shutil
import subprocess
import tempfile

from conftest import NO_DEBUG_DIR, WORKLOADS, run_mmtrace
from test_gc_truth import check_growth
from test_sid import SID, sid  # noqa: F401 (the fixture: the sid-3.x cells, require()'d)


def test_sid_growth_equals_debugmallocstats(sid):  # noqa: F811
    d = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    try:
        for name in ("growth_workload.py", "gc_workload.py"):
            shutil.copy(os.path.join(WORKLOADS, name), d)
        inroot = d[len(SID):]
        # chroot execs: the child's pid is the interpreter's
        check_growth(["chroot", SID, sid.exe, os.path.join(inroot, "growth_workload.py")],
                     os.path.join(d, "go"), os.path.join(inroot, "go"), [])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sid_growth_without_debug_file_is_unavailable(sid):  # noqa: F811
    minor = sid.version.rsplit(".", 1)[0]
    p = subprocess.Popen(["chroot", SID, sid.exe, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "up\n"
        r = run_mmtrace(["--probes", "--json", "--alloc=growth", "--debug-dir", NO_DEBUG_DIR, "-p", str(p.pid)])
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    metrics = (plan["targets"][0] if "targets" in plan else plan)["metrics"]
    for m in ("alloc.arenas", "alloc.pools"):
        assert metrics[m]["coverage"] == "unavailable", metrics[m]
        assert "python%s-dbg" % minor in metrics[m]["reason"], metrics[m]
