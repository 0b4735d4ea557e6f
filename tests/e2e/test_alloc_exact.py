"""--alloc=exact against the interpreter's own accounting.

The workload stops itself at checkpoints A and B right after reading
sys.getallocatedblocks() (see exact_workload.py); mmtrace attaches while it
is stopped at A and is read while it is stopped at B. Over that window the
net pymalloc blocks mmtrace counts equal the change the interpreter reports,
with no tolerance.
"""
import json
import os
import signal
import subprocess
import time

from conftest import MMTRACE, WORKLOADS, DEBIAN_PY, interpreter_or_skip, run_mmtrace, stop

WORKLOAD = os.path.join(WORKLOADS, "exact_workload.py")
N = 2000
TOP_CLASS = 31          # 497..512-byte requests: the workload's bytes(479)
BIG = 2033              # bytes(2000): an obj request served by raw
NBIG = 50


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_stopped(p, timeout=60):
    deadline = time.monotonic() + timeout
    while process_state(p.pid) != "T":
        assert p.poll() is None, "workload ended early"
        assert time.monotonic() < deadline, "workload did not reach its checkpoint"
        time.sleep(0.01)


def run_window(interp, argv=None):
    """(final alloc_exact JSON, interpreter's marks) over the A..B window;
    argv: how to run the workload, when not interp.exe WORKLOAD N."""
    wl = subprocess.Popen(argv or [interp.exe, WORKLOAD, str(N)], stderr=subprocess.PIPE)
    mm = None
    try:
        wait_stopped(wl)                        # W
        os.kill(wl.pid, signal.SIGCONT)
        time.sleep(0.05)
        wait_stopped(wl)                        # A
        mm = subprocess.Popen([MMTRACE, "--json", "--alloc=exact", "-p", str(wl.pid), "0.2"] + interp.extra_args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert json.loads(mm.stdout.readline())["processes"], "attached"
        os.kill(wl.pid, signal.SIGCONT)
        time.sleep(0.05)
        wait_stopped(wl)                        # B
        mm.send_signal(signal.SIGINT)
        out, err = mm.communicate(timeout=60)
        assert mm.returncode == 0, err
        assert "--alloc=exact traps on every allocator call" in err, "the cost is said up front"
        final = json.loads(out.splitlines()[-1])
        assert final["final"]
        os.kill(wl.pid, signal.SIGCONT)
        _, werr = wl.communicate(timeout=60)
        line = [l for l in werr.decode().splitlines() if l.startswith("MARKS ")][0]
        return final["processes"][0]["alloc_exact"], json.loads(line[6:])
    finally:
        if mm:
            stop(mm)
        if wl.poll() is None:
            wl.kill()
            os.kill(wl.pid, signal.SIGCONT) if wl.poll() is None else None
            wl.wait()


def types_of(ex):
    return {t["name"]: t for t in ex["types"]}


def test_exact_window_equals_getallocatedblocks(interp):
    ex, marks = run_window(interp)
    dom = ex["domains"]
    assert ex["unmatched"] == 0 and ex["untracked"] == 0
    if interp.name.startswith("debian"):
        check_debian(interp, ex)
        return
    for d in ("raw", "mem", "obj"):
        assert dom[d]["coverage"] == "exact", dom[d]
    # net pymalloc blocks (obj + mem domains) over the window: no tolerance
    assert ex["pymalloc_net_blocks"] == marks["b"] - marks["a"]
    obj = dom["obj"]
    # the N bytes objects, and nothing else, asked for the top size class
    assert obj["size_class_requests"][TOP_CLASS] == N
    assert obj["size_hist_log2_bytes"][9] >= N       # 512 bytes: the [512, 1024) bucket
    # requests over 512 bytes fall back to raw: counted once, in obj
    assert obj["fallback_calls"] >= NBIG and obj["fallback_bytes"] >= NBIG * BIG
    assert dom["raw"]["bytes_requested"] < NBIG * BIG, "fallbacks counted again under raw"
    # every block freed with a known size has a lifetime
    assert sum(ex["lifetime_hist_log2_ns"]) == obj["blocks_freed"] - obj["freed_unknown_size"]
    check_types(interp, ex)


def check_types(interp, ex):
    types = types_of(ex)
    zebra = types["MmtraceUniqueZebra"]
    assert zebra["deallocs"] == N and zebra["weakref_clears"] == N
    assert zebra["allocs"] == N, "PyType_GenericAlloc made every instance"
    for name in ("float", "list", "dict"):
        assert types[name]["deallocs"] >= N, (name, types.get(name))
    assert ex["types_coverage"] == ("exact" if interp.name in ("pyenv-3.8", "pyenv-3.9", "pyenv-3.10") else "partial")


def check_debian(interp, ex):
    """LTO inlined the allocator: the counts are labelled partial, and the
    debug file adds exact per-type counts for Python classes."""
    for d in ("raw", "mem", "obj"):
        assert ex["domains"][d]["coverage"] == "partial"
    plan = json.loads(run_mmtrace(["--probes", "--json", "--alloc=exact"] + interp.extra_args +
                                  ["--", DEBIAN_PY, "-c", "pass"]).stdout)["targets"][0]["metrics"]
    if interp.name == "debian-3.11":
        assert "install python3.11-dbg" in plan["alloc.obj"]["reason"]
        assert plan["alloc.types"]["coverage"] == "unavailable"
        assert all(t["deallocs"] == 0 for t in ex["types"]), "no deallocation is claimed"
        assert plan["alloc.type_allocs"]["coverage"] == "partial"
        return
    assert "LTO build" in plan["alloc.obj"]["reason"]
    assert plan["alloc.types"]["coverage"] == "partial" and "Python classes only" in plan["alloc.types"]["reason"]
    types = types_of(ex)
    assert types["MmtraceUniqueZebra"]["deallocs"] == N
    assert "float" not in types, "built-in types are not claimed"


def test_exact_text_tables_and_histograms(interp):
    code = ("class MmtraceTextZebra: pass\n"
            "z = [MmtraceTextZebra() for _ in range(20000)]\n"
            "del z\n")
    r = subprocess.run([MMTRACE, "--alloc=exact", "-H"] + interp.extra_args + ["--", interp.exe, "-c", code],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    final = r.stdout[r.stdout.index("(final)"):]     # interval reports may come first
    for needle in ("DOM COVER", "obj domain, requested size:", "bytes : count",
                   "obj domain, lifetime of blocks allocated while traced:"):
        assert needle in final, needle
    if interp.name == "debian-3.11":
        assert "types: n/a" in final
        return
    row = [l for l in final.splitlines() if l.startswith("MmtraceTextZebra")]
    assert row and row[0].split()[1] == "20000", r.stdout


def test_exact_needs_one_process():
    r = run_mmtrace(["--alloc=exact"])
    assert r.returncode == 2 and "--alloc=exact probes every allocator call" in r.stderr
    r = run_mmtrace(["--alloc=everything", "-p", "1"])
    assert r.returncode == 2 and "growth or exact" in r.stderr


CALLOC_REFUSED = r"""
import ctypes
for name in ("PyMem_RawCalloc", "PyMem_Calloc", "PyObject_Calloc"):
    f = getattr(ctypes.pythonapi, name)
    f.restype, f.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]
    for _ in range(3):
        # nelem * elsize overflows: CPython refuses it and returns NULL
        assert f(2 ** 62, 3) is None
"""


def test_exact_refused_calloc():
    """A calloc whose nelem * elsize overflows (the product wraps) is refused
    by CPython with NULL: each domain counts 3 failed calls and no absurd
    bytes, as PyMem_Calloc's caller sees it."""
    exe = interpreter_or_skip("3.12")
    r = subprocess.run([MMTRACE, "--json", "--alloc=exact", "--", exe, "-c", CALLOC_REFUSED],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    domains = json.loads(r.stdout.splitlines()[-1])["processes"][0]["alloc_exact"]["domains"]
    for name, d in domains.items():
        assert d["failed"] == 3, (name, d)
        assert d["bytes_requested"] < 1 << 40, (name, d["bytes_requested"])
        assert d["size_hist_log2_bytes"][-1] == 0, name
