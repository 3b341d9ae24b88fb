"""Every knob MedPic reads from the environment, parsed in one place.

``Settings.from_env()`` is called once by an entry point (CLI, app) and passed down; no other
module reads ``os.environ``. Tests build ``Settings(...)`` directly.

Every default lives here. The stages take small limit objects (``FetchLimits``, ``PdfLimits``,
``WebLimits``, ``NetPolicy``) that have no defaults of their own: they are built from a
``Settings`` by its methods, so a limit cannot disagree with the documented one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Mapping
from urllib.parse import urlsplit

from medpic.errors import InvalidInput

__all__ = ["Settings", "NetPolicy", "FetchLimits", "PdfLimits", "WebLimits", "parse_probability", "origin_of",
           "REPO_ROOT", "BUNDLED_MODEL_DIR", "BATCH_DECODE_CHOICES"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODEL_DIR = REPO_ROOT / "models" / "medpic"
DEFAULT_DATASET = REPO_ROOT.parent / "shared" / "datasets" / "medpic"
BATCH_DECODE_CHOICES = ("auto", "tasks", "replicas")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(f"{name}={value!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def _as_int(name: str, value: str | None, default: int, *, minimum: int = 1) -> int:
    if value is None or not value.strip():
        return default
    try:
        parsed = int(value.replace("_", ""))
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not a whole number") from None
    if parsed < minimum:
        raise InvalidInput(f"{name}={value!r} must be at least {minimum}")
    return parsed


def _as_choice(name: str, value: str | None, default: str, choices: tuple[str, ...]) -> str:
    if value is None or not value.strip():
        return default
    if value.strip().lower() not in choices:
        raise InvalidInput(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value.strip().lower()


def _origins(value: str | None) -> list[str]:
    return [origin_of(v) for v in (value or "").split(",") if v.strip()]


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit, for allow-list matching."""
    parts = urlsplit(url.strip())
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def parse_probability(value: object, *, name: str = "threshold") -> float:
    """The one parser of a probability given by a person (flag, variable, API field): strictly
    between 0 and 1, so that every threshold is validated the same way everywhere."""
    try:
        parsed = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}={value!r} is not a number") from None
    if not 0.0 < parsed < 1.0:
        raise InvalidInput(f"{name}={value!r} must be between 0 and 1 (exclusive)")
    return parsed


def _text(value: str | None) -> str | None:
    """A variable's value, ``None`` when unset or blank."""
    return (value or "").strip() or None


def _as_path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value and value.strip() else None


