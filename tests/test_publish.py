"""Publishing to S3 against a real S3 server (SeaweedFS), never a mock: the sync, the job that
waits out a lost connection, the studio page and ``voxpop publish``."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Auth, add_reflection, csrf_from, give_consent, rows
from tests.mediafiles import png_bytes
from tests.s3server import (
    ACCESS_KEY,
    SECRET_KEY,
    SeaweedS3,
    free_ports,
    s3_server,  # noqa: F401 - the session's S3 server
    use_test_credentials,
)
from voxpop import jobs, models, reasons
from voxpop.cli import main
from voxpop.db import get_db, transaction, utcnow
from voxpop.formatting import format_size, format_when
from voxpop.publishing import publish, s3sync
from voxpop.publishing.publish import EndpointUnreachable, PublishFailed, S3Settings

pytestmark = pytest.mark.python_only

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for the test server from the environment (boto3's chain), nothing else."""
    use_test_credentials(monkeypatch, tmp_path)
    # Give up on a stopped server after two tries instead of five (no waiting in tests).
    monkeypatch.setattr(publish, "MAX_ATTEMPTS", 2)


@pytest.fixture
def server(s3_server: SeaweedS3) -> SeaweedS3:  # noqa: F811
    """The session's server, running (a test that stopped it has started it again)."""
    if s3_server.process is None:
        s3_server.start()
    return s3_server


@pytest.fixture
def target(server: SeaweedS3) -> S3Settings:
    """The test server's bucket, under a prefix of this test's own."""
    return S3Settings(
        bucket=server.shared_bucket(),
        prefix=f"day-{uuid.uuid4().hex[:10]}",
        region="us-east-1",
        endpoint_url=server.endpoint_url,
    )


