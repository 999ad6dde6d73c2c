""" "In their shoes": prompts × perspectives side by side (``/studio/compare``).

Routes live on the studio blueprint (``voxpop.studio.views.bp``). The counting, quoting and
distinctive terms are ``voxpop.record.compare``; the rows come from ``voxpop.record.rows``
(not withdrawn, not hidden by a facilitator). Every cell and term opens the review queue,
filtered to the reflections behind it.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from voxpop import models
from voxpop.auth import login_required
from voxpop.db import get_db
from voxpop.publishing.export import LANGUAGE_NAMES
from voxpop.record import compare, rows
from voxpop.studio.views import bp
from voxpop.web import current_language, require_event


@bp.get("/compare")
@login_required("organiser", "facilitator")
def compare_page() -> Any:
    """The comparison grid, narrowed by prompt, language and kind."""
    db = get_db()
    event = require_event()
    lang = current_language()
    filters = rows.filters_from(request.args, event.languages)
    prompts = rows.event_prompts(db, event.id)
    shown_prompts = [p for p in prompts if not filters.prompt or p.id == filters.prompt]
    perspectives = models.perspectives(db, event.id)
    grid = compare.build_grid(
        rows.comparison_rows(db, event.id, filters),
        [p.id for p in shown_prompts],
        [p.id for p in perspectives],
    )
    return render_template(
        "studio/compare.html",
        event=event,
        lang=lang,
        grid=grid,
        filters=filters,
        # The review queue's own filters, to open a cell's or a term's reflections there.
        kind_args={"kind": filters.kind} if filters.kind else {},
        term_args={k: v for k, v in filters.query_args().items() if k in ("prompt", "kind")},
        # The filters' choices, as (value, text) pairs.
        prompts=[(p.id, p.text(lang)) for p in prompts],
        shown_prompts=shown_prompts,
        perspectives=perspectives,
        kind_labels=models.kind_names(),
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in event.languages],
    )
