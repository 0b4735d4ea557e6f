"""Exports read by real consumers: promtool and a Prometheus server for
--openmetrics, a Trace Event Format parser for --trace."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from fractions import Fraction

import pytest

from conftest import (DEBIAN_PY, MMTRACE, WORKLOADS, free_port, HostTrace, Workload, interpreter_or_skip,
                      mm_triplets, row, run_mmtrace)
from test_faults import our_links


def need(tool):
    path = shutil.which(tool)
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("%s is not installed (make test installs Debian's prometheus)" % tool)
        pytest.skip("%s is not installed (Debian package prometheus)" % tool)
    return path


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        if "{" in name_labels:
            name, rest = name_labels.split("{", 1)
            labels = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(","))
            labels = {k: v.strip('"') for k, v in labels.items()}
        else:
            name, labels = name_labels, {}
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def series(metrics, name, **want):
    return {k: v for k, v in metrics.items()
            if k[0] == name and all((lk, str(lv)) in k[1] for lk, lv in want.items())}


def test_promtool_accepts_scraped_metrics(tmp_path):
    """promtool check metrics passes on /metrics; each pause histogram is
    cumulative and agrees with the collection counter."""
    promtool = need("promtool")
    exe = interpreter_or_skip("3.12")
    port = free_port()
    w = Workload([exe], tmp_path, "om")
    mm = None
    try:
        w.barrier("START")
        mm = HostTrace(["--openmetrics", str(port)])
        mm.live([w.pid])
        w.go("START")
        w.barrier("END")
        mm.report()
        text = scrape(port)
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        m = parse_metrics(text)
        for g in range(3):
            count = series(m, "mmtrace_gc_pause_seconds_count", pid=w.pid, generation=g)
            coll = series(m, "mmtrace_gc_collections_total", pid=w.pid, generation=g)
            assert list(count.values()) == list(coll.values()) and len(coll) == 1
            buckets = sorted((float(dict(k[1])["le"]), v) for k, v in
                             series(m, "mmtrace_gc_pause_seconds_bucket", pid=w.pid, generation=g).items())
            assert buckets[-1][0] == float("inf") and buckets[-1][1] == list(count.values())[0]
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "cumulative"
        assert ("mmtrace_processes_seen_total", frozenset()) in m
        assert exact_le_bounds(text, w.pid) == [Fraction(2 ** k - 1, 10 ** 9) for k in range(10, 37)]
    finally:
        w.finish()
        if mm:
            mm.finish()


def exact_le_bounds(text, pid):
    """The le bounds of generation 0's pause histogram of pid, in order, read
    as exact fractions of a second: a rounded bound differs from 2^k - 1 ns."""
    want = 'pid="%d",' % pid
    bounds = []
    for line in text.splitlines():
        if line.startswith("mmtrace_gc_pause_seconds_bucket{") and want in line and 'generation="0"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            if le != "+Inf":
                assert "e" not in le.lower(), "an exact decimal, not a float's exponent: %s" % le
                bounds.append(Fraction(le))
    return bounds


PROM_CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mmtrace
    static_configs:
      - targets: ['127.0.0.1:%d']
"""


def prom_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.loads(r.read())
    assert d["status"] == "success", d
    return [(s["metric"], float(s["value"][1])) for s in d["data"]["result"]]


def test_prometheus_server_scrapes_the_workloads_own_count(tmp_path):
    """A real Prometheus on loopback scrapes mmtrace every second; a query
    for the workload's pid returns its own gc.get_stats() total."""
    prometheus = need("prometheus")
    mm_port, prom_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(PROM_CONFIG % mm_port)
    mm = HostTrace(["--openmetrics", "127.0.0.1:%d" % mm_port])
    prom, w = None, None
    try:
        mm.report()
        prom = subprocess.Popen([prometheus, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                                 "--storage.tsdb.path=%s" % (tmp_path / "data"),
                                 "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Debian's python3.11 is attached already (pytest runs on it): counted from exec
        w = Workload([DEBIAN_PY], tmp_path, "prom")
        w.barrier("START")
        w.go("START")
        end, _ = w.barrier("END")
        total = sum(g[0] for g in end)
        deadline, got = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                res = prom_query(prom_port, 'sum(mmtrace_gc_collections_total{pid="%d"})' % w.pid)
                got = res[0][1] if res else None
            except OSError:
                got = None          # still starting
            if got == total:
                break
            time.sleep(0.5)
        assert got == total, (got, total, prom.poll())
        per_gen = {int(m["generation"]): v for m, v in
                   prom_query(prom_port, 'mmtrace_gc_collections_total{pid="%d"}' % w.pid)}
        assert per_gen == {g: float(end[g][0]) for g in range(3)}
    finally:
        if w:
            w.finish()
        if prom:
            prom.terminate()
            prom.wait(timeout=30)
        mm.finish()


def check_trace_event(e):
    assert e["ph"] in ("X", "M"), e
    assert isinstance(e["pid"], int) and isinstance(e["name"], str)
    if e["ph"] == "X":
        assert isinstance(e["tid"], int)
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float)) and e["dur"] >= 0
        assert e["cat"] == "gc" and e["name"] == "gc gen%d" % e["args"]["generation"]
    else:
        assert e["name"] == "process_name" and e["args"]["name"]


