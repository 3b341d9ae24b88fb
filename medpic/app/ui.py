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

import copy
import inspect
import logging
import queue
import re
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import gradio as gr
from starlette.middleware import Middleware

from medpic.app import results as results_view
from medpic.app.examples import EXAMPLE_ROUTE, ExamplePage, build_examples
from medpic.app.gate import Gate
from medpic.app.present import plural, web_address
from medpic.app.service import ZIP_FLOOR, MedPicService, Shown
from medpic.errors import Busy, InvalidInput, MedPicError, reason_of
from medpic.scan import ScanReport
from medpic.settings import Settings, origin_of
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


# The named endpoints and their inputs, in order (the gate answers wrong calls with this).
API = {"scan_url": ("url", "threshold"), "scan_pdf": ("file", "threshold"), "classify_images": ("files", "threshold"),
       "classify_urls": ("urls", "page_url", "threshold"), "health": ()}
# Every event that scans shares one concurrency limit (MEDPIC_APP_CONCURRENCY), across endpoints.
WORK = "medpic-work"
Job = Callable[[Callable[[str], None]], ScanReport]


def _plan(service: MedPicService, text: str, files: list[str], threshold: float, stop: threading.Event,
          trust: str | None = None) -> tuple[list[tuple[str, Job]], list[str]]:
    """The scans a chat message asks for, and the files it cannot use. What each file is, is
    decided by ``kind_of_file``; what each URL is, by the service when it opens it."""
    kinds = {f: kind_of_file(f) for f in files}
    images = [f for f in files if kinds[f] == "image"]
    urls = _URL.findall(text) or [u for u in (web_address(text),) if u]  # "example.org/page" means https
    jobs: list[tuple[str, Job]] = [
        (f"Scanning {url}", lambda stage, u=url: service.scan_url(
            u, threshold, on_stage=stage, stop=stop, trust=trust if trust and origin_of(u) == trust else None))
        for url in urls]
    jobs += [(f"Reading {Path(pdf).name}",
              lambda stage, p=pdf: service.scan_pdf(p, threshold, on_stage=stage, stop=stop))
             for pdf in files if kinds[pdf] == "pdf"]
    if images:
        jobs.append((f"Classifying {plural(len(images), 'image')}",
                     lambda stage: service.classify_images(images, threshold, stop=stop)))
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


def _view(service: MedPicService, results: list[Shown], threshold: float, min_confidence: float, show: str):
    """Everything the results pane shows, at these slider positions: card, gallery, table and the
    downloads (each report's CSV, and its ZIP when any image qualifies)."""
    downloads, zipped = [], []
    for shown in results:
        zip_path, count = service.zip_of(shown, threshold, min_confidence)
        downloads += [service.csv_of(shown, threshold)] + ([zip_path] if count else [])
        zipped.append(count)
    return (results_view.card(results, threshold, min_confidence, zipped),
            results_view.gallery(results, threshold, show), results_view.table(results, threshold, show),
            gr.update(value=downloads, visible=bool(downloads)))


