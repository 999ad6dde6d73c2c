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
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from voxpop import create_app, models  # noqa: E402
from voxpop.archive import service  # noqa: E402
from voxpop.db import get_db, transaction, utcnow  # noqa: E402
from voxpop.publishing.export import export_site  # noqa: E402

TARGET_MS = 200.0
DEEP_PERSPECTIVE = "volunteer"
TRANSCRIPT = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nWhat I take away is hope.\n"


def build_app(folder: Path) -> Flask:
    """An instance with the demo event (English and Welsh), jobs kept in memory."""
    app = create_app(
        {"INSTANCE": str(folder / "instance"), "UPLOADS": str(folder / "uploads"),
         "QUEUE": "memory", "TESTING": True, "SECRET_KEY": "bench"}
    )  # fmt: skip
    with app.app_context():
        models.create_event(get_db(), "Whose Shoes? benchmark day", date="2026-11-23",
                            venue="Bench Hall", languages=["en", "cy"])  # fmt: skip
    return app


def seed(app: Flask, publishable: int) -> None:
    """``publishable`` public reflections and 20% more that are not, with placeholder files."""
    root = app.extensions["voxpop"].store.root
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        perspectives = models.perspectives(db, event.id)
        deep = next(p.id for p in perspectives if p.slug == DEEP_PERSPECTIVE)
        others = [p.id for p in perspectives if p.id != deep]
        prompt = models.prompts(db, event.id)[0].id
        consent = db.execute("SELECT id, sha256 FROM consent_text").fetchone()
        extra = publishable // 5
        with transaction(db):
            for index in range(publishable + extra):
                public = index < publishable
                perspective = deep if index % 10 < 7 else others[index % len(others)]
                kind = ("video", "audio", "text")[index % 3]
                # the non-publishable: hidden, waiting, offline, withdrawn in turn
                flaw = None if public else ("hidden", "waiting", "offline", "withdrawn")[index % 4]
                hour, minute, second = 9 + index // 3600, index // 60 % 60, index % 60
                created = f"2026-11-23T{hour:02d}:{minute:02d}:{second:02d}"
                cursor = db.execute(
                    "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                    " original_path, status, receipt_code, client_id, lang, display_name,"
                    " created_at, review_state, transcript_vtt, duration_seconds)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, ?, ?, ?)",
                    (event.id, kind, perspective, prompt,
                     "Hope, and a plan." if kind == "text" else None,
                     None if kind == "text" else f"originals/{index}.webm",
                     "withdrawn" if flaw == "withdrawn" else "ready", f"B{index:06d}",
                     str(uuid.uuid4()), f"Name{index}", created,
                     {"hidden": "hidden", "waiting": "waiting"}.get(flaw or "", "approved"),
                     None if kind == "text" else TRANSCRIPT, None if kind == "text" else 30.0),
                )  # fmt: skip
                reflection_id = cursor.lastrowid
                db.execute(
                    "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                    " reel, online, show_name, given_at, withdrawn_at)"
                    " VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?)",
                    (reflection_id, consent["id"], consent["sha256"], int(flaw != "offline"),
                     index % 2, created, created if flaw == "withdrawn" else None),
                )  # fmt: skip
                kinds = ("card", "mp4", "poster", "thumb") if kind == "text" else (
                    "mp4", "poster", "thumb")  # fmt: skip
                for asset in kinds:
                    relative = f"derived/{reflection_id}/{asset}.bin"
                    data = f"{asset} {reflection_id}".encode()
                    (root / relative).parent.mkdir(parents=True, exist_ok=True)
                    (root / relative).write_bytes(data)
                    db.execute(
                        "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (reflection_id, asset, relative, hashlib.sha256(data).hexdigest(),
                         len(data), utcnow()),
                    )  # fmt: skip
        db.execute("ANALYZE")


def timed(action: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median and 95th percentile of ``repeat`` runs, in ms (after one warm-up run)."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, round(len(times) * 0.95) - 1)]}  # fmt: skip


def get(app: Flask, path: str) -> Callable[[], Any]:
    client = app.test_client()

    def fetch() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        response.close()

    return fetch


def last_page(app: Flask) -> int:
    with app.app_context():
        tiles = service.perspective_tiles(get_db(), 1)
    count = next(t.count for t in tiles if t.slug == DEEP_PERSPECTIVE)
    return max(1, -(-count // service.PAGE_SIZE))


def run(reflections: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-archive-") as temp:
        folder = Path(temp)
        full, empty = build_app(folder / "full"), build_app(folder / "empty")
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
            ours = timed(get(full, path), repeat)
            base = timed(get(empty, baseline_path), repeat)
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
        "machine": {
            "nproc": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "os": platform.platform(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
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
