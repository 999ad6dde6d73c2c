""" "In their shoes": prompts × perspectives side by side, and each perspective's own words.

Pure computation, no Flask and no database: rows in, dataclasses out (``voxpop.record.rows``
reads the rows; the studio page and the report render what this returns).

The distinctive words and phrases of a perspective are found by the weighted log-odds ratio
with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words",
*Political Analysis* 16(4), §3.5.1). For each term *w* (a word or a two-word phrase), with
``y_i`` its count in the perspective, ``y_j`` its count in every other perspective, ``n_i`` and
``n_j`` their total term counts, and the prior ``a_w = A · y_w / n`` (the term's share of the
whole corpus, scaled to ``A`` pseudo-counts: the corpus's own size, at most ``PRIOR_WEIGHT``, so
the prior never outweighs the day's words yet still steadies rare terms)::

    delta_w = log((y_i + a_w) / (n_i + A - y_i - a_w)) - log((y_j + a_w) / (n_j + A - y_j - a_w))
    var_w   = 1 / (y_i + a_w) + 1 / (y_j + a_w)
    z_w     = delta_w / sqrt(var_w)

Terms are ranked by ``z_w``; a term is listed only when ``z_w`` ≥ ``MIN_Z`` (1.28: the
perspective uses it more than the others, one-sided at the 10% level; a day's corpus is
small, so the list is an indication to read the reflections behind it, not a finding) and it
occurs at least ``MIN_COUNT`` times in the perspective (a word said once is not a pattern).
Stop words (English from the maintained ``stopwordsiso`` list, Welsh from ``stopwords_cy.txt``
beside this module, which says where it comes from) are never terms; a phrase may not start
or end with one.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

QUOTES_PER_CELL = 3
QUOTE_CHARS = 160  # a short quote: about two lines of a grid cell
PRIOR_WEIGHT = 500.0  # A at most: pseudo-counts of the informative prior
MIN_Z = 1.28  # one-sided 10%: "used more than the others" is a one-sided question
MIN_COUNT = 2
TERMS_PER_PERSPECTIVE = 8

_WELSH_STOP_WORDS = Path(__file__).with_name("stopwords_cy.txt")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
# A word: letters (any script, Welsh ŵ ŷ included) with apostrophes inside ("don't", "dwi'n").
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
# Phrases never run across these (sentence and clause breaks).
_CLAUSE_BREAK = re.compile(r"[.!?;:,()\[\]\"\u201c\u201d\u2014\u2013\n]+")


@dataclass(frozen=True)
class Row:
    """One reflection as the comparison reads it (``words``: written text or checked captions)."""

    id: int
    perspective_id: int
    prompt_id: int
    kind: str
    lang: str
    words: str | None
    has_poster: bool = False
    starred: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class Quote:
    """A short quote from a reflection (``source``: "written" or "transcript")."""

    reflection_id: int
    text: str
    kind: str
    source: str
    lang: str = "en"  # the language it was said or written in (for ``lang`` in the page)


@dataclass(frozen=True)
class Cell:
    """One prompt × perspective: how many reflections, a few quotes, posters for the rest."""

    prompt_id: int
    perspective_id: int
    count: int
    quotes: tuple[Quote, ...] = ()
    posters: tuple[int, ...] = ()  # reflection ids of recordings without words, to show instead

    @property
    def missing(self) -> bool:
        """No one from this perspective answered this prompt: a missing voice."""
        return self.count == 0


@dataclass(frozen=True)
class Term:
    """A word or phrase a perspective uses distinctly more than the others."""

    text: str
    z: float  # the weighted log-odds z-score
    count: int  # times the perspective used it
    reflection_ids: tuple[int, ...]  # its reflections that use it


@dataclass(frozen=True)
class Grid:
    """The comparison: cells by (prompt id, perspective id), with totals."""

    prompt_ids: tuple[int, ...]
    perspective_ids: tuple[int, ...]
    cells: dict[tuple[int, int], Cell]
    terms: dict[int, tuple[Term, ...]] = field(default_factory=dict)

    def cell(self, prompt_id: int, perspective_id: int) -> Cell:
        """The cell for a prompt and a perspective."""
        return self.cells[(prompt_id, perspective_id)]

    def perspective_total(self, perspective_id: int) -> int:
        """Reflections from one perspective across the prompts shown."""
        return sum(self.cells[(p, perspective_id)].count for p in self.prompt_ids)

    def prompt_total(self, prompt_id: int) -> int:
        """Reflections answering one prompt across the perspectives shown."""
        return sum(self.cells[(prompt_id, p)].count for p in self.perspective_ids)

    @property
    def total(self) -> int:
        """Every reflection in the grid."""
        return sum(cell.count for cell in self.cells.values())

    @property
    def missing(self) -> list[tuple[int, int]]:
        """(prompt id, perspective id) of every empty cell."""
        return [key for key, cell in self.cells.items() if cell.missing]


# -- words -------------------------------------------------------------------------------------


@cache
def stop_words() -> frozenset[str]:
    """English (stopwordsiso) and Welsh (``stopwords_cy.txt``) stop words, lower case."""
    from stopwordsiso import stopwords

    welsh = {
        line.strip().translate(_APOSTROPHES).lower()
        for line in _WELSH_STOP_WORDS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    english = {word.translate(_APOSTROPHES).lower() for word in stopwords("en")}
    return frozenset(english | welsh)


def words_of(text: str) -> list[list[str]]:
    """The text's words, lower case, in clauses (phrases never cross a clause break)."""
    clauses = _CLAUSE_BREAK.split(text.translate(_APOSTROPHES).lower())
    return [found for clause in clauses if (found := _WORD.findall(clause))]


