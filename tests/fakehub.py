"""A stand-in for huggingface.co on 127.0.0.1: the routes ``hf_hub_download`` really calls.

Serves ``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` with the headers huggingface_hub
needs (``X-Repo-Commit``, ``ETag``, ``Content-Length``) and the Hub's error codes for unknown
repos and files. Every request is recorded so tests can assert that a cache hit made none.
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _route(self, send_body: bool) -> None:
                hub.requests.append((self.command, self.path))
                m = re.match(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self.path)
                if not m:
                    return self._error(404, "EntryNotFound", "no such route")
                files = hub.repos.get(m["repo"])
                if files is None:
                    return self._error(401, "RepoNotFound", "Repository not found")
                if m["rev"] not in ("main", COMMIT):
                    return self._error(404, "RevisionNotFound", "Invalid rev id")
                data = files.get(m["file"])
                if data is None:
                    return self._error(404, "EntryNotFound", "Entry not found")
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if send_body:
                    self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                body = ('{"error": "%s"}' % message).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self._route(send_body=False)

            def do_GET(self) -> None:
                self._route(send_body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
