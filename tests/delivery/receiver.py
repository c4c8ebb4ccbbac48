"""A real HTTP server on 127.0.0.1 in a thread, standing in for a webhook, Slack or Teams: it records each request
and answers from a script (status, headers, body), or never answers. Nothing leaves the machine."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The path carries a token, as Slack's and Teams' webhook URLs do: the URL is a secret.
TOKEN_PATH = "/services/T0SECRET/B0SECRET/xoxSecretToken123"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # read the request, then never answer


@dataclass
class Receiver:
    port: int
    script: list[Answer] = field(default_factory=list)  # consumed one per request; then `default`
    default: Answer = field(default_factory=Answer)
    requests: list[Request] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{TOKEN_PATH}"

    def answer(self) -> Answer:
        return self.script.pop(0) if self.script else self.default


def verify(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
    """The receiver's check of a reporter webhook, as the README shows it (the age check left to the test)."""
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@contextmanager
def serve() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(server.server_address[1])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
            answer = receiver.answer()
            if answer.hang:
                receiver.released.wait(30)
                return
            self.send_response(answer.status)
            for name, value in {"Content-Length": str(len(answer.body)), **answer.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # http.server would print each request's path (the secret) on stderr

    server.RequestHandlerClass = Handler
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
