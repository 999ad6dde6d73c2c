"""Pillow pipeline: safe opening, metadata-free saving, cards, posters, frame choice, timings."""

from __future__ import annotations

import io
import random
import struct
import unicodedata
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageFile

from tests.mediafiles import png_bytes
from voxpop.media import cards, images, posters, typesetting
from voxpop.media.images import UnsafeImage
from voxpop.media.typesetting import CardError

pytestmark = pytest.mark.python_only

WELSH = "Dŵr, tŷ, â chroeso — ŵŷâ"
WELSH_LETTERS = "ŵŷâêîôûẁẃẅỳŴŶÂÊÎÔÛẀẂẄỲ"
LONG_TEXT = " ".join(["Gwrandewch ar bobl sy'n byw'r profiad cyn newid y gwasanaeth."] * 60)


# --- helpers --------------------------------------------------------------------------------


def with_declared_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with its header (and header CRC) claiming another size."""
    ihdr = struct.pack(">II", width, height) + png[24:29]
    return png[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]


def noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Incompressible pixels: real image data for truncation and scoring tests."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def write(path: Path, image: Image.Image, fmt: str, **options: object) -> Path:
    """Save a test input with plain Pillow (inputs may carry metadata on purpose)."""
    image.save(path, fmt, **options)
    return path


def load(path: Path) -> Image.Image:
    """Open an output fully with plain Pillow, for inspection."""
    with Image.open(path) as im:
        im.load()
        return im.copy()


def pixels_differ(a: Path, b: Path) -> bool:
    """True if two images differ in at least one pixel."""
    return (
        ImageChops.difference(load(a).convert("RGB"), load(b).convert("RGB")).getbbox() is not None
    )


def quote(path: Path, text: str = WELSH, **kwargs: object) -> Path:
    """A quote card with sensible defaults."""
    args: dict[str, object] = {"perspective_label": "volunteer", "colour": "#1f4e79"}
    args.update(kwargs)
    return cards.render_quote_card(path, text=text, **args)  # type: ignore[arg-type]


def audio(path: Path, **kwargs: object) -> Path:
    """An audio card with sensible defaults."""
    args: dict[str, object] = {
        "perspective_label": "front-line staff",
        "colour": "#2e7d32",
        "prompt": "Beth fyddech chi'n ei newid yfory?",
    }
    args.update(kwargs)
    return cards.render_audio_card(path, **args)  # type: ignore[arg-type]


def title(path: Path, **kwargs: object) -> Path:
    """A title card with sensible defaults."""
    args: dict[str, object] = {"title": "Whose Shoes? Caerdydd", "subtitle": "In the shoes of…"}
    args.update(kwargs)
    return cards.render_title_card(path, **args)  # type: ignore[arg-type]


RENDERERS: dict[str, Callable[..., Path]] = {"quote": quote, "audio": audio, "title": title}


# --- fonts and Welsh ------------------------------------------------------------------------


@pytest.mark.parametrize("bold", [False, True])
@pytest.mark.parametrize("letter", list(WELSH_LETTERS))
def test_bundled_fonts_really_have_welsh_letters(letter: str, bold: bool) -> None:
    font = typesetting.load_font(48, bold=bold)
    missing = font.getmask("\ue000")  # the .notdef box every unknown character falls back to
    mask = font.getmask(letter)
    left, top, right, bottom = font.getbbox(letter)
    assert right > left and bottom > top
    assert (mask.size, bytes(mask)) != (missing.size, bytes(missing))
    # The accent is drawn: the letter reaches higher than its bare base letter.
    base_letter = unicodedata.normalize("NFD", letter)[0]
    assert base_letter != letter
    assert top < font.getbbox(base_letter)[1]


def test_bundled_fonts_and_licence_are_present() -> None:
    assert (typesetting.FONT_DIR / "DejaVuSans.ttf").stat().st_size > 100_000
    assert (typesetting.FONT_DIR / "DejaVuSans-Bold.ttf").stat().st_size > 100_000
    assert "Bitstream" in (typesetting.FONT_DIR / "LICENSE-DejaVu.txt").read_text(encoding="utf-8")


def test_welsh_card_draws_the_accents(tmp_path: Path) -> None:
    welsh = quote(tmp_path / "welsh.png", WELSH)
    replaced = quote(tmp_path / "replaced.png", "D?r, t?, ? chroeso — ???")
    bare = quote(tmp_path / "bare.png", "Dwr, ty, a chroeso — wya")
    assert pixels_differ(welsh, replaced)
    assert pixels_differ(welsh, bare)


def test_decomposed_welsh_renders_like_precomposed(tmp_path: Path) -> None:
    decomposed = "Dw\u0302r, ty\u0302, a\u0302 chroeso — w\u0302y\u0302a\u0302"
    assert decomposed != WELSH
    a = quote(tmp_path / "nfc.png", WELSH).read_bytes()
    b = quote(tmp_path / "nfd.png", decomposed).read_bytes()
    assert a == b


def test_characters_the_font_lacks_are_left_out_not_drawn_as_boxes(tmp_path: Path) -> None:
    plain = quote(tmp_path / "plain.png", "Diolch yn fawr").read_bytes()
    odd = quote(tmp_path / "odd.png", "Diolch\u200d yn \ue000fawr 中").read_bytes()
    assert plain == odd


# --- cards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(RENDERERS))
@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (1920, 1080)])
def test_cards_are_png_of_the_requested_size(
    tmp_path: Path, kind: str, size: tuple[int, int]
) -> None:
    out = RENDERERS[kind](tmp_path / "card.png", size=size)
    assert out == tmp_path / "card.png"
    with Image.open(out) as im:
        assert (im.format, im.size, im.mode) == ("PNG", size, "RGB")
    assert not list(tmp_path.glob("*.tmp"))


def test_default_card_size_is_720p(tmp_path: Path) -> None:
    with Image.open(quote(tmp_path / "card.png")) as im:
        assert im.size == (1280, 720)


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_cards_are_deterministic(tmp_path: Path, kind: str) -> None:
    first = RENDERERS[kind](tmp_path / "a.png").read_bytes()
    second = RENDERERS[kind](tmp_path / "b.png").read_bytes()
    assert first == second


@pytest.mark.parametrize(
    ("background", "expected"),
    [
        ("#f5d000", typesetting.NEAR_BLACK),  # Whose Shoes? yellow
        ("#ffffff", typesetting.NEAR_BLACK),
        ("#8fd3ff", typesetting.NEAR_BLACK),
        ("#000000", typesetting.WHITE),
        ("#1f4e79", typesetting.WHITE),
        ("#7b2d8e", typesetting.WHITE),
        ("#d32f2f", typesetting.WHITE),
    ],
)
def test_text_colour_is_the_one_with_more_contrast(background: str, expected: tuple) -> None:
    rgb = typesetting.parse_colour(background)
    assert typesetting.text_colour_for(rgb) == expected
    other = typesetting.WHITE if expected == typesetting.NEAR_BLACK else typesetting.NEAR_BLACK
    assert typesetting.contrast_ratio(expected, rgb) > typesetting.contrast_ratio(other, rgb)


@pytest.mark.parametrize(
    ("background", "ink"), [("#f5d000", (20, 20, 20)), ("#1f4e79", (255,) * 3)]
)
def test_card_text_is_drawn_in_the_contrasting_colour(
    tmp_path: Path, background: str, ink: tuple[int, int, int]
) -> None:
    card = load(quote(tmp_path / "card.png", "Gwrando", colour=background))
    colours = {rgb for _, rgb in card.getcolors(maxcolors=100_000)}
    assert ink in colours
    assert typesetting.parse_colour(background) in colours


def test_wcag_numbers() -> None:
    assert typesetting.contrast_ratio(typesetting.WHITE, (0, 0, 0)) == pytest.approx(21.0)
    assert typesetting.relative_luminance((255, 255, 255)) == pytest.approx(1.0)
    assert typesetting.relative_luminance((0, 0, 0)) == 0.0


@pytest.mark.parametrize("colour", ["blue", "#fff", "1f4e79", "#1f4e7g", "#1f4e7900", ""])
def test_bad_colour_is_a_card_error(tmp_path: Path, colour: str) -> None:
    with pytest.raises(CardError, match="is not a colour"):
        quote(tmp_path / "card.png", colour=colour)


@pytest.mark.parametrize("text", ["", "   \n  ", "\u200d"])
def test_quote_card_needs_text(tmp_path: Path, text: str) -> None:
    with pytest.raises(CardError, match="needs some text"):
        quote(tmp_path / "card.png", text)
    assert not (tmp_path / "card.png").exists()


BORDER = 56  # margins are 72 px at 1280x720; nothing may be drawn in the outer 56 px


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("quote", {"text": LONG_TEXT}),
        ("quote", {"text": "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch" * 8}),
        ("quote", {"text": "A\n\n\nB\n" * 40}),
        ("quote", {"text": "Short", "name": "Siân " * 40}),
        ("quote", {"text": LONG_TEXT, "colour": "#f5d000", "size": (640, 360)}),
        ("audio", {"prompt": LONG_TEXT, "perspective_label": "commissioner or government " * 5}),
        ("title", {"title": LONG_TEXT, "subtitle": LONG_TEXT}),
    ],
)
def test_long_text_stays_inside_the_margins(tmp_path: Path, kind: str, kwargs: dict) -> None:
    out = RENDERERS[kind](tmp_path / "card.png", **kwargs)
    card = load(out)
    width, height = card.size
    border = round(BORDER * min(width / 1280, height / 720))
    background = card.getpixel((0, 0))
    strips = [
        (0, 0, width, border),
        (0, height - border, width, height),
        (0, 0, border, height),
        (width - border, 0, width, height),
    ]
    for box in strips:
        strip = card.crop(box)
        assert strip.getcolors() == [(strip.width * strip.height, background)], box
    # ...and something was drawn inside.
    assert len(card.getcolors(maxcolors=100_000)) > 2


@pytest.mark.parametrize(
    ("text", "truncated"),
    [("Be kind.", False), ("Listen first. " * 30, False), (LONG_TEXT, True)],
)
def test_fit_text_shrinks_then_truncates(text: str, truncated: bool) -> None:
    block = typesetting.fit_text(text, width=900, height=420, max_size=84, min_size=30)
    assert block.truncated is truncated
    assert block.height <= 420
    assert all(block.font.getlength(line) <= 900 for line in block.lines)
    if truncated:
        assert block.font.size == 30
        assert block.lines[-1].endswith("…")
    elif len(text) < 20:
        assert block.font.size == 84


def test_fit_text_gets_smaller_as_text_gets_longer() -> None:
    sizes = [
        typesetting.fit_text("word " * n, width=900, height=420, max_size=84, min_size=30).font.size
        for n in (2, 20, 60, 120)
    ]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] > sizes[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one two", ["one two"]),
        ("one two three", ["one two", "three"]),
        ("one two three four", ["one two", "three four"]),
        ("  one   two  ", ["one two"]),
        ("one\ntwo", ["one", "two"]),
        ("one\n\n\ntwo", ["one", "two"]),
        ("", []),
    ],
)
def test_wrap_text(text: str, expected: list[str]) -> None:
    font = typesetting.load_font(40)
    width = max(font.getlength("one two"), font.getlength("three four")) + 1
    assert typesetting.wrap_text(text, font, width) == expected


def test_wrap_text_breaks_a_word_wider_than_the_box() -> None:
    font = typesetting.load_font(40)
    lines = typesetting.wrap_text("x" * 200, font, 300)
    assert "".join(lines) == "x" * 200
    assert len(lines) > 1
    assert all(font.getlength(line) <= 300 for line in lines)


@pytest.mark.parametrize("size", [(100, 50), (40_000, 2_000)])
def test_absurd_card_sizes_are_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    with pytest.raises(CardError, match="too small or too large"):
        quote(tmp_path / "card.png", size=size)


# --- safe opening ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB")]
)
def test_allowed_images_open(tmp_path: Path, fmt: str, mode: str) -> None:
    path = write(tmp_path / "in.img", Image.new(mode, (64, 48), "red"), fmt)
    image = images.open_image_safely(path)
    assert (image.size, image.mode) == ((64, 48), mode)
    assert image.info == {}


def test_phone_multi_picture_jpeg_counts_as_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    Image.new("RGB", (32, 24), "red").save(
        path, "MPO", save_all=True, append_images=[Image.new("RGB", (32, 24), "blue")]
    )
    with Image.open(path) as im:
        assert im.format == "MPO"
    assert images.open_image_safely(path).size == (32, 24)
    with pytest.raises(UnsafeImage, match="not a PNG image"):
        images.open_image_safely(path, allowed_formats=("PNG",))


def test_palette_png_with_transparency_opens_as_rgba(tmp_path: Path) -> None:
    path = write(tmp_path / "p.png", Image.new("P", (8, 8), 0), "PNG", transparency=0)
    assert images.open_image_safely(path).mode == "RGBA"


def make_gif(path: Path) -> None:
    Image.new("RGB", (8, 8)).save(path, "GIF")


def make_bmp(path: Path) -> None:
    Image.new("RGB", (8, 8)).save(path, "BMP")


def make_tiff(path: Path) -> None:
    Image.new("RGB", (8, 8)).save(path, "TIFF")


def make_text(path: Path) -> None:
    path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n", encoding="utf-8")


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("make", [make_gif, make_bmp, make_tiff, make_text, make_empty])
def test_other_formats_are_refused(tmp_path: Path, make: Callable[[Path], None]) -> None:
    path = tmp_path / "upload.png"  # the name claims PNG; the content decides
    make(path)
    with pytest.raises(UnsafeImage) as caught:
        images.open_image_safely(path)
    assert caught.value.message == "This file is not a PNG, JPEG or WebP image."


def test_a_missing_file_is_not_called_damaged(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        images.open_image_safely(tmp_path / "gone.png")


def test_allowed_formats_can_be_narrowed(tmp_path: Path) -> None:
    path = write(tmp_path / "frame.png", Image.new("RGB", (8, 8)), "JPEG")
    with pytest.raises(UnsafeImage, match="not a PNG image"):
        images.open_image_safely(path, allowed_formats=("PNG",))


def test_max_pixels_may_only_tighten_the_policy(tmp_path: Path) -> None:
    path = write(tmp_path / "in.png", Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(ValueError, match="only tighten"):
        images.open_image_safely(path, max_pixels=images.PIXEL_LIMIT + 1)


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to decode pixel data fail the test loudly."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize(
    ("size", "declared"),
    [
        ((7_000, 7_000), None),  # 49 Mpx: over our limit, under twice Pillow's
        ((20_000, 20_000), None),  # 400 Mpx, a few kB on disk
        ((16, 16), (30_000, 30_000)),  # a tiny PNG whose header lies
    ],
)
def test_image_bombs_are_refused_before_decoding(
    tmp_path: Path,
    no_decoding: None,
    size: tuple[int, int],
    declared: tuple[int, int] | None,
) -> None:
    data = png_bytes(*size)
    if declared:
        data = with_declared_size(data, *declared)
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    assert path.stat().st_size < 2_000_000
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        with pytest.raises(UnsafeImage) as caught:
            images.open_image_safely(path)
    assert caught.value.message == "This image is too large to open safely."
    assert not leaked  # Pillow's bomb warning is turned into the refusal, not printed


def test_max_pixels_is_checked_from_the_header(tmp_path: Path, no_decoding: None) -> None:
    path = tmp_path / "small.png"
    path.write_bytes(png_bytes(100, 100))
    with pytest.raises(UnsafeImage, match="too large"):
        images.open_image_safely(path, max_pixels=5_000)


def test_image_just_under_the_limit_opens(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    path.write_bytes(png_bytes(100, 50))
    assert images.open_image_safely(path, max_pixels=5_000).size == (100, 50)


def truncated_png() -> bytes:
    data = io.BytesIO()
    noise((200, 200)).save(data, "PNG")
    return data.getvalue()[: len(data.getvalue()) // 2]


def truncated_jpeg() -> bytes:
    data = io.BytesIO()
    noise((200, 200)).save(data, "JPEG")
    return data.getvalue()[: len(data.getvalue()) // 2]


def corrupt_png() -> bytes:
    data = io.BytesIO()
    noise((64, 64)).save(data, "PNG")
    raw = bytearray(data.getvalue())
    raw[60:200] = b"\xff" * 140  # inside the compressed pixel data
    return bytes(raw)


def header_only_png() -> bytes:
    return png_bytes(16, 16)[:33]


def garbage_jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\x00" * 64


def garbage_webp() -> bytes:
    return b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 64


@pytest.mark.parametrize(
    "make",
    [truncated_png, truncated_jpeg, corrupt_png, header_only_png, garbage_jpeg, garbage_webp],
)
def test_damaged_images_are_refused(tmp_path: Path, make: Callable[[], bytes]) -> None:
    path = tmp_path / "damaged.img"
    path.write_bytes(make())
    with pytest.raises(UnsafeImage) as caught:
        images.open_image_safely(path)
    assert caught.value.message == "This image is damaged and cannot be read."


def test_a_cut_off_image_is_refused_whatever_another_library_set(tmp_path: Path) -> None:
    """Pillow's "accept cut-off images" is process-wide, and WeasyPrint (the record of the
    day) turns it on when imported: the image door turns it off for itself."""
    from PIL import ImageFile

    path = tmp_path / "cut-off.png"
    path.write_bytes(truncated_png())
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as WeasyPrint's import leaves it
    try:
        with pytest.raises(UnsafeImage):
            images.open_image_safely(path)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


# --- stripped saving ------------------------------------------------------------------------


def assert_no_metadata(path: Path) -> None:
    raw = path.read_bytes()
    for marker in (b"Exif", b"http://ns.adobe.com/xap", b"iCCP", b"ICC_PROFILE", b"ICCP"):
        assert marker not in raw, marker
    for secret in (b"SecretCam", b"secret comment", b"tEXt", b"zTXt", b"iTXt", b"tIME"):
        assert secret not in raw, secret
    with Image.open(path) as im:
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(im.info)
        assert len(im.getexif()) == 0


def image_full_of_metadata() -> Image.Image:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (51.0, 29.0, 0.0)
    image = Image.new("RGB", (64, 48), "teal")
    image.info.update(
        {
            "exif": exif.tobytes(),
            "icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
            "comment": b"secret comment",
            "xmp": b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>http://ns.adobe.com/xap/1.0/</x:xmpmeta>",
            "dpi": (300, 300),
        }
    )
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "jpg"])
def test_save_stripped_leaves_all_metadata_behind(tmp_path: Path, fmt: str) -> None:
    image = image_full_of_metadata()
    # Plain Pillow would carry some of it over: the test is only worth something if so.
    leaky = tmp_path / "leaky"
    image.save(leaky, "JPEG" if fmt == "jpg" else fmt, exif=image.info["exif"])
    assert b"SecretCam" in leaky.read_bytes()

    out = images.save_stripped(image, tmp_path / "out", format=fmt)
    assert_no_metadata(out)
    assert load(out).size == (64, 48)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_save_stripped_is_deterministic(tmp_path: Path, fmt: str) -> None:
    image = noise((120, 80))
    a = images.save_stripped(image, tmp_path / "a", format=fmt).read_bytes()
    b = images.save_stripped(image_copy_with_metadata(image), tmp_path / "b", format=fmt)
    assert a == b.read_bytes()


def image_copy_with_metadata(image: Image.Image) -> Image.Image:
    copy = image.copy()
    copy.info.update(image_full_of_metadata().info)
    return copy


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGBA"), ("PNG", "P"), ("WEBP", "L")])
def test_save_stripped_converts_modes_the_format_cannot_hold(
    tmp_path: Path, fmt: str, mode: str
) -> None:
    out = images.save_stripped(Image.new(mode, (10, 10)), tmp_path / "out", format=fmt)
    assert load(out).size == (10, 10)


def test_save_stripped_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="use PNG, JPEG or WEBP"):
        images.save_stripped(Image.new("RGB", (4, 4)), tmp_path / "out.gif", format="GIF")


def test_save_stripped_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "poster.jpg"
    target.write_bytes(b"previous poster")

    def fail_half_way(
        self: Image.Image, fp: io.BufferedWriter, *args: object, **kw: object
    ) -> None:
        fp.write(b"half a jpeg")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", fail_half_way)
    with pytest.raises(OSError, match="No space left"):
        images.save_stripped(Image.new("RGB", (4, 4)), target, format="JPEG")
    assert target.read_bytes() == b"previous poster"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poster.jpg"]


# --- posters and thumbnails -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame_size", "poster_size", "thumb_size"),
    [
        ((1920, 1080), (1280, 720), (320, 180)),
        ((1280, 720), (1280, 720), (320, 180)),
        ((640, 360), (640, 360), (320, 180)),  # never enlarged
        ((720, 1280), (405, 720), (320, 569)),  # portrait phone video stays portrait
        ((1080, 1920), (405, 720), (320, 569)),
        ((480, 480), (480, 480), (320, 320)),
    ],
)
def test_poster_and_thumbnail_sizes(
    tmp_path: Path,
    frame_size: tuple[int, int],
    poster_size: tuple[int, int],
    thumb_size: tuple[int, int],
) -> None:
    frame = write(tmp_path / "frame.png", Image.new("RGB", frame_size, "orange"), "PNG")
    poster, thumb = posters.poster_and_thumbnail(frame, tmp_path / "p.jpg", tmp_path / "t.webp")
    assert (poster, thumb) == (tmp_path / "p.jpg", tmp_path / "t.webp")
    with Image.open(poster) as im:
        assert (im.format, im.size) == ("JPEG", poster_size)
    with Image.open(thumb) as im:
        assert (im.format, im.size) == ("WEBP", thumb_size)


def test_poster_from_a_phone_photo_is_upright_and_has_no_exif(tmp_path: Path) -> None:
    # Left half red, right half blue, stored sideways with "rotate 90° clockwise to display".
    photo = Image.new("RGB", (300, 200), "blue")
    photo.paste((255, 0, 0), (0, 0, 150, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x0112] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 29.0, 0.0)
    source = write(tmp_path / "photo.jpg", photo, "JPEG", exif=exif)
    with Image.open(source) as im:  # the input really carries location and orientation
        assert im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert im.getexif()[0x0112] == 6

    poster, thumb = posters.poster_and_thumbnail(source, tmp_path / "p.jpg", tmp_path / "t.webp")
    for out in (poster, thumb):
        assert_no_metadata(out)
    upright = load(poster).convert("RGB")
    assert upright.size == (200, 300)
    top, bottom = upright.getpixel((100, 40)), upright.getpixel((100, 260))
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60  # blue below
    assert load(thumb).size == (320, 480)


def test_poster_from_a_frame_with_alpha(tmp_path: Path) -> None:
    frame = write(tmp_path / "frame.png", Image.new("RGBA", (64, 36), (0, 0, 0, 0)), "PNG")
    poster, _ = posters.poster_and_thumbnail(frame, tmp_path / "p.jpg", tmp_path / "t.webp")
    assert load(poster).mode == "RGB"


def test_poster_and_thumbnail_are_deterministic(tmp_path: Path) -> None:
    frame = write(tmp_path / "frame.png", noise((320, 180)), "PNG")
    first = posters.poster_and_thumbnail(frame, tmp_path / "p1.jpg", tmp_path / "t1.webp")
    second = posters.poster_and_thumbnail(frame, tmp_path / "p2.jpg", tmp_path / "t2.webp")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_poster_refuses_a_bomb_frame(tmp_path: Path) -> None:
    frame = tmp_path / "frame.png"
    frame.write_bytes(png_bytes(20_000, 20_000))
    with pytest.raises(UnsafeImage, match="too large"):
        posters.poster_and_thumbnail(frame, tmp_path / "p.jpg", tmp_path / "t.webp")
    assert not (tmp_path / "p.jpg").exists()


# --- choosing a poster frame ----------------------------------------------------------------


def gradient(size: tuple[int, int] = (160, 90)) -> Image.Image:
    return Image.linear_gradient("L").resize(size).convert("RGB")


@pytest.mark.parametrize(
    ("image", "mostly_black"),
    [
        (Image.new("RGB", (64, 36)), True),
        (Image.new("RGB", (64, 36), (12, 12, 12)), True),
        (Image.new("RGB", (64, 36), (128, 128, 128)), False),
        (gradient(), False),
        (noise((64, 36)), False),
    ],
)
def test_is_mostly_black(image: Image.Image, mostly_black: bool) -> None:
    assert posters.is_mostly_black(image) is mostly_black


def test_is_mostly_black_threshold_and_path(tmp_path: Path) -> None:
    frame = Image.new("RGB", (100, 100))
    frame.paste((255, 255, 255), (0, 0, 100, 10))  # a 10% white caption bar
    path = write(tmp_path / "frame.png", frame, "PNG")
    assert posters.is_mostly_black(path, threshold=0.85) is True
    assert posters.is_mostly_black(path, threshold=0.95) is False


def test_frame_score_ranks_detail_above_flat_frames() -> None:
    black = posters.frame_score(Image.new("RGB", (64, 36)))
    white = posters.frame_score(Image.new("RGB", (64, 36), "white"))
    grey = posters.frame_score(Image.new("RGB", (64, 36), (128, 128, 128)))
    detailed = posters.frame_score(gradient())
    assert black == white == grey == 0.0
    assert 0.3 < detailed <= 1.0


def test_choose_poster_frame(tmp_path: Path) -> None:
    black = write(tmp_path / "0.png", Image.new("RGB", (160, 90)), "PNG")
    flat = write(tmp_path / "1.png", Image.new("RGB", (160, 90), (90, 90, 90)), "PNG")
    detailed = write(tmp_path / "2.png", gradient(), "PNG")
    assert posters.choose_poster_frame([black, flat, detailed]) == detailed
    assert posters.choose_poster_frame([black, flat]) == flat
    with pytest.raises(ValueError, match="no frames"):
        posters.choose_poster_frame([])


# --- timing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kwargs", "seconds"),
    [
        ("", {}, 4.0),
        ("Be kind.", {}, 4.0),
        ("word " * 10, {}, 5.25),  # 10 words at 160 wpm = 3.75 s, + 1.5 s
        ("word " * 20, {}, 9.0),
        ("word " * 36, {}, 15.0),  # 13.5 + 1.5 exactly the maximum
        ("word " * 300, {}, 15.0),
        ("word " * 20, {"wpm": 120}, 11.5),
        ("word " * 20, {"maximum": 8.0}, 8.0),
        ("word", {"minimum": 1.0}, 1.875),
        ("Dŵr,\n tŷ,\t â   chroeso", {"wpm": 60, "maximum": 30.0}, 5.5),
    ],
)
def test_words_to_seconds(text: str, kwargs: dict, seconds: float) -> None:
    assert cards.words_to_seconds(text, **kwargs) == pytest.approx(seconds)


@pytest.mark.parametrize("kwargs", [{"wpm": 0}, {"minimum": 10.0, "maximum": 5.0}])
def test_words_to_seconds_refuses_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        cards.words_to_seconds("hello", **kwargs)


def test_choose_poster_frame_among_images_returns_the_image() -> None:
    frames = [Image.new("RGB", (160, 90)), gradient(), Image.new("RGB", (160, 90), "white")]
    assert posters.choose_poster_frame(frames) is frames[1]


def test_split_frames_cuts_a_strip_into_equal_frames() -> None:
    strip = Image.new("RGB", (30, 4), "black")
    strip.paste((255, 0, 0), (10, 0, 20, 4))
    left, middle, right = posters.split_frames(strip, 3)
    assert [frame.size for frame in (left, middle, right)] == [(10, 4)] * 3
    assert middle.getpixel((5, 2)) == (255, 0, 0)
    assert left.getpixel((9, 2)) == right.getpixel((0, 2)) == (0, 0, 0)
    with pytest.raises(ValueError, match="does not hold 4 frames"):
        posters.split_frames(strip, 4)
