#!/usr/bin/env bash
# Start voxpop on this laptop with a demo event, installing what it needs first.
# Usage: ./run.sh [voxpop serve options, e.g. --port 8080 --tls-port 8443]
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh

ensure_python
ensure_venv ""
ensure_tool ffmpeg ffmpeg "to process recordings" || warn \
  "ffmpeg is not installed and could not be installed here. The kiosk still records and keeps
         everything, but nothing can be processed until you install it (sudo apt-get install ffmpeg)."
ensure_report_libraries || warn \
  "Pango could not be installed here: everything works except the PDF report of the day
         (sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)."
.venv/bin/voxpop init --demo
exec .venv/bin/voxpop serve "$@"