def write_site(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


SITE = {
    "index.html": b"<!doctype html><title>Archive</title>",
    "cy/index.html": "<!doctype html><title>Archif — ŵ</title>".encode(),
    "manifest.json": b'{"reflections": []}\n',
    "archive.css": b"body { font-family: sans-serif; }\n",
    "media/reflections/1/video.mp4": os.urandom(64 * 1024),
    "media/reflections/1/poster.jpg": b"\xff\xd8\xff" + os.urandom(2048),
    "media/reflections/1/captions.vtt": b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n",
    "media/reflections/2/card.png": png_bytes(16, 16),
    "media/reflections/2/thumb.webp": b"RIFF\x00\x00\x00\x00WEBPVP8 " + os.urandom(512),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bucket_files(server: SeaweedS3, settings: S3Settings) -> dict[str, dict[str, Any]]:
    """The objects under the prefix, keyed by their path inside the export."""
    objects = server.objects(settings.bucket, settings.key_prefix)
    return {key[len(settings.key_prefix) :]: value for key, value in objects.items()}


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_bucket_is_exactly(server: SeaweedS3, settings: S3Settings, root: Path) -> None:
    """Same paths, same bytes, sha256 metadata right, no multipart upload left open."""
    remote = bucket_files(server, settings)
    local = local_files(root)
    assert sorted(remote) == sorted(local)
    for path, data in local.items():
        assert remote[path]["body"] == data, path
        assert remote[path]["sha256"] == sha256(data), path
    assert server.incomplete_uploads(settings.bucket, settings.key_prefix) == []


# -- content types and cache headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "cache_control"),
    [
        ("index.html", "text/html; charset=utf-8", s3sync.CACHE_PAGES),
        ("cy/perspective-volunteer-2.html", "text/html; charset=utf-8", s3sync.CACHE_PAGES),
        ("manifest.json", "application/json", s3sync.CACHE_PAGES),
        ("archive.css", "text/css; charset=utf-8", s3sync.CACHE_TEXT),
        ("a/captions.vtt", "text/vtt; charset=utf-8", s3sync.CACHE_TEXT),
        ("a/video.mp4", "video/mp4", s3sync.CACHE_MEDIA),
        ("a/VIDEO.MP4", "video/mp4", s3sync.CACHE_MEDIA),
        ("a/poster.jpg", "image/jpeg", s3sync.CACHE_MEDIA),
        ("a/card.png", "image/png", s3sync.CACHE_MEDIA),
        ("a/thumb.webp", "image/webp", s3sync.CACHE_MEDIA),
        ("script.js", "text/javascript; charset=utf-8", s3sync.CACHE_TEXT),
        ("odd.unknown-kind", "application/octet-stream", s3sync.CACHE_MEDIA),
    ],
)
def test_content_type_and_cache_control_by_name(name, content_type, cache_control) -> None:
    assert s3sync.content_type_for(name) == content_type
    assert s3sync.cache_control_for(name) == cache_control


def sync(site: Path, target: S3Settings, **options: Any) -> s3sync.SyncResult:
    """The generic sync on its own: a client, a folder, a bucket and a prefix."""
    client = publish.make_client(target)
    return s3sync.sync_directory(client, site, target.bucket, target.prefix, **options)


# -- the sync -------------------------------------------------------------------------------------


def test_first_publish_uploads_everything_with_sha256_type_and_cache(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    result = sync(site, target)
    assert (result.files_total, result.files_uploaded, result.files_unchanged) == (9, 9, 0)
    assert result.bytes_sent == sum(len(data) for data in SITE.values())
    assert_bucket_is_exactly(server, target, site)
    remote = bucket_files(server, target)
    for path in SITE:
        assert remote[path]["content_type"] == s3sync.content_type_for(path)
        assert remote[path]["cache_control"] == s3sync.cache_control_for(path)
    # Everything went under the prefix, nothing beside it.
    assert set(server.objects(target.bucket, target.prefix)) == {
        f"{target.prefix}/{path}" for path in SITE
    }


def test_second_publish_sends_zero_bytes(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    sync(site, target)
    before = {key: value["etag"] for key, value in bucket_files(server, target).items()}
    sent: list[str] = []
    result = sync(site, target, on_object=lambda path, _f: sent.append(path))
    assert (result.files_uploaded, result.bytes_sent, result.files_deleted) == (0, 0, 0)
    assert result.files_unchanged == len(SITE)
    assert sent == []
    assert {key: value["etag"] for key, value in bucket_files(server, target).items()} == before


def test_changed_caption_resends_only_that_file(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    sync(site, target)
    caption = b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello, corrected\n"
    (site / "media/reflections/1/captions.vtt").write_bytes(caption)
    sent: list[str] = []
    result = sync(site, target, on_object=lambda path, _f: sent.append(path))
    assert sent == ["media/reflections/1/captions.vtt"]
    assert (result.files_uploaded, result.bytes_sent) == (1, len(caption))
    assert result.files_unchanged == len(SITE) - 1
    assert_bucket_is_exactly(server, target, site)


def test_same_size_change_is_found_by_sha256(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    sync(site, target)
    poster = site / "media/reflections/1/poster.jpg"
    poster.write_bytes(b"\xff\xd8\xff" + os.urandom(2048))  # same size, other bytes
    result = sync(site, target)
    assert result.files_uploaded == 1
    assert_bucket_is_exactly(server, target, site)


def test_files_no_longer_in_the_export_are_deleted_only_under_the_prefix(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    sync(site, target)
    client = server.client()
    beside = [f"elsewhere-{target.prefix}/keep.txt", f"{target.prefix}-other/keep.txt"]
    for key in beside:
        client.put_object(Bucket=target.bucket, Key=key, Body=b"not ours")
    # A withdrawn reflection's files leave the export.
    for name in ("video.mp4", "poster.jpg", "captions.vtt"):
        (site / "media/reflections/1" / name).unlink()
    result = sync(site, target)
    assert (result.files_deleted, result.files_uploaded) == (3, 0)
    assert_bucket_is_exactly(server, target, site)
    assert set(beside) <= set(server.objects(target.bucket))


def test_pages_are_sent_after_the_media_they_link_to(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    site = write_site(tmp_path / "site", SITE)
    sent: list[str] = []
    sync(site, target, on_object=lambda path, _f: sent.append(path))
    pages = [sent.index(p) for p in ("index.html", "cy/index.html", "manifest.json")]
    media = [sent.index(p) for p in SITE if p.startswith("media/") and not p.endswith(".vtt")]
    assert max(media) < min(pages)


def test_large_file_goes_multipart(server: SeaweedS3, target: S3Settings, tmp_path: Path) -> None:
    big = os.urandom(12 * MB)
    site = write_site(tmp_path / "site", {"media/reels/1/reel.mp4": big, "index.html": b"x"})
    result = sync(site, target, multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    assert result.bytes_sent == len(big) + 1
    remote = bucket_files(server, target)
    assert remote["media/reels/1/reel.mp4"]["etag"].endswith("-3")  # three parts
    assert remote["index.html"]["etag"].count("-") == 0
    assert_bucket_is_exactly(server, target, site)
    again = sync(site, target, multipart_threshold=5 * MB)
    assert again.bytes_sent == 0  # the multipart ETag is no hash: sha256 metadata decides


def test_store_stopped_mid_multipart_upload_leaves_nothing_partial(
    server: SeaweedS3, target: S3Settings, tmp_path: Path
) -> None:
    big = os.urandom(15 * MB)
    site = write_site(tmp_path / "site", {"media/reels/1/reel.mp4": big, "index.html": b"<p>"})
    stopped: list[int] = []

    def stop_halfway(progress: s3sync.SyncProgress) -> None:
        if not stopped and progress.current and 0 < progress.bytes_sent < len(big):
            stopped.append(progress.bytes_sent)
            server.stop()

    with pytest.raises(EndpointUnreachable) as raised:
        publish.sync_site(
            site,
            target,
            on_progress=stop_halfway,
            multipart_threshold=5 * MB,
            multipart_chunksize=5 * MB,
        )
    assert stopped, "the server was never stopped mid-upload"
    assert raised.value.files_queued == 2
    server.start()
    assert "media/reels/1/reel.mp4" not in bucket_files(server, target)
    result = publish.sync_site(site, target, multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    assert result.files_uploaded == 2
    assert_bucket_is_exactly(server, target, site)


def test_refused_credentials_fail_clearly(
    server: SeaweedS3, target: S3Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    site = write_site(tmp_path / "site", SITE)
    with pytest.raises(PublishFailed, match="credentials were refused"):
        publish.sync_site(site, target)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(PublishFailed, match="credentials were refused"):
        publish.sync_site(site, target)


def test_missing_bucket_fails_clearly(server: SeaweedS3, tmp_path: Path) -> None:
    settings = S3Settings(
        bucket=f"missing-{uuid.uuid4().hex[:8]}", endpoint_url=server.endpoint_url
    )
    with pytest.raises(PublishFailed, match="does not exist"):
        publish.sync_site(write_site(tmp_path / "site", SITE), settings)


def test_unreachable_endpoint_is_waited_for_and_says_why(tmp_path: Path) -> None:
    (port,) = free_ports(1)  # nothing listens there
    # A user name and password in the endpoint's address are never repeated.
    settings = S3Settings(bucket="archive", endpoint_url=f"http://key:hush@127.0.0.1:{port}")
    with pytest.raises(EndpointUnreachable) as raised:
        publish.sync_site(write_site(tmp_path / "site", SITE), settings)
    assert raised.value.reason.english() == (
        f"Can't reach http://127.0.0.1:{port} (the connection was refused): check the endpoint"
        " in the settings, or wait for the internet."
    )
    assert "hush" not in raised.value.reason.stored() and "hush" not in settings.describe()


def raised_within(*errors: BaseException) -> BaseException:
    """The last of ``errors``, raised while handling the one before, as botocore chains them."""
    caught: BaseException | None = None
    for error in errors:
        try:
            if caught is None:
                raise error
            raise error from caught
        except BaseException as raised:  # noqa: BLE001 - collecting the chain
            caught = raised
    assert caught is not None
    return caught


def botocore_error(name: str, *inner: BaseException) -> BaseException:
    """botocore's ``name`` error as an unreachable store gives it (urllib3's error kept)."""
    import botocore.exceptions

    url = "https://s3.eu-west-2.amazonaws.com/archive?list-type=2"
    cause = raised_within(*inner) if inner else None
    outer = getattr(botocore.exceptions, name)(endpoint_url=url, error=cause)
    return raised_within(cause, outer) if cause is not None else outer


def name_not_found() -> BaseException:
    import socket

    from urllib3.exceptions import NameResolutionError

    lookup = socket.gaierror(-3, "Temporary failure in name resolution")
    return botocore_error(
        "EndpointConnectionError", lookup, NameResolutionError("s3.example", None, lookup)
    )


def no_route() -> BaseException:
    import errno

    from urllib3.exceptions import NewConnectionError

    unreachable = OSError(errno.ENETUNREACH, "Network is unreachable")
    return botocore_error(
        "EndpointConnectionError", unreachable, NewConnectionError(None, "Failed")
    )


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (name_not_found, "its name could not be found"),
        (lambda: botocore_error("ConnectTimeoutError", TimeoutError()),
         "it did not answer in time"),
        (lambda: botocore_error("ReadTimeoutError", TimeoutError()), "it did not answer in time"),
        (no_route, "there is no network route to it"),
        (lambda: botocore_error("SSLError", OSError("certificate verify failed")),
         "a secure connection could not be made"),
        (lambda: botocore_error("ConnectionClosedError"), "the connection was cut off"),
        (lambda: botocore_error("EndpointConnectionError"), "it does not answer"),
    ],
)  # fmt: skip
def test_why_the_store_cannot_be_reached_in_plain_words(error: Any, cause: str) -> None:
    amazon = publish.explain(error(), S3Settings(bucket="archive", region="eu-west-2"))
    assert isinstance(amazon, EndpointUnreachable)
    assert amazon.reason.english() == (
        f"Can't reach Amazon S3 in eu-west-2 ({cause}): check the region in the settings, or"
        " wait for the internet."
    )
    own = publish.explain(error(), S3Settings(bucket="archive", endpoint_url="https://s3.example"))
    assert own.reason.english().startswith(f"Can't reach https://s3.example ({cause}): ")


def test_no_credentials_at_all_fail_clearly(
    server: SeaweedS3, target: S3Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert not publish.credentials_found(target)
    with pytest.raises(PublishFailed, match="No S3 credentials"):
        publish.sync_site(write_site(tmp_path / "site", SITE), target)


# -- settings ---------------------------------------------------------------------------------


def test_environment_overrides_the_studio_settings(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert not publish.is_configured(db, event.id, environ={})
        publish.save_settings(
            db,
            event.id,
            {
                "bucket": "studio-bucket",
                "prefix": "/a//b/",
                "region": "eu-west-2",
                "endpoint_url": "",
            },
            actor=None,
        )
        saved = publish.resolve_settings(db, event.id, environ={})
        assert (saved.bucket, saved.prefix, saved.region, saved.from_environment) == (
            "studio-bucket",
            "a/b",
            "eu-west-2",
            frozenset(),
        )
        environ = {
            "VOXPOP_S3_BUCKET": "env-bucket",
            "AWS_ENDPOINT_URL_S3": "http://10.0.0.5:9000",
            "AWS_DEFAULT_REGION": "auto",
            "VOXPOP_S3_PREFIX": "/2026/",
        }
        resolved = publish.resolve_settings(db, event.id, environ=environ)
        assert (resolved.bucket, resolved.prefix, resolved.region, resolved.endpoint_url) == (
            "env-bucket",
            "2026",
            "auto",
            "http://10.0.0.5:9000",
        )
        assert resolved.from_environment == {"bucket", "prefix", "region", "endpoint_url"}
        assert publish.is_configured(db, event.id, environ={"VOXPOP_S3_BUCKET": "b-1"})
        (audit,) = rows(app, "SELECT * FROM audit_log WHERE action = 'publish.settings'")
        assert "studio-bucket" in audit["after"]
        assert "secret" not in str(rows(app, "SELECT * FROM publish_settings")).lower()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"bucket": "Has_Capitals"}, "bucket"),
        ({"bucket": "ab"}, "bucket"),
        ({"bucket": "a..b"}, "bucket"),
        ({"prefix": "day/../etc"}, "prefix"),
        ({"prefix": "day one"}, "prefix"),
        ({"region": "EU WEST"}, "region"),
        ({"endpoint_url": "ftp://example.org"}, "endpoint_url"),
        ({"endpoint_url": "s3.example.org"}, "endpoint_url"),
        # Credentials in the address would be shown on pages and printed in the report's links.
        ({"endpoint_url": "https://AKIAX:s3cr3t@minio.lan:9000"}, "endpoint_url"),
    ],
)
def test_unusable_settings_are_refused(values: dict[str, str], field: str) -> None:
    assert list(publish.settings_errors(values)) == [field]


def test_credentials_saved_in_an_endpoint_before_are_never_shown() -> None:
    """Settings saved before such addresses were refused: the links leave them out."""
    settings = publish.S3Settings(
        bucket="bkt", prefix="p", endpoint_url="https://AKIAX:s3cr3t@minio.lan:9000"
    )
    assert publish.archive_base_url(settings) == "https://minio.lan:9000/bkt/p/"
    from botocore.exceptions import ClientError

    missing = ClientError({"Error": {"Code": "NoSuchBucket"}}, "PutObject")
    failure = publish.explain(missing, settings)
    assert "does not exist at https://minio.lan:9000" in failure.message
    assert "s3cr3t" not in failure.message and "s3cr3t" not in str(failure.reason.values)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {
            "bucket": "whose-shoes.archive-2026",
            "prefix": "2026/cardiff",
            "region": "eu-west-2",
            "endpoint_url": "https://s3.example.org",
        },
        {"bucket": "abc", "endpoint_url": "http://192.168.1.20:9000"},
    ],
)
def test_usable_settings_are_accepted(values: dict[str, str]) -> None:
    assert publish.settings_errors(values) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("archive.example.org/whose-shoes/", "starting with https://"),
        ("ftp://archive.example.org/", "starting with https://"),
        ("javascript:alert(1)", "starting with https://"),
        ("https:///whose-shoes/", "starting with https://"),
        ("https://archive.example.org:port/", "starting with https://"),
        ("https://[::1/", "starting with https://"),
        ("https://archive example.org/", "starting with https://"),
        ("https://archive.example.org/" + "a" * 500, "starting with https://"),
        ("https://organiser:secret@archive.example.org/", "user name and password"),
        ("https://organiser@archive.example.org/", "user name and password"),
        ("https://archive.example.org/?day=1", "leave out any ? or # part"),
        ("https://archive.example.org/#top", "leave out any ? or # part"),
        ("https://archive.example.org/?", "leave out any ? or # part"),
    ],
)
def test_unusable_public_addresses_are_refused(value: str, message: str) -> None:
    errors = publish.settings_errors({"public_url": value})
    assert list(errors) == ["public_url"] and message in errors["public_url"]


@pytest.mark.parametrize(
    ("value", "saved"),
    [
        ("", ""),
        ("  ", ""),
        ("https://archive.example.org", "https://archive.example.org/"),
        (" https://archive.example.org/whose-shoes ", "https://archive.example.org/whose-shoes/"),
        ("https://archive.example.org/whose-shoes/", "https://archive.example.org/whose-shoes/"),
        ("http://192.168.1.20:8000/archive/", "http://192.168.1.20:8000/archive/"),
        ("HTTPS://d1234.cloudfront.net/2026/", "HTTPS://d1234.cloudfront.net/2026/"),
    ],
)
def test_usable_public_addresses_are_saved_as_folders(app: Flask, value: str, saved: str) -> None:
    assert publish.settings_errors({"public_url": value}) == {}
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        publish.save_settings(db, event.id, {"bucket": "archive", "public_url": value}, actor=None)
        assert publish.saved_settings(db, event.id).public_url == saved
    if saved:
        (audit,) = rows(app, "SELECT after FROM audit_log WHERE action = 'publish.settings'")
        assert saved in audit["after"]


def test_the_public_address_is_saved_from_the_page_and_shown_as_its_link(
    app: Flask, client, auth
) -> None:
    auth.login("organiser")
    page = client.get("/studio/publish")
    assert "Public address of the archive (optional)" in page.text
    assert 'id="archive-public-url"' in page.text and '<p id="archive-address" hidden>' in page.text
    data = {"bucket": "archive", "prefix": "2026", "region": "eu-west-2",
            "public_url": "https://archive.example.org/whose-shoes",
            "csrf_token": csrf_from(page.text)}  # fmt: skip
    assert client.post("/studio/publish/settings", data=data).status_code == 302
    (saved,) = rows(app, "SELECT bucket, public_url FROM publish_settings")
    assert saved == {"bucket": "archive", "public_url": "https://archive.example.org/whose-shoes/"}
    home = "https://archive.example.org/whose-shoes/index.html"
    page = client.get("/studio/publish")
    assert f'<a href="{home}">{home}</a>' in page.text and 'id="archive-address">' in page.text
    assert "Once published, the archive opens at:" in page.text  # not published yet
    assert 'value="https://archive.example.org/whose-shoes/"' in page.text
    assert client.get("/studio/publish/status.json").get_json()["archive_url"] == home
    # Emptied again: the studio links to the bucket's own address.
    data.update(public_url="", csrf_token=csrf_from(page.text))
    assert client.post("/studio/publish/settings", data=data).status_code == 302
    bucket_home = "https://archive.s3.eu-west-2.amazonaws.com/2026/index.html"
    assert client.get("/studio/publish/status.json").get_json()["archive_url"] == bucket_home
    assert f'href="{bucket_home}"' in client.get("/studio/publish").text


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "Leave the user name and password out of the public address"),
        ("cy", "Gadewch yr enw defnyddiwr a’r cyfrinair allan o’r cyfeiriad cyhoeddus"),
    ],
)
def test_a_bad_public_address_is_refused_and_the_other_settings_kept(
    app: Flask, client, auth, lang: str, message: str
) -> None:
    auth.login("organiser")
    publish_settings = {"bucket": "old-bucket", "prefix": "", "region": "", "endpoint_url": "",
                        "public_url": ""}  # fmt: skip
    with app.app_context():
        db = get_db()
        publish.save_settings(db, models.current_event(db).id, publish_settings, actor=None)
    page = client.get(f"/studio/publish?lang={lang}")
    data = {"bucket": "new-bucket", "prefix": "2026/cardiff", "region": "eu-west-2",
            "public_url": "https://organiser:secret@archive.example.org/",
            "csrf_token": csrf_from(page.text)}  # fmt: skip
    refused = client.post("/studio/publish/settings", data=data)
    assert refused.status_code == 400
    assert message in refused.text
    assert 'aria-invalid="true"' in refused.text and 'id="archive-public-url-error"' in refused.text
    # What was typed in the other fields is still in the form; nothing was saved.
    assert 'value="new-bucket"' in refused.text and 'value="2026/cardiff"' in refused.text
    (saved,) = rows(app, "SELECT bucket, prefix, public_url FROM publish_settings")
    assert saved == {"bucket": "old-bucket", "prefix": "", "public_url": ""}


