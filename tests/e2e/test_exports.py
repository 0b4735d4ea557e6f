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

from conftest import (DEBIAN_PY, MMTRACE, WORKLOADS, deltas, free_port, HostTrace, Workload, interpreter_or_skip,
                      mm_triplets, require, row, run_mmtrace)
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


# --metric-names: prometheus_client's names, or OpenTelemetry's as the OTel
# to Prometheus mapping writes them (dots to underscores, unit, _total)
SCHEMES = {
    "prometheus": dict(collections="python_gc_collections_total", collected="python_gc_objects_collected_total",
                       uncollectable="python_gc_objects_uncollectable_total", duration="python_gc_duration_seconds",
                       generation="generation"),
    "otel": dict(collections="cpython_gc_collections_total", collected="cpython_gc_collected_objects_total",
                 uncollectable="cpython_gc_uncollectable_objects_total", duration="cpython_gc_duration_seconds",
                 generation="cpython_gc_generation"),
}
OLD_NAMES = ("mmtrace_gc_collections_total", "mmtrace_gc_collected_objects_total",
             "mmtrace_gc_uncollectable_objects_total", "mmtrace_gc_pause_seconds")


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_promtool_accepts_scraped_metrics(tmp_path, scheme):
    """promtool check metrics passes on /metrics, in either naming scheme;
    the GC counters equal the workload's own gc.get_stats() window; each
    pause histogram is cumulative and agrees with the collection counter."""
    promtool = need("promtool")
    exe = interpreter_or_skip("3.12")
    n = SCHEMES[scheme]
    port = free_port()
    w = Workload([exe], tmp_path, "om")
    mm = None
    try:
        start, _ = w.barrier("START")
        mm = HostTrace(["--openmetrics", str(port), "--metric-names", scheme])
        mm.live([w.pid])
        w.go("START")
        end, _ = w.barrier("END")
        window = [[e - s for s, e in zip(a, b)] for a, b in zip(start, end)]
        text = scrape(port)      # the maps as they are now: the workload is idle at END
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        m = parse_metrics(text)
        for g in range(3):
            gen = {n["generation"]: g}
            for i, what in enumerate(("collections", "collected", "uncollectable")):
                got = series(m, n[what], pid=w.pid, **gen)
                assert list(got.values()) == [window[g][i]], (what, g, got, window)
            count = series(m, n["duration"] + "_count", pid=w.pid, **gen)
            assert list(count.values()) == [window[g][0]]
            buckets = sorted((float(dict(k[1])["le"]), v) for k, v in
                             series(m, n["duration"] + "_bucket", pid=w.pid, **gen).items())
            assert buckets[-1][0] == float("inf") and buckets[-1][1] == window[g][0]
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "cumulative"
        assert ("mmtrace_processes_seen_total", frozenset()) in m
        names = {k[0] for k in m}
        assert not [x for x in names if x.startswith(OLD_NAMES)], "the mmtrace_gc_* duplicates are gone"
        other = SCHEMES["otel" if scheme == "prometheus" else "prometheus"]
        assert not names & {other[k] for k in ("collections", "collected", "uncollectable")}
        assert exact_le_bounds(text, w.pid, n) == [Fraction(2 ** k - 1, 10 ** 9) for k in range(10, 37)]
    finally:
        w.finish()
        if mm:
            mm.finish()


def exact_le_bounds(text, pid, n):
    """The le bounds of generation 0's pause histogram of pid, in order, read
    as exact fractions of a second: a rounded bound differs from 2^k - 1 ns."""
    want = 'pid="%d",' % pid
    bounds = []
    for line in text.splitlines():
        if (line.startswith(n["duration"] + "_bucket{") and want in line
                and '%s="0"' % n["generation"] in line):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            if le != "+Inf":
                assert "e" not in le.lower(), "an exact decimal, not a float's exponent: %s" % le
                bounds.append(Fraction(le))
    return bounds


PROM_CLIENT_APP = r"""
import gc, sys
import prometheus_client

junk = []
for i in range(20000):
    a, b = [], []
    a.append(b)
    b.append(a)
    if i % 5000 == 0:
        gc.collect(1)
gc.collect()
gc.disable()     # no collection between its own reading of gc.get_stats() and mmtrace's
sys.stdout.write(prometheus_client.generate_latest().decode())
sys.stdout.write("END\n")
sys.stdout.flush()
sys.stdin.readline()
"""


def families(text, names):
    """{name: (help, type)} of the families named."""
    out = {}
    for line in text.splitlines():
        for kind in ("HELP", "TYPE"):
            head = "# %s " % kind
            if line.startswith(head):
                name, rest = line[len(head):].split(" ", 1)
                if name in names:
                    out.setdefault(name, {})[kind] = rest
    return out


