"""MedPic: find medical images on web pages, in PDFs and in piles of files.

The public API is listed in ``__all__``; everything else is internal and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from medpic.errors import (
    CorruptImage,
    ImageError,
    ImageTooLarge,
    InvalidInput,
    MedPicError,
    ModelError,
    ModelNotFound,
    NotAnImage,
    UnsupportedFormat,
)
from medpic.imaging import DecodedImage, decode_image
from medpic.model.classifier import Classifier, Prediction
from medpic.model.preprocess import preprocess
from medpic.report import ReportRow
from medpic.settings import Settings

__all__ = [
    "__version__",
    "Classifier",
    "Prediction",
    "Settings",
    "DecodedImage",
    "decode_image",
    "preprocess",
    "ReportRow",
    "MedPicError",
    "InvalidInput",
    "ImageError",
    "NotAnImage",
    "UnsupportedFormat",
    "ImageTooLarge",
    "CorruptImage",
    "ModelError",
    "ModelNotFound",
]
