"""Highlights reels: the builder's rules (service) and the renders (render)."""

from __future__ import annotations

from voxpop.reels.render import JOB_HANDLERS

__all__ = ["JOB_HANDLERS"]
