"""A real OAuth2 token endpoint on loopback, for tests and the demo: a stdlib server in a thread.

Each request is recorded (headers and form) and answered by ``answer``, which the caller can
replace at any time: status, headers, body, and a delay before answering (to simulate a hang).
A protected API on the same server (``api_url``) accepts the newest token issued. The test
suite talks to it, and so does ``mintgate demo``: it is stdlib only, so it needs no extra.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import final
from urllib.parse import parse_qsl

__all__ = ["Answer", "Request", "TokenServer", "token"]


@final
@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


def token(lifetime: int = 3600, n: int = 0, **extra: object) -> Answer:
    """A successful answer carrying ``access-N``."""
    body = {"access_token": f"access-{n}", "token_type": "Bearer", "expires_in": lifetime, **extra}
    return Answer(body=json.dumps(body).encode())


@final
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]


@final
class TokenServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.api_calls: list[str] = []  # Authorization headers seen by the protected API
        self.valid: set[str] = set()  # tokens the protected API accepts; None: any it issued
        self.answer: Callable[[int], Answer] = lambda n: token(n=n)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
                with server._lock:
                    server.requests.append(Request(self.path, dict(self.headers.items()), form))
                    answer = server.answer(len(server.requests))
                    if answer.status == 200 and answer.body:
                        issued = json.loads(answer.body).get("access_token")
                        server.valid = {issued}  # the API accepts the newest token only
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization", "")
                with server._lock:
                    server.api_calls.append(authorization)
                    ok = authorization.removeprefix("Bearer ") in server.valid
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        base = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.url = f"{base}/oauth/token"
        self.api_url = f"{base}/api/resource"

    @contextmanager
    def running(self) -> Iterator[TokenServer]:
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()
            thread.join(timeout=5)
