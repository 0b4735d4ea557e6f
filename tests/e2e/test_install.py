"""make install (PREFIX respected) installs the binary and the man page; the
man page and --help document every use."""
import os
import re
import subprocess

from conftest import MMTRACE, ROOT


def test_make_install_respects_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "-s", "install", "PREFIX=%s" % prefix], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    exe, man = prefix / "sbin" / "mmtrace", prefix / "share" / "man" / "man8" / "mmtrace.8"
    assert os.access(exe, os.X_OK) and man.is_file()
    # the service, its unit naming the binary and the default file under the prefix
    unit, default = prefix / "lib" / "systemd" / "system" / "mmtrace.service", prefix / "etc" / "default" / "mmtrace"
    assert default.is_file() and "MMTRACE_OPTS=" in default.read_text()
    text = unit.read_text()
    assert "\nExecStart=%s --output /dev/null $MMTRACE_OPTS\n" % exe in text, text
    assert "\nEnvironmentFile=-%s\n" % default in text, text
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


def program_options():
    """Every option of the program, from argp's own --usage (generated from
    the option table): (long names, short letters)."""
    usage = subprocess.run([MMTRACE, "--usage"], capture_output=True, text=True).stdout
    longs = set(re.findall(r"\[--([a-z][a-z0-9-]*)", usage))
    shorts = set(re.findall(r"\[-([A-Za-z?])[ \]]", usage))        # [-c CMD], [-p PID]
    for cluster in re.findall(r"\[-([A-Za-z?]{2,})\]", usage):      # [-aHjv?V]
        shorts.update(cluster)
    return longs, shorts


def man_options_section():
    """The man page's OPTIONS section as it reads, with \\- as -."""
    man = open(os.path.join(ROOT, "man", "mmtrace.8")).read()
    section = man.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    return section.replace("\\-", "-")


def readme_option_table():
    lines = open(os.path.join(ROOT, "README.md")).read().splitlines()
    i = lines.index("| option | meaning |")
    table = []
    for line in lines[i:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table)


def test_every_option_is_documented():
    """Each option argp knows (its --usage, from the option table) is in the
    man page's OPTIONS section and in the README's option table."""
    longs, shorts = program_options()
    assert {"pid", "alloc", "trace", "help", "version"} <= longs and {"p", "H", "?"} <= shorts, (longs, shorts)
    docs = {"man page": man_options_section(), "README": readme_option_table()}
    missing = []
    for where, text in docs.items():
        missing += ["--%s in the %s" % (o, where) for o in sorted(longs)
                    if not re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(o), text)]
        missing += ["-%s in the %s" % (o, where) for o in sorted(shorts)
                    if not re.search(r"(?<![\w-])-%s(?![\w-])" % re.escape(o), text)]
    assert not missing, missing
