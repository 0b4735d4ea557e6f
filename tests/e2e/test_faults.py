"""Faults: mmtrace killed while tracing, targets that fork, exec another
interpreter and exit under it. The target must never notice."""
import glob
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import (DEBIAN_PY, MMTRACE, WORKLOADS, HostTrace, LineReader, Workload, barrier_stats,
                      interpreter_or_skip, mm_triplets, row)

def skeleton_programs(out_dir=os.path.dirname(MMTRACE)):
    """Every BPF program mmtrace is built with, from the skeletons bpftool
    generated from the objects (struct bpf_program *NAME in each), as the
    kernel names them (at most 15 characters)."""
    names = set()
    for skel in glob.glob(os.path.join(out_dir, "*.skel.h")):
        names.update(n[:15] for n in re.findall(r"struct bpf_program \*(\w+);", open(skel).read()))
    assert names, "no skeleton header beside %s" % MMTRACE
    return names


_programs = set()


# attached only for a target whose arenas are counted at its mmap calls (a
# build hiding the arena functions), which these tests do not trace
ON_DEMAND = {"arena_mmap", "arena_mmap_ret"}


def our_programs():
    if not _programs:
        _programs.update(skeleton_programs())
    return _programs


def prog_names():
    return {p["id"]: p.get("name") for p in json.loads(subprocess.check_output(["bpftool", "-j", "prog", "show"]))}


def links_held_by(pid):
    """{link id: (link type, program id)} of the BPF links process pid holds."""
    held = {}
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return held
    for fd in fds:
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)) != "anon_inode:bpf_link":
                continue
            info = dict(l.split(":", 1) for l in open("/proc/%s/fdinfo/%s" % (pid, fd)) if ":" in l)
        except OSError:
            continue
        held[int(info["link_id"])] = (info["link_type"].strip(), int(info["prog_id"]))
    return held


def host_links():
    """{link id: program id} of every BPF link on the host."""
    return {l["id"]: l.get("prog_id") for l in json.loads(subprocess.check_output(["bpftool", "-j", "link", "show"]))}


def our_links(pid=None):
    """With pid: (link type, program, link id) of every link of mmtrace's
    programs that process holds. Without: the links of mmtrace's programs
    that no process holds, i.e. left behind (other engineers' mmtraces hold
    theirs); a link must exist before and after the scan of every process's
    descriptors to count, so that one closed meanwhile is not taken for one
    left behind."""
    names = prog_names()
    if pid is not None:
        return [(t, names.get(prog), lid) for lid, (t, prog) in links_held_by(pid).items()
                if names.get(prog) in our_programs()]
    before = host_links()
    held = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            held.update(links_held_by(p))
    after = host_links()
    return [(lid, names.get(prog)) for lid, prog in before.items()
            if lid in after and lid not in held and names.get(prog) in our_programs()]


