"""One gate in front of the whole API: the queue protocol, uploads and file URLs included."""

import json
import urllib.error
import urllib.request

import pytest

from medpic.app import MedPicService, build_app
from medpic.model.classifier import Classifier
from medpic.settings import Settings
from tests.localserver import free_port

pytestmark = pytest.mark.browser
TOKEN = "s3cret"


@pytest.fixture(scope="module")
def app(browser_service):
    settings = Settings(api_token=TOKEN, max_document_bytes=200_000)
    service = MedPicService(settings, classifier=Classifier.load(settings), browser=browser_service)
    demo = build_app(settings, service=service)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}"
    demo.close()


def status(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def multipart(size: int) -> tuple[bytes, dict]:
    boundary = "medpicboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + b"0" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_the_chat_queue_needs_the_token(app):
    join = json.dumps({"data": [{"text": "http://127.0.0.1:9/", "files": []}, [], 0.5, 0.9], "fn_index": 0,
                       "session_hash": "attacker"}).encode()
    code, body = status(f"{app}/gradio_api/queue/join", data=join, headers={"Content-Type": "application/json"})
    assert code == 401 and "X-MedPic-Token" in body


def test_uploads_need_the_token_and_are_capped(app):
    body, headers = multipart(1000)
    assert status(f"{app}/gradio_api/upload", data=body, headers=headers)[0] == 401
    code, _ = status(f"{app}/gradio_api/upload", data=body, headers={**headers, "X-MedPic-Token": TOKEN})
    assert code == 200
    big, headers = multipart(300_000)
    code, text = status(f"{app}/gradio_api/upload", data=big, headers={**headers, "X-MedPic-Token": TOKEN})
    assert code == 413 and "over the limit of 200,000" in text


def test_file_data_naming_a_url_is_refused(app):
    payload = {"data": [{"path": "http://169.254.169.254/latest/meta-data", "meta": {"_type": "gradio.FileData"}},
                        None]}
    code, text = status(f"{app}/gradio_api/call/scan_pdf", data=json.dumps(payload).encode(),
                        headers={"Content-Type": "application/json", "X-MedPic-Token": TOKEN})
    assert code == 400 and "not fetched" in text


def test_a_browser_gets_the_token_once_as_a_cookie(app):
    code, _ = status(f"{app}/?medpic_token=wrong")
    assert code == 200  # the page itself is public; its API calls are not
    request = urllib.request.Request(f"{app}/?medpic_token={TOKEN}")
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"medpic_token={TOKEN}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    code, _ = status(f"{app}/gradio_api/info", headers={"Cookie": cookie.split(";")[0]})
    assert code == 200
    assert status(f"{app}/gradio_api/info")[0] == 401


def test_wrong_calls_get_an_answer_not_a_500(app):
    headers = {"Content-Type": "application/json", "X-MedPic-Token": TOKEN}
    code, text = status(f"{app}/gradio_api/call/nope", data=b'{"data": []}', headers=headers)
    assert code == 404 and "scan_url(url, threshold)" in text
    code, text = status(f"{app}/gradio_api/call/scan_url", data=b'{"data": []}', headers=headers)
    assert code == 400 and "scan_url takes 2 input(s)" in text and "object at 0x" not in text


def test_the_gate_knows_exactly_the_endpoints_the_app_has(app):
    from medpic.app.ui import API

    code, text = status(f"{app}/gradio_api/info", headers={"X-MedPic-Token": TOKEN})
    named = json.loads(text)["named_endpoints"]
    assert {f"/{name}" for name in API} == set(named)
    for name, inputs in API.items():
        assert [p["parameter_name"] for p in named[f"/{name}"]["parameters"]] == list(inputs)
