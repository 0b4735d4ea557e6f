#!/usr/bin/python3
"""A production-like service under mmtrace: latency and throughput side by side.

A Django view (Debian's python3-django: a template of 50 rows by 10 cells,
plus a small object graph with cycles per request, the garbage a real
request leaves) served by Debian's gunicorn (sync workers, Debian's
python3.11) on 127.0.0.1, driven by ApacheBench (Debian's apache2-utils) on
the same loopback. Each mode runs in turn, in interleaved rounds so that a
drift of the machine spreads over every mode; the median round of each is
printed with its ratio to the untraced one:

  untraced             nothing attached
  gc                   mmtrace -p WORKER...   (USDT on Debian's build)
  gc (system-wide)     mmtrace                (every CPython process)
  poll                 mmtrace --poll -p ...  (no probe in the target)
  growth               mmtrace --alloc=growth -p ...
  growth + stacks      mmtrace --alloc=growth --stacks -p ...

and the collections mmtrace counted over the run, to show it was working.
The load generator shares the machine's CPUs with the server: the ratios,
not the absolute figures, are the result.

Environment: BENCH_REQUESTS (per round, default 3000), BENCH_ROUNDS (3),
BENCH_CONCURRENCY (4), BENCH_WORKERS (2).
"""
import csv
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
GUNICORN = "/usr/bin/gunicorn"
AB = "/usr/bin/ab"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))

APP = r'''
import django
from django.conf import settings

settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="bench",
                   TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}])
django.setup()

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path

PAGE = Template("<table>{% for row in rows %}<tr>{% for c in row %}<td>{{ c|upper }}</td>"
                "{% endfor %}</tr>{% endfor %}</table>")


class Node:
    def __init__(self, parent):
        self.parent, self.children = parent, []
        if parent is not None:
            parent.children.append(self)


def view(request):
    root = Node(None)
    for i in range(200):            # a tree whose parent links make cycles
        Node(root if i % 10 == 0 else root.children[-1])
    rows = [["cell%d-%d" % (i, j) for j in range(10)] for i in range(50)]
    return HttpResponse(PAGE.render(Context({"rows": rows})))


urlpatterns = [path("", view)]
application = get_wsgi_application()
'''

MODES = [
    ("untraced", None),
    ("gc", []),
    ("gc (system-wide)", "all"),
    ("poll", ["--poll"]),
    ("growth", ["--alloc=growth"]),
    ("growth + stacks", ["--alloc=growth", "--stacks"]),
]


def missing():
    for exe, pkg in ((GUNICORN, "gunicorn"), (AB, "apache2-utils"), (MMTRACE, None)):
        if not os.access(exe, os.X_OK):
            return "%s is missing (%s)" % (exe, "apt-get install " + pkg if pkg else "make")
    r = subprocess.run(["/usr/bin/python3", "-c", "import django"], capture_output=True)
    return "python3-django is missing (apt-get install python3-django)" if r.returncode else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    kids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
            kids += [int(x) for x in f.read().split()]
    return kids


class Server:
    def __init__(self, appdir):
        self.port = free_port()
        self.p = subprocess.Popen([GUNICORN, "--workers", str(WORKERS), "--bind", "127.0.0.1:%d" % self.port,
                                   "--chdir", appdir, "--log-level", "warning", "app:application"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(children(self.p.pid)) == WORKERS and self.answers():
                break
            time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not come up")
        self.workers = children(self.p.pid)

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/1.")
        except OSError:
            return False

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


class Tracer:
    """mmtrace --json in one mode, up once its first report is out."""

    def __init__(self, mode, workers):
        argv = [MMTRACE, "--json", "1"]
        if mode != "all":
            argv += mode + [a for w in workers for a in ("-p", str(w))]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.workers, self.last = set(workers), None
        self.first = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.first.wait(60):
            raise SystemExit("mmtrace %s: no report: %s" % (mode, self.p.stderr.read()))

    def _read(self):
        for line in self.p.stdout:
            d = json.loads(line)
            if "processes" in d:
                self.last = d
                self.first.set()

    def collections(self):
        """What mmtrace counted in the workers, from its final report."""
        self.p.send_signal(2)
        self.p.wait(timeout=60)
        time.sleep(0.2)
        rows = [r for r in self.last["processes"] if r["pid"] in self.workers]
        return sum(sum(r["gc"]["collections"]) for r in rows)


def ab(port, n, csv_path):
    """Requests/s, and p50/p99 in ms from ab's percentile table (-e, to the us)."""
    r = subprocess.run([AB, "-q", "-n", str(n), "-c", str(CONCURRENCY), "-e", csv_path,
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit("ab failed: %s" % r.stderr)
    failed = int(re.search(r"Failed requests:\s+(\d+)", r.stdout).group(1))
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", r.stdout).group(1))
    with open(csv_path) as f:
        pct = {int(float(row[0])): float(row[1]) for row in csv.reader(f) if row and row[0][0].isdigit()}
    return rps, pct[50], pct[99], failed


def main():
    why = missing()
    if why:
        print("bench_service: " + why)
        return 1
    appdir = tempfile.mkdtemp(prefix="mmtrace-bench-")
    with open(os.path.join(appdir, "app.py"), "w") as f:
        f.write(APP)
    srv = Server(appdir)
    results = {name: [] for name, _ in MODES}
    counted = {name: 0 for name, _ in MODES}
    try:
        ab(srv.port, 500, os.path.join(appdir, "warm.csv"))      # imports, template cache
        for rnd in range(ROUNDS):
            for name, mode in MODES:
                tracer = Tracer(mode, srv.workers) if mode is not None else None
                rps, p50, p99, failed = ab(srv.port, REQUESTS, os.path.join(appdir, "ab.csv"))
                if tracer:
                    counted[name] += tracer.collections()
                if failed:
                    raise SystemExit("%s: %d requests failed" % (name, failed))
                results[name].append((rps, p50, p99))
                print("round %d %-18s %7.1f req/s  p50 %6.2f ms  p99 %6.2f ms" % (rnd + 1, name, rps, p50, p99),
                      file=sys.stderr)
    finally:
        srv.stop()
        shutil.rmtree(appdir, ignore_errors=True)

    def median(name, i):
        return statistics.median(r[i] for r in results[name])

    base = [median("untraced", i) for i in range(3)]
    print("gunicorn (%d sync workers, Debian python3.11) + Django view; ab -c %d, %d requests x %d rounds, "
          "median round; ratio to untraced" % (WORKERS, CONCURRENCY, REQUESTS, ROUNDS))
    print("%-18s %12s %8s %12s %8s %12s %8s %12s" % ("mode", "req/s", "ratio", "p50 ms", "ratio", "p99 ms", "ratio",
                                                    "GCs counted"))
    for name, mode in MODES:
        m = [median(name, i) for i in range(3)]
        print("%-18s %12.1f %8.3f %12.2f %8.3f %12.2f %8.3f %12s" %
              (name, m[0], m[0] / base[0], m[1], m[1] / base[1], m[2], m[2] / base[2],
               "-" if mode is None else counted[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
