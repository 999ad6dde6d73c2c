"""The ``voxpop`` command: init, serve, kiosk add, user add."""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import replace as dataclass_replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import segno
from flask import Flask

from voxpop import create_app, jobs, models, reasons, tls
from voxpop.db import get_db, now_utc
from voxpop.formatting import format_time_of_day
from voxpop.media import children, ffmpeg
from voxpop.reflection import search, transcripts
from voxpop.reflection.intake.uploads import schedule_expiry_sweep
from voxpop.reflection.processing import asset_paths, original_exists, remove_derived
from voxpop.server import PortInUse, serve_forever

FIRST_LOGIN_FILE = "first-login.txt"
# Where a running `voxpop serve` says which ports it listens on, so that `voxpop kiosk add`
# prints links that work when serve was given --port/--tls-port (removed when it stops).
SERVING_FILE = "serving.json"


def _app(**overrides: Any) -> Flask:
    try:
        return create_app(overrides or None)
    except RuntimeError as error:  # e.g. a database from a newer voxpop
        raise click.ClickException(str(error)) from error


def ensure_first_organiser(app: Flask) -> str | None:
    """Create an ``organiser`` login when there are no users; return its password once."""
    db = get_db()
    if models.user_count(db):
        return None
    password = secrets.token_urlsafe(9)
    models.create_user(db, "organiser", "organiser", password)
    path = Path(app.config["INSTANCE"]) / FIRST_LOGIN_FILE
    path.write_text(
        f"voxpop first organiser login\nname: organiser\npassword: {password}\n"
        "Add more people with: voxpop user add NAME --role organiser|facilitator\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return password


def create_demo_event() -> models.Event:
    """The demo event: today, default perspectives, prompts, consent and thank-you texts, all
    complete in English and Welsh (so it opens to kiosks in both)."""
    return models.create_event(
        get_db(),
        "Whose Shoes? — demo day",
        date=now_utc().astimezone().date().isoformat(),  # today, where voxpop runs
        venue="Cardiff City Hall",
        languages=["en", "cy"],
        names={"en": "Whose Shoes? — demo day", "cy": "Whose Shoes? — diwrnod arddangos"},
    )


def note_serving(instance: Path, port: int, tls_port: int) -> Path:
    """Record that this process serves ``instance`` on these ports; return the file."""
    path = instance / SERVING_FILE
    path.write_text(json.dumps({"pid": os.getpid(), "port": port, "tls_port": tls_port}))
    return path


def forget_serving(path: Path) -> None:
    """Remove the note of this process serving (not one a newer server wrote)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_server(instance: Path) -> dict[str, int] | None:
    """The ports of the `voxpop serve` running on ``instance`` now, or None when none is."""
    try:
        note = json.loads((instance / SERVING_FILE).read_text())
        pid, port, tls_port = int(note["pid"]), int(note["port"]), int(note["tls_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return None  # left by a server that was killed
    except PermissionError:
        pass  # it exists, under another user
    return {"port": port, "tls_port": tls_port}


def pairing_urls(host_addresses: list[str], port: int, token: str) -> dict[str, str]:
    """Pairing links for this laptop and for tablets on the LAN."""
    path = f"/kiosk/pair/{token}"
    lan = host_addresses[0] if host_addresses else "localhost"
    return {"local": f"http://localhost:{port}{path}", "lan": f"http://{lan}:{port}{path}"}


def own_media_tools(app: Flask) -> None:
    """Before recovering jobs: stop ffmpeg left running by a voxpop that died, and record ours.

    An orphaned ffmpeg would compete with the re-run of its own job (see media/children.py).
    """
    folder = Path(app.config["INSTANCE"]) / "children"
    children.reap_orphans(folder)
    children.track_in(folder)


@click.group()
def main() -> None:
    """voxpop: the vox-pop kiosk for Whose Shoes? events.

    The instance folder (database, certificates) is $VOXPOP_INSTANCE (default ./instance);
    media go to $VOXPOP_UPLOADS (default ./uploads).
    """


@main.command()
@click.option("--demo", is_flag=True, help="Create a demo event if there is no event yet.")
def init(demo: bool) -> None:
    """Create the instance folder and database (upgrading an old one), optionally a demo event."""
    app = _app()
    with app.app_context():
        event = models.current_event(get_db())
        if event is None and demo:
            event = create_demo_event()
            click.echo(f"Created the demo event “{event.name}”.")
        elif event is None:
            click.echo("No event yet: run `voxpop init --demo` for a demo event.")
        else:
            click.echo(f"Event: “{event.name}”.")
        password = ensure_first_organiser(app)
        if password:
            click.echo(f"Created the first organiser login: organiser / {password}")
            click.echo(f"(also saved in {Path(app.config['INSTANCE']) / FIRST_LOGIN_FILE})")
    click.echo(f"Instance: {app.config['INSTANCE']}   Media: {app.config['UPLOADS']}")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: all, 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Plain HTTP port (default 8080).")
@click.option("--tls-port", type=int, default=None, help="HTTPS port for tablets (default 8443).")
@click.option(
    "--no-worker", is_flag=True, help="Do not process recordings here (run `voxpop worker`)."
)
def serve(host: str | None, port: int | None, tls_port: int | None, no_worker: bool) -> None:
    """Run the web server on HTTP and HTTPS, with the job worker (Ctrl+C stops)."""
    overrides = {k: v for k, v in (("HOST", host), ("PORT", port), ("TLS_PORT", tls_port)) if v}
    app = _app(**overrides)
    config = app.config
    addresses = tls.lan_addresses()
    tls_files = tls.ensure_server_certificate(
        Path(config["INSTANCE"]) / "tls", tls.host_names(), [*addresses, "127.0.0.1"]
    )
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        if event is None:
            raise click.ClickException("No event yet: run `voxpop init --demo` first.")
        ensure_first_organiser(app)
        # A live pairing link is only printed to a person at a terminal: when the output goes
        # to a file or a journal, a link there would let whoever reads it make a kiosk.
        urls = None
        if sys.stdout.isatty():
            _kiosk, pairing_token = models.start_up_pairing(db, models.next_kiosk_name(db))
            urls = pairing_urls(addresses, config["PORT"], pairing_token)
    ffmpeg_found = app.extensions["voxpop"].ffmpeg_version

    serving: list[Path] = []

    def announce() -> None:
        serving.append(note_serving(Path(config["INSTANCE"]), config["PORT"], config["TLS_PORT"]))
        lan = addresses[0] if addresses else "localhost"
        click.echo(f"\nvoxpop is running: “{event.name}”")
        click.echo(
            f"  Organiser page   http://localhost:{config['PORT']}/studio/"
            f"   (first login: {Path(config['INSTANCE']) / FIRST_LOGIN_FILE})"
        )
        click.echo(
            f"  Kiosk            https://{lan}:{config['TLS_PORT']}/kiosk/"
            f"   ·   on this laptop: http://localhost:{config['PORT']}/kiosk/"
        )
        if urls:
            click.echo(f"  Pair a kiosk     {urls['lan']}")
            click.echo(f"     (this laptop) {urls['local']}")
            click.echo("     The link works once, for a day; make more on the organiser page.")
        else:
            click.echo("  Pair a kiosk     on the organiser page (“Pair a new kiosk”),"
                       " or: voxpop kiosk add NAME")  # fmt: skip
        click.echo(
            f"  Tablet setup     http://{lan}:{config['PORT']}/setup   (install the certificate)"
        )
        if ffmpeg_found:
            click.echo(f"  ffmpeg           {ffmpeg_found}")
        else:
            click.echo(
                "  ffmpeg           NOT FOUND: recordings are kept but cannot be processed."
                " Install it (Debian: sudo apt-get install ffmpeg)."
            )
        if urls:
            click.echo("\nScan with the tablet's camera to pair it:")
            segno.make(urls["lan"], error="l").terminal(compact=True)
        click.echo("\nPress Ctrl+C to stop.", nl=True)

    queue = app.extensions["voxpop"].queue
    if not no_worker:
        own_media_tools(app)
    # This process owns the uploads from here on: clear what a crash left in incoming/ (files
    # another live server holds are kept) and keep expiring abandoned resumable uploads.
    app.extensions["voxpop"].store.sweep_incoming()
    with app.app_context():
        schedule_expiry_sweep(get_db(), queue)
    consumer = None if no_worker else jobs.start_consumer(queue, workers=config["WORKERS"])
    try:
        serve_forever(
            app, config["HOST"], config["PORT"], config["TLS_PORT"], tls_files, on_ready=announce
        )
    except PortInUse as error:
        raise click.ClickException(
            f"{error} Is voxpop already running? Choose others with --port/--tls-port."
        ) from error
    finally:
        for path in serving:
            forget_serving(path)
        if consumer is not None:
            consumer.stop()
            ffmpeg.stop_all()
    click.echo("voxpop stopped. Unfinished processing resumes at the next start.")


@main.group()
def kiosk() -> None:
    """Kiosk devices."""


@kiosk.command("add")
@click.argument("name")
@click.option(
    "--roving", is_flag=True, help="An interviewer's phone: the interviewer-led walk-up flow."
)
def kiosk_add(name: str, roving: bool) -> None:
    """Create a kiosk; print its one-time pairing link and its API token."""
    app = _app()
    with app.app_context():
        new = models.create_kiosk(get_db(), name, mode="roving" if roving else "kiosk")
    running = running_server(Path(app.config["INSTANCE"]))
    port = running["port"] if running else app.config["PORT"]
    urls = pairing_urls(tls.lan_addresses(), port, new.pairing_token)
    click.echo(f"Kiosk “{new.kiosk.name}” (id {new.kiosk.id})")
    click.echo(f"Pairing link (works once, for a day): {urls['lan']}")
    click.echo(f"  on this laptop:                     {urls['local']}")
    click.echo(f"API token (Authorization: Bearer …): {new.api_token}")
    if running is None:
        click.echo(
            f"voxpop is not running: the link works once `voxpop serve` runs on port {port}"
            " (with --port, make the link after it has started)."
        )


@main.group()
def user() -> None:
    """Organiser and facilitator logins."""


def _read_password(prompt: str, from_stdin: bool) -> str:
    """A password from one line of standard input, or typed twice at ``prompt`` (never an
    argument: command lines end up in shell histories and process lists)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(models.ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a login; the password is asked for (never given on the command line)."""
    password = _read_password("Password", password_stdin)
    app = _app()
    with app.app_context():
        try:
            created = models.create_user(get_db(), name, role, password)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"Added {created.role} “{created.name}”.")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_password(name: str, password_stdin: bool) -> None:
    """Set a login's password; every session it had is logged out."""
    password = _read_password("New password", password_stdin)
    app = _app()
    with app.app_context():
        try:
            changed = models.change_password(get_db(), name, password)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"Changed the password of “{changed.name}”; their sessions are logged out.")


@main.command()
@click.option("--workers", type=int, default=None, help="Jobs at a time (default 1).")
def worker(workers: int | None) -> None:
    """Process recordings without the web server (use with `voxpop serve --no-worker`)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = _app()
    queue = app.extensions["voxpop"].queue
    own_media_tools(app)
    jobs.recover(queue)
    consumer = queue.huey.create_consumer(
        workers=workers or app.config["WORKERS"], worker_type="thread", periodic=False,
        max_delay=2.0,
    )  # fmt: skip
    click.echo("voxpop worker running; Ctrl+C stops.")
    try:
        consumer.run()
    finally:
        ffmpeg.stop_all()


@main.group("jobs", invoke_without_command=True)
@click.pass_context
def jobs_group(ctx: click.Context) -> None:
    """Background jobs: list them (default), or `retry ID`."""
    if ctx.invoked_subcommand is not None:
        return
    app = _app()
    with app.app_context():
        rows = jobs.list_jobs(get_db())
    if not rows:
        click.echo("No jobs.")
    for row in rows:
        line = (f"{row['id']:>5}  {row['kind']:<20} {row['target_id']:>6}  {row['status']:<8}"
                f" {row['progress'] * 100:5.1f}%  attempts {row['attempts']}")  # fmt: skip
        if row["error"]:
            line += f"  — {reasons.english(row['error'])}"
        if row["status"] == "queued" and _later(row["run_after"]):
            line += f" (next try at {format_time_of_day(row['run_after'], 'en')})"
        click.echo(line)


def _later(moment: str | None) -> bool:
    """Whether a stored time (a job's ``run_after``) is still ahead."""
    try:
        return bool(moment) and datetime.fromisoformat(str(moment)) > now_utc()
    except ValueError:
        return False


@jobs_group.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Put a failed job back in the queue."""
    app = _app()
    with app.app_context():
        if not jobs.retry(get_db(), app.extensions["voxpop"].queue, job_id):
            raise click.ClickException(f"Job {job_id} does not exist or has not failed.")
    click.echo(f"Job {job_id} queued again.")


def reflection_records(db: Any) -> list[dict[str, Any]]:
    """Every reflection as the JSON object `voxpop reflections --json` prints (no receipt
    codes: a code is the delegate's credential to withdraw, so listings show the id)."""
    rows = db.execute(
        "SELECT r.id, r.event_id, e.name AS event_name, r.kind, p.slug AS perspective,"
        " r.status, r.failure_reason, r.duration_seconds, r.created_at FROM reflection r"
        " JOIN perspective p ON p.id = r.perspective_id JOIN event e ON e.id = r.event_id"
        " ORDER BY r.id"
    ).fetchall()
    heard = transcripts.summaries(db)
    return [
        {
            "id": row["id"],
            "event": {"id": row["event_id"], "name": row["event_name"]},
            "kind": row["kind"],
            "perspective": row["perspective"],
            "status": row["status"],
            "reason": reasons.english(row["failure_reason"]),
            "duration": row["duration_seconds"],
            "created_at": row["created_at"],
            "files": asset_paths(db, row["id"]),
            "transcript": heard.get(row["id"], transcripts.summary(None)),
        }  # fmt: skip
        for row in rows
    ]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def reflections(as_json: bool) -> None:
    """List reflections: id, kind, perspective, status, reason, derived files.

    Every event's: one given at an earlier event (a kiosk may send it after a new event
    started) is named with its event, as the studio shows only the current one.
    """
    app = _app()
    with app.app_context():
        db = get_db()
        records = reflection_records(db)
        current = models.current_event(db)
    for record in records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            reason = f" — {record['reason']}" if record["reason"] else ""
            event = record["event"]
            earlier = (
                f"  [event {event['id']}: {event['name']}]"
                if current is None or event["id"] != current.id
                else ""
            )
            click.echo(f"{record['id']:>5}  {record['kind']:<5}  {record['perspective']:<18}"
                       f" {record['status']}{reason}{earlier}")  # fmt: skip


@main.command("speech")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="A CTranslate2 Whisper model folder (default: the setting, else the packaged "
                   "whisper base).")  # fmt: skip
def speech_command(model_path: Path | None) -> None:
    """Say which speech model transcribes clips, its languages, and how fast it is here."""
    import tempfile
    import time

    from voxpop.speech import model as speech_model
    from voxpop.speech import sample
    from voxpop.speech import transcribe as speech

    app = _app()
    setting = transcripts.settings(app.config)
    if model_path is not None:
        setting = dataclass_replace(setting, model=str(model_path))
    if not setting.after_processing:
        click.echo("Automatic transcription after processing is off (SPEECH_AFTER_PROCESSING).")
    try:
        chosen = transcripts.resolve(setting)
    except speech_model.ModelUnavailable as error:
        raise click.ClickException(
            f"Automatic captions are off: {error.message}"
        ) from error  # fmt: skip
    click.echo(f"Model: {chosen.name} ({chosen.source}) in {chosen.folder}")
    started = time.monotonic()
    try:
        loaded = speech.MODELS.get(chosen.folder, setting.threads)
    except speech.NoSpeechModel as error:
        raise click.ClickException(f"Automatic captions are off: {error}") from error
    click.echo(f"Loaded in {time.monotonic() - started:.1f} s with {setting.threads} thread(s).")
    languages = list(getattr(loaded, "supported_languages", []) or [])
    if speech_model.is_multilingual(chosen.folder):
        click.echo(f"Languages: {len(languages)} ({', '.join(languages[:12])}, …); drafts are "
                   "made for English only, other languages go to a person.")  # fmt: skip
    else:
        click.echo("Languages: English only.")
    with tempfile.TemporaryDirectory() as folder:
        clip, said = sample.make_sample(Path(folder))
        heard = speech.transcribe(clip, chosen.folder, threads=setting.threads)
    per_minute = heard.seconds / heard.duration * 60 if heard.duration else 0.0
    click.echo(f"Sample: {heard.duration:.1f} s of audio in {heard.seconds:.1f} s "
               f"({per_minute:.1f} s of compute per audio minute).")  # fmt: skip
    if said:
        click.echo(f"Said:  {said}")
        click.echo(f"Heard: {heard.text or '(no speech heard)'} [{heard.language}, "
                   f"{heard.language_probability:.0%}]")  # fmt: skip
    else:
        click.echo("espeak-ng is not installed, so the sample is a tone: "
                   + ("no speech heard, as it should be." if heard.no_speech
                      else f"the model heard {heard.text!r}."))  # fmt: skip


@main.command()
@click.option("--queue", "use_queue", is_flag=True,
              help="Hand the work to the running worker instead of doing it here.")  # fmt: skip
def rebuild(use_queue: bool) -> None:
    """Regenerate every derived file from the originals (e.g. after deleting uploads/derived/)."""
    app = _app()
    state = app.extensions["voxpop"]
    with app.app_context():
        db = get_db()
        # Not those whose original was refused and deleted: they keep their reason.
        ids = [row["id"] for row in db.execute(
            "SELECT id, original_path FROM reflection WHERE status != 'withdrawn' ORDER BY id")
            if original_exists(state.store, row["original_path"])]  # fmt: skip
        job_ids = []
        for reflection_id in ids:
            remove_derived(state.store, reflection_id)
            db.execute(
                "UPDATE reflection SET status = 'received', failure_reason = NULL WHERE id = ?",
                (reflection_id,),
            )
            job_ids.append(jobs.enqueue_processing(db, state.queue, reflection_id))
        indexed = search.rebuild(db)
    click.echo(f"Search index rebuilt ({indexed} reflection(s)).")
    if use_queue:
        click.echo(f"Queued {len(job_ids)} reflection(s) for the worker.")
        return
    failed = 0
    with click.progressbar(job_ids, label="Rebuilding", show_pos=True) as bar:
        for job_id in bar:
            failed += jobs.run_job(state.queue, job_id) == "failed"
    click.echo(f"Rebuilt {len(job_ids) - failed} reflection(s); {failed} failed"
               " (see `voxpop reflections`).")  # fmt: skip


@main.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--consent-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the consent log CSV (default: DIRECTORY-consent-log.csv beside it).",
)
def export_command(directory: Path, consent_log: Path | None) -> None:
    """Write the public archive as a static site into DIRECTORY, and the consent log beside it.

    Run it again to update the site: only what changed is rewritten, and files of reflections
    no longer public are removed. The consent log is never written inside the site.
    """
    from voxpop.errors import VoxpopError
    from voxpop.publishing.export import export_site, write_consent_log

    site = directory.resolve()
    log = (consent_log or site.with_name(f"{site.name}-consent-log.csv")).resolve()
    if log.is_relative_to(site):
        raise click.ClickException(
            "The consent log must not be inside the site folder (it would be published):"
            " choose another --consent-log path."
        )
    app = _app()
    with app.app_context():
        db = get_db()
        try:
            summary = export_site(db, app.extensions["voxpop"].store, site)
        except VoxpopError as error:
            raise click.ClickException(error.message) from error
        except OSError as error:
            if jobs.ran_out_of_disk(error):
                raise click.ClickException(jobs.disk_full_reason()) from error
            raise
        rows = write_consent_log(db, log)
    size = summary.bytes / 1_000_000
    click.echo(
        f"Exported {summary.items} reflection(s) and {summary.reels} reel(s) to {site}:"
        f" {summary.files} files, {size:.1f} MB ({summary.written} written,"
        f" {summary.removed} removed). Open {site / 'index.html'}"
    )
    click.echo(f"Consent log ({rows} row(s), keep it private): {log}")


@main.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--internal",
    is_flag=True,
    help="For the organising team: every reflection with archive consent, each page marked"
    " “internal — not for circulation”. Default: only what may be published.",
)
@click.option(
    "--lang", "lang", default=None, help="Language of the report (default: the event's first)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "csv", "json"]),
    default=None,
    help="pdf, csv or json (default: from OUT's suffix, else pdf).",
)
def report_command(out: Path, internal: bool, lang: str | None, fmt: str | None) -> None:
    """Write the record of the day to OUT: a PDF report, or the same data as CSV or JSON."""
    from voxpop.record import report

    fmt = fmt or (
        out.suffix.lower().lstrip(".") if out.suffix.lower() in (".csv", ".json") else "pdf"
    )
    app = _app()
    # Its own connection, outside an app context (as `publish`): the report picks its language.
    db = app.extensions["voxpop"].queue.connect()
    try:
        event = models.current_event(db)
        if event is None:
            raise click.ClickException("No event yet: run `voxpop init --demo` first.")
        lang = lang or (event.languages or ["en"])[0]
        if lang not in (event.languages or ["en"]):
            raise click.ClickException(
                f"The event is in {', '.join(event.languages)}; there is no report in {lang!r}."
            )
        record = report.build_record(db, event, lang, internal=internal)
        data = report.render(record, fmt)
    finally:
        db.close()
    out.write_bytes(data)
    kind = "internal report" if internal else "report"
    click.echo(f"Wrote the {kind} ({fmt}, {len(record.entries)} reflection(s), {lang}) to {out}")


@main.command("publish")
def publish_command() -> None:
    """Build the public archive and sync it to its S3 bucket now (progress on stderr)."""
    from voxpop.errors import VoxpopError
    from voxpop.publishing import publish, s3sync  # boto3 is only needed here

    app = _app()
    state = app.extensions["voxpop"]
    # Its own connection, outside an app context: messages are built with Flask-Babel, whose
    # locale selector needs a request once an app context exists.
    db = state.queue.connect()
    try:
        event = models.current_event(db)
        if event is None:
            raise click.ClickException("No event yet: run `voxpop init --demo` first.")
        settings = publish.resolve_settings(db, event.id)
        if not settings.configured:
            raise click.ClickException(
                "No S3 bucket is configured: set VOXPOP_S3_BUCKET, or choose one on the"
                " organiser page under Publish."
            )
        click.echo(f"Publishing “{event.name}” to {settings.describe()}", err=True)
        shown = {"files": -1, "phase": ""}

        def show(progress: s3sync.SyncProgress) -> None:
            if progress.phase == shown["phase"] and progress.files_sent == shown["files"]:
                return
            shown.update(files=progress.files_sent, phase=progress.phase)
            if progress.phase == "uploading":
                click.echo(
                    f"  sent {progress.files_sent} of {progress.files_to_send} changed file(s)"
                    f" ({s3sync.human_bytes(progress.bytes_sent)} of"
                    f" {s3sync.human_bytes(progress.bytes_to_send)};"
                    f" {progress.files_total - progress.files_to_send} unchanged)",
                    err=True,
                )
            elif progress.phase == "deleting" and progress.files_to_delete:
                click.echo(f"  deleting {progress.files_to_delete} old file(s)", err=True)
            elif progress.phase == "checking":
                click.echo("  comparing with the bucket…", err=True)

        try:
            result = publish.publish_event(
                db, state.store, Path(app.config["INSTANCE"]), event.id, on_progress=show
            )
        except publish.EndpointUnreachable as error:
            raise click.ClickException(
                f"{publish.waiting_message(error.files_queued or 0, error.reason)} Try again"
                " later, or press “Publish now” on the organiser page: the server then keeps"
                " trying by itself."
            ) from error
        except VoxpopError as error:
            raise click.ClickException(error.message) from error
    finally:
        db.close()
    click.echo(publish.summary(result))
