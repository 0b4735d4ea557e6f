"""System-wide mode (mmtrace with no target): every CPython process on the
host, each row checked against that process's own gc.get_stats().

What a row claims decides what it must equal:
  traced_from "attach": counted from when mmtrace attached, so it equals the
      process's deltas over a window in which it was blocked at attach time;
  traced_from "exec": counted from the first instruction, so it equals the
      process's absolute gc.get_stats();
  traced_from "fork": counted from the fork; "inherited" holds the parent's
      counts at the fork, and inherited + counts is absolute when
      counts_absolute is true.
"""
import concurrent.futures
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import (DEBIAN_PY, MATRIX, MMTRACE, WORKLOADS, free_port, HostTrace, Workload, deltas, host_pid_of,
                      interpreter_or_skip, mm_triplets, require, row)


def debian_or_skip():
    require(next(c for c in MATRIX if c.name == "debian-3.11"))
    return DEBIAN_PY


def absolute(p):
    """inherited + own counts of a row, as [[collections, collected, uncollectable]] * 3"""
    own = mm_triplets(p)
    inh = p.get("inherited")
    if not inh:
        return own
    return [[own[g][0] + inh["collections"][g], own[g][1] + inh["collected"][g],
             own[g][2] + inh["uncollectable"][g]] for g in range(3)]


def leq(a, b):
    return all(x <= y for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_versions_started_before_and_after(tmp_path):
    """pyenv builds and Debian's python3.11 at once: some running when mmtrace
    starts (counted from attach), some started later (counted from exec)."""
    exes = {m: interpreter_or_skip(m) for m in ("3.8", "3.10", "3.12", "3.13")}
    deb = debian_or_skip()
    before = {n: Workload([e], tmp_path, "before-" + n) for n, e in
              [("3.8", exes["3.8"]), ("3.10", exes["3.10"]), ("3.12", exes["3.12"]), ("deb", deb)]}
    after, mm = {}, None
    try:
        starts = {n: w.barrier("START")[0] for n, w in before.items()}
        mm = HostTrace()
        first = mm.live(w.pid for w in before.values())
        for n, w in before.items():
            p = row(first, w.pid)
            assert p["traced_from"] == "attach" and p["ns_pid"] == w.pid
        # 3.8, 3.12 and Debian's files are attached already: these count from exec;
        # 3.13's file is new to mmtrace unless another 3.13 process runs on the host
        after = {n: Workload([e], tmp_path, "after-" + n) for n, e in
                 [("3.8", exes["3.8"]), ("3.12", exes["3.12"]), ("deb", deb), ("3.13", exes["3.13"])]}
        starts.update({"after-" + n: w.barrier("START")[0] for n, w in after.items()})
        mm.live(w.pid for w in after.values())
        everyone = dict(before, **{"after-" + n: w for n, w in after.items()})
        for w in everyone.values():
            w.go("START")
        ends = {n: w.barrier("END")[0] for n, w in everyone.items()}

        def expected(n, p):
            return deltas(starts[n], ends[n]) if p["traced_from"] == "attach" else ends[n]

        exact = [n for n in everyone if n != "after-3.13"]

        def mismatches(r):
            return {n: (row(r, everyone[n].pid)["traced_from"], mm_triplets(row(r, everyone[n].pid)),
                        expected(n, row(r, everyone[n].pid)))
                    for n in exact if mm_triplets(row(r, everyone[n].pid)) != expected(n, row(r, everyone[n].pid))}
        try:
            r = mm.report(lambda r: not mismatches(r), what="counts equal to gc.get_stats()")
        except TimeoutError:
            raise AssertionError("rows differ from gc.get_stats(): %s" % mismatches(mm.last))
        for n in ("after-3.8", "after-3.12", "after-deb"):
            p = row(r, everyone[n].pid)
            assert p["traced_from"] == "exec" and p["counts_absolute"], p
            assert starts[n][0][0] > 0, "start-up collections are counted too"
        p13 = row(r, everyone["after-3.13"].pid)
        if p13["traced_from"] == "exec":
            assert mm_triplets(p13) == ends["after-3.13"]
        else:   # attached while it started up: at least the window, at most its lifetime
            assert p13["traced_from"] == "attach"
            assert leq(deltas(starts["after-3.13"], ends["after-3.13"]), mm_triplets(p13))
            assert leq(mm_triplets(p13), ends["after-3.13"])
        versions = {p["pid"]: p["python"] for p in r["processes"]}
        for n, w in everyone.items():
            real = subprocess.run([w.p.args[0], "-c", "import platform; print(platform.python_version())"],
                                  capture_output=True, text=True).stdout.strip()
            assert versions[w.pid] == real
            assert row(r, w.pid)["gc"]["read_errors"] == 0
        assert r["host"]["lost_events"] == 0
        for w in everyone.values():
            w.go("END")
            w.p.wait(timeout=30)
        final = mm.finish()
        for n, w in everyone.items():
            p = row(final, w.pid)
            assert p["exited"], p
            # interpreter shutdown may collect more, never less
            assert leq(expected(n, p), mm_triplets(p))
        assert mm.p.returncode == 0
    finally:
        for w in list(before.values()) + list(after.values()):
            w.finish()
        if mm:
            mm.finish() if mm.p.poll() is None else None


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def answers_from_every_worker(port, path, workers, limit=2000):
    """One answer of PATH from each of WORKERS pre-fork workers, by pid.
    Sequential requests may all be accepted by one worker, so they go out in
    concurrent batches: a worker busy with one leaves the next to another."""
    answers, sent = {}, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * workers) as pool:
        while len(answers) < workers and sent < limit:
            batch = [pool.submit(get_json, "http://127.0.0.1:%d%s" % (port, path)) for _ in range(2 * workers)]
            sent += len(batch)
            for f in batch:
                d = f.result()
                answers.setdefault(d["pid"], d["stats"])
    assert len(answers) == workers, "%d requests for %s reached %d of %d workers" % (sent, path, len(answers), workers)
    return answers


