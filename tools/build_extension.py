"""Build dist/medpic-extension.zip: the extension folder as the Chrome Web Store wants it
(manifest at the root, no hidden files), after checking that every file the manifest names exists."""

import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "extension"
OUT = ROOT / "dist" / "medpic-extension.zip"


def main() -> int:
    manifest = json.loads((SOURCE / "manifest.json").read_text())
    named = [manifest["background"]["service_worker"], manifest["action"]["default_popup"], manifest["options_page"],
             *manifest["icons"].values(), *manifest["action"]["default_icon"].values()]
    missing = [n for n in named if not (SOURCE / n).is_file()]
    if missing:
        print(f"missing files named by manifest.json: {missing}", file=sys.stderr)
        return 1
    OUT.parent.mkdir(exist_ok=True)
    files = sorted(p for p in SOURCE.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(SOURCE).as_posix())
    print(f"{OUT.relative_to(ROOT)}: {len(files)} files, version {manifest['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
