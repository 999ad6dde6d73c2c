"""The record of the day's PDF made by a background job (record/reports.py): progress page by
page, one file per language and kind, withdrawals deleting reports that may quote the
withdrawn reflection, and the export page's list. The PDFs are real (WeasyPrint), read back
with pypdf; the jobs run in this process as a worker would (tests.conftest.run_queued)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader

from tests.archivedata import query
from tests.conftest import csrf_from, run_queued
from tests.recordday import PUBLISHED_QUOTES, a_day_of_voices
from voxpop import jobs, models
from voxpop.db import get_db
from voxpop.record import report
from voxpop.reflection import withdrawal


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def instance(app: Flask) -> Path:
    return Path(app.extensions["voxpop"].queue.instance)


def withdraw(app: Flask, reflection_id: int) -> None:
    with app.app_context():
        extension = app.extensions["voxpop"]
        withdrawal.withdraw(get_db(), extension.queue, extension.store, reflection_id)


def ask(client: Any, **form: str) -> Any:
    token = csrf_from(client.get("/studio/export").text)
    return client.post("/studio/export/record.pdf", data={"csrf_token": token, **form})


def listed(client: Any) -> dict[str, Any]:
    response = client.get("/studio/export/reports")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data: dict[str, Any] = response.get_json()
    return data


def links(html: str) -> list[str]:
    return re.findall(r'href="(/studio/export/reports/\d+\.pdf)"', html)


def test_progress_goes_page_by_page_and_ends_at_the_page_count(app: Flask) -> None:
    a_day_of_voices(app)
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        record = report.build_record(db, event, "en", internal=True, environ={})
    heard: list[tuple[str, float, int]] = []
    buffer = io.BytesIO()
    pages = report.write_pdf(record, buffer, on_progress=lambda *step: heard.append(step))
    assert pages == len(PdfReader(io.BytesIO(buffer.getvalue())).pages) > 1
    stages = [stage for stage, _fraction, _pages in heard]
    assert stages[0] == "reading" and stages[-1] == "done"
    # In order: reading, layout (page by page), writing, done; and never backwards.
    order = ["reading", "layout", "writing", "done"]
    assert [order.index(stage) for stage in stages] == sorted(order.index(s) for s in stages)
    fractions = [fraction for _stage, fraction, _pages in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] < 0.2
    laid_out = [count for stage, _fraction, count in heard if stage == "layout"]
    assert laid_out[0] == 1 and laid_out[-1] == pages
    assert heard[-1] == ("done", 1.0, pages)


def test_an_organiser_asks_once_and_downloads_the_made_report(
    app: Flask, client: Any, auth: Any
) -> None:
    a_day_of_voices(app)
    auth.login("organiser")
    first = ask(client, language="en")
    assert first.status_code == 303
    again = ask(client, language="en")  # a second click while it waits: the same report
    assert again.status_code == 303
    assert query(app, "SELECT COUNT(*) AS n FROM record_report")[0]["n"] == 1
    waiting = listed(client)
    assert waiting["active"] is True
    assert 'data-state="making"' in waiting["html"] and "Waiting to start" in waiting["html"]
    assert links(waiting["html"]) == []
    # The export page shows the same list, and follows it with export.js.
    page = client.get("/studio/export").text
    assert 'data-state="making"' in page and "js/export.js" in page

    assert run_queued(app) == [("record_report", 1, "done")]
    done = listed(client)
    assert done["active"] is False
    (link,) = links(done["html"])
    (row,) = query(app, "SELECT * FROM record_report")
    assert row["stage"] == "done" and row["pages"] > 1 and row["expected_pages"] >= 4
    assert row["file"] == f"reports/{row['id']}.pdf"
    assert (instance(app) / row["file"]).stat().st_size == row["size"]
    assert not list((instance(app) / "reports").glob("*.partial"))
    assert f"{row['pages']} pages" in done["html"]
    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.headers["Cache-Control"] == "no-store"
    assert PUBLISHED_QUOTES["aled"][:30] in text_of(pdf.data)
    # Who asked for it is in the audit log.
    audit = query(app, "SELECT user_name, action FROM audit_log WHERE action LIKE 'report.%'")
    assert [(a["user_name"], a["action"]) for a in audit] == [("organiser-user", "report.request")]


def test_a_new_report_replaces_the_old_one_of_its_language_and_kind(
    app: Flask, client: Any, auth: Any
) -> None:
    a_day_of_voices(app)
    auth.login("organiser")
    ask(client, language="en")
    ask(client, language="en", internal="1")
    run_queued(app)
    (old_public, internal) = links(listed(client)["html"])
    ask(client, language="en")
    run_queued(app)
    (new_public, still_internal) = links(listed(client)["html"])
    assert still_internal == internal and new_public != old_public
    assert client.get(old_public).status_code == 404
    files = sorted(path.name for path in (instance(app) / "reports").iterdir())
    assert files == sorted(Path(link).name for link in (new_public, internal))
    assert "INTERNAL" in text_of(client.get(internal).data).upper()


def test_a_withdrawal_deletes_the_reports_that_may_quote_it(
    app: Flask, client: Any, auth: Any
) -> None:
    ids = a_day_of_voices(app)
    auth.login("organiser")
    ask(client, language="en")
    run_queued(app)
    (link,) = links(listed(client)["html"])
    assert PUBLISHED_QUOTES["aled"][:30] in text_of(client.get(link).data)

    withdraw(app, ids["aled"])
    assert client.get(link).status_code == 404  # at once, before the withdrawal job runs
    after = listed(client)["html"]
    assert links(after) == [] and "a reflection was withdrawn" in after
    run_queued(app)  # the withdrawal job deletes the file
    assert list((instance(app) / "reports").iterdir()) == []

    ask(client, language="en")
    run_queued(app)
    (fresh,) = links(listed(client)["html"])
    text = text_of(client.get(fresh).data)
    assert PUBLISHED_QUOTES["aled"][:30] not in text
    assert PUBLISHED_QUOTES["volunteer"][:30] in text


def test_a_withdrawal_while_the_report_is_made_makes_it_again(
    app: Flask, client: Any, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The withdrawal lands between the report's gathering and its end (the race, arranged
    by running the real withdrawal from inside the real write)."""
    ids = a_day_of_voices(app)
    auth.login("organiser")
    ask(client, language="en")
    real_write = report.write_pdf
    withdrawn: list[int] = []

    def write_then_withdraw(record: report.Record, target: Any, **kwargs: Any) -> int:
        pages = real_write(record, target, **kwargs)
        if not withdrawn:
            withdraw(app, ids["aled"])
            withdrawn.append(ids["aled"])
        return pages

    monkeypatch.setattr(report, "write_pdf", write_then_withdraw)
    outcomes = [outcome for kind, _t, outcome in run_queued(app) if kind == "record_report"]
    assert outcomes == ["retrying", "done"]
    (link,) = links(listed(client)["html"])
    assert PUBLISHED_QUOTES["aled"][:30] not in text_of(client.get(link).data)


