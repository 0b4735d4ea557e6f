"""--probes says what a hit costs at each site: one trap where Linux emulates
the probed instruction, a single-step otherwise. Checked against binutils'
own disassembly of the same address in the same file, on every cell of the
matrix, with every site the exact level and growth plan (GC, arenas, pools,
allocators, deallocations, type allocations)."""
import json
import os
import re
import subprocess

import pytest

from conftest import MATRIX, MMTRACE, require
from test_sid import SID, SID_MATRIX

CELLS = MATRIX + SID_MATRIX
OBJDUMP = "/usr/bin/objdump"


@pytest.fixture(params=CELLS, ids=[c.name for c in CELLS])
def cell(request):
    require(request.param)
    return request.param


def first_instruction(path, vaddr):
    r = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", "--start-address=%#x" % vaddr,
                        "--stop-address=%#x" % (vaddr + 16), path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        m = re.match(r"\s*%x:\s+(.*)$" % vaddr, line)
        if m:
            return m.group(1).strip()
    raise AssertionError("objdump shows no instruction at %#x in %s:\n%s" % (vaddr, path, r.stdout))


def emulated_by_linux(text):
    """Linux 6.16+'s rules (this machine's kernel), read from the mnemonic:
    push of a register, direct jmp/call, jcc, and nops."""
    words = text.split()
    mnemonic = words[0]
    operand = words[1] if len(words) > 1 else ""
    if mnemonic in ("push",):
        return operand.startswith("%")
    if mnemonic in ("jmp", "call"):
        return not operand.startswith("*")
    if re.fullmatch(r"j(?!mp)[a-z]+", mnemonic):
        return True
    return mnemonic.startswith("nop") or text == "xchg   %ax,%ax"


def test_probes_price_each_site_as_binutils_reads_it(cell):
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    if (major, minor) < (6, 16):
        pytest.skip("multi-byte nops are single-stepped before Linux 6.16: this check assumes 6.16+")
    argv = [MMTRACE, "--probes", "--json", "--alloc=exact"] + cell.extra_args
    exe = cell.exe
    if cell.name.startswith("sid-"):
        argv += ["--debug-dir", SID + "/usr/lib/debug"]
        exe = SID + cell.exe
    r = subprocess.run(argv + ["--", exe, "-c", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["targets"][0]
    path = t["binary"]
    assert os.path.isfile(path), path
    kinds = set()
    for s in t["sites"]:
        text = first_instruction(path, s["vaddr"])
        expect = "one trap" if emulated_by_linux(text) else "single-step"
        assert s["trap"] == expect, (s, text)
        kinds.add(expect)
        if s["kind"] == "usdt":
            assert s["trap"] == "one trap" and s["instruction"] == "nop", s
    # every cell has both: the collector's push or USDT's nop, the allocators' mov or test
    assert kinds == {"one trap", "single-step"}, kinds
