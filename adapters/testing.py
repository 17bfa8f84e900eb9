"""A real OAuth2 token endpoint on loopback, for tests and the demo: a stdlib server in a thread.

Each request is recorded (headers and form) and answered by ``answer(n)``, or by
``respond(request)`` when set (an answer that depends on what was sent: an echo, a refresh
token checked), which the caller can replace at any time: status, headers, body, a delay before
answering (a slow or hung endpoint) and a trickle (the body sent a piece at a time). A
:class:`RotatingGrant` plays a strict issuer's refresh-token grant (each refresh token works
once; a reused one revokes the whole grant); :func:`gzip_bomb` builds a decompression bomb. A
protected API on the same server (``api_url``) accepts the newest token issued, unless
``api_status`` says otherwise. The test suite talks to it, and so does ``mintgate demo``: it is
stdlib only, so it needs no extra.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import final
from urllib.parse import parse_qsl

__all__ = ["Answer", "Request", "RotatingGrant", "TokenServer", "gzip_bomb", "gzipped", "token"]


@final
@dataclass
class Answer:
    """What the server answers.

    Attributes:
        delay: Seconds to wait before answering (the request is recorded, and a grant rotated,
            when it arrives).
        trickle: Seconds between the body's pieces (it is sent in ``pieces`` parts).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    trickle: float = 0.0
    pieces: int = 10


def token(lifetime: int = 3600, n: int = 0, **extra: object) -> Answer:
    """A successful answer carrying ``access-N``."""
    body = {"access_token": f"access-{n}", "token_type": "Bearer", "expires_in": lifetime, **extra}
    return Answer(body=json.dumps(body).encode())


def gzip_bomb(expanded: int, *, status: int = 200, encoding: str = "gzip") -> Answer:
    """An answer whose body inflates to ``expanded`` bytes of zeros (``encoding`` ``gzip`` or
    ``deflate``): a few kilobytes on the wire per megabyte."""
    zeros = bytes(1 << 20)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS if encoding == "gzip" else 15)
    parts = [squeeze.compress(zeros) for _ in range(expanded >> 20)]
    parts += [squeeze.compress(bytes(expanded & ((1 << 20) - 1))), squeeze.flush()]
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    return Answer(status=status, body=b"".join(parts), headers=headers)


def gzipped(answer: Answer) -> Answer:
    """The same answer, its body gzip-encoded as a well-behaved server would send it."""
    headers = {**answer.headers, "Content-Encoding": "gzip"}
    return Answer(answer.status, gzip.compress(answer.body), headers, answer.delay)


@final
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    number: int = 0  # 1 for the first request the server saw


@final
class RotatingGrant:
    """A refresh-token grant as a strict issuer keeps it (RFC 9700 section 4.14): each refresh
    token works once and is rotated; presenting a spent one is reuse, which revokes the whole
    grant (every later refresh is ``invalid_grant``). Use it as ``TokenServer.respond``.

    Args:
        first: The refresh token the client starts with.
        lifetime: ``expires_in`` of each access token.
        delay: Seconds each answer takes (the rotation happens when the request arrives).

    Attributes:
        current: The refresh token that works now. ``rotations``: refreshes granted.
        reuses: Spent refresh tokens presented. ``invalid_grants``: ``invalid_grant`` answers.
        revoked: Whether reuse revoked the grant.
    """

    def __init__(self, first: str, *, lifetime: int = 3600, delay: float = 0.0) -> None:
        self.current = first
        self.lifetime = lifetime
        self.delay = delay
        self.spent: set[str] = set()
        self.rotations = self.reuses = self.invalid_grants = 0
        self.revoked = False

    def __call__(self, request: Request) -> Answer:
        presented = dict(request.form).get("refresh_token")
        if self.revoked or presented != self.current:
            if presented in self.spent:
                self.reuses += 1
                self.revoked = True
            self.invalid_grants += 1
            body = {"error": "invalid_grant", "error_description": "refresh token not valid"}
            return Answer(400, json.dumps(body).encode(), delay=self.delay)
        self.spent.add(presented)
        self.rotations += 1
        self.current = f"rt-{self.rotations}"
        answer = token(self.lifetime, n=request.number, refresh_token=self.current)
        answer.delay = self.delay
        return answer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that gave up on a slow answer closed the socket: expected here


@final
class TokenServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.api_calls: list[str] = []  # Authorization headers seen by the protected API
        self.valid: set[str] = set()  # tokens the protected API accepts; None: any it issued
        self.answer: Callable[[int], Answer] = lambda n: token(n=n)
        self.respond: Callable[[Request], Answer] | None = None  # overrides answer when set
        # The protected API's status for (call number, Authorization); None: the usual rule.
        self.api_status: Callable[[int, str], int | None] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
                with server._lock:
                    number = len(server.requests) + 1
                    request = Request(self.path, dict(self.headers.items()), form, number)
                    server.requests.append(request)
                    respond = server.respond
                    answer = respond(request) if respond is not None else server.answer(number)
                    if (
                        answer.status == 200
                        and answer.body
                        and not answer.headers.get("Content-Encoding")
                    ):
                        issued = json.loads(answer.body).get("access_token")
                        server.valid = {issued}  # the API accepts the newest token only
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if not answer.trickle:
                    self.wfile.write(answer.body)
                    return
                size = max(1, -(-len(answer.body) // answer.pieces))
                for start in range(0, len(answer.body), size):
                    self.wfile.write(answer.body[start : start + size])
                    self.wfile.flush()
                    time.sleep(answer.trickle)

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization", "")
                with server._lock:
                    server.api_calls.append(authorization)
                    status = None
                    if server.api_status is not None:
                        status = server.api_status(len(server.api_calls), authorization)
                    if status is None:
                        ok = authorization.removeprefix("Bearer ") in server.valid
                        status = 200 if ok else 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
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