def test_migration_15_gives_existing_settings_an_empty_public_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxpop import db as database
    from voxpop import open_database

    shipped = database.migrations()
    monkeypatch.setattr(database, "migrations", lambda: [m for m in shipped if m[0] < 15])
    before = open_database(tmp_path)
    # The event as version 14 stored it (models reads columns that later versions added).
    event_id = before.execute(
        "INSERT INTO event (name, created_at) VALUES ('Saved before version 15', ?)",
        ("2026-01-01T00:00:00+00:00",),
    ).lastrowid
    before.execute(
        "INSERT INTO publish_settings (event_id, bucket, prefix, updated_at)"
        " VALUES (?, 'archive', '2026', '2026-01-01T00:00:00+00:00')",
        (event_id,),
    )
    before.commit()
    before.close()
    monkeypatch.setattr(database, "migrations", lambda: shipped)
    upgraded = open_database(tmp_path)
    assert database.schema_version(upgraded) == len(shipped)
    settings = publish.saved_settings(upgraded, event_id)
    assert (settings.bucket, settings.prefix, settings.public_url) == ("archive", "2026", "")
    upgraded.close()


# -- the job -------------------------------------------------------------------------------------


def public_text_reflection(
    app: Flask, text: str = "We listened.", captions: str | None = None
) -> int:
    """A text reflection the public archive shows (its card made here, without ffmpeg)."""
    reflection_id = add_reflection(app, "text", text=text)
    give_consent(app, reflection_id, online=1)
    store = app.extensions["voxpop"].store
    card = png_bytes(32, 18)
    relative = f"derived/{reflection_id}/card.png"
    (store.root / relative).parent.mkdir(parents=True, exist_ok=True)
    (store.root / relative).write_bytes(card)
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(
                "UPDATE reflection SET status = 'ready', review_state = 'approved',"
                " transcript_vtt = ? WHERE id = ?",
                (captions, reflection_id),
            )
            db.execute(
                "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
                " VALUES (?, 'card', ?, ?, ?, ?)",
                (reflection_id, relative, sha256(card), len(card), utcnow()),
            )
    return reflection_id


