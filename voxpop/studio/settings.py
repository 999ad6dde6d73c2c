"""Organiser settings: the event, perspectives, prompts, consent text, kiosks and users.

Routes live on the studio blueprint (``voxpop.studio.views.bp``).
"""

from __future__ import annotations

from voxpop.studio.views import bp  # noqa: F401 - routes below register on it
