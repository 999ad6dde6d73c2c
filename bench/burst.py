"""Burst benchmark: a venue's worth of kiosks hitting a real `voxpop serve` at the same moment.

Run from the repository root::

    .venv/bin/python bench/burst.py                       # 200 text posts, then 10 × 50 MB
    .venv/bin/python bench/burst.py --posts 400 --kiosks 20 --uploads 0

It makes a fresh instance in a temporary folder (``voxpop init --demo``), pairs ``--kiosks``
kiosks (each with its own bearer token), starts ``voxpop serve --no-worker`` as a subprocess in
its own process group, then:

1. **text burst**: ``--posts`` threads, released together by a barrier, each open a new
   connection and POST one text reflection (multipart, its own ``client_id``, its kiosk's
   bearer token). Reported: answers by status, connection resets (refused, reset or aborted
   connections), reflections stored, duplicates (a ``client_id`` stored twice, or a 201 whose
   reflection is missing), and the server's resident set size before and after.
2. **uploads**: ``--uploads`` clients each send a ``--upload-mb`` recording over tus at once
   (``bench/uploads.py``'s client), checked by sha256.

It asserts nothing: benchmarks report, tests check (``/work/shared/TESTING.md``).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import platform
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import uploads  # noqa: E402 - bench/uploads.py: server process, RSS and tus helpers
from voxpop import create_app, models  # noqa: E402
from voxpop.db import get_db  # noqa: E402

MB = uploads.MB


def make_kiosks(server: uploads.Server, count: int) -> list[str]:
    """Pair ``count`` kiosks on the server's instance; return their bearer tokens."""
    app = create_app(
        {"INSTANCE": server.env["VOXPOP_INSTANCE"], "UPLOADS": server.env["VOXPOP_UPLOADS"]}
    )
    with app.app_context():
        return [
            models.create_kiosk(get_db(), f"Burst kiosk {i + 1}").api_token for i in range(count)
        ]


def text_fields(db: Any) -> dict[str, str]:
    event_id = db.execute("SELECT id FROM event").fetchone()["id"]
    prompt = db.execute("SELECT id FROM prompt WHERE event_id = ?", (event_id,)).fetchone()
    consent = db.execute("SELECT sha256 FROM consent_text ORDER BY id DESC").fetchone()
    return {
        "perspective": "volunteer",
        "prompt": str(prompt["id"]),
        "kind": "text",
        "consent": "archive",
        "consent_version": consent["sha256"],
        "lang": "en",
        "text": "Being in someone else's shoes for a day changed how I plan.",
    }


def post_text(
    base: str,
    token: str,
    fields: dict[str, str],
    client_id: str,
    start: threading.Barrier,
    answers: list[Any],
) -> None:
    """One kiosk's text reflection on a fresh connection; records the status or the error."""
    start.wait()
    try:
        answer = requests.post(
            f"{base}/kiosk/api/reflections",
            # Multipart form fields (no file), as the kiosk sends a text reflection.
            files=[(k, (None, v)) for k, v in (fields | {"client_id": client_id}).items()],
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=120,
        )
        answers.append((client_id, answer.status_code, answer.text[:200]))
    except requests.ConnectionError as error:
        answers.append((client_id, "reset", str(error)[:200]))
    except Exception as error:  # noqa: BLE001 - a benchmark reports every failure
        answers.append((client_id, "error", repr(error)[:200]))


def text_burst(server: uploads.Server, tokens: list[str], posts: int) -> dict[str, Any]:
    assert server.process is not None
    pid = server.process.pid
    db = server.db()
    fields = text_fields(db)
    db.close()
    answers: list[Any] = []
    barrier = threading.Barrier(posts + 1)
    ids = [str(uuid.uuid4()) for _ in range(posts)]
    threads = [
        threading.Thread(
            target=post_text,
            args=(server.base, tokens[i % len(tokens)], fields, ids[i], barrier, answers),
        )
        for i in range(posts)
    ]
    for thread in threads:
        thread.start()
    before_kb = uploads.tree_rss_kb(pid)
    wall, peak_kb, _samples = uploads.run_together(pid, threads, barrier)
    after_kb = uploads.tree_rss_kb(pid)
    db = server.db()
    stored = collections.Counter(
        row["client_id"] for row in db.execute("SELECT client_id FROM reflection")
    )
    db.close()
    created = [a for a in answers if a[1] == 201]
    statuses = collections.Counter(str(a[1]) for a in answers)
    return {
        "posts": posts,
        "kiosks": len(tokens),
        "statuses": dict(statuses),
        "resets": statuses.get("reset", 0),
        "stored": sum(stored[i] for i in ids),
        "duplicates": sum(max(0, stored[i] - 1) for i in ids),
        "created_missing": sum(1 for a in created if stored[a[0]] != 1),
        "samples": [a for a in answers if a[1] != 201][:3],
        "wall_s": wall,
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": peak_kb / 1024,
        "rss_after_mb": after_kb / 1024,
    }


