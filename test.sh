#!/usr/bin/env bash
# Run voxpop's whole test suite, installing what the tests need first (ffmpeg, Debian's
# Chromium headless shell for the real-browser kiosk tests, WebKitGTK + Xvfb + GStreamer for
# the WebKit engine tests, the Python test dependencies).
# Usage: ./test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh

ensure_python
mkdir -p tests/.tmp

# Scratch space (test instances, media, browser profiles: about a gigabyte, written and
# fsync'd over and over) on a RAM disk when the machine has one with 4 GB to spare, which
# takes about a sixth off the run; else tests/.tmp. It is removed after a passing run and kept
# after a failing one, for a look at what the failing test left. VOXPOP_TEST_TMP chooses.
if [ -z "${VOXPOP_TEST_TMP:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] \
    && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 4000000 ]; then
  VOXPOP_TEST_TMP="/dev/shm/voxpop-tests-$(id -u)-$(printf '%s' "$PWD" | sha256sum | cut -c1-12)"
  scratch_is_ram=1
fi
export VOXPOP_TEST_TMP="${VOXPOP_TEST_TMP:-$PWD/tests/.tmp}"
mkdir -p "$VOXPOP_TEST_TMP"

# What the tests need from Debian, in one apt-get run in the background (one dpkg run instead
# of five is quicker too), with a package at a time as the fallback if that run fails. On a
# fresh machine it takes about a minute (ffmpeg, Chromium's headless shell, WebKitGTK and
# GStreamer: 223 packages), where the Python side takes about 20 s. The tests do not wait for
# it: the files marked python_only (no program, no media tool, no browser) run first, and every
# other test waits for the file named in VOXPOP_TEST_SYSTEM_PACKAGES, written when apt-get is
# done (tests/conftest.py).
missing=""
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
command -v chromium-headless-shell >/dev/null 2>&1 || missing="$missing chromium-headless-shell"
webkit_test_tools_present || missing="$missing $WEBKIT_TEST_PACKAGES"
command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
report_libraries_present || missing="$missing $REPORT_PACKAGES"
install_test_packages() {
  # shellcheck disable=SC2086 # a list of packages
  apt_install $1 || warn "apt-get failed; trying a package at a time"
  ensure_tool ffmpeg ffmpeg "real media in tests" \
    || warn "ffmpeg missing: media tests will be skipped (in CI they fail)"
  ensure_tool chromium-headless-shell chromium-headless-shell "real-browser kiosk tests" \
    || warn "Chromium (headless shell) missing: browser tests are skipped (in CI they fail)"
  ensure_webkit_test_tools \
    || warn "WebKitGTK missing: WebKit engine tests will be skipped (in CI they fail instead)"
  ensure_tool espeak-ng espeak-ng "known English speech for the speech tests" \
    || warn "espeak-ng missing: the speech tests (-m speech) will fail"
  ensure_report_libraries \
    || warn "Pango missing: the PDF report tests (tests/test_report.py) will fail"
}
apt_pid=""
apt_log="$PWD/tests/.tmp/apt.log"
if [ -n "$missing" ]; then
  say "Installing in the background:$missing (log: $apt_log)"
  packages_done="$VOXPOP_TEST_TMP/system-packages.done"
  rm -f "$packages_done"
  (install_test_packages "$missing" >"$apt_log" 2>&1; touch "$packages_done") &
  apt_pid=$!
  export VOXPOP_TEST_SYSTEM_PACKAGES="$packages_done"
fi
ensure_venv "test"

# voxpop's own modules and the tests' are compiled once and kept (in the git-ignored
# __pycache__ folders) even where PYTHONDONTWRITEBYTECODE is set, as on some CI machines: the
# run starts a hundred and more Python processes (workers, `voxpop` commands, servers).
unset PYTHONDONTWRITEBYTECODE

export TMPDIR="$VOXPOP_TEST_TMP"
# Coverage through sys.monitoring where the Python has it (3.12 and newer): see newest_python.
if .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
  export COVERAGE_CORE="${COVERAGE_CORE:-sysmon}"
fi

# Gates (configured in pyproject.toml). The two ruff checks take a second and stop the run.
# mypy (about 15 s from cold) runs beside the tests, which leave a core idle much of the time
# (browsers and servers waiting on real time): its verdict is printed after theirs, and a type
# error fails the run as surely as a failing test.
say "ruff format --check, ruff check; mypy beside the tests"
.venv/bin/ruff format --check voxpop tests bench wsgi.py
.venv/bin/ruff check voxpop tests bench wsgi.py
mypy_log="$TMPDIR/mypy.log"
.venv/bin/mypy voxpop >"$mypy_log" 2>&1 &
mypy_pid=$!
trap 'kill "$mypy_pid" 2>/dev/null || true' EXIT

# Three workers on a two-core machine: much of a browser test is waiting on real time (a
# recording, an idle timeout, a killed server coming back), and a third worker fills those
# waits with another file's work (measured: 507 s on two workers, 439 s on three).
# VOXPOP_TEST_WORKERS chooses. Each test file runs whole on one worker, so a file's module
# and session fixtures (a browser, an S3 server, Xvfb) start once per worker. Files are handed
# out in the order tests/conftest.py puts them (the longest first, so no long file starts
# last while the others idle), not xdist's default of the most tests first. Coverage is
# reported at the end, with the 15 slowest tests. A run with -n 0 (or -p no:xdist) is
# serial, e.g. for pdb.
status=0
.venv/bin/python -m pytest --basetemp="$TMPDIR/pytest" -n "${VOXPOP_TEST_WORKERS:-3}" --dist loadfile \
  --no-loadscope-reorder --durations=15 --cov=voxpop --cov-report=term:skip-covered "$@" \
  || status=$?

if [ -n "$apt_pid" ]; then
  wait "$apt_pid" || true
  grep -F "warning:" "$apt_log" >&2 || true
fi
say "mypy voxpop"
mypy_status=0
wait "$mypy_pid" || mypy_status=$?
trap - EXIT
cat "$mypy_log" >&2
if [ -n "${scratch_is_ram:-}" ]; then
  if [ "$status" -eq 0 ]; then rm -rf "$VOXPOP_TEST_TMP"
  else say "What the tests left is in $VOXPOP_TEST_TMP (a RAM disk: gone at the next reboot)"
  fi
fi
[ "$status" -ne 0 ] && exit "$status"
exit "$mypy_status"
