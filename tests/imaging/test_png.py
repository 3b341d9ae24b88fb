"""The PNG encoder for pictures MedPic decoded itself: lossless, valid, and not much larger than Pillow's."""

import io

import numpy as np
import pytest
from PIL import Image

import medpic.imaging.png as png
from medpic.errors import CorruptImage


def _read(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # Pillow checks every chunk's CRC and the zlib stream as it reads
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


def test_a_one_pixel_picture():
    assert _read(png.encode_png(Image.new("RGB", (1, 1), (9, 8, 7)))).getpixel((0, 0)) == (9, 8, 7)


def test_an_empty_picture_is_refused():
    with pytest.raises(CorruptImage, match="empty picture"):
        png.encode_png(Image.new("RGB", (0, 4)))


def test_files_stay_close_to_pillows(cat):
    """Up alone is a good filter for catgraphs: the file is at most a tenth larger than Pillow's
    own at the same zlib level, where it tries every filter on every row."""
    picture = cat.convert("RGB")
    pillow = io.BytesIO()
    picture.save(pillow, "PNG", compress_level=1)
    assert len(png.encode_png(picture)) <= 1.1 * len(pillow.getvalue())


def test_a_large_picture_is_encoded_a_strip_at_a_time():
    """A 50-megapixel scan is 150 MB of RGB: the encoder's own arrays stay near one strip."""
    import tracemalloc

    picture = Image.linear_gradient("L").resize((3000, 3000)).convert("RGB")  # 27 MB, compresses well
    tracemalloc.start()
    try:
        data = png.encode_png(picture)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * png._STRIP_BYTES + 2 * len(data)
    assert np.array_equal(np.asarray(_read(data)), np.asarray(picture))
