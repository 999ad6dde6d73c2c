"""Organisers' downloads (``/studio/export``): the public archive as a zip, the consent log, and
the record of the day (``voxpop.record.report``: PDF, CSV, JSON, in one of the event's languages,
published or internal).

The zip holds exactly the static site ``publishing.export`` writes; it is built into a temporary
file (never in memory) and streamed. The consent log is a separate download and is never
part of the site.
"""

from __future__ import annotations

import tempfile
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.archive import service as archive
from voxpop.auth import login_required
from voxpop.db import get_db, transaction
from voxpop.publishing.export import LANGUAGE_NAMES, consent_log_csv, write_site_zip
from voxpop.record import report, reports
from voxpop.slugs import slugify
from voxpop.studio.captions import captions_gate
from voxpop.studio.views import bp
from voxpop.web import current_language, require_event

# The record of the day's downloads.
MIME_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
              "json": "application/json"}  # fmt: skip


def _download_stem(name: str, date: str | None) -> str:
    """A plain file name from the event: "whose-shoes-2026-11-23"."""
    stem = slugify(name, max_length=40) or "voxpop"
    return f"{stem}-{date}" if date else stem


@bp.get("/export")
@login_required("organiser")
def export_page() -> Any:
    """What the public archive holds now, and the two downloads."""
    db = get_db()
    event = require_event()
    tiles = archive.perspective_tiles(db, event.id)
    return render_template(
        "studio/export.html",
        event=event,
        total=sum(tile.count for tile in tiles),
        reels=len(archive.archived_reels(db, event.id)),
        gate=captions_gate(db, event),
        record_languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in event.languages],
        record_language=report_language(request.args.get("language", ""), event.languages),
        record_internal=request.args.get("internal") == "1",
        reports=reports.latest_reports(db, event.id),
        language_names=LANGUAGE_NAMES,
    )


@bp.post("/export/archive.zip")
@login_required("organiser")
def export_zip() -> Any:
    """The public archive as a static site in a zip (open index.html, or upload anywhere)."""
    event = require_event()
    # Deleted as soon as it is closed, which send_file does when the download ends.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        write_site_zip(get_db(), current_app.extensions["voxpop"].store, spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = send_file(
        spool,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{_download_stem(event.name, event.date)}-archive.zip",
        conditional=False,
    )
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/export/consent-log.csv")
@login_required("organiser")
def export_consent_log() -> Any:
    """The consent log (reflection ids, consent versions, purposes, withdrawals) as CSV."""
    event = require_event()
    response = Response(consent_log_csv(get_db(), event.id), mimetype="text/csv")
    stem = _download_stem(event.name, event.date)
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}-consent-log.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def report_language(asked: str, languages: list[str]) -> str:
    """The language asked for when the event has it; else the page's, else the event's first."""
    for lang in (asked, current_language()):
        if lang in languages:
            return lang
    return (languages or ["en"])[0]


@bp.post("/export/record.<fmt>")
@login_required("organiser")
def export_record(fmt: str) -> Any:
    """The record of the day: CSV and JSON at once; the PDF is made in the background (a
    thousand reflections take half a minute), followed on the export page."""
    if fmt not in report.FORMATS:
        abort(404)
    event = require_event()
    db = get_db()
    lang = report_language(request.form.get("language", ""), event.languages)
    internal = request.form.get("internal") == "1"
    if fmt == "pdf":
        report_id = reports.request_report(
            db, current_app.extensions["voxpop"].queue, event, lang, internal=internal,
            actor=g.user,
        )  # fmt: skip
        if request.accept_mimetypes.best == "application/json":
            return jsonify(id=report_id, status_url=url_for("studio.export_reports")), 202
        # Back to the list, the form still set as it was (another language next, say).
        back = url_for("studio.export_page", language=lang, internal="1" if internal else None,
                       _anchor="reports")  # fmt: skip
        return redirect(back, code=303)
    if internal:
        with transaction(db):
            audit.record(db, "report.internal", "event", event.id, None,
                         {"format": fmt, "lang": lang}, actor=g.user)  # fmt: skip
    record = report.build_record(db, event, lang, internal=internal)
    response = Response(report.render(record, fmt), mimetype=MIME_TYPES[fmt])
    name = _record_name(event, lang, internal, fmt)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _record_name(event: models.Event, lang: str, internal: bool, fmt: str) -> str:
    """ "whose-shoes-2026-11-23-record-internal-cy.pdf"."""
    stem = _download_stem(event.name, event.date)
    return f"{stem}-record{'-internal' if internal else ''}-{lang}.{fmt}"


def _reports_list(found: list[reports.StoredReport]) -> str:
    return render_template("studio/_reports.html", reports=found, language_names=LANGUAGE_NAMES)


@bp.get("/export/reports")
@login_required("organiser")
def export_reports() -> Any:
    """The PDFs asked for, as the export page's list (HTML), for the page to follow them."""
    event = require_event()
    found = reports.latest_reports(get_db(), event.id)
    response = jsonify(active=any(item.active for item in found), html=_reports_list(found))
    response.headers["Cache-Control"] = "no-store"
    return response


def _event_report(report_id: int) -> reports.StoredReport:
    event = require_event()
    stored = reports.get_report(get_db(), report_id)
    if stored is None or stored.event_id != event.id:
        abort(404)
    return stored


@bp.get("/export/reports/<int:report_id>.pdf")
@login_required("organiser")
def export_report_download(report_id: int) -> Any:
    """A finished report (404 once replaced, deleted, or made unfit by a withdrawal)."""
    stored = _event_report(report_id)
    path = reports.report_path(current_app.extensions["voxpop"].queue.instance, stored)
    if path is None:
        abort(404)
    event = require_event()
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=_record_name(event, stored.lang, stored.internal, "pdf"),
        conditional=False,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/export/reports/<int:report_id>/delete")
@login_required("organiser")
def export_report_delete(report_id: int) -> Any:
    """Delete a report from this laptop (not one being made)."""
    _event_report(report_id)
    instance = current_app.extensions["voxpop"].queue.instance
    if not reports.delete_report(get_db(), instance, report_id):
        flash(_("That report is still being made: delete it once it is done."))
    else:
        flash(_("The report was deleted from this laptop."))
    return redirect(url_for("studio.export_page", _anchor="reports"), code=303)
