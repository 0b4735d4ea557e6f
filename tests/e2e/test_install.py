"""make install (PREFIX respected) installs the binary and the man page; the
man page and --help document every use."""
import os
import subprocess

from conftest import MMTRACE, ROOT


def test_make_install_respects_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "-s", "install", "PREFIX=%s" % prefix], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    exe, man = prefix / "sbin" / "mmtrace", prefix / "share" / "man" / "man8" / "mmtrace.8"
    assert os.access(exe, os.X_OK) and man.is_file()
    assert subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.startswith("mmtrace ")
    # the page renders without a single groff warning
    g = subprocess.run(["groff", "-man", "-ww", "-z", str(man)], capture_output=True, text=True)
    assert g.returncode == 0 and g.stderr == "", g.stderr


def test_help_and_man_page_cover_every_use():
    help_text = subprocess.run([MMTRACE, "--help"], capture_output=True, text=True).stdout
    man = open(os.path.join(ROOT, "man", "mmtrace.8")).read()
    for use in ("-p 1234", "-- python3", "--openmetrics 9464", "--trace gc.json", "-H", "--min-pause",
                "--openmetrics-file"):
        assert use in help_text, use
    for opt in ("openmetrics", "openmetrics\\-file", "metrics\\-grace", "trace", "events\\-kib", "min\\-pause",
                "merge", "probes", "no\\-usdt", "debug\\-dir"):
        assert "\\-\\-" + opt in man, opt
