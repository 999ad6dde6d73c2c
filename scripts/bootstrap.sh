# Shared by run.sh and test.sh: find or install what voxpop needs on a Debian-like machine.
# Sourced, not run. Installs system packages with apt-get (as root, or through sudo), makes
# .venv and installs voxpop into it, reinstalling only when pyproject.toml changes.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo (asking for the
# password only when someone is at the terminal).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else return 1
  fi
}

APT_UPDATED=""
# apt_install PACKAGE... : install Debian packages; returns non-zero if that is not possible.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq || return 1
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# The newest CPython from 3.11 to 3.13 this machine has: python3.13 or python3.12 on the PATH
# or in pyenv's folder, else python3. A newer Python runs the app and the tests a little faster,
# and from 3.12 coverage measures through sys.monitoring (PEP 669), which costs the tests about
# a tenth of their time where 3.11's line tracer costs over half. Set PYTHON to choose.
newest_python() {
  local candidate
  for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    # A pyenv shim is on the PATH even where it refuses to run, so try each one.
    if "$candidate" -c 'import sys, venv, ensurepip, sqlite3, ssl
sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  printf 'python3\n'
}

ensure_python() {
  PYTHON="${PYTHON:-$(newest_python)}"
  command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3 python3-venv \
    || die "Python 3.11 or newer is needed. Install it (Debian: sudo apt-get install python3 python3-venv)."
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "voxpop needs Python 3.11 or newer; $("$PYTHON" --version) found. Set PYTHON=/path/to/python3.11."
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    say "Installing Python's venv module (python3-venv)"
    apt_install python3-venv \
      || die "Python's venv module is missing. Install it: sudo apt-get install python3-venv"
  fi
}

# install_with_uv SPEC : install SPEC (editable) into .venv with uv, Astral's installer, which
# fetches and unpacks the packages in parallel: on a fresh machine the test dependencies (about
# 1.3 GB) take about 10 s this way and about 50 s through pip. uv comes from the PATH, or from
# the package index into .venv. Returns non-zero when uv cannot be had or cannot install (it
# does not read pip's configuration, so a machine that only reaches a local mirror ends up
# there); the caller then uses pip, which finishes whatever uv left half done.
# VOXPOP_NO_UV=1 skips uv.
install_with_uv() {
  local spec="$1" uv
  [ -n "${VOXPOP_NO_UV:-}" ] && return 1
  uv="$(command -v uv 2>/dev/null || true)"
  if [ -z "$uv" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1 \
      || return 1
    uv=.venv/bin/uv
  fi
  # Copies, not links into uv's cache: .venv must not depend on a cache someone may clear.
  # Compiled to bytecode as pip does (uv does not by default): where PYTHONDONTWRITEBYTECODE
  # is set, as on some CI machines, Python otherwise compiles every module it imports from
  # source again in every process: Flask, Werkzeug, boto3… for each `voxpop` command and test
  # worker (measured: tests/test_pairing_links.py, four `voxpop serve` starts, took 25 CPU-s
  # instead of 15).
  UV_LINK_MODE=copy "$uv" pip install --quiet --compile-bytecode --python .venv/bin/python \
    -e "$spec" \
    || { warn "uv could not install the Python dependencies; trying pip"; return 1; }
}

# ensure_venv EXTRAS : .venv with voxpop installed (editable), plus optional extras ("test").
ensure_venv() {
  local extras="$1" spec="." stamp
  [ -n "$extras" ] && spec=".[$extras]"
  if [ ! -x .venv/bin/python ]; then
    say "Creating the Python environment in .venv"
    "$PYTHON" -m venv .venv || die "Could not create .venv"
  fi
  stamp=".venv/.voxpop-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
  if [ ! -f "$stamp" ]; then
    say "Installing voxpop and its Python dependencies"
    # Any pip from 21.3 (PEP 660 editable installs) will do, such as Debian 12's 23.0:
    # upgrading it first costs a download and an install on every fresh machine.
    if ! .venv/bin/python -c 'import sys, pip
sys.exit(tuple(int(p) for p in pip.__version__.split(".")[:2]) < (21, 3))' 2>/dev/null; then
      .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null || true
    fi
    if ! install_with_uv "$spec"; then
      .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" \
        || die "Installing the Python dependencies failed (see above). Is the package index reachable?"
    fi
    rm -f .venv/.voxpop-installed-*
    touch "$stamp"
  fi
}

# The WebKit engine tests (tests/webkit/, the iPad's engine family): WebKitGTK's MiniBrowser and
# WebKitWebDriver under Xvfb, GStreamer's codecs for its MP4 recorder, and a compiler for the
# test-only GStreamer shim (tests/webkit/autovideoflip.c) that Debian 12 needs for video.
WEBKIT_TEST_PACKAGES="webkit2gtk-driver xvfb xauth gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-gl \
  libgl1-mesa-dri libgstreamer1.0-dev pkg-config gcc"
webkit_test_tools_present() {
  command -v WebKitWebDriver >/dev/null 2>&1 && command -v Xvfb >/dev/null 2>&1 \
    && command -v gcc >/dev/null 2>&1 && pkg-config --exists gstreamer-1.0 2>/dev/null \
    && [ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ] \
    && [ -e /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstlibav.so ]
}
ensure_webkit_test_tools() {
  webkit_test_tools_present && return 0
  say "Installing WebKitGTK, Xvfb and GStreamer (WebKit engine tests)"
  # shellcheck disable=SC2086 # a list of packages
  apt_install $WEBKIT_TEST_PACKAGES && command -v WebKitWebDriver >/dev/null 2>&1
}

# ensure_tool COMMAND PACKAGE WHY : install PACKAGE when COMMAND is missing; 1 if impossible.
ensure_tool() {
  local command="$1" package="$2" why="$3"
  command -v "$command" >/dev/null 2>&1 && return 0
  say "Installing $package ($why)"
  apt_install "$package" && command -v "$command" >/dev/null 2>&1
}

# The record of the day's PDF (voxpop/record/report.py): WeasyPrint draws text with Pango
# (fonts: DejaVu, shipped in voxpop/media/fonts and also from Debian). 1 if impossible.
REPORT_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"
report_libraries_present() {
  # The list is read whole first: `ldconfig -p | grep -q` fails under pipefail whenever grep
  # stops reading before ldconfig has written it all (SIGPIPE), as it does when the cache is long.
  local libraries
  libraries=$(ldconfig -p 2>/dev/null) || return 1
  grep -q 'libpango-1.0.so.0' <<<"$libraries" && grep -q 'libpangoft2-1.0.so.0' <<<"$libraries"
}
ensure_report_libraries() {
  report_libraries_present && return 0
  say "Installing Pango and the DejaVu fonts (the PDF report of the day)"
  # shellcheck disable=SC2086 # a list of packages
  apt_install $REPORT_PACKAGES
}
