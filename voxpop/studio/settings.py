"""Organiser settings: the event, perspectives, prompts, consent text, kiosks and users.

Routes live on the studio blueprint (``voxpop.studio.views.bp``). Each view parses a form,
calls one service function (``studio/event_settings.py``, ``perspectives.py``, ``consent.py``,
``kiosks.py``, ``users.py``; each validates, changes and audits in one
transaction), then redirects, or shows the page again with the reason next to the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.3; stubs are 3.2

from voxpop import audit, auth, models
from voxpop.auth import login_required, public
from voxpop.db import get_db
from voxpop.extensions import csrf
from voxpop.storage import IncomingFile
from voxpop.studio import (
    audit_log,
    audit_names,
    consent,
    event_settings,
    kiosks,
    perspectives,
    users,
)
from voxpop.studio.forms import (
    ActionForm,
    ActiveForm,
    AuditFilterForm,
    ConsentForm,
    EventForm,
    KioskForm,
    LogoForm,
    MoveForm,
    NewEventForm,
    PasswordForm,
    PerspectiveForm,
    PromptForm,
    RoleForm,
    UserForm,
)
from voxpop.studio.validation import SettingNotFound, SettingsError
from voxpop.studio.views import bp, pairing_page
from voxpop.web import current_language

LOGO_MAX_BYTES = 10 * 1024 * 1024
organiser_only = login_required("organiser")


def _offered_languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def with_event(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the current event to the view; with no event yet, go and create one."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        event = models.current_event(get_db())
        if event is None:
            flash(_("There is no event yet: create one to begin."))
            return redirect(url_for("studio.settings_new_event"))
        return view(event, *args, **kwargs)

    return wrapped


def show_error(form: FlaskForm | None, error: SettingsError) -> str:
    """Put a refusal next to the field it is about (when there is one); return it for the page.

    A missing perspective, prompt, kiosk or user is not a form problem: it answers 404.
    """
    if isinstance(error, SettingNotFound):
        raise error
    if form is not None and error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, error.message]
    return error.message


def _no_store(response: Any) -> Any:
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the event -----------------------------------------------------------------------------------


def _event_form_data(settings: event_settings.EventSettings) -> dict[str, Any]:
    return {
        "name": settings.name,
        "name_cy": settings.names.get("cy", ""),
        "thanks_en": settings.thanks.get("en", ""),
        "thanks_cy": settings.thanks.get("cy", ""),
        "date": settings.date or "",
        "venue": settings.venue or "",
        "languages": settings.languages,
        "max_clip_seconds": settings.max_clip_seconds,
        "idle_timeout_seconds": settings.idle_timeout_seconds,
        "text_max_chars": settings.text_max_chars,
        "accent_colour": settings.accent_colour,
        "missing_voices_percent": round((settings.missing_voices_target or 0) * 100, 2),
        "missing_voices_banner": settings.missing_voices_banner,
    }


def _event_page(
    event: models.Event,
    form: EventForm,
    logo_form: LogoForm | None = None,
    error: str | None = None,
) -> Any:
    status = 400 if error or form.errors or (logo_form and logo_form.errors) else 200
    logo_path = event.branding.get("logo_path")
    return render_template(
        "studio/settings/event.html",
        section="event",
        event=event,
        form=form,
        logo_form=logo_form or LogoForm(formdata=None),
        action_form=ActionForm(formdata=None),
        # The file is named by its content: a new logo gets a new URL, so no stale caches.
        logo_url=url_for("studio.branding_logo", v=PurePosixPath(logo_path).stem)
        if logo_path
        else None,
        error=error,
    ), status


@bp.route("/settings/", methods=["GET", "POST"])
@organiser_only
@with_event
def settings_event(event: models.Event) -> Any:
    """The event: name, date, venue, languages, limits, accent colour, missing voices."""
    if request.method == "GET":
        form = EventForm(
            formdata=None,
            languages=_offered_languages(),
            data=_event_form_data(event_settings.event_settings(event)),
        )
        return _event_page(event, form)
    form = EventForm(languages=_offered_languages())
    if not form.validate():
        return _event_page(event, form, error=_("Please correct the settings marked below."))
    percent = form.missing_voices_percent.data
    settings = event_settings.EventSettings(
        name=form.name.data or "",
        date=form.date.data,
        venue=form.venue.data,
        languages=list(form.languages.data or []),
        max_clip_seconds=form.max_clip_seconds.data,
        idle_timeout_seconds=form.idle_timeout_seconds.data,
        text_max_chars=form.text_max_chars.data,
        accent_colour=form.accent_colour.data or "",
        missing_voices_target=None if percent is None else percent / 100,
        missing_voices_banner=bool(form.missing_voices_banner.data),
        names={"cy": form.name_cy.data or ""},
        thanks={"en": form.thanks_en.data or "", "cy": form.thanks_cy.data or ""},
    )
    try:
        changed = event_settings.update_event(
            get_db(), event.id, settings, _offered_languages(), actor=g.user
        )
    except SettingsError as error:
        return _event_page(event, form, error=show_error(form, error))
    flash(_("Event settings saved.") if changed else _("Nothing was changed."))
    lowered_to = settings.max_clip_seconds
    if changed and lowered_to is not None and lowered_to < event.max_clip_seconds:
        flash(
            _(
                "Kiosks stop new recordings at %(new)d seconds from their next screen. Clips"
                " already recorded under the longer limit (%(old)d seconds) are kept whole:"
                " they are still sent, and processed in full.",
                new=lowered_to,
                old=event.max_clip_seconds,
            )
        )
    return redirect(url_for("studio.settings_event"))


@bp.post("/settings/logo")
@csrf.exempt  # checked below, once the upload limit for logos is in place
@organiser_only
@with_event
def settings_logo(event: models.Event) -> Any:
    """Upload a logo: streamed to a temporary file, opened safely, saved as a clean PNG."""
    request.max_content_length = LOGO_MAX_BYTES  # before anything reads the body
    form_page = EventForm(
        formdata=None,
        languages=_offered_languages(),
        data=_event_form_data(event_settings.event_settings(event)),
    )
    try:
        csrf.protect()
        logo_form = LogoForm()
        valid = logo_form.validate()
    except RequestEntityTooLarge:
        logo_form = LogoForm(formdata=None)
        message = _(
            "This file is too large: a logo may be at most %(mb)d MB.",
            mb=LOGO_MAX_BYTES // (1024 * 1024),
        )
        logo_form.logo.errors = [message]
        return _event_page(event, form_page, logo_form, error=message)
    if not valid:
        return _event_page(event, form_page, logo_form, error=_("Choose an image file."))
    upload = logo_form.logo.data.stream
    # VoxpopRequest has already streamed the file into uploads/incoming/ (deleted after the
    # request), so the image is read from disk, never held in memory whole.
    if not isinstance(upload, IncomingFile):
        raise TypeError("uploads must arrive through VoxpopRequest")
    upload.sync()
    store = current_app.extensions["voxpop"].store
    try:
        event_settings.set_logo(get_db(), event.id, store, upload.path, actor=g.user)
    except SettingsError as error:
        return _event_page(event, form_page, logo_form, error=show_error(logo_form, error))
    flash(_("Logo saved."))
    return redirect(url_for("studio.settings_event") + "#branding")


@bp.post("/settings/logo/remove")
@organiser_only
@with_event
def settings_logo_remove(event: models.Event) -> Any:
    """Stop showing the logo."""
    event_settings.remove_logo(get_db(), event.id, actor=g.user)
    flash(_("Logo removed."))
    return redirect(url_for("studio.settings_event") + "#branding")


@bp.get("/branding/logo")
@public  # the kiosk attract screen shows it
def branding_logo() -> Any:
    """The current event's logo (a PNG voxpop made itself, with no metadata)."""
    event = models.current_event(get_db())
    logo_path = event.branding.get("logo_path") if event else None
    if not logo_path:
        abort(404)
    path = current_app.extensions["voxpop"].store.path(logo_path)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/png", conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/settings/new-event", methods=["GET", "POST"])
