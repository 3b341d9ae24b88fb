"""The extension's files and its build (no browser)."""

import json
import re
import zipfile

from medpic.settings import REPO_ROOT
from tests.extension.ext_harness import build_tool

EXTENSION = REPO_ROOT / "extension"
DISCOVER_JS = REPO_ROOT / "medpic" / "sources" / "page" / "discover.js"


def test_manifest_asks_for_minimal_permissions():
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    assert sorted(manifest["permissions"]) == ["activeTab", "contextMenus", "scripting", "storage"]
    assert "host_permissions" not in manifest
    for path in ["background.js", "content.js", "popup.html", "options.html", *manifest["icons"].values()]:
        assert (EXTENSION / path).is_file(), path


def test_every_file_the_service_worker_injects_is_in_the_extension():
    """The content scripts and styles are named in background.js, not in the manifest."""
    named = set(re.findall(r'"([\w-]+\.(?:js|css))"', (EXTENSION / "background.js").read_text()))
    assert {"content.js", "discover.js", "content.css", "early.css"} <= named
    assert named <= set(build_tool().extension_files())


def test_the_package_ships_the_servers_discovery_rules(tmp_path, monkeypatch):
    """One copy of the rules: the built extension carries discover.js as the package has it, and
    content.js keeps no rules of its own."""
    tool = build_tool()
    monkeypatch.setattr(tool, "UNPACKED", tmp_path / "medpic-extension")
    monkeypatch.setattr(tool, "OUT", tmp_path / "medpic-extension.zip")
    assert tool.main() == 0
    with zipfile.ZipFile(tmp_path / "medpic-extension.zip") as archive:
        assert archive.read("discover.js") == DISCOVER_JS.read_bytes()
        assert archive.read("content.js") == (EXTENSION / "content.js").read_bytes()
        assert "early.css" in archive.namelist()
    assert (tmp_path / "medpic-extension" / "discover.js").read_bytes() == DISCOVER_JS.read_bytes()
    assert not (EXTENSION / "discover.js").exists()  # never a second copy in the source
    content = (EXTENSION / "content.js").read_text()
    for own_rule in ("data-original", "data-lazy", "largest(", "backgroundImage", "xlink:href", "poster"):
        assert own_rule not in content, own_rule
    assert "__medpicDiscovery.offers" in content
