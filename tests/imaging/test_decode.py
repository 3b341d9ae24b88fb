import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.image_files import dds, ftyp, gif_claiming, png_claiming, tiff
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





def test_decompression_bomb_is_refused_from_the_header():
    with pytest.raises(ImageTooLarge) as info:
        decode_image(png_claiming(60_000, 60_000))
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


# -- point 8: a bomb's row says how large it claimed to be --------------------------------------





@pytest.mark.parametrize("data", [png_claiming(60_000, 60_000), gif_claiming(60_000, 60_000)],
                         ids=["png", "gif"])
def test_bomb_is_refused_with_its_declared_size(data):
    with pytest.raises(ImageTooLarge) as info:
        decode_image(data)
    assert (info.value.width, info.value.height) == (60_000, 60_000)
    assert info.value.reason == "too large: 60000x60000 pixels is over the limit of 50,000,000"


def test_a_bomb_that_would_allocate_inside_pillow_costs_nothing():
    """A GIF whose first frame asks to be disposed to background: Pillow fills that buffer inside
    Image.open, so the size must be read (and refused) before Pillow sees the file."""
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/status"):
        pytest.skip("peak memory is read from /proc (Linux)")
    script = (
        "import struct\n"
        "from medpic.errors import ImageTooLarge\n"
        "from medpic.imaging import decode_image\n"
        "screen = b'GIF89a' + struct.pack('<HHBBB', 60000, 60000, 0, 0, 0)\n"
        "control = b'\\x21\\xf9\\x04\\x08\\x00\\x00\\x00\\x00'\n"
        "frame = b',' + struct.pack('<HHHHB', 0, 0, 60000, 60000, 0) + b'\\x02\\x02\\x44\\x01\\x00'\n"
        "try:\n"
        "    decode_image(screen + control + frame + b';')\n"
        "except ImageTooLarge as exc:\n"
        "    print(exc.width, exc.height)\n"
        "status = open('/proc/self/status').read()  # VmHWM: this program's peak, not its parent's\n"
        "print(int(status.split('VmHWM:')[1].split()[0]) // 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    size, peak_mb = proc.stdout.splitlines()
    assert size == "60000 60000"
    assert int(peak_mb) < 500, f"peak RSS {peak_mb} MB"


def test_a_cap_above_pillows_own_guard_is_named_honestly():
    """Pillow's guard (179 MP) stays on as a second line; where it, not our cap, refused, the row
    names its limit, with the declared size either way."""
    from PIL import Image

    with pytest.raises(ImageTooLarge) as info:
        decode_image(png_claiming(20_000, 20_000), max_pixels=300_000_000)
    assert (info.value.width, info.value.height, info.value.max_pixels) == (20_000, 20_000, 300_000_000)

    pillow_limit = 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLarge) as info:  # under our cap, over Pillow's: Pillow's guard held
        decode_image(png_claiming(15_000, 15_000), max_pixels=300_000_000)
    assert (info.value.width, info.value.height, info.value.max_pixels) == (15_000, 15_000, pillow_limit)


@pytest.mark.parametrize("fmt,params", [
    ("PNG", {}), ("GIF", {"save_all": True, "append_images": None, "comment": b"c" * 600}),
    ("JPEG", {"progressive": True}), ("JPEG", {"icc_profile": b"x" * 5000}),
    ("MPO", {"save_all": True, "append_images": None}), ("BMP", {}), ("WEBP", {}), ("WEBP", {"lossless": True}),
    ("WEBP", {"save_all": True, "append_images": None}), ("TIFF", {}), ("AVIF", {}),
])
def test_declared_size_agrees_with_pillow(cat, fmt, params):
    from PIL import Image

    from medpic.imaging import declared_size

    small = cat.resize((123, 45))
    if "append_images" in params:
        params = {**params, "append_images": [small.rotate(180)]}
    data = encode(small, fmt, **params)
    assert tuple(declared_size(data)) == Image.open(io.BytesIO(data)).size == (123, 45)


# -- point 10: every refusal names the format or the missing feature ----------------------------











@pytest.mark.parametrize("data,reason", [
    (dds(b"DX10", dxgi=93), "unsupported format: DDS (DXGI format 93)"),
    (dds(b"DX10", dxgi=98), "unsupported format: DDS (DXGI format 98)"),
    (dds(b"DXT1"), "unsupported format: DDS (DXT1)"),
    (dds(b"\x00\x00\x00\x00", flags=0x40, bits=24), "unsupported format: DDS (uncompressed 24-bit RGB)"),
    (b"8BPS\x00\x01" + bytes(6) + struct.pack(">HIIHH", 3, 128, 128, 8, 3) + bytes(40), "unsupported format: PSD"),
    (b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 0, 0, 0, 3, 99), "unsupported format: PSD"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%Title: no bounding box\n%%EndComments\nshowpage\n", "unsupported format: EPS"),
    (b"\xc5\xd0\xd3\xc6" + struct.pack("<6I", 32, 40, 0, 0, 0, 0) + b"\xff\xff" + b"%!PS-Adobe-3.0 EPSF-3.0\n" * 2,
     "unsupported format: EPS"),
    (ftyp(b"heic", b"mif1", b"heic"), "unsupported format: HEIF"),
    (ftyp(b"mif1", b"heic", b"miaf"), "unsupported format: HEIF"),
    (ftyp(b"heix", b"mif1"), "unsupported format: HEIF"),
    (b"\xff\x0a" + b"\x00" * 40, "unsupported format: JPEG XL"),
    (tiff(34887), "unsupported format: TIFF with LERC compression"),
    (tiff(34887, order=">"), "unsupported format: TIFF with LERC compression"),
    (tiff(61234), "unsupported format: TIFF with compression scheme 61234"),
], ids=["dds-dxgi93", "dds-bc7", "dds-dxt1", "dds-rgb24", "psd", "psd-odd-header", "eps-no-bbox", "eps-dos",
        "heic", "heif-mif1", "heix", "jxl", "tiff-lerc", "tiff-lerc-be", "tiff-unknown-compression"])