def configure(app: Flask, settings: S3Settings) -> int:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        publish.save_settings(
            db,
            event.id,
            {name: getattr(settings, name) for name in publish.SETTING_FIELDS},
            actor=None,
        )
        return event.id


def run_publish_job(app: Flask) -> tuple[str, dict[str, Any]]:
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        event = models.current_event(get_db())
        job_id = publish.request_publish(get_db(), queue, event.id)
    outcome = jobs.run_job(queue, job_id)
    (job,) = rows(app, "SELECT * FROM job WHERE id = ?", job_id)
    return outcome, job


def staged(app: Flask, event_id: int) -> Path:
    return publish.staging_folder(Path(app.config["INSTANCE"]), event_id)


def test_publish_job_exports_and_syncs_the_archive(
    app: Flask, server: SeaweedS3, target: S3Settings
) -> None:
    public_text_reflection(app)
    event_id = configure(app, target)
    outcome, job = run_publish_job(app)
    assert (outcome, job["status"], job["progress"], job["kind"]) == (
        "done",
        "done",
        1,
        "publish_archive",
    )
    site = staged(app, event_id)
    assert {"index.html", "manifest.json", "archive.css"} <= set(local_files(site))
    assert_bucket_is_exactly(server, target, site)
    assert not any("consent" in path for path in bucket_files(server, target))
    (state,) = rows(app, "SELECT * FROM publish_state")
    assert state["phase"] == "done" and state["last_published_at"]
    assert state["files_sent"] == len(local_files(site))
    # Nothing changed: the next publish sends nothing.
    outcome, _job = run_publish_job(app)
    (state,) = rows(app, "SELECT * FROM publish_state")
    assert (outcome, state["files_sent"], state["bytes_sent"]) == ("done", 0, 0)


