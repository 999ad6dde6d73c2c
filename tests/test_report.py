"""The record of the day (record/report.py): the PDF read back with pypdf, its CSV and JSON,
`voxpop report`, and the studio downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from pypdf import PdfReader

from tests.archivedata import add_archived, query
from tests.conftest import csrf_from, run_queued
from tests.recordday import PUBLISHED_QUOTES, a_day_of_voices
from voxpop import models
from voxpop.cli import main
from voxpop.db import get_db
from voxpop.record import report

NEVER_PUBLISHED = ("HIDDEN", "WITHDRAWN", "OFFLINE", "WAITING", "DRAFT", "Bethan", "Carys")
MARKER = "internal — not for circulation"


def record_of(app: Flask, lang: str = "en", **kwargs: Any) -> report.Record:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        return report.build_record(db, event, lang, environ={}, **kwargs)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, whitespace folded (lines wrap anywhere in a quote)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def test_the_published_record_holds_exactly_what_may_be_published(app: Flask) -> None:
    ids = a_day_of_voices(app)
    record = record_of(app)
    assert {entry.id for entry in record.entries} == {
        ids[key] for key in ("aled", "bethan", "video", "volunteer", "audio", "welsh")
    }
    names = {entry.id: entry.name for entry in record.entries}
    assert names[ids["aled"]] == "Aled" and names[ids["bethan"]] is None

    text = " ".join(pages_text(report.pdf_bytes(record)))
    for quote in PUBLISHED_QUOTES.values():
        assert quote in text
    for never in NEVER_PUBLISHED:
        assert never not in text
    assert MARKER not in text
    assert "Aled" in text
    assert "Whose Shoes? test day" in text and "Parc Eirias, Colwyn Bay" in text
    assert "23 November 2026" in text
    assert "How consent was handled" in text
    # Nobody from these perspectives is in the published record: missing voices.
    assert "Missing voices" in text and "Manager or leader" in text
    # A question's own gaps are named as such, not as "missing voices" (that page can say
    # every perspective is heard while a question lacks some).
    assert "Not heard on this question:" in text and "Missing voices:" not in text


def page_text(html: str) -> str:
    """The words of an HTML fragment, tags dropped and whitespace folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" .", ".")


def cover_and_consent(html: str) -> tuple[str, str]:
    """The words of the report's cover, and of its consent section."""
    cover = html.split('<div class="cover">', 1)[1].split("<section>", 1)[0]
    consent = html.split("How consent was handled", 1)[1]
    return page_text(cover), page_text(consent)


def test_the_cover_says_what_it_counts_and_why_the_archive_holds_more(app: Flask) -> None:
    """Found by a walk-through: three reflections kept in the archive, one of them a video whose
    captions no person has checked. The cover counts two; it must say that the archive holds
    three and why the third is not in the report, and the consent section what it counts."""
    add_archived(app, "text", text="Listening changed my mind.")
    add_archived(app, "video", words="We need honest waiting lists.")
    add_archived(app, "video", captions="draft", words="DRAFT machine guess")
    record = record_of(app)
    cover, consent = cover_and_consent(report.render_html(record))
    assert "2 reflections · 8 perspectives" in cover
    assert "In this report: 2 of the 3 reflections kept in the archive of the day." in cover
    assert "Not in this report: 1 recording whose captions a person has not checked yet" in cover
    assert (
        "These figures count all 3 reflections kept in the archive of the day, whether or not"
        " they are in this report. The first page says how many are in this report, and why"
        " the others are not." in consent
    )
    assert "Kept in the archive of the day 3" in consent
    assert "DRAFT" not in cover + consent
    assert record.coverage == report.Coverage(kept=3, in_report=2, not_in_report=(("captions", 1),))
    assert record.consent.given == record.coverage.kept
    assert len(record.entries) == record.coverage.in_report

    # The Welsh report says the same through its catalogue (the words are the translators').
    welsh = report.render_html(record_of(app, "cy"))
    assert '<li data-reason="captions">' in welsh
    assert welsh.count('id="coverage"') == 1 and "consent-scope" in welsh

    document = json.loads(report.record_json(record))
    assert document["coverage"] == {
        "kept_in_archive": 3,
        "in_report": 2,
        "not_in_report": {"captions": 1},
    }


