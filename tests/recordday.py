"""A day of reflections across perspectives and prompts, for the comparison and report tests.

Upper-case words mark what must never show where it does not belong (hidden, withdrawn,
offline, waiting, a machine draft); names mark who agreed to show theirs (Aled) and who did not
(Bethan, Carys).
"""

from __future__ import annotations

from flask import Flask

from tests.archivedata import add_archived, query
from voxpop.db import get_db, transaction

PUBLISHED_QUOTES = {
    "aled": "Waiting lists hurt families most.",
    "bethan": "Waiting lists kept my mother at home for months.",
    "video": "We need waiting lists that are honest with people.",
    "volunteer": "Volunteers need proper training too.",
    "audio": "Staff morale matters on the ward.",
    "welsh": "Mae angen gwrando ar bobl ifanc.",
}


def a_day_of_voices(app: Flask) -> dict[str, int]:
    """Reflections on three prompts from four perspectives, public and not."""
    ids = {
        "aled": add_archived(
            app, "text", "community-member", text=PUBLISHED_QUOTES["aled"], name="Aled", show_name=1
        ),
        "bethan": add_archived(
            app,
            "text",
            "community-member",
            text=PUBLISHED_QUOTES["bethan"],
            name="Bethan",
            show_name=0,
        ),
        "video": add_archived(app, "video", "community-member", words=PUBLISHED_QUOTES["video"]),
        "silent": add_archived(app, "video", "community-member", captions=None),
        "volunteer": add_archived(app, "text", "volunteer", text=PUBLISHED_QUOTES["volunteer"]),
        "hidden": add_archived(
            app, "text", "volunteer", review="hidden", text="HIDDEN remark nobody should see."
        ),
        "withdrawn": add_archived(
            app, "text", "volunteer", withdrawn=True, text="WITHDRAWN words taken back."
        ),
        "draft": add_archived(
            app, "video", "volunteer", prompt=1, captions="draft", words="DRAFT machine guess"
        ),
        "offline": add_archived(
            app,
            "text",
            "manager",
            prompt=1,
            online=0,
            name="Carys",
            show_name=1,
            text="OFFLINE budget talk for the team only.",
        ),
        "waiting": add_archived(
            app,
            "text",
            "manager",
            prompt=1,
            review="waiting",
            text="WAITING thoughts not reviewed yet.",
        ),
        "audio": add_archived(
            app, "audio", "front-line-staff", prompt=2, words=PUBLISHED_QUOTES["audio"]
        ),
        "welsh": add_archived(
            app, "text", "community-member", prompt=2, lang="cy", text=PUBLISHED_QUOTES["welsh"]
        ),
    }
    with app.app_context():
        db = get_db()
        with transaction(db):  # a facilitator starred the video: it is quoted first
            db.execute("UPDATE reflection SET starred = 1 WHERE id = ?", (ids["video"],))
    return ids


def ids_of(app: Flask) -> dict[str, int]:
    """Perspective and prompt ids of the test event, by slug and by place."""
    found = {row["slug"]: row["id"] for row in query(app, "SELECT id, slug FROM perspective")}
    for place, row in enumerate(query(app, "SELECT id FROM prompt ORDER BY position, id")):
        found[f"prompt{place}"] = row["id"]
    return found
