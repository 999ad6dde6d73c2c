"""The audit log as people read it (issue 17 item 2): sentences in the reader's language, never
internal codes; filters by person, item and kind of change; the same as CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.archivedata import add_archived
from tests.conftest import Auth, csrf_from

pytestmark = pytest.mark.python_only

CODES = re.compile(r"reflection\.\w+|review_state|\btrue\b|\bfalse\b|captions_required")


def visible_text(html: str) -> str:
    body = html.split("<main", 1)[1]
    return re.sub(r"<[^>]+>", " ", body)


def act(client: FlaskClient, page: str, action: str, **data: str) -> None:
    html = client.get(page).text
    answer = client.post(action, data={"csrf_token": csrf_from(html), **data})
    assert answer.status_code in (200, 302, 303), answer.text


def test_entries_read_as_sentences_and_filter_by_person_and_item(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", perspective="volunteer", review="waiting")
    text = add_archived(app, "text", perspective="manager", review="waiting")
    siân = app.test_client()
    Auth(app, siân).login("facilitator", name="Siân")
    act(siân, f"/review/{video}", f"/review/{video}/state", state="approved")
    act(siân, f"/review/{video}", f"/review/{video}/star", starred="1")
    act(siân, f"/review/{text}", f"/review/{text}/state", state="hidden")
    auth.login("organiser", name="Aled")
    act(client, "/studio/publish", "/studio/captions-gate", required="0", back="publish")

    page = client.get("/studio/audit").text
    shown = visible_text(page)
    assert f"Siân approved reflection {video} (Volunteer, video)." in shown
    assert f"Siân starred reflection {video} (Volunteer, video) for the reel." in shown
    assert f"Siân hid reflection {text} (Manager or leader, written)." in shown
    assert "Aled let recordings go online without checked captions." in shown
    assert not CODES.findall(shown), CODES.findall(shown)

    by_siân = visible_text(client.get("/studio/audit?who=Siân").text)
    assert "Siân approved" in by_siân and "Aled let" not in by_siân
    one = visible_text(client.get(f"/studio/audit?kind=reflection&target={text}").text)
    assert f"hid reflection {text}" in one and f"approved reflection {video}" not in one

    welsh = visible_text(client.get("/studio/audit?lang=cy").text)
    assert f"Cymeradwyodd Siân adlewyrchiad {video} (Gwirfoddolwr, fideo)." in welsh


def test_the_log_downloads_as_csv_with_the_same_sentences_and_no_formulas(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", review="waiting")
    mischief = app.test_client()
    Auth(app, mischief).login("facilitator", name="=HYPERLINK(1)")
    act(mischief, f"/review/{video}", f"/review/{video}/state", state="approved")
    auth.login("organiser")
    answer = client.get("/studio/audit.csv?kind=reflection")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["When (UTC)", "Who", "What happened"]
    (row,) = table[1:]
    assert row[1] == "'=HYPERLINK(1)"
    assert row[2] == f"'=HYPERLINK(1) approved reflection {video} (Volunteer, video)."
    assert row[6] == "reflection.review"


def test_only_organisers_read_the_log(app: Flask, client: FlaskClient, auth: Auth) -> None:
    auth.login("facilitator")
    assert client.get("/studio/audit").status_code == 403
    assert client.get("/studio/audit.csv").status_code == 403


def test_publishing_says_it_was_asked_for_and_has_a_filter_of_its_own(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    auth.login("organiser", name="Aled")
    act(client, "/studio/publish", "/studio/publish/settings", bucket="whose-shoes-archive")
    # The publish is only asked for here: it may wait for the connection, or fail.
    act(client, "/studio/publish", "/studio/publish/now")
    act(client, "/studio/export", "/studio/export/record.pdf", language="en")
    act(client, "/studio/publish", "/studio/captions-gate", required="0", back="publish")

    page = client.get("/studio/audit").text
    shown = visible_text(page)
    assert "Aled asked to publish the archive." in shown
    assert "published the archive" not in shown
    kinds = re.findall(r'<option value="(\w*)"[^>]*>([^<]*)</option>', page)
    assert ("publish", "Publishing") in kinds and ("report", "The record of the day") in kinds
    assert ("event", "Event settings") in kinds

    def sentences(query: str) -> list[str]:
        html = client.get(f"/studio/audit?{query}").text
        return re.findall(r'<span class="audit-sentence">([^<]*)</span>', html)

    assert sentences("kind=publish") == [
        "Aled asked to publish the archive.",
        "Aled changed where the archive is published.",
    ]
    assert sentences("kind=report") == ["Aled made the record of the day (PDF)."]
    assert sentences("kind=event") == ["Aled let recordings go online without checked captions."]
    # "Everything about it" stays within its kind of change.
    assert 'href="/studio/audit?kind=publish&amp;target=1"' in page