@organiser_only
def settings_new_event() -> Any:
    """Start a new event; it becomes the one the kiosks and pages use."""
    form = NewEventForm()
    error = None
    if form.validate_on_submit():
        try:
            event_settings.create_event(
                get_db(),
                form.name.data or "",
                form.date.data,
                form.venue.data,
                form.name_cy.data,
                actor=g.user,
            )
        except SettingsError as refused:
            error = show_error(form, refused)
        else:
            flash(_("The new event is ready and is now the current one. Check its settings."))
            return redirect(url_for("studio.settings_event"))
    return render_template(
        "studio/settings/new_event.html",
        section="event",
        form=form,
        current=models.current_event(get_db()),
        unsent_kiosks=kiosks.holding_unsent(get_db()),
        error=error,
    ), (400 if error else 200)


# -- perspectives --------------------------------------------------------------------------------


def _perspectives_page(
    event: models.Event,
    failed: tuple[int | None, PerspectiveForm] | None = None,
    error: str | None = None,
) -> Any:
    rows = perspectives.all_perspectives(get_db(), event.id)
    forms: dict[int | None, PerspectiveForm] = {
        row.id: PerspectiveForm(
            formdata=None,
            data={
                "label_en": row.labels.get("en", ""),
                "label_cy": row.labels.get("cy", ""),
                "colour": row.colour,
            },
        )
        for row in rows
    }
    forms[None] = PerspectiveForm(formdata=None, data={"colour": event_settings.DEFAULT_ACCENT})
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template(
        "studio/settings/perspectives.html",
        section="perspectives",
        event=event,
        rows=rows,
        active_count=sum(1 for row in rows if not row.retired_at),
        forms=forms,
        action_form=ActionForm(formdata=None),
        error=error,
        failed_id=failed[0] if failed else None,
    ), (400 if error else 200)