@pytest.mark.parametrize(
    ("internal", "retired", "in_report", "not_in_report"),
    [
        (False, False, 6, (("not_online", 1), ("hidden", 1), ("waiting", 1), ("captions", 2))),
        (True, False, 11, ()),
        # A retired perspective: its reflections are in neither report, and say so.
        (False, True, 6, (("retired", 2), ("hidden", 1), ("captions", 2))),
        (True, True, 9, (("retired", 2),)),
    ],
)
def test_every_reflection_kept_is_in_the_report_or_has_its_reason(
    app: Flask,
    internal: bool,
    retired: bool,
    in_report: int,
    not_in_report: tuple[tuple[str, int], ...],
) -> None:
    a_day_of_voices(app)  # twelve reflections, one of them withdrawn
    if retired:  # the manager's two: one not agreed for online publication, one waiting
        with app.app_context():
            get_db().execute("UPDATE perspective SET retired_at = '2026-11-23' WHERE slug = ?",
                             ("manager",))  # fmt: skip
    record = record_of(app, internal=internal)
    assert record.coverage == report.Coverage(11, in_report, not_in_report)
    assert record.consent.given == 11 == in_report + sum(num for _, num in not_in_report)
    assert len(record.entries) == in_report

    cover, consent = cover_and_consent(report.render_html(record))
    assert f"{in_report} reflections · {7 if retired else 8} perspectives" in cover
    assert "These figures count all 11 reflections kept in the archive of the day" in consent
    if not_in_report:
        assert f"In this report: {in_report} of the 11 reflections kept" in cover
        if retired:
            assert "2 reflections whose perspective was retired" in cover
        assert "The first page says how many are in this report" in consent
    else:
        assert "In this report: all 11 reflections kept in the archive of the day." in cover
        assert "Not in this report" not in cover and "The first page says" not in consent


def test_the_internal_record_marks_every_page(app: Flask) -> None:
    ids = a_day_of_voices(app)
    record = record_of(app, internal=True)
    kept = {entry.id for entry in record.entries}
    assert ids["withdrawn"] not in kept
    assert {ids["hidden"], ids["offline"], ids["waiting"], ids["silent"]} <= kept
    pages = pages_text(report.pdf_bytes(record))
    assert len(pages) >= 4
    for page in pages:
        assert MARKER.upper() in page.upper()
    text = " ".join(pages)
    assert "OFFLINE budget talk" in text and "Not for online publication" in text
    assert "WITHDRAWN" not in text and "DRAFT" not in text
    assert "Carys" in text  # she agreed to show her name
    assert "Bethan" not in text  # she did not


def test_qr_codes_link_to_the_published_archive_when_publishing_is_configured(
    app: Flask,
) -> None:
    ids = a_day_of_voices(app)
    assert all(entry.archive_url is None for entry in record_of(app).entries)
    with app.app_context():
        event = models.current_event(get_db())
        assert event is not None
        record = report.build_record(
            get_db(), event, "cy",
            environ={"VOXPOP_S3_BUCKET": "archive", "AWS_ENDPOINT_URL_S3": "https://s3.example.org",
                     "VOXPOP_S3_PREFIX": "day"},
        )  # fmt: skip
    urls = {entry.id: entry.archive_url for entry in record.entries}
    # Welsh is the event's second language: its pages are under cy/.
    assert urls[ids["aled"]] == (
        f"https://s3.example.org/archive/day/cy/perspective-community-member.html"
        f"#reflection-{ids['aled']}"
    )
    html = report.render_html(record)
    # A QR code beside each quote.
    assert html.count('class="qr" src="data:image/png;base64,') == len(record.entries)


