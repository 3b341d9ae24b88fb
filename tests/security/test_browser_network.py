"""Chromium reaches no network except through MedPic's guarded fetcher, whatever the page tries."""

import socket
import threading

import pytest

from medpic.net.fetch import Fetcher
from medpic.settings import Settings, origin_of
from medpic.sources.page.extract import extract_page
from tests.localserver import LocalServer
from tests.site import _enc, _images

pytestmark = pytest.mark.browser


class Listener:
    """A TCP port on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def hostile_page(port: int) -> bytes:
    target = f"http://127.0.0.1:{port}"
    worker = f"new WebSocket('ws://127.0.0.1:{port}/ws'); fetch('{target}/worker-fetch');"
    return f"""<!doctype html><html><head>
<link rel="prefetch" href="{target}/link-prefetch"><link rel="preconnect" href="{target}">
<link rel="dns-prefetch" href="{target}"><link rel="stylesheet" href="{target}/style.css">
<script type="speculationrules">{{"prefetch": [{{"source": "list", "urls": ["{target}/spec-prefetch"]}}],
 "prerender": [{{"source": "list", "urls": ["{target}/spec-prerender"]}}]}}</script>
</head><body>
<img src="/img/cat.jpg" alt="the picture this page really shows">
<img src="{target}/img.png"><iframe src="{target}/iframe"></iframe><iframe src="http://169.254.169.254/"></iframe>
<video poster="{target}/poster.jpg"></video>
<form id="f" method="GET" action="{target}/form"><input name="q" value="1"></form>
<script>
const blob = (code) => URL.createObjectURL(new Blob([code], {{type: "text/javascript"}}));
try {{ new Worker(blob("{worker}")); }} catch (e) {{}}
try {{ new SharedWorker(blob("fetch('{target}/shared-worker')")); }} catch (e) {{}}
try {{ new WebSocket("ws://127.0.0.1:{port}/page-ws"); }} catch (e) {{}}
try {{ navigator.sendBeacon("{target}/beacon", "x"); }} catch (e) {{}}
fetch("{target}/fetch").catch(() => {{}});
window.open("{target}/popup");
setTimeout(() => {{ const a = document.createElement("a"); a.href = "{target}/click"; document.body.appendChild(a); a.click(); }}, 300);
setTimeout(() => document.getElementById("f").submit(), 600);
setTimeout(() => {{ location.href = "{target}/location"; }}, 900);
</script>
<meta http-equiv="refresh" content="1;url={target}/refresh">
</body></html>""".encode()


def test_no_vector_on_a_page_makes_chromium_connect(browser_service):
    listener = Listener()
    cat = _enc(_images()["cat"], "JPEG")
    routes = {"/hostile.html": (200, {"Content-Type": "text/html"}, hostile_page(listener.port)),
              "/img/cat.jpg": (200, {"Content-Type": "image/jpeg"}, cat)}
    try:
        with LocalServer(routes) as site:
            settings = Settings(allowed_origins=frozenset({origin_of(site.url)}), scan_budget_s=30)
            extraction = extract_page(site.url + "/hostile.html", fetcher=Fetcher(settings.net_policy()),
                                      limits=settings.web_limits(), browser=browser_service)
            candidates = list(extraction.candidates)
        assert listener.connections == 0
        assert any(c.ref.endswith("/img/cat.jpg") and c.status == "ok" for c in candidates)
    finally:
        listener.close()
