"""Secrets stay out of logs: pairing links and bearer tokens are masked in every log record.

A pairing token is in the URL path (``/kiosk/pair/<token>``), so anything that logs a path —
Flask's "Exception on /kiosk/pair/… [POST]", werkzeug's request lines when the development
server runs — would put a live link to make a kiosk into a log file. API tokens travel in the
``Authorization`` header, which nothing here logs, but a message quoting one is masked too.
(cheroot, the production server, writes no access log.)
"""

from __future__ import annotations

import logging
import re

from flask import Flask

_SECRETS = (
    (re.compile(r"(/kiosk/pair/)[^\s/?#\"']+"), r"\1[hidden]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[hidden]"),
)


def redact(text: str) -> str:
    """``text`` with pairing tokens and bearer tokens replaced by ``[hidden]``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """A logging filter that masks secrets in a record's message (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(app: Flask) -> None:
    """Mask secrets in what the app and werkzeug log (idempotent)."""
    for logger in (app.logger, logging.getLogger("werkzeug")):
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
