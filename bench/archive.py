"""Public archive benchmark: page times with 1,000 publishable reflections against an empty archive.

Run from the repository root::

    .venv/bin/python bench/archive.py               # 1,000 reflections, 30 requests per page
    .venv/bin/python bench/archive.py --reflections 5000 --repeat 50

It builds two instances in a temporary folder, in the same run: *full* (``--reflections``
publishable reflections, 70% under one perspective so its pages run deep, plus 20% more that
are not publishable: hidden, waiting, no online consent, withdrawn; each with tiny placeholder
asset files, no ffmpeg) and *empty* (the same event, no reflections). Through the Flask test
client it times the landing page and a perspective's first and last pages (server time: the
WSGI call, no network), then ``export_site`` (first run, and a second run with nothing
changed). It prints the median and 95th percentile in ms, and full ÷ empty. It asserts
nothing: benchmarks report, tests check (``/work/shared/TESTING.md``).

Target: a page of the 1,000-reflection archive in at most 200 ms server time.
"""

from __future__ import annotations

import argparse
import json
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
from voxpop.archive import service  # noqa: E402
from voxpop.db import get_db  # noqa: E402
from voxpop.publishing.export import export_site  # noqa: E402

TARGET_MS = 200.0
DEEP_PERSPECTIVE = "volunteer"
TRANSCRIPT = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nWhat I take away is hope.\n"


def seed(app: Flask, publishable: int) -> None:
    """``publishable`` public reflections and 20% more that are not, with placeholder files."""
    root = app.extensions["voxpop"].store.root
    with corpus.seeding(app) as (db, event, consent):
        perspectives = models.perspectives(db, event.id)
        deep = next(p.id for p in perspectives if p.slug == DEEP_PERSPECTIVE)
        others = [p.id for p in perspectives if p.id != deep]
        prompt = models.prompts(db, event.id)[0].id
        for index in range(publishable + publishable // 5):
            public = index < publishable
            perspective = deep if index % 10 < 7 else others[index % len(others)]
            kind = ("video", "audio", "text")[index % 3]
            # the non-publishable: hidden, waiting, offline, withdrawn in turn
            flaw = None if public else ("hidden", "waiting", "offline", "withdrawn")[index % 4]
            created = corpus.moment(index)
            reflection_id = corpus.add_reflection(
                db, event.id, index, kind=kind, perspective_id=perspective, prompt_id=prompt,
                text="Hope, and a plan.", receipt_prefix="B",
                status="withdrawn" if flaw == "withdrawn" else "ready",
                review_state={"hidden": "hidden", "waiting": "waiting"}.get(flaw or "", "approved"),
                transcript_vtt=None if kind == "text" else TRANSCRIPT,
            )  # fmt: skip
            corpus.add_consent(
                db, reflection_id, consent, online=flaw != "offline", show_name=bool(index % 2),
                given_at=created, withdrawn_at=created if flaw == "withdrawn" else None,
            )  # fmt: skip
            kinds = ("card", "mp4", "poster", "thumb") if kind == "text" else (
                "mp4", "poster", "thumb")  # fmt: skip
            corpus.add_placeholder_assets(db, root, reflection_id, kinds)


def last_page(app: Flask) -> int:
    with app.app_context():
        tiles = service.perspective_tiles(get_db(), 1)
    count = next(t.count for t in tiles if t.slug == DEEP_PERSPECTIVE)
    return max(1, -(-count // service.PAGE_SIZE))


def run(reflections: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-archive-") as temp:
        folder = Path(temp)
        full, empty = corpus.build_app(folder / "full"), corpus.build_app(folder / "empty")
        started = time.perf_counter()
        seed(full, reflections)
        seeded_s = time.perf_counter() - started
        last = last_page(full)
        pages = {
            "landing": "/archive/",
            "perspective, first page": f"/archive/p/{DEEP_PERSPECTIVE}",
            f"perspective, last page ({last})": f"/archive/p/{DEEP_PERSPECTIVE}?page={last}",
            "perspective, first page (cy)": f"/archive/p/{DEEP_PERSPECTIVE}?lang=cy",
        }
        rows = []
        for name, path in pages.items():
            baseline_path = path.split("?")[0] if "page=" in path else path
            ours = corpus.timed(corpus.fetcher(full.test_client(), path), repeat)
            base = corpus.timed(corpus.fetcher(empty.test_client(), baseline_path), repeat)
            rows.append({"page": name, "full": ours, "empty": base,
                         "ratio": ours["median_ms"] / base["median_ms"]})  # fmt: skip

        def export(app: Flask, target: Path) -> Callable[[], Any]:
            def go() -> Any:
                with app.app_context():
                    return export_site(get_db(), app.extensions["voxpop"].store, target)

            return go

        exports = []
        for name, app in (("full", full), ("empty", empty)):
            target = folder / f"site-{name}"
            start = time.perf_counter()
            summary = export(app, target)()
            first_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            again = export(app, target)()
            again_ms = (time.perf_counter() - start) * 1000
            exports.append({"instance": name, "first_ms": first_ms, "unchanged_ms": again_ms,
                            "files": summary.files, "items": summary.items,
                            "rewritten_second_time": again.written})  # fmt: skip
    return {
        "machine": corpus.machine(),
        "reflections": reflections,
        "seeded_s": round(seeded_s, 1),
        "repeat": repeat,
        "pages": rows,
        "exports": exports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reflections", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    result = run(args.reflections, args.repeat)
    load = result["machine"]["load_average"]
    print(f"{result['reflections']} publishable reflections (+20% not publishable),"
          f" {result['repeat']} requests per page, load {load}")  # fmt: skip
    print(f"{'page':<34} {'full median':>12} {'p95':>8} {'empty median':>13} {'ratio':>6}  target")
    for row in result["pages"]:
        ok = "pass" if row["full"]["median_ms"] <= TARGET_MS else "MISS"
        print(f"{row['page']:<34} {row['full']['median_ms']:>9.1f} ms {row['full']['p95_ms']:>5.1f}"
              f" ms {row['empty']['median_ms']:>10.1f} ms {row['ratio']:>6.2f}  ≤{TARGET_MS:.0f} ms"
              f" {ok}")  # fmt: skip
    for row in result["exports"]:
        print(f"export_site ({row['instance']}, {row['items']} items, {row['files']} files):"
              f" first {row['first_ms']:.0f} ms, unchanged re-run {row['unchanged_ms']:.0f} ms"
              f" ({row['rewritten_second_time']} files rewritten)")  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
