"""Runs CPython's own regression tests (Debian's libpython3.11-testsuite)
in this process, then prints this process's gc.get_stats() and exits with
regrtest's status, skipping interpreter shutdown so nothing collects after
the print."""
import gc
import json
import os
import sys

from test.libregrtest.main import main

try:
    main(tests=sys.argv[1:])
    status = 0
except SystemExit as e:
    status = e.code if isinstance(e.code, int) else 1
stats = [[s["collections"], s["collected"], s["uncollectable"]] for s in gc.get_stats()]
sys.stdout.flush()
sys.stderr.write("MMTRACE_STATS %d %s\n" % (os.getpid(), json.dumps(stats)))
sys.stderr.flush()
os._exit(status)
