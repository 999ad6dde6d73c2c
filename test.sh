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

mkdir -p tests/.tmp
export TMPDIR="$PWD/tests/.tmp"
.venv/bin/ruff check voxpop tests wsgi.py
exec .venv/bin/python -m pytest --basetemp="$TMPDIR/pytest" "$@"