def test_delete_and_an_interrupted_report(app: Flask, client: Any, auth: Any) -> None:
    a_day_of_voices(app)
    auth.login("organiser")
    ask(client, language="cy", internal="1")
    (row,) = query(app, "SELECT id FROM record_report")
    token = csrf_from(client.get("/studio/export").text)
    # Not while it is being made.
    refused = client.post(f"/studio/export/reports/{row['id']}/delete",
                          data={"csrf_token": token}, follow_redirects=True)  # fmt: skip
    assert "still being made" in refused.text
    # A worker killed mid-report: the job goes back in the queue and starts again.
    with app.app_context():
        db = get_db()
        db.execute("UPDATE job SET status = 'running' WHERE kind = 'record_report'")
        db.execute("UPDATE record_report SET stage = 'layout', pages = 7")
    jobs.recover(app.extensions["voxpop"].queue)
    assert query(app, "SELECT stage, pages FROM record_report")[0] == {"stage": "queued",
                                                                       "pages": None}  # fmt: skip
    run_queued(app)
    (link,) = links(listed(client)["html"])
    assert "Cymraeg · internal" in listed(client)["html"]
    deleted = client.post(f"/studio/export/reports/{row['id']}/delete",
                          data={"csrf_token": token}, follow_redirects=True)  # fmt: skip
    assert "was deleted from this laptop" in deleted.text
    assert client.get(link).status_code == 404
    assert list((instance(app) / "reports").iterdir()) == []
    assert query(app, "SELECT COUNT(*) AS n FROM record_report")[0]["n"] == 0
    assert client.post(f"/studio/export/reports/{row['id']}/delete",
                       data={"csrf_token": token}).status_code == 404  # fmt: skip


def test_reports_belong_to_organisers(app: Flask, client: Any, auth: Any) -> None:
    a_day_of_voices(app)
    auth.login("organiser")
    ask(client, language="en", internal="1")
    run_queued(app)
    (link,) = links(listed(client)["html"])
    token = csrf_from(client.get("/studio/").text)
    client.post("/logout", data={"csrf_token": token})
    auth.login("facilitator", name="fac")
    assert client.get(link).status_code == 403
    assert client.get("/studio/export/reports").status_code == 403
    audit = query(app, "SELECT action FROM audit_log WHERE action LIKE 'report.%'")
    assert [a["action"] for a in audit] == ["report.internal"]
