"""The record of the day, benchmarked: the comparison grid and the PDF report for 1,000
reflections, against the same event with none.

Run from the repository root::

    .venv/bin/python bench/record.py                   # 1,000 reflections, 20 grid requests
    .venv/bin/python bench/record.py --reflections 3000 --repeat 30

It builds two instances in a temporary folder, in the same run: *full* (``--reflections``
reflections over the 8 perspectives and 3 prompts, video, audio and text in turn, each with
words drawn from a fixed vocabulary: written text, or captions a person checked; 90% approved
with online consent, the rest hidden, waiting or offline) and *empty* (the same event, none).
It times ``/studio/compare`` through the Flask test client, logged in as an organiser (server
time: the WSGI call, no network), all prompts and then one prompt; then the PDF report (the
published one, and ``--internal``) with ``report.build_record`` + ``report.pdf_bytes``, and the
CSV. It prints medians, the 95th percentile for pages, and full ÷ empty. It asserts nothing:
benchmarks report, tests check (``/work/shared/TESTING.md``).

Targets: the grid page ≤ 200 ms server time; the PDF ≤ 20 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from bench import corpus  # noqa: E402
from voxpop import models  # noqa: E402
from voxpop.db import get_db  # noqa: E402
from voxpop.record import report  # noqa: E402

GRID_TARGET_MS = 200.0
PDF_TARGET_S = 20.0
WORDS = [
    "listening", "waiting", "lists", "families", "staff", "training", "hope", "budgets",
    "carers", "trust", "time", "community", "services", "young", "people", "volunteers",
    "housing", "transport", "change", "respect", "dignity", "ward", "home", "support",
    "managers", "funding", "choice", "voice", "fairness", "kindness", "shared", "stories",
    "plans", "partners"
]  # fmt: skip
SENTENCES = (
    "I learned that {a} matters as much as {b}.",
    "We should talk about {a} and {b} before we decide.",
    "Seeing it through their shoes, {a} looked different.",
    "What surprised me was how {a} shapes {b} for {c}.",
    "Next time I will ask about {a} first.",
)


def words(rng: random.Random, bias: str) -> str:
    """Two or three sentences; each perspective leans on its own word (``bias``)."""

    def picks() -> dict[str, str]:
        return {key: rng.choice(WORDS) if rng.random() > 0.3 else bias for key in "abc"}

    return " ".join(rng.choice(SENTENCES).format(**picks()) for _ in range(rng.randint(2, 3)))


def seed(app: Flask, count: int) -> None:
    """``count`` reflections across perspectives and prompts, with words and poster rows."""
    rng = random.Random(18)  # noqa: S311 - repeatable made-up words, not a secret
    root = app.extensions["voxpop"].store.root
    with corpus.seeding(app) as (db, event, consent):
        perspectives = models.perspectives(db, event.id)
        prompts = models.prompts(db, event.id)
        for index in range(count):
            perspective = perspectives[index % len(perspectives)]
            prompt = prompts[(index // len(perspectives)) % len(prompts)]
            kind = ("video", "audio", "text")[index % 3]
            flaw = ("hidden", "waiting", "offline", None, None, None, None, None, None,
                    None)[index % 10]  # fmt: skip
            said = words(rng, WORDS[perspective.position * 3 % len(WORDS)])
            created = corpus.moment(index)
            reflection_id = corpus.add_reflection(
                db, event.id, index, kind=kind, perspective_id=perspective.id,
                prompt_id=prompt.id, text=said, receipt_prefix="R",
                lang="cy" if index % 7 == 0 else "en",
                review_state={"hidden": "hidden", "waiting": "waiting"}.get(flaw or "", "approved"),
            )  # fmt: skip
            corpus.add_consent(
                db, reflection_id, consent, online=flaw != "offline", show_name=bool(index % 2),
                given_at=created,
            )  # fmt: skip
            if kind != "text":
                db.execute(
                    "INSERT INTO transcript (reflection_id, status, text, created_at,"
                    " updated_at, checked_at) VALUES (?, 'checked', ?, ?, ?, ?)",
                    (reflection_id, said, created, created, created),
                )
            corpus.add_placeholder_assets(
                db, root, reflection_id, ("card",) if kind == "text" else ("mp4", "poster")
            )


def organiser_client(app: Flask) -> Any:
    with app.app_context():
        models.create_user(get_db(), "bench", "organiser", "bench password")
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token is not None
    client.post("/login", data={"name": "bench", "password": "bench password",
                                "csrf_token": token.group(1)})  # fmt: skip
    return client


def make_report(app: Flask, fmt: str, internal: bool) -> Callable[[], Any]:
    def go() -> int:
        with app.app_context():
            db = get_db()
            event = models.current_event(db)
            assert event is not None
            record = report.build_record(db, event, "en", internal=internal,
                                         environ={"VOXPOP_S3_BUCKET": "bench"})  # fmt: skip
            return len(report.render(record, fmt))

    return go


def once(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one run, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(reflections: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-record-") as temp:
        folder = Path(temp)
        full, empty = corpus.build_app(folder / "full"), corpus.build_app(folder / "empty")
        seed(full, reflections)
        clients = {"full": organiser_client(full), "empty": organiser_client(empty)}
        with full.app_context():
            prompt = models.prompts(get_db(), 1)[0].id
        pages = []
        for name, path in (("grid, all prompts", "/studio/compare"),
                           ("grid, one prompt", f"/studio/compare?prompt={prompt}")):  # fmt: skip
            ours = corpus.timed(corpus.fetcher(clients["full"], path), repeat)
            base = corpus.timed(corpus.fetcher(clients["empty"], path), repeat)
            pages.append({"page": name, "full": ours, "empty": base,
                          "ratio": ours["median_ms"] / base["median_ms"]})  # fmt: skip
        reports = []
        for fmt, internal in (("pdf", False), ("pdf", True), ("csv", True)):
            ours_s, ours_cpu, size = once(make_report(full, fmt, internal))
            base_s, base_cpu, _ = once(make_report(empty, fmt, internal))
            reports.append({"format": fmt, "internal": internal, "full_s": ours_s,
                            "full_cpu_s": ours_cpu, "empty_s": base_s, "empty_cpu_s": base_cpu,
                            "ratio": ours_s / base_s, "bytes": size})  # fmt: skip
    return {
        "machine": corpus.machine(),
        "reflections": reflections,
        "repeat": repeat,
        "pages": pages,
        "reports": reports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reflections", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    result = run(args.reflections, args.repeat)
    print(f"{result['reflections']} reflections, {result['repeat']} requests per page,"
          f" load {result['machine']['load_average']}")  # fmt: skip
    for row in result["pages"]:
        ok = "pass" if row["full"]["median_ms"] <= GRID_TARGET_MS else "MISS"
        print(f"{row['page']:<20} {row['full']['median_ms']:>8.1f} ms (p95"
              f" {row['full']['p95_ms']:.1f}, CPU {row['full']['cpu_ms']:.1f}), empty"
              f" {row['empty']['median_ms']:.1f} ms (CPU {row['empty']['cpu_ms']:.1f}),"
              f" ratio {row['ratio']:.1f}  ≤{GRID_TARGET_MS:.0f} ms {ok}")  # fmt: skip
    for row in result["reports"]:
        ok = "" if row["format"] != "pdf" else (
            " pass" if row["full_s"] <= PDF_TARGET_S else " MISS")  # fmt: skip
        label = f"{row['format']}{' --internal' if row['internal'] else ''}"
        print(f"report {label:<15} {row['full_s']:>6.2f} s (CPU {row['full_cpu_s']:.2f}), empty"
              f" {row['empty_s']:.2f} s (CPU {row['empty_cpu_s']:.2f}), ratio {row['ratio']:.1f},"
              f" {row['bytes'] / 1e6:.2f} MB{ok}")  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
