"""Where messages go: MedPic's own to the log, what the libraries say about a file to the log too.

A damaged file makes Pillow log ERRORs, Python warn and libtiff print; the file's report row
already says why it was not judged, so none of that belongs on a user's terminal next to the table.
The CLI and the app both call ``configure``; ``-v`` (or a verbose app) shows everything.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure"]

_LIBRARIES = ("PIL", "py.warnings")


def configure(*, verbose: bool, level: int | None = None) -> None:
    """Log to stderr at INFO when ``verbose`` (else WARNING, or ``level``), library chatter only when verbose."""
    logging.basicConfig(level=level if level is not None else logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.captureWarnings(True)
    for library in _LIBRARIES:
        logging.getLogger(library).setLevel(logging.NOTSET if verbose else logging.CRITICAL + 1)