@pytest.mark.parametrize(
    ("settings", "base"),
    [
        ({}, None),
        ({"bucket": "b", "prefix": "p/q", "region": "eu-west-2"},
         "https://b.s3.eu-west-2.amazonaws.com/p/q/"),
        ({"bucket": "b", "endpoint_url": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000/b/"),
        # A website or CDN in front of the bucket wins, and is a folder ("/" added).
        ({"bucket": "b", "endpoint_url": "http://127.0.0.1:9000/",
          "public_url": "https://archive.example.org/whose-shoes"},
         "https://archive.example.org/whose-shoes/"),
        # ...also with no bucket: the organisers put the export up themselves.
        ({"public_url": "https://archive.example.org/"}, "https://archive.example.org/"),
    ],
)  # fmt: skip
def test_archive_base_urls(settings: dict[str, str], base: str | None) -> None:
    from voxpop.publishing.publish import S3Settings, archive_base_url

    assert archive_base_url(S3Settings(**settings)) == base


def save_publish_settings(app: Flask, **values: str) -> None:
    from voxpop.publishing import publish

    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        publish.save_settings(db, event.id, values, actor=None)


def test_qr_codes_open_the_public_address_when_one_is_set(app: Flask) -> None:
    ids = a_day_of_voices(app)
    s3 = {"bucket": "archive", "prefix": "day", "endpoint_url": "https://s3.example.org"}
    save_publish_settings(app, **s3, public_url="https://archive.example.org/whose-shoes")
    record = record_of(app, "cy")
    assert record.archive_base == "https://archive.example.org/whose-shoes/"
    assert record.entries and all(
        entry.archive_url and entry.archive_url.startswith(record.archive_base)
        for entry in record.entries
    )
    urls = {entry.id: entry.archive_url for entry in record.entries}
    assert urls[ids["aled"]] == (
        "https://archive.example.org/whose-shoes/cy/perspective-community-member.html"
        f"#reflection-{ids['aled']}"
    )
    html = report.render_html(record)
    assert "https://archive.example.org/whose-shoes/" in html
    assert "s3.example.org" not in html
    # The public address emptied again: back to the bucket's own address.
    save_publish_settings(app, **s3, public_url="")
    record = record_of(app, "cy")
    assert record.archive_base == "https://s3.example.org/archive/day/"
    assert all(
        entry.archive_url and entry.archive_url.startswith("https://s3.example.org/archive/day/cy/")
        for entry in record.entries
    )


def test_the_environment_can_set_the_public_address(app: Flask) -> None:
    a_day_of_voices(app)
    save_publish_settings(app, bucket="archive", public_url="https://studio.example.org/")
    with app.app_context():
        event = models.current_event(get_db())
        assert event is not None
        record = report.build_record(
            get_db(), event, "en", environ={"VOXPOP_ARCHIVE_URL": "https://cdn.example.org/day"}
        )
    assert record.archive_base == "https://cdn.example.org/day/"
    assert all(str(entry.archive_url).startswith("https://cdn.example.org/day/perspective-")
               for entry in record.entries)  # fmt: skip


def test_the_report_in_welsh(app: Flask) -> None:
    a_day_of_voices(app)
    text = " ".join(pages_text(report.pdf_bytes(record_of(app, "cy", internal=True))))
    assert "COFNOD Y DIWRNOD" in text.upper()
    assert "MEWNOL" in text.upper()
    assert "Beth fyddwch chi'n ei gymryd gyda chi o heddiw?" in text.replace("’", "'")


def test_no_network_while_rendering(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    fetcher = report._local_fetcher()
    with pytest.raises(ValueError, match="disallowed protocol"):
        fetcher("https://example.org/font.woff2")
    assert fetcher((report.FONTS / "DejaVuSans.ttf").as_uri()).url.startswith("file:")


def test_csv_and_json_carry_the_same_reflections(app: Flask) -> None:
    ids = a_day_of_voices(app)
    record = record_of(app)
    data = report.record_csv(record)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [int(row["reflection_id"]) for row in rows] == [e.id for e in record.entries]
    by_id = {int(row["reflection_id"]): row for row in rows}
    assert by_id[ids["aled"]]["first_name"] == "Aled"
    assert by_id[ids["bethan"]]["first_name"] == ""
    assert by_id[ids["video"]]["words"] == PUBLISHED_QUOTES["video"]
    assert by_id[ids["audio"]]["perspective"] == "Front-line staff"

    document = json.loads(report.record_json(record))
    assert document["internal"] is False
    assert [r["reflection_id"] for r in document["reflections"]] == [e.id for e in record.entries]
    counts = {p["slug"]: p["counts"] for p in document["perspectives"]}
    assert counts["community-member"] == {"video": 1, "audio": 0, "text": 3}
    assert {"prompt_id": document["prompts"][0]["id"], "perspective": "manager"} in (
        document["missing_voices"]
    )
    assert document["consent"]["withdrawn"] == 1
    assert document["consent"]["room"] == record.consent.room
    text = json.dumps(document)
    for never in NEVER_PUBLISHED:
        assert never not in text


def test_the_consent_section_counts_every_purpose_asked(app: Flask) -> None:
    """The room (the live wall) is a purpose the kiosk asks: its count and wording are there."""
    from tests.archivedata import add_archived

    add_archived(app, "text", text="Fine on the big screen.", room=1)
    add_archived(app, "text", text="Not on the big screen.", room=0)
    record = record_of(app)
    assert record.consent.room == 1
    _cover, consent = cover_and_consent(report.render_html(record))
    assert "Agreed to be shown on the screen in the room 1" in consent
    assert "It may be shown on the big screen in the room during the event." in consent


def test_a_spreadsheet_never_runs_a_quote_as_a_formula(app: Flask) -> None:
    from tests.archivedata import add_archived

    add_archived(app, "text", text='=HYPERLINK("http://x")')
    rows = list(csv.reader(io.StringIO(report.record_csv(record_of(app)).decode("utf-8-sig"))))
    assert rows[1][6].startswith("'=")


def test_voxpop_report_command(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_day_of_voices(app)
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    runner = CliRunner()
    out = tmp_path / "record.pdf"
    result = runner.invoke(main, ["report", "--internal", str(out)])
    assert result.exit_code == 0, result.output
    assert all(MARKER.upper() in page.upper() for page in pages_text(out.read_bytes()))
    as_json = tmp_path / "record.json"
    result = runner.invoke(main, ["report", "--lang", "cy", str(as_json)])
    assert result.exit_code == 0, result.output
    assert json.loads(as_json.read_text(encoding="utf-8"))["language"] == "cy"
    result = runner.invoke(main, ["report", "--lang", "fr", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "no report in 'fr'" in result.output


def test_studio_downloads_for_organisers_only(app: Flask, client: Any, auth: Any) -> None:
    a_day_of_voices(app)
    assert client.post("/studio/export/record.pdf").status_code in (302, 303, 400)
    auth.login("facilitator", name="fac")
    page = client.get("/studio/")
    assert client.post("/studio/export/record.csv",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 403  # fmt: skip
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    auth.login("organiser")
    page = client.get("/studio/export")
    assert "record.pdf" in page.text
    token = csrf_from(page.text)
    assert client.post("/studio/export/record.pdf", data={}).status_code == 400  # no CSRF token
    # The PDF is made by a job (tests/test_report_jobs.py): asking for it lands on the list.
    asked = client.post("/studio/export/record.pdf", data={"csrf_token": token, "language": "cy"})
    assert asked.status_code == 303
    assert asked.headers["Location"].endswith("/studio/export?language=cy#reports")
    assert [kind for kind, _target, _outcome in run_queued(app)] == ["record_report"]
    listed = client.get("/studio/export/reports").get_json()
    assert listed["active"] is False
    (link,) = re.findall(r'href="(/studio/export/reports/\d+\.pdf)"', listed["html"])
    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        "attachment; filename=whose-shoes-test-day-2026-11-23-record-cy.pdf"
    )
    assert "COFNOD Y DIWRNOD" in " ".join(pages_text(pdf.data)).upper()
    internal = client.post(
        "/studio/export/record.json", data={"csrf_token": token, "internal": "1"}
    )
    assert json.loads(internal.data)["internal"] is True
    assert client.post("/studio/export/record.xml", data={"csrf_token": token}).status_code == 404
    assert query(app, "SELECT COUNT(*) AS n FROM reflection")[0]["n"] == 12  # nothing changed
    assert re.search(r"record-internal-en\.json", internal.headers["Content-Disposition"])


def test_making_a_pdf_leaves_pillow_refusing_cut_off_images() -> None:
    """WeasyPrint turns on Pillow's process-wide "accept cut-off images" when first imported
    (checked here in a fresh interpreter, so the test sees the first import); the report's
    import puts it back, so the server's image door keeps refusing damaged uploads."""
    probe = (
        "from PIL import ImageFile\n"
        "import sys\n"
        "if sys.argv[1] == 'plain':\n"
        "    import weasyprint\n"
        "else:\n"
        "    from voxpop.record.report import _weasyprint\n"
        "    _weasyprint()\n"
        "print(ImageFile.LOAD_TRUNCATED_IMAGES)\n"
    )
    found = {
        how: subprocess.run([sys.executable, "-c", probe, how], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parent.parent).stdout.strip()
        for how in ("plain", "report")
    }  # fmt: skip
    assert found == {"plain": "True", "report": "False"}
