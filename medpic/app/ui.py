"""The Gradio app: a chat that scans what you give it, and the named API endpoints.

API (stable names, listed by ``/gradio_api/info``):
    scan_url(url, threshold)              -> report JSON, CSV file
    scan_pdf(file, threshold)             -> report JSON, CSV file
    classify_images(files, threshold)     -> report JSON, CSV file
    classify_urls(urls, page_url, threshold) -> report JSON, CSV file
    health()                              -> model, browser and versions
Errors reach callers as ``gr.Error`` with a readable reason; the server keeps serving.
"""

from __future__ import annotations

import inspect
import logging
import queue
import re
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import gradio as gr
from starlette.middleware import Middleware

from medpic.app.examples import build_examples
from medpic.app.gate import Gate
from medpic.app.present import caption, plural, verdict, web_address
from medpic.app.service import MedPicService
from medpic.errors import Busy, InvalidInput, MedPicError, reason_of
from medpic.scan import ScanReport
from medpic.settings import Settings
from medpic.sources.targets import kind_of_file

__all__ = ["build_app"]

log = logging.getLogger(__name__)

_URL = re.compile(r"https?://[^\s<>\"']+", re.I)


def app_error(exc: BaseException) -> gr.Error:
    """The one way an exception reaches an API caller: MedPic's own reason, or a generic line
    (a foreign message may hold paths and internals; it goes to the server log instead)."""
    if not isinstance(exc, MedPicError):
        log.error("API call failed", exc_info=exc)
    return gr.Error(reason_of(exc, doing="could not process the request"), print_exception=False)


def _client(service: MedPicService, request: gr.Request | None) -> str:
    if request is None:
        return "local"
    return service.client_of(dict(request.headers), request.client.host if request.client else None)


def _api(service: MedPicService, fn: Callable, *, limited: bool = True):
    """Wrap an endpoint: the caller's place among ``app_per_client``, typed errors to ``gr.Error``,
    a report to (JSON, CSV). The token is the gate's business (``medpic.app.gate``), checked before
    any request reaches an endpoint."""
    def endpoint(*args):
        *args, request = args  # Gradio passes the request last, as the signature below declares
        try:
            with service.client_slot(_client(service, request)) if limited else nullcontext():
                result = fn(*args)
            if isinstance(result, ScanReport):
                return service.as_json(result), service.csv_file(result)
            return result
        except Exception as exc:  # noqa: BLE001 - every failure reaches the caller as one readable line
            raise app_error(exc) from None

    signature = inspect.signature(fn)
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    endpoint.__signature__ = signature.replace(parameters=[*signature.parameters.values(), request])
    endpoint.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


def _gallery(report: ScanReport, max_pixels: int) -> list[tuple]:
    """Every judged picture, medical ones first, each captioned with its verdict and what it is."""
    from medpic.imaging import decode_image

    judged = sorted((i for i in report.items if i.row.status == "ok"),
                    key=lambda i: (i.row.label != "medical", -(i.row.p_medical or 0)))
    out = []
    for item in judged[:60]:
        image = item.candidate.image
        if image is None and item.candidate.data:
            try:
                image = decode_image(item.candidate.data, max_pixels=max_pixels).image
            except MedPicError:
                continue
        if image is not None:
            thumb = image.copy()
            thumb.thumbnail((320, 320))
            out.append((thumb, f"{verdict(item.row)} · {caption(item.row)}"))
    return out


def _summary_text(report: ScanReport, min_confidence: float, zipped: int) -> str:
    lines = [f"**{report.source}**: {report.summary().line()}."]
    if zipped:
        lines.append(f"{plural(zipped, 'medical image')} at {100 * min_confidence:.0f}% confidence or more "
                     f"{'is' if zipped == 1 else 'are'} in the ZIP.")
    lines += [f"_Note: {n}_" for n in report.notes]
    errors = [r for r in report.rows if r.status == "error"][:5]
    if errors:
        lines.append("Some images could not be read: " + "; ".join(f"{caption(r)}: {r.reason}" for r in errors)
                     + ". The CSV lists every image with its reason.")
    return "\n\n".join(lines)


# The named endpoints and their inputs, in order (the gate answers wrong calls with this).
API = {"scan_url": ("url", "threshold"), "scan_pdf": ("file", "threshold"), "classify_images": ("files", "threshold"),
       "classify_urls": ("urls", "page_url", "threshold"), "health": ()}
# Every event that scans shares one concurrency limit (MEDPIC_APP_CONCURRENCY), across endpoints.
WORK = "medpic-work"
Job = Callable[[Callable[[str], None]], ScanReport]
_NO_UPDATE = (gr.update(), gr.update(), None)


