"""Build the browser extension: dist/medpic-extension/ to load unpacked (chrome://extensions,
"Load unpacked"; `make extension` rebuilds it) and dist/medpic-extension.zip as the Chrome Web
Store wants it (manifest at the root, no hidden files), after checking that every file the
manifest names exists.

The extension is extension/ plus the files it shares with the Python package, which git keeps
once, in the package: discover.js, the image-discovery rules content.js uses. So extension/ alone
is not loadable; the tests assemble it with ``assemble`` too.
"""

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "extension"
SHARED = {"discover.js": ROOT / "medpic" / "sources" / "page" / "discover.js"}  # name in the extension -> file
UNPACKED = ROOT / "dist" / "medpic-extension"
OUT = ROOT / "dist" / "medpic-extension.zip"


def extension_files() -> dict[str, Path]:
    """Every file of the extension: its path inside the extension -> the file in this checkout."""
    own = {p.relative_to(SOURCE).as_posix(): p for p in sorted(SOURCE.rglob("*"))
           if p.is_file() and not any(part.startswith(".") for part in p.relative_to(SOURCE).parts)}
    return {**own, **SHARED}


def assemble(folder: Path) -> dict[str, Path]:
    """Write the extension into ``folder`` (emptied first); returns its files as ``extension_files``."""
    files = extension_files()
    shutil.rmtree(folder, ignore_errors=True)
    for name, path in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / name)
    return files


def main() -> int:
    manifest = json.loads((SOURCE / "manifest.json").read_text())
    named = [manifest["background"]["service_worker"], manifest["action"]["default_popup"], manifest["options_page"],
             *manifest["icons"].values(), *manifest["action"]["default_icon"].values()]
    missing = [n for n in named if not (SOURCE / n).is_file()]
    if missing:
        print(f"missing files named by manifest.json: {missing}", file=sys.stderr)
        return 1
    files = assemble(UNPACKED)
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(UNPACKED / name, name)
    print(f"{os.path.relpath(OUT, ROOT)} and {os.path.relpath(UNPACKED, ROOT)}/: {len(files)} files, "
          f"version {manifest['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