def test_gunicorn_workers_match_their_own_stats(tmp_path):
    """A pre-fork server: workers are forks, never exec'd. Each worker row,
    with what it inherited at fork, equals the worker's own gc.get_stats()."""
    gunicorn = "/usr/bin/gunicorn"
    if not os.access(gunicorn, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail("gunicorn is not installed (make test installs it)")
        pytest.skip("gunicorn is not installed (Debian package gunicorn)")
    debian_or_skip()
    port, workers = free_port(), 3
    mm = HostTrace()
    srv = None
    try:
        mm.report()     # probes and tracepoints are live
        srv = subprocess.Popen([gunicorn, "--workers", str(workers), "--bind", "127.0.0.1:%d" % port,
                                "--chdir", WORKLOADS, "--log-level", "warning", "gc_wsgi:app"],
                               stderr=subprocess.PIPE)
        r = mm.report(lambda r: len([p for p in r["processes"] if p.get("parent_pid") == srv.pid
                                     and not p["exited"]]) == workers, what="gunicorn worker rows")
        master = row(r, srv.pid)
        assert master["traced_from"] == "exec"
        kids = [p for p in r["processes"] if p.get("parent_pid") == srv.pid]
        assert all(p["traced_from"] == "fork" and p["counts_absolute"] for p in kids)
        # every worker makes garbage and collects it at least once
        answers_from_every_worker(port, "/work", workers)
        # each worker's own stats, then mmtrace's view of the same moment; a
        # worker that collects between the two is asked again
        for attempt in range(20):
            seen = answers_from_every_worker(port, "/stats", workers)
            try:
                r = mm.report(lambda r: all(row(r, pid) and absolute(row(r, pid)) == st
                                            for pid, st in seen.items()),
                              timeout=3, what="worker rows equal to the workers' own stats")
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("worker rows never matched: %s vs %s" %
                                 ({pid: absolute(row(mm.last, pid)) for pid in seen if row(mm.last, pid)}, seen))
        assert sum(sum(c[0] for c in st) for st in seen.values()) > 0
        for pid in seen:
            assert row(r, pid)["parent_pid"] == srv.pid
            assert sum(row(r, pid)["gc"]["collections"]) > 0, "the workers' own collections are counted"
    finally:
        if srv:
            srv.terminate()
            srv.wait(timeout=30)
        mm.finish()


NS_SCRIPT = """set -e
mount -t tmpfs mmtrace-test "$1"
{install}
exec "$1/py-in-ctr" "$2" 150
"""


def ns_workload(tmp_path, name, install):
    mnt = tmp_path / name
    mnt.mkdir()
    script = NS_SCRIPT.format(install=install)
    return Workload(["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh", str(mnt)],
                    tmp_path, name, script=os.path.join(WORKLOADS, "gc_workload.py"), args=()), mnt


def test_process_in_its_own_mount_and_pid_namespace(tmp_path):
    """Interpreters at a path that exists only inside their mount namespace,
    as pid 1 of their PID namespace: one a copy on the namespace's own tmpfs
    (a file new to mmtrace, resolved through /proc/PID/root), running before
    mmtrace; one a bind mount of Debian's python3.11 started after it."""
    deb = debian_or_skip()
    copy, mnt_copy = ns_workload(tmp_path, "ctr-copy", 'cp %s "$1/py-in-ctr"' % deb)
    bind, mm = None, None
    try:
        start_copy = copy.barrier("START")[0]
        host_copy = host_pid_of(copy.pid)
        assert not os.path.exists(str(mnt_copy / "py-in-ctr")), "the path exists only in the namespace"
        mm = HostTrace()
        mm.live([host_copy])
        bind, _ = ns_workload(tmp_path, "ctr-bind",
                              'touch "$1/py-in-ctr" && mount --bind %s "$1/py-in-ctr"' % deb)
        start_bind = bind.barrier("START")[0]
        host_bind = host_pid_of(bind.pid)
        mm.live([host_bind])
        copy.go("START")
        bind.go("START")
        end_copy, end_bind = copy.barrier("END")[0], bind.barrier("END")[0]
        r = mm.report(lambda r: mm_triplets(row(r, host_copy)) == deltas(start_copy, end_copy) and
                      mm_triplets(row(r, host_bind)) == end_bind, what="namespace rows equal to their stats")
        pc, pb = row(r, host_copy), row(r, host_bind)
        assert pc["ns_pid"] == 1 and pb["ns_pid"] == 1
        assert pc["traced_from"] == "attach" and pb["traced_from"] == "exec"
        assert pc["binary"] == str(mnt_copy / "py-in-ctr"), "the path as the process sees it"
        assert pc["python"].startswith("3.11.") and pb["python"] == pc["python"]
        assert start_bind[0][0] > 0
    finally:
        copy.finish()
        if bind:
            bind.finish()
        if mm:
            mm.finish()


# More rows than the proctable's first three sizes (64, 128, 256): its
# storage is reallocated while ends and execs arrive, under ASan too. More
# processes would add time, not a code path.
BURST = 300
BURST_CODE = ("import gc, json, os, sys; gc.collect(); "
              "print(json.dumps([os.getpid(), [[s['collections'], s['collected'], s['uncollectable']] "
              "for s in gc.get_stats()]])); sys.stdout.flush(); os._exit(0)")


def ended_rows(mm, pids, timeout=60):
    """Reads reports until each of pids (the test's own processes) has been
    listed as exited; reports list an ended process once, so this gathers
    them across reports."""
    pids, ended = set(pids), set()

    def all_ended(r):
        ended.update(p["pid"] for p in r["processes"] if p["exited"] and p["pid"] in pids)
        return pids <= ended
    return mm.report(all_ended, timeout, "rows of %d exited processes (%d so far)" % (len(pids), len(ended)))


def own_bpf_maps(pid):
    """The BPF maps process pid holds, by name: {name: (map id, max_entries)},
    from its file descriptors (other mmtraces on the host have maps of the
    same names)."""
    maps = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if "bpf-map" not in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                continue
            info = dict(l.split(":", 1) for l in open("/proc/%d/fdinfo/%s" % (pid, fd)) if ":" in l)
        except OSError:
            continue
        m = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show", "id", info["map_id"].strip()]))
        maps[m["name"]] = (m["id"], m["max_entries"])
    return maps


def map_keys(map_id):
    return [e["formatted"]["key"] for e in
            json.loads(subprocess.check_output(["bpftool", "-j", "map", "dump", "id", str(map_id)]))]


def stale_entries(mm_pid, pids):
    """Which of pids, all exited, still have an entry in mmtrace's per-process
    maps (proc_stats, watched). A pid that exists again (reused by a new
    process) is not counted."""
    maps = own_bpf_maps(mm_pid)
    return {name: sorted(k for k in map_keys(maps[name][0]) if k in pids and not os.path.exists("/proc/%d" % k))
            for name in ("proc_stats", "watched")}


def run_burst(n, parallel=8):
    """n short Python processes, parallel at a time; their own final stats.
    os._exit skips interpreter shutdown, so the printed stats are final."""
    out, running = {}, []
    for i in range(n):
        running.append(subprocess.Popen([DEBIAN_PY, "-c", BURST_CODE], stdout=subprocess.PIPE, text=True))
        if len(running) >= parallel or i == n - 1:
            for p in running:
                pid, stats = json.loads(p.communicate(timeout=60)[0])
                out[pid] = stats
            running = []
    return out


def test_burst_of_short_processes(tmp_path):
    """BURST short-lived processes: no crash, maps bounded by live processes,
    every one counted once, each row equal to what the process reported."""
    debian_or_skip()
    mm = HostTrace(interval="0.5")
    try:
        first = mm.report()     # the first report lists every process seen so far
        base = first["host"]["processes_seen"]
        assert base == len(first["processes"])
        stats = run_burst(BURST)
        assert len(stats) == BURST
        ended_rows(mm, stats)
        r = mm.report()     # one more interval: ends are drained
        host = r["host"]
        assert host["maps"]["proc_stats"] <= host["live"], host
        assert host["maps"]["watched"] <= host["live"], host
        # what mmtrace says of its maps is what the kernel holds, and not one
        # burst process is left in them
        maps = own_bpf_maps(mm.p.pid)
        assert maps["proc_stats"][1] == maps["watched"][1] == host["maps"]["max_entries"], (maps, host)
        assert stale_entries(mm.p.pid, set(stats)) == {"proc_stats": [], "watched": []}
        # missed_execs is not asserted: it counts the host's other processes
        # too (another test's short `true`); every burst process has its row
        assert host["lost_events"] == 0, host
        final = mm.finish()
        assert mm.p.returncode == 0
        rows = {p["pid"]: p for p in final["processes"] if p["pid"] in stats}
        assert len(rows) == len([p for p in final["processes"] if p["pid"] in stats]) == BURST, \
            "every burst process has exactly one row"
        # with fewer than the 4096 kept ended rows, the final report lists
        # every process seen, each once: processes_seen counts each burst
        # process once, and counts nothing the report does not list
        assert final["host"]["folded"] == 0
        assert final["host"]["processes_seen"] == len(final["processes"]), final["host"]
        assert not set(stats) & {p["pid"] for p in first["processes"]}
        for pid, st in stats.items():
            p = rows[pid]
            assert p["exited"] and p["traced_from"] == "exec", p
            assert mm_triplets(p) == st, (pid, mm_triplets(p), st)
    finally:
        if mm.p.poll() is None:
            mm.finish()


def test_min_pause_reports_the_slow_collection(tmp_path):
    """--min-pause: the deliberately slow full collection is an event line
    with the right pid and generation, at least the threshold long."""
    exe = interpreter_or_skip("3.12")
    threshold_ms = 20
    w = Workload([exe], tmp_path, "slow", script=os.path.join(WORKLOADS, "slow_gc.py"), args=("2000000",))
    mm = None
    try:
        w.barrier("START")
        mm = HostTrace(["--min-pause", str(threshold_ms)])
        mm.live([w.pid])
        w.go("START")
        _, info = w.barrier("END")
        (gen, ns), = [p for p in info["pauses"] if p[0] == 2]
        assert ns >= threshold_ms * 1e6, "the workload's own collection is slow enough"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [e for e in mm.events if e["pid"] == w.pid]:
            time.sleep(0.05)
        mine = [e for e in mm.events if e["pid"] == w.pid]
        assert len(mine) == 1, mine
        e = mine[0]
        assert e["event"] == "gc_pause" and e["generation"] == 2 and e["tid"] == w.pid
        assert e["pause_ns"] >= threshold_ms * 1e6
        # the callbacks bracket the collector: mmtrace's pause is inside theirs
        assert e["pause_ns"] <= ns + 150_000
        assert e["collected"] == 0 and e["uncollectable"] == 0, "the graph is alive"
        assert all(ev["pause_ns"] >= threshold_ms * 1e6 for ev in mm.events)
    finally:
        w.finish()
        if mm:
            mm.finish()


def test_min_pause_text_line(tmp_path):
    """The operator's feed in text form, in the one-process mode too."""
    exe = interpreter_or_skip("3.12")
    r = subprocess.run([MMTRACE, "--min-pause", "5", "-o", str(tmp_path / "out"), "--", exe, "-c",
                        "import gc, os; print(os.getpid()); g = [[i] for i in range(1000000)]; gc.collect()"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    pid = int(r.stdout.split()[0])
    lines = [l for l in open(tmp_path / "out") if "SLOW GC" in l]
    assert any(" gen 2 " in l for l in lines), lines
    assert all(" pid %d " % pid in l for l in lines), lines


GC_LOOP = ("import gc, time\nclass N:\n    def __init__(s): s.me = s\n"
           "end = time.monotonic() + float(__import__('sys').argv[1])\n"
           "while time.monotonic() < end:\n    [N() for _ in range(2000)]\n    time.sleep(0.002)\n")


def text_blocks(out):
    """Splits text output into report blocks, each a list of lines."""
    blocks = []
    for line in out.splitlines():
        if " mmtrace: " in line and line[:2].isdigit():
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


def test_text_table_top_sort_and_merged_histograms(tmp_path):
    """-n keeps the table to N rows and says how many more; -s pid orders by
    pid; -H --merge prints one host-wide histogram per generation."""
    exe = interpreter_or_skip("3.12")
    ws = [subprocess.Popen([exe, "-c", GC_LOOP, "4"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        r = subprocess.run([MMTRACE, "-s", "pid", "-n", "1", "-H", "--merge", "0.5", "2"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        blocks = text_blocks(r.stdout)
        assert len(blocks) == 3 and "(final)" in blocks[-1][0]
        ended_before = 0
        for b in blocks:
            header = next(i for i, l in enumerate(b) if l.startswith("PID "))
            rows = [l for l in b[header + 1:] if l[:1].isdigit()]
            assert len(rows) == 1, b
            n_live = int(b[0].split(" CPython processes live")[0].split()[-1])
            ended = int(b[0].split(" ended,")[0].split()[-1])
            assert n_live >= 2
            # the rows are the live processes and those that ended in this
            # interval (other processes on the machine may): one shown
            more = [int(l.split()[1]) for l in b if l.startswith("... ") and l.endswith(" more (-n)")]
            assert len(more) == 1, b
            assert n_live - 1 <= more[0] <= n_live - 1 + (ended - ended_before), b
            ended_before = ended
            # -s pid: the lowest pid of the live CPython processes comes first
            assert int(rows[0].split()[0]) <= min(w.pid for w in ws)
            hist = [l for l in b if l.startswith("all processes (")]
            assert [h.split(" gen ")[1] for h in hist] == ["0 GC pause:", "1 GC pause:", "2 GC pause:"]
        # the workloads collected while traced: the merged gen0 histogram has buckets
        assert any("nsecs" in l for l in blocks[-1])
    finally:
        for w in ws:
            w.kill()
            w.wait()


THREADED = ("import gc, os, sys, threading, time\n"
            "def spin():\n"
            "    while True:\n"
            "        gc.collect(0)\n"
            "for _ in range(8):\n"
            "    threading.Thread(target=spin, daemon=True).start()\n"
            "time.sleep(0.05)\n"
            "print(os.getpid(), flush=True)\n"
            "os._exit(0)\n")

SPAWNER = ("import gc, os, subprocess\n"
           "for _ in range(20):\n"
           "    subprocess.run(['true'])\n"
           "gc.collect()\n"
           "print(os.getpid(), flush=True)\n")


def test_threads_exiting_together_and_fork_exec_children(tmp_path):
    """Processes whose 8 threads are inside collections when it exits get
    exactly one row each; a Python parent's fork+exec children (subprocess)
    are not listed as Python processes, and nothing is left in the maps."""
    deb = debian_or_skip()
    mm = HostTrace(interval="0.3")
    try:
        mm.report()
        pids = []
        for _ in range(10):
            r = subprocess.run([deb, "-c", THREADED], capture_output=True, text=True, timeout=60)
            pids.append(int(r.stdout))
        spawner = subprocess.run([deb, "-c", SPAWNER], capture_output=True, text=True, timeout=60)
        parent = int(spawner.stdout)
        ended_rows(mm, pids + [parent])
        r = mm.report()     # one more interval: ends are drained
        assert r["host"]["maps"]["watched"] <= r["host"]["live"], r["host"]
        assert stale_entries(mm.p.pid, set(pids + [parent])) == {"proc_stats": [], "watched": []}
        final = mm.finish()
        rows = [p for p in final["processes"] if p["pid"] in pids]
        assert sorted(p["pid"] for p in rows) == sorted(pids), "one row per process"
        assert all(p["exited"] and sum(p["gc"]["collections"]) > 0 for p in rows)
        assert row(final, parent)["exited"]
        assert not [p for p in final["processes"] if p.get("parent_pid") == parent], \
            "fork+exec children are not Python processes"
    finally:
        if mm.p.poll() is None:
            mm.finish()


def test_alloc_growth_system_wide(tmp_path):
    """--alloc=growth in the system-wide mode: a process started after
    mmtrace (its file already probed) is counted from exec, so its arenas
    allocated and freed equal its lifetime totals in sys._debugmallocstats()."""
    deb = debian_or_skip()
    mm = HostTrace(["--alloc=growth"])
    w = None
    try:
        mm.report()
        w = Workload([deb], tmp_path, "growth", script=os.path.join(WORKLOADS, "growth_workload.py"), args=())
        w.barrier("READY")
        mm.live([w.pid])
        w.go("READY")
        w.barrier("GROWN")
        w.go("GROWN")
        _, end = w.barrier("END")
        s2 = end["s2"]
        r = mm.report(lambda r: row(r, w.pid)["alloc"]["arenas_freed"] == s2["reclaimed"])
        p = row(r, w.pid)
        assert p["traced_from"] == "exec"
        assert p["alloc"]["arenas_allocated"] == s2["allocated total"]
        assert p["alloc"]["arenas_freed"] == s2["reclaimed"]
        assert s2["reclaimed"] >= 1
    finally:
        if w:
            w.finish()
        mm.finish()


def test_system_wide_on_every_interpreter(interp, tmp_path):
    """Every cell of the matrix in the system-wide mode: a process running
    when mmtrace starts equals its window deltas; one started afterwards, of
    the now probed file, equals its absolute gc.get_stats()."""
    before = Workload([interp.exe], tmp_path, "before")
    after, mm = None, None
    try:
        start, _ = before.barrier("START")
        mm = HostTrace(interp.extra_args)
        mm.live([before.pid])
        after = Workload([interp.exe], tmp_path, "after")
        after_start, _ = after.barrier("START")
        mm.live([after.pid])
        for w in (before, after):
            w.go("START")
        end, _ = before.barrier("END")
        after_end, _ = after.barrier("END")
        r = mm.report(lambda r: mm_triplets(row(r, before.pid)) == deltas(start, end) and
                      mm_triplets(row(r, after.pid)) == after_end, what="rows equal to gc.get_stats()")
        assert row(r, before.pid)["probe_method"] == interp.method
        assert row(r, after.pid)["traced_from"] == "exec" and after_start[0][0] > 0
        assert row(r, before.pid)["gc"]["read_errors"] == 0
    finally:
        before.finish()
        if after:
            after.finish()
        if mm:
            mm.finish()
