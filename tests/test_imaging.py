import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from medpic.errors import CorruptImage, ImageTooLarge, NotAnImage, UnsupportedFormat
from medpic.imaging import decode_image
from tests.conftest import encode


@pytest.mark.parametrize("fmt,params", [
    ("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90}), ("AVIF", {"quality": 90}),
    ("BMP", {}), ("TIFF", {}), ("GIF", {}),
])
def test_allowed_formats_decode_to_the_same_picture(cat, fmt, params):
    small = cat.resize((120, 80))
    decoded = decode_image(encode(small, fmt, **params))
    assert decoded.image.mode == "RGB" and decoded.image.size == (120, 80)
    assert decoded.format == fmt
    diff = np.abs(np.asarray(decoded.image, float) - np.asarray(small, float)).mean()
    assert diff < (25 if fmt == "GIF" else 8), f"{fmt} pixels drifted by {diff}"


def test_ico_takes_the_largest_icon(cat):
    decoded = decode_image(encode(cat.resize((64, 64)), "ICO", sizes=[(16, 16), (64, 64)]))
    assert decoded.format == "ICO" and decoded.image.size == (64, 64)


def test_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    decoded = decode_image(encode(rgba, "PNG"))
    assert decoded.had_alpha
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)
    assert decoded.image.getpixel((0, 0)) == (0, 0, 255)


def test_palette_with_transparent_index_is_white_not_black():
    p = Image.new("P", (8, 8), 0)
    p.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    p.putpixel((1, 1), 1)
    decoded = decode_image(encode(p, "PNG", transparency=0))
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.image.getpixel((1, 1)) == (200, 10, 10)


def test_cmyk_jpeg_comes_out_in_the_right_colours():
    red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    r, g, b = decode_image(encode(red, "JPEG", quality=95)).image.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60, (r, g, b)


def test_sixteen_bit_is_stretched_not_darkened():
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)  # 12 bits used of 16
    decoded = decode_image(encode(Image.fromarray(ramp), "PNG"))
    arr = np.asarray(decoded.image)
    assert arr.max() == 255 and arr.min() == 0
    assert np.all(arr[..., 0] == arr[..., 1])


def test_grayscale_becomes_three_equal_channels(cat):
    decoded = decode_image(encode(cat.convert("L"), "PNG"))
    arr = np.asarray(decoded.image)
    assert arr.shape[-1] == 3 and np.array_equal(arr[..., 0], arr[..., 2])


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    decoded = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.image.size == (20, 40)
    assert (decoded.width, decoded.height) == (40, 20)  # as stored


def test_animation_gives_its_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in ((250, 0, 0), (0, 0, 250))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    decoded = decode_image(data)
    assert decoded.frames == 2
    r, g, b = decoded.image.getpixel((5, 5))
    assert r > 200 and b < 50


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_are_errors_never_grey_or_black(cat, fmt):
    data = encode(cat, fmt)
    with pytest.raises(CorruptImage) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.reason.startswith("corrupt image")


def test_damaged_png_checksum_is_an_error(cat):
    data = bytearray(encode(cat.resize((50, 50)), "PNG"))
    data[60:70] = b"\x00" * 10  # inside the image data chunk
    with pytest.raises(CorruptImage):
        decode_image(bytes(data))


@pytest.mark.parametrize("data,reason", [
    (b"", "not an image: empty file"),
    (b"\x00\x01\x02 just bytes" * 20, "not an image: unknown format"),
    (b"<!DOCTYPE html><html><body>403</body></html>", "not an image: looks like HTML"),
    (b"%PDF-1.7\n...", "not an image: looks like PDF"),
])
def test_non_images_say_what_they_are(data, reason):
    with pytest.raises(NotAnImage) as info:
        decode_image(data)
    assert info.value.reason == reason


def test_svg_is_refused_by_name():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    with pytest.raises(UnsupportedFormat) as info:
        decode_image(svg)
    assert info.value.reason == "unsupported format: SVG"


def test_formats_outside_the_allow_list_are_refused_by_name(cat):
    with pytest.raises(UnsupportedFormat) as info:
        decode_image(encode(cat, "PPM"))
    assert info.value.format_name == "PPM"


def test_dicom_is_refused_by_name():
    from pydicom.data import get_testdata_file

    with open(get_testdata_file("CT_small.dcm"), "rb") as f:
        with pytest.raises(UnsupportedFormat, match="DICOM"):
            decode_image(f.read())


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_from_the_header():
    with pytest.raises(ImageTooLarge) as info:
        decode_image(_png_claiming(60_000, 60_000))
    assert "over the limit" in info.value.reason


def test_pixel_cap_is_configurable(cat):
    data = encode(cat.resize((100, 100)), "PNG")
    assert decode_image(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageTooLarge) as info:
        decode_image(data, max_pixels=9_999)
    assert info.value.reason == "too large: 100x100 pixels is over the limit of 9,999"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
def test_random_damage_is_always_a_typed_error_or_a_real_picture(cat, fmt):
    """Regression: a TIFF with a damaged directory raised TypeError and aborted whole scans."""
    import random

    from medpic.errors import ImageError

    clean = encode(cat.resize((64, 48)), fmt, **({"save_all": True, "append_images": [cat.resize((64, 48))]}
                                                  if fmt in ("TIFF", "GIF") else {}))
    rng = random.Random(fmt)
    for _ in range(150):
        data = bytearray(clean)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            decoded = decode_image(bytes(data))
        except ImageError:
            continue
        assert decoded.image.mode == "RGB" and decoded.image.size[0] > 0
