"""A tiny HTTP server on loopback that records the JSON bodies POSTed to it (webhook target)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    """What the server got: (path, JSON body) pairs; ``fail`` makes it answer 500."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False


@contextmanager
def webhook_server() -> Iterator[tuple[str, Received]]:
    """``(base_url, received)`` of a server on 127.0.0.1 and a free port, stopped on exit."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = orjson.loads(self.rfile.read(length))
            received.posts.append((self.path, body))
            self.send_response(500 if received.fail else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
