"""--alloc=exact on Debian sid's interpreters (3.13, 3.14, 3.15), chrooted
in the sid root as a container would. Their builds are LTO, like Debian's
3.11: the exported allocator functions see only the calls left out of
line, so every domain is labelled partial, never exact; with the debug
file in the root, deallocations of Python classes are counted through
subtype_dealloc, and they equal the workload's own count exactly.
"""
import os
import shutil
import tempfile

from conftest import WORKLOADS
from test_alloc_exact import N, run_window, types_of
from test_sid import SID, sid  # noqa: F401 (the fixture: the sid-3.x cells, require()'d)


def test_sid_exact_is_partial_and_counts_python_classes(sid):  # noqa: F811
    d = tempfile.mkdtemp(prefix="mmtrace-test-", dir=os.path.join(SID, "tmp"))
    try:
        shutil.copy(os.path.join(WORKLOADS, "exact_workload.py"), d)
        # chroot execs: the child's pid is the interpreter's
        ex, _ = run_window(sid, ["chroot", SID, sid.exe, os.path.join(d[len(SID):], "exact_workload.py"), str(N)])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for dom in ("raw", "mem", "obj"):
        assert ex["domains"][dom]["coverage"] == "partial", ex["domains"][dom]
    assert ex["types_coverage"] == "partial"
    types = types_of(ex)
    assert types["MmtraceUniqueZebra"]["deallocs"] == N
    assert "float" not in types, "built-in types are not claimed"