@pytest.mark.parametrize("mode", [[], ["--alloc=exact", "--stacks"]], ids=["gc", "exact"])
def test_kill_9_removes_probes_and_the_target_is_unchanged(tmp_path, mode):
    """SIGKILL of mmtrace mid-run: its uprobes and tracepoints are gone (the
    kernel closes their links), and the target's output equals an untraced
    run's, byte for byte in its counts. With --alloc=exact and stacks every
    program of the skeletons is linked, so none can be left out."""
    exe = interpreter_or_skip("3.12")
    env = dict(os.environ, PYTHONHASHSEED="0", MMTRACE_NO_WAIT="1")
    ref = subprocess.run([exe, os.path.join(WORKLOADS, "gc_workload.py"), "150"], env=env,
                         capture_output=True, text=True, timeout=60)
    ref_stats = {l.split()[0]: barrier_stats(l)[0] for l in ref.stderr.splitlines()
                 if l.startswith(("START", "END"))}
    w = Workload([exe], tmp_path, "k9", env={"PYTHONHASHSEED": "0"})
    mm = None
    try:
        start = w.barrier("START")[0]
        mm = subprocess.Popen([MMTRACE, "--json"] + mode + ["-p", str(w.pid), "0.2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        LineReader(mm.stdout).line(timeout=60)      # attached
        during = our_links(mm.pid)
        assert ("perf", "gc_begin") in {l[:2] for l in during} and ("perf", "gc_end") in {l[:2] for l in during}, \
            during
        if mode:
            assert {l[1] for l in during} == our_programs() - ON_DEMAND, during
        mm.kill()
        mm.wait()
        gone = host_links()
        assert not [l for l in during if l[2] in gone], "SIGKILL leaves no probe behind"
        assert not our_links()
        w.go("START")
        end = w.barrier("END")[0]
        w.go("END")
        assert w.p.wait(timeout=30) == 0
        assert {"START": start, "END": end} == ref_stats
    finally:
        if mm and mm.poll() is None:
            mm.kill()
            mm.wait()
        w.finish()


FORK_EXEC = """
import gc, json, os, sys
other = sys.argv[1]
gc.collect()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.dup2(w, 1)
    os.execv(other, [other, "-c",
        "import gc, json, os; [gc.collect(0) for _ in range(7)]; gc.collect(2); "
        "print(json.dumps([os.getpid(), [[s['collections'], s['collected'], s['uncollectable']] "
        "for s in gc.get_stats()]]), flush=True); os._exit(0)"])
os.close(w)
child = json.loads(os.read(r, 65536))
os.waitpid(pid, 0)
gc.collect(1)
print(json.dumps({"parent": os.getpid(), "child": child,
                  "stats": [[s['collections'], s['collected'], s['uncollectable']] for s in gc.get_stats()]}))
os._exit(0)
"""


def test_fork_then_exec_of_another_version(tmp_path):
    """A 3.12 process forks; the child execs 3.8, collects and exits; the
    parent collects and exits. Each image gets its own row with its own
    interpreter's version and exact counts; the fork's 3.12 instant is
    not listed."""
    new = interpreter_or_skip("3.12")
    old = interpreter_or_skip("3.8")
    mm = HostTrace(interval="0.3")
    try:
        # both files attached: a process of each is running while mmtrace starts
        keep = [subprocess.Popen([e, "-c", "import time; time.sleep(30)"]) for e in (new, old)]
        mm.live([k.pid for k in keep])
        r = subprocess.run([new, "-c", FORK_EXEC, old], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        child_pid, child_stats = out["child"]
        for k in keep:
            k.kill()
            k.wait()
        final = mm.finish()
        parent, child = row(final, out["parent"]), row(final, child_pid)
        assert parent["python"].startswith("3.12.") and child["python"].startswith("3.8.")
        assert parent["traced_from"] == "exec" and child["traced_from"] == "exec"
        assert mm_triplets(parent) == out["stats"]
        assert mm_triplets(child) == child_stats
        assert parent["exited"] and child["exited"]
        assert [p for p in final["processes"] if p["pid"] == child_pid] == [child], "one row for the child"
    finally:
        if mm.p.poll() is None:
            mm.finish()


def test_target_exits_between_discovery_and_attach():
    """The target is gone by the time mmtrace attaches (the window widened by
    a fault-injection delay): a clear message and exit code 3."""
    exe = interpreter_or_skip("3.12")
    target = subprocess.Popen([exe, "-c", "import time; time.sleep(0.3)"])
    try:
        time.sleep(0.1)
        r = subprocess.run([MMTRACE, "-p", str(target.pid), "1", "1"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, MMTRACE_TEST_ATTACH_DELAY_MS="1000"))
        assert r.returncode == 3, r.stderr
        assert "exited before its probes were attached" in r.stderr
        assert not our_links()
    finally:
        target.wait()


def test_full_ring_buffer_is_counted_as_lost():
    """A stalled mmtrace with the smallest ring buffer misses exec events;
    it says how many, and goes on tracing."""
    deb = DEBIAN_PY
    mm = HostTrace(["--events-kib", "4"], interval="0.3")
    try:
        mm.report()
        mm.p.send_signal(signal.SIGSTOP)
        for _ in range(60):
            subprocess.run([deb, "-S", "-c", "pass"], check=True)
        mm.p.send_signal(signal.SIGCONT)
        r = mm.report(lambda r: r["host"]["lost_events"] > 0, what="lost events reported")
        assert r["lost_events"] == r["host"]["lost_events"]
        # still working: a new process is found and counted
        p = subprocess.run([deb, "-c", "import gc, os; gc.collect(); print(os.getpid())"],
                           capture_output=True, text=True, check=True)
        pid = int(p.stdout)
        final = mm.finish()
        assert row(final, pid) and sum(row(final, pid)["gc"]["collections"]) >= 1
    finally:
        if mm.p.poll() is None:
            mm.p.send_signal(signal.SIGCONT)
            mm.finish()


def memory_cgroup_parent():
    """A memory cgroup directory this process may create children in."""
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if "memory" in controllers.split(","):
            base = "/sys/fs/cgroup/memory" + path
            if os.access(base, os.W_OK):
                return base, "memory.limit_in_bytes"
        if controllers == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            base = "/sys/fs/cgroup" + path
            if "memory" in open("/sys/fs/cgroup/cgroup.controllers").read() and os.access(base, os.W_OK):
                return base, "memory.max"
    return None, None


def test_memory_pressure_fails_with_a_message():
    """Under a tight cgroup memory limit mmtrace cannot allocate its BPF maps:
    it says so and exits 1, it does not crash. Its hash maps take memory per
    entry made (~2 MiB at the start), so what does not fit is a 64 MiB event
    ring asked for with --events-kib (below ~10 MiB the process itself does
    not fit: the OOM killer, not mmtrace, would answer)."""
    if "build-san" in MMTRACE:
        pytest.skip("ASan's shadow memory alone exceeds the limit: the kernel's OOM killer, not mmtrace, answers")
    parent, limit_file = memory_cgroup_parent()
    if not parent:
        pytest.skip("no writable memory cgroup on this machine")
    cg = os.path.join(parent, "mmtrace-test-%d" % os.getpid())
    os.mkdir(cg)
    try:
        with open(os.path.join(cg, limit_file), "w") as f:
            f.write(str(12 * 1024 * 1024))
        r = subprocess.run(["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec "$2" --events-kib 65536 0.2 2',
                            "sh", cg, MMTRACE], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "out of memory loading the BPF maps" in r.stderr and "64 MiB of event ring" in r.stderr, r.stderr
    finally:
        os.rmdir(cg)
