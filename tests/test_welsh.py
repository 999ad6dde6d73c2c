"""The Welsh (cy) interface catalogue: pages in Welsh, and a catalogue in step with the source.

The catalogue is ``voxpop/translations/cy/LC_MESSAGES/messages.po``; its compiled ``.mo`` is
committed (a venue laptop may have no internet). ``scripts/translations.sh`` refreshes both.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.plural import to_gettext
from flask_babel import ngettext

from tests.conftest import csrf_from
from voxpop.db import get_db, transaction

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "voxpop" / "translations"
PO = TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.mo"
POT = TRANSLATIONS / "messages.pot"

# %(name)s-style (with flags, width and precision), str.format-style {name} used by the
# kiosk and reel scripts, and a literal %%.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|\{\w+\}|%%")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def messages(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def key(message: Message) -> str | tuple[str, ...]:
    """A message's identity: its msgid, or (msgid, msgid_plural)."""
    return message.id if isinstance(message.id, str) else tuple(message.id)


def forms(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def po() -> Catalog:
    return read_catalog(PO)


# -- pages in Welsh ------------------------------------------------------------------------


def kiosk_config(html: str) -> dict:
    block = re.search(
        r'<script type="application/json" id="kiosk-config">(.*?)</script>', html, re.S
    )
    assert block, "no kiosk config on the page"
    return json.loads(block.group(1))


def test_kiosk_page_and_its_script_strings_are_welsh(kiosk) -> None:
    page = kiosk.client.get("/kiosk/?lang=cy")
    assert page.status_code == 200
    assert '<html lang="cy">' in page.text
    for welsh in (
        "Yn esgidiau pwy ydych chi heddiw?",  # perspective screen
        "Cyn i chi ddechrau",  # consent screen
        "Beth gawn ni ei wneud â’ch adlewyrchiad?",
        "gofynnol",  # the required consent box
        "Eich cod derbynneb",  # thank-you screen with the receipt
    ):
        assert welsh in page.text, welsh
    assert "Whose shoes are you in today?" not in page.text

    config = kiosk_config(page.text)
    assert config["lang"] == "cy"
    strings = config["strings"]
    assert strings["recording"] == "Yn recordio"
    assert strings["nothing_recorded"] == "Ni recordiwyd dim. Rhowch gynnig arall arni."
    assert strings["not_paired"].startswith("Nid yw’r ciosg hwn wedi’i baru â’r digwyddiad")
    # The scripts fill these in: the names must survive translation.
    assert placeholders(strings["too_long"]) == ["{count}", "{max}"]
    assert strings["saved_on_kiosk"].startswith("Mae eich adlewyrchiad wedi’i gadw")
    assert strings["kept_refused"].startswith("Mae eich adlewyrchiad yn cael ei gadw")
    # One form per CLDR category (Welsh has six); kiosk.js picks one with Intl.PluralRules.
    plurals = config["plurals"]
    assert set(plurals["waiting"]) == {"zero", "one", "two", "few", "many", "other"}
    assert plurals["waiting"]["one"] == "{count} adlewyrchiad yn aros i gael ei anfon"
    for forms in plurals.values():
        for text in forms.values():
            assert placeholders(text) == ["{count}"], text


def test_every_kiosk_script_string_is_translated(app) -> None:
    """The kiosk scripts' one dictionary: each message has Welsh with the same placeholders."""
    from flask_babel import force_locale

    from voxpop.kiosk.views import kiosk_plurals, kiosk_strings

    with app.test_request_context("/kiosk/"):
        with force_locale("en"):
            english, english_plurals = kiosk_strings(), kiosk_plurals("en")
        with force_locale("cy"):
            welsh, welsh_plurals = kiosk_strings(), kiosk_plurals("cy")
    assert set(welsh) == set(english)
    for name, text in english.items():
        assert welsh[name] and welsh[name] != text, f"{name} is not translated: {text}"
        assert placeholders(welsh[name]) == placeholders(text), name
    assert set(welsh_plurals) == set(english_plurals)
    for name, forms in welsh_plurals.items():
        assert forms["one"] != english_plurals[name]["one"], f"{name} is not translated"


def test_kiosk_page_stays_english_in_english(kiosk) -> None:
    page = kiosk.client.get("/kiosk/?lang=en")
    assert "Whose shoes are you in today?" in page.text
    assert kiosk_config(page.text)["strings"]["recording"] == "Recording"


def test_roving_kiosk_page_is_welsh(app, client) -> None:
    """An interviewer's phone: its own screens and the message kiosk.js fills in."""
    from voxpop import models
    from voxpop.db import get_db

    with app.app_context():
        new = models.create_kiosk(get_db(), "Roving phone", mode="roving")
    bearer = {"Authorization": f"Bearer {new.api_token}"}
    page = client.get("/kiosk/?lang=cy", headers=bearer)
    assert page.status_code == 200
    for welsh in (
        "Pwy sy’n cyfweld?",
        "Darllenwch hwn yn uchel, yna ticiwch yr hyn y cytunon nhw iddo",
        "Yn esgidiau pwy maen nhw heddiw?",
        "Y person nesaf",
    ):
        assert welsh in page.text, welsh
    # The scripts' words come with the page's config; screens.js fills in the name.
    assert kiosk_config(page.text)["strings"]["interviewer_label"] == "Cyfwelydd: {name}"
    assert "Next person" not in page.text
    assert "Whose shoes are they in today?" in client.get("/kiosk/?lang=en", headers=bearer).text


@pytest.mark.parametrize(
    ("path", "english", "welsh"),
    [
        ("/", "Withdraw a reflection", ["Tynnu adlewyrchiad yn ôl", "Cerddwch yn eu hesgidiau"]),
        (
            "/withdraw",
            "Changed your mind?",
            ["Tynnu adlewyrchiad yn ôl", "Wedi newid eich meddwl?", "Cod derbynneb", "Parhau"],
        ),
        (
            "/archive/",
            "Walk in their shoes",
            ["Cerddwch yn eu hesgidiau", "Dewiswch safbwynt", "Dim adlewyrchiadau wedi’u cyhoeddi"],
        ),
    ],
)
def test_public_pages_are_welsh(client, path: str, english: str, welsh: list[str]) -> None:
    separator = "&" if "?" in path else "?"
    page = client.get(f"{path}{separator}lang=cy")
    assert page.status_code == 200
    for text in welsh:
        assert text in page.text, text
    assert english not in page.text
    assert english in client.get(f"{path}{separator}lang=en").text


def test_withdrawal_in_welsh_from_receipt_to_done(client, kiosk) -> None:
    sent = kiosk.post(kiosk.form(lang="cy"))
    assert sent.status_code == 201, sent.text
    code = sent.json["receipt_code"]
    page = client.get(f"/withdraw?code={code}&lang=cy")  # what the receipt's QR code opens
    assert f'value="{code}"' in page.text

    wrong = client.post("/withdraw", data={"code": "KX7-4QF", "csrf_token": csrf_from(page.text)})
    assert "Nid oes gan unrhyw adlewyrchiad y cod derbynneb KX7-4QF." in wrong.text

    preview = client.post(
        "/withdraw", data={"code": code, "csrf_token": csrf_from(page.text)}, follow_redirects=True
    )
    assert preview.status_code == 200
    for welsh in ("Tynnu’r adlewyrchiad hwn yn ôl?", "Adlewyrchiad ysgrifenedig", "Yn esgidiau",
                  "Mae tynnu’n ôl yn dileu:", ">Tynnu’n ôl<", "Ei gadw — mynd yn ôl"):  # fmt: skip
        assert welsh in preview.text, welsh

    done = client.post(
        "/withdraw/confirm",
        data={"code": code, "csrf_token": csrf_from(preview.text)},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert f"Mae cod derbynneb {code} wedi’i dynnu’n ôl. Diolch am gymryd rhan." in done.text


def test_language_choice_is_remembered(client) -> None:
    client.get("/?lang=cy")
    assert "Tynnu adlewyrchiad yn ôl" in client.get("/withdraw").text


def test_studio_pages_are_welsh(client, auth, kiosk) -> None:
    auth.login("organiser")
    overview = client.get("/studio/?lang=cy")
    assert overview.status_code == 200
    for welsh in (
        "Adlewyrchiadau",
        "Adolygu",
        "Dangosfwrdd",
        "Ciosgau",
        "Allgofnodi",
        "(trefnydd)",
    ):
        assert welsh in overview.text, welsh
    assert "Log out" not in overview.text
    settings = client.get("/studio/settings/")  # the language is remembered
    assert settings.status_code == 200
    # WTForms labels are lazy_gettext: translated when the page is drawn, not at import.
    assert "Enw’r digwyddiad" in settings.text
    assert "Event name" not in settings.text


def test_staff_pages_name_the_event_in_welsh(app, client, auth) -> None:
    """The event's own Welsh name heads the Welsh staff pages (the dashboard and the pages'
    titles showed the English one)."""
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute("UPDATE event SET names = ?",
                       (json.dumps({"en": "Test day", "cy": "Diwrnod prawf"}),))  # fmt: skip
    auth.login("organiser")
    for path in ("/studio/", "/studio/dashboard", "/studio/compare", "/studio/export",
                 "/review/"):  # fmt: skip
        page = client.get(f"{path}?lang=cy")
        assert page.status_code == 200, path
        assert "Diwrnod prawf" in page.text, path
        assert "Test day" not in page.text, path
        english = client.get(f"{path}?lang=en").text
        assert "Test day" in english and "Diwrnod prawf" not in english, path


@pytest.mark.parametrize(
    ("count", "welsh"),
    [(0, "0 clip"), (1, "1 clip"), (2, "2 glip"), (3, "3 chlip"), (6, "6 chlip"), (7, "7 clip")],
)
def test_welsh_plurals_follow_cldr_at_runtime(app, count: int, welsh: str) -> None:
    with app.test_request_context("/?lang=cy"):
        assert ngettext("%(num)d clip", "%(num)d clips", count) == welsh


# -- the catalogue --------------------------------------------------------------------------


def pybabel() -> str:
    beside_python = Path(sys.executable).with_name("pybabel")
    found = str(beside_python) if beside_python.exists() else shutil.which("pybabel")
    assert found, "pybabel (from Babel, a dependency of flask-babel) is not installed"
    return found


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A fresh template from the source, made exactly as scripts/translations.sh makes it."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "translations.sh"), "extract", str(pot)],
        check=True,
        timeout=120,
        env={**os.environ, "PYBABEL": pybabel()},
    )
    return read_catalog(pot)


def test_every_message_in_the_source_is_in_the_welsh_catalogue(extracted, po) -> None:
    source = {key(m) for m in messages(extracted)}
    catalogue = {key(m) for m in messages(po)}
    assert len(source) > 500  # the extraction really ran over voxpop/ and templates/
    missing, unused = source - catalogue, catalogue - source
    assert not missing and not unused, (
        f"Run scripts/translations.sh and translate the new entries. "
        f"Missing from the .po: {sorted(map(str, missing))}; no longer used: "
        f"{sorted(map(str, unused))}"
    )
    assert not po.obsolete


def test_the_committed_template_is_fresh(extracted) -> None:
    assert [key(m) for m in messages(read_catalog(POT))] == [key(m) for m in messages(extracted)]


def test_every_message_is_translated_and_none_is_fuzzy(po) -> None:
    assert not po.fuzzy
    untranslated = [key(m) for m in messages(po) if not all(forms(m))]
    fuzzy = [key(m) for m in messages(po) if m.fuzzy]
    assert not untranslated and not fuzzy, (untranslated, fuzzy)


def test_placeholders_are_intact_in_every_translation(po) -> None:
    assert list(po.check()) == []  # Babel's own checks: python-format and plural count
    broken = []
    for message in messages(po):
        ids = (message.id,) if isinstance(message.id, str) else message.id
        expected = placeholders(ids[-1])
        assert all(placeholders(i) == expected for i in ids), ids
        broken += [(ids[0], s) for s in forms(message) if placeholders(s) != expected]
    assert not broken, broken


def test_welsh_plural_forms_are_cldrs_and_complete(po) -> None:
    assert po.num_plurals == 6
    header = gettext.c2py(po.plural_expr)
    cldr = gettext.c2py(to_gettext(Locale("cy").plural_form).split("plural=")[1].rstrip(";"))
    assert [header(n) for n in range(1001)] == [cldr(n) for n in range(1001)]
    plurals = [m for m in messages(po) if m.pluralizable]
    assert plurals
    for message in plurals:
        assert len(message.string) == 6 and all(message.string), message.id


def test_the_header_asks_for_a_native_speakers_review(po) -> None:
    assert "native" in po.header_comment and "review" in po.header_comment


def test_compiled_catalogue_matches_the_po(po) -> None:
    with MO.open("rb") as f:
        mo = read_mo(f)

    def translations(catalog: Catalog) -> dict:
        return {key(m): forms(m) for m in messages(catalog) if not m.fuzzy}

    assert translations(mo) == translations(po), (
        "messages.mo is out of step with messages.po: run scripts/translations.sh"
    )
    assert mo.plural_forms == po.plural_forms
