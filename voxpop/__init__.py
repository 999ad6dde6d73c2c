"""voxpop: the vox-pop kiosk for "Whose Shoes?" co-production events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext

from voxpop import ratelimit, reasons, security, web
from voxpop.config import load_config
from voxpop.db import (
    close_db,
    connect,
    database_path,
    get_db,
    migrate,
    now_utc,
    schema_version,
)
from voxpop.extensions import babel, csrf, limiter
from voxpop.jobs import JobQueue, build_queue
from voxpop.media.tools import ffmpeg_version
from voxpop.reels import service as reel_service
from voxpop.storage import IncomingFile, MediaStore

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class VoxpopState:
    """What the app shares across requests: the media store and the tools found at start."""

    store: MediaStore
    ffmpeg_version: str | None
    queue: JobQueue


class VoxpopRequest(Request):
    """Streams uploaded files straight into ``uploads/incoming/``, hashing as they arrive."""

    # werkzeug annotates this IO[bytes]; a RawIOBase (all it uses: write, seek) does as well.
    def _get_file_stream(  # type: ignore[override]
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IncomingFile:
        incoming = current_app.extensions["voxpop"].store.open_incoming()
        g.setdefault("incoming_files", []).append(incoming)
        return incoming


class PerRequestSecureSession(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request came over HTTPS.

    One instance serves plain HTTP (the laptop's own browser, certificate setup) and HTTPS
    (tablets); a cookie set over HTTPS must never travel back over plain HTTP on the LAN.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def get_expiration_time(self, app: Flask, session: Any) -> Any:
        """A staff login's cookie lasts a working day; a paired kiosk's keeps the full lifetime."""
        expires = super().get_expiration_time(app, session)
        if expires is not None and session.get("user_id") and not session.get("kiosk_id"):
            from datetime import timedelta

            return now_utc() + timedelta(seconds=app.config["STAFF_SESSION_SECONDS"])
        return expires


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.is_file():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def open_database(instance: str | Path) -> Any:
    """Open (creating if needed) and migrate an instance's database, backing up before upgrades.

    The backup is kept only until the upgrade is confirmed: the next start, finding the
    database already upgraded, deletes it (meanwhile withdrawals scrub it; voxpop.copies).
    """
    from voxpop import copies
    from voxpop.db import migrations

    path = database_path(instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    version = schema_version(conn)
    if version and version < len(migrations()):
        backup = path.with_name(f"{path.name}.before-v{len(migrations())}")
        if not backup.exists():  # an upgrade that stopped half-way keeps the older copy
            target = connect(backup)
            conn.backup(target)
            target.close()
    elif version:
        copies.remove_upgrade_backups(instance)
    try:
        migrate(conn)
    except BaseException:
        conn.close()  # rolls back a migration that failed half-way
        raise
    return conn


def _reels_follow_up(response: Response) -> Response:
    """After a change that touched reels: prepare clips and render stale reels again."""
    noted = web.take_reel_follow_up()
    if noted is not None and response.status_code < 400:
        reel_service.follow_up(get_db(), current_app.extensions["voxpop"].queue, noted)
    return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the voxpop application: config, database, media store, blueprints."""
    loaded = load_config(config)
    instance = Path(loaded["INSTANCE"])
    app = Flask(
        __name__,
        instance_path=str(instance),
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    app.request_class = VoxpopRequest
    app.session_interface = PerRequestSecureSession()
    app.config.update(loaded)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = ratelimit.storage_uri_for(instance)

    open_database(instance).close()
    store = MediaStore(app.config["UPLOADS"])
    store.ensure_folders()  # partial uploads are swept by serve/worker only, never here
    app.extensions["voxpop"] = VoxpopState(
        store=store, ffmpeg_version=ffmpeg_version(), queue=build_queue(app.config, store)
    )

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=web.select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )

    from voxpop import auth, errors, formatting, logsafe
    from voxpop.archive.views import bp as archive_bp
    from voxpop.kiosk.views import bp as kiosk_bp
    from voxpop.public.views import bp as public_bp
    from voxpop.reflection.intake.tus import bp as intake_bp
    from voxpop.review.views import bp as review_bp
    from voxpop.studio import (  # noqa: F401 - register their routes
        captions,  # the captions gate
        comparison,  # "In their shoes": perspectives side by side
        dashboard,
        exporting,  # the archive download routes
        publishing,  # publishing to S3
        reels,  # the reel builder
        settings,
    )
    from voxpop.studio.views import bp as studio_bp
    from voxpop.wall.views import bp as wall_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(kiosk_bp, url_prefix="/kiosk")
    app.register_blueprint(intake_bp, url_prefix="/kiosk/api/uploads")
    app.register_blueprint(studio_bp, url_prefix="/studio")
    app.register_blueprint(review_bp, url_prefix="/review")
    app.register_blueprint(archive_bp, url_prefix="/archive")
    app.register_blueprint(wall_bp, url_prefix="/wall")
    errors.register_error_handlers(app)
    register_job_handlers()
    reel_service.listen_for_follow_up(web.note_reel_follow_up)  # see _reels_follow_up
    logsafe.install(app)  # no pairing link or token in what the app logs

    app.before_request(web.redirect_lan_http_to_https)
    app.before_request(auth.load_user)
    app.after_request(_reels_follow_up)
    security.init_app(app)
    app.teardown_request(_discard_unkept_uploads)
    app.teardown_appcontext(close_db)

    app.jinja_env.filters["ago"] = _ago
    app.jinja_env.filters["reason"] = _reason  # a stored failure reason, in the page's language
    app.jinja_env.globals["localised"] = web.localised
    app.jinja_env.filters.update(formatting.FILTERS)  # |day |when |time_of_day |number |size

    @app.context_processor
    def inject_helpers() -> dict[str, Any]:
        return {
            "current_locale": web.current_language(),
            "user": g.get("user"),
            "disk_low": _disk_low() if g.get("user") else False,
        }

    static = app.view_functions["static"]
    app.view_functions["static"] = auth.public(static)
    return app


def register_job_handlers() -> None:
    """Each feature tells the queue which functions run its kinds of job."""
    from voxpop.publishing import publish
    from voxpop.record import reports
    from voxpop.reels import render
    from voxpop.reflection import processing, transcripts, withdrawal
    from voxpop.reflection.intake import uploads

    for feature in (processing, render, publish, withdrawal, uploads, transcripts, reports):
        feature.register_job_handlers()


def _disk_low() -> bool:
    """True when free disk space is below the upload floor: staff pages then say so."""
    from voxpop.reflection.intake.staging import free_bytes

    store = current_app.extensions["voxpop"].store
    return free_bytes(store.root) < current_app.config["DISK_FREE_FLOOR_BYTES"]


def _ago(timestamp: str) -> str:
    """How long ago an ISO timestamp was, in the page's language ("4 minutes ago")."""
    from datetime import datetime

    from flask_babel import format_timedelta

    moment = datetime.fromisoformat(timestamp)
    return str(format_timedelta(moment - now_utc(), add_direction=True))


def _reason(stored: str | None) -> str | None:
    """A stored failure reason in the page's language (see voxpop.reasons)."""
    return reasons.render(stored, gettext)


def _discard_unkept_uploads(_error: BaseException | None = None) -> None:
    store = current_app.extensions["voxpop"].store
    for incoming in g.pop("incoming_files", []):
        store.discard(incoming)


__all__ = ["babel", "create_app", "csrf", "limiter"]
