"""WebVTT captions (voxpop/media/vtt.py): reading, checking, writing, drafting, trimming."""

from __future__ import annotations

import pytest

from voxpop.media.vtt import (
    Cue,
    VttError,
    clip_cues,
    default_cues,
    escape_text,
    format_timestamp,
    format_vtt,
    parse_time,
    parse_timestamp,
    parse_vtt,
    plain_text,
    shift_cues,
    trim_cues,
    validate_cues,
)

pytestmark = pytest.mark.python_only

# -- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00:00.000"),
        (1.5, "00:00:01.500"),
        (61.25, "00:01:01.250"),
        (3723.0004, "01:02:03.000"),
        (0.0006, "00:00:00.001"),
        (59.9996, "00:01:00.000"),
    ],
)
def test_format_timestamp(seconds: float, expected: str) -> None:
    assert format_timestamp(seconds) == expected


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_format_timestamp_refuses_impossible_times(bad: float) -> None:
    with pytest.raises(VttError):
        format_timestamp(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:01.500", 1.5), ("01:02:03.004", 3723.004), ("100:00:00.000", 360000.0)],
)
def test_parse_timestamp(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["1.5", "00:1.500", "00:60.000", "00:01.5", "00:01:00", ""])
def test_parse_timestamp_is_strict(text: str) -> None:
    with pytest.raises(VttError) as caught:
        parse_timestamp(text)
    assert caught.value.code == "bad_time"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12", 12.0),
        ("12.5", 12.5),
        (" 3,25 ", 3.25),
        (".5", 0.5),
        ("1:02.5", 62.5),
        ("0:01:02.500", 62.5),
        ("00:00:01.2345", 1.234),
    ],
)
def test_parse_time_accepts_what_people_type(typed: str, expected: float) -> None:
    assert parse_time(typed) == pytest.approx(expected)


@pytest.mark.parametrize("typed", ["", "-1", "abc", "1:60", "1:60:00", "1e3", "nan", "1..2"])
def test_parse_time_refuses_the_rest(typed: str) -> None:
    with pytest.raises(VttError) as caught:
        parse_time(typed)
    assert caught.value.code == "bad_time"


# -- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "escaped"),
    [
        ("Fish & chips", "Fish &amp; chips"),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
        ("a --> b", "a --&gt; b"),
        ("&amp; already", "&amp;amp; already"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_escape_text_and_back(plain: str, escaped: str) -> None:
    assert escape_text(plain) == escaped
    assert plain_text(escaped) == plain


def test_plain_text_drops_cue_markup() -> None:
    assert plain_text("<v Sam>Hello <b>there</b> <00:00:01.000>&amp; bye") == "Hello there & bye"


# -- reading ----------------------------------------------------------------------------------

SAMPLE = """\ufeffWEBVTT - made by hand

NOTE this is a comment
spanning lines

STYLE
::cue { color: red }

intro
00:00.000 --> 00:01.500 align:start
<v Sam>Hello &amp; welcome

00:00:01.500 --> 00:00:04.000
Two
lines
"""


def test_parse_vtt_reads_cues_as_plain_text() -> None:
    assert parse_vtt(SAMPLE) == [
        Cue(0.0, 1.5, "Hello & welcome"),
        Cue(1.5, 4.0, "Two\nlines"),
    ]


def test_parse_vtt_accepts_crlf_and_no_cues() -> None:
    assert parse_vtt("WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nHi\r\n") == [Cue(1, 2, "Hi")]
    assert parse_vtt("WEBVTT\n") == []


@pytest.mark.parametrize(
    ("source", "code", "cue"),
    [
        ("", "not_vtt", None),
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nHi", "not_vtt", None),
        ("1\n00:01,000 --> 00:02,000\nan SRT file", "not_vtt", None),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nOk\n\njust words", "no_timing", 2),
        ("WEBVTT\n\n00:01.000 --> 00:02\nHi", "bad_time", 1),
        ("WEBVTT\n\n00:01.000 -->\nHi", "bad_time", 1),
    ],
)
def test_parse_vtt_refuses_what_is_not_webvtt(source: str, code: str, cue: int | None) -> None:
    with pytest.raises(VttError) as caught:
        parse_vtt(source)
    assert (caught.value.code, caught.value.cue) == (code, cue)


# -- writing ----------------------------------------------------------------------------------


def test_format_vtt_writes_numbered_escaped_cues() -> None:
    written = format_vtt([Cue(0, 1.5, "Fish & <chips>"), Cue(1.5, 3, "line one\n\n  line   two")])
    assert written == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:01.500\nFish &amp; &lt;chips&gt;\n\n"
        "2\n00:00:01.500 --> 00:00:03.000\nline one\nline two\n"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "</c><c.evil>x",
        "00:00:05.000 --> 00:00:09.000",
        "ok\n\n00:00:05.000 --> 00:00:09.000\ninjected cue",
        "WEBVTT\n\nSTYLE\n::cue { color: red }",
        "&lt;b&gt; stays literal",
    ],
)
def test_written_captions_read_back_as_the_same_plain_text(hostile: str) -> None:
    cues = [Cue(0, 2, hostile)]
    written = format_vtt(cues)
    back = parse_vtt(written)
    assert len(back) == 1
    assert back[0].text == "\n".join(line.strip() for line in hostile.split("\n") if line.strip())
    body = written.split("\n", 4)[4]
    assert "<" not in body and "-->" not in body


