#!/bin/sh
# Installs the Debian packages mmtrace's build, demo and tests need, and only
# those that are missing. Safe to run again.
set -eu
PKGS="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev \
      libcmocka-dev python3-pytest python3.11 systemtap-sdt-dev util-linux binutils libdw-dev"
# The test matrix covers Debian's python3.11 with its build-id debug file too;
# the matrix cell without it points mmtrace at an empty --debug-dir.
PKGS="$PKGS python3.11-dbg"
# the system-wide tests trace a real pre-fork server
PKGS="$PKGS gunicorn"
# CPython's own regression tests are run under tracing
PKGS="$PKGS libpython3.11-testsuite"
# the exports are checked by their real consumers: promtool and a Prometheus server
PKGS="$PKGS prometheus groff-base"
# mmtrace's GC series are compared with prometheus_client's own, in one process
PKGS="$PKGS python3-prometheus-client"
# tools/bench_alloc.py renders Django templates, the realistic workload
PKGS="$PKGS python3-django"
# --pprof: protobuf-c and pprof's profile.proto to build; go tool pprof reads it back in the tests
PKGS="$PKGS libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev golang-go"
# the sid root of the matrix (python3.13/3.14/3.15) is made with debootstrap
PKGS="$PKGS debootstrap"
# make deb and its test: the Debian tooling, lintian, setpriv and systemd-analyze
PKGS="$PKGS debhelper dpkg-dev lintian systemd"
# every --json line of the e2e tests is checked against docs/mmtrace.schema.json
PKGS="$PKGS python3-jsonschema"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
# the current CPythons, with their debug files, in their own root
exec "$(dirname "$0")/make-sid-root.sh"
