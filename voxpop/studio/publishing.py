"""Organiser page for publishing the archive to S3: where to, Publish now, and live status.

Routes live on the studio blueprint (``voxpop.studio.views.bp``). The work is done by
``voxpop.publishing.publish``: the views save settings, queue the publish job and read its state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, flash, g, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from voxpop import audit, models, reasons
from voxpop.auth import login_required
from voxpop.db import get_db, now_utc, transaction
from voxpop.formatting import format_size, format_time_of_day, format_when
from voxpop.publishing import publish
from voxpop.publishing.export import page_name
from voxpop.studio.captions import captions_gate
from voxpop.studio.forms import ActionForm
from voxpop.studio.settings import with_event
from voxpop.studio.views import bp

organiser_only = login_required("organiser")


class PublishSettingsForm(FlaskForm):
    """Bucket, prefix, region, endpoint and public address (checked by
    ``publish.settings_errors``)."""

    bucket = StringField(_l("Bucket"))
    prefix = StringField(_l("Prefix (folder inside the bucket)"))
    region = StringField(_l("Region"))
    endpoint_url = StringField(_l("Endpoint URL"))
    public_url = StringField(_l("Public address of the archive (optional)"))


def _page(event: models.Event, form: PublishSettingsForm, error: str | None = None) -> Any:
    db = get_db()
    settings = publish.resolve_settings(db, event.id)
    environment = {name: publish.environment_variable(name) for name in settings.from_environment}
    for name, variable in environment.items():
        # The environment wins: show its value, and do not offer to edit it here.
        form[name].data = getattr(settings, name)
        form[name].render_kw = {"disabled": True, "aria-readonly": "true"}
        form[name].description = _("Set by %(variable)s in the environment.", variable=variable)
    return render_template(
        "studio/publish.html",
        event=event,
        form=form,
        action_form=ActionForm(formdata=None),
        settings=settings,
        credentials=publish.credentials_found(settings),
        status=publish_status(event.id),
        gate=captions_gate(db, event),
        error=error,
    ), (400 if error else 200)


@bp.get("/publish")
@organiser_only
@with_event
def publish_page(event: models.Event) -> Any:
    """Where the archive goes, whether credentials were found, Publish now, and its status."""
    saved = publish.saved_settings(get_db(), event.id)
    form = PublishSettingsForm(
        formdata=None, data={name: getattr(saved, name) for name in publish.SETTING_FIELDS}
    )
    return _page(event, form)


@bp.post("/publish/settings")
@organiser_only
@with_event
def publish_settings(event: models.Event) -> Any:
    """Save the bucket, prefix, region, endpoint and public address (those not fixed by the
    environment)."""
    form = PublishSettingsForm()
    if not form.validate():
        return _page(event, form, error=_("The form has expired: please try again."))
    db = get_db()
    fixed = publish.environment_settings()
    saved = publish.saved_settings(db, event.id)
    values = {
        name: getattr(saved, name) if name in fixed else (form[name].data or "")
        for name in publish.SETTING_FIELDS
    }
    try:
        changed = publish.save_settings(db, event.id, values, actor=g.user)
    except publish.PublishFailed as error:
        if error.field in form:
            form[error.field].errors = [error.message]
        return _page(event, form, error=_("Please correct the settings marked below."))
    if not changed:
        flash(_("Nothing was changed."))
    elif publish.retry_waiting_publish(db, current_app.extensions["voxpop"].queue, event.id):
        # Each try reads the settings afresh: a publish waiting out a wrong endpoint (or the
        # connection) should not wait minutes more before trying the corrected ones.
        flash(_("Publishing settings saved. The waiting publish tries again with them now."))
    else:
        flash(_("Publishing settings saved."))
    return redirect(url_for("studio.publish_page"))


@bp.post("/publish/now")
@organiser_only
@with_event
def publish_now(event: models.Event) -> Any:
    """Queue a publish of the archive; the page then follows its progress."""
    form = ActionForm()
    if not form.validate():
        flash(_("The form has expired: please try again."))
        return redirect(url_for("studio.publish_page"))
    db = get_db()
    if not publish.is_configured(db, event.id):
        flash(_("Choose a bucket first, then publish."))
        return redirect(url_for("studio.publish_page"))
    # A person asked: a publish waiting to try again (offline, a wrong endpoint) tries now.
    job_id = publish.request_publish(db, current_app.extensions["voxpop"].queue, event.id, now=True)
    with transaction(db):
        audit.record(db, "publish.request", "event", event.id, None, {"job": job_id}, actor=g.user)
    flash(_("Publishing has started; it goes on in the background."))
    return redirect(url_for("studio.publish_page"))


@bp.get("/publish/status.json")
@organiser_only
@with_event
def publish_status_json(event: models.Event) -> Any:
    """The publish status, polled by the page."""
    response = jsonify(publish_status(event.id))
    response.headers["Cache-Control"] = "no-store"
    return response


def publish_status(event_id: int) -> dict[str, Any]:
    """The latest publish job and its state, with a sentence for the page (translated)."""
    db = get_db()
    settings = publish.resolve_settings(db, event_id)
    base = publish.archive_base_url(settings)
    state = publish.publish_state(db, event_id)
    job = publish.open_job(db, event_id)
    job_status = job["status"] if job else None
    phase = state["phase"]
    # Queued with a time to try again: it waits (for the connection, or for disk space), and
    # its stored reason says what it could not do and why.
    run_after = job["run_after"] if job is not None and job_status == "queued" else None
    if job is not None and run_after:
        waiting = reasons.render(job["error"] or state["message"], _) or ""
        text = f"{waiting} {next_try(run_after)}".strip()
    elif job_status == "queued":
        text = _("Queued: publishing starts in a moment.")
    elif job_status == "running" and phase == "exporting":
        text = _("Building the archive…")
    elif job_status == "running":
        text = _(
            "Sending: %(sent)d file(s) sent (%(size)s), %(queued)d to go.",
            sent=state["files_sent"],
            size=format_size(state["bytes_sent"]),
            queued=state["files_queued"],
        )
    elif job is not None and job_status == "failed":
        reason = reasons.render(job["error"] or state["message"], _)
        text = _("Publishing failed: %(reason)s", reason=reason or "")
    elif phase == "done":
        text = _(
            "Published: %(sent)d file(s) sent (%(size)s), %(same)d unchanged, %(deleted)d deleted.",
            sent=state["files_sent"],
            size=format_size(state["bytes_sent"]),
            same=state["files_unchanged"],
            deleted=state["files_deleted"],
        )
    else:
        text = _("Not published yet.")
    last = state["last_published_at"]
    return {
        "configured": settings.configured,
        # The archive's front page, where people open it (None while it has no address).
        "archive_url": None if base is None else base + page_name(),
        "job": None
        if job is None
        else {
            "id": job["id"],
            "status": job_status,
            "progress": job["progress"],
            "attempts": job["attempts"],
            "error": reasons.render(job["error"], _),
            "run_after": job["run_after"],
        },
        "phase": phase,
        "active": job_status in {"queued", "running"},
        "waiting": bool(run_after),
        "next_try_at": run_after,
        "text": text,
        "progress": job["progress"] if job else 0,
        "files_queued": state["files_queued"],
        "files_sent": state["files_sent"],
        "bytes_sent": state["bytes_sent"],
        "bytes_sent_text": format_size(state["bytes_sent"]),
        "files_unchanged": state["files_unchanged"],
        "files_deleted": state["files_deleted"],
        "last_published_at": last,
        # The lines under the status, so the page can follow a publish as it ends.
        "last_published_text": (
            _("Last published %(when)s.", when=format_when(last)) if last else _("Never published.")
        ),
        "archive_url_label": (
            _("Address of the published archive:")
            if last
            else _("Once published, the archive opens at:")
        ),
    }


def next_try(run_after: str) -> str:
    """When a waiting publish tries again, in the venue's time ("Next try at 19:47.")."""
    try:
        due = datetime.fromisoformat(run_after) <= now_utc()
    except ValueError:  # not a time voxpop wrote
        return ""
    if due:  # the worker has not picked it up yet (it may be busy with a long job)
        return _("Next try: any moment now.")
    return _("Next try at %(time)s.", time=format_time_of_day(run_after))
