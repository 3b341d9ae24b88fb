"""Minimal image files built byte by byte: bombs that declare huge sizes, TIFFs with a given
compression, DDS and ISO-BMFF headers. Tests build them so that nothing third-party is needed."""

import struct
import zlib


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb's calling card."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")

def gif_claiming(width: int, height: int) -> bytes:
    """A 40-byte GIF whose screen and only frame claim a huge size (Pillow's bomb test's shape)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b";"

def tiff(compression: int, strip: bytes = b"\x00" * 256, *, size: int = 16, samples: int = 1,
          order: str = "<", extra: tuple[tuple[int, int, int, int], ...] = ()) -> bytes:
    """A one-strip 8-bit TIFF built by hand, declaring whatever compression it is told."""
    entries = sorted([(256, 4, 1, size), (257, 4, 1, size), (258, 3, 1, 8), (259, 3, 1, compression),
                      (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, samples), (278, 4, 1, size),
                      (279, 4, 1, len(strip)), *extra])
    strip_at = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_at if tag == 273 else value
        packed = struct.pack(order + "HH", value, 0) if kind == 3 else struct.pack(order + "I", value)
        ifd += struct.pack(order + "HHI", tag, kind, count) + packed
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    return magic + struct.pack(order + "I", 8) + ifd + b"\x00" * 4 + strip

def dds(fourcc: bytes, *, dxgi: int | None = None, flags: int = 0x4, bits: int = 0) -> bytes:
    """A DDS header (magic, 124-byte header with its pixel format, optional DX10 header) and a
    few bytes of pixels."""
    pixel_format = struct.pack("<II4sI4I", 32, flags, fourcc, bits, 0, 0, 0, 0)
    caps = struct.pack("<5I", 0x1000, 0, 0, 0, 0)
    header = struct.pack("<7I", 124, 0x1007, 16, 16, 0, 0, 1) + b"\x00" * 44 + pixel_format + caps
    dx10 = struct.pack("<5I", dxgi, 3, 0, 1, 0) if dxgi is not None else b""
    return b"DDS " + header + dx10 + b"\x00" * 64

def ftyp(major: bytes, *compatible: bytes) -> bytes:
    box = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(box)) + b"ftyp" + box + struct.pack(">I", 8) + b"meta"
