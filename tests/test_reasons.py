"""Failure reasons are stored in English with their values and worded in the reader's language.

The Welsh comes from the real catalogue (voxpop/translations/cy), so a message that is not in
it, or whose placeholders differ, fails here. Old rows hold plain English: they are looked up
whole, else shown as stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.support import Translations
from flask import Flask

from tests.conftest import Auth, add_reflection, give_consent, process, rows
from voxpop import reasons
from voxpop.media.ffmpeg import MediaRejected, NotARecording
from voxpop.media.probe import probe_media
from voxpop.reasons import Reason
from voxpop.reflection.processing import FILE_DELETED, FILE_GONE, GAVE_UP

pytestmark = pytest.mark.python_only

TRANSLATIONS = Path(__file__).resolve().parent.parent / "voxpop" / "translations"
WELSH = Translations.load(str(TRANSLATIONS), ["cy"]).gettext

CODEC = Reason("The video is in a format we cannot read (%(codec)s).", {"codec": "hevc"})
TOO_LONG = Reason(
    "The recording is too long (%(seconds).0f s; the limit is %(limit).0f s).",
    {"seconds": 95.4, "limit": 60},
)
NOT_A_RECORDING = Reason("This file is not a recording in a format we accept.")
NOT_INSTALLED = Reason(
    "%(tool)s is not installed on the laptop running voxpop.", {"tool": "ffmpeg"}
)

# stored reason, English, Welsh
TABLE = [
    (CODEC.stored(), "The video is in a format we cannot read (hevc).",
     "Mae’r fideo mewn fformat na allwn ei ddarllen (hevc)."),
    (TOO_LONG.stored(), "The recording is too long (95 s; the limit is 60 s).",
     "Mae’r recordiad yn rhy hir (95 eiliad; y terfyn yw 60 eiliad)."),
    # NotARecording: the file was deleted (processing.FILE_DELETED)
    (Reason(FILE_DELETED, {"reason": NOT_A_RECORDING}).stored(),
     "This file is not a recording in a format we accept. The file was deleted.",
     "Nid yw’r ffeil hon yn recordiad mewn fformat a dderbyniwn. Cafodd y ffeil ei dileu."),
    # A tool failure, retried until the job gave up (processing.GAVE_UP)
    (Reason(GAVE_UP, {"reason": NOT_INSTALLED, "attempts": 3}).stored(),
     "ffmpeg is not installed on the laptop running voxpop. (gave up after 3 attempts)",
     "Nid yw ffmpeg wedi’i osod ar y gliniadur sy’n rhedeg voxpop. (rhoddwyd y gorau iddi ar ôl"
     " 3 ymgais)"),
    # A reel with nothing left in it (no values: stored as the plain message)
    ("Nothing to show: add approved reflections to this reel, then render it.",
     "Nothing to show: add approved reflections to this reel, then render it.",
     "Dim byd i’w ddangos: ychwanegwch adlewyrchiadau wedi’u cymeradwyo at y rîl hon, yna ei"
     " rendro."),
    # Rows from before: plain English, looked up whole, else shown as stored
    (FILE_GONE, FILE_GONE,
     "Nid yw ffeil y recordiad ar y gliniadur mwyach, felly nid oes modd ei phrosesu."),
    ("The video is larger than 4K (5000×3000).", "The video is larger than 4K (5000×3000).",
     "The video is larger than 4K (5000×3000)."),
    ("{not a reason", "{not a reason", "{not a reason"),
    (None, None, None),
    ("", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("stored", "english", "welsh"), TABLE)
def test_a_stored_reason_is_worded_in_the_readers_language(
    stored: str | None, english: str | None, welsh: str | None
) -> None:
    assert reasons.english(stored) == english
    assert reasons.render(stored, WELSH) == welsh


def test_a_reason_reads_back_as_it_was_stored() -> None:
    composite = Reason(GAVE_UP, {"reason": CODEC, "attempts": 3})
    assert reasons.parse(composite.stored()) == composite
    assert reasons.parse(NOT_A_RECORDING.stored()) == NOT_A_RECORDING
    assert NOT_A_RECORDING.stored() == NOT_A_RECORDING.message  # no values: plain text
    # A nested reason is always an object, so a plain string value is never translated.
    assert '"reason": {"message": ' in composite.stored()


def test_a_translation_that_lost_a_placeholder_falls_back_to_english() -> None:
    def broken(message: str) -> str:
        return "Mae’r fideo mewn fformat na allwn ei ddarllen (%(codek)s)."

    assert CODEC.render(broken) == "The video is in a format we cannot read (hevc)."


def test_media_errors_keep_english_for_the_log_and_a_reason_to_store(tmp_path: Path) -> None:
    error = MediaRejected(
        "The video is in a format we cannot read (%(codec)s).", "stderr", codec="hevc"
    )
    assert error.message == str(error) == "The video is in a format we cannot read (hevc)."
    assert (error.reason, error.detail) == (CODEC, "stderr")
    empty = tmp_path / "empty.webm"
    empty.touch()
    with pytest.raises(NotARecording) as refused:
        probe_media(empty, max_seconds=60)
    assert refused.value.reason == Reason("The recording is empty.")
    assert reasons.render(refused.value.reason.stored(), WELSH) == "Mae’r recordiad yn wag."


def test_a_job_that_gave_up_shows_why_in_each_language(app: Flask, auth: Auth) -> None:
    # A python_only test has no ffmpeg on its PATH: the probe's tool failure is retried until
    # the job gives up, and the reason is the composite a Welsh page used to show in English.
    source = app.config["INSTANCE"] + "/clip.webm"
    Path(source).write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    reflection_id = add_reflection(app, "video", Path(source))
    give_consent(app, reflection_id)
    assert process(app, reflection_id)["status"] == "failed"
    (job,) = rows(app, "SELECT error FROM job WHERE target_id = ?", reflection_id)
    english = "ffprobe is not installed on the laptop running voxpop. (gave up after 3 attempts)"
    assert reasons.english(job["error"]) == english
    welsh = (
        "Nid yw ffprobe wedi’i osod ar y gliniadur sy’n rhedeg voxpop. (rhoddwyd y gorau iddi ar"
        " ôl 3 ymgais)"
    )
    auth.login("facilitator")
    for lang, words in (("en", english), ("cy", welsh)):
        auth.client.get(f"/?lang={lang}")
        for url in (f"/review/{reflection_id}", "/review/", "/studio/"):
            page = auth.client.get(url).text
            assert words in page.replace("&#39;", "'"), (lang, url)
        progress = auth.client.get("/studio/progress.json").json["reflections"]
        assert progress[str(reflection_id)]["reason"] == words