def _plan(service: MedPicService, text: str, files: list[str], threshold: float) -> tuple[list[tuple[str, Job]], list[str]]:
    """The scans a chat message asks for, and the files it cannot use. What each file is, is
    decided by ``kind_of_file``; what each URL is, by the service when it opens it."""
    kinds = {f: kind_of_file(f) for f in files}
    images = [f for f in files if kinds[f] == "image"]
    urls = _URL.findall(text) or [u for u in (web_address(text),) if u]  # "example.org/page" means https
    jobs: list[tuple[str, Job]] = [
        (f"Scanning {url}", lambda stage, u=url: service.scan_url(u, threshold, on_stage=stage))
        for url in urls]
    jobs += [(f"Reading {Path(pdf).name}", lambda stage, p=pdf: service.scan_pdf(p, threshold, on_stage=stage))
             for pdf in files if kinds[pdf] == "pdf"]
    if images:
        jobs.append((f"Classifying {plural(len(images), 'image')}",
                     lambda stage: service.classify_images(images, threshold)))
    return jobs, [f for f in files if kinds[f] == "other"]


def _run(service: MedPicService, job: Job):
    """Run ``job`` on the service's pool; yields its stages as they happen, then the report or the error."""
    stages: queue.Queue = queue.Queue()
    box: dict = {}

    def work() -> None:
        try:
            box["report"] = job(stages.put)
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged in full
            if not isinstance(exc, MedPicError):
                log.error("chat job failed", exc_info=exc)
            box["error"] = reason_of(exc, doing="something went wrong (the details are in the server log)")
        finally:
            stages.put(None)

    started, stage = time.monotonic(), "starting"
    service.jobs.submit(work)
    while True:  # a tick every second, so a slow page shows time passing, not a frozen line
        try:
            stage = stages.get(timeout=1.0)
        except queue.Empty:
            pass
        if stage is None:
            break
        yield "stage", f"{stage} ({time.monotonic() - started:.0f} s)"
    yield ("error", box["error"]) if "error" in box else ("report", box["report"])


def _chat(service: MedPicService, settings: Settings):
    """The chat handler: plan the scans of a message, run them one by one, stream progress."""
    def respond(message: dict, history: list, threshold: float, min_confidence: float, request: gr.Request):
        try:
            with service.client_slot(_client(service, request)):
                yield from _respond(message, history, threshold, min_confidence)
        except Busy as exc:
            yield [*(history or []), {"role": "assistant", "content": f"⚠️ {exc.reason}"}], *_NO_UPDATE

    def _respond(message: dict, history: list, threshold: float, min_confidence: float):
        text = (message or {}).get("text", "") or ""
        files = [str(f) for f in (message or {}).get("files", []) or []]
        history = list(history or [])
        history.append({"role": "user", "content": text or ", ".join(Path(f).name for f in files) or "(empty)"})
        jobs, others = _plan(service, text, files, threshold)
        if others:
            history.append({"role": "assistant", "content": "I can read PDFs and images (JPEG, PNG, GIF, WebP, AVIF, "
                            "BMP, TIFF, ICO); I skipped " + ", ".join(Path(o).name for o in others) + "."})
        if not jobs:
            history.append({"role": "assistant", "content": "Paste a web address (or write `scan https://...`), "
                            "or drop a PDF or some images, and I will find the medical images in it."})
            yield history, *_NO_UPDATE
            return
        gallery, downloads = [], []
        for title, job in jobs:
            history.append({"role": "assistant", "content": f"{title}…"})
            yield history, *_NO_UPDATE
            for kind, value in _run(service, job):
                if kind == "stage":
                    history[-1] = {"role": "assistant", "content": f"{title}: {value}…"}
                    yield history, *_NO_UPDATE
                elif kind == "error":
                    history[-1] = {"role": "assistant", "content": f"⚠️ {title} failed: {value}"}
                    yield history, *_NO_UPDATE
                else:
                    c = value.summary()
                    history[-1] = {"role": "assistant",
                                   "content": f"{title}: found {plural(c.found, 'image')}, judged {c.ok}."}
                    zip_path, zipped = service.zip_file(value, min_confidence)
                    downloads += [service.csv_file(value)] + ([zip_path] if zipped else [])
                    gallery += _gallery(value, settings.max_pixels)
                    history.append({"role": "assistant", "content": _summary_text(value, min_confidence, zipped)})
                    yield history, gallery, downloads, None

    return respond