def test_round_trip_keeps_timings() -> None:
    cues = [Cue(0.001, 1.999, "a"), Cue(2, 62.5, "b"), Cue(3600, 3601.25, "c")]
    assert parse_vtt(format_vtt(cues)) == cues


# -- checking ---------------------------------------------------------------------------------


def test_validate_cues_normalises_text_and_rounds_times() -> None:
    checked = validate_cues([Cue(0.00049, 1.0004, "  many   spaces \n\n here ")], duration=2)
    assert checked == [Cue(0.0, 1.0, "many spaces\nhere")]


@pytest.mark.parametrize(
    ("cues", "duration", "code", "number"),
    [
        ([Cue(-1, 1, "a")], 5, "negative", 1),
        ([Cue(1, 1, "a")], 5, "end_before_start", 1),
        ([Cue(2, 1, "a")], 5, "end_before_start", 1),
        ([Cue(0, 5.01, "a")], 5, "beyond_end", 1),
        ([Cue(0, 1, "a"), Cue(1, 2, "  \n ")], 5, "empty_text", 2),
        ([Cue(0, 1, "x" * 501)], 5, "text_too_long", 1),
        ([Cue(2, 3, "a"), Cue(1, 2, "b")], 5, "out_of_order", 2),
        ([Cue(0, 2, "a"), Cue(1.5, 3, "b")], 5, "overlap", 2),
        ([Cue(0, 1, "a")], 0, "bad_duration", None),
        ([Cue(0, 1, "a")], float("nan"), "bad_duration", None),
        ([Cue(i, i + 1, "a") for i in range(1001)], 5000, "too_many_cues", None),
        ([Cue(0, float("inf"), "a")], 5, "bad_time", 1),
    ],
)
def test_validate_cues_refuses(cues, duration, code, number) -> None:
    with pytest.raises(VttError) as caught:
        validate_cues(cues, duration)
    assert (caught.value.code, caught.value.cue) == (code, number)


def test_validate_cues_allows_back_to_back_and_the_exact_end() -> None:
    cues = [Cue(0, 1, "a"), Cue(1, 5, "b")]
    assert validate_cues(cues, 5) == cues
    assert validate_cues([], 5) == []


# -- the default draft ------------------------------------------------------------------------


def test_default_cues_split_sentences_in_proportion_to_their_length() -> None:
    text = "Short one. This sentence is three times longer!  Why? "
    cues = default_cues(text, 10)
    assert [cue.text for cue in cues] == [
        "Short one.",
        "This sentence is three times longer!",
        "Why?",
    ]
    lengths = [len(cue.text) for cue in cues]
    for cue, length in zip(cues, lengths, strict=True):
        assert cue.end - cue.start == pytest.approx(10 * length / sum(lengths), abs=0.002)
    assert cues[0].start == 0 and cues[-1].end == 10
    assert all(a.end == b.start for a, b in zip(cues, cues[1:], strict=False))
    assert validate_cues(cues, 10) == cues


def test_default_cues_keep_closing_quotes_and_split_paragraphs() -> None:
    cues = default_cues('She said "yes." Then left\nNew line here', 6)
    assert [cue.text for cue in cues] == ['She said "yes."', "Then left", "New line here"]


def test_default_cues_break_long_sentences_at_spaces() -> None:
    sentence = " ".join(["word"] * 60)  # 299 characters, no full stop
    cues = default_cues(sentence, 30)
    assert len(cues) == 4
    assert all(len(cue.text) <= 84 for cue in cues)
    assert " ".join(cue.text for cue in cues) == sentence
    assert cues[-1].end == 30


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_default_cues_of_nothing_is_nothing(text: str) -> None:
    assert default_cues(text, 5) == []


@pytest.mark.parametrize("duration", [0, -3, float("inf")])
def test_default_cues_need_a_duration(duration: float) -> None:
    with pytest.raises(VttError) as caught:
        default_cues("Hello.", duration)
    assert caught.value.code == "bad_duration"


def test_default_cues_give_every_cue_time_even_when_short() -> None:
    cues = default_cues("A very long first sentence indeed, yes. B. C.", 0.003)
    assert [(cue.start, cue.end) for cue in cues] == [(0, 0.001), (0.001, 0.002), (0.002, 0.003)]
    assert default_cues("One. Two. Three.", 0.002) == [Cue(0, 0.002, "One. Two. Three.")]


# -- trims ------------------------------------------------------------------------------------

CUES = [Cue(0, 2, "a"), Cue(2, 5, "b"), Cue(5, 9, "c")]


def test_shift_cues_drops_what_falls_before_zero() -> None:
    assert shift_cues(CUES, -3) == [Cue(0, 2, "b"), Cue(2, 6, "c")]
    assert shift_cues(CUES, 1.5) == [Cue(1.5, 3.5, "a"), Cue(3.5, 6.5, "b"), Cue(6.5, 10.5, "c")]


def test_clip_cues_keeps_the_window() -> None:
    assert clip_cues(CUES, 1, 6) == [Cue(1, 2, "a"), Cue(2, 5, "b"), Cue(5, 6, "c")]
    assert clip_cues(CUES, 2, 5) == [Cue(2, 5, "b")]


def test_trim_cues_puts_the_trimmed_clip_on_its_own_timeline() -> None:
    assert trim_cues(CUES, 1, 6) == [Cue(0, 1, "a"), Cue(1, 4, "b"), Cue(4, 5, "c")]
