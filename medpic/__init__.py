"""MedPic: find medical images on web pages, in PDFs and in piles of files.

The public API is listed in ``__all__``; everything else is internal and may change.
"""

from __future__ import annotations

from medpic.version import __version__

from medpic import errors as _errors
from medpic.errors import *  # noqa: F403 - the whole error tree, listed once in errors.__all__
from medpic.imaging import DecodedImage, decode_image
from medpic.model.classifier import Classifier, Prediction
from medpic.model.preprocess import preprocess
from medpic.report import ReportRow, Summary
from medpic.scan import JudgeOptions, ScanReport, judge, scan
from medpic.settings import Settings

__all__ = [
    "__version__",
    "Classifier",
    "Prediction",
    "Settings",
    "DecodedImage",
    "decode_image",
    "preprocess",
    "JudgeOptions",
    "judge",
    "scan",
    "ScanReport",
    "ReportRow",
    "Summary",
    *_errors.__all__,
]