def _labels(form: PerspectiveForm) -> dict[str, str | None]:
    return {"en": form.label_en.data, "cy": form.label_cy.data}


def _to_perspectives(perspective_id: int | None = None) -> Any:
    anchor = f"#perspective-{perspective_id}" if perspective_id else ""
    return redirect(url_for("studio.settings_perspectives") + anchor)


@bp.get("/settings/perspectives")
@organiser_only
@with_event
def settings_perspectives(event: models.Event) -> Any:
    """Every perspective, with forms to rename, recolour, reorder, retire and add."""
    return _perspectives_page(event)


@bp.post("/settings/perspectives")
@organiser_only
@with_event
def settings_perspective_add(event: models.Event) -> Any:
    """Add a perspective at the end of the list."""
    form = PerspectiveForm()
    try:
        new_id = perspectives.add_perspective(
            get_db(), event.id, _labels(form), form.colour.data or "", actor=g.user
        )
    except SettingsError as error:
        return _perspectives_page(event, (None, form), show_error(form, error))
    flash(_("Perspective added."))
    return _to_perspectives(new_id)


@bp.post("/settings/perspectives/<int:perspective_id>")
@organiser_only
@with_event
def settings_perspective_edit(event: models.Event, perspective_id: int) -> Any:
    """Rename or recolour a perspective (its slug stays)."""
    form = PerspectiveForm()
    try:
        perspectives.edit_perspective(
            get_db(), event.id, perspective_id, _labels(form), form.colour.data or "", actor=g.user
        )
    except SettingsError as error:
        return _perspectives_page(event, (perspective_id, form), show_error(form, error))
    flash(_("Perspective saved."))
    return _to_perspectives(perspective_id)


@bp.post("/settings/perspectives/<int:perspective_id>/move")
@organiser_only
@with_event
def settings_perspective_move(event: models.Event, perspective_id: int) -> Any:
    """Move a perspective up or down the kiosk's list."""
    direction = MoveForm().direction.data or ""
    try:
        perspectives.move_perspective(get_db(), event.id, perspective_id, direction, actor=g.user)
    except SettingsError as error:
        return _perspectives_page(event, error=show_error(None, error))
    return _to_perspectives(perspective_id)


@bp.post("/settings/perspectives/<int:perspective_id>/retire")
@organiser_only
@with_event
def settings_perspective_retire(event: models.Event, perspective_id: int) -> Any:
    """Take a perspective off the kiosk; its reflections keep it."""
    try:
        perspectives.retire_perspective(get_db(), event.id, perspective_id, actor=g.user)
    except SettingsError as error:
        return _perspectives_page(event, error=show_error(None, error))
    flash(_("Perspective retired: the kiosk no longer offers it. Its reflections are kept."))
    return _to_perspectives(perspective_id)


@bp.post("/settings/perspectives/<int:perspective_id>/restore")
@organiser_only
@with_event
def settings_perspective_restore(event: models.Event, perspective_id: int) -> Any:
    """Put a retired perspective back on the kiosk."""
    perspectives.restore_perspective(get_db(), event.id, perspective_id, actor=g.user)
    flash(_("Perspective restored: the kiosk offers it again."))
    return _to_perspectives(perspective_id)


# -- prompts -------------------------------------------------------------------------------------


