"""A minimal in-process stand-in for Grafana's HTTP API (folders, datasources, dashboards by uid).

Grafana itself cannot be built on this machine (see the dashboards README), so ``push`` is tested
through the real grafana-client against this loopback server. It answers like Grafana 11 for the
calls push makes: 404 with a message for a missing uid, 401 without the right bearer token, ids and
versions assigned on save.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GrafanaState:
    token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    next_id: int = 1


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, *_: Any) -> None:
        return

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._send(401, {"message": "Unauthorized"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        s = self.state
        if self.path == "/api/health":
            self._send(200, {"database": "ok", "version": "11.3.0"})
        elif m := re.fullmatch(r"/api/folders/([\w-]+)", self.path):
            folder = s.folders.get(m[1])
            self._send(200, folder) if folder else self._send(404, {"message": "folder not found"})
        elif m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", self.path):
            ds = s.datasources.get(m[1])
            self._send(200, ds) if ds else self._send(404, {"message": "Data source not found"})
        elif m := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", self.path):
            board = s.dashboards.get(m[1])
            self._send(200, board) if board else self._send(404, {"message": "Dashboard not found"})
        else:
            self._send(404, {"message": "Not found"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        s, body = self.state, self._body()
        s.writes.append(f"POST {self.path}")
        if self.path == "/api/folders":
            if body["uid"] in s.folders:
                self._send(409, {"message": "a folder with the same uid already exists"})
                return
            s.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": s.next_id}
            s.next_id += 1
            self._send(200, s.folders[body["uid"]])
        elif self.path == "/api/datasources":
            s.datasources[body["uid"]] = {**body, "id": s.next_id}
            s.next_id += 1
            self._send(200, {"message": "Datasource added", "datasource": s.datasources[body["uid"]]})
        elif self.path == "/api/dashboards/db":
            board, folder = body["dashboard"], body["folderUid"]
            if folder not in s.folders:
                self._send(400, {"message": "folder not found"})
                return
            previous = s.dashboards.get(board["uid"])
            version = previous["dashboard"]["version"] + 1 if previous else 1
            saved = {
                **board,
                "id": previous["dashboard"]["id"] if previous else s.next_id,
                "version": version,
            }
            s.next_id += 1
            s.dashboards[board["uid"]] = {"dashboard": saved, "meta": {"folderUid": folder}}
            self._send(200, {"status": "success", "uid": board["uid"], "version": version})
        else:
            self._send(404, {"message": "Not found"})

    def do_PUT(self) -> None:
        if not self._authorised():
            return
        s, body = self.state, self._body()
        s.writes.append(f"PUT {self.path}")
        if m := re.fullmatch(r"/api/folders/([\w-]+)", self.path):
            s.folders[m[1]]["title"] = body["title"]
            self._send(200, s.folders[m[1]])
        elif m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", self.path):
            s.datasources[m[1]] = {**body, "id": s.datasources[m[1]]["id"]}
            self._send(200, {"message": "Datasource updated"})
        else:
            self._send(404, {"message": "Not found"})


@contextmanager
def fake_grafana(token: str) -> Iterator[tuple[str, GrafanaState]]:
    """A running fake on 127.0.0.1 (ephemeral port): yields its URL and its state."""
    state = GrafanaState(token)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
