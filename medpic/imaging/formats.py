"""What a file is, from its own bytes: payloads served in place of images, formats refused by
name (by magic bytes and header fields, before any third-party parser runs), and the size a header
declares (read before decoding, so a decompression bomb is refused without being expanded).
"""

from __future__ import annotations

import struct

from PIL import TiffImagePlugin

from medpic.imaging.quiet import Libtiff


__all__ = ["sniff_format", "image_extension", "refused_format", "declared_size"]


def sniff_format(data: bytes) -> str | None:
    """Name non-image payloads that are often served where an image was expected."""
    if data[128:132] == b"DICM":
        return "DICOM"
    head = data[:512].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "PDF"
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "HTML"
    return None


def image_extension(data: bytes) -> str:
    """A file extension from the bytes themselves (a URL's or a file name's may lie)."""
    if sniff_format(data) == "SVG":
        return "svg"
    signatures = [(b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"RIFF", "webp"),
                  (b"BM", "bmp"), (b"II*\x00", "tif"), (b"MM\x00*", "tif"), (b"\x00\x00\x01\x00", "ico")]
    for magic, ext in signatures:
        if data.startswith(magic):
            return ext
    return "avif" if data[4:12] in (b"ftypavif", b"ftypavis") else "bin"


# -- formats refused by their header ------------------------------------------------------------

# ISO-BMFF ``ftyp`` brands. AVIF decodes (Pillow 12 has libavif); the HEIF family (HEVC-coded
# HEIC and the bare HEIF structure brands) does not.
_AVIF_BRANDS = frozenset({b"avif", b"avis", b"avio"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                          b"mif1", b"mif2", b"msf1", b"avci", b"avcs", b"jpeg", b"jpgs"})

# TIFF compression codes (tag 259) by name, for a reason a person can act on.
_TIFF_COMPRESSIONS = {
    2: "CCITT RLE", 3: "CCITT Group 3", 4: "CCITT Group 4", 5: "LZW", 6: "old-style JPEG", 7: "JPEG",
    8: "Deflate", 32771: "raw 16-bit", 32773: "PackBits", 32809: "ThunderScan", 32946: "Deflate",
    33003: "JPEG 2000", 33005: "JPEG 2000", 34676: "SGILog", 34677: "SGILog24", 34712: "JPEG 2000",
    34887: "LERC", 34892: "lossy JPEG", 34925: "LZMA", 50000: "Zstandard", 50001: "WebP",
    50002: "JPEG XL", 52546: "JPEG XL",
}


def refused_format(data: bytes) -> str | None:
    """The name of a format we refuse, told by magic bytes and header fields alone; else None.

    The name is the ``UnsupportedFormat`` reason's: ``PSD``, ``EPS``, ``HEIF``, ``JPEG XL``,
    ``DDS (DXGI format 93)``, ``TIFF with WebP compression``. Nothing here parses more than a
    header, and no third-party parser runs on a file this refuses.
    """
    if data.startswith(b"8BPS"):  # Photoshop PSD and PSB
        return "PSD"
    if data[:32].lstrip().startswith(b"%!PS") or data.startswith(b"\xc5\xd0\xd3\xc6"):  # DOS EPS binary header
        return "EPS"
    if data.startswith(b"DDS "):
        variant = _dds_variant(data)
        return f"DDS ({variant})" if variant else "DDS"
    if data.startswith(b"\xff\x0a") or data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "JPEG XL"
    brands = _ftyp_brands(data)
    if brands and not brands & _AVIF_BRANDS and brands & _HEIF_BRANDS:
        return "HEIF"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        code = _tiff_compression(data)
        if code is not None and _tiff_codec_missing(code):
            name = _TIFF_COMPRESSIONS.get(code)
            return f"TIFF with {name} compression" if name else f"TIFF with compression scheme {code}"
    return None


