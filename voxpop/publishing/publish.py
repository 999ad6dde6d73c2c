"""Publishing the archive: build the static export, then sync it to S3 or any S3-compatible store.

Where it goes (bucket, prefix, region, endpoint URL) is saved from the studio and overridden by
the environment (``VOXPOP_S3_BUCKET``, ``VOXPOP_S3_PREFIX``, and boto3's own
``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, ``AWS_REGION``/``AWS_DEFAULT_REGION``).
Credentials only ever come from boto3's standard chain (environment, profile, role): they are
never stored by voxpop. Where people then open it is ``archive_base_url``: the public address
saved with the settings (``VOXPOP_ARCHIVE_URL``), for an archive served from a website or CDN in
front of the bucket, else the bucket's own address.

The sync itself is ``voxpop.publishing.s3sync`` (generic: client, folder, bucket, prefix); this
module holds the event's side: its settings, turning boto3 failures into words an organiser can
act on, the record of what is in the bucket, and the job.

Publishing is a job (``publish_archive``, target = event id). When the endpoint cannot be
reached (the venue is offline, or the endpoint is wrong: they look alike), it waits and tries
again with backoff, without limit, saying what it could not reach and why; a person asking
(Publish now, new settings) makes it try at once. Refused credentials, a missing bucket or
denied access fail at once with the reason.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import socket
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.client import RemoteDisconnected
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from flask_babel import gettext as _

from voxpop import audit, jobs
from voxpop.db import transaction, utcnow
from voxpop.errors import VoxpopError
from voxpop.publishing import s3sync
from voxpop.publishing.s3sync import LocalFile, SyncProgress, SyncResult, human_bytes
from voxpop.reasons import N_, Reason
from voxpop.storage import MediaStore

if TYPE_CHECKING:
    import boto3
    from botocore.exceptions import ClientError

# boto3 and botocore are imported where a client is made or its errors are read, not with this
# module: they take about 0.3 s of CPU to import, and every `voxpop` command and the server load
# this module (the studio's Publishing page, the job handler) without ever publishing.

log = logging.getLogger(__name__)

PUBLISH_ARCHIVE = "publish_archive"
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
MAX_ATTEMPTS = 5  # per request, botocore's standard retry mode
WAIT_CAP_SECONDS = 300.0  # longest wait between two tries while offline

ENV_BUCKET = "VOXPOP_S3_BUCKET"
ENV_PREFIX = "VOXPOP_S3_PREFIX"
ENV_ENDPOINT = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
ENV_REGION = ("AWS_REGION", "AWS_DEFAULT_REGION")
# Not VOXPOP_PUBLIC_URL: PUBLIC_BASE_URL (VOXPOP_PUBLIC_BASE_URL) is voxpop's own address.
ENV_PUBLIC_URL = "VOXPOP_ARCHIVE_URL"
SETTING_FIELDS = ("bucket", "prefix", "region", "endpoint_url", "public_url")
# Setting -> the environment variables that fix it, the first one set winning.
ENV_VARIABLES: dict[str, tuple[str, ...]] = {
    "bucket": (ENV_BUCKET,),
    "prefix": (ENV_PREFIX,),
    "endpoint_url": ENV_ENDPOINT,
    "region": ENV_REGION,
    "public_url": (ENV_PUBLIC_URL,),
}
PUBLIC_URL_MAX = 500

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_NAME = re.compile(r"^[a-z0-9-]{1,40}$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9._~!*'()@+=-]+$")


# -- errors ---------------------------------------------------------------------------------------


class PublishError(VoxpopError):
    """Publishing cannot go on: ``reason`` says why in words an organiser can act on (the job
    stores it; it is worded when read, see voxpop.reasons), ``message`` in this request's
    language."""

    def __init__(self, message: str, field: str | None = None, **values: Any) -> None:
        self.reason = Reason(message, values)
        super().__init__(self.reason.render(_), field)


class PublishFailed(PublishError):
    """A problem that waiting will not fix: no bucket, refused credentials, denied access."""


class EndpointUnreachable(PublishError):
    """The store does not answer (offline, DNS, timeout, overloaded): try again later."""

    def __init__(self, message: str, files_queued: int | None = None, **values: Any) -> None:
        super().__init__(message, **values)
        self.files_queued = files_queued


# -- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    """Where an archive is published; empty strings are "not set"."""

    bucket: str = ""
    prefix: str = ""
    region: str = ""
    endpoint_url: str = ""
    # Where people open the archive (a website or CDN in front of the bucket), ending in "/".
    public_url: str = ""
    # Names of the fields whose value came from the environment (not editable in the studio).
    from_environment: frozenset[str] = field(default_factory=frozenset)

    @property
    def configured(self) -> bool:
        """True when there is a bucket to publish to."""
        return bool(self.bucket)

    @property
    def key_prefix(self) -> str:
        """What every key starts with: ``prefix/``, or nothing for the bucket's root."""
        return f"{self.prefix}/" if self.prefix else ""

    def key(self, path: str) -> str:
        """The object key for a file's path inside the export."""
        return self.key_prefix + path

    @property
    def target(self) -> str:
        """One string naming the place, to notice when it changes."""
        return f"{self.endpoint_url or 'aws'}|{self.bucket}|{self.prefix}"

    @property
    def shown_endpoint(self) -> str:
        """The endpoint URL as people may read it: without a user name or password in it."""
        return without_credentials(self.endpoint_url)

    def describe(self) -> str:
        """``s3://bucket/prefix/`` (and the endpoint, when it is not AWS)."""
        where = f"s3://{self.bucket}/{self.key_prefix}"
        return f"{where} at {self.shown_endpoint}" if self.endpoint_url else where


