"""What a request may cost the API: a body size limit, and validation errors that do not echo input.

Two guards, installed together by :func:`install_limits`:

- :class:`BodyLimit`, a pure ASGI middleware: a body larger than ``max_body_bytes`` is answered 413
  ``{"code": "too_large", ...}``. A ``Content-Length`` over the limit is refused before the app runs
  (no auth, no routing, nothing read); a body without one (chunked) is counted as it arrives and
  refused the moment it passes the limit, whatever the app was doing with it. Starlette's own
  ``RequestBodyLimitMiddleware`` is not used: it runs the app even for a declared length it knows
  is too large, and answers in plain text rather than this API's ``code``/``detail`` shape.
- a ``RequestValidationError`` handler: 422 ``{"code": "invalid_request", "detail": [...], "errors":
  N}``: FastAPI's list of errors (location, message, type) with each ``input`` cut to
  :data:`MAX_INPUT_CHARS` characters of JSON, at most :data:`MAX_ERRORS` of them (``errors`` says how
  many there were). FastAPI's default echoes every input whole: a 20 MB body came back in its 422.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.settings import ApiSettings

MAX_INPUT_CHARS = 200
"""The longest ``input`` (as JSON text) or location part a validation error echoes."""
MAX_ERRORS = 20
"""The most validation errors one 422 lists."""
_CUT = "…"


class _TooLargeError(Exception):
    """The body grew past the limit while the app read it."""


class BodyLimit:
    """Refuse request bodies over ``max_body_bytes`` with 413 ``too_large`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send)
            return
        received = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                raise _TooLargeError
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    over = True
                    raise _TooLargeError
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # the app answers a body it could not read (FastAPI: 400): answer 413 instead
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:  # ExceptionGroup too: anyio task groups wrap what the body reader raised
            if not over:
                raise
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "code": "too_large",
                "detail": f"the request body is larger than {self.max_body_bytes} bytes "
                "(FOREWARN_API_MAX_BODY_BYTES)",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),  # the rest of the body is not read
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the server refuses a malformed one; the counting still applies


def _short_text(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + _CUT


def _short_input(value: Any) -> Any:
    """The input as JSON data when its JSON is short, else the first characters of its JSON, cut.

    Always JSON-safe: ``NaN`` (which Python's JSON reader accepts) becomes null, bytes their repr, an
    integer past 64 bits its text.
    """
    try:
        text = orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        text = orjson.dumps(repr(value)).decode()
    return orjson.loads(text) if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + _CUT


def short_errors(errors: Any) -> dict[str, Any]:
    """The 422 body of validation ``errors``: at most :data:`MAX_ERRORS`, none echoing much input."""
    shown = [
        {
            "type": str(e.get("type", "")),
            "loc": [p if isinstance(p, int) else _short_text(p) for p in e.get("loc", ())],
            "msg": _short_text(e.get("msg", "")),
            **({"input": _short_input(e["input"])} if "input" in e else {}),
        }
        for e in list(errors)[:MAX_ERRORS]
    ]
    return {"code": "invalid_request", "detail": shown, "errors": len(errors)}


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(short_errors(exc.errors()), status_code=422)


def install_limits(app: FastAPI, settings: ApiSettings) -> None:
    """Add the body limit (``settings.max_body_bytes``) and the short 422 handler to ``app``."""
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid)