def test_same_names_as_prometheus_client(tmp_path):
    """An app exporting prometheus_client's default GC collector and mmtrace
    watching it from outside serve the same families (name, HELP, TYPE),
    the same generation label, and the same values for that process."""
    prom_client_py = prom_client_or_skip()     # Debian's python3-prometheus-client is for it
    n = SCHEMES["prometheus"]
    port = free_port()
    mm = HostTrace(["--openmetrics", str(port)])
    warm = app = None
    try:
        # its interpreter file attached first, so that the app is counted from
        # its exec, like prometheus_client's own totals since start
        warm = subprocess.Popen([prom_client_py, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
        mm.live([warm.pid])
        app = subprocess.Popen([prom_client_py, "-c", PROM_CLIENT_APP], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        theirs = []
        for line in app.stdout:
            if line == "END\n":
                break
            theirs.append(line)
        theirs = "".join(theirs)
        r = mm.report(lambda r: row(r, app.pid) is not None)
        assert row(r, app.pid)["counts_absolute"], row(r, app.pid)
        ours = scrape(port)
        want = (n["collections"], n["collected"], n["uncollectable"])
        assert families(ours, want) == families(theirs, want) and len(families(theirs, want)) == 3
        mine, their = parse_metrics(ours), parse_metrics(theirs)
        for name in want:
            for g in range(3):
                t = series(their, name, generation=g)
                assert len(t) == 1 and set(dict(next(iter(t))[1])) == {"generation"}
                assert list(series(mine, name, pid=app.pid, generation=g).values()) == list(t.values()), (name, g)
        assert sum(series(their, n["collections"]).values()) > 0
    finally:
        for p in (app, warm):
            if p:
                p.kill()
                p.wait()
        mm.finish()


def nousdt_cells(*names):
    from test_nousdt import NOUSDT_MATRIX
    return [c for c in NOUSDT_MATRIX if c.name in names]


def scraped_window(cell, tmp_path):
    """/metrics once the workload of cell is idle at END, the row equal to its
    gc.get_stats() window: (metrics, text, pid, window, 3.15's whole stats at
    START and END or None)."""
    from test_nousdt import start
    require(cell)
    port = free_port()
    wl, mm = start(cell, tmp_path), None
    try:
        s, _ = wl.barrier("START")
        full_start = wl.full("START")
        mm = HostTrace(["--openmetrics", str(port)])
        assert row(mm.live([wl.pid]), wl.pid)["probe_method"] == cell.method
        wl.go("START")
        e, _ = wl.barrier("END")
        full_end = wl.full("END")
        window = deltas(s, e)
        # polled rows are read at each report
        mm.report(lambda r: row(r, wl.pid) and mm_triplets(row(r, wl.pid)) == window,
                  what="a row for %d equal to %s" % (wl.pid, window))
        text = scrape(port)
        assert (full_start is None) == (wl.version_minor < 15)
        check = subprocess.run([need("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        return parse_metrics(text), text, wl.pid, window, full_start and (full_start, full_end)
    finally:
        wl.finish()
        if mm:
            mm.finish()


def check_counters_and_candidates(m, pid, window, full):
    n = SCHEMES["prometheus"]
    for g in range(3):
        for i, what in enumerate(("collections", "collected", "uncollectable")):
            assert list(series(m, n[what], pid=pid, generation=g).values()) == [window[g][i]], (what, g)
        if full:
            cand = full[1][g]["candidates"] - full[0][g]["candidates"]
            assert cand > 0 or window[g][0] == 0, (g, cand)
            assert list(series(m, "python_gc_objects_candidates_total", pid=pid, generation=g).values()) == [cand]
    if not full:
        assert not [k for k in m if "candidates" in k[0] and ("pid", str(pid)) in k[1]]


@pytest.mark.parametrize("cell", nousdt_cells("pyenv-3.12-stripped", "sid-3.15-nousdt"), ids=lambda c: c.name)
def test_polled_rows_export_no_fake_pauses(cell, tmp_path):
    """A process read by polling: its counters equal its gc.get_stats()
    window; before 3.15 no duration series and no pause maximum (not zeros);
    on 3.15 the histogram is +Inf, _sum and _count, the sum its own duration
    deltas, and the candidates its own."""
    m, text, pid, window, full = scraped_window(cell, tmp_path)
    n = SCHEMES["prometheus"]
    check_counters_and_candidates(m, pid, window, full)
    mine = {k[0] for k in m if ("pid", str(pid)) in k[1]}
    assert "mmtrace_gc_pause_max_seconds" not in mine, "a polled process sees no single pause"
    if not full:
        assert not [x for x in mine if x.startswith(n["duration"])], sorted(mine)
        return
    for g in range(3):
        buckets = series(m, n["duration"] + "_bucket", pid=pid, generation=g)
        assert [dict(k[1])["le"] for k in buckets] == ["+Inf"] and list(buckets.values()) == [window[g][0]]
        assert list(series(m, n["duration"] + "_count", pid=pid, generation=g).values()) == [window[g][0]]
        dur = full[1][g]["duration"] - full[0][g]["duration"]
        got = list(series(m, n["duration"] + "_sum", pid=pid, generation=g).values())
        # the same doubles read from memory, to rounding (as test_nousdt)
        assert len(got) == 1 and abs(got[0] - dur) <= 1e-6, (g, got, dur)


@pytest.mark.parametrize("cell", nousdt_cells("sid-3.15-nousdt-dbg"), ids=lambda c: c.name)
def test_probed_315_exports_candidates_and_pauses(cell, tmp_path):
    """3.15 through uprobes: the candidates counter equals the interpreter's
    own, and the duration histogram has every bucket, its count the
    collections."""
    m, text, pid, window, full = scraped_window(cell, tmp_path)
    n = SCHEMES["prometheus"]
    check_counters_and_candidates(m, pid, window, full)
    for g in range(3):
        buckets = series(m, n["duration"] + "_bucket", pid=pid, generation=g)
        assert len(buckets) == 36 - 10 + 2 and max(buckets.values()) == window[g][0]
        assert list(series(m, n["duration"] + "_count", pid=pid, generation=g).values()) == [window[g][0]]
    assert exact_le_bounds(text, pid, n) == [Fraction(2 ** k - 1, 10 ** 9) for k in range(10, 37)]
    assert len(series(m, "mmtrace_gc_pause_max_seconds", pid=pid)) == 3


PROM_CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mmtrace
    static_configs:
      - targets: ['127.0.0.1:%d']
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:%d']
%s"""

# an app serving prometheus_client's default registry, GC collector included
PROM_CLIENT_SERVER = r"""
import sys, prometheus_client
prometheus_client.start_http_server(int(sys.argv[1]), addr="127.0.0.1")
print("ready", flush=True)
sys.stdin.readline()
"""


def readme_relabel_block():
    """The README's metric_relabel_configs example, indented for a job."""
    import textwrap
    from conftest import ROOT
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "metric_relabel_configs:" in block
    return textwrap.indent(textwrap.dedent(block), "    ")


def prom_client_or_skip():
    if subprocess.run([DEBIAN_PY, "-c", "import prometheus_client"]).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail("python3-prometheus-client is not installed (tools/install-deps.sh installs it)")
        pytest.skip("python3-prometheus-client is not installed")
    return DEBIAN_PY


def prom_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.loads(r.read())
    assert d["status"] == "success", d
    return [(s["metric"], float(s["value"][1])) for s in d["data"]["result"]]


def test_prometheus_server_scrapes_the_workloads_own_count(tmp_path):
    """A real Prometheus on loopback scrapes mmtrace every second; a query
    for the workload's pid returns its own gc.get_stats() total, and the
    prometheus_client query answers per generation. Next to it, an app's own
    prometheus_client GC series are dropped by the README's relabelling,
    leaving one series per generation of that app: mmtrace's."""
    prometheus = need("prometheus")
    app_py = prom_client_or_skip()
    mm_port, prom_port, app_port = free_port(), free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(PROM_CONFIG % (mm_port, app_port, readme_relabel_block()))
    mm = HostTrace(["--openmetrics", "127.0.0.1:%d" % mm_port])
    prom, w, app = None, None, None
    try:
        mm.report()
        app = subprocess.Popen([app_py, "-c", PROM_CLIENT_SERVER, str(app_port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        assert app.stdout.readline() == "ready\n"
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
                res = prom_query(prom_port, 'sum(python_gc_collections_total{pid="%d"})' % w.pid)
                got = res[0][1] if res else None
            except OSError:
                got = None          # still starting
            if got == total:
                break
            time.sleep(0.5)
        assert got == total, (got, total, prom.poll())
        per_gen = {int(m["generation"]): v for m, v in
                   prom_query(prom_port, 'python_gc_collections_total{pid="%d"}' % w.pid)}
        assert per_gen == {g: float(end[g][0]) for g in range(3)}
        # the query of a prometheus_client dashboard: rate() needs a second
        # sample of every series, a scrape interval away
        rates, deadline = [], time.monotonic() + 30
        while len(rates) < 3 and time.monotonic() < deadline:
            rates = prom_query(prom_port, 'sum by (generation) (rate(python_gc_collections_total[1m]))')
            time.sleep(0.5)
        assert sorted(m["generation"] for m, _ in rates) == ["0", "1", "2"], rates
        assert all(set(m) == {"generation"} and v >= 0 for m, v in rates), rates
        # the app is scraped (its other series are there), its GC series are not
        scraped, deadline = [], time.monotonic() + 30
        while not scraped and time.monotonic() < deadline:
            scraped = prom_query(prom_port, 'python_info{job="app"}')
            time.sleep(0.5)
        assert scraped, "the app's target was never scraped"
        assert prom_query(prom_port, '{job="app",__name__=~"python_gc_.*"}') == []
        mine = prom_query(prom_port, 'python_gc_collections_total{pid="%d"}' % app.pid)
        assert sorted((m["job"], m["generation"]) for m, _ in mine) == [("mmtrace", str(g)) for g in range(3)]
    finally:
        if app:
            app.kill()
            app.wait()
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
    (["--openmetrics", "9464", "--metric-names", "OTEL"], "invalid --metric-names 'OTEL': prometheus or otel"),
    (["--openmetrics", "9464", "--metric-names="], "invalid --metric-names '': prometheus or otel"),
    (["--metric-names", "otel"], "--metric-names goes with --openmetrics or --openmetrics-file"),
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
