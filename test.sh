#!/usr/bin/env bash
# Run voxpop's whole test suite, installing what the tests need first (ffmpeg, Debian's
# Chromium for the real-browser kiosk tests, WebKitGTK + Xvfb + GStreamer for the WebKit engine
# tests, the Python test dependencies).
# Usage: ./test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh

ensure_python
ensure_venv "test"
ensure_tool ffmpeg ffmpeg "real media in tests" || warn "ffmpeg missing: media tests will be skipped"
ensure_tool chromium chromium "real-browser kiosk tests" \
  || warn "Chromium missing: browser tests will be skipped (in CI they fail instead)"
ensure_webkit_test_tools \
  || warn "WebKitGTK missing: WebKit engine tests will be skipped (in CI they fail instead)"
ensure_tool espeak-ng espeak-ng "known English speech for the speech tests" \
  || warn "espeak-ng missing: the speech tests (-m speech) will fail"
ensure_report_libraries \
  || warn "Pango missing: the PDF report tests (tests/test_report.py) will fail"

mkdir -p tests/.tmp
export TMPDIR="$PWD/tests/.tmp"

# Gates (configured in pyproject.toml): formatting, lint, types. Each stops the run.
say "ruff format --check, ruff check, mypy"
.venv/bin/ruff format --check voxpop tests bench wsgi.py
.venv/bin/ruff check voxpop tests bench wsgi.py
.venv/bin/mypy voxpop

# Two workers (the machines have two cores; much of a browser test is waiting on real time),
# each test file whole on one worker, so a file's module and session fixtures (a browser, an S3
# server, Xvfb) start once per worker. Coverage is reported at the end, with the 15 slowest tests.
# A run with -n 0 (or -p no:xdist) is serial, e.g. for pdb.
exec .venv/bin/python -m pytest --basetemp="$TMPDIR/pytest" -n 2 --dist loadfile \
  --durations=15 --cov=voxpop --cov-report=term:skip-covered "$@"