@dataclass(frozen=True)
class Settings:
    """Run-time configuration; see the README's "Configuration" table."""

    # A local model folder to use before anything else (MEDPIC_MODEL_DIR).
    model_dir: Path | None = None
    # A Hugging Face Hub repo holding a model folder, e.g. "medpic/medpic" (MEDPIC_MODEL_REPO).
    # Empty means: do not contact the Hub, use the bundled model.
    model_repo: str | None = None
    # Branch, tag or commit of that repo (MEDPIC_MODEL_REVISION).
    model_revision: str = "main"
    # The bundled model, the last resort that always works offline.
    bundled_model_dir: Path = BUNDLED_MODEL_DIR
    # Hub endpoint and offline switch, from the variables huggingface_hub itself documents.
    hf_endpoint: str | None = None
    hf_offline: bool = False
    hf_cache_dir: Path | None = None
    # CPU threads for inference (MEDPIC_THREADS); 0 lets the runtime decide.
    threads: int = 0
    # Images per inference batch (MEDPIC_BATCH_SIZE).
    batch_size: int = 32
    # Images the model runs at once inside a batch (MEDPIC_MODEL_GROUP): a group reads the heads'
    # weights once for all its images; 1 runs one image at a time (model.runtime.TFLiteRuntime).
    model_group: int = 4
    # Largest image we decode, in pixels (MEDPIC_MAX_PIXELS): decompression bombs stop here.
    max_pixels: int = 50_000_000
    # Largest image file we read, in bytes (MEDPIC_MAX_IMAGE_BYTES).
    max_image_bytes: int = 50 * 1024 * 1024
    # Network guard off: allow private and loopback addresses (MEDPIC_ALLOW_PRIVATE); local use only.
    allow_private: bool = False
    # Origins exempt from the guard, e.g. "http://127.0.0.1:8000" (MEDPIC_ALLOWED_ORIGINS, comma-separated).
    allowed_origins: frozenset[str] = frozenset()
    # A Chromium executable to use before Playwright's own and the system's (MEDPIC_CHROMIUM).
    chromium: str | None = None
    # Page navigation timeout, seconds (MEDPIC_NAV_TIMEOUT).
    navigation_timeout_s: int = 20
    # Total image bytes fetched for one page (MEDPIC_MAX_TOTAL_BYTES).
    max_total_bytes: int = 300 * 1024 * 1024
    # Whole-fetch timeout for one URL, seconds (MEDPIC_FETCH_TIMEOUT).
    fetch_timeout_s: int = 20
    # Largest PDF or HTML document fetched or read, in bytes (MEDPIC_MAX_DOCUMENT_BYTES).
    max_document_bytes: int = 200 * 1024 * 1024
    # Pages read from one PDF (MEDPIC_MAX_PDF_PAGES).
    max_pdf_pages: int = 2000
    # Decoded bytes read from any one PDF content stream (MEDPIC_MAX_PDF_STREAM_BYTES): a page whose
    # content would inflate past this (a compression bomb) is not interpreted; its images are listed.
    max_pdf_stream_bytes: int = 64 * 1024 * 1024
    # Images judged per page or document; the rest are "skipped" rows (MEDPIC_MAX_IMAGES).
    max_images: int = 2000
    # Images smaller than this on either side are "skipped: too small" (MEDPIC_MIN_IMAGE_SIDE).
    min_image_side: int = 32
    # JavaScript memory one rendered page may use, MB (MEDPIC_RENDERER_HEAP_MB): past it, its renderer
    # crashes and the scan reports what the page had loaded.
    renderer_heap_mb: int = 512
    # Whole-scan time budget for one page or PDF, seconds (MEDPIC_SCAN_BUDGET).
    scan_budget_s: int = 120
    # When set, API calls must send this value in an X-MedPic-Token header (MEDPIC_API_TOKEN).
    api_token: str | None = field(default=None, repr=False)
    # Requests the app works on at once, and how many may wait (MEDPIC_APP_CONCURRENCY, MEDPIC_APP_QUEUE).
    app_concurrency: int = 2
    app_queue_size: int = 64
    # Requests one client (by address) may have running at once (MEDPIC_APP_PER_CLIENT), and whether
    # that address is the first of X-Forwarded-For, as behind the Spaces proxy (MEDPIC_TRUST_PROXY).
    app_per_client: int = 2
    trust_proxy: bool = False
    # Seconds a report (CSV, ZIP) made by the app stays on disk (MEDPIC_OUTPUT_MAX_AGE); Gradio's own
    # copies are deleted on the same schedule.
    output_max_age_s: int = 3600
    # Probability threshold override (MEDPIC_THRESHOLD); None uses the model's own.
    threshold: float | None = None
    # The labelled training set (MEDPIC_DATASET).
    dataset_dir: Path = DEFAULT_DATASET
    # Where train/evaluate write plots and metrics (MEDPIC_REPORTS_DIR).
    reports_dir: Path = REPO_ROOT / "reports"
    # Cached backbone features for training (MEDPIC_CACHE_DIR).
    cache_dir: Path = REPO_ROOT / ".cache"
    # Threads fetching images for one scan (MEDPIC_DOWNLOAD_WORKERS) and decoding ahead of the model
    # (MEDPIC_DECODE_WORKERS): the one place pool sizes are set.
    download_workers: int = 6
    decode_workers: int = 2
    # Image URLs per classify_urls call and files per classify_images call.
    max_urls_per_call: int = 200
    max_files_per_call: int = 100
    # Fixed bounds of page rendering, set here so that no module has a literal limit of its own.
    max_redirects: int = 5
    max_scroll_steps: int = 200
    scroll_step_px: int = 700
    settle_s: float = 2.0
    max_dom_elements: int = 30_000
    svg_max_side: int = 1024
    # `medpic batch` (medpic/batch): extraction actors, each owning a Fetcher and, for pages, one
    # Chromium (MEDPIC_BATCH_EXTRACT_WORKERS); model replicas, each loading the model once
    # (MEDPIC_BATCH_MODEL_REPLICAS); targets each extraction actor works on at once, in threads,
    # since a target mostly waits on the network (MEDPIC_BATCH_TARGETS_PER_WORKER); a commit (one
    # Parquet shard and one ledger line) every MEDPIC_BATCH_COMMIT_TARGETS targets or
    # MEDPIC_BATCH_COMMIT_SECONDS seconds, whichever comes first: what a killed job loses and what
    # --resume redoes; the Ray cluster to join (MEDPIC_RAY_ADDRESS; unset: a local Ray started
    # inside the process). Where pictures are decoded (MEDPIC_BATCH_DECODE): "tasks", a stage of
    # CPU tasks of its own that scales with a cluster's CPUs and keeps decoding off the replicas;
    # "replicas", inside the model replicas' calls, which on one machine saves a process boundary
    # a picture (about 1 ms of CPU each: Ray's task, its object store, Arrow both ways); "auto":
    # "replicas" when the actor pools leave less than a CPU of the Ray free, else "tasks".
    batch_extract_workers: int = 2
    batch_model_replicas: int = 1
    batch_targets_per_worker: int = 4
    batch_commit_targets: int = 100
    batch_commit_s: int = 30
    ray_address: str | None = None
    batch_decode: str = "auto"
    # Ray's logical CPUs reserved per extraction actor (I/O-bound: it waits on the network and on
    # Chromium, which runs in processes of its own), per decoding task and per model replica (its
    # MEDPIC_THREADS when set); rows per decoding task. Fixed bounds, like the rendering ones.
    batch_extract_cpus: float = 0.25
    batch_decode_cpus: float = 0.5
    batch_model_cpus: float = 1.0
    batch_decode_rows: int = 64
    # Where Playwright keeps its own browsers (PLAYWRIGHT_BROWSERS_PATH, Playwright's variable).
    playwright_browsers_path: Path = Path.home() / ".cache" / "ms-playwright"
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    # Whole numbers read from the environment: (field, variable[, minimum]); the default is the field's.
    _INTS: ClassVar[tuple[tuple, ...]] = (
        ("threads", "MEDPIC_THREADS", 0),
        ("batch_size", "MEDPIC_BATCH_SIZE"),
        ("model_group", "MEDPIC_MODEL_GROUP"),
        ("max_pixels", "MEDPIC_MAX_PIXELS"),
        ("max_image_bytes", "MEDPIC_MAX_IMAGE_BYTES"),
        ("navigation_timeout_s", "MEDPIC_NAV_TIMEOUT"),
        ("max_total_bytes", "MEDPIC_MAX_TOTAL_BYTES"),
        ("fetch_timeout_s", "MEDPIC_FETCH_TIMEOUT"),
        ("max_document_bytes", "MEDPIC_MAX_DOCUMENT_BYTES"),
        ("max_pdf_pages", "MEDPIC_MAX_PDF_PAGES"),
        ("max_pdf_stream_bytes", "MEDPIC_MAX_PDF_STREAM_BYTES"),
        ("max_images", "MEDPIC_MAX_IMAGES"),
        ("min_image_side", "MEDPIC_MIN_IMAGE_SIDE"),
        ("renderer_heap_mb", "MEDPIC_RENDERER_HEAP_MB"),
        ("scan_budget_s", "MEDPIC_SCAN_BUDGET"),
        ("app_concurrency", "MEDPIC_APP_CONCURRENCY"),
        ("app_queue_size", "MEDPIC_APP_QUEUE"),
        ("app_per_client", "MEDPIC_APP_PER_CLIENT"),
        ("output_max_age_s", "MEDPIC_OUTPUT_MAX_AGE"),
        ("download_workers", "MEDPIC_DOWNLOAD_WORKERS"),
        ("decode_workers", "MEDPIC_DECODE_WORKERS"),
        ("batch_extract_workers", "MEDPIC_BATCH_EXTRACT_WORKERS"),
        ("batch_model_replicas", "MEDPIC_BATCH_MODEL_REPLICAS"),
        ("batch_targets_per_worker", "MEDPIC_BATCH_TARGETS_PER_WORKER"),
        ("batch_commit_targets", "MEDPIC_BATCH_COMMIT_TARGETS"),
        ("batch_commit_s", "MEDPIC_BATCH_COMMIT_SECONDS"),
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read the environment once, failing early with the variable's name on bad values."""
        env = os.environ if env is None else env
        defaults = cls()
        threshold = env.get("MEDPIC_THRESHOLD")
        numbers = {field: _as_int(var, env.get(var), getattr(defaults, field), minimum=minimum)
                   for field, var, *rest in cls._INTS for minimum in [rest[0] if rest else 1]}
        return cls(
            **numbers,
            model_dir=_as_path(env.get("MEDPIC_MODEL_DIR")),
            model_repo=_text(env.get("MEDPIC_MODEL_REPO")),
            model_revision=_text(env.get("MEDPIC_MODEL_REVISION")) or "main",
            hf_endpoint=_text(env.get("HF_ENDPOINT")),
            hf_offline=_as_bool("HF_HUB_OFFLINE", env.get("HF_HUB_OFFLINE"), False),
            hf_cache_dir=_as_path(env.get("HF_HUB_CACHE")),
            allow_private=_as_bool("MEDPIC_ALLOW_PRIVATE", env.get("MEDPIC_ALLOW_PRIVATE"), False),
            allowed_origins=frozenset(_origins(env.get("MEDPIC_ALLOWED_ORIGINS"))),
            chromium=_text(env.get("MEDPIC_CHROMIUM")),
            api_token=_text(env.get("MEDPIC_API_TOKEN")),
            trust_proxy=_as_bool("MEDPIC_TRUST_PROXY", env.get("MEDPIC_TRUST_PROXY"), False),
            threshold=parse_probability(threshold, name="MEDPIC_THRESHOLD") if _text(threshold) else None,
            dataset_dir=_as_path(env.get("MEDPIC_DATASET")) or defaults.dataset_dir,
            reports_dir=_as_path(env.get("MEDPIC_REPORTS_DIR")) or defaults.reports_dir,
            cache_dir=_as_path(env.get("MEDPIC_CACHE_DIR")) or defaults.cache_dir,
            playwright_browsers_path=_as_path(env.get("PLAYWRIGHT_BROWSERS_PATH")) or defaults.playwright_browsers_path,
            ray_address=_text(env.get("MEDPIC_RAY_ADDRESS")),
            batch_decode=_as_choice("MEDPIC_BATCH_DECODE", env.get("MEDPIC_BATCH_DECODE"), defaults.batch_decode,
                                    BATCH_DECODE_CHOICES),
        )

    def net_policy(self) -> "NetPolicy":
        """Which addresses fetches may reach."""
        return NetPolicy(allow_private=self.allow_private, allowed_origins=self.allowed_origins)

    def fetch_limits(self, *, max_bytes: int | None = None, timeout_s: float | None = None) -> "FetchLimits":
        """Bounds for one fetch: documents (PDF, HTML) unless ``max_bytes`` says otherwise."""
        return FetchLimits(timeout_s=float(timeout_s if timeout_s is not None else self.fetch_timeout_s),
                           max_bytes=max_bytes if max_bytes is not None else self.max_document_bytes,
                           max_redirects=self.max_redirects)

    def pdf_limits(self) -> "PdfLimits":
        """The PDF extractor's bounds."""
        return PdfLimits(max_pages=self.max_pdf_pages, max_images=self.max_images, max_pixels=self.max_pixels,
                         min_side=self.min_image_side, time_budget_s=float(self.scan_budget_s),
                         max_stream_bytes=self.max_pdf_stream_bytes)

    def web_limits(self) -> "WebLimits":
        """The page extractor's bounds."""
        return WebLimits(navigation_timeout_s=float(self.navigation_timeout_s), budget_s=float(self.scan_budget_s),
                         max_images=self.max_images, min_side=self.min_image_side,
                         max_image_bytes=self.max_image_bytes, max_document_bytes=self.max_document_bytes, max_total_bytes=self.max_total_bytes,
                         fetch_timeout_s=float(self.fetch_timeout_s), max_scroll_steps=self.max_scroll_steps,
                         scroll_step_px=self.scroll_step_px, settle_s=self.settle_s,
                         max_elements=self.max_dom_elements, svg_max_side=self.svg_max_side,
                         download_workers=self.download_workers, max_redirects=self.max_redirects,
                         renderer_heap_mb=self.renderer_heap_mb)

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (CLI flags override the environment)."""
        return replace(self, **changes)


# -- the limit objects the stages take: built by Settings, no defaults of their own ------------


@dataclass(frozen=True, kw_only=True)
class NetPolicy:
    """Which addresses may be fetched: public ones, plus exact allowed origins, unless private is allowed."""

    allow_private: bool
    allowed_origins: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class FetchLimits:
    """Bounds for one fetch, redirects and body included."""

    timeout_s: float
    max_bytes: int
    max_redirects: int


@dataclass(frozen=True, kw_only=True)
class PdfLimits:
    """Bounds on the work one PDF may cause."""

    max_pages: int
    max_images: int
    max_pixels: int
    min_side: int  # smaller images (rules, bullets, spacer pixels) are "skipped: too small"
    time_budget_s: float
    max_stream_bytes: int  # decoded bytes of one content stream that may be interpreted


@dataclass(frozen=True, kw_only=True)
class WebLimits:
    """Bounds on the work one web page may cause."""

    navigation_timeout_s: float
    budget_s: float  # the whole scan of one page
    max_images: int
    min_side: int
    max_image_bytes: int
    max_document_bytes: int
    max_total_bytes: int
    fetch_timeout_s: float
    max_scroll_steps: int
    scroll_step_px: int
    settle_s: float
    max_elements: int
    svg_max_side: int
    download_workers: int
    max_redirects: int
    renderer_heap_mb: int

    def image_fetch(self, *, remaining_s: float | None = None) -> FetchLimits:
        """Bounds for fetching one image of the page, within what is left of the scan."""
        timeout = min(self.fetch_timeout_s, self.navigation_timeout_s)
        if remaining_s is not None:
            timeout = min(timeout, remaining_s)
        return FetchLimits(timeout_s=timeout, max_bytes=self.max_image_bytes, max_redirects=self.max_redirects)

    def document_fetch(self) -> FetchLimits:
        """Bounds for fetching the page's HTML itself (static mode, or through the route guard)."""
        return FetchLimits(timeout_s=self.navigation_timeout_s, max_bytes=self.max_document_bytes,
                           max_redirects=self.max_redirects)