def _add_api(service: MedPicService) -> None:
    """The named endpoints, on hidden components that give them typed, documented signatures."""
    with gr.Row(visible=False):
        url_in, page_in = gr.Textbox(label="url"), gr.Textbox(label="page_url")
        pdf_in = gr.File(label="file", file_types=[".pdf"], type="filepath")
        images_in = gr.File(label="files", file_count="multiple", type="filepath")
        urls_in = gr.JSON(label="urls")
        thr_in = gr.Number(label="threshold", value=None)
        report_out, csv_out, health_out = gr.JSON(label="report"), gr.File(label="csv"), gr.JSON(label="health")
        buttons = [gr.Button(visible=False) for _ in range(5)]

    def scan_url(url: str, threshold: float | None):
        return service.scan_url(url, threshold)

    def scan_pdf(file: str, threshold: float | None):
        if not file:
            raise InvalidInput("no PDF given: upload a PDF file")
        return service.scan_pdf(file, threshold, name=Path(file).name)

    def classify_images(files: list[str], threshold: float | None):
        return service.classify_images(files or [], threshold)

    def classify_urls(urls: list, page_url: str, threshold: float | None):
        return service.classify_urls(urls or [], page_url, threshold)

    def health():
        return service.health()

    out2 = [report_out, csv_out]
    shared = dict(concurrency_id=WORK, concurrency_limit=service.settings.app_concurrency)
    buttons[0].click(_api(service, scan_url), [url_in, thr_in], out2, api_name="scan_url", **shared)
    buttons[1].click(_api(service, scan_pdf), [pdf_in, thr_in], out2, api_name="scan_pdf", **shared)
    buttons[2].click(_api(service, classify_images), [images_in, thr_in], out2, api_name="classify_images", **shared)
    buttons[3].click(_api(service, classify_urls), [urls_in, page_in, thr_in], out2, api_name="classify_urls",
                     **shared)
    buttons[4].click(_api(service, health, limited=False), None, [health_out], api_name="health")


class MedPicBlocks(gr.Blocks):
    """The app's Blocks: ``launch`` always puts the gate in front of the API and caps uploads,
    however the app is started (``app.py``, Spaces, tests)."""

    def launch(self, *args, **kwargs):
        settings: Settings = self.medpic_service.settings
        app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
        gate = Middleware(Gate, token=settings.api_token, max_body=settings.max_document_bytes, endpoints=API)
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), gate]
        kwargs.setdefault("max_file_size", settings.max_document_bytes)
        return super().launch(*args, app_kwargs=app_kwargs, **kwargs)


def build_app(settings: Settings | None = None, *, service: MedPicService | None = None) -> gr.Blocks:
    """The whole app. ``service`` is shared by every request; build it once."""
    settings = settings or Settings.from_env()
    service = service or MedPicService(settings)
    model = service.classifier.describe()
    status = (f"Model **{model['name']} {model['version']}** from **{model['origin']}** "
              f"({model['detail']}). Network guard {'on' if not settings.allow_private else 'OFF'}.")
    age = settings.output_max_age_s
    # analytics off: no telemetry and no version check to outside hosts at start-up or later
    with MedPicBlocks(title="MedPic: find medical images", analytics_enabled=False,
                   delete_cache=(max(60, age // 4), age)) as demo:
        gr.Markdown("# MedPic\nFind the medical images (X-ray, CT, MRI, ultrasound, histology, dermatology, "
                    "endoscopy, fundus, ECG, ...) on a web page, in a PDF, or among your images.")
        with gr.Accordion("About the model and the network guard", open=False):
            gr.Markdown(status, elem_id="model-status")
        chat = gr.Chatbot(label="MedPic", height=420, elem_id="chat")
        box = gr.MultimodalTextbox(placeholder="Paste a URL, or drop a PDF or images, then press Enter",
                                   file_count="multiple", file_types=[".pdf", "image"], elem_id="chat-input",
                                   show_label=False)
        with gr.Row():
            threshold = gr.Slider(0.05, 0.95, value=service.classifier.threshold, step=0.01,
                                  label="Strictness: probability above which an image counts as medical")
            min_conf = gr.Slider(0.5, 0.99, value=0.9, step=0.01, label="Confidence needed for the ZIP download")
        gallery = gr.Gallery(label="Medical images found", columns=5, height=320, elem_id="gallery")
        files = gr.File(label="Downloads: CSV report and ZIP of medical images", file_count="multiple",
                        elem_id="downloads")
        gr.Examples(examples=build_examples(), inputs=[box], label="Examples (work offline)")
        box.submit(_chat(service, settings), [box, chat, threshold, min_conf], [chat, gallery, files, box],
                   api_visibility="private", concurrency_id=WORK, concurrency_limit=settings.app_concurrency)
        _add_api(service)
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=settings.app_queue_size)
    demo.medpic_service = service  # for tests and app.py's shutdown
    return demo