class _Stops:
    """The Stop button's signal per browser session: the chat's jobs check it between images."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        with self._lock:
            event = self._events[session] = threading.Event()
        return event

    def stop(self, session: str) -> None:
        with self._lock:
            event = self._events.get(session)
        if event is not None:
            event.set()

    def end(self, session: str, event: threading.Event) -> None:
        with self._lock:
            if self._events.get(session) is event:
                del self._events[session]


def _chat(service: MedPicService, stops: _Stops):
    """The chat handler: plan the scans of a message, run them one by one, stream progress, and
    fill the results pane as each report arrives (a new message starts a fresh pane)."""
    def respond(message: dict, history: list, threshold: float, min_confidence: float, show: str,
                request: gr.Request, trust: str | None = None):
        session = getattr(request, "session_hash", None) or "local"
        stop = stops.start(session)
        try:
            with service.client_slot(_client(service, request)):
                yield from _respond(message, history, threshold, min_confidence, show, stop, trust)
        except Busy as exc:
            yield [*(history or []), {"role": "assistant", "content": f"⚠️ {exc.reason}"}], *_unchanged()
        finally:  # also when the visitor leaves mid-scan (Gradio closes the generator): the job ends too
            stop.set()
            stops.end(session, stop)

    def _respond(message: dict, history: list, threshold: float, min_confidence: float, show: str,
                 stop: threading.Event, trust: str | None):
        text = (message or {}).get("text", "") or ""
        files = [str(f) for f in (message or {}).get("files", []) or []]
        history = list(history or [])
        history.append({"role": "user", "content": text or ", ".join(Path(f).name for f in files) or "(empty)"})
        jobs, others = _plan(service, text, files, threshold, stop, trust)
        if others:
            history.append({"role": "assistant", "content": "I can read PDFs and images (JPEG, PNG, GIF, WebP, AVIF, "
                            "BMP, TIFF, ICO); I skipped " + ", ".join(Path(o).name for o in others) + "."})
        if not jobs:
            history.append({"role": "assistant", "content": "Paste a web address (or write `scan https://...`), "
                            "or drop a PDF or some images, and I will find the medical images in it."})
            yield history, *_unchanged()
            return
        results: list[Shown] = []
        yield history, results, *_view(service, results, threshold, min_confidence, show), None  # a fresh pane
        for title, job in jobs:
            history.append({"role": "assistant", "content": f"{title}…"})
            yield history, *_unchanged()
            for kind, value in _run(service, job):
                if kind == "stage":
                    history[-1] = {"role": "assistant", "content": f"{title}: {value}…"}
                    yield history, *_unchanged()
                elif kind == "error":
                    history[-1] = {"role": "assistant", "content": f"⚠️ {title} failed: {value}"}
                    yield history, *_unchanged()
                else:
                    c = value.summary()
                    stopped = " (stopped)" if any(n.startswith("stopped") for n in value.notes) else ""
                    history[-1] = {"role": "assistant", "content": f"{title}: found {plural(c.found, 'image')}, "
                                   f"{c.medical} medical{stopped}. The results are on the right."}
                    results = [*results, service.keep(value)]
                    yield history, results, *_view(service, results, threshold, min_confidence, show), None

    return respond


def _unchanged() -> tuple:
    """Outputs of a chat step that only changes the conversation (results, card, gallery, table,
    downloads, input box)."""
    return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()


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
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), gate, Middleware(ExamplePage)]
        kwargs.setdefault("max_file_size", settings.max_document_bytes)
        launched = super().launch(*args, app_kwargs=app_kwargs, **kwargs)
        # where this server listens, for its own example page: never the Host header a visitor sends
        self.medpic_service.own_url = getattr(self, "local_url", None)
        return launched


_WELCOME = ("**Welcome to MedPic.** Paste a web address, or drop a PDF or images: I find every image in it "
            "and say which are medical (X-ray, CT, MRI, ultrasound, histology, ...), with the modality. "
            "Or try one of these:")


def _layout(service: MedPicService, settings: Settings) -> dict:
    """The two panes side by side (stacked on a phone): the conversation and its controls on the
    left, the results of the latest message on the right."""
    model = service.classifier.describe()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=340):
            examples = build_examples()  # the Chatbot rewrites its copy's files for the browser; ours keep paths
            chat = gr.Chatbot(label="MedPic", height=380, elem_id="chat", placeholder=_WELCOME,
                              examples=[{k: v for k, v in copy.deepcopy(e).items() if k != "page"} for e in examples])
            box = gr.MultimodalTextbox(placeholder="Paste a URL, or drop a PDF or images, then press Enter",
                                       file_count="multiple", file_types=[".pdf", "image"], elem_id="chat-input",
                                       show_label=False)
            stop = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
            threshold = gr.Slider(0.05, 0.95, value=service.classifier.threshold, step=0.01, elem_id="strictness",
                                  label="Strictness: probability above which an image counts as medical")
            min_conf = gr.Slider(ZIP_FLOOR, 0.99, value=0.9, step=0.01, elem_id="zip-confidence",
                                 label="Confidence needed for the ZIP download")
            with gr.Accordion("About the model and the network guard", open=False):
                gr.Markdown(f"Model **{model['name']} {model['version']}** from **{model['origin']}** "
                            f"({model['detail']}); modality: {model['modality']}. Network guard "
                            f"{'on' if not settings.allow_private else 'OFF'}.", elem_id="model-status")
        with gr.Column(scale=6, min_width=340):
            card = gr.Markdown("Results appear here.", elem_id="result-card")
            files = gr.File(label="Downloads: CSV report and ZIP of medical images", file_count="multiple",
                            elem_id="downloads", visible=False)
            show = gr.Radio(list(results_view.FILTERS), value="All", label="Show", elem_id="filter")
            gallery = gr.Gallery(label="Images judged", columns=6, height=220, elem_id="gallery")
            table = gr.Dataframe(headers=list(results_view.TABLE_HEADERS), datatype=list(results_view.TABLE_TYPES),
                                 value=[], interactive=False, wrap=True, max_height=360, elem_id="results-table",
                                 label="Every image found")
    return dict(chat=chat, examples=examples, box=box, stop=stop, threshold=threshold, min_conf=min_conf, card=card, files=files,
                show=show, gallery=gallery, table=table)


def _wire(ui: dict, service: MedPicService, settings: Settings) -> None:
    """Events: the chat, the Stop button, the welcome examples, and the sliders and filter that
    re-render the results on screen."""
    results = gr.State([])
    stops = _Stops()
    inputs = [ui["box"], ui["chat"], ui["threshold"], ui["min_conf"], ui["show"]]
    outputs = [ui["chat"], results, ui["card"], ui["gallery"], ui["table"], ui["files"], ui["box"]]
    chat_options = dict(api_visibility="private", concurrency_id=WORK, concurrency_limit=settings.app_concurrency)
    ui["box"].submit(_chat(service, stops), inputs, outputs, **chat_options)
    respond = _chat(service, stops)

    def example(event: gr.SelectData, history: list, threshold: float, min_confidence: float, show: str,
                request: gr.Request):
        """A welcome example runs as if sent. Its files are taken from the server's own list by
        index: the browser's copy names them by URL, which the gate refuses on principle. The
        example page is this app's own, at the address the server listens on (never the request's
        Host header, which a visitor could point at any internal host), and that one origin is
        trusted for that one scan (locally it is 127.0.0.1, which the guard refuses to strangers)."""
        chosen = ui["examples"][event.index]
        if chosen.get("page") and service.own_url:
            url = f"{service.own_url.rstrip('/')}{EXAMPLE_ROUTE}{chosen['page']}"
            yield from respond({"text": url, "files": []}, history, threshold, min_confidence, show, request,
                               trust=origin_of(url))
        else:
            yield from respond(chosen, history, threshold, min_confidence, show, request)

    ui["chat"].example_select(example, inputs[1:], outputs, **chat_options)

    def stop(request: gr.Request):
        stops.stop(getattr(request, "session_hash", None) or "local")

    ui["stop"].click(stop, None, None, api_visibility="private", queue=False)

    def rerender(shown: list[Shown], threshold: float, min_confidence: float, show: str):
        return _view(service, shown or [], threshold, min_confidence, show)

    def refilter(shown: list[Shown], threshold: float, show: str):
        return results_view.gallery(shown or [], threshold, show), results_view.table(shown or [], threshold, show)

    for slider in (ui["threshold"], ui["min_conf"]):
        slider.change(rerender, [results, ui["threshold"], ui["min_conf"], ui["show"]],
                      [ui["card"], ui["gallery"], ui["table"], ui["files"]], api_visibility="private",
                      trigger_mode="always_last")  # a drag re-renders once it settles, not per step
    ui["show"].change(refilter, [results, ui["threshold"], ui["show"]], [ui["gallery"], ui["table"]],
                      api_visibility="private")


def build_app(settings: Settings | None = None, *, service: MedPicService | None = None) -> gr.Blocks:
    """The whole app. ``service`` is shared by every request; build it once."""
    settings = settings or Settings.from_env()
    service = service or MedPicService(settings)
    age = settings.output_max_age_s
    # analytics off: no telemetry and no version check to outside hosts at start-up or later
    with MedPicBlocks(title="MedPic: find medical images", analytics_enabled=False,
                      delete_cache=(max(60, age // 4), age)) as demo:
        gr.Markdown("# MedPic\nFind the medical images on a web page, in a PDF, or among your images.")
        _wire(_layout(service, settings), service, settings)
        _add_api(service)
    demo.queue(default_concurrency_limit=settings.app_concurrency, max_size=settings.app_queue_size)
    demo.medpic_service = service  # for tests and app.py's shutdown
    return demo
