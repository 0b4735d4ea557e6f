"""traced_ns of a row found late in the system-wide mode counts from when the
process began to be traced, never from an earlier attach of its file."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import HostTrace, Workload, interpreter_or_skip, row

# A program that is not CPython and links no libpython: its exec reveals
# nothing, and it is found by the rescan of /proc (every 10 s) once it has
# dlopen'd libpython, as uwsgi's plugin does.
EMBED_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	void *h = argc == 3 ? dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) : NULL;
	void (*init)(void) = h ? (void (*)(void))dlsym(h, "Py_Initialize") : NULL;
	int (*run)(const char *) = h ? (int (*)(const char *))dlsym(h, "PyRun_SimpleString") : NULL;

	if (!init || !run)
		return 2;
	init();
	return run(argv[2]) ? 1 : 0;
}
"""

GC_FOR_11_S = """
import gc, time
end = time.monotonic() + 11
while time.monotonic() < end:
    [[] for _ in range(1000)]
    gc.collect(0)
    time.sleep(0.01)
"""


def test_late_found_process_is_counted_from_its_start(tmp_path):
    """libpython3.12 is attached at start (a 3.12 workload runs); 2 s later a
    program dlopens it and collects for 11 s; the rescan finds it at ~10 s.
    Its traced time must not exceed its lifetime (it did by the 2 s before)."""
    exe = interpreter_or_skip("3.12")
    cc = shutil.which("cc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler")
    lib = os.path.join(os.path.dirname(os.path.dirname(exe)), "lib", "libpython3.12.so")
    if not os.path.exists(lib):
        pytest.skip("%s: a static build" % lib)
    src, prog = tmp_path / "embed.c", tmp_path / "embed"
    src.write_text(EMBED_C)
    subprocess.run([cc, "-o", str(prog), str(src), "-ldl"], check=True)
    w = Workload([exe], tmp_path, "holder")
    mm = embed = None
    try:
        w.barrier("START")
        mm = HostTrace()
        mm.live([w.pid])
        time.sleep(2)
        env = dict(os.environ, PYTHONHOME=os.path.dirname(os.path.dirname(exe)))
        born = time.monotonic()
        embed = subprocess.Popen([str(prog), lib, GC_FOR_11_S], env=env)
        assert embed.wait(timeout=60) == 0
        lifetime_ns = (time.monotonic() - born) * 1e9
        r = mm.report(lambda r: row(r, embed.pid) and row(r, embed.pid)["exited"], timeout=30,
                      what="the ended row of the embedding program")
        p = row(r, embed.pid)
        assert p["traced_from"] == "attach", p
        assert sum(p["gc"]["collections"]) > 0
        assert 0 < p["traced_ns"] <= lifetime_ns, (p["traced_ns"], lifetime_ns, p["comm"])
    finally:
        if embed and embed.poll() is None:
            embed.kill()
            embed.wait()
        w.finish()
        if mm:
            mm.finish()
