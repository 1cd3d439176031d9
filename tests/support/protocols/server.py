"""The base of the fake video providers: a real HTTP server on 127.0.0.1 that a provider
adapter talks to over real HTTP, as it would to the provider.

Each provider's fake (``fake_<provider>.py``) declares its routes and speaks its documented
protocol: it checks the auth it was given, validates the request body against the documented
fields (unknown or missing fields are a 400, as the provider would answer), walks jobs through
the provider's statuses one poll at a time and serves a real small MP4 at the output URL.

Knobs the tests turn:
- ``faults``: answers to give before the real one, consumed one per request whose path starts
  with the fault's prefix: ``"429"``, ``"500"``, ``"503"``, ``"timeout"`` (the server stalls
  longer than the client waits), ``"garbage"`` (an HTML error page);
- ``outcome``: how jobs end: ``"success"``, ``"moderation"`` or ``"failed"``;
- ``polls_to_finish``: how many polls a job takes;
- ``expired``: output URLs answer 404, as they do once the provider deleted the file;
- ``requests``: every request, for assertions (``created`` counts job creations).
"""

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeJob:
    id: str
    request: Any
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class BadRequest(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


class FakeProvider(ThreadingHTTPServer):
    daemon_threads = True
    # (method, path regex, handler method name); named groups become keyword arguments.
    routes: tuple[tuple[str, str, str], ...] = ()
    # What every fake serves its outputs under.
    files_path = "/files/"

    def __init__(self, mp4: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mp4 = mp4
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[Recorded] = []
        self.faults: list[tuple[str, str]] = []  # (path prefix, fault)
        self.outcome = "success"
        self.polls_to_finish = 2
        self.expired = False
        self.stall_seconds = 3.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fault(self, kind: str, *, times: int = 1, prefix: str = "/") -> None:
        self.faults.extend([(prefix, kind)] * times)

    @property
    def created(self) -> int:
        return len(self.jobs)

    def new_job(self, request: Any, prefix: str = "job") -> FakeJob:
        with self.lock:
            job = FakeJob(id=f"{prefix}-{uuid.uuid4().hex[:12]}", request=request)
            self.jobs[job.id] = job
        return job

    def advance(self, job: FakeJob) -> str:
        """One poll: "running" until ``polls_to_finish`` polls, then the outcome."""
        with self.lock:
            job.polls += 1
            return self.outcome if job.polls >= self.polls_to_finish else "running"

    def output_url(self, job: FakeJob) -> str:
        return f"{self.url}{self.files_path}{job.id}.mp4"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up leaves a broken pipe behind

    # --- helpers for the fakes ----------------------------------------------------------------

    @staticmethod
    def require_fields(
        body: Any, *, required: set[str], allowed: set[str], error: Callable[[str], Answer]
    ) -> None:
        if not isinstance(body, dict):
            raise BadRequest(*error("the body is not a JSON object")[:2])
        missing = sorted(required - set(body))
        unknown = sorted(set(body) - allowed)
        if missing:
            raise BadRequest(*error(f"missing field(s): {', '.join(missing)}")[:2])
        if unknown:
            raise BadRequest(*error(f"unknown field(s): {', '.join(unknown)}")[:2])

    def serve_file(self, name: str) -> Answer:
        job_id = name.removesuffix(".mp4")
        if self.expired or job_id not in self.jobs:
            return 404, {"error": "not found"}, {}
        return 200, self.mp4, {"Content-Type": "video/mp4"}


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        record = Recorded(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        server = self.server
        with server.lock:
            server.requests.append(record)
            fault = next(
                (i for i, (prefix, _) in enumerate(server.faults) if parts.path.startswith(prefix)),
                None,
            )
            kind = server.faults.pop(fault)[1] if fault is not None else None
        if kind is not None:
            self._fault(kind)
            return
        if parts.path.startswith(server.files_path):
            self._send(*server.serve_file(parts.path[len(server.files_path) :]))
            return
        for route_method, pattern, handler in server.routes:
            match = re.fullmatch(pattern, parts.path)
            if route_method == method and match:
                try:
                    answer = getattr(server, handler)(record, **match.groupdict())
                except BadRequest as exc:
                    answer = (exc.status, exc.body, {})
                self._send(*answer)
                return
        self._send(404, {"error": f"no route {method} {parts.path}"}, {})

    def _fault(self, kind: str) -> None:
        if kind == "timeout":
            time.sleep(self.server.stall_seconds)
            self._send(504, {"error": "late"}, {})
        elif kind == "garbage":
            self._send(
                502, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"}
            )
        else:
            status = int(kind)
            headers = {"Retry-After": "0"} if status == 429 else {}
            self._send(status, {"error": {"message": f"fault {status}"}}, headers)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            if not any(k.lower() == "content-type" for k in headers):
                self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
