"""Fixtures shared by the whole suite: an app on a real SQLite file and a real media folder,
clients for each audience, and small generated media files."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import pytest
from flask import Flask
from flask.testing import FlaskClient

from voxpop import create_app, jobs, models
from voxpop.db import connect, database_path, get_db, transaction, utcnow
from voxpop.media.tools import ffmpeg_version

TESTS = Path(__file__).resolve().parent
# Scratch space for the run: test instances, media, browser profiles. ./test.sh points
# VOXPOP_TEST_TMP at a RAM disk when the machine has one with room; else tests/.tmp.
TMP = Path(os.environ.get("VOXPOP_TEST_TMP") or TESTS / ".tmp")


# Production hashes passwords with scrypt (about 0.1 s a hash, on purpose); the suite makes
# hundreds of users, so every app it starts (in process, or a `voxpop serve` child, which
# inherits the environment) uses a one-round hash instead. tests/test_auth.py checks the
# production default.
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1"


def _reuse_url_builders() -> None:
    """Make each URL rule's builder once per process instead of once per app.

    Werkzeug compiles two small Python functions (with ``ast`` and ``compile``) for every URL
    rule of every app: about 0.15 s of each ``create_app``, and the suite makes an app for
    nearly every test (a thousand and more). The functions depend only on the rule's text, its
    parsed parts and its defaults, and take the rule itself as an argument, so one made for the
    same rule in an earlier app is the same function. Tests only: the server makes one app.
    """
    from werkzeug.routing.rules import Rule

    original = Rule._compile_builder
    made: dict[tuple[Any, ...], Any] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        defaults = tuple(sorted((str(k), repr(v)) for k, v in (self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, append_unknown)
        builder = made.get(key)
        if builder is None:
            builder = made[key] = original(self, append_unknown)
        return builder

    Rule._compile_builder = compile_builder  # type: ignore[method-assign]

    # Parsing each rule's text (a regular expression per part) is the other half: kept per
    # rule text and map settings. The converters it makes keep no state but the map they were
    # made for, which nothing reads after.
    compile_rule = Rule.compile
    parsed: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def compile(self: Rule) -> None:
        assert self.map is not None
        kinds = tuple(sorted((name, id(kind)) for name, kind in self.map.converters.items()))
        key = (self.rule, self.host, self.subdomain, self.merge_slashes, self.map.host_matching,
               kinds)  # fmt: skip
        known = parsed.get(key)
        if known is None:
            compile_rule(self)
            parsed[key] = (self._parts, self._trace, self._converters, set(self.arguments))
            return
        parts, trace, converters, arguments = known
        self._parts, self._trace = list(parts), list(trace)
        self._converters = dict(converters)
        self.arguments |= arguments
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)

    Rule.compile = compile  # type: ignore[method-assign]


_reuse_url_builders()


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept for every app of this process (each app has its own Jinja
    environment, and compiling the templates again for every test was about half of the
    time of a page test). Keyed by template and checked against the source's checksum, as
    Jinja's own bytecode caches are: an edited template is compiled again. Tests only."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[str, Any]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        found = self.made.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.made[bucket.key] = (bucket.checksum, bucket.code)


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _SharedTemplateCode()}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        default=os.environ.get("VOXPOP_SCREENSHOTS") or None,
        metavar="DIR",
        help="save the browser tests' screenshots of the main screens at tablet, phone and"
        " laptop sizes in DIR, and refresh the README's pictures in docs/img (default:"
        " $VOXPOP_SCREENSHOTS; none are taken without either, as the tests check nothing in"
        " them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Browser profiles and temp media stay inside the tree (git-ignored), or on the RAM disk.
    TMP.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(TMP)
    os.environ["VOXPOP_PASSWORD_HASH_METHOD"] = CHEAP_PASSWORD_HASH
    # Clips are not transcribed after processing (the real speech model takes seconds a clip);
    # tests/test_speech.py turns it on where it is the point.
    os.environ["VOXPOP_SPEECH_AFTER_PROCESSING"] = "0"
    # The kiosk counts down 1 s before it records instead of 3 s (browser tests record dozens
    # of times); tests/test_kiosk_pages.py checks the default and the range.
    os.environ["VOXPOP_KIOSK_COUNTDOWN_SECONDS"] = "1"
    # Screenshots only when asked for (tests/browser/conftest.py's shoot reads this).
    if config.getoption("screenshots"):
        os.environ["VOXPOP_SCREENSHOTS"] = str(Path(config.getoption("screenshots")).resolve())
    else:
        os.environ.pop("VOXPOP_SCREENSHOTS", None)


# The test files that take longest, roughly longest first (measured with --durations=0 in a
# whole run, 2026-12-02).
# ./test.sh gives whole files to three workers in collection order (--dist loadfile
# --no-loadscope-reorder), so these start first: a long file started early runs beside many
# short ones, where started last it would leave the other workers idle at the end. Files that
# mostly compute (ffmpeg) alternate with browser files that mostly wait on real time, so the
# workers tend to share the two cores rather than fight over them. Order only: a file missing
# here runs after these, in pytest's usual order.
LONGEST_FIRST = (
    "tests/test_reels.py",
    "tests/browser/test_accessibility.py",
    "tests/test_pipeline.py",
    "tests/browser/test_kiosk_journey.py",
    "tests/test_publish.py",
    "tests/browser/test_kiosk_layout.py",
    "tests/test_reel_pieces.py",
    "tests/browser/test_kiosk_outbox.py",
    "tests/test_jobs.py",
    "tests/webkit/test_webkit_kiosk.py",
    "tests/test_withdrawal.py",
    "tests/browser/test_kiosk_recorder.py",
    "tests/test_speech.py",
    "tests/browser/test_dashboard_layout.py",
    "tests/test_media_children.py",
    "tests/browser/test_roving.py",
    "tests/test_media_door.py",
    "tests/browser/test_wall_live.py",
    "tests/browser/test_kiosk_resume.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> tuple[bool, int]:
        # While Debian's packages are still installing, the files that need none go first.
        waits = bool(PACKAGES_PENDING) and item.get_closest_marker("python_only") is None
        return waits, rank.get(item.nodeid.split("::", 1)[0], len(rank))

    items.sort(key=order)


# -- tests that run while ./test.sh is still installing Debian's packages --------------------
#
# On a fresh machine apt-get takes about a minute (ffmpeg, Chromium, WebKitGTK, GStreamer),
# where the Python side is ready in about 20 s. ./test.sh then starts the tests at once and
# names in VOXPOP_TEST_SYSTEM_PACKAGES the file it writes when apt-get is done. The files
# marked ``python_only`` (``pytestmark = pytest.mark.python_only``: no program but Python, no
# media tool, no browser) run first, and every other test waits for that file. A python_only
# test runs with only the venv's folder on its PATH in every run, not only on a fresh machine,
# so a file that needs a program fails wherever it runs rather than only in CI.
PACKAGES_PENDING = os.environ.get("VOXPOP_TEST_SYSTEM_PACKAGES")
PACKAGES_WAIT_SECONDS = 30 * 60


@functools.cache
def _wait_for_packages() -> None:
    """Once per process: wait until ./test.sh has installed Debian's packages."""
    assert PACKAGES_PENDING is not None
    deadline = time.monotonic() + PACKAGES_WAIT_SECONDS
    while not Path(PACKAGES_PENDING).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    ffmpeg_version.cache_clear()  # looked for (and cached) before ffmpeg was there


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if PACKAGES_PENDING and item.get_closest_marker("python_only") is None:
        _wait_for_packages()


@pytest.fixture(autouse=True)
def _python_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A python_only test finds no program on its PATH but the venv's (Python, SeaweedFS)."""
    if request.node.get_closest_marker("python_only") is None:
        yield
        return
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    ffmpeg_version.cache_clear()
    yield
    ffmpeg_version.cache_clear()


def _app_config(root: Path) -> dict[str, Any]:
    return {
        "INSTANCE": str(root / "instance"),
        "UPLOADS": str(root / "uploads"),
        "TESTING": True,
        # Jobs are queued in memory and not run: app tests check what is stored;
        # tests/test_pipeline.py runs the real worker.
        "QUEUE": "memory",
    }


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated once per session (per xdist worker) with the demo event.

    Each ``app`` starts from a copy, so migrations do not run again for every test (they
    still run for real in tests/test_db.py, and for every app that is not made here).
    """
    root = tmp_path_factory.mktemp("template")
    app = create_app(_app_config(root))
    with app.app_context():
        models.create_event(
            get_db(),
            "Whose Shoes? test day",
            date="2026-11-23",
            venue="Parc Eirias, Colwyn Bay",
            languages=["en", "cy"],
            max_clip_seconds=10,
        )
    path = database_path(root / "instance")
    # Fold the write-ahead log into the file, so the file alone is the whole database.
    with closing(connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def app(tmp_path: Path, template_database: Path) -> Iterator[Flask]:
    """A voxpop app with a fresh instance folder, media folder and the demo event."""
    (tmp_path / "instance").mkdir()
    shutil.copyfile(template_database, database_path(tmp_path / "instance"))
    yield create_app(_app_config(tmp_path))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous browser."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """The ``voxpop`` CLI against this app's instance."""
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page (form field or kiosk config)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"csrf_token":\s*"([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


class Auth:
    """Log a test client in and out as a user of a given role."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client

    def make_user(self, name: str, role: str, password: str = "correct horse") -> None:
        with self.app.app_context():
            models.create_user(get_db(), name, role, password)

    def login(self, role: str = "organiser", name: str | None = None) -> Any:
        name = name or f"{role}-user"
        self.make_user(name, role)
        page = self.client.get("/login")
        return self.client.post(
            "/login",
            data={"name": name, "password": "correct horse", "csrf_token": csrf_from(page.text)},
        )


@pytest.fixture
def auth(app: Flask, client: FlaskClient) -> Auth:
    return Auth(app, client)


class KioskDevice:
    """A test client paired as a kiosk, plus the same kiosk's API token."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        with app.app_context():
            new = models.create_kiosk(get_db(), "Test kiosk")
        self.kiosk_id = new.kiosk.id
        self.token = new.api_token
        page = self.client.get(f"/kiosk/pair/{new.pairing_token}")
        self.client.post(
            f"/kiosk/pair/{new.pairing_token}", data={"csrf_token": csrf_from(page.text)}
        )
        kiosk_page = self.client.get("/kiosk/")
        assert kiosk_page.status_code == 200, kiosk_page.text
        self.config = json.loads(
            re.search(
                r'<script type="application/json" id="kiosk-config">(.*?)</script>',
                kiosk_page.text,
                re.S,
            ).group(1)
        )

    def form(self, **fields: Any) -> dict[str, Any]:
        """A valid text submission, changed by ``fields`` (None removes a field)."""
        data: dict[str, Any] = {
            "perspective": "volunteer",
            "prompt": str(self.config["prompts"][0]["id"]),
            "kind": "text",
            "consent": ["archive"],
            "consent_version": self.config["consent"]["version"],
            "text": "Listening to people who use services changed my mind.",
            "client_id": str(uuid.uuid4()),
            "lang": "en",
        }
        data.update(fields)
        return {key: value for key, value in data.items() if value is not None}

    def post(self, data: dict[str, Any], *, csrf: bool = True, **kwargs: Any) -> Any:
        headers = {"X-CSRFToken": self.config["csrf_token"]} if csrf else {}
        return self.client.post(
            "/kiosk/api/reflections",
            data=data,
            headers=headers,
            content_type="multipart/form-data",
            **kwargs,
        )


@pytest.fixture
def kiosk(app: Flask) -> KioskDevice:
    """A paired kiosk."""
    return KioskDevice(app)


def rows(app: Flask, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Query the app's database directly."""
    with app.app_context():
        return [dict(row) for row in get_db().execute(sql, params).fetchall()]


def stored_files(app: Flask) -> dict[str, list[str]]:
    """Every file under uploads/incoming and uploads/originals."""
    store = app.extensions["voxpop"].store
    return {
        "incoming": sorted(p.name for p in store.incoming.iterdir()),
        "originals": sorted(p.name for p in store.originals.iterdir()),
    }


# -- real media, generated with ffmpeg -------------------------------------------------------

requires_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None and not os.environ.get("CI") and not PACKAGES_PENDING,
    reason="ffmpeg is not installed (./test.sh installs it)",
)


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


@contextmanager
def made_in_place(path: Path) -> Iterator[Path]:
    """Yield a private name to write ``path`` under, then move it into place in one step.

    Shared media in ``tests/.tmp/media`` is made by whichever test process (an xdist worker,
    or another run in the same checkout) needs it first; none may read a half-written file.
    """
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    folder = TMP / "media"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shared_media(media_dir: Path, name: str, *ffmpeg_args: str) -> Path:
    """``media_dir/name``, made by ``ffmpeg *ffmpeg_args <file>`` in whichever test process
    needs it first, and then kept for the rest of the run (and later runs)."""
    path = media_dir / name
    if not path.exists():
        with made_in_place(path) as partial:
            ffmpeg(*ffmpeg_args, str(partial))
    return path


@pytest.fixture(scope="session")
def webm_clip(media_dir: Path) -> Path:
    """A 2 s camera-like WebM (VP8 + Opus), as Chromium records."""
    return shared_media(
        media_dir, "clip.webm",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "2", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus",
    )  # fmt: skip


@pytest.fixture(scope="session")
def m4a_clip(media_dir: Path) -> Path:
    """A 2 s AAC audio clip in MP4 (M4A), as an iPad records audio only."""
    return shared_media(
        media_dir, "clip.m4a",
        "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", "2", "-c:a", "aac",
    )  # fmt: skip


@pytest.fixture(scope="session")
def long_video(media_dir: Path) -> Path:
    """A 30 s 960×540 H.264 + AAC MP4: a transcode long enough to be killed half-way.

    Shared by the tests that kill a worker or server mid-transcode (tests/test_jobs.py,
    tests/test_media_children.py). Its transcode still takes seconds after the first progress
    report (the moment those tests kill), at a quarter of the cost of a 1080p clip, which is
    not what those tests are about.
    """
    return shared_media(
        media_dir, "long-540p.mp4",
        "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac",
    )  # fmt: skip


# -- reflections straight into the pipeline ----------------------------------------------------


def add_reflection(app: Flask, kind: str, source: Path | None = None, text: str | None = None,
                   perspective: str = "volunteer", name: str | None = None) -> int:  # fmt: skip
    """Store a reflection as the kiosk would, but bypassing the upload's quick content check
    (so the probe itself is what meets a hostile file)."""
    store = app.extensions["voxpop"].store
    original = None
    if source is not None:
        store.originals.mkdir(parents=True, exist_ok=True)
        original = f"originals/{uuid.uuid4().hex}{source.suffix}"
        shutil.copyfile(source, store.root / original)
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        perspective_id = next(p.id for p in models.perspectives(db, event.id)
                              if p.slug == perspective)  # fmt: skip
        prompt_id = models.prompts(db, event.id)[0].id
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " original_path, status, receipt_code, client_id, lang, display_name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'received', ?, ?, 'en', ?, ?)",
                (event.id, kind, perspective_id, prompt_id, text, original,
                 uuid.uuid4().hex[:7], str(uuid.uuid4()), name, utcnow()),
            )  # fmt: skip
        return int(cursor.lastrowid)


def give_consent(app: Flask, reflection_id: int, *, reel: int = 1, online: int = 0,
                 show_name: int = 0, room: int = 0) -> None:  # fmt: skip
    """Record the delegate's consent (archive always; reel, online, room and name as given)."""
    with app.app_context():
        db = get_db()
        text = db.execute("SELECT id, sha256 FROM consent_text ORDER BY id LIMIT 1").fetchone()
        with transaction(db):
            db.execute(
                "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                " reel, online, room, show_name, given_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    reflection_id,
                    text["id"],
                    text["sha256"],
                    reel,
                    online,
                    room,
                    show_name,
                    utcnow(),
                ),  # fmt: skip
            )


CHECKED_CAPTIONS = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\nWords a person checked.\n"


def check_captions(app: Flask, reflection_id: int, vtt: str | None = None) -> None:
    """A facilitator checks the recording's captions (writing ``vtt`` first when given, or a
    short caption when it has none), through the review service, so it may go online."""
    from voxpop.review import service as review

    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        current = db.execute(
            "SELECT transcript_vtt FROM reflection WHERE id = ?", (reflection_id,)
        ).fetchone()[0]
        if vtt or not current:
            with transaction(db):
                db.execute(
                    "UPDATE reflection SET transcript_vtt = ? WHERE id = ?",
                    (vtt or CHECKED_CAPTIONS, reflection_id),
                )
        review.mark_captions_checked(db, event, reflection_id, actor=None)


def process(app: Flask, reflection_id: int) -> dict[str, Any]:
    """Run the reflection's job in this process, as a worker would; return the reflection."""
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = jobs.enqueue_processing(get_db(), queue, reflection_id)
    outcome = "retrying"
    while outcome == "retrying":  # a tool failure is retried; the test does not wait for it
        with app.app_context():
            get_db().execute("UPDATE job SET status = 'queued' WHERE id = ?", (job_id,))
        outcome = jobs.run_job(queue, job_id)
    (reflection,) = rows(app, "SELECT * FROM reflection WHERE id = ?", reflection_id)
    return reflection


def run_queued(app: Flask) -> list[tuple[str, int, str]]:
    """Run every queued job, as a worker would, until none is left; (kind, target, outcome)."""
    queue = app.extensions["voxpop"].queue
    ran = []
    for _round in range(20):
        pending = rows(app, "SELECT id, kind, target_id FROM job WHERE status = 'queued'"
                            " ORDER BY id")  # fmt: skip
        if not pending:
            return ran
        for job in pending:
            ran.append((job["kind"], job["target_id"], jobs.run_job(queue, job["id"])))
    raise AssertionError(f"jobs keep coming: {ran[-5:]}")