def test_withdrawn_reflection_objects_are_gone_after_the_next_publish(
    app: Flask, server: SeaweedS3, target: S3Settings
) -> None:
    keep = public_text_reflection(app, "Keep me.")
    gone = public_text_reflection(app, "Withdraw me.")
    configure(app, target)
    run_publish_job(app)
    assert any(f"/{gone}/" in path for path in bucket_files(server, target))
    with app.app_context():
        get_db().execute(
            "UPDATE consent SET withdrawn_at = ? WHERE reflection_id = ?", (utcnow(), gone)
        )
    outcome, _job = run_publish_job(app)
    paths = bucket_files(server, target)
    assert outcome == "done"
    assert not any(f"/{gone}/" in path for path in paths)
    assert any(f"/{keep}/" in path for path in paths)
    assert b"Withdraw me." not in paths["manifest.json"]["body"]


def test_publish_job_waits_for_connection_when_offline(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    public_text_reflection(app)
    (port,) = free_ports(1)
    event_id = configure(app, S3Settings(bucket="archive", endpoint_url=f"http://127.0.0.1:{port}"))
    # A June evening in Cardiff: 18:47 UTC is 19:47 there (British Summer Time).
    monkeypatch.setattr("voxpop.db.clock", lambda: datetime(2026, 6, 12, 18, 47, tzinfo=UTC))
    outcome, job = run_publish_job(app)
    files = len(local_files(staged(app, event_id)))
    assert outcome == "retrying"
    assert job["status"] == "queued" and job["run_after"] == "2026-06-12T18:47:10+00:00"
    waiting = (
        f"Waiting for connection, {files} files queued. Can't reach http://127.0.0.1:{port} (the"
        " connection was refused): check the endpoint in the settings, or wait for the internet."
    )
    assert reasons.english(job["error"]) == waiting
    # The command line's list of jobs says the same, and when it tries next (venue time).
    listed = cli(app, monkeypatch, "jobs")
    assert f"— {waiting} (next try at 19:47)" in listed.output, listed.output
    # Still offline: it keeps waiting, longer each time, never fails.
    delays = []
    for _attempt in range(3):
        outcome = jobs.run_job(app.extensions["voxpop"].queue, job["id"])
        (job,) = rows(app, "SELECT * FROM job WHERE id = ?", job["id"])
        delays.append(job["run_after"])
        assert outcome == "retrying" and job["status"] == "queued"
    assert [jobs.backoff(n, cap=publish.WAIT_CAP_SECONDS) for n in (1, 2, 3, 9)] == [
        10,
        20,
        40,
        300,
    ]


def test_store_stopped_mid_publish_then_restarted_completes_without_leftovers(
    app: Flask, server: SeaweedS3, target: S3Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(3):
        public_text_reflection(
            app, f"Reflection {number}", captions=f"WEBVTT\n\n00:00.000 --> 00:01.000\nR{number}\n"
        )
    event_id = configure(app, target)
    real_progress = publish._job_progress
    pulled: list[bool] = []

    def progress_that_pulls_the_plug(db: Any, job_id: int) -> Any:
        write = real_progress(db, job_id)

        def on_progress(progress: s3sync.SyncProgress) -> None:
            write(progress)
            if progress.files_sent == 1 and not pulled:
                pulled.append(True)
                server.stop()  # the venue Wi-Fi goes, after the first file

        return on_progress

    monkeypatch.setattr(publish, "_job_progress", progress_that_pulls_the_plug)
    outcome, job = run_publish_job(app)
    site = staged(app, event_id)
    total = len(local_files(site))
    assert outcome == "retrying" and job["status"] == "queued"
    assert reasons.english(job["error"]).startswith(
        f"Waiting for connection, {total - 1} files queued. Can't reach {server.endpoint_url} ("
    )
    (state,) = rows(app, "SELECT * FROM publish_state")
    assert (state["phase"], state["files_queued"], state["files_sent"]) == ("waiting", total - 1, 1)

    server.start()  # back online
    outcome = jobs.run_job(app.extensions["voxpop"].queue, job["id"])
    assert outcome == "done"
    assert_bucket_is_exactly(server, target, site)
    recorded = rows(app, "SELECT path, sha256 FROM published_object ORDER BY path")
    assert recorded == [
        {"path": p, "sha256": sha256(d)} for p, d in sorted(local_files(site).items())
    ]


def test_refused_credentials_fail_the_job_without_retrying(
    app: Flask, server: SeaweedS3, target: S3Settings, monkeypatch: pytest.MonkeyPatch, auth
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    configure(app, target)
    outcome, job = run_publish_job(app)
    assert (outcome, job["status"]) == ("failed", "failed")
    refused = reasons.parse(job["error"])
    assert refused is not None and "credentials were refused" in refused.english()
    # Stored with its code, so each organiser reads it whole in their own language.
    code = refused.values["code"]
    auth.login("organiser")
    auth.client.get("/?lang=cy")
    status = auth.client.get("/studio/publish/status.json").get_json()
    assert status["text"] == (
        f"Methodd y cyhoeddi: Gwrthodwyd y manylion mewngofnodi S3 ({code}). Gwiriwch"
        " AWS_ACCESS_KEY_ID ac AWS_SECRET_ACCESS_KEY lle mae voxpop yn rhedeg."
    )


def test_publish_without_a_bucket_fails_the_job(app: Flask) -> None:
    outcome, job = run_publish_job(app)
    assert outcome == "failed" and "No S3 bucket" in job["error"]


# -- the studio page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/studio/publish"),
        ("GET", "/studio/publish/status.json"),
        ("POST", "/studio/publish/now"),
        ("POST", "/studio/publish/settings"),
    ],
)
def test_publishing_is_for_organisers_only(app: Flask, auth, method: str, path: str) -> None:
    auth.login("facilitator")
    token = csrf_from(auth.client.get("/login").text)
    response = auth.client.open(path, method=method, data={"csrf_token": token})
    assert response.status_code == 403
    anonymous = app.test_client().open(path, method=method)
    assert anonymous.status_code in {302, 400}


def test_page_saves_settings_and_never_shows_credentials(
    app: Flask, client, auth, target: S3Settings
) -> None:
    auth.login("organiser")
    page = client.get("/studio/publish")
    assert page.status_code == 200
    assert "S3 credentials: found" in page.text and SECRET_KEY not in page.text
    assert ACCESS_KEY not in page.text
    assert "Not published yet." in page.text and 'id="publish-now"' in page.text
    data = {
        "bucket": target.bucket,
        "prefix": "/2026/cardiff/",
        "region": "us-east-1",
        "endpoint_url": target.endpoint_url,
        "csrf_token": csrf_from(page.text),
    }
    response = client.post("/studio/publish/settings", data=data)
    assert response.status_code == 302
    (saved,) = rows(app, "SELECT bucket, prefix, region, endpoint_url FROM publish_settings")
    assert saved == {
        "bucket": target.bucket,
        "prefix": "2026/cardiff",
        "region": "us-east-1",
        "endpoint_url": target.endpoint_url,
    }
    assert rows(app, "SELECT action FROM audit_log WHERE action = 'publish.settings'")
    page = client.get("/studio/publish")
    assert f"s3://{target.bucket}/2026/cardiff/" in page.text


def test_page_refuses_bad_settings_and_missing_csrf(app: Flask, client, auth) -> None:
    auth.login("organiser")
    page = client.get("/studio/publish")
    bad = client.post(
        "/studio/publish/settings",
        data={"bucket": "Not A Bucket", "csrf_token": csrf_from(page.text)},
    )
    assert bad.status_code == 400 and "A bucket name has 3 to 63" in bad.text
    assert (
        client.post("/studio/publish/settings", data={"bucket": "fine-bucket"}).status_code == 400
    )
    assert client.post("/studio/publish/now").status_code == 400
    assert rows(app, "SELECT * FROM publish_settings") == []
    assert rows(app, "SELECT * FROM job") == []


@pytest.mark.parametrize(
    ("variable", "value", "name", "shown", "typed"),
    [
        ("VOXPOP_S3_BUCKET", "bucket-from-env", "bucket", "bucket-from-env", "sneaky"),
        ("VOXPOP_ARCHIVE_URL", "https://cdn.example.org/day", "public_url",
         "https://cdn.example.org/day/", "https://sneaky.example.org/"),
    ],
)  # fmt: skip
def test_settings_from_the_environment_are_shown_not_editable(
    app: Flask,
    client,
    auth,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    name: str,
    shown: str,
    typed: str,
) -> None:
    monkeypatch.setenv(variable, value)
    auth.login("organiser")
    page = client.get("/studio/publish")
    assert f"Set by {variable} in the environment." in page.text
    assert f'value="{shown}"' in page.text and "disabled" in page.text
    response = client.post(
        "/studio/publish/settings",
        data={name: typed, "prefix": "p", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302
    (saved,) = rows(app, "SELECT * FROM publish_settings")
    assert (saved[name], saved["prefix"]) == ("", "p")


def test_publish_now_enqueues_the_job_and_status_follows_it(
    app: Flask, client, auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A June evening in Cardiff: 18:47 UTC is 19:47 there (British Summer Time).
    monkeypatch.setattr("voxpop.db.clock", lambda: datetime(2026, 6, 12, 18, 47, tzinfo=UTC))
    auth.login("organiser")
    page = client.get("/studio/publish")
    token = csrf_from(page.text)
    # No bucket yet: nothing is queued.
    client.post("/studio/publish/now", data={"csrf_token": token})
    assert rows(app, "SELECT * FROM job") == []
    (port,) = free_ports(1)
    configure(app, S3Settings(bucket="archive", endpoint_url=f"http://127.0.0.1:{port}"))
    public_text_reflection(app)
    assert client.post("/studio/publish/now", data={"csrf_token": token}).status_code == 302
    client.post("/studio/publish/now", data={"csrf_token": token})  # twice: still one job
    (job,) = rows(app, "SELECT * FROM job")
    assert (job["kind"], job["status"]) == ("publish_archive", "queued")
    status = client.get("/studio/publish/status.json").get_json()
    assert status["active"] and status["text"].startswith("Queued")
    queue = app.extensions["voxpop"].queue
    jobs.run_job(queue, job["id"])  # nothing answers there: it waits
    status = client.get("/studio/publish/status.json").get_json()
    (state,) = rows(app, "SELECT files_queued FROM publish_state")
    assert status["waiting"] and status["files_queued"] == state["files_queued"] > 0
    assert status["next_try_at"] == "2026-06-12T18:47:10+00:00"
    # What could not be reached and why, and when it tries next (in the venue's time).
    waiting = (
        f"Waiting for connection, {state['files_queued']} files queued. Can't reach"
        f" http://127.0.0.1:{port} (the connection was refused): check the endpoint in the"
        " settings, or wait for the internet. Next try at 19:47."
    )
    assert status["text"] == waiting
    assert waiting in client.get("/studio/publish").text.replace("&#39;", "'")
    welsh = app.test_client()
    Auth(app, welsh).login("organiser", name="Gwenllian")
    welsh.get("/?lang=cy")
    assert "19:47" in welsh.get("/studio/publish/status.json").get_json()["text"]

    # Publish now, while it waits: it tries again at once, as the same job.
    delivered = len(queue.huey.pending())
    pressed = client.post("/studio/publish/now", data={"csrf_token": token}, follow_redirects=True)
    assert "Publishing has started" in pressed.text
    (job,) = rows(app, "SELECT * FROM job")
    assert (job["status"], job["run_after"]) == ("queued", None)
    (now,) = queue.huey.pending()[delivered:]
    assert (now.args, now.eta) == ((job["id"],), None)  # delivered to run straight away
    status = client.get("/studio/publish/status.json").get_json()
    assert not status["waiting"] and status["text"] == "Queued: publishing starts in a moment."
    # A publish already running is left alone: no second job, nothing delivered again.
    with app.app_context():
        get_db().execute("UPDATE job SET status = 'running' WHERE id = ?", (job["id"],))
    client.post("/studio/publish/now", data={"csrf_token": token})
    assert rows(app, "SELECT id, status FROM job") == [{"id": job["id"], "status": "running"}]
    assert len(queue.huey.pending()) == delivered + 1


def test_a_publish_waiting_for_disk_space_says_so(
    app: Flask, client, auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish, "default_export_site", lambda: full_disk)
    monkeypatch.setattr("voxpop.db.clock", lambda: datetime(2026, 6, 12, 18, 47, tzinfo=UTC))
    (port,) = free_ports(1)
    configure(app, S3Settings(bucket="archive", endpoint_url=f"http://127.0.0.1:{port}"))
    outcome, _job = run_publish_job(app)
    assert outcome == "retrying"
    auth.login("organiser")
    status = client.get("/studio/publish/status.json").get_json()
    assert status["waiting"] and status["text"] == (
        f"{jobs.disk_full_reason()} Next try at 19:47."
    )  # not "Waiting for connection"


def test_new_settings_let_a_waiting_publish_try_them_at_once(
    app: Flask, client, auth, server: SeaweedS3, target: S3Settings
) -> None:
    public_text_reflection(app)
    (port,) = free_ports(1)
    wrong = S3Settings(target.bucket, target.prefix, target.region, f"http://127.0.0.1:{port}")
    event_id = configure(app, wrong)
    outcome, job = run_publish_job(app)
    assert outcome == "retrying" and job["run_after"]
    auth.login("organiser")
    page = client.get("/studio/publish")
    data = {name: getattr(target, name) for name in publish.SETTING_FIELDS}
    saved = client.post(
        "/studio/publish/settings",
        data={**data, "csrf_token": csrf_from(page.text)},
        follow_redirects=True,
    )
    assert "Publishing settings saved. The waiting publish tries again with them now." in saved.text
    (job,) = rows(app, "SELECT * FROM job")
    assert (job["status"], job["run_after"]) == ("queued", None)
    assert jobs.run_job(app.extensions["voxpop"].queue, job["id"]) == "done"
    assert_bucket_is_exactly(server, target, staged(app, event_id))


def test_status_reports_a_finished_publish(
    app: Flask, client, auth, server: SeaweedS3, target: S3Settings
) -> None:
    public_text_reflection(app)
    configure(app, target)
    run_publish_job(app)
    auth.login("organiser")
    status = client.get("/studio/publish/status.json").get_json()
    assert not status["active"] and status["job"]["status"] == "done"
    assert status["last_published_at"] and status["files_sent"] > 0
    assert status["text"].startswith("Published:")
    assert status["bytes_sent_text"] == format_size(status["bytes_sent"], "en")  # Babel's
    # Published to the bucket with no public address: the bucket's own address, path-style.
    home = f"{target.endpoint_url}/{target.bucket}/{target.prefix}/index.html"
    assert status["archive_url"] == home
    # The lines under the status come with it, so the page can follow a publish as it ends.
    (state,) = rows(app, "SELECT last_published_at FROM publish_state")
    with app.test_request_context():
        when = format_when(state["last_published_at"], "en")
    assert status["last_published_text"] == f"Last published {when}."
    assert status["archive_url_label"] == "Address of the published archive:"
    page = " ".join(client.get("/studio/publish").text.split())
    assert f'<p class="hint" id="publish-last">Last published {when}.</p>' in page
    assert (
        '<span id="archive-address-label">Address of the published archive:</span>'
        f' <a href="{home}">'
    ) in page


def test_studio_navigation_links_to_publishing(client, auth) -> None:
    auth.login("organiser")
    assert 'href="/studio/publish"' in client.get("/studio/").text


# -- the command line ----------------------------------------------------------------------------


def cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    return CliRunner().invoke(main, list(args))


def test_cli_publish_syncs_and_prints_a_summary(
    app: Flask, server: SeaweedS3, target: S3Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    public_text_reflection(app)
    event_id = configure(app, target)
    result = cli(app, monkeypatch, "publish")
    assert result.exit_code == 0, result.output
    total = len(local_files(staged(app, event_id)))
    assert (
        f"Publishing “Whose Shoes? test day” to s3://{target.bucket}/{target.prefix}/"
        in result.output
    )
    assert f"sent {total} of {total} changed file(s)" in result.output
    assert f"{total} file(s) in the archive: {total} sent" in result.output
    assert_bucket_is_exactly(server, target, staged(app, event_id))
    again = cli(app, monkeypatch, "publish")
    assert f"0 sent (0 bytes), {total} unchanged, 0 deleted." in again.output


def test_cli_publish_environment_bucket_and_clear_failures(
    app: Flask, server: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli(app, monkeypatch, "publish")
    assert result.exit_code == 1 and "No S3 bucket is configured" in result.output
    (port,) = free_ports(1)
    monkeypatch.setenv("VOXPOP_S3_BUCKET", "archive")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    result = cli(app, monkeypatch, "publish")
    assert result.exit_code == 1
    assert "Waiting for connection" in result.output
    assert f"Can't reach http://127.0.0.1:{port} (the connection was refused)" in result.output
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint_url)
    monkeypatch.setenv("VOXPOP_S3_BUCKET", f"missing-{uuid.uuid4().hex[:8]}")
    result = cli(app, monkeypatch, "publish")
    assert result.exit_code == 1 and "does not exist" in result.output
