"""A real `voxpop serve` answers a burst: 200 kiosk posts at the same moment, none reset.

Not timed (bench/burst.py measures); it checks that every post gets an answer and that each
reflection is stored exactly once. With cheroot's default accept backlog of 5, dozens of these
connections were reset.
"""

from __future__ import annotations

import collections
import threading
import uuid
from pathlib import Path

import requests

from tests.serveprocess import ServeProcess
from voxpop import create_app, models
from voxpop.db import get_db

POSTS = 200
KIOSKS = 20


def test_200_simultaneous_posts_all_get_an_answer_and_are_stored_once(tmp_path: Path) -> None:
    server = ServeProcess.demo(tmp_path)
    app = create_app({"INSTANCE": str(server.instance), "UPLOADS": str(server.uploads)})
    with app.app_context():
        db = get_db()
        tokens = [models.create_kiosk(db, f"Kiosk {n}").api_token for n in range(KIOSKS)]
        event = models.current_event(db)
        fields = {
            "perspective": "volunteer",
            "prompt": str(models.prompts(db, event.id)[0].id),
            "kind": "text",
            "consent": "archive",
            "consent_version": models.current_consent_text(db, event.id).sha256,
            "lang": "en",
            "text": "We planned the day with the people it was for.",
        }
    client_ids = [str(uuid.uuid4()) for _ in range(POSTS)]
    answers: dict[str, object] = {}
    start = threading.Barrier(POSTS)

    def post(index: int) -> None:
        form = fields | {"client_id": client_ids[index]}
        start.wait()
        try:
            answer = requests.post(
                f"{server.base}/kiosk/api/reflections",
                files=[(key, (None, value)) for key, value in form.items()],
                headers={
                    "Authorization": f"Bearer {tokens[index % KIOSKS]}",
                    "Connection": "close",
                },  # fmt: skip
                timeout=120,
            )
            answers[client_ids[index]] = answer.status_code
        except requests.ConnectionError as error:
            answers[client_ids[index]] = f"connection error: {error}"

    server.start()
    try:
        threads = [threading.Thread(target=post, args=(i,)) for i in range(POSTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    problems = {cid: answer for cid, answer in answers.items() if answer != 201}
    assert problems == {}, f"{len(problems)} of {POSTS}: {list(problems.values())[:3]}"
    stored = collections.Counter(row["client_id"] for row in server.reflections())
    assert stored == dict.fromkeys(client_ids, 1)