def test_refusals_name_the_format_or_the_feature(data, reason):
    with pytest.raises(UnsupportedFormat) as info:
        decode_image(data)
    assert info.value.reason == reason


def test_tiff_with_a_codec_libtiff_lacks_is_unsupported_not_corrupt():
    """Pillow's libtiff is asked (TIFFIsCODECConfigured): today's wheels have no TIFF WebP."""
    from medpic.imaging.quiet import Libtiff

    libtiff = Libtiff.get()
    if libtiff is None or libtiff.has_codec(50001):
        pytest.skip("this Pillow's libtiff decodes WebP-compressed TIFF")
    with pytest.raises(UnsupportedFormat) as info:
        decode_image(tiff(50001, b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40))
    assert info.value.reason == "unsupported format: TIFF with WebP compression"


def test_compressed_tiff_that_libtiff_has_still_decodes():
    data = tiff(8, zlib.compress(bytes(range(256))))
    decoded = decode_image(data)
    assert decoded.format == "TIFF" and decoded.image.getpixel((15, 15)) == (255, 255, 255)


def test_avif_is_not_mistaken_for_heif(cat):
    data = encode(cat.resize((64, 48)), "AVIF")
    assert data[8:12] in (b"avif", b"mif1")
    assert decode_image(data).format == "AVIF"
    from medpic.imaging import refused_format

    assert refused_format(ftyp(b"mif1", b"avif", b"miaf")) is None  # an AVIF by its brands: Pillow decodes


def test_a_tiff_pillow_cannot_set_up_is_a_damaged_tiff_not_a_non_image():
    with pytest.raises(CorruptImage) as info:
        decode_image(tiff(1, samples=65535))
    assert info.value.reason == "corrupt image: unreadable TIFF header"


def test_libtiff_decoder_failure_is_named_not_an_error_code():
    with pytest.raises(CorruptImage) as info:
        decode_image(tiff(8, b"\x00garbage" * 10))
    assert info.value.reason == "corrupt image: damaged TIFF data"


# -- point 11: the libraries' words go to the log, not the terminal -----------------------------


def test_libtiff_messages_go_to_the_log_not_to_stderr(capfd, caplog):
    """libtiff prints from C with fprintf(stderr); capfd sees file descriptor 2 itself."""
    caplog.set_level("INFO", logger="medpic.imaging")
    with pytest.raises(CorruptImage):
        decode_image(tiff(8, b"\x00garbage" * 10))
    assert capfd.readouterr().err == ""
    assert any(r.getMessage().startswith("libtiff: ") for r in caplog.records), caplog.text


def test_pillow_warnings_go_to_the_log_and_still_mark_the_image_corrupt(capfd, caplog):
    caplog.set_level("INFO", logger="medpic.imaging")
    data = tiff(1, extra=((305, 2, 100, 100_000),))  # the Software tag's text lies past the end
    with pytest.raises(CorruptImage, match="Truncated File Read"):
        decode_image(data)
    assert capfd.readouterr().err == ""
    assert "Pillow UserWarning: Truncated File Read" in caplog.text


def test_concurrent_decodes_keep_their_warnings_to_themselves(cat):
    """Regression: catch_warnings is process-wide, so a clean picture decoded beside a TIFF that
    warns was called "corrupt image: Truncated File Read", and warnings leaked to the terminal."""
    import threading
    import warnings

    clean = encode(cat.resize((64, 48)), "JPEG")
    warns = tiff(1, extra=((305, 2, 100, 100_000),))
    before = (warnings.showwarning, list(warnings.filters))
    failures: list[str] = []

    def run(data: bytes, expect_ok: bool) -> None:
        for _ in range(150):
            try:
                decode_image(data)
                if not expect_ok:
                    failures.append("a warning TIFF decoded")
            except CorruptImage as exc:
                if expect_ok:
                    failures.append(exc.reason)

    threads = [threading.Thread(target=run, args=(clean, True)), threading.Thread(target=run, args=(warns, False)),
               threading.Thread(target=run, args=(clean, True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_a_large_jpeg_decodes_at_reduced_scale_to_nearly_the_same_model_input(retina):
    from medpic.model.preprocess import to_input_size

    big = retina.convert("RGB").resize((1800, 1000))
    data = encode(big, "JPEG", quality=92)
    full, reduced = decode_image(data), decode_image(data, reduce_to=224)
    assert (reduced.width, reduced.height) == (full.width, full.height) == (1800, 1000)  # the file's own size
    assert reduced.image.size == (450, 250)  # 1/4 scale: the smallest that keeps both sides >= 224
    drift = np.abs(np.asarray(to_input_size(full.image, 224), float) - np.asarray(to_input_size(reduced.image, 224), float))
    assert drift.mean() < 3, drift.mean()
    small = encode(retina.convert("RGB").resize((300, 300)), "JPEG")
    assert decode_image(small, reduce_to=224).image.size == (300, 300)  # under twice the size: decoded whole
    assert decode_image(encode(big, "PNG"), reduce_to=224).image.size == (1800, 1000)  # JPEG only