def test_trace_file_of_gc_pauses(tmp_path):
    """--trace: valid Trace Event JSON after SIGINT; one complete event per
    collection, durations summing to mmtrace's own pause totals. (Perfetto's
    trace processor is not a Debian package: the check is structural,
    against the Trace Event Format document.)"""
    exe = interpreter_or_skip("3.12")
    trace = tmp_path / "gc.trace.json"
    w = Workload([exe], tmp_path, "tr")
    mm = None
    try:
        start, _ = w.barrier("START")
        mm = HostTrace(["--trace", str(trace)])
        mm.live([w.pid])
        w.go("START")
        end, _ = w.barrier("END")
        window = [e[0] - s[0] for s, e in zip(start, end)]
        mm.report(lambda r: [c[0] for c in mm_triplets(row(r, w.pid))] == window)
        final = mm.finish()        # SIGINT
    finally:
        w.finish()
        if mm and mm.p.poll() is None:
            mm.finish()
    events = json.loads(trace.read_text())
    for e in events:
        check_trace_event(e)
    mine = [e for e in events if e["pid"] == w.pid and e["ph"] == "X"]
    p = row(final, w.pid)
    for g in range(3):
        gen = [e for e in mine if e["args"]["generation"] == g]
        assert len(gen) == p["gc"]["collections"][g] == window[g]
        assert sum(e["args"]["pause_ns"] for e in gen) == p["gc"]["pause_ns_total"][g]
        assert abs(sum(e["dur"] for e in gen) - p["gc"]["pause_ns_total"][g] / 1e3) < 0.001 * len(gen) + 1e-6
        assert sum(e["args"]["collected"] for e in gen) == p["gc"]["collected"][g]
    names = [e for e in events if e["ph"] == "M" and e["pid"] == w.pid]
    assert len(names) == 1 and "3.12" in names[0]["args"]["name"]


def test_openmetrics_file_and_grace_period(tmp_path):
    """--openmetrics-file is rewritten each interval; an ended process's
    series stay for --metrics-grace and then go."""
    promtool = need("promtool")
    path = tmp_path / "mmtrace.prom"
    mm = HostTrace(["--openmetrics-file", str(path), "--metrics-grace", "1.5"], interval="0.3")
    try:
        mm.report()
        p = subprocess.run([DEBIAN_PY, "-c", "import gc, os; gc.collect(); print(os.getpid())"],
                           capture_output=True, text=True, check=True)
        pid = int(p.stdout)
        mm.report(lambda r: row(r, pid) is not None and row(r, pid)["exited"])
        mm.report()
        text = path.read_text()
        assert 'pid="%d"' % pid in text, "still listed within the grace period"
        assert subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                              text=True).returncode == 0
        time.sleep(2.0)
        mm.report()
        mm.report()
        assert 'pid="%d"' % pid not in path.read_text(), "gone after the grace period"
        assert not os.path.exists(str(path) + ".tmp")
    finally:
        mm.finish()


@pytest.mark.parametrize("args,msg", [
    (["--openmetrics", "localhost:9464"], "invalid --openmetrics address"),
    (["--openmetrics", "99999"], "invalid --openmetrics"),
    (["--openmetrics", "[::1]9464"], "invalid --openmetrics"),
    (["--openmetrics-file", "/nonexistent-dir/mmtrace.prom"], "cannot write --openmetrics-file"),
    (["--trace", "/nonexistent-dir/trace.json"], "cannot write --trace"),
])
def test_bad_export_input_fails_before_attach(args, msg):
    r = run_mmtrace(args + ["1", "1"])
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr
    assert not our_links()