def terms_of(text: str, stop: frozenset[str]) -> list[str]:
    """The terms a text contributes: content words and two-word phrases around none."""
    terms: list[str] = []
    for clause in words_of(text):
        kept = [word if len(word) > 1 and word not in stop else "" for word in clause]
        terms += [word for word in kept if word]
        terms += [
            f"{first} {second}"
            for first, second in zip(kept, kept[1:], strict=False)
            if first and second
        ]
    return terms


def short_quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """The text on one line, cut at a word boundary to at most ``limit`` characters ("…")."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-–—") + "…"


# -- the grid ----------------------------------------------------------------------------------


def _quote_order(row: Row) -> tuple[int, str, int]:
    # Facilitators star the reflections that say it best; then the day's order.
    return (0 if row.starred else 1, row.created_at, row.id)


def build_grid(
    rows: Iterable[Row],
    prompt_ids: Sequence[int],
    perspective_ids: Sequence[int],
    *,
    quotes_per_cell: int = QUOTES_PER_CELL,
    with_terms: bool = True,
) -> Grid:
    """Count and quote every prompt × perspective; rows outside both lists are left out.

    A cell's quotes are its reflections with words (written, or captions a person checked),
    starred first, then oldest first, up to ``quotes_per_cell``; recordings without words fill
    the rest of the cell as posters.
    """
    wanted_prompts, wanted_perspectives = set(prompt_ids), set(perspective_ids)
    by_cell: dict[tuple[int, int], list[Row]] = defaultdict(list)
    kept: list[Row] = []
    for row in rows:
        if row.prompt_id in wanted_prompts and row.perspective_id in wanted_perspectives:
            by_cell[(row.prompt_id, row.perspective_id)].append(row)
            kept.append(row)
    cells: dict[tuple[int, int], Cell] = {}
    for prompt_id in prompt_ids:
        for perspective_id in perspective_ids:
            members = sorted(by_cell.get((prompt_id, perspective_id), []), key=_quote_order)
            quotes = tuple(
                Quote(
                    row.id,
                    short_quote(row.words),
                    row.kind,
                    "written" if row.kind == "text" else "transcript",
                    row.lang,
                )
                for row in members
                if row.words and row.words.strip()
            )[:quotes_per_cell]
            room = quotes_per_cell - len(quotes)
            posters = tuple(
                row.id for row in members if row.has_poster and not (row.words or "").strip()
            )[: max(room, 0)]
            cells[(prompt_id, perspective_id)] = Cell(
                prompt_id, perspective_id, len(members), quotes, posters
            )
    terms = distinctive_terms(kept, perspective_ids) if with_terms else {}
    return Grid(tuple(prompt_ids), tuple(perspective_ids), cells, terms)


# -- distinctive terms -------------------------------------------------------------------------


def weighted_log_odds(
    counts: dict[int, Counter[str]], prior_weight: float = PRIOR_WEIGHT
) -> dict[int, dict[str, float]]:
    """z-scores of each group's terms against all other groups (Monroe et al. 2008)."""
    overall: Counter[str] = Counter()
    for group_counts in counts.values():
        overall.update(group_counts)
    n = sum(overall.values())
    if len(overall) < 2:  # nothing said, or one word only: no word can stand out from others
        return {group: {} for group in counts}
    prior_weight = min(prior_weight, float(n))
    alpha = {term: prior_weight * count / n for term, count in overall.items()}
    scores: dict[int, dict[str, float]] = {}
    for group, group_counts in counts.items():
        n_i = sum(group_counts.values())
        n_j = n - n_i
        scores[group] = {}
        for term, y_i in group_counts.items():
            a_w = alpha[term]
            y_j = overall[term] - y_i
            delta = math.log((y_i + a_w) / (n_i + prior_weight - y_i - a_w)) - math.log(
                (y_j + a_w) / (n_j + prior_weight - y_j - a_w)
            )
            variance = 1 / (y_i + a_w) + 1 / (y_j + a_w)
            scores[group][term] = delta / math.sqrt(variance)
    return scores


def distinctive_terms(
    rows: Iterable[Row],
    perspective_ids: Sequence[int],
    *,
    limit: int = TERMS_PER_PERSPECTIVE,
    min_z: float = MIN_Z,
    min_count: int = MIN_COUNT,
) -> dict[int, tuple[Term, ...]]:
    """Each perspective's most distinctive words and phrases, best first.

    A single word is left out when a listed phrase holds it and it is never used apart from
    that phrase: the phrase already says it.
    """
    stop = stop_words()
    counts: dict[int, Counter[str]] = {p: Counter() for p in perspective_ids}
    users: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in rows:
        if row.perspective_id not in counts or not row.words:
            continue
        found = terms_of(row.words, stop)
        counts[row.perspective_id].update(found)
        for term in dict.fromkeys(found):
            users[(row.perspective_id, term)].append(row.id)
    scores = weighted_log_odds(counts)
    result: dict[int, tuple[Term, ...]] = {}
    for perspective_id in perspective_ids:
        group = counts[perspective_id]
        ranked = sorted(
            (
                (z, term)
                for term, z in scores.get(perspective_id, {}).items()
                if z >= min_z and group[term] >= min_count
            ),
            key=lambda item: (-item[0], item[1]),
        )
        phrases = [term for _z, term in ranked if " " in term]
        chosen = [
            Term(term, round(z, 2), group[term], tuple(users[(perspective_id, term)]))
            for z, term in ranked
            if " " in term
            or not any(
                term in phrase.split() and group[phrase] >= group[term] for phrase in phrases
            )
        ][:limit]
        result[perspective_id] = tuple(chosen)
    return result
