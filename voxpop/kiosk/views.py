"""The kiosk: one page a delegate uses to leave a reflection, and the API it posts to.

A kiosk is a paired device. It can create reflections and show the receipt for the one it
just made; it can never list or play anyone else's.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import segno
from babel import Locale
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from voxpop import models
from voxpop.auth import kiosk_required, public
from voxpop.counts import kiosk_banner
from voxpop.db import get_db
from voxpop.errors import InsufficientStorage, InvalidSubmission, disk_full_message
from voxpop.extensions import csrf, kiosk_upload_limits
from voxpop.jobs import enqueue_processing
from voxpop.reflection.intake.receipts import normalise_receipt_code, reserve_codes
from voxpop.reflection.intake.staging import DiskFull, ensure_room
from voxpop.reflection.intake.uploads import recorder_fallback
from voxpop.reflection.records import (
    Submission,
    receive_reflection,
    upload_limit_bytes,
)
from voxpop.studio.languages import open_to_kiosks
from voxpop.web import (
    current_language,
    hostname_for_other_devices,
    https_url_for_this_request,
    is_secure_context,
    require_event,
)

bp = Blueprint("kiosk", __name__)


def kiosk_strings() -> dict[str, str]:
    """Every message the kiosk's scripts show, in the delegate's language (one place).

    The page carries them in its config; static/kiosk/*.js hold no words of their own.
    Placeholders are ``{name}``, filled in by the script (kiosk.js ``text.format``).
    """
    return {
        "saved_on_kiosk": _(
            "Your reflection is saved on this kiosk. It will be sent by itself when the"
            " connection allows: you don't need to wait."
        ),
        "kept_refused": _(
            "Your reflection is kept on this kiosk, but it could not be sent. Please tell an"
            " organiser."
        ),
        "storage_low": _("This kiosk is running out of storage space — please tell an organiser."),
        # Read by a delegate at a kiosk and by an interviewer on a roving phone: words for both.
        "camera_denied": _("We can't use the camera. Record audio only, or write instead."),
        "mic_denied": _("We can't use the microphone. Write instead."),
        "not_paired": _(
            "This kiosk is no longer paired with the event, so it cannot send anything."
            " Reflections stay on it: please ask an organiser to pair it again."
        ),
        "too_long": _("{count} of {max} characters"),
        "recording": _("Recording"),
        "starting_camera": _("Starting the camera…"),
        "starting_microphone": _("Starting the microphone…"),
        "nothing_recorded": _("Nothing was recorded. Please try again."),
        "try_another_way": _("That didn't record. Trying another way — please record again."),
        "no_recorder": _("This device can't record here. Write instead."),
        "interviewer_label": _("Interviewer: {name}"),
        "idle_warning": _("This screen will start again in {seconds} s. Tap to carry on."),
    }


def _plural_examples(lang: str) -> dict[str, int]:
    """One number for each CLDR plural category of ``lang`` (cy: zero 0, one 1, two 2, ...)."""
    locale = Locale.parse(lang)
    examples: dict[str, int] = {}
    for number in range(200):
        examples.setdefault(locale.plural_form(number), number)
    return examples


def kiosk_plurals(lang: str) -> dict[str, dict[str, str]]:
    """Counted messages for the kiosk script: each CLDR category's form, with ``{count}``.

    kiosk.js picks the form with ``Intl.PluralRules``, which uses the same CLDR categories as
    the catalogue's Plural-Forms (six for Welsh).
    """
    examples = _plural_examples(lang)
    return {
        "waiting": {
            category: ngettext(
                "{count} reflection waiting to send", "{count} reflections waiting to send", n
            )
            for category, n in examples.items()
        },
        "refused": {
            category: ngettext(
                "{count} reflection could not be sent. It is kept on this kiosk:"
                " please tell an organiser.",
                "{count} reflections could not be sent. They are kept on this kiosk:"
                " please tell an organiser.",
                n,
            )
            for category, n in examples.items()
        },
    }


# The kiosk page's scripts, in the order it loads them (each uses those before it).
KIOSK_SCRIPTS = (
    "vendor/tus.min.js",
    "vendor/qrcode.js",
    "js/net.js",
    "kiosk/outbox.js",
    "kiosk/recorder.js",
    "kiosk/screens.js",
    "kiosk/kiosk.js",
)
# The "not open yet" page's: only the outbox, to send what the kiosk holds.
CLOSED_SCRIPTS = ("vendor/tus.min.js", "js/net.js", "kiosk/outbox.js", "kiosk/closed.js")
# What the service worker keeps for opening the kiosk offline (besides the page itself).
KIOSK_STATIC_FILES = ("kiosk/kiosk.css", *KIOSK_SCRIPTS)
SW_CONFIG_LINE = re.compile(r"^var SW_CONFIG = .*$", re.M)


def _static_path(filename: str) -> Path:
    return Path(current_app.static_folder or "") / filename


def kiosk_assets_version() -> str:
    """A short hash of the kiosk's static files and service worker: a deploy changes it."""
    digest = hashlib.sha256()
    for filename in (*KIOSK_STATIC_FILES, "kiosk/sw.js"):
        digest.update(filename.encode())
        digest.update(_static_path(filename).read_bytes())
    return digest.hexdigest()[:16]


def _branding(event: models.Event) -> dict[str, Any]:
    """The event's logo and accent colour (from Settings) for the attract screen."""
    from pathlib import PurePosixPath

    from voxpop.media.typesetting import CardError, parse_colour, text_colour_for

    logo_path = event.branding.get("logo_path")
    accent = event.branding.get("accent_colour")
    branding: dict[str, Any] = {
        "logo": url_for("studio.branding_logo", v=PurePosixPath(logo_path).stem)
        if logo_path
        else None,
        "accent": None,
        "accent_ink": None,
    }
    try:
        rgb = parse_colour(accent) if accent else None
    except CardError:
        rgb = None  # not a colour voxpop saved: keep the kiosk's own
    if rgb is not None:
        branding["accent"] = "#{:02x}{:02x}{:02x}".format(*rgb)
        branding["accent_ink"] = "#{:02x}{:02x}{:02x}".format(*text_colour_for(rgb))
    return branding


def kiosk_config(event: models.Event, lang: str) -> dict[str, Any]:
    """Everything the kiosk page needs, in one JSON object embedded in the page."""
    db = get_db()
    consent = models.current_consent_text(db, event.id)
    wording = consent.for_language(lang)
    config: dict[str, Any] = {
        "lang": lang,
        "languages": event.languages,
        "event": {
            "name": event.name_in(lang),
            "thanks": event.thanks_in(lang),
            "max_seconds": event.max_clip_seconds,
            "idle_seconds": event.idle_timeout_seconds,
            "text_max_chars": event.text_max_chars,
            "banner": event.branding.get("kiosk_banner") or kiosk_banner(db, event, lang),
            **_branding(event),
        },
        "perspectives": [
            {"slug": p.slug, "label": p.label(lang), "colour": p.colour}
            for p in models.perspectives(db, event.id)
        ],
        "prompts": [{"id": p.id, "text": p.text(lang)} for p in models.prompts(db, event.id)],
        "consent": {
            "version": consent.sha256,
            "intro": wording.get("intro", ""),
            "purposes": [
                {
                    "slug": slug,
                    # A part missing in this language shows the English (what was recorded).
                    "text": wording.get(slug) or consent.for_language("en").get(slug, slug),
                    "required": slug == "archive",
                }
                for slug in consent.purposes
            ],
        },
        "api": {
            **outbox_api(),
            "receipt_qr": url_for("kiosk.receipt_qr", code="CODE"),
            "withdraw_url": withdraw_url("CODE"),
            "service_worker": url_for("kiosk.service_worker"),
            "service_worker_scope": url_for("kiosk.page"),
        },
        "app_version": kiosk_assets_version(),
        "plurals": kiosk_plurals(lang),
        "kiosk": {
            "mode": g.kiosk.mode if g.get("kiosk") else "kiosk",
            "countdown_seconds": min(
                max(int(current_app.config["KIOSK_COUNTDOWN_SECONDS"]), 1), 10
            ),
        },
        "csrf_token": _csrf_token(),
        "strings": kiosk_strings(),
    }
    config["config_version"] = config_version(config)
    return config


def outbox_api() -> dict[str, str]:
    """Where the kiosk's outbox sends (static/kiosk/outbox.js start's ``api``)."""
    return {
        "reflections": url_for("kiosk.create_reflection"),
        "uploads": url_for("intake.create_upload"),
        "session": url_for("kiosk.api_session"),
        "heartbeat": url_for("kiosk.heartbeat"),
    }


# Differ from one request to the next without the configuration changing.
PER_REQUEST_CONFIG = ("csrf_token", "config_version")


def config_version(config: dict[str, Any]) -> str:
    """A stable hash of what the kiosk page shows and sends, minus per-request values.

    The page carries it in its config and ``GET /kiosk/api/session`` answers the current one:
    an open kiosk reloads itself (on its home screen) when they differ.
    """
    stable = {key: value for key, value in config.items() if key not in PER_REQUEST_CONFIG}
    encoded = json.dumps(stable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return str(generate_csrf())


def kiosk_language(event: models.Event, asked: str | None = None) -> str:
    """The kiosk page's language: ``asked`` if the event offers it, else the request's locale
    if the event offers it, else the event's first language."""
    if asked in event.languages:
        return str(asked)
    lang = current_language()
    return lang if lang in event.languages else event.languages[0]


@bp.get("/")
@public  # shows the kiosk to paired devices only; anyone else sees how to pair
def page() -> Any:
    """The kiosk page, or how to pair this device when it is not a kiosk yet."""
    from voxpop.auth import current_kiosk

    kiosk = current_kiosk()
    if kiosk is None:
        return render_template("kiosk/unpaired.html"), 403
    g.kiosk = kiosk
    event = require_event()
    lang = kiosk_language(event)
    if not open_to_kiosks(get_db(), event):
        # Content missing in one of its languages: nobody is asked to consent in another. The
        # outbox still runs: what the kiosk holds is sent, and its heartbeat says what waits.
        outbox = {
            "api": outbox_api(),
            "csrf_token": _csrf_token(),
            "app_version": kiosk_assets_version(),
            "lang": lang,
        }
        with force_locale(lang):
            return render_template("kiosk/closed.html", outbox=outbox, scripts=CLOSED_SCRIPTS), 503
    # The whole page in ``lang``, the script's config as GET /kiosk/api/session computes its
    # config_version and the template's own words too: the browser's remembered language may
    # be one the event no longer offers (it would give Welsh buttons on an English page).
    with force_locale(lang):
        config = kiosk_config(event, lang)
        return render_template(
            "kiosk/kiosk.html", config=config, lang=lang, kiosk_scripts=KIOSK_SCRIPTS
        )


@bp.get("/sw.js")
@public  # holds no data: the list of the kiosk's static files and their version
def service_worker() -> Any:
    """The kiosk's service worker (static/kiosk/sw.js) with its precache list and version."""
    source = _static_path("kiosk/sw.js").read_text(encoding="utf-8")
    sw_config = {
        "version": kiosk_assets_version(),
        "page": url_for("kiosk.page"),
        "precache": [url_for("static", filename=name) for name in KIOSK_STATIC_FILES],
        "api": url_for("kiosk.page") + "api/",
    }
    line = "var SW_CONFIG = " + json.dumps(sw_config) + ";"
    body = SW_CONFIG_LINE.sub(lambda _match: line, source, count=1)
    return Response(
        body,
        mimetype="application/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": url_for("kiosk.page")},
    )


@bp.route("/pair/<token>", methods=["GET", "POST"])
@public  # the one-time token in the URL is the credential
def pair(token: str) -> Any:
    """Turn this browser into a kiosk with a one-time pairing link."""
    db = get_db()
    if request.method == "POST":
        kiosk = models.use_pairing_token(db, token)
        if kiosk is None:
            return _spent_link()
        session["kiosk_id"] = kiosk.id
        session.permanent = True
        return redirect(url_for("kiosk.page"))
    kiosk = models.kiosk_by_pairing_token(db, token)
    if kiosk is None:
        return _spent_link()
    return render_template(
        "kiosk/pair.html",
        invalid=False,
        kiosk=kiosk,
        secure=is_secure_context(),
        https_url=https_url_for_this_request(),
    )


def _spent_link() -> Any:
    """A used or expired pairing link: on a device that is a kiosk already (the link opened
    again), say so and open it; anywhere else, ask for a new link."""
    from voxpop.auth import current_kiosk

    return render_template("kiosk/pair.html", invalid=True, already=current_kiosk()), 404


@bp.post("/api/reflections")
@csrf.exempt  # checked below, after authentication, for cookie-borne requests only
@kiosk_required
@kiosk_upload_limits
def create_reflection() -> Any:
    """Receive one reflection (multipart); answer ``{id, receipt_code, status}``."""
    event = require_event()
    bytes_per_second = int(current_app.config["UPLOAD_BYTES_PER_SECOND"])
    # Set before anything reads the body: the upload streams to disk up to this size. The
    # reflection may be for an earlier event, which is known only once the form is read, so
    # this is the most any event allows; receive_reflection then checks the size for its own.
    request.max_content_length = upload_limit_bytes(
        models.longest_clip_any_event(get_db()), bytes_per_second
    )
    if g.kiosk_via == "session":
        csrf.protect()
    if request.content_length:
        # Refuse before a byte is written: the kiosk keeps the recording and tries later.
        try:
            ensure_room(
                current_app.extensions["voxpop"].store.incoming,
                request.content_length,
                current_app.config["DISK_FREE_FLOOR_BYTES"],
            )
        except DiskFull:
            raise InsufficientStorage(disk_full_message()) from None
    form, files = request.form, request.files
    media_files = files.getlist("media")
    submission = Submission(
        perspective=form.get("perspective", ""),
        prompt=form.get("prompt", ""),
        kind=form.get("kind", ""),
        client_id=form.get("client_id", ""),
        consent=form.getlist("consent"),
        consent_version=form.get("consent_version", ""),
        first_name=form.get("first_name", ""),
        text=form.get("text"),
        media=media_files[0].stream if media_files else None,  # type: ignore[arg-type]
        extra_files=len(list(files.items(multi=True))) - (1 if media_files else 0),
        duration_ms=form.get("duration_ms", ""),
        lang=form.get("lang", ""),
        receipt_code=form.get("receipt_code", ""),
        capture={"via": "multipart"}
        | ({"recorder_mime": form["recorder_mime"][:120]} if form.get("recorder_mime") else {})
        | (
            {"recorder_fallback": step}
            if (step := recorder_fallback(form.get("recorder_fallback")))
            else {}
        ),
        interviewer=form.get("interviewer", ""),
    )
    if "media" in form:
        # A "media" text field instead of a file: the kiosk sent no recording at all.
        raise InvalidSubmission(_("The recording did not arrive. Please try again."))
    state = current_app.extensions["voxpop"]
    answer, created = receive_reflection(
        get_db(), state.store, event, g.kiosk, submission, bytes_per_second=bytes_per_second
    )
    if created:
        enqueue_processing(get_db(), state.queue, answer["id"])
    return jsonify(answer), 201 if created else 200


@bp.get("/api/session")
@kiosk_required
def api_session() -> Any:
    """What a kiosk needs before it sends: a fresh CSRF token and its reserved receipt codes.

    ``receipt_codes`` are reserved for this kiosk until used (topped up to 20 on each call),
    so the kiosk can show a delegate their code at once even when the laptop is out of reach.

    ``config_version`` is the one the kiosk page would carry if loaded now in ``?lang=`` (the
    page's language; default: as the page picks it), or null when no event is set up.

    ``resend_refused`` is when an organiser last asked this kiosk to send again what the laptop
    refused (null: never); the kiosk does so once for each new value.
    """
    db = get_db()
    event = models.current_event(db)
    version = None
    if event is not None and not open_to_kiosks(db, event):
        version = "closed"  # differs from any page's: an open kiosk reloads to the notice
    elif event is not None:
        lang = kiosk_language(event, request.args.get("lang"))
        with force_locale(lang):
            version = kiosk_config(event, lang)["config_version"]
    return (
        jsonify(
            {
                "csrf_token": _csrf_token(),
                "receipt_codes": reserve_codes(db, g.kiosk.id),
                "kiosk": {"id": g.kiosk.id, "name": g.kiosk.name, "mode": g.kiosk.mode},
                "config_version": version,
                "resend_refused": g.kiosk.resend_requested_at,
            }
        ),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.post("/api/heartbeat")
@csrf.exempt  # checked below, after authentication, for cookie-borne requests only
@kiosk_required
def heartbeat() -> Any:
    """A kiosk reports what it holds (outbox, storage, version) so the studio can show it."""
    if g.kiosk_via == "session":
        csrf.protect()
    report = request.get_json(silent=True)
    if not isinstance(report, dict):
        raise InvalidSubmission(_("The kiosk's report could not be read."))
    models.record_heartbeat(
        get_db(), g.kiosk.id, report, request.headers.get("User-Agent", "")[:300]
    )
    return Response(status=204)


def withdraw_url(code: str) -> str:
    """Where a receipt's QR code points: the public base URL, or this laptop over plain HTTP.

    Plain HTTP so a delegate's phone, which has not installed the venue certificate, opens
    the page without a warning.
    """
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    path = url_for("public.withdraw", code=code)
    if base:
        return f"{base}{path}"
    return f"http://{hostname_for_other_devices()}:{current_app.config['PORT']}{path}"


@bp.get("/receipt/<code>/qr.svg")
@kiosk_required
def receipt_qr(code: str) -> Any:
    """A QR code of the withdrawal link for a receipt code (nothing about the reflection)."""
    canonical = normalise_receipt_code(code)
    if canonical is None:
        raise InvalidSubmission(_("That is not a receipt code."))
    buffer = io.BytesIO()
    segno.make(withdraw_url(canonical), error="m").save(
        buffer, kind="svg", scale=8, border=2, xmldecl=False
    )
    return Response(
        buffer.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"}
    )
