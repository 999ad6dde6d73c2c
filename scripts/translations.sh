#!/usr/bin/env bash
# Refresh the interface translations: extract every marked string from voxpop/ and
# templates/ (babel.cfg) into voxpop/translations/messages.pot, merge new and changed
# messages into each catalogue (voxpop/translations/*/LC_MESSAGES/messages.po), and compile
# the .mo files voxpop loads (committed: a venue laptop may have no internet).
# After running it, translate the new entries (empty or "#, fuzzy") and run it again.
#
# Usage: scripts/translations.sh                 extract, update and compile
#        scripts/translations.sh extract FILE    only write a fresh template to FILE
#                                               (tests/test_welsh.py compares it with the .po)
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
DIR=voxpop/translations
POT="$DIR/messages.pot"

extract() {
  # _l is flask_babel.lazy_gettext (form labels); the defaults cover _, gettext, ngettext.
  # Sorted and without line numbers, so the files only change when a message does.
  "$PYBABEL" -q extract -F babel.cfg -k _l --sort-output --no-location \
    --project=voxpop --version=0.1.0 --copyright-holder="voxpop contributors" -o "$1" .
}

if [ "${1:-}" = extract ]; then
  extract "${2:?usage: scripts/translations.sh extract FILE}"
  exit 0
fi

fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
extract "$fresh"
# Keep the old template when only its POT-Creation-Date would change.
if [ -f "$POT" ] && diff -q <(grep -v '^"POT-Creation-Date' "$POT") \
    <(grep -v '^"POT-Creation-Date' "$fresh") >/dev/null; then
  echo "messages.pot: no change" >&2
else
  cp "$fresh" "$POT"
  echo "messages.pot: updated" >&2
fi
"$PYBABEL" update -i "$POT" -d "$DIR" --ignore-obsolete --ignore-pot-creation-date
"$PYBABEL" compile -d "$DIR" --statistics
