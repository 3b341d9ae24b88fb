"""Extraction: sources (web pages, PDFs) -> image candidates."""
