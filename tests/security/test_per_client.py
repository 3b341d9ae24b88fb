"""One caller cannot take every worker of the app: a per-address limit, and one limit across endpoints."""

import json
import threading
import time
import urllib.request

import pytest

from medpic.app import MedPicService, build_app
from medpic.model.classifier import Classifier
from medpic.settings import Settings, origin_of
from tests.localserver import LocalServer, free_port

pytestmark = pytest.mark.browser


def slow_image(handler) -> None:
    time.sleep(3)
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def call(app: str, name: str, data: list) -> tuple[str, str]:
    request = urllib.request.Request(f"{app}/gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    event_id = json.loads(urllib.request.urlopen(request, timeout=30).read())["event_id"]
    stream = urllib.request.urlopen(f"{app}/gradio_api/call/{name}/{event_id}", timeout=60).read().decode()
    event = next(line.split(":", 1)[1].strip() for line in stream.splitlines() if line.startswith("event:"))
    return event, stream


def test_a_second_request_from_the_same_address_waits_its_turn(browser_service):
    with LocalServer({"/slow.png": slow_image}) as site:
        settings = Settings(allowed_origins=frozenset({origin_of(site.url)}), app_per_client=1, app_concurrency=4)
        service = MedPicService(settings, classifier=Classifier.load(settings), browser=browser_service)
        demo = build_app(settings, service=service)
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        app = f"http://127.0.0.1:{port}"
        try:
            results = []
            threads = [threading.Thread(target=lambda: results.append(
                call(app, "classify_urls", [[site.url + "/slow.png"], "", None]))) for _ in range(2)]
            for t in threads:
                t.start()
                time.sleep(0.5)
            for t in threads:
                t.join()
            events = sorted(event for event, _ in results)
            assert events == ["complete", "error"]
            assert "too many requests at once" in next(text for event, text in results if event == "error")
            assert call(app, "health", [])[0] == "complete"  # health is never limited
        finally:
            demo.close()
