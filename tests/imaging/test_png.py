"""The PNG encoder for pictures MedPic decoded itself: lossless, valid, and not much larger than Pillow's."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

import medpic.imaging.png as png
from medpic.errors import CorruptImage
from tests.conftest import encode
from tests.pdf_fixtures import png_idat


def _read(data: bytes, *, ours: bool = True) -> Image.Image:
    """The file read by hand, strictly (Pillow does not check IDAT's CRC), then by Pillow; with
    ``ours``, it is our encoder's (one IDAT, Up on every row) and is un-filtered by hand too."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body, crc = data[at + 8:at + 8 + length], struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, f"{kind} CRC"
        chunks.append((kind, body))
        at += 12 + length
    assert at == len(data) and chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    image = Image.open(io.BytesIO(data))
    image.load()
    if ours:
        assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
        width, height = image.size
        rows = np.frombuffer(zlib.decompress(chunks[1][1]), np.uint8).reshape(height, -1)
        assert (rows[:, 0] == 2).all()  # Up on every row
        pixels = np.cumsum(rows[:, 1:], axis=0, dtype=np.uint8)  # Up undone: a running sum mod 256
        assert np.array_equal(pixels, np.asarray(image).reshape(height, -1))
    return image


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pixels_come_back_exactly(cat, mode):
    picture = cat.convert(mode).crop((3, 5, 203, 136))  # odd sizes: no row lines up with anything
    back = _read(png.encode_png(picture))
    assert back.format == "PNG" and back.mode == mode and back.size == picture.size
    assert np.array_equal(np.asarray(back), np.asarray(picture))


def test_rows_that_cross_strips_are_filtered_against_the_row_above(cat, monkeypatch):
    monkeypatch.setattr(png, "_STRIP_BYTES", 3 * 97 * 7)  # 7 rows a strip
    picture = cat.convert("RGB").resize((97, 60))
    assert np.array_equal(np.asarray(_read(png.encode_png(picture))), np.asarray(picture))


def test_other_modes_are_stored_in_a_mode_png_has(cat):
    bilevel = cat.convert("1")
    assert np.array_equal(np.asarray(_read(png.encode_png(bilevel))), np.asarray(bilevel.convert("L")))
    palette = cat.convert("P")
    assert np.array_equal(np.asarray(_read(png.encode_png(palette))), np.asarray(palette.convert("RGB")))
    clear = palette.copy()
    clear.info["transparency"] = 0
    assert _read(png.encode_png(clear)).mode == "RGBA"


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_deep_pictures_keep_their_sixteen_bits(mode):
    picture = Image.fromarray((np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16)).convert(mode)
    back = _read(png.encode_png(picture), ours=False)
    assert np.array_equal(np.asarray(back, np.int64), np.asarray(picture, np.int64))


def test_a_transparent_colour_and_a_colour_profile_are_kept(cat):
    picture = cat.convert("RGB")
    picture.info["transparency"] = picture.getpixel((0, 0))
    assert _read(png.encode_png(picture), ours=False).info["transparency"] == picture.getpixel((0, 0))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = cat.convert("RGB")
    tagged.info["icc_profile"] = profile
    back = _read(png.encode_png(tagged), ours=False)
    assert back.info["icc_profile"] == profile and np.array_equal(np.asarray(back), np.asarray(tagged))


def test_a_cmyk_picture_becomes_rgb_without_its_cmyk_profile(cat):
    cmyk = cat.convert("CMYK")
    cmyk.info["icc_profile"] = b"a CMYK profile"
    back = _read(png.encode_png(cmyk))
    assert back.mode == "RGB" and "icc_profile" not in back.info
    assert np.array_equal(np.asarray(back), np.asarray(cmyk.convert("RGB")))


def test_a_one_pixel_picture():
    assert _read(png.encode_png(Image.new("RGB", (1, 1), (9, 8, 7)))).getpixel((0, 0)) == (9, 8, 7)


def test_an_empty_picture_is_refused():
    with pytest.raises(CorruptImage, match="empty picture"):
        png.encode_png(Image.new("RGB", (0, 4)))


def test_files_stay_close_to_pillows(cat):
    """Up alone is a good filter for photographs: the file is at most a tenth larger than Pillow's
    own at the same zlib level, where it tries every filter on every row."""
    picture = cat.convert("RGB")
    pillow = io.BytesIO()
    picture.save(pillow, "PNG", compress_level=1)
    assert len(png.encode_png(picture)) <= 1.1 * len(pillow.getvalue())


def test_a_large_picture_is_encoded_a_strip_at_a_time():
    """A 50-megapixel scan is 150 MB of RGB: the encoder's own arrays stay near one strip, and the
    file is built once from its compressed pieces (noise does not compress, so the file is as
    large as the picture, and each extra copy of it would show)."""
    import tracemalloc

    noise = np.random.default_rng(0).integers(0, 256, (1000, 3000, 3), np.uint8)
    picture = Image.fromarray(noise)  # 9 MB
    tracemalloc.start()
    try:
        data = png.encode_png(picture)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) > noise.nbytes
    assert peak < 4 * png._STRIP_BYTES + 2.3 * len(data)  # the pieces and the file, nothing more
    assert np.array_equal(np.asarray(_read(data)), noise)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_rows_compressed_elsewhere_are_copied_not_encoded_again(cat, mode):
    picture = cat.convert(mode).crop((3, 5, 203, 136))
    stream = png_idat(encode(picture, "PNG"))  # Pillow picks a filter per row
    line = 1 + picture.width * len(picture.getbands())
    assert len(set(zlib.decompress(stream)[::line])) > 1  # several filter types, not only Up
    out = png.png_around_rows(picture, stream)
    assert png_idat(out) == stream
    back = _read(out, ours=False)
    assert back.mode == mode and np.array_equal(np.asarray(back), np.asarray(picture))


def test_a_stream_that_is_not_exactly_the_pictures_rows_is_refused(cat):
    picture = cat.convert("RGB").resize((40, 30))
    line = 1 + 40 * 3
    rows = bytearray(zlib.decompress(png_idat(encode(picture, "PNG"))))
    assert png.png_around_rows(picture, zlib.compress(bytes(rows))) is not None
    assert png.png_around_rows(picture.resize((40, 29)), zlib.compress(bytes(rows))) is None  # a row too many
    assert png.png_around_rows(picture, zlib.compress(bytes(rows[:-line]))) is None  # a row short
    assert png.png_around_rows(picture, zlib.compress(bytes(rows)) + b"junk") is None
    assert png.png_around_rows(picture, zlib.compress(bytes(rows))[:-9]) is None  # cut off
    assert png.png_around_rows(picture, b"not zlib at all") is None
    bad = bytearray(rows)
    bad[5 * line] = 7  # no such filter type
    assert png.png_around_rows(picture, zlib.compress(bytes(bad))) is None
    assert png.png_around_rows(picture.convert("RGBA"), zlib.compress(bytes(rows))) is None
