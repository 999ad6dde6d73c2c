"""Highlights reels (being built): see voxpop/media/reel.py for the pieces."""

from __future__ import annotations

JOB_HANDLERS: dict = {}
