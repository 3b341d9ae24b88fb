#!/usr/bin/env bash
# Debian packages the tests use, installed only when missing (so a second run does nothing):
#   chromium               the browser for web pages, when none is found (MEDPIC_CHROMIUM,
#                          Playwright's own, or the system's); `playwright install` needs internet
#   poppler-utils          pdfimages, the completeness reference for PDF extraction
#   doxygen-doc, why3-doc-pdf, asymptote-doc   real PDF manuals with images, for the same check
# Without apt-get or root this prints what is missing and lets the tests skip what needs it.
set -euo pipefail

need=()
if [ -z "${MEDPIC_CHROMIUM:-}" ] && ! ls "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium*/chrome-linux*/chrome >/dev/null 2>&1 \
    && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    need+=(chromium)
fi
if [ "${1:-}" != "--browser-only" ]; then  # `make run` needs only the browser
    command -v pdfimages >/dev/null || need+=(poppler-utils)
    [ -f /usr/share/doc/doxygen/doxygen_manual.pdf ] || need+=(doxygen-doc)
    [ -f /usr/share/doc/why3-doc-pdf/manual.pdf ] || need+=(why3-doc-pdf)
    [ -f /usr/share/doc/asymptote/asymptote.pdf ] || need+=(asymptote-doc)
fi

[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "system-deps: apt-get not found; missing: ${need[*]} (tests needing them will be skipped)" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
