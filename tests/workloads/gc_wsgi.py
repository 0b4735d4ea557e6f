"""WSGI app for the gunicorn test: /work makes cyclic garbage and collects,
every path answers with the worker's pid and its own gc.get_stats()."""
import gc
import json
import os


def make_garbage():
    for _ in range(3000):
        a = []
        b = [a]
        a.append(b)
    gc.collect(0)


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/work":
        make_garbage()
    stats = [[s["collections"], s["collected"], s["uncollectable"]] for s in gc.get_stats()]
    body = json.dumps({"pid": os.getpid(), "stats": stats}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
