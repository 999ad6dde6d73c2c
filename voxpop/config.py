"""Configuration defaults and how they are layered.

Order (later wins): these defaults, ``instance/voxpop.toml``, ``VOXPOP_*`` environment
variables, then whatever a test passes to ``create_app``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Where the SQLite database, TLS material and secrets live.
    "INSTANCE": "instance",
    # Where media lives: incoming/, originals/, derived/.
    "UPLOADS": "uploads",
    # HTTP (loopback kiosks, certificate setup) and HTTPS (tablets on the LAN).
    "HOST": "0.0.0.0",  # noqa: S104 - the venue LAN is the point
    "PORT": 8080,
    "TLS_PORT": 8443,
    # Upload allowance per second of the event's max clip length; recorders are asked for
    # 2.5 Mb/s, so 1 MB/s (8 Mb/s) leaves room for phones that ignore the request.
    "UPLOAD_BYTES_PER_SECOND": 1_000_000,
    # Resumable uploads not finished this many seconds after their last byte are deleted.
    "UPLOAD_EXPIRY_SECONDS": 48 * 3600,
    # Uploads are refused (507, the kiosk keeps the recording) unless this much disk stays
    # free after them, so processing, the database and the laptop itself keep working.
    "DISK_FREE_FLOOR_BYTES": 200 * 1024 * 1024,
    # Plain forms (login, pairing) never need more than this.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Base of links printed in QR codes (receipt withdrawal); empty = the address the kiosk used.
    "PUBLIC_BASE_URL": "",
    "LANGUAGES": ["en", "cy"],
    # The job queue: "sqlite" (durable, instance/queue.sqlite3) or "memory" (tests).
    "QUEUE": "sqlite",
    # Seconds the kiosk counts down ("3, 2, 1") before it records, from 1 to 10. The test
    # suite sets 1: a browser test records dozens of times and waits out every countdown.
    "KIOSK_COUNTDOWN_SECONDS": 3,
    # Worker threads run by `voxpop serve`/`voxpop worker`. ffmpeg already uses every core,
    # so one job at a time is fastest per clip on a 2-core laptop.
    "WORKERS": 1,
    "BABEL_DEFAULT_LOCALE": "en",
    # Where the event happens: stored times (UTC) are shown in this zone (voxpop/formatting.py).
    "TIMEZONE": "Europe/London",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # A paired kiosk stays paired for the length of an event and then some.
    "PERMANENT_SESSION_LIFETIME": 14 * 24 * 3600,
    # A staff login lasts a working day (then log in again); kiosks keep the lifetime above.
    "STAFF_SESSION_SECONDS": 12 * 3600,
    # Rate limits (Flask-Limiter). Counters live in instance/ratelimits.sqlite3 unless this
    # names another `limits` storage, e.g. "redis://host:6379" when several servers run.
    "RATELIMIT_STORAGE_URI": "",
    "RATELIMIT_STRATEGY": "fixed-window",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_HEADER_RETRY_AFTER_VALUE": "delta-seconds",
    # Wrong logins (only failures count), per address and per account name.
    "RATELIMIT_LOGIN_PER_ADDRESS": "10/minute;50/hour",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "10/minute;50/hour",
    # Per kiosk, over the multipart POST and every tus request together. A kiosk sends a
    # 2 MiB chunk every few hundred ms when the Wi-Fi is good; its outbox retries on 429.
    "RATELIMIT_KIOSK_REQUESTS": "600/minute",
    "RATELIMIT_KIOSK_BYTES": f"{1024**3}/minute",
    # Wrong receipt codes per address before the withdrawal page brakes (a right code is
    # always accepted).
    "WITHDRAW_MAX_WRONG_CODES": 10,
    "WITHDRAW_BRAKE_SECONDS": 900,
    # While braked, an address's codes are checked one at a time, each after this pause: the
    # right code still works, but guessing gets one answer every few seconds at most.
    "WITHDRAW_BRAKED_PAUSE_SECONDS": 3.0,
    "WTF_CSRF_TIME_LIMIT": None,
    # werkzeug's password hash method (voxpop/passwords.py). The slow default is the point;
    # only the test suite sets a cheap one.
    "PASSWORD_HASH_METHOD": "scrypt",
}

# Settings that are integers when they come from the environment.
_INT_KEYS = {
    "PORT",
    "TLS_PORT",
    "UPLOAD_BYTES_PER_SECOND",
    "MAX_CONTENT_LENGTH",
    "WORKERS",
    "KIOSK_COUNTDOWN_SECONDS",
    "UPLOAD_EXPIRY_SECONDS",
    "DISK_FREE_FLOOR_BYTES",
    "STAFF_SESSION_SECONDS",
    "WITHDRAW_MAX_WRONG_CODES",
    "WITHDRAW_BRAKE_SECONDS",
}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the merged configuration: defaults, instance file, environment, overrides."""
    config = dict(DEFAULTS)
    env = {
        key[len("VOXPOP_") :]: value
        for key, value in os.environ.items()
        if key.startswith("VOXPOP_")
    }
    overrides = dict(overrides or {})
    instance = Path(overrides.get("INSTANCE") or env.get("INSTANCE") or config["INSTANCE"])
    toml_path = instance / "voxpop.toml"
    if toml_path.is_file():
        with toml_path.open("rb") as handle:
            config.update({key.upper(): value for key, value in tomllib.load(handle).items()})
    for key, value in env.items():
        config[key] = int(value) if key in _INT_KEYS else value
    config.update(overrides)
    config["INSTANCE"] = str(Path(config["INSTANCE"]).resolve())
    config["UPLOADS"] = str(Path(config["UPLOADS"]).resolve())
    return config
