"""Bytes to an RGB picture, or a typed error that says why not.

    formats.py   what a file is, from its bytes: sniffing, refusals by name, declared sizes
    decode.py    decode_image(): the real pixels in RGB, or an ImageError with a reason
    quiet.py     what the libraries say while decoding goes to the log, not the terminal
"""

from medpic.imaging.decode import ALLOWED_FORMATS, DecodedImage, decode_image
from medpic.imaging.formats import declared_size, image_extension, refused_format, sniff_format

__all__ = ["ALLOWED_FORMATS", "DecodedImage", "decode_image", "sniff_format", "refused_format", "declared_size",
           "image_extension"]
