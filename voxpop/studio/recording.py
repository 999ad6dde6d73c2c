"""The record of the day as downloads from the studio (``/studio/export/record.<format>``).

Organisers choose the language (one of the event's) and whether it is the internal report;
the report itself is ``voxpop.record.report``. POST with the CSRF token, like the other
downloads on the export page; nothing is kept on the server.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request

from voxpop.auth import login_required
from voxpop.db import get_db
from voxpop.record import report
from voxpop.studio.exporting import _download_stem
from voxpop.studio.views import bp
from voxpop.web import current_language, require_event

MIME_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
              "json": "application/json"}  # fmt: skip


def report_language(asked: str, languages: list[str]) -> str:
    """The language asked for when the event has it; else the page's, else the event's first."""
    for lang in (asked, current_language()):
        if lang in languages:
            return lang
    return (languages or ["en"])[0]


@bp.post("/export/record.<fmt>")
@login_required("organiser")
def export_record(fmt: str) -> Any:
    """The record of the day as PDF, CSV or JSON, in the language asked for."""
    if fmt not in report.FORMATS:
        abort(404)
    event = require_event()
    lang = report_language(request.form.get("language", ""), event.languages)
    internal = request.form.get("internal") == "1"
    record = report.build_record(get_db(), event, lang, internal=internal)
    response = Response(report.render(record, fmt), mimetype=MIME_TYPES[fmt])
    name = f"{_download_stem(event.name, event.date)}-record{'-internal' if internal else ''}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{lang}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