def without_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` part a web address may carry (shown on pages,
    stored in reasons and logs: credentials never are)."""
    parts = _web_address(url)
    if parts is None or "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def archive_base_url(settings: S3Settings) -> str | None:
    """Where people open the published archive: its folder's address, ending in "/".

    The public address when one is set (a website or CDN in front of the bucket, or wherever
    the organisers put the export themselves), else the bucket's own: a custom endpoint
    path-style (``endpoint/bucket/prefix/``), Amazon S3 virtual-hosted
    (``https://bucket.s3.region.amazonaws.com/prefix/``). None when there is neither.
    """
    if settings.public_url:
        return normalise_public_url(settings.public_url)
    if not settings.configured:
        return None
    if settings.endpoint_url:  # shown: never with credentials saved before they were refused
        return f"{settings.shown_endpoint.rstrip('/')}/{settings.bucket}/{settings.key_prefix}"
    region = settings.region or "us-east-1"
    return f"https://{settings.bucket}.s3.{region}.amazonaws.com/{settings.key_prefix}"


def normalise_prefix(prefix: str) -> str:
    """``/day one//archive/`` -> ``day one/archive``: no leading, trailing or double slashes."""
    return "/".join(part for part in prefix.strip().split("/") if part)


def normalise_public_url(url: str) -> str:
    """``https://archive.example.org/day`` -> ``…/day/``: the archive's folder ends in "/"."""
    url = url.strip()
    return url if not url or url.endswith("/") else f"{url}/"


def _web_address(url: str) -> SplitResult | None:
    """``url`` split, when it is an http(s) address with a host and a usable port (else None)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # also "Invalid IPv6 URL"
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return parts


def public_url_error(url: str) -> str | None:
    """Why ``url`` cannot be the archive's public address (None when it can, or is empty)."""
    url = url.strip()
    if not url:
        return None
    parts = _web_address(url)
    if (
        parts is None
        or len(url) > PUBLIC_URL_MAX
        or any(char.isspace() or not char.isprintable() for char in url)
    ):
        return _(
            "The public address is a web address starting with https:// (or http://), e.g."
            " https://archive.example.org/whose-shoes/."
        )
    if parts.username is not None or parts.password is not None:
        return _(
            "Leave the user name and password out of the public address: it is printed in QR"
            " codes for anyone to read."
        )
    if "?" in url or "#" in url:
        return _("The public address is the folder the archive is in: leave out any ? or # part.")
    return None


def settings_errors(values: Mapping[str, str]) -> dict[str, str]:
    """Check studio input; return field -> message for each value that cannot be used."""
    errors: dict[str, str] = {}
    bucket = values.get("bucket", "").strip()
    if bucket and (not _BUCKET_NAME.match(bucket) or ".." in bucket):
        errors["bucket"] = _(
            "A bucket name has 3 to 63 lower-case letters, digits, dots and hyphens,"
            " and starts and ends with a letter or digit."
        )
    prefix = normalise_prefix(values.get("prefix", ""))
    if prefix and (
        len(prefix) > 200
        or any(part in {".", ".."} or not _PREFIX_PART.match(part) for part in prefix.split("/"))
    ):
        errors["prefix"] = _(
            "Use letters, digits and - _ . between slashes for the prefix, e.g. 2026/whose-shoes."
        )
    region = values.get("region", "").strip()
    if region and not _REGION_NAME.match(region):
        errors["region"] = _("A region looks like eu-west-2: lower-case letters, digits, hyphens.")
    endpoint = values.get("endpoint_url", "").strip()
    if endpoint:
        parts = _web_address(endpoint)
        if parts is None or parts.query:
            errors["endpoint_url"] = _(
                "The endpoint is a web address such as https://s3.example.org or"
                " http://192.168.1.20:9000 (leave it empty for Amazon S3)."
            )
        elif "@" in parts.netloc:
            errors["endpoint_url"] = _(
                "Leave the user name and password out of the endpoint: they would be shown on"
                " pages and in the report. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in"
                " the laptop's environment instead."
            )
    public_url = public_url_error(values.get("public_url", ""))
    if public_url:
        errors["public_url"] = public_url
    return errors


def saved_settings(db: sqlite3.Connection, event_id: int) -> S3Settings:
    """The settings saved from the studio (without the environment)."""
    row = db.execute("SELECT * FROM publish_settings WHERE event_id = ?", (event_id,)).fetchone()
    if row is None:
        return S3Settings()
    bucket, prefix, region, endpoint_url, public_url = (
        str(row[name] or "") for name in SETTING_FIELDS
    )
    return S3Settings(bucket, prefix, region, endpoint_url, public_url)


def environment_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings the environment fixes: field -> value, only for those that are set."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    normalise: dict[str, Callable[[str], str]] = {
        "prefix": normalise_prefix,
        "public_url": normalise_public_url,
    }
    for name, variables in ENV_VARIABLES.items():
        for variable in variables:
            value = environ.get(variable, "").strip()
            if value:
                found[name] = normalise.get(name, str)(value)
                break
    return found


def environment_variable(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Which variable sets the setting ``name`` (for the studio's "set by …" hint)."""
    environ = os.environ if environ is None else environ
    return next((var for var in ENV_VARIABLES[name] if environ.get(var, "").strip()), None)


def resolve_settings(
    db: sqlite3.Connection, event_id: int, environ: Mapping[str, str] | None = None
) -> S3Settings:
    """The settings in force: the studio's, with anything set in the environment winning."""
    env = environment_settings(environ)
    return replace(saved_settings(db, event_id), **env, from_environment=frozenset(env))


def is_configured(
    db: sqlite3.Connection, event_id: int, environ: Mapping[str, str] | None = None
) -> bool:
    """True when the event has a bucket to publish to (from the studio or the environment)."""
    return resolve_settings(db, event_id, environ).configured


def save_settings(
    db: sqlite3.Connection, event_id: int, values: Mapping[str, str], *, actor: audit.Actor | None
) -> bool:
    """Save the studio's settings (audited); return whether anything changed.

    Raises:
        PublishFailed: a value cannot be used (``field`` names it).
    """
    errors = settings_errors(values)
    if errors:
        name, message = next(iter(errors.items()))
        raise PublishFailed(message, field=name)
    before = saved_settings(db, event_id)
    after = S3Settings(
        bucket=values.get("bucket", "").strip(),
        prefix=normalise_prefix(values.get("prefix", "")),
        region=values.get("region", "").strip(),
        endpoint_url=values.get("endpoint_url", "").strip().rstrip("/"),
        public_url=normalise_public_url(values.get("public_url", "")),
    )
    if before == after:
        return False
    old = {name: getattr(before, name) for name in SETTING_FIELDS}
    new = {name: getattr(after, name) for name in SETTING_FIELDS}
    with transaction(db):
        db.execute(
            "INSERT INTO publish_settings (event_id, bucket, prefix, region, endpoint_url,"
            " public_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id)"
            " DO UPDATE SET bucket = excluded.bucket, prefix = excluded.prefix,"
            " region = excluded.region, endpoint_url = excluded.endpoint_url,"
            " public_url = excluded.public_url, updated_at = excluded.updated_at",
            (event_id, *new.values(), utcnow()),
        )
        audit.record(
            db, "publish.settings", "event", event_id, *audit.changed(old, new), actor=actor
        )
    return True


# -- the S3 client ---------------------------------------------------------------------------------


# botocore's data loader, shared by every session this process makes: it reads and parses
# the S3 API description and the endpoint rules (about 0.1 s of CPU) once, not for every
# client. It keeps what it read in memory, never anything about credentials or buckets.
@functools.cache
def _loader() -> Any:
    import botocore.loaders

    return botocore.loaders.create_loader()


def _session(settings: S3Settings) -> boto3.session.Session:
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core, region_name=settings.region or None)


def credentials_found(settings: S3Settings) -> bool:
    """True when boto3's standard chain finds credentials (never says which, nor shows them)."""
    from botocore.exceptions import BotoCoreError

    try:
        return _session(settings).get_credentials() is not None
    except BotoCoreError:
        return False


def make_client(settings: S3Settings, *, max_attempts: int | None = None) -> Any:
    """An S3 client: path-style addressing, standard retries, modest timeouts.

    Raises:
        PublishFailed: the endpoint URL is not usable.
    """
    from botocore.config import Config

    session = _session(settings)
    config = Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": max_attempts or MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # Only when the API requires them; S3-compatible stores differ in the checksums they take.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        return session.client(
            "s3",
            endpoint_url=settings.endpoint_url or None,
            region_name=settings.region or session.region_name or "us-east-1",
            config=config,
        )
    except ValueError as error:
        raise PublishFailed(
            N_("The endpoint URL %(url)s cannot be used: %(reason)s"),
            url=settings.endpoint_url,
            reason=str(error),
        ) from error


def _is_offline(error: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(error, BotoConnectionError | HTTPClientError)


def _client_error(error: BaseException) -> ClientError | None:
    # boto3's upload_file re-raises a ClientError as S3UploadFailedError (the original is
    # its context).
    from botocore.exceptions import ClientError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _causes(error: BaseException) -> Iterable[BaseException]:
    """``error``, then what it wraps (botocore keeps urllib3's error in ``kwargs["error"]``)
    and what caused each, innermost last."""
    seen: set[int] = set()
    waiting: list[BaseException] = [error]
    while waiting:
        found = waiting.pop(0)
        if id(found) in seen:
            continue
        seen.add(id(found))
        yield found
        wrapped = getattr(found, "kwargs", None)
        inner = wrapped.get("error") if isinstance(wrapped, dict) else None
        waiting.extend(
            each
            for each in (inner, found.__cause__, found.__context__)
            if isinstance(each, BaseException)
        )


def unreachable_cause(error: BaseException) -> Reason:
    """Why the store could not be reached, in plain words (worded when read)."""
    import ssl

    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        ReadTimeoutError,
        SSLError,
    )

    for found in _causes(error):
        if isinstance(found, ConnectionRefusedError):
            return Reason(N_("the connection was refused"))
        if isinstance(found, socket.gaierror):
            return Reason(N_("its name could not be found"))
        if isinstance(found, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
            return Reason(N_("it did not answer in time"))
        if isinstance(found, SSLError | ssl.SSLError):
            return Reason(N_("a secure connection could not be made"))
        if isinstance(found, OSError) and found.errno in {errno.ENETUNREACH, errno.EHOSTUNREACH}:
            return Reason(N_("there is no network route to it"))
        if isinstance(found, ConnectionClosedError | ConnectionResetError | RemoteDisconnected):
            return Reason(N_("the connection was cut off"))
    return Reason(N_("it does not answer"))


_BUSY_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


def explain(error: BaseException, settings: S3Settings) -> PublishError:
    """Turn a boto3 failure into the error an organiser reads (offline ones are retried)."""
    from botocore.exceptions import NoCredentialsError

    if isinstance(error, s3sync.DeleteRefused):
        return PublishFailed(
            N_("The store refused to delete %(key)s: %(reason)s"),
            key=error.key,
            reason=error.reason,
        )
    if _is_offline(error):
        cause = unreachable_cause(error)
        if settings.endpoint_url:
            return EndpointUnreachable(
                N_(
                    "Can't reach %(where)s (%(cause)s): check the endpoint in the settings,"
                    " or wait for the internet."
                ),
                where=settings.shown_endpoint,
                cause=cause,
            )
        return EndpointUnreachable(
            N_(
                "Can't reach Amazon S3 in %(region)s (%(cause)s): check the region in the"
                " settings, or wait for the internet."
            ),
            region=settings.region or "us-east-1",
            cause=cause,
        )
    if isinstance(error, NoCredentialsError):
        return PublishFailed(
            N_(
                "No S3 credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                " (or an AWS profile) where voxpop runs, then publish again."
            )
        )
    client_error = _client_error(error)
    if client_error is None:
        return PublishFailed(N_("Publishing failed: %(reason)s"), reason=str(error))
    details = client_error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = int(client_error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _BUSY_CODES or status >= 500:
        return EndpointUnreachable(
            N_("%(where)s answered that it is busy (%(code)s)."),
            where=settings.shown_endpoint or "Amazon S3",
            code=code or status,
        )
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}:
        return PublishFailed(
            N_(
                "The S3 credentials were refused (%(code)s). Check AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY where voxpop runs."
            ),
            code=code,
        )
    if code in {"NoSuchBucket", "404"}:
        return PublishFailed(
            N_(
                "The bucket “%(bucket)s” does not exist at %(where)s. Create it, or correct the"
                " bucket name."
            ),
            bucket=settings.bucket,
            where=settings.shown_endpoint or "Amazon S3",
        )
    if code in {"AccessDenied", "AllAccessDisabled", "403"}:
        return PublishFailed(
            N_("Access to %(where)s was denied: these credentials may not write to this bucket."),
            where=settings.describe(),
        )
    if code in {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraint"}:
        return PublishFailed(
            N_("The bucket “%(bucket)s” is in another region: set the region to the bucket's."),
            bucket=settings.bucket,
        )
    message = details.get("Message") or code
    return PublishFailed(N_("The store refused the publish: %(reason)s"), reason=message)


def summary(result: SyncResult) -> str:
    """One line for a person about what a sync did (the CLI prints it)."""
    return _(
        "%(files)d file(s) in the archive: %(sent)d sent (%(size)s), %(same)d unchanged,"
        " %(deleted)d deleted.",
        files=result.files_total,
        sent=result.files_uploaded,
        size=human_bytes(result.bytes_sent),
        same=result.files_unchanged,
        deleted=result.files_deleted,
    )


def check_endpoint(client: Any, settings: S3Settings) -> None:
    """One small request that fails the way a publish would (offline, refused, no bucket).

    Raises:
        EndpointUnreachable, PublishFailed
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.list_objects_v2(Bucket=settings.bucket, Prefix=settings.key_prefix, MaxKeys=1)
    except (BotoCoreError, ClientError) as error:
        raise explain(error, settings) from error


def sync_site(
    local_dir: Path,
    settings: S3Settings,
    *,
    client: Any | None = None,
    on_progress: Callable[[SyncProgress], None] | None = None,
    on_object: Callable[[str, LocalFile | None], None] | None = None,
    delete: bool = True,
    multipart_threshold: int = s3sync.MULTIPART_THRESHOLD,
    multipart_chunksize: int = s3sync.MULTIPART_CHUNKSIZE,
) -> SyncResult:
    """``s3sync.sync_directory`` to the place ``settings`` names, its failures explained.

    Raises:
        EndpointUnreachable: the store stopped answering; ``files_queued`` says how many files
            were still to send or delete. Nothing partial is left: run the sync again.
        PublishFailed: refused credentials, no such bucket, access denied…
    """
    if not settings.configured:
        raise PublishFailed(N_("No S3 bucket is set: choose one on the Publishing page first."))
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or make_client(settings)
    last: list[SyncProgress] = []

    def track(progress: SyncProgress) -> None:
        if not last:
            last.append(progress)
        if on_progress is not None:
            on_progress(progress)

    try:
        return s3sync.sync_directory(
            client,
            local_dir,
            settings.bucket,
            settings.prefix,
            on_progress=track,
            on_object=on_object,
            delete=delete,
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
        )
    except (BotoCoreError, ClientError, S3UploadFailedError, s3sync.DeleteRefused) as error:
        explained = explain(error, settings)
        if isinstance(explained, EndpointUnreachable) and last and last[0].phase != "checking":
            explained.files_queued = last[0].files_queued
        raise explained from error


# -- publishing an event: export, then sync --------------------------------------------------------

ExportSite = Callable[[sqlite3.Connection, MediaStore, Path], Any]


def default_export_site() -> ExportSite:
    """``voxpop.publishing.export.export_site``, imported when first needed."""
    from voxpop.publishing.export import export_site  # optional until the export exists

    return export_site


def staging_folder(instance: Path, event_id: int) -> Path:
    """Where the export to publish is built: inside the instance folder, never public."""
    return Path(instance) / "publish" / f"event-{event_id}" / "site"


def publish_state(db: sqlite3.Connection, event_id: int) -> dict[str, Any]:
    """The latest publish of an event (phase, counts, message, last published time)."""
    row = db.execute("SELECT * FROM publish_state WHERE event_id = ?", (event_id,)).fetchone()
    if row is None:
        return {
            "phase": "idle",
            "files_total": 0,
            "files_queued": 0,
            "files_sent": 0,
            "bytes_sent": 0,
            "files_unchanged": 0,
            "files_deleted": 0,
            "message": None,
            "last_published_at": None,
            "target": None,
            "updated_at": None,
        }
    return dict(row)


def _set_state(db: sqlite3.Connection, event_id: int, **values: Any) -> None:
    values["updated_at"] = utcnow()
    names = list(values)
    db.execute(
        f"INSERT INTO publish_state (event_id, {', '.join(names)})"  # noqa: S608 - fixed names
        f" VALUES (?, {', '.join('?' for _ in names)}) ON CONFLICT (event_id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in names),
        (event_id, *values.values()),
    )


def _published(db: sqlite3.Connection, event_id: int, target: str) -> dict[str, str]:
    state = publish_state(db, event_id)
    if state["target"] != target:
        return {}
    rows = db.execute("SELECT path, sha256 FROM published_object WHERE event_id = ?", (event_id,))
    return {row["path"]: row["sha256"] for row in rows}


def count_queued(local_files: Iterable[LocalFile], published: Mapping[str, str]) -> int:
    """Files to send or delete, judged from what was last known to be in the bucket."""
    local = {f.path: f.sha256 for f in local_files}
    changed = sum(1 for path, sha in local.items() if published.get(path) != sha)
    return changed + sum(1 for path in published if path not in local)


def waiting_reason(files_queued: int, cause: Reason | None = None) -> Reason:
    """What the job row and the state say while the store cannot be reached: how many files
    wait, and what could not be reached and why (worded when read, see voxpop.reasons)."""
    if cause is None:
        return Reason(N_("Waiting for connection, %(count)d files queued"), {"count": files_queued})
    return Reason(
        N_("Waiting for connection, %(count)d files queued. %(reason)s"),
        {"count": files_queued, "reason": cause},
    )


def waiting_message(files_queued: int, cause: Reason | None = None) -> str:
    """``waiting_reason`` in the current language (the CLI)."""
    return waiting_reason(files_queued, cause).render(_)


def _build_export(
    db: sqlite3.Connection, store: MediaStore, destination: Path, export_site: ExportSite
) -> None:
    # The export is incremental (files already right are kept, stale ones removed), so the
    # staging folder is kept between publishes.
    destination.mkdir(parents=True, exist_ok=True)
    export_site(db, store, destination)


def publish_event(
    db: sqlite3.Connection,
    store: MediaStore,
    instance: Path,
    event_id: int,
    *,
    export_site: ExportSite | None = None,
    client: Any | None = None,
    on_progress: Callable[[SyncProgress], None] | None = None,
    multipart_threshold: int = s3sync.MULTIPART_THRESHOLD,
    environ: Mapping[str, str] | None = None,
) -> SyncResult:
    """Build the event's static export and sync it to its bucket; record how it went.

    While offline, the export is not rebuilt on every try: the count of files queued is
    kept from the first failed try (it is rebuilt as soon as the store answers).

    Raises:
        EndpointUnreachable: offline; ``files_queued`` is set. Try again later.
        PublishFailed: not configured, refused, denied, or the store has no such bucket.
    """
    settings = resolve_settings(db, event_id, environ)
    if not settings.configured:
        raise PublishFailed(N_("No S3 bucket is set: choose one on the Publishing page first."))
    export_site = export_site or default_export_site()
    client = client or make_client(settings)
    destination = staging_folder(instance, event_id)
    state = publish_state(db, event_id)
    try:
        check_endpoint(client, settings)
    except EndpointUnreachable as error:
        if state["phase"] == "waiting" and state["target"] == settings.target:
            queued = int(state["files_queued"])
        else:
            _set_state(db, event_id, phase="exporting", message=None)
            _build_export(db, store, destination, export_site)
            queued = count_queued(
                s3sync.scan_directory(destination), _published(db, event_id, settings.target)
            )
        error.files_queued = queued
        _set_state(
            db,
            event_id,
            phase="waiting",
            target=settings.target,
            files_queued=queued,
            message=waiting_reason(queued, error.reason).stored(),
        )
        raise
    except PublishFailed as error:
        _set_state(db, event_id, phase="failed", message=error.reason.stored())
        raise
    _set_state(db, event_id, phase="exporting", message=None)
    _build_export(db, store, destination, export_site)
    if state["target"] != settings.target:
        with transaction(db):
            db.execute("DELETE FROM published_object WHERE event_id = ?", (event_id,))
    _set_state(
        db,
        event_id,
        phase="syncing",
        target=settings.target,
        files_sent=0,
        bytes_sent=0,
        files_unchanged=0,
        files_deleted=0,
    )

    progress_now: list[SyncProgress] = [SyncProgress(phase="checking")]

    def track(progress: SyncProgress) -> None:
        progress_now[0] = progress
        if on_progress is not None:
            on_progress(progress)

    def record_object(path: str, local: LocalFile | None) -> None:
        if local is None:
            db.execute(
                "DELETE FROM published_object WHERE event_id = ? AND path = ?", (event_id, path)
            )
        else:
            db.execute(
                "INSERT INTO published_object (event_id, path, sha256, bytes) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (event_id, path) DO UPDATE SET sha256 = excluded.sha256,"
                " bytes = excluded.bytes",
                (event_id, path, local.sha256, local.size),
            )
        now = progress_now[0]
        _set_state(
            db,
            event_id,
            files_queued=now.files_queued,
            files_sent=now.files_sent,
            bytes_sent=now.bytes_sent,
        )

    try:
        result = sync_site(
            destination,
            settings,
            client=client,
            on_progress=track,
            on_object=record_object,
            multipart_threshold=multipart_threshold,
        )
    except EndpointUnreachable as error:
        if error.files_queued is None:
            error.files_queued = count_queued(
                s3sync.scan_directory(destination), _published(db, event_id, settings.target)
            )
        _set_state(
            db,
            event_id,
            phase="waiting",
            files_queued=error.files_queued,
            message=waiting_reason(error.files_queued, error.reason).stored(),
        )
        raise
    except PublishFailed as error:
        _set_state(db, event_id, phase="failed", message=error.reason.stored())
        raise
    # The bucket now holds exactly the export: make the record say so too.
    with transaction(db):
        db.execute("DELETE FROM published_object WHERE event_id = ?", (event_id,))
        db.executemany(
            "INSERT INTO published_object (event_id, path, sha256, bytes) VALUES (?, ?, ?, ?)",
            [(event_id, f.path, f.sha256, f.size) for f in s3sync.scan_directory(destination)],
        )
        _set_state(
            db,
            event_id,
            phase="done",
            files_total=result.files_total,
            files_queued=0,
            files_sent=result.files_uploaded,
            bytes_sent=result.bytes_sent,
            files_unchanged=result.files_unchanged,
            files_deleted=result.files_deleted,
            message=None,
            last_published_at=utcnow(),
        )
    return result


# -- the job ---------------------------------------------------------------------------------------


def request_publish(
    db: sqlite3.Connection, queue: jobs.JobQueue, event_id: int, *, now: bool = False
) -> int:
    """Queue a publish of the event's archive (or find the one already queued); its job id.

    ``now``: a person asked (Publish now), so a publish waiting to try again tries at once.
    """
    return jobs.enqueue(db, queue, PUBLISH_ARCHIVE, event_id, now=now)


def retry_waiting_publish(db: sqlite3.Connection, queue: jobs.JobQueue, event_id: int) -> bool:
    """Make a publish that waits to try again (offline, or a wrong endpoint) try now: new
    settings were saved, and each try reads them afresh. False when none is waiting."""
    job = open_job(db, event_id)
    return job is not None and jobs.run_now(db, queue, int(job["id"]))


def open_job(db: sqlite3.Connection, event_id: int) -> sqlite3.Row | None:
    """The event's latest publish job, if any."""
    return db.execute(
        "SELECT * FROM job WHERE kind = ? AND target_id = ? ORDER BY id DESC LIMIT 1",
        (PUBLISH_ARCHIVE, event_id),
    ).fetchone()


def _publish_archive_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    event_id = int(job["target_id"])
    try:
        result = publish_event(
            db, queue.store, queue.instance, event_id, on_progress=_job_progress(db, int(job["id"]))
        )
    except EndpointUnreachable as error:
        delay = jobs.backoff(int(job["attempts"]), cap=WAIT_CAP_SECONDS)
        log.info("Publish of event %s waiting %ss: %s", event_id, delay, error.message)
        waiting = waiting_reason(error.files_queued or 0, error.reason)
        return jobs.requeue(db, queue, job, waiting, delay)
    except VoxpopError as error:  # refused, no bucket, or the export itself could not be built
        reason = error.reason if isinstance(error, PublishError) else Reason(error.message)
        _set_state(db, event_id, phase="failed", message=reason.stored())
        jobs.finish(db, job["id"], "failed", reason)
        return "failed"
    except Exception as error:  # e.g. the export itself failed: say so, stop
        if jobs.ran_out_of_disk(error):  # building the staged export filled the disk: wait
            _set_state(db, event_id, phase="waiting", message=jobs.disk_full_reason())
            return jobs.wait_for_disk(db, queue, job)
        log.exception("Publish of event %s failed", event_id)
        unexpected = Reason(
            N_("Publishing failed unexpectedly (%(kind)s); see the server log."),
            {"kind": type(error).__name__},
        )
        _set_state(db, event_id, phase="failed", message=unexpected.stored())
        jobs.finish(db, job["id"], "failed", unexpected)
        return "failed"
    log.info("Published event %s: %s", event_id, summary(result))
    jobs.finish(db, job["id"], "done")
    return "done"


def _job_progress(db: sqlite3.Connection, job_id: int) -> Callable[[SyncProgress], None]:
    write = jobs.progress_writer(db, job_id)

    def on_progress(progress: SyncProgress) -> None:
        write(progress.fraction)

    return on_progress


def register_job_handlers() -> None:
    """Tell the queue which function publishes the archive."""
    jobs.register(PUBLISH_ARCHIVE, _publish_archive_job)
