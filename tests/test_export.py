"""The static export (publishing/export.py), its zip, the consent log, and `voxpop export`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.archivedata import TRANSCRIPT, add_archived, add_reel, query
from tests.conftest import csrf_from
from voxpop.cli import main
from voxpop.db import get_db
from voxpop.publishing.export import (
    CONSENT_LOG_COLUMNS,
    ExportError,
    consent_log_csv,
    export_site,
    write_consent_log,
)

pytestmark = pytest.mark.python_only


def export(app: Flask, destination: Path) -> Any:
    with app.app_context():
        return export_site(get_db(), app.extensions["voxpop"].store, destination)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def a_day(app: Flask) -> dict[str, int]:
    """A mixed archive: public video, audio and text, one hidden, one offline, a reel."""
    ids = {
        "video": add_archived(app, transcript=TRANSCRIPT, trim=(0.5, 2.0)),
        "audio": add_archived(app, "audio", perspective="manager"),
        "text": add_archived(app, "text", perspective="manager", name="Siân", show_name=1),
        "unnamed": add_archived(app, "text", name="Bryn", show_name=0),
        "hidden": add_archived(app, review="hidden"),
        "offline": add_archived(app, online=0, name="Carys", show_name=1),
    }
    ids["reel"] = add_reel(app, clips=(ids["video"],))
    return ids


def ids_in_html(site: dict[str, bytes]) -> set[int]:
    found: set[int] = set()
    for path, data in site.items():
        if path.endswith(".html"):
            found |= {int(v) for v in re.findall(rb'data-reflection="(\d+)"', data)}
    return found


def test_export_holds_exactly_what_the_archive_shows(app, client, tmp_path) -> None:
    ids = a_day(app)

    summary = export(app, tmp_path / "site")
    site = tree(tmp_path / "site")

    public = {ids["video"], ids["audio"], ids["text"], ids["unnamed"]}
    served: set[int] = set()
    for slug in ("volunteer", "manager"):
        served |= {int(v) for v in re.findall(r'data-reflection="(\d+)"',
                                              client.get(f"/archive/p/{slug}").text)}  # fmt: skip
    assert served == public == ids_in_html(site)
    manifest = json.loads(site["manifest.json"])
    assert [r["id"] for r in manifest["reflections"]] == sorted(public)
    assert [r["id"] for r in manifest["reels"]] == [ids["reel"]]
    assert summary.items == 4 and summary.reels == 1
    assert summary.files == len(site) and summary.bytes == sum(map(len, site.values()))
    for hidden in ("hidden", "offline"):
        assert not any(f"/{ids[hidden]}/" in path for path in site)
    assert b"Carys" not in b"".join(site.values()) and b"Bryn" not in b"".join(site.values())
    assert "Siân" in site["perspective-manager.html"].decode()
    assert not any("consent" in path for path in site)


def test_export_has_pages_per_language_and_the_same_files(app, tmp_path) -> None:
    ids = a_day(app)

    export(app, tmp_path / "site")
    site = tree(tmp_path / "site")

    pages = {"index.html", "perspective-volunteer.html", "perspective-manager.html"}
    assert pages | {f"cy/{page}" for page in pages} <= set(site)
    assert "perspective-provider.html" not in site  # nothing public there
    assert b"Gwirfoddolwr" in site["cy/index.html"] and b'<html lang="cy">' in site["cy/index.html"]
    assert b'href="../index.html" lang="en"' in site["cy/index.html"]
    assert b'href="cy/perspective-volunteer.html" lang="cy"' in site["perspective-volunteer.html"]
    volunteer = site["cy/perspective-volunteer.html"].decode()
    assert f'src="../media/reflections/{ids["video"]}/video.mp4#t=0.5,2"' in volunteer
    # captions inline (a <track> file is refused from file://), and as a file too
    assert '<track kind="captions" src="data:text/vtt;charset=utf-8;base64,' in volunteer
    assert site[f"media/reflections/{ids['video']}/captions.vtt"].startswith(b"WEBVTT")
    assert 'href="../archive.css"' in volunteer
    stylesheet = Path(__file__).parent.parent / "static" / "css" / "archive.css"
    assert site["archive.css"] == stylesheet.read_bytes()


def test_every_link_is_relative_and_resolves_inside_the_site(app, tmp_path) -> None:
    a_day(app)
    for minute in range(30):
        add_archived(app, "text", perspective="provider", created_at=f"2026-11-23T11:{minute:02d}")
    root = tmp_path / "site"
    export(app, root)

    checked = 0
    for page in root.rglob("*.html"):
        for link in re.findall(r'(?:href|src)="([^"#][^"]*)"', page.read_text(encoding="utf-8")):
            if link.startswith("data:text/vtt;"):
                continue
            assert not re.match(r"^[a-z]+:|^/", link), (page, link)
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file() and target.is_relative_to(root.resolve()), (page, link)
            checked += 1
    assert checked > 100
    assert (root / "perspective-provider-2.html").is_file()
    assert (
        b'rel="prev" href="perspective-provider.html"'
        in (root / "perspective-provider-2.html").read_bytes()
    )


def test_manifest_describes_every_item_and_file_with_correct_hashes(app, tmp_path) -> None:
    ids = a_day(app)
    root = tmp_path / "site"
    export(app, root)

    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    (consent,) = query(app, "SELECT sha256 FROM consent_text")
    by_id = {record["id"]: record for record in manifest["reflections"]}
    video = by_id[ids["video"]]

    assert manifest["generator"] == "voxpop" and manifest["event"]["languages"] == ["en", "cy"]
    assert video["perspective"] == {"slug": "volunteer",
                                    "label": {"en": "Volunteer", "cy": "Gwirfoddolwr"}}  # fmt: skip
    assert video["prompt"]["en"] == "What are you taking away from today?"
    assert video["kind"] == "video" and video["duration"] == 3.0
    assert video["consent_sha256"] == consent["sha256"]
    assert video["trim"] == {"in": 0.5, "out": 2.0}
    assert {f["role"] for f in video["files"]} == {"mp4", "poster", "captions"}
    assert {f["role"] for f in by_id[ids["text"]]["files"]} == {"card"}
    assert by_id[ids["text"]]["name"] == "Siân" and "name" not in by_id[ids["unnamed"]]
    listed = [f for r in manifest["reflections"] + manifest["reels"] for f in r["files"]]
    listed += manifest["pages"]
    for file in listed:
        data = (root / file["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file["sha256"], file["path"]
        assert len(data) == file["bytes"]
    everything = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert everything == {f["path"] for f in listed} | {"manifest.json"}
    text = json.dumps(manifest)
    for private in ("receipt", "client_id", "kiosk", "given_at", "Bryn", "Carys"):
        assert private not in text


def test_export_is_deterministic_and_a_second_run_writes_nothing(app, tmp_path) -> None:
    a_day(app)

    first = export(app, tmp_path / "one")
    second = export(app, tmp_path / "two")
    again = export(app, tmp_path / "one")

    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert first.written == first.files and second.files == first.files
    assert again.written == 0 and again.removed == 0


def test_a_later_export_drops_what_is_no_longer_publishable(app, tmp_path) -> None:
    ids = a_day(app)
    root = tmp_path / "site"
    export(app, root)
    assert (root / f"media/reflections/{ids['audio']}/video.mp4").is_file()
    with app.app_context():
        db = get_db()
        db.execute("UPDATE reflection SET status = 'withdrawn' WHERE id = ?", (ids["audio"],))
        db.execute("UPDATE consent SET withdrawn_at = '2026-11-24' WHERE reflection_id = ?",
                   (ids["audio"],))  # fmt: skip
    (root / "stray.txt").write_text("left over")

    summary = export(app, root)

    assert not (root / f"media/reflections/{ids['audio']}").exists()
    assert not (root / "stray.txt").exists()
    assert summary.removed == 3  # the clip, its poster, the stray file
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert ids["audio"] not in [r["id"] for r in manifest["reflections"]]
    assert f"/{ids['audio']}/".encode() not in b"".join(tree(root).values())


def test_export_refuses_a_folder_that_is_not_an_earlier_export(app, tmp_path) -> None:
    a_day(app)
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.odt").write_text("precious")

    with pytest.raises(ExportError, match="not an earlier voxpop export"):
        export(app, tmp_path / "documents")
    assert (tmp_path / "documents" / "thesis.odt").read_text() == "precious"


def test_export_refuses_media_that_changed_on_disk(app, tmp_path) -> None:
    reflection_id = add_archived(app)
    store = app.extensions["voxpop"].store
    (store.root / f"derived/{reflection_id}/delivery.mp4").write_bytes(b"tampered")

    with pytest.raises(ExportError, match="changed on disk"):
        export(app, tmp_path / "site")


def test_consent_log_keeps_every_reflection_and_withdrawals_but_no_words(app, tmp_path) -> None:
    ids = a_day(app)
    withdrawn = add_archived(app, withdrawn=True, name="Dafydd", show_name=1)
    path = tmp_path / "consent-log.csv"

    with app.app_context():
        count = write_consent_log(get_db(), path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))

    # No receipt codes: a code withdraws a reflection (tests/test_receipt_codes.py).
    assert tuple(rows[0]) == CONSENT_LOG_COLUMNS == (
        "reflection_id", "consent_version", "consent_sha256", "purposes",
        "given_at", "withdrawn_at", "kiosk",
    )  # fmt: skip
    assert count == len(rows) == len(ids) - 1 + 1  # every reflection (not the reel), withdrawn too
    by_id = {int(row["reflection_id"]): row for row in rows}
    assert by_id[withdrawn]["withdrawn_at"] and by_id[ids["video"]]["withdrawn_at"] == ""
    assert by_id[ids["text"]]["purposes"] == "archive reel online name"
    assert by_id[ids["offline"]]["purposes"] == "archive reel name"
    (receipt,) = query(app, "SELECT receipt_code FROM reflection WHERE id = ?", withdrawn)
    text = path.read_text(encoding="utf-8")
    assert "Dafydd" not in text and "Listening" not in text
    assert receipt["receipt_code"] not in text


def test_consent_log_cells_cannot_become_spreadsheet_formulas(app, kiosk) -> None:
    response = kiosk.post(kiosk.form())
    assert response.status_code in (200, 201), response.text
    with app.app_context():
        get_db().execute("UPDATE kiosk SET name = '=HYPERLINK(\"http://x\")'")
        data = consent_log_csv(get_db()).decode()
    assert ",'=HYPERLINK" in data.replace('"', "")


def test_zip_download_is_for_organisers_only(app, client, auth) -> None:
    page_as_anonymous = client.get("/studio/export")
    assert page_as_anonymous.status_code == 302 and "/login" in page_as_anonymous.location
    auth.login("facilitator")
    assert client.get("/studio/export").status_code == 403
    token = csrf_from(client.get("/review/").text)
    assert client.post("/studio/export/archive.zip", data={"csrf_token": token}).status_code == 403
    assert client.post("/studio/export/consent-log.csv",
                       data={"csrf_token": token}).status_code == 403  # fmt: skip


def test_zip_download_holds_the_same_site_as_the_export(app, client, auth, tmp_path) -> None:
    a_day(app)
    export(app, tmp_path / "site")
    auth.login("organiser")
    page = client.get("/studio/export")
    assert "Download archive (zip)" in page.text and "4 reflections" in page.text

    assert client.post("/studio/export/archive.zip").status_code == 400  # no CSRF token
    assert client.get("/studio/export/archive.zip").status_code == 405
    response = client.post("/studio/export/archive.zip", data={"csrf_token": csrf_from(page.text)})

    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Length"] == str(len(response.data))
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        zipped = {name.removeprefix("archive/"): archive.read(name) for name in archive.namelist()}
    assert zipped == tree(tmp_path / "site")


def test_consent_log_download(app, client, auth) -> None:
    ids = a_day(app)
    auth.login("organiser")
    page = client.get("/studio/export")

    response = client.post("/studio/export/consent-log.csv",
                           data={"csrf_token": csrf_from(page.text)})  # fmt: skip

    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(row["reflection_id"]) for row in rows} == {v for k, v in ids.items() if k != "reel"}


@pytest.fixture
def cli(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `voxpop …` against the app's instance and uploads folders."""
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    return lambda *args: CliRunner().invoke(main, list(args))


def test_cli_export_writes_the_site_and_the_consent_log_beside_it(app, cli, tmp_path) -> None:
    a_day(app)
    site = tmp_path / "out" / "site"

    result = cli("export", str(site))

    assert result.exit_code == 0, result.output
    assert "Exported 4 reflection(s) and 1 reel(s)" in result.output
    assert (site / "index.html").is_file() and (site / "manifest.json").is_file()
    log = tmp_path / "out" / "site-consent-log.csv"
    assert log.is_file() and str(log) in result.output
    assert not list(site.rglob("*.csv"))


def test_cli_export_refuses_a_consent_log_inside_the_site(app, cli, tmp_path) -> None:
    result = cli("export", str(tmp_path / "site"), "--consent-log", str(tmp_path / "site/a.csv"))

    assert result.exit_code != 0
    assert "must not be inside the site folder" in result.output
    assert not (tmp_path / "site").exists()


def test_cli_export_reports_a_folder_it_will_not_touch(app, cli, tmp_path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")

    result = cli("export", str(tmp_path / "home"))

    assert result.exit_code != 0 and "not an earlier voxpop export" in result.output
    assert (tmp_path / "home" / "notes.txt").exists()
