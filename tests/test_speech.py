"""Words out of the video (issue 16): the packaged model, the pure speech step, the job.

The heavy tests (marked ``speech``) use the real packaged whisper base model on speech that
espeak-ng says, so they know the words; the model is joined and loaded once for the session.
Select them with ``-m speech``, leave them out with ``-m "not speech"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import add_reflection, ffmpeg, process, rows, run_queued
from voxpop import cli, jobs
from voxpop.db import get_db, transaction
from voxpop.media import vtt
from voxpop.reflection import transcripts, withdrawal
from voxpop.speech import model as speech_model
from voxpop.speech import transcribe as speech

SENTENCE = (
    "The community centre needs more volunteers on Saturday mornings. "
    "We should ask the council for help with the heating."
)
KEY_WORDS = ("community", "volunteers", "saturday", "council", "heating")

# -- captions from timed words (pure, fast) -------------------------------------------------------


def _words(text: str, start: float = 0.0, step: float = 0.4, gap_after: dict | None = None):
    found, at = [], start
    for index, word in enumerate(text.split()):
        found.append(speech.Word(round(at, 3), round(at + step - 0.05, 3), word, 0.9))
        at += step + (gap_after or {}).get(index, 0.0)
    return found


def test_cues_are_caption_sized() -> None:
    words = _words(" ".join(["word"] * 60) + ".")
    cues = speech.draft_cues(words, duration=30.0)
    assert len(cues) > 1
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 42 for line in lines)
        assert 1.0 - 1e-6 <= cue.end - cue.start <= 7.0 + 1e-6
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == [w.text for w in words]
    vtt.validate_cues(cues, 30.0)  # in order, no overlaps, inside the clip


def test_cues_split_at_sentence_ends_and_pauses() -> None:
    words = _words("It was good. We met people. then a long pause here", gap_after={8: 2.0})
    cues = speech.draft_cues(words, duration=20.0)
    texts = [c.text.replace("\n", " ") for c in cues]
    assert texts[0] == "It was good."
    assert texts[1] == "We met people."
    assert texts[2] == "then a long"  # the pause after "long" ends the cue
    assert texts[3] == "pause here"
    assert cues[-1].end <= 20.0


def test_cues_stay_inside_a_short_clip() -> None:
    cues = speech.draft_cues(_words("Hello there"), duration=0.8)
    assert cues and cues[-1].end <= 0.8 and cues[0].start >= 0
    assert speech.draft_vtt([], 5.0) == ""


def test_wrap_lines_balances_two_lines() -> None:
    lines = speech.wrap_lines([f"word{n}" for n in range(1, 12)])
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) < 12


# -- the model folder --------------------------------------------------------------------------


def test_a_size_name_is_refused_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(speech_model.ModelUnavailable, match="not a size name"):
        speech_model.resolve_model("small", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(speech_model.ModelUnavailable, match="model.bin"):
        speech_model.resolve_model(tmp_path / "empty", tmp_path)


def test_model_cache_loads_once_and_releases_when_idle() -> None:
    loaded = []
    cache = speech.ModelCache(idle_seconds=0.2, loader=lambda f, t: loaded.append(f) or object())
    first = cache.get(Path("/m"), 2)
    assert cache.get(Path("/m"), 2) is first and len(loaded) == 1
    import time

    time.sleep(0.5)
    assert cache.loaded() == 0
    cache.get(Path("/m"), 2)
    assert len(loaded) == 2
    cache.release()


# -- the real model ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model, joined and checked once for the session (then loaded once)."""
    if speech_model.packaged_parts() is None:
        pytest.fail("the speech model packages are not installed (pip install -e .)")
    return speech_model.prepare_packaged_model(tmp_path_factory.mktemp("speech-model"))


@pytest.fixture(scope="session")
def spoken_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A delivery-like MP4 (H.264 + AAC) of espeak-ng saying SENTENCE, with a second of quiet
    before and after."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (./test.sh installs it)")
    folder = tmp_path_factory.mktemp("spoken")
    wav = folder / "said.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), SENTENCE], check=True, timeout=60)
    mp4 = folder / "said.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x336699:s=320x240:r=25:d=10",
           "-i", str(wav), "-filter_complex", "[1:a]adelay=1000:all=1,apad[a]",
           "-map", "0:v", "-map", "[a]", "-t", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-ar", "48000", str(mp4))  # fmt: skip
    return mp4


@pytest.fixture(scope="session")
def silent_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp4 = tmp_path_factory.mktemp("silent") / "quiet.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25:d=4",
           "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.002:d=4",
           "-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           str(mp4))  # fmt: skip
    return mp4


@pytest.fixture
def speech_on(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Transcription after processing, with the session's model (kept loaded)."""
    monkeypatch.setenv("VOXPOP_SPEECH_AFTER_PROCESSING", "1")
    monkeypatch.setenv("VOXPOP_SPEECH_MODEL", str(model_folder))
    monkeypatch.setenv("VOXPOP_SPEECH_IDLE_SECONDS", "3600")
    return model_folder


def _ready_clip(app: Flask, clip: Path, lang: str = "en") -> int:
    reflection_id = add_reflection(app, "video", source=clip)
    if lang != "en":
        with app.app_context():
            get_db().execute("UPDATE reflection SET lang = ? WHERE id = ?", (lang, reflection_id))
    assert process(app, reflection_id)["status"] == "ready"
    return reflection_id


def _transcribe(app: Flask, reflection_id: int) -> list[tuple[str, int, str]]:
    """Queue the transcription as processing does (if it has not already), then run it."""
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        transcripts.enqueue_transcription(get_db(), queue, reflection_id)
    return run_queued(app)


@pytest.mark.speech
@pytest.mark.media
def test_pure_step_hears_the_words(spoken_clip: Path, model_folder: Path, tmp_path: Path) -> None:
    wav = speech.extract_audio(spoken_clip, tmp_path / "a.wav", max_seconds=15)
    model = speech.MODELS.get(model_folder, 2)
    runs = model.encoder_runs
    heard = speech.transcribe(wav, model_folder, threads=2)
    assert heard.language == "en" and heard.language_probability >= 0.5
    # One window, encoded once: for the language and the words (faster-whisper alone: twice).
    assert model.encoder_runs - runs == 1
    told = speech.transcribe(wav, model_folder, threads=2, language="en")
    assert model.encoder_runs - runs == 2
    assert [(s.start, s.end, s.text, s.words) for s in heard.segments] == [
        (s.start, s.end, s.text, s.words) for s in told.segments]  # fmt: skip
    said = heard.text.lower()
    assert all(word in said for word in KEY_WORDS), said
    words = heard.words
    assert words[0].start >= 0.5  # the second of quiet before is not a word
    assert words[-1].end <= 10.0


@pytest.mark.speech
@pytest.mark.media
def test_an_english_clip_gets_a_draft_and_captions(
    app: Flask, speech_on: Path, spoken_clip: Path
) -> None:
    reflection_id = _ready_clip(app, spoken_clip)
    # Processing queued the transcription once the clip was ready.
    (job,) = rows(app, "SELECT * FROM job WHERE kind = 'transcribe_reflection'")
    assert job["target_id"] == reflection_id and job["status"] == "queued"
    (queued,) = rows(app, "SELECT status FROM transcript WHERE reflection_id = ?", reflection_id)
    assert queued["status"] == "queued"
    ran = _transcribe(app, reflection_id)
    assert ("transcribe_reflection", reflection_id, "done") in ran
    (row,) = rows(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id)
    assert row["status"] == "draft" and row["language"] == "en"
    assert all(word in row["text"].lower() for word in KEY_WORDS), row["text"]
    assert row["model"] and json.loads(row["segments"])[0]["words"]
    (reflection,) = rows(app, "SELECT * FROM reflection WHERE id = ?", reflection_id)
    cues = vtt.parse_vtt(reflection["transcript_vtt"])
    assert cues and reflection["transcript_vtt"] == row["draft_vtt"]
    for cue in cues:
        assert 0 <= cue.start < cue.end <= reflection["duration_seconds"] + 0.001
        assert len(cue.text.split("\n")) <= 2
    assert cues[0].start >= 0.5
    heard = " ".join(c.text for c in cues).lower()
    assert "volunteers" in heard and "council" in heard

    # Idempotent: again, one transcript, same words; a person's captions are never replaced.
    with app.app_context():
        get_db().execute(
            "UPDATE reflection SET transcript_vtt = ? WHERE id = ?",
            ("WEBVTT\n\n00:00.000 --> 00:02.000\nWritten by a person\n", reflection_id),
        )
        transcripts.enqueue_transcription(
            get_db(), app.extensions["voxpop"].queue, reflection_id, force=True
        )
    run_queued(app)
    again = rows(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id)
    assert len(again) == 1 and again[0]["text"] == row["text"]
    (reflection,) = rows(app, "SELECT transcript_vtt FROM reflection WHERE id = ?", reflection_id)
    assert "Written by a person" in reflection["transcript_vtt"]

    # The listing shows it.
    with app.app_context():
        (record,) = [r for r in cli.reflection_records(get_db()) if r["id"] == reflection_id]
    json.dumps(record)
    assert record["transcript"]["status"] == "draft" and "council" in record["transcript"]["text"]

    # Withdrawal takes the transcript with it.
    with app.app_context():
        db = get_db()
        code = db.execute(
            "SELECT receipt_code FROM reflection WHERE id = ?", (reflection_id,)
        ).fetchone()[0]
        withdrawal.withdraw(db, app.extensions["voxpop"].queue, app.extensions["voxpop"].store,
                            reflection_id)  # fmt: skip
    assert code
    assert rows(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id) == []
    (reflection,) = rows(app, "SELECT transcript_vtt FROM reflection WHERE id = ?", reflection_id)
    assert reflection["transcript_vtt"] is None


@pytest.mark.speech
@pytest.mark.media
def test_silence_is_no_speech(app: Flask, speech_on: Path, silent_clip: Path) -> None:
    reflection_id = _ready_clip(app, silent_clip)
    # A worker killed mid-transcription: the next start's recovery queues the job again.
    with app.app_context():
        get_db().execute(
            "UPDATE job SET status = 'running', attempts = 1"
            " WHERE kind = 'transcribe_reflection' AND target_id = ?",
            (reflection_id,),
        )
    jobs.recover(app.extensions["voxpop"].queue)
    assert run_queued(app) == [("transcribe_reflection", reflection_id, "done")]
    (row,) = rows(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id)
    assert row["status"] == "no-speech" and not row["text"]
    (reflection,) = rows(app, "SELECT transcript_vtt FROM reflection WHERE id = ?", reflection_id)
    assert not reflection["transcript_vtt"]


@pytest.mark.speech
@pytest.mark.media
def test_a_welsh_kiosk_clip_needs_a_person(app: Flask, speech_on: Path, spoken_clip: Path) -> None:
    reflection_id = _ready_clip(app, spoken_clip, lang="cy")
    _transcribe(app, reflection_id)
    (row,) = rows(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id)
    assert row["status"] == "needs-person" and "Welsh" in row["reason"]
    assert not row["text"] and not row["draft_vtt"]
    (reflection,) = rows(app, "SELECT transcript_vtt FROM reflection WHERE id = ?", reflection_id)
    assert not reflection["transcript_vtt"]


def test_transcription_steps_aside_for_processing(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Lower priority: while a clip waits to be processed, transcription goes back in line."""
    monkeypatch.setenv("VOXPOP_SPEECH_MODEL", "/nowhere")
    recording = tmp_path / "take.webm"
    recording.write_bytes(b"not looked at")
    waiting = add_reflection(app, "video", source=recording)
    ready = add_reflection(app, "video", source=recording)
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        db = get_db()
        db.execute("UPDATE reflection SET status = 'ready' WHERE id = ?", (ready,))
        with transaction(db):
            db.execute(
                "INSERT INTO job (kind, target_id, created_at) VALUES ('process_reflection', ?,"
                " '2026-01-01T00:00:00')",
                (waiting,),
            )
        job_id = jobs.enqueue(db, queue, transcripts.TRANSCRIBE_REFLECTION, ready)
    assert jobs.run_job(queue, job_id) == "retrying"
    (job,) = rows(app, "SELECT * FROM job WHERE id = ?", job_id)
    assert job["status"] == "queued" and job["attempts"] == 0


@pytest.mark.speech
@pytest.mark.media
def test_a_clip_arriving_mid_transcription_is_processed_first(
    app: Flask, speech_on: Path, spoken_clip: Path
) -> None:
    """With one worker a new clip must not wait for a running transcription: between pieces of
    speech the job looks for clips waiting to be processed and steps aside (to start again)."""
    reflection_id = _ready_clip(app, spoken_clip)
    newcomer = add_reflection(app, "video", source=spoken_clip)
    (job,) = rows(app, "SELECT id FROM job WHERE kind = 'transcribe_reflection'")
    with app.app_context():
        # A kiosk sends a clip the moment the transcription reports its first progress.
        get_db().execute(
            "CREATE TRIGGER a_clip_arrives AFTER UPDATE OF progress ON job"  # noqa: S608 - ids are ints
            " WHEN NEW.kind = 'transcribe_reflection' AND NOT EXISTS (SELECT 1 FROM job"
            f" WHERE kind = 'process_reflection' AND target_id = {newcomer})"
            " BEGIN INSERT INTO job (kind, target_id, created_at)"
            f" VALUES ('process_reflection', {newcomer}, '2026-01-01T00:00:00'); END"
        )
    queue = app.extensions["voxpop"].queue
    assert jobs.run_job(queue, job["id"]) == "retrying"
    (again,) = rows(app, "SELECT * FROM job WHERE id = ?", job["id"])
    assert again["status"] == "queued" and again["attempts"] == 0
    (row,) = rows(app, "SELECT status FROM transcript WHERE reflection_id = ?", reflection_id)
    assert row["status"] == "queued"  # nothing half-done was kept
    with app.app_context():
        get_db().execute("UPDATE job SET status = 'done' WHERE kind = 'process_reflection'"
                         " AND target_id = ?", (newcomer,))  # fmt: skip
    assert jobs.run_job(queue, job["id"]) == "done"
    (row,) = rows(app, "SELECT status FROM transcript WHERE reflection_id = ?", reflection_id)
    assert row["status"] == "draft"


@pytest.mark.speech
@pytest.mark.media
def test_voxpop_speech_reports_model_languages_and_speed(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    monkeypatch.setenv("VOXPOP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("VOXPOP_UPLOADS", str(tmp_path / "uploads"))
    result = CliRunner().invoke(cli.main, ["speech", "--model", str(model_folder)])
    assert result.exit_code == 0, result.output
    assert "Languages: 100" in result.output
    assert "s of compute per audio minute" in result.output
    heard = result.output.split("Heard:")[1].lower()
    assert "volunteers" in heard and "council" in heard
    refused = CliRunner().invoke(cli.main, ["speech", "--model", "small"])
    assert refused.exit_code == 1 and "not a size name" in refused.output
