"""--alloc=growth on Debian sid's interpreters (3.13, 3.14, 3.15), chrooted
in the sid root as a container would: their growth functions
(_PyMem_ArenaAlloc/_PyMem_ArenaFree, allocate_from_new_pool's LTO clone)
come from the build-id debug file inside the root. Arenas taken and given
back, and pools taken for the workload's own size class, equal what
sys._debugmallocstats() reports (the same check as test_gc_truth's cells).
Without the debug file (--debug-dir to nowhere, as in a slim image) the
arenas are counted at the process's mmap/munmap calls, equal just the same,
and pools are unavailable, the plan naming the package that has them.
"""
import os
import shutil
import tempfile

from conftest import NO_DEBUG_DIR, WORKLOADS
from test_gc_truth import check_growth
from test_sid import SID, sid  # noqa: F401 (the fixture: the sid-3.x cells, require()'d)


def run_growth(sid, extra_args=(), **kw):
    d = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    try:
        for name in ("growth_workload.py", "gc_workload.py"):
            shutil.copy(os.path.join(WORKLOADS, name), d)
        inroot = d[len(SID):]
        # chroot execs: the child's pid is the interpreter's
        check_growth(["chroot", SID, sid.exe, os.path.join(inroot, "growth_workload.py")],
                     os.path.join(d, "go"), os.path.join(inroot, "go"), list(extra_args), **kw)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sid_growth_equals_debugmallocstats(sid):  # noqa: F811
    run_growth(sid)


def test_sid_growth_without_debug_file_counts_arenas_by_mmap(sid):  # noqa: F811
    """As in a slim image: the growth functions' symbols are nowhere, so the
    arenas are counted at the process's own 1 MiB mmap/munmap calls (still
    equal to sys._debugmallocstats()), and pools are unavailable, the plan
    naming the package that has them."""
    minor = sid.version.rsplit(".", 1)[0]
    run_growth(sid, ["--debug-dir", NO_DEBUG_DIR], pools="python%s-dbg" % minor, by_mmap=True)
