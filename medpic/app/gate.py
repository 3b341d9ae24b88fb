"""One gate in front of every API route of the app: the token, body sizes, and file URLs.

Gradio serves its API under ``/gradio_api/``: the named endpoints, the queue protocol the chat
uses, and ``/gradio_api/upload``. Checking the token inside each endpoint left the queue and the
upload route open, so the check lives here, in an ASGI middleware that sees every request first:

- with ``MEDPIC_API_TOKEN`` set, every API request needs it, in the ``X-MedPic-Token`` header or in
  the cookie a browser gets by opening the app once as ``/?medpic_token=...``;
- a request body over the document cap is refused (413), declared or streamed;
- a ``FileData`` naming an ``http(s)`` URL is refused (400): Gradio would fetch it itself, around
  MedPic's network guard. Files are uploaded; image URLs go to ``classify_urls``;
- a call to an endpoint that does not exist (404) or with the wrong number of inputs (400) gets
  an answer that names the endpoints and their inputs, not a 500 or the components' reprs.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

__all__ = ["Gate", "TOKEN_HEADER", "TOKEN_COOKIE"]

TOKEN_HEADER = "x-medpic-token"
TOKEN_COOKIE = "medpic_token"
_API = "/gradio_api/"
_CALL = re.compile(r"^/gradio_api/(?:call|run)/([^/]+)/?$")
# Gradio's launch() calls this on itself once; it runs the app's start-up events, which run once.
_OPEN = {"/gradio_api/startup-events"}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class _TooLarge(Exception):
    pass


class Gate:
    """ASGI middleware: ``Gate(app, token=..., max_body=...)``."""

    def __init__(self, app, *, token: str | None, max_body: int, endpoints: dict[str, tuple[str, ...]]) -> None:
        self.app, self.token, self.max_body, self.endpoints = app, token, max_body, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not scope["path"].startswith(_API) or scope["path"] in _OPEN:
            return await self.app(scope, receive, self._cookie_setter(scope, send))
        if self.token and not self._has_token(headers):
            return await _refuse(send, 401, "missing or wrong X-MedPic-Token header: this server requires an API token")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return await _refuse(send, 413, f"request too large: over the limit of {self.max_body:,} bytes")
        if scope["method"] == "POST" and "json" in headers.get("content-type", ""):
            return await self._json(scope, receive, send)
        return await self.app(scope, self._capped(receive), send)

    # -- the token ---------------------------------------------------------------------------

    def _has_token(self, headers: dict[str, str]) -> bool:
        given = headers.get(TOKEN_HEADER) or _cookie(headers.get("cookie", ""), TOKEN_COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _cookie_setter(self, scope: Scope, send: Send) -> Send:
        """The page opened as ``/?medpic_token=...`` with the right token: remember it in a cookie
        that the browser sends back with the chat's API calls (and to no other site)."""
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(TOKEN_COOKIE, [""])[0]
        if not self.token or not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return send

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{TOKEN_COOKIE}={given}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        return send_with_cookie

    # -- bodies ----------------------------------------------------------------------------------

    def _capped(self, receive: Receive) -> Receive:
        """A body streamed without a length (chunked) stops at the cap: the app sees a disconnect."""
        seen = 0

        async def capped() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                return {"type": "http.disconnect"}
            return message

        return capped

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read(receive, self.max_body)
        except _TooLarge:
            return await _refuse(send, 413, f"request too large: over the limit of {self.max_body:,} bytes")
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None  # not ours to judge: Gradio answers malformed JSON itself
        # Only the inputs are turned into files; ``event_data`` describes the event (a clicked
        # example's value, with the app's own file URLs) and is never fetched.
        inputs = payload.get("data") if isinstance(payload, dict) and "data" in payload else payload
        if _names_a_file_url(inputs):
            return await _refuse(send, 400, "files given by URL are not fetched: upload the file, or send image "
                                            "URLs to classify_urls")
        if problem := self._call_problem(scope["path"], payload):
            return await _refuse(send, *problem)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


    def _call_problem(self, path: str, payload: object) -> tuple[int, str] | None:
        """A named call that cannot work: an unknown name, or data that is not one value per input."""
        match = _CALL.match(path)
        if not match:
            return None
        name = match.group(1)
        api = ", ".join(f"{n}({', '.join(inputs)})" for n, inputs in self.endpoints.items())
        if name not in self.endpoints:
            return 404, f"no endpoint named {name!r}; the API has: {api}"
        inputs = self.endpoints[name]
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) != len(inputs):
            given = len(data) if isinstance(data, list) else "no list of"
            return 400, (f"{name} takes {len(inputs)} input(s) in \"data\": [{', '.join(inputs)}]; "
                         f"got {given} input(s)")
        return None


async def _read(receive: Receive, cap: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _names_a_file_url(value: object) -> bool:
    """A ``FileData`` anywhere in the payload whose path or url is a web address."""
    if isinstance(value, dict):
        if any(isinstance(value.get(k), str) and value[k].lower().startswith(("http://", "https://", "//"))
               for k in ("path", "url")) and ("meta" in value or "path" in value):
            return True
        return any(_names_a_file_url(v) for v in value.values())
    if isinstance(value, list):
        return any(_names_a_file_url(v) for v in value)
    return False


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