def upload_burst(
    server: uploads.Server, token: str, clients: int, size_mb: float, folder: Path
) -> dict[str, Any]:
    assert server.process is not None
    pid = server.process.pid
    size = int(size_mb * MB)
    inputs = folder / "inputs"
    inputs.mkdir()
    digests = {}
    for index in range(clients):
        path = inputs / f"kiosk-{index}.webm"
        digests[path.name] = uploads.make_recording(path, size)
    db = server.db()
    base = text_fields(db)
    db.close()
    results = [uploads.ClientResult(inputs / f"kiosk-{i}.webm") for i in range(clients)]
    barrier = threading.Barrier(clients + 1)
    threads = []
    for result in results:
        fields = {key: base[key] for key in ("perspective", "prompt", "consent", "consent_version")}
        fields |= {"kind": "video", "client_id": str(uuid.uuid4())}
        thread = threading.Thread(
            target=uploads.send, args=(server, token, fields, result, 2 * MB, barrier)
        )
        thread.start()
        threads.append(thread)
    before_kb = uploads.tree_rss_kb(pid)
    wall, peak_kb, _samples = uploads.run_together(pid, threads, barrier)
    after_kb = uploads.tree_rss_kb(pid)
    db = server.db()
    rows = {
        row["id"]: dict(row)
        for row in db.execute(
            "SELECT id, original_path, original_sha256 FROM reflection WHERE kind = 'video'"
        )
    }
    db.close()
    matched = 0
    for result in results:
        row = rows.get(result.reflection_id or -1)
        if row is None:
            continue
        on_disk = hashlib.sha256((folder / "uploads" / row["original_path"]).read_bytes())
        matched += row["original_sha256"] == on_disk.hexdigest() == digests[result.path.name]
    return {
        "clients": clients,
        "size_mb": size_mb,
        "stored": len(rows),
        "sha256_match": matched,
        "errors": sum(len(r.errors) for r in results),
        "resets": sum(r.resets for r in results),
        "samples": [e for r in results for e in r.errors][:3],
        "wall_s": wall,
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": peak_kb / 1024,
        "rss_after_mb": after_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=10, help="concurrent tus uploads (0: none)")
    parser.add_argument("--upload-mb", type=float, default=50)
    parser.add_argument("--work", type=Path, default=None, help="where the temporary folders go")
    args = parser.parse_args()
    work = args.work or Path(tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix="burst-", dir=work))
    print(
        f"# voxpop burst: {platform.node()}, Python {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
    )
    server = uploads.Server(folder, https=False, with_worker=False)
    try:
        first_token = server.start(int(args.upload_mb * MB))
        tokens = [first_token, *make_kiosks(server, args.kiosks - 1)]
        text = text_burst(server, tokens, args.posts)
        print(
            f"text burst: {text['posts']} posts from {text['kiosks']} kiosks in "
            f"{text['wall_s']:.1f} s; answers {text['statuses']}; resets {text['resets']}; "
            f"stored {text['stored']}, duplicates {text['duplicates']}, "
            f"201 without a row {text['created_missing']}; RSS {text['rss_before_mb']:.0f} → "
            f"peak {text['rss_peak_mb']:.0f} → after {text['rss_after_mb']:.0f} MB"
        )
        if text["samples"]:
            print(f"  e.g. {text['samples']}")
        if args.uploads:
            sent = upload_burst(server, first_token, args.uploads, args.upload_mb, folder)
            print(
                f"uploads: {sent['clients']} × {sent['size_mb']:g} MB in {sent['wall_s']:.1f} s;"
                f" stored {sent['stored']}, sha256 match {sent['sha256_match']}, errors "
                f"{sent['errors']}, resets {sent['resets']}; RSS {sent['rss_before_mb']:.0f} → "
                f"peak {sent['rss_peak_mb']:.0f} → after {sent['rss_after_mb']:.0f} MB"
            )
            if sent["samples"]:
                print(f"  e.g. {sent['samples']}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
