"""Runs CPython's own regression tests (Debian's libpython3.11-testsuite)
in this process, then prints this process's arena counts (from
sys._debugmallocstats()) and gc.get_stats(), and exits with regrtest's
status, skipping interpreter shutdown so nothing changes after the print."""
import gc
import json
import os
import sys

from test.libregrtest.main import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from growth_workload import mallocstats  # noqa: E402

try:
    main(tests=sys.argv[1:])
    status = 0
except SystemExit as e:
    status = e.code if isinstance(e.code, int) else 1
arenas = mallocstats()
stats = [[s["collections"], s["collected"], s["uncollectable"]] for s in gc.get_stats()]
sys.stdout.flush()
compact = (",", ":")   # no spaces: the line splits on them
sys.stderr.write("MMTRACE_STATS %d %s %s\n" % (os.getpid(), json.dumps(stats, separators=compact),
                                               json.dumps([arenas["allocated total"], arenas["reclaimed"]],
                                                          separators=compact)))
sys.stderr.flush()
os._exit(status)
