"""CSV for people who open it in a spreadsheet: cells that cannot run as formulas, and bytes a
spreadsheet reads as UTF-8 (the consent log, the audit log, the record of the day)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any


def safe_cell(value: Any) -> str:
    """A cell's text; one starting like a formula gets a leading apostrophe (names, tags and
    kiosk names are typed by people, so "=HYPERLINK(…)" must stay text)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, byte_order_mark: bool = False
) -> bytes:
    """A header row then ``rows``, every cell made safe, CRLF line ends, UTF-8 (with a
    byte-order mark when asked, so a spreadsheet shows Welsh letters rightly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return ("\ufeff" if byte_order_mark else "").encode("utf-8") + buffer.getvalue().encode("utf-8")
