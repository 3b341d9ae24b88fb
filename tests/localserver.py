"""A small local web server for tests: static routes, redirects, slow and endless responses."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that want a port number up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """Serves ``routes``: path -> (status, headers, body) or a callable writing to the handler."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes] | Callable]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body waited for the
            # client's delayed ACK of the headers, 40 ms a response on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if callable(route):
                    route(self)
                    return
                status, headers, body = route
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:  # clients hanging up are normal here
                import sys

                if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                    super().handle_error(request, client_address)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LocalServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A response that never ends (no Content-Length, bytes forever)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/pdf")
    handler.end_headers()
    try:
        handler.wfile.write(b"%PDF-1.7\n")
        while True:
            handler.wfile.write(b"0" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _drip(handler: BaseHTTPRequestHandler, byte: bytes, every_s: float) -> None:
    """After whatever the caller already wrote: one byte every ``every_s`` seconds, forever."""
    try:
        handler.wfile.flush()
        while True:
            handler.wfile.write(byte)
            handler.wfile.flush()
            time.sleep(every_s)
    except (BrokenPipeError, ConnectionResetError):
        pass


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """A response that sends a byte every half second, forever."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/pdf")
    handler.end_headers()
    _drip(handler, b"%", 0.5)


def drip_headers(handler: BaseHTTPRequestHandler) -> None:
    """A status line, then one header byte every 0.2 s, forever: each recv() returns in time."""
    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    except (BrokenPipeError, ConnectionResetError):
        return
    _drip(handler, b"X", 0.2)


def drip_body(handler: BaseHTTPRequestHandler) -> None:
    """Headers promising a megabyte, then one body byte every 0.2 s."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    _drip(handler, b"x", 0.2)
