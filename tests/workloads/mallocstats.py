"""sys._debugmallocstats() output, parsed: the shared reader of the
workloads that compare mmtrace with it."""
import re


def parse_mallocstats(text):
    """{"allocated total"|"reclaimed"|"highwater mark"|"allocated current": n,
    "classes": {class: [block size, pools, blocks in use, avail blocks]},
    "pools": {block size: [class, pools]}}"""
    out = {"classes": {}, "pools": {}}
    for line in text.splitlines():
        m = re.match(r"# arenas (allocated total|reclaimed|highwater mark|allocated current)\s*=\s*([\d,]+)", line)
        if m:
            out[m.group(1)] = int(m.group(2).replace(",", ""))
        m = re.match(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m:
            cls, size, pools, used, avail = (int(g) for g in m.groups())
            out["classes"][str(cls)] = [size, pools, used, avail]
            out["pools"][str(size)] = [cls, pools]
    return out
