""" "In their shoes": the comparison grid (record/compare.py, record/rows.py, /studio/compare)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask

from tests.recordday import PUBLISHED_QUOTES, a_day_of_voices, ids_of
from voxpop.db import get_db
from voxpop.record import compare, rows
from voxpop.record.compare import Row

pytestmark = pytest.mark.python_only


def grid_of(app: Flask, filters: rows.Filters | None = None) -> compare.Grid:
    with app.app_context():
        db = get_db()
        event_id = db.execute("SELECT id FROM event").fetchone()[0]
        prompts = [p.id for p in rows.event_prompts(db, event_id)]
        perspectives = [r[0] for r in db.execute("SELECT id FROM perspective ORDER BY position")]
        return compare.build_grid(rows.comparison_rows(db, event_id, filters), prompts,
                                  perspectives)  # fmt: skip


def test_grid_counts_quotes_and_missing_voices(app: Flask) -> None:
    ids = a_day_of_voices(app)
    known = ids_of(app)
    grid = grid_of(app)
    p0, p1, p2 = known["prompt0"], known["prompt1"], known["prompt2"]

    community = grid.cell(p0, known["community-member"])
    assert community.count == 4  # two written, one captioned video, one silent video
    # Starred first, then the day's order; three quotes fill the cell, so no poster.
    assert [q.reflection_id for q in community.quotes] == [ids["video"], ids["aled"], ids["bethan"]]
    assert community.quotes[0].text == PUBLISHED_QUOTES["video"]
    assert community.quotes[0].source == "transcript"
    assert community.posters == ()

    volunteers = grid.cell(p0, known["volunteer"])
    assert volunteers.count == 1  # hidden and withdrawn are not counted
    assert [q.reflection_id for q in volunteers.quotes] == [ids["volunteer"]]

    draft = grid.cell(p1, known["volunteer"])
    assert draft.count == 1 and draft.quotes == ()  # a machine draft is never quoted
    assert draft.posters == (ids["draft"],)

    managers = grid.cell(p1, known["manager"])
    assert managers.count == 2  # offline and waiting still count inside the studio
    assert grid.cell(p2, known["front-line-staff"]).quotes[0].text == PUBLISHED_QUOTES["audio"]

    assert grid.cell(p0, known["manager"]).missing
    assert (p0, known["manager"]) in grid.missing
    assert not community.missing
    assert grid.total == 10  # twelve added, less the hidden and the withdrawn one
    assert grid.perspective_total(known["community-member"]) == 5
    assert grid.prompt_total(p1) == 3


@pytest.mark.parametrize(
    ("filters", "total"),
    [
        (rows.Filters(kind="text"), 6),
        (rows.Filters(kind="video"), 3),
        (rows.Filters(lang="cy"), 1),
        (rows.Filters(kind="audio", lang="cy"), 0),
    ],
)
def test_filters_narrow_the_grid(app: Flask, filters: rows.Filters, total: int) -> None:
    a_day_of_voices(app)
    assert grid_of(app, filters).total == total


def test_prompt_filter_and_filters_from_query() -> None:
    assert rows.filters_from({"prompt": "7", "language": "cy", "kind": "text"}, ["en", "cy"]) == (
        rows.Filters(prompt=7, lang="cy", kind="text")
    )
    assert rows.filters_from({"prompt": "x", "language": "fr", "kind": "gif"}, ["en", "cy"]) == (
        rows.Filters()
    )


def _rows(perspective: int, texts: list[str], start: int) -> list[Row]:
    return [Row(start + n, perspective, 1, "text", "en", text) for n, text in enumerate(texts)]


SHARED = [
    "People listened to each other and the community felt heard.",
    "Services should listen to the community more often.",
    "I heard stories about waiting and about hope.",
    "Hope came from listening to families.",
] * 2


def day_corpus(extra: str) -> list[Row]:
    """Three perspectives saying the same things; the second also says ``extra`` every time."""
    return (
        _rows(1, SHARED, 100) + _rows(2, [f"{text} {extra}" for text in SHARED], 200)
        + _rows(3, SHARED, 300) + _rows(3, ["Budgets are tight but hope is not."], 400)
    )  # fmt: skip


def test_a_phrase_only_one_perspective_uses_ranks_first() -> None:
    terms = compare.distinctive_terms(day_corpus("The community fridge kept going."), [1, 2, 3])
    assert terms[2][0].text == "community fridge"
    assert terms[2][0].count == 8
    assert terms[2][0].z >= compare.MIN_Z
    assert terms[2][0].reflection_ids == tuple(range(200, 208))
    # Its words are only ever said inside the phrase: not listed again on their own.
    assert "fridge" not in [term.text for term in terms[2]]
    # Words every perspective shares are nobody's own; one use is not a pattern.
    assert terms[1] == ()
    assert "budgets" not in [term.text for term in terms[3]]


def test_too_few_uses_are_not_yet_distinctive() -> None:
    corpus = [row for row in day_corpus("The community fridge kept going.") if row.id % 100 < 3]
    assert compare.distinctive_terms(corpus, [1, 2, 3])[2] == ()


def test_stop_words_in_english_and_welsh_are_never_terms() -> None:
    stop = compare.stop_words()
    assert {"the", "and", "because", "yr", "mae", "gyda", "ydw", "nhw"} <= stop
    assert compare.terms_of("Mae'n bwysig gwrando ar y bobl", stop) == [
        "bwysig", "gwrando", "bobl", "bwysig gwrando",
    ]  # fmt: skip
    # Phrases never cross a sentence break.
    assert "chips listening" not in compare.terms_of("Fish chips. Listening matters.", stop)
    corpus = day_corpus("Mae'n bwysig gwrando ar y bobl ifanc.")
    terms = compare.distinctive_terms(corpus, [1, 2, 3])
    welsh = [term.text for term in terms[2]]
    assert "bobl ifanc" in welsh
    assert not set(" ".join(welsh).split()) & stop


def test_weighted_log_odds_is_symmetric_and_signed() -> None:
    from collections import Counter

    scores = compare.weighted_log_odds({1: Counter(a=10, b=1), 2: Counter(a=1, b=10)})
    assert scores[1]["a"] > 1.96 and scores[1]["b"] < -1.96
    assert scores[1]["a"] == pytest.approx(scores[2]["b"])


def test_a_day_of_one_word_has_no_distinctive_terms() -> None:
    """One word in the whole day leaves nothing to compare it with (the odds against it are
    zero): no terms, rather than a division by zero."""
    from collections import Counter

    assert compare.weighted_log_odds({1: Counter(fridge=3), 2: Counter()}) == {1: {}, 2: {}}
    assert compare.weighted_log_odds({1: Counter(), 2: Counter()}) == {1: {}, 2: {}}


def test_the_page_for_a_tiny_day(app: Flask, client, auth) -> None:  # type: ignore[no-untyped-def]
    from tests.archivedata import add_archived

    add_archived(app, "text", "volunteer", text="Fridge.")
    add_archived(app, "text", "volunteer", text="Fridge!")
    auth.login("facilitator")
    page = client.get("/studio/compare")
    assert page.status_code == 200
    assert "Fridge." in unescape(page.text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short and sweet.", "Short and sweet."),
        ("  spread \n over   lines ", "spread over lines"),
        ("word " * 60, ("word " * 31).strip() + "…"),
    ],
)
def test_short_quote(text: str, expected: str) -> None:
    assert compare.short_quote(text) == expected
    assert len(compare.short_quote(text)) <= compare.QUOTE_CHARS


def test_the_page_for_staff_only(app: Flask, client, auth) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/studio/compare").status_code in (302, 303)
    ids = a_day_of_voices(app)
    known = ids_of(app)
    auth.login("facilitator")
    page = client.get("/studio/compare")
    assert page.status_code == 200
    html = unescape(page.text)
    for key in ("aled", "video", "volunteer", "audio", "welsh"):
        assert PUBLISHED_QUOTES[key] in html
    for never in ("HIDDEN", "WITHDRAWN", "DRAFT"):
        assert never not in html
    assert "Missing voice" in html
    # A cell opens its clips in the review queue; a silent clip shows its poster.
    assert (f"/review/?perspective=community-member&prompt={known['prompt0']}") in html
    assert f"/studio/media/{ids['draft']}/poster" in html
    assert 'href="/studio/compare"' in html  # the nav link

    narrowed = unescape(client.get(f"/studio/compare?prompt={known['prompt2']}&language=cy").text)
    assert PUBLISHED_QUOTES["welsh"] in narrowed
    assert PUBLISHED_QUOTES["aled"] not in narrowed
    assert "1 reflection" in narrowed


def test_terms_link_to_the_reflections_that_use_them(app: Flask, client, auth) -> None:  # type: ignore[no-untyped-def]
    from tests.archivedata import add_archived

    for text in SHARED:
        add_archived(app, "text", "manager", text=text)
        add_archived(app, "text", "provider", text=text)
        add_archived(app, "text", "volunteer", text=f"{text} The community fridge kept going.")
    auth.login("facilitator")
    html = unescape(client.get("/studio/compare").text)
    links = re.findall(r'href="(/review/\?[^"]*q=[^"]*)"', html)
    assert "/review/?perspective=volunteer&q=community+fridge" in links


def test_welsh_page(app: Flask, client, auth) -> None:  # type: ignore[no-untyped-def]
    a_day_of_voices(app)
    auth.login("organiser")
    html = unescape(client.get("/studio/compare?lang=cy").text)
    assert "Yn eu hesgidiau" in html and "Llais coll" in html
