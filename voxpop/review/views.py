"""Facilitators' review queue: triage, tag, approve, star, trim, transcribe."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("review", __name__)
