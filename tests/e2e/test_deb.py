"""make deb builds a Debian package that lintian passes, that installs into a
throwaway bookworm root, whose unit systemd-analyze verifies, and whose
service command line, run with exactly the unit's capabilities, serves the
metrics of a process of another user."""
import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import DEBIAN_PY, ROOT, free_port

DEB_ROOT = "/var/lib/mmtrace/deb-root"
TOOLS = ["dpkg-buildpackage", "dh", "lintian", "debootstrap", "systemd-analyze", "setpriv", "unshare"]
# lintian tags that are accepted, each with why (README, "Running as a service")
LINTIAN_ALLOWED = set()


def need(cond, why):
    """A missing prerequisite is a skip that names it, and a failure under CI."""
    if not cond:
        if os.environ.get("CI") == "true":
            pytest.fail("package test missing under CI: " + why)
        pytest.skip(why)


def version():
    return subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(ROOT, "debian", "changelog"),
                           "-S", "Version"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def deb():
    need(os.geteuid() == 0, "the package test runs as root")
    missing = [t for t in TOOLS if not shutil.which(t)]
    need(not missing, "missing %s (tools/install-deps.sh)" % " ".join(missing))
    t = time.monotonic()
    r = subprocess.run(["make", "-s", "deb"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    arch = subprocess.run(["dpkg-architecture", "-q", "DEB_HOST_ARCH"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(ROOT, "build", "mmtrace_%s_%s.deb" % (version(), arch))
    assert os.path.isfile(path), r.stdout
    print("make deb: %.1f s" % (time.monotonic() - t))
    return path


@pytest.fixture(scope="module")
def tree(deb, tmp_path_factory):
    """The package's files, unpacked."""
    d = tmp_path_factory.mktemp("deb") / "tree"
    subprocess.run(["dpkg-deb", "-x", deb, str(d)], check=True)
    return d


def test_version_has_one_value(tree):
    """debian/changelog names the version the program and its man page print."""
    v = version()
    out = subprocess.run([str(tree / "usr/sbin/mmtrace"), "--version"], capture_output=True, text=True).stdout
    assert out.split() == ["mmtrace", v], out
    th = open(os.path.join(ROOT, "man", "mmtrace.8")).readline()
    assert '"mmtrace %s"' % v in th, th


def test_lintian_passes(deb):
    """No error and no warning on the .deb, the dbgsym package and the .changes."""
    changes = re.sub(r"\.deb$", ".changes", deb)
    r = subprocess.run(["lintian", "--pedantic", changes], capture_output=True, text=True, timeout=300)
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
    bad = [line for line in tags if line.split()[2] not in LINTIAN_ALLOWED]
    assert r.returncode in (0, 1) and "No packages selected" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert not bad, "\n".join(bad)


INSTALL = r"""
set -eu
o=$1
mount -t overlay overlay -o lowerdir=%(root)s,upperdir=$o/upper,workdir=$o/work $o/merged
r=$o/merged
cp "$2" $r/tmp/mmtrace.deb
chroot $r dpkg -i /tmp/mmtrace.deb >$o/dpkg.log 2>&1 || { cat $o/dpkg.log; exit 1; }
echo "VERSION $(chroot $r /usr/sbin/mmtrace --version)"
echo "STATUS $(chroot $r dpkg-query -W -f='${Status}' mmtrace)"
chroot $r dpkg-query -W -f='${Conffiles}\n' mmtrace | sed 's/^/CONFFILE/'
for f in /usr/sbin/mmtrace /usr/share/man/man8/mmtrace.8.gz /lib/systemd/system/mmtrace.service \
         /etc/default/mmtrace; do
	[ -f $r$f ] && echo "FILE $f"
done
echo "ENABLED $(ls $r/etc/systemd/system/multi-user.target.wants 2>/dev/null | grep -c mmtrace || true)"
chroot $r dpkg --purge mmtrace >>$o/dpkg.log 2>&1 || { cat $o/dpkg.log; exit 1; }
for f in /usr/sbin/mmtrace /lib/systemd/system/mmtrace.service /etc/default/mmtrace; do
	[ -e $r$f ] && echo "LEFT $f"
done
echo DONE
"""


def test_installs_into_a_throwaway_root(deb, tmp_path):
    """dpkg -i into an overlay over a bookworm minbase root, in a private mount
    namespace: nothing of it persists, the base root is never written."""
    r = subprocess.run([os.path.join(ROOT, "tools", "make-deb-root.sh"), DEB_ROOT],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    for d in ("upper", "work", "merged"):
        (tmp_path / d).mkdir()
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", INSTALL % {"root": DEB_ROOT},
                        "install", str(tmp_path), deb], capture_output=True, text=True, timeout=300)
    out = r.stdout
    assert r.returncode == 0 and "DONE" in out, out + r.stderr
    assert "VERSION mmtrace %s" % version() in out, out
    assert "STATUS install ok installed" in out, out
    for f in ("/usr/sbin/mmtrace", "/usr/share/man/man8/mmtrace.8.gz", "/lib/systemd/system/mmtrace.service",
              "/etc/default/mmtrace"):
        assert "FILE " + f in out, (f, out)
    assert re.search(r"^CONFFILE ?/etc/default/mmtrace [0-9a-f]{32}$", out, re.M), out
    # installed disabled: the administrator enables it
    assert "ENABLED 0" in out, out
    assert "LEFT" not in out, out
    # the overlay went with the namespace
    assert not os.listdir(tmp_path / "merged")


def test_unit_verifies(tree, tmp_path):
    """systemd-analyze verify, with the packaged binary at its installed path
    (an overlay on /usr/sbin in a private mount namespace) and the man page
    its Documentation= names."""
    unit = tree / "lib/systemd/system/mmtrace.service"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        "mount -t overlay overlay -o lowerdir=%s/usr/sbin:/usr/sbin /usr/sbin && "
                        "exec systemd-analyze verify %s" % (tree, unit)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=str(tree / "usr/share/man")))
    assert r.returncode == 0 and r.stderr == "", r.stderr


def unit_settings(path):
    settings = {}
    for line in open(path):
        m = re.match(r"([A-Za-z]+)=(.*)", line.strip())
        if m:
            settings[m.group(1)] = m.group(2)
    return settings


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def test_service_command_serves_metrics(tree):
    """The unit's ExecStart with the default file's options, run under the
    unit's CapabilityBoundingSet and NoNewPrivileges (setpriv does what
    systemd does for a root service): a CPython process of another user is
    traced, its collections counted."""
    need(os.access(DEBIAN_PY, os.X_OK), "%s is not installed" % DEBIAN_PY)
    unit = unit_settings(tree / "lib/systemd/system/mmtrace.service")
    env_file = tree / unit["EnvironmentFile"].lstrip("-").lstrip("/")
    opts = subprocess.run(["sh", "-c", '. "$1"; printf %s "$MMTRACE_OPTS"', "sh", str(env_file)],
                          capture_output=True, text=True, check=True).stdout
    assert opts == "--openmetrics 127.0.0.1:9464", opts
    # another port: 9464 may be taken on the machine that runs the tests
    port = free_port()
    opts = opts.replace("9464", str(port))
    argv = []
    for word in shlex.split(unit["ExecStart"]):
        argv += shlex.split(opts) if word == "$MMTRACE_OPTS" else [word]
    assert argv[0] == "/usr/sbin/mmtrace", argv
    argv[0] = str(tree / "usr/sbin/mmtrace")
    caps = [c.lower().replace("cap_", "") for c in unit["CapabilityBoundingSet"].split()]
    assert unit["NoNewPrivileges"] == "yes"
    # the workload: another user's process, which collects on each line it reads
    w = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DEBIAN_PY, "-c",
                          "import gc, sys\n"
                          "for line in sys.stdin:\n"
                          "    for _ in range(3): gc.collect()\n"
                          "    print('done', flush=True)\n"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    mm = None
    try:
        time.sleep(0.2)
        assert w.poll() is None
        mm = subprocess.Popen(["setpriv", "--bounding-set", "-all" + "".join(",+" + c for c in caps),
                               "--inh-caps", "-all", "--no-new-privs"] + argv,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the first answer comes once the host scan has attached
        deadline = time.monotonic() + 60
        while True:
            assert mm.poll() is None, mm.stderr.read()
            try:
                scrape(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "no /metrics within 60 s"
                time.sleep(0.2)
        w.stdin.write("go\n")
        w.stdin.flush()
        assert w.stdout.readline() == "done\n"
        text = scrape(port)
        counts = re.findall(r'^python_gc_collections_total\{[^}]*pid="%d"[^}]*generation="2"[^}]*\} (\S+)' % w.pid,
                            text, re.M) or \
            re.findall(r'^python_gc_collections_total\{[^}]*generation="2"[^}]*pid="%d"[^}]*\} (\S+)' % w.pid,
                       text, re.M)
        assert counts and float(counts[0]) >= 3, [l for l in text.splitlines() if 'pid="%d"' % w.pid]
    finally:
        w.kill()
        w.wait()
        if mm:
            mm.terminate()
            mm.wait(timeout=20)
    # nothing goes to the journal but mmtrace's warnings
    assert mm.stdout.read() == ""
    assert mm.returncode == 0