def _prompts_page(
    event: models.Event,
    failed: tuple[int | None, PromptForm] | None = None,
    error: str | None = None,
) -> Any:
    rows = perspectives.all_prompts(get_db(), event.id)
    forms: dict[int | None, PromptForm] = {
        row.id: PromptForm(
            formdata=None,
            data={"text_en": row.texts.get("en", ""), "text_cy": row.texts.get("cy", "")},
        )
        for row in rows
    }
    forms[None] = PromptForm(formdata=None)
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template(
        "studio/settings/prompts.html",
        section="prompts",
        event=event,
        rows=rows,
        active_count=sum(1 for row in rows if row.active),
        forms=forms,
        action_form=ActionForm(formdata=None),
        error=error,
        failed_id=failed[0] if failed else None,
    ), (400 if error else 200)


def _texts(form: PromptForm) -> dict[str, str | None]:
    return {"en": form.text_en.data, "cy": form.text_cy.data}


def _to_prompts(prompt_id: int | None = None) -> Any:
    anchor = f"#prompt-{prompt_id}" if prompt_id else ""
    return redirect(url_for("studio.settings_prompts") + anchor)


@bp.get("/settings/prompts")
@organiser_only
@with_event
def settings_prompts(event: models.Event) -> Any:
    """Every prompt, with forms to edit, reorder, show or hide, and add."""
    return _prompts_page(event)


@bp.post("/settings/prompts")
@organiser_only
@with_event
def settings_prompt_add(event: models.Event) -> Any:
    """Add a prompt (shown on the kiosk straight away)."""
    form = PromptForm()
    try:
        new_id = perspectives.add_prompt(get_db(), event.id, _texts(form), actor=g.user)
    except SettingsError as error:
        return _prompts_page(event, (None, form), show_error(form, error))
    flash(_("Prompt added."))
    return _to_prompts(new_id)


@bp.post("/settings/prompts/<int:prompt_id>")
@organiser_only
@with_event
def settings_prompt_edit(event: models.Event, prompt_id: int) -> Any:
    """Change a prompt's wording."""
    form = PromptForm()
    try:
        perspectives.edit_prompt(get_db(), event.id, prompt_id, _texts(form), actor=g.user)
    except SettingsError as error:
        return _prompts_page(event, (prompt_id, form), show_error(form, error))
    flash(_("Prompt saved."))
    return _to_prompts(prompt_id)


@bp.post("/settings/prompts/<int:prompt_id>/move")
@organiser_only
@with_event
def settings_prompt_move(event: models.Event, prompt_id: int) -> Any:
    """Move a prompt up or down the kiosk's list."""
    direction = MoveForm().direction.data or ""
    try:
        perspectives.move_prompt(get_db(), event.id, prompt_id, direction, actor=g.user)
    except SettingsError as error:
        return _prompts_page(event, error=show_error(None, error))
    return _to_prompts(prompt_id)


@bp.post("/settings/prompts/<int:prompt_id>/active")
@organiser_only
@with_event
def settings_prompt_active(event: models.Event, prompt_id: int) -> Any:
    """Show a prompt on the kiosk, or hide it."""
    active = ActiveForm().active.data == "1"
    try:
        perspectives.set_prompt_active(get_db(), event.id, prompt_id, active, actor=g.user)
    except SettingsError as error:
        return _prompts_page(event, error=show_error(None, error))
    flash(_("Prompt shown on the kiosk.") if active else _("Prompt hidden from the kiosk."))
    return _to_prompts(prompt_id)


# -- consent -------------------------------------------------------------------------------------


@bp.route("/settings/consent", methods=["GET", "POST"])
@organiser_only
@with_event
def settings_consent(event: models.Event) -> Any:
    """The consent wording: editing makes a new version; every old one stays readable."""
    db = get_db()
    versions = consent.consent_versions(db, event.id)
    error = None
    if request.method == "POST":
        form = ConsentForm()
        try:
            version = consent.add_consent_version(db, event.id, form.texts(), actor=g.user)
        except SettingsError as refused:
            error = show_error(form, refused)
        else:
            if version is None:
                flash(_("Nothing was changed: this is the current wording already."))
            else:
                flash(_("Consent text saved as version %(version)d.", version=version))
            return redirect(url_for("studio.settings_consent"))
    else:
        current = versions[0].texts if versions else {}
        form = ConsentForm(
            formdata=None,
            data={
                f"{key}_{lang}": current.get(lang, {}).get(key, "")
                # Wording from before a purpose existed (the room): suggest the default.
                # (in each language the wording has; an absent language stays empty).
                or (models.DEFAULT_CONSENT.get(lang, {}).get(key, "") if current.get(lang) else "")
                for lang in ("en", "cy")
                for key in consent.CONSENT_FIELDS
            },
        )
    return render_template(
        "studio/settings/consent.html",
        section="consent",
        event=event,
        form=form,
        versions=versions,
        parts=consent.consent_field_names(),
        asks_about_room=bool(versions) and bool(versions[0].texts.get("en", {}).get("room")),
        error=error,
    ), (400 if error else 200)


