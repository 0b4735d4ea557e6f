#!/usr/bin/python3
"""Cost of --alloc=growth and --alloc=exact, side by side in one run.

For each workload and interpreter, the hot loop is timed in-process
(perf_counter): untraced, under `mmtrace --alloc=growth` (GC probes plus
pymalloc's slow paths), under `mmtrace --alloc=exact` (every allocator call,
per-type deallocations) and under in-process tracemalloc (-X
tracemalloc=1, the peer that sees every allocation). mmtrace traces from the
first instruction (-- CMD). The exact level runs the loop SMALL times
fewer iterations (it would take minutes otherwise) and is compared with an
untraced run of the same size. Rounds alternate so that drift of the
machine hits every mode; medians and ratios against untraced are printed.

  alloc:  allocation-heavy churn (dicts, lists, tuples), and every 50k
          iterations a heap grown by 20 MB and released
  json:   JSON round-trips of a 200-entry document
  django: Django template rendering (Debian's python3-django; interpreters
          that cannot import it are listed as skipped, with the reason)

BENCH_ROUNDS (default 3), BENCH_QUICK=1 (the last three interpreters) and
BENCH_WORKLOADS=alloc,json,django choose what runs.
"""
import glob
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMTRACE = os.path.join(ROOT, "build", "mmtrace")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SMALL = 20
DIST_PACKAGES = "/usr/lib/python3/dist-packages"

WORKLOADS = {
    "alloc": (300000, r"""
import sys, time
t = time.perf_counter()
keep = []
for i in range(int(sys.argv[1])):
    d = {"a": i, "b": [i, i + 1], "c": (i, str(i))}
    keep.append(d)
    if len(keep) > 1000:
        keep.clear()
    if i % 50000 == 0:
        big = [bytes(399) for _ in range(50000)]
        del big
print(time.perf_counter() - t)
"""),
    "json": (1500, r"""
import json, sys, time
doc = {"items": [{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "price": i * 1.5}
                 for i in range(200)]}
t = time.perf_counter()
for _ in range(int(sys.argv[1])):
    json.loads(json.dumps(doc))
print(time.perf_counter() - t)
"""),
    "django": (300, r"""
import sys, time
import django
from django.conf import settings
settings.configure(TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}])
django.setup()
from django.template import Context, Template
page = Template("<table>{% for row in rows %}<tr>{% for c in row %}<td>{{ c|upper }}</td>"
                "{% endfor %}</tr>{% endfor %}</table>")
rows = [["cell%d" % j for j in range(10)] for _ in range(50)]
t = time.perf_counter()
for _ in range(int(sys.argv[1])):
    page.render(Context({"rows": rows}))
print(time.perf_counter() - t)
"""),
}


def interpreters():
    exes = [e for e in (os.path.join(d, "bin", "python3." + d.rsplit(".", 2)[-2])
                        for d in sorted(glob.glob("/root/.pyenv/versions/3.1[0-9].*")))
            if os.access(e, os.X_OK)]
    if os.access("/usr/bin/python3.11", os.X_OK):
        exes.append("/usr/bin/python3.11")
    return exes[-3:] if os.environ.get("BENCH_QUICK") else exes


def env_for(name):
    """Debian's Django for pyenv interpreters too, where it imports."""
    return dict(os.environ, PYTHONPATH=DIST_PACKAGES) if name == "django" else None


def cannot_run(name, exe, code):
    """The workload once, one iteration: what a skip says when it fails."""
    r = subprocess.run([exe, "-c", code, "1"], capture_output=True, text=True, env=env_for(name))
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return ("python3-django does not run: " if name == "django" else "fails: ") + last
    return None


def run(mode, exe, name, code, iters):
    argv = [exe, "-c", code, str(iters)]
    if mode == "tracemalloc":
        argv = [exe, "-X", "tracemalloc=1", "-c", code, str(iters)]
    elif mode in ("growth", "exact"):
        argv = [MMTRACE, "--alloc=" + mode, "--json", "-o", "/tmp/bench_alloc.json", "600", "--"] + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env_for(name))
    if r.returncode:
        sys.exit("%s failed: %s" % (" ".join(argv[:6]), r.stderr[-500:]))
    calls = None
    if mode == "exact":
        with open("/tmp/bench_alloc.json") as f:
            dom = json.loads(f.read().splitlines()[-1])["processes"][0]["alloc_exact"]["domains"]
        calls = sum(sum(dom[d][k] for k in ("malloc", "calloc", "realloc", "free")) for d in dom)
    return float(r.stdout.split()[-1]), calls


def measure(exe, name, code, full):
    plan = [("untraced", full), ("growth", full), ("tracemalloc", full),
            ("untraced-small", full // SMALL), ("exact", full // SMALL)]
    times = {m: [] for m, _ in plan}
    calls = None
    for _ in range(ROUNDS):
        for mode, iters in plan:
            t, c = run(mode.split("-")[0], exe, name, code, iters)
            times[mode].append(t)
            calls = c or calls
    return {m: statistics.median(v) for m, v in times.items()}, calls


def main():
    if not os.access(MMTRACE, os.X_OK):
        sys.exit("build mmtrace first (make)")
    print("%-7s %-38s %9s %8s %8s %8s  %s" % ("work", "interpreter", "untraced", "growth x", "tracem x",
                                              "exact x", "(exact: 1/%d of the loop; allocator calls seen "
                                              "in that run, start-up included)" % SMALL))
    only = os.environ.get("BENCH_WORKLOADS", "").split(",") if os.environ.get("BENCH_WORKLOADS") else None
    for name, (full, code) in WORKLOADS.items():
        if only and name not in only:
            continue
        for exe in interpreters():
            why = cannot_run(name, exe, code)
            if why:
                print("%-7s %-38s skipped: %s" % (name, exe, why))
                continue
            med, calls = measure(exe, name, code, full)
            print("%-7s %-38s %8.3fs %8.2f %8.2f %8.1f  %s calls" % (
                name, exe, med["untraced"], med["growth"] / med["untraced"],
                med["tracemalloc"] / med["untraced"], med["exact"] / med["untraced-small"], calls))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
