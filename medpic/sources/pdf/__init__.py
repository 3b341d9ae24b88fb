"""Every picture of a PDF, as a reader sees it, with faithful pixels, read with PyMuPDF.

    document.py   opening (headers a few bytes in, encryption, damage) and bounded content streams
    finder.py     which pictures each page draws (XObjects, inline images, annotations), with captions
    pixels.py     an image's pixels as the page shows them, or why not (damaged, unsupported)
    extract.py    extract_pdf(): find now, decode lazily, one candidate per unique picture
"""

from medpic.sources.pdf.document import is_pdf
from medpic.sources.pdf.extract import extract_pdf

__all__ = ["extract_pdf", "is_pdf"]
