"""Model resolution against a real (local) Hub: local folder -> Hub -> bundled, never a crash."""

import shutil

import pytest

from medpic.model.classifier import Classifier
from medpic.model.source import resolve_model
from medpic.settings import BUNDLED_MODEL_DIR, Settings
from tests.fakehub import COMMIT, FakeHub

REPO = "medpic/medpic-lite1"


def bundled_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in BUNDLED_MODEL_DIR.iterdir() if p.is_file()}


@pytest.fixture
def hub():
    with FakeHub({REPO: bundled_files(), "medpic/broken": {"config.json": (BUNDLED_MODEL_DIR / "config.json").read_bytes()}}) as server:
        yield server


def hub_settings(hub, tmp_path, **changes) -> Settings:
    return Settings(model_repo=REPO, hf_endpoint=hub.url, hf_cache_dir=tmp_path / "hub-cache").with_(**changes)


def test_downloads_from_the_hub_and_serves(hub, tmp_path):
    settings = hub_settings(hub, tmp_path)
    location = resolve_model(settings)
    assert location.origin == "hub" and location.revision == COMMIT
    assert (location.path / "model.tflite").read_bytes() == (BUNDLED_MODEL_DIR / "model.tflite").read_bytes()
    assert tmp_path in location.path.parents
    assert any(path.endswith("/model.tflite") for _, path in hub.requests)
    classifier = Classifier.load(settings)
    assert classifier.describe()["origin"] == "hub"


def test_cached_model_is_used_offline_without_a_request(hub, tmp_path):
    resolve_model(hub_settings(hub, tmp_path))
    before = len(hub.requests)
    location = resolve_model(hub_settings(hub, tmp_path, hf_offline=True))
    assert location.origin == "hub"
    assert len(hub.requests) == before


def test_unknown_repo_falls_back_to_bundled_and_says_why(hub, tmp_path):
    location = resolve_model(hub_settings(hub, tmp_path, model_repo="nobody/nothing"))
    assert location.origin == "bundled"
    assert "not found" in location.detail


def test_repo_missing_the_model_file_falls_back(hub, tmp_path):
    location = resolve_model(hub_settings(hub, tmp_path, model_repo="medpic/broken"))
    assert location.origin == "bundled"
    assert "lacks a model file" in location.detail


def test_hub_down_and_offline_falls_back_at_once(tmp_path):
    settings = Settings(model_repo=REPO, hf_endpoint="http://127.0.0.1:9", hf_offline=True,
                        hf_cache_dir=tmp_path / "empty-cache")
    location = resolve_model(settings)
    assert location.origin == "bundled"
    assert "not cached" in location.detail


def test_local_folder_comes_first(tmp_path):
    folder = tmp_path / "my-model"
    shutil.copytree(BUNDLED_MODEL_DIR, folder)
    location = resolve_model(Settings(model_dir=folder, model_repo="never/asked"))
    assert location.origin == "local" and location.path == folder


def test_incomplete_local_folder_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "config.json").write_text((BUNDLED_MODEL_DIR / "config.json").read_text())
    location = resolve_model(Settings(model_dir=tmp_path))
    assert location.origin == "bundled"
    assert "lacks model.tflite" in location.detail