def test_port_in_use_fails_before_attach():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = run_mmtrace(["--openmetrics", str(s.getsockname()[1]), "1", "1"])
        assert r.returncode == 2
        assert "cannot serve metrics on 127.0.0.1 port" in r.stderr and "in use" in r.stderr
    finally:
        s.close()


RENAMED = r"""
import ctypes, gc, sys, time
ctypes.CDLL(None).prctl(15, b"py\xff\xfe", 0, 0, 0)   # PR_SET_NAME: a comm that is not UTF-8
print("renamed", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    [[] for _ in range(1000)]
    gc.collect(0)
    time.sleep(0.01)
"""


def test_json_and_metrics_of_a_comm_that_is_not_utf8(tmp_path):
    """A process renamed to bytes that are not UTF-8: every JSON line is valid
    UTF-8 and parses strictly, the comm is py + two U+FFFD; the metrics too."""
    exe = interpreter_or_skip("3.12")
    port = free_port()
    w = subprocess.Popen([exe, "-c", RENAMED], stdout=subprocess.PIPE)
    try:
        assert w.stdout.readline() == b"renamed\n"
        with open("/proc/%d/comm" % w.pid, "rb") as f:
            assert f.read() == b"py\xff\xfe\n"
        mm = subprocess.Popen([MMTRACE, "--json", "--openmetrics", str(port), "-p", str(w.pid), "0.2", "5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        for _ in range(50):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
                    text = r.read().decode("utf-8")      # strict: raises on an invalid byte
                break
            except OSError:
                time.sleep(0.1)
        out, err = mm.communicate(timeout=60)
        assert mm.returncode == 0, err
        lines = out.split(b"\n")[:-1]
        assert len(lines) >= 5
        for line in lines:
            d = json.loads(line.decode("utf-8"), strict=True)
            assert d["processes"][0]["comm"] == "py\ufffd\ufffd"
        assert 'comm="py\ufffd\ufffd"' in text
    finally:
        w.kill()
        w.wait()


def test_slow_scrape_clients_do_not_stall_reports(tmp_path):
    """Clients that connect and send nothing, or ask and never read, are
    dropped after a short bound and counted; reports keep their interval
    (before, each idle client held the loop for 0.5 s)."""
    import threading
    exe = interpreter_or_skip("3.12")
    port = free_port()
    w = Workload([exe], tmp_path, "slowclient")
    mm, socks, stop_clients = None, [], threading.Event()

    def idle_clients():
        while not stop_clients.is_set():
            s = socket.create_connection(("127.0.0.1", port))
            socks.append(s)
            if len(socks) % 2:          # asks, then never reads
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
    try:
        w.barrier("START")
        mm = HostTrace(["--openmetrics", str(port)])
        mm.live([w.pid])
        t = threading.Thread(target=idle_clients, daemon=True)
        t.start()
        arrivals = []
        for _ in range(15):
            mm.report()
            arrivals.append(time.monotonic())
        stop_clients.set()
        t.join()
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        assert max(gaps) < 0.45, gaps
        text = scrape(port)
        dropped = [float(l.split()[1]) for l in text.splitlines() if l.startswith("mmtrace_http_dropped_total ")]
        assert dropped and dropped[0] >= len(socks) // 2, (dropped, len(socks))
    finally:
        stop_clients.set()
        for s in socks:
            s.close()
        w.finish()
        if mm:
            mm.finish()


def test_json_schema_is_valid_and_documented():
    """docs/mmtrace.schema.json is itself a valid JSON Schema, the README
    points at it, and its objects are closed: a field it does not describe
    is refused (every --json line of the suite is checked in conftest)."""
    jsonschema = pytest.importorskip("jsonschema")
    from conftest import ROOT, SCHEMA
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    with open(os.path.join(ROOT, "README.md")) as f:
        assert "docs/mmtrace.schema.json" in f.read()
    v = jsonschema.Draft202012Validator(schema)
    r = run_mmtrace(["--json", "--probes", "-p", str(os.getpid())])
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert v.is_valid(plan)
    plan["targets"][0]["new_field"] = 1
    assert not v.is_valid(plan), "closed objects refuse a field the schema does not describe"


def check_trace_file(events):
    """The Trace Event Format's rules, as Perfetto's JSON importer reads them:
    every event has ph, ts, pid, tid; complete events a duration >= 0;
    counters numeric args; B/E pairs nest per thread; the slices of one
    thread do not overlap (ts and dur are written to 0.001 us)."""
    open_b = {}
    slices = {}
    for e in events:
        assert {"ph", "ts", "pid", "tid", "name"} <= set(e), e
        assert isinstance(e["ts"], (int, float)) and isinstance(e["pid"], int) and isinstance(e["tid"], int), e
        ph = e["ph"]
        assert ph in ("X", "B", "E", "C", "M"), e
        if ph == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0, e
            slices.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"], e))
        elif ph == "B":
            open_b.setdefault((e["pid"], e["tid"]), []).append(e)
        elif ph == "E":
            stack = open_b.get((e["pid"], e["tid"]))
            assert stack, "E without an open B: %s" % e
            b = stack.pop()
            assert e["ts"] >= b["ts"] and e.get("name", b["name"]) == b["name"], (b, e)
        elif ph == "C":
            assert e["args"] and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     for v in e["args"].values()), e
    for key, stack in open_b.items():
        assert not stack, "B without its E on %s: %s" % (key, stack)
    for key, s in slices.items():
        s.sort(key=lambda x: x[0])
        for (_, end, a), (start, _, b) in zip(s, s[1:]):
            assert start >= end - 0.002, "overlapping slices on %s: %s %s" % (key, a, b)


@pytest.mark.parametrize("alloc", ["--alloc=growth", "--alloc=exact"])
def test_trace_counters_and_collection_stacks(tmp_path, alloc):
    """--trace with --heap=live, --alloc and --stacks: at each report a
    counter event per figure (RSS, pymalloc arena bytes, net arenas or
    live bytes) equal to the same report's JSON; one slice per collection,
    per generation as many as gc.get_stats() counted, each carrying the
    stack that triggered it, equal to the JSON's gc-count stacks."""
    from collections import Counter
    from conftest import Traced, stop
    exe = interpreter_or_skip("3.12")
    trace = tmp_path / "gc.trace.json"
    w = Workload([exe], tmp_path, "tc", args=("150" if alloc == "--alloc=growth" else "20",))
    mm, reports = None, []
    keep = lambda pred: lambda r: reports.append(r) or pred(r)
    try:
        start, _ = w.barrier("START")
        mm = Traced(["--json", "--trace", str(trace), "--heap=live", alloc, "--stacks", "-p", str(w.pid), "0.2"])
        mm.report(keep(lambda r: True))
        w.go("START")
        end, _ = w.barrier("END")
        window = [e[0] - s[0] for s, e in zip(start, end)]
        mm.report(keep(lambda r: [c[0] for c in mm_triplets(row(r, w.pid))] == window))
        stop(mm.p)
        final = mm.report(keep(lambda r: r["final"]), what="final report")
    finally:
        w.finish()
        if mm and mm.p.poll() is None:
            stop(mm.p)
    events = json.loads(trace.read_text())
    check_trace_file(events)
    p = row(final, w.pid)
    mine = [e for e in events if e["pid"] == w.pid and e["ph"] == "X"]
    for g in range(3):
        assert len([e for e in mine if e["args"]["generation"] == g]) == p["gc"]["collections"][g] == window[g]
    # counters: in report order, the figures the same report printed
    rows = [row(r, w.pid) for r in reports]
    assert all("heap_error" not in x and "heap" in x for x in rows), rows[-1]
    want = {"rss_bytes": [x["rss_bytes"] for x in rows],
            "pymalloc_arena_bytes": [x["heap"]["arena_bytes"] for x in rows],
            # the exact level includes the growth figures
            "pymalloc_arenas_net": [x["alloc"]["arenas_allocated"] - x["alloc"]["arenas_freed"] for x in rows]}
    if alloc == "--alloc=exact":
        want["exact_live_bytes"] = [sum(d["live_bytes"] for d in x["alloc_exact"]["domains"].values())
                                    for x in rows]
    got = {}
    for e in events:
        if e["ph"] == "C" and e["pid"] == w.pid:
            got.setdefault(e["name"], []).append(e["args"]["value"])
    assert got == want
    # each collection's slice carries its stack: the same stacks, as often, as the JSON's
    assert all("stack" in e["args"] for e in mine), [e for e in mine if "stack" not in e["args"]][:3]
    slices = Counter((e["tid"], e["args"]["generation"], e["args"]["stack"]) for e in mine)
    gc_count = p["stacks"]["gc-count"]
    assert len(gc_count) < 20, "every stack is listed"
    assert slices == Counter({(s["tid"], s["generation"], ";".join(s["frames"])): s["count"] for s in gc_count})