# -- kiosks --------------------------------------------------------------------------------------


def _kiosks_page(
    failed: tuple[int | None, KioskForm] | None = None, error: str | None = None
) -> Any:
    all_kiosks = models.kiosks(get_db())
    forms: dict[int | None, KioskForm] = {
        kiosk.id: KioskForm(formdata=None, data={"name": kiosk.name}) for kiosk in all_kiosks
    }
    forms[None] = KioskForm(formdata=None)
    if failed is not None:
        forms[failed[0]] = failed[1]
    event = models.current_event(get_db())
    return render_template(
        "studio/settings/kiosks.html",
        section="kiosks",
        kiosks=all_kiosks,
        late_arrivals=kiosks.late_arrivals(get_db(), event) if event else [],
        kind_labels=models.kind_names(),
        forms=forms,
        action_form=ActionForm(formdata=None),
        error=error,
        failed_id=failed[0] if failed else None,
    ), (400 if error else 200)


@bp.get("/settings/kiosks")
@organiser_only
def settings_kiosks() -> Any:
    """Every kiosk: pair a new one, rename, revoke."""
    return _kiosks_page()


@bp.post("/settings/kiosks")
@organiser_only
def settings_kiosk_add() -> Any:
    """Create a kiosk and show its one-time pairing link and QR code (shown only now)."""
    form = KioskForm()
    try:
        new = kiosks.create_kiosk(
            get_db(),
            form.name.data or "",
            mode="roving" if form.roving.data else "kiosk",
            actor=g.user,
        )
    except SettingsError as error:
        return _kiosks_page((None, form), show_error(form, error))
    return pairing_page(new)


@bp.post("/settings/kiosks/<int:kiosk_id>")
@organiser_only
def settings_kiosk_rename(kiosk_id: int) -> Any:
    """Rename a kiosk."""
    form = KioskForm()
    try:
        kiosks.rename_kiosk(get_db(), kiosk_id, form.name.data or "", actor=g.user)
    except SettingsError as error:
        return _kiosks_page((kiosk_id, form), show_error(form, error))
    flash(_("Kiosk renamed."))
    return redirect(url_for("studio.settings_kiosks") + f"#kiosk-{kiosk_id}")


@bp.post("/settings/kiosks/<int:kiosk_id>/revoke")
@organiser_only
def settings_kiosk_revoke(kiosk_id: int) -> Any:
    """Unpair a kiosk: its next request is refused, with a message on its screen."""
    kiosks.revoke_kiosk(get_db(), kiosk_id, actor=g.user)
    flash(_("Kiosk revoked: it can no longer send reflections."))
    return redirect(url_for("studio.settings_kiosks") + f"#kiosk-{kiosk_id}")


@bp.post("/settings/kiosks/<int:kiosk_id>/resend")
@organiser_only
def settings_kiosk_resend(kiosk_id: int) -> Any:
    """Ask a kiosk to send again the reflections the laptop refused (after fixing the cause)."""
    try:
        kiosks.resend_refused(get_db(), kiosk_id, actor=g.user)
    except SettingsError as error:
        return _kiosks_page(error=show_error(None, error))
    flash(_("Asked the kiosk to send them again. It will within a minute, if it is switched on."))
    return redirect(url_for("studio.settings_kiosks") + f"#kiosk-{kiosk_id}")


# -- users ---------------------------------------------------------------------------------------


def _users_page(
    failed: tuple[str, int | None, FlaskForm] | None = None, error: str | None = None
) -> Any:
    everyone = users.all_users(get_db())
    role_forms: dict[int, FlaskForm] = {
        user.id: RoleForm(formdata=None, data={"role": user.role}) for user in everyone
    }
    password_forms: dict[int, FlaskForm] = {
        user.id: PasswordForm(formdata=None) for user in everyone
    }
    add_form: FlaskForm = UserForm(formdata=None)
    if failed is not None:
        kind, user_id, form = failed
        if kind == "add":
            add_form = form
        elif kind == "role" and user_id is not None:
            role_forms[user_id] = form
        elif kind == "password" and user_id is not None:
            password_forms[user_id] = form
    return render_template(
        "studio/settings/users.html",
        section="users",
        users=everyone,
        role_forms=role_forms,
        password_forms=password_forms,
        add_form=add_form,
        action_form=ActionForm(formdata=None),
        error=error,
        failed_id=failed[1] if failed else None,
    ), (400 if error else 200)


