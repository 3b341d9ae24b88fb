"""Where the model comes from: a local folder, the Hugging Face Hub, or the bundled copy.

Resolution never fails because of the network: each step that cannot deliver a complete model
folder is logged with its reason and the next one is tried. The bundled folder always works,
so an offline laptop, a CI runner and a Space whose Hub repo is missing all still classify.
All Hub errors are translated here, in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from medpic.errors import ModelError, ModelNotFound
from medpic.model.config import CONFIG_FILE, ModelConfig
from medpic.settings import Settings

__all__ = ["ModelLocation", "resolve_model", "download_from_hub", "publish_model", "check_folder"]

log = logging.getLogger(__name__)

OPTIONAL_FILES = ("README.md",)


@dataclass(frozen=True)
class ModelLocation:
    """A complete model folder and how it was chosen (shown by ``health()`` and the CLI)."""

    path: Path
    origin: str  # "local", "hub" or "bundled"
    detail: str  # where exactly, and why the earlier options were passed over
    revision: str | None = None


def check_folder(folder: Path) -> ModelConfig:
    """The folder's config, if the folder holds everything serving needs."""
    config = ModelConfig.read(folder)
    if not (folder / config.model_file).is_file():
        raise ModelNotFound(f"model folder {str(folder)!r} lacks {config.model_file}")
    return config


def download_from_hub(settings: Settings) -> tuple[Path, str | None]:
    """Fetch (or reuse from cache) the model files of ``settings.model_repo``.

    Only the files the config names are downloaded, so a repo with extra checkpoints costs
    nothing more. Raises ``ModelError`` with a readable reason on any Hub failure.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = settings.model_repo
    assert repo, "download_from_hub needs settings.model_repo"

    def fetch(filename: str) -> Path:
        return Path(
            hf_hub_download(
                repo,
                filename,
                revision=settings.model_revision,
                endpoint=settings.hf_endpoint,
                cache_dir=settings.hf_cache_dir,
                local_files_only=settings.hf_offline,
            )
        )

    try:
        config_path = fetch(CONFIG_FILE)
        config = ModelConfig.read(config_path.parent)
        fetch(config.model_file)
        for optional in (config.keras_file, *OPTIONAL_FILES):
            if optional:
                try:
                    fetch(optional)
                except (EntryNotFoundError, LocalEntryNotFoundError):
                    log.info("Hub repo %s has no %s; continuing without it", repo, optional)
    except RepositoryNotFoundError as exc:
        raise ModelError(f"Hub repo {repo!r} not found (or private)") from exc
    except RevisionNotFoundError as exc:
        raise ModelError(f"Hub repo {repo!r} has no revision {settings.model_revision!r}") from exc
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:  # before its parent EntryNotFoundError
        raise ModelError(f"Hub unreachable or offline and {repo!r} is not cached") from exc
    except EntryNotFoundError as exc:
        raise ModelNotFound(f"Hub repo {repo!r} lacks a model file: {exc}") from exc
    except HfHubHTTPError as exc:
        raise ModelError(f"Hub error for {repo!r}: {exc}") from exc
    except OSError as exc:  # connection errors surface as OSError subclasses
        raise ModelError(f"Hub unreachable for {repo!r}: {type(exc).__name__}") from exc
    return config_path.parent, config_path.parent.name


def resolve_model(settings: Settings) -> ModelLocation:
    """Pick the model folder: ``MEDPIC_MODEL_DIR`` -> Hub repo -> bundled."""
    passed: list[str] = []
    if settings.model_dir is not None:
        try:
            check_folder(settings.model_dir)
            log.info("model: local folder %s (MEDPIC_MODEL_DIR)", settings.model_dir)
            return ModelLocation(settings.model_dir, "local", f"MEDPIC_MODEL_DIR={settings.model_dir}")
        except ModelError as exc:
            log.warning("model: MEDPIC_MODEL_DIR unusable (%s); trying the next source", exc.reason)
            passed.append(f"local folder skipped: {exc.reason}")
    if settings.model_repo:
        try:
            folder, commit = download_from_hub(settings)
            check_folder(folder)
            detail = f"{settings.model_repo}@{settings.model_revision}"
            log.info("model: Hugging Face Hub %s (commit %s), cached at %s", detail, commit, folder)
            return ModelLocation(folder, "hub", detail, revision=commit)
        except ModelError as exc:
            log.warning("model: Hub repo unusable (%s); falling back to the bundled model", exc.reason)
            passed.append(f"hub skipped: {exc.reason}")
    try:
        check_folder(settings.bundled_model_dir)
    except ModelError as exc:
        raise ModelNotFound(f"no usable model: {'; '.join([*passed, exc.reason])}") from exc
    why = "; ".join(passed) if passed else "no MEDPIC_MODEL_DIR or MEDPIC_MODEL_REPO set"
    log.info("model: bundled %s (%s)", settings.bundled_model_dir, why)
    return ModelLocation(settings.bundled_model_dir, "bundled", f"bundled copy ({why})")


def publish_model(folder: Path, repo: str, *, settings: Settings, private: bool = False,
                  token: str | None = None) -> str:
    """Upload a model folder to the Hub (maintainers only); returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    config = check_folder(folder)
    api = HfApi(endpoint=settings.hf_endpoint, token=token)
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo,
            folder_path=str(folder),
            commit_message=f"MedPic model {config.name} {config.version}",
            allow_patterns=[CONFIG_FILE, config.model_file, *(p for p in (config.keras_file, *OPTIONAL_FILES) if p)],
            delete_patterns=["*.keras"],  # an earlier model's Keras file; this upload's own is kept
        )
    except HfHubHTTPError as exc:
        raise ModelError(f"upload to {repo!r} failed: {exc}") from exc
    return str(getattr(info, "commit_url", info))