def _ftyp_brands(data: bytes) -> frozenset[bytes]:
    """Major and compatible brands of a leading ISO-BMFF ``ftyp`` box (HEIF, AVIF, MP4, ...)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return frozenset()
    size = int.from_bytes(data[:4], "big")
    end = min(size if size >= 16 else 16, len(data), 1024)
    return frozenset([data[8:12]] + [data[i:i + 4] for i in range(16, end - 3, 4)])


def _dds_variant(data: bytes) -> str | None:
    """What a DDS header says its pixels are: a DXGI format, a FourCC, or an uncompressed layout."""
    if len(data) < 128:
        return None
    flags, fourcc, bits = struct.unpack_from("<I4sI", data, 80)  # DDS_PIXELFORMAT.dwFlags, dwFourCC, bit count
    if flags & 0x4:  # DDPF_FOURCC
        if fourcc == b"DX10":
            return f"DXGI format {struct.unpack_from('<I', data, 128)[0]}" if len(data) >= 132 else "DX10"
        text = fourcc.rstrip(b"\x00 ")
        if text and all(32 < c < 127 for c in text):
            return text.decode("ascii")
        return f"D3D format {int.from_bytes(fourcc, 'little')}"
    for flag, kind in ((0x40, "RGB"), (0x20000, "luminance"), (0x200, "YUV"), (0x2, "alpha")):
        if flags & flag:
            return f"uncompressed {bits}-bit {kind}"
    return None


def _tiff_compression(data: bytes) -> int | None:
    """The compression code (tag 259) of a TIFF's first directory; 1 (none) when the tag is absent;
    None when the header cannot be read (the decoder will say)."""
    tags = _tiff_first_ifd(data, (259,))
    return None if tags is None else tags.get(259, 1)


def _tiff_first_ifd(data: bytes, wanted: tuple[int, ...]) -> dict[int, int] | None:
    """The SHORT or LONG values of the ``wanted`` tags of a TIFF's first directory, classic or
    BigTIFF; None when the header cannot be read."""
    order = "<" if data[:2] == b"II" else ">"
    found: dict[int, int] = {}
    try:
        if data[2:4] in (b"*\x00", b"\x00*"):  # classic TIFF: 4-byte offsets, 12-byte entries
            (offset,) = struct.unpack_from(order + "I", data, 4)
            (count,) = struct.unpack_from(order + "H", data, offset)
            entry, first, value_at = 12, offset + 2, 8  # an entry: tag, type, count, value
        else:  # BigTIFF: 8-byte offsets, 20-byte entries
            (offset,) = struct.unpack_from(order + "Q", data, 8)
            (count,) = struct.unpack_from(order + "Q", data, offset)
            entry, first, value_at = 20, offset + 8, 12
        for i in range(min(count, 4096)):
            at = first + i * entry
            tag, kind = struct.unpack_from(order + "HH", data, at)
            if tag in wanted and kind in (3, 4):  # SHORT, LONG
                found[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), data, at + value_at)[0]
    except struct.error:
        return None
    return found


def _tiff_codec_missing(code: int) -> bool:
    """True when we know this TIFF compression cannot be decoded here: Pillow has no name for it,
    or the libtiff Pillow was built with lacks the codec (``TIFFIsCODECConfigured``)."""
    if code == 1:
        return False
    if code not in TiffImagePlugin.COMPRESSION_INFO:
        return True
    libtiff = Libtiff.get()
    return libtiff is not None and not libtiff.has_codec(code)


# -- the size a header declares ----------------------------------------------------------------


def declared_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as the header declares them, read without any third-party parser, for
    the formats we decode (PNG, GIF with its first frame's extent, JPEG and MPO, BMP, WebP, TIFF,
    AVIF); None for others or when the header cannot be read (Pillow's parser then tells)."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack_from(">II", data, 16)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif_size(data)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg_size(data)
        if data.startswith(b"BM") and len(data) >= 26:
            if struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 core header: 16-bit sides
                return struct.unpack_from("<HH", data, 18)
            width, height = struct.unpack_from("<ii", data, 18)
            return abs(width), abs(height)  # negative height: stored top-down
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            tags = _tiff_first_ifd(data, (256, 257))
            return (tags[256], tags[257]) if tags and 256 in tags and 257 in tags else None
        if _ftyp_brands(data) & _AVIF_BRANDS:
            at = data.find(b"ispe", 0, 1 << 16)  # the image spatial extents property
            return struct.unpack_from(">II", data, at + 8) if at > 0 else None
    except struct.error:
        return None
    return None


def _gif_size(data: bytes) -> tuple[int, int] | None:
    """The logical screen, grown to the first frame's extent as Pillow grows it."""
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # past the global colour table
    for _ in range(10_000):
        block = data[at:at + 1]
        if block == b"!":  # an extension: label, then data sub-blocks up to an empty one
            at += 2
            while data[at:at + 1] not in (b"", b"\x00"):
                at += data[at] + 1
            at += 1
        elif block == b",":
            left, top, frame_width, frame_height = struct.unpack_from("<HHHH", data, at + 1)
            return max(width, left + frame_width), max(height, top + frame_height)
        else:
            break
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The first start-of-frame marker's size (MPO: the first picture's)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, at + 5)
            return width, height
        at += 2 + struct.unpack_from(">H", data, at + 2)[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24-bit sides minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":  # lossless: 14-bit sides minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


# -- what the libraries say goes to the log ----------------------------------------------------


