"""What the user gave, turned into candidates: one ``ImageCandidate`` per image found.

    targets.py     the one place that decides what a target is, for the CLI and the app alike
    candidates.py  ImageCandidate and Extraction, the stage's output
    files.py       image files and uploads
    pdf/           PDFs, with PyMuPDF
    page/          web pages, rendered by Chromium (browser.py owns it) or parsed statically
"""