@bp.get("/settings/users")
@organiser_only
def settings_users() -> Any:
    """Every user: add one, change a role, reset a password, remove."""
    return _users_page()


@bp.post("/settings/users")
@organiser_only
def settings_user_add() -> Any:
    """Add a facilitator or organiser."""
    form = UserForm()
    try:
        users.add_user(
            get_db(),
            form.name.data or "",
            form.role.data or "",
            form.password.data or "",
            actor=g.user,
        )
    except SettingsError as error:
        return _users_page(("add", None, form), show_error(form, error))
    flash(_("%(name)s can now log in.", name=(form.name.data or "").strip()))
    return redirect(url_for("studio.settings_users"))


@bp.post("/settings/users/<int:user_id>/role")
@organiser_only
def settings_user_role(user_id: int) -> Any:
    """Make a user an organiser or a facilitator."""
    form = RoleForm()
    try:
        users.change_role(get_db(), user_id, form.role.data or "", actor=g.user)
    except SettingsError as error:
        return _users_page(("role", user_id, form), show_error(form, error))
    flash(_("Role changed."))
    if user_id == g.user.id and form.role.data != "organiser":
        return redirect(url_for("studio.overview"))  # settings are organisers' only
    return redirect(url_for("studio.settings_users") + f"#user-{user_id}")


@bp.post("/settings/users/<int:user_id>/password")
@organiser_only
def settings_user_password(user_id: int) -> Any:
    """Set a new password for a user."""
    form = PasswordForm()
    try:
        users.reset_password(get_db(), user_id, form.password.data or "", actor=g.user)
    except SettingsError as error:
        return _users_page(("password", user_id, form), show_error(form, error))
    if user_id == g.user.id:  # this browser stays logged in; every other session of theirs ends
        auth.remember_login(models.get_user(get_db(), user_id))
    flash(_("Password changed. Tell them the new one in person."))
    return redirect(url_for("studio.settings_users") + f"#user-{user_id}")


@bp.post("/settings/users/<int:user_id>/remove")
@organiser_only
def settings_user_remove(user_id: int) -> Any:
    """Remove a user who has not changed anything yet."""
    try:
        name = users.remove_user(get_db(), user_id, actor=g.user)
    except SettingsError as error:
        return _users_page(error=show_error(None, error))
    flash(_("%(name)s was removed.", name=name))
    return redirect(url_for("studio.settings_users"))


# -- audit log -----------------------------------------------------------------------------------


def _audit_entries() -> tuple[AuditFilterForm, list[audit_log.Entry], dict[str, Any]]:
    """The audit filter form and the entries it chooses, worded in the reader's language."""
    db = get_db()
    form = AuditFilterForm(request.args)
    names = audit_log.kind_names()
    present = audit_names.audit_kinds(db)
    kinds = [k for k in audit_log.KINDS if k in present]
    form.kind.choices = [SelectChoice("", _("Everything"))] + [
        SelectChoice(k, names[k]) for k in kinds
    ]
    form.who.choices = [SelectChoice("", _("Everyone"))] + [
        SelectChoice(name) for name in audit_log.people(db)
    ]
    kind = form.kind.data or None
    target = form.target.data if kind else None  # None when empty or not a number
    who = form.who.data or None
    rows = audit.entries(db, kind=kind, target_id=target, user_name=who)
    args = {k: v for k, v in {"kind": kind, "target": target, "who": who}.items() if v}
    return form, audit_log.worded(db, rows, current_language()), args


@bp.get("/audit", endpoint="audit_log")
@organiser_only
def audit_log_page() -> Any:
    """Who changed what, and when, as sentences; filtered by kind of change, one item, or
    person; downloadable as CSV."""
    form, entries, args = _audit_entries()
    return render_template(
        "studio/settings/audit.html",
        section="audit",
        form=form,
        entries=entries,
        args=args,
        kind_names=audit_log.kind_names(),
    )


@bp.get("/audit.csv")
@organiser_only
def audit_log_csv() -> Any:
    """The same entries as the page shows, as a spreadsheet."""
    _form, entries, _args = _audit_entries()
    response = Response(audit_log.as_csv(entries), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="voxpop-audit-log.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
