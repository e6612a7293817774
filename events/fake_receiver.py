"""A real local webhook receiver for tests and the benchmark (like classification.fake_llm for the LLM):
it verifies each signature with the subscription's secret, keeps what it received, and injects faults on
request: answer 500 to the next N deliveries, or hold each request for some seconds."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from events import signing


@dataclass
class Received:
    event: dict[str, Any]
    signature_ok: bool
    received_at: float
    headers: dict[str, str] = field(default_factory=dict)


class FakeReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret: str = "") -> None:
        super().__init__((host, port), _Handler)
        self.secret = secret
        self.received: list[Received] = []
        # Event ids as requests arrive (before any delay): a delivery in flight is already here.
        self.arrived: list[str] = []
        self.fail_next = 0
        self.delay_seconds = 0.0
        # Answer one header line every this many seconds, ten of them (a slow-loris receiver).
        self.trickle_seconds = 0.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def ids(self) -> list[str]:
        with self.lock:
            return [r.event["id"] for r in self.received]

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("answered") == "200"]

    def start(self) -> FakeReceiver:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeReceiver

    def do_POST(self) -> None:  # http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received = Received(
            event=json.loads(body),
            signature_ok=signing.verify(self.server.secret, self.headers.get(signing.SIGNATURE_HEADER, ""), body),
            received_at=time.time(),
            headers={key.lower(): value for key, value in self.headers.items()},
        )
        with self.server.lock:
            self.server.arrived.append(received.event["id"])
            failing = self.server.fail_next > 0
            self.server.fail_next -= 1 if failing else 0
            delay = self.server.delay_seconds
        if delay:
            time.sleep(delay)
        if self.server.trickle_seconds:
            self._trickle(self.server.trickle_seconds)
            return
        code = 500 if failing else 200
        received.headers["answered"] = str(code)
        with self.server.lock:
            self.server.received.append(received)
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def _trickle(self, every: float) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self.wfile.flush()
        for n in range(10):
            time.sleep(every)
            try:
                self.wfile.write(f"X-Slow-{n}: yes\r\n".encode())
                self.wfile.flush()
            except OSError:
                return  # the client gave up
        self.wfile.write(b"Content-Length: 0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass
