"""Local servers the tests talk to: feeds and pages over HTTP, and a JSON API server
that the networks' stand-ins build on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Backlogged(ThreadingHTTPServer):
    """A threaded server that queues 128 connections, not socketserver's 5. With 5, a poll's
    burst of connections overflowed the queue whenever the test process was busy, and the
    kernel dropped the rest, which asked again only after the 1 s connect timeout.
    """

    request_queue_size = 128

    def serve_forever(self, poll_interval: float = 0.02) -> None:
        # shutdown() waits until the loop next looks at its flag: at socketserver's 0.5 s,
        # every test's teardown waited half a second for each server it had started.
        super().serve_forever(poll_interval)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int
    arrived: float = 0.0  # time.monotonic() when the request came in
    answered: float = 0.0  # and when its answer was sent


class FeedServer:
    """Serves routes set by the test, answers conditional GETs with 304, records requests."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        """``address``: another of 127.0.0.0/8 makes another host for dispatch."""
        self.address = address
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []  # each noted once answered
        self.arrivals: list[str] = []  # the path of each request, noted as it comes in
        # The most requests waiting for their answer at one time. Counted until the answer
        # starts, not until the thread is done: a client may ask again before that.
        self.most_at_once = 0
        waiting = [0]
        counting = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                arrived = time.monotonic()
                with counting:
                    server.arrivals.append(self.path)
                    waiting[0] += 1
                    server.most_at_once = max(server.most_at_once, waiting[0])
                route = server.routes.get(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if route is not None:
                    time.sleep(route.delay)
                with counting:
                    waiting[0] -= 1
                if route is None:
                    status = 404
                    self.send_response(404)
                    self.end_headers()
                else:
                    status = route.status
                    if route.status == 200 and (
                        (route.etag and headers.get("if-none-match") == route.etag)
                        or (
                            route.last_modified
                            and headers.get("if-modified-since") == route.last_modified
                        )
                    ):
                        status = 304
                    self.send_response(status)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    if route.last_modified:
                        self.send_header("Last-Modified", route.last_modified)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    body = b"" if status == 304 else route.body
                    if status != 304:
                        self.send_header("Content-Type", route.content_type)
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                server.requests.append(
                    Request(self.path, headers, status, arrived, time.monotonic())
                )

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = Backlogged((address, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.address}:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes | str, **options: Any) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, tuple[str | None, str, bytes]]:
        """A ``multipart/form-data`` body, read by Python's email parser: each field's
        filename (None for a plain field), content type and bytes.

        Raises:
            ValueError: the body is not well-formed multipart.
        """
        import email
        import email.policy

        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.message_from_bytes(head + self.body, policy=email.policy.HTTP)
        if not message.is_multipart() or message.defects:
            raise ValueError(f"not well-formed multipart: {message.defects}")
        fields = {}
        for part in message.iter_parts():
            if part.defects:
                raise ValueError(f"a part is not well-formed: {part.defects}")
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(name, str) and isinstance(payload, bytes)
            fields[name] = (part.get_filename(), part.get_content_type(), payload)
        return fields


class _QuietServer(Backlogged):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request is what the crash test does on purpose


class JsonServer:
    """A threaded HTTP server whose ``handle`` answers each request; records every call.

    ``failures`` is a queue of (status, headers, body) answered before normal handling.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Reply] = []
        self.delay = 0.0  # seconds before each answer, for a send caught in flight
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one write: two small writes meet the client's delayed ACK
            # (Nagle) and every answer waits 40 ms.
            wbufsize = 1 << 16

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                call = Call(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with standin.lock:
                    standin.calls.append(call)
                    reply = standin.failures.pop(0) if standin.failures else None
                time.sleep(standin.delay)
                try:
                    status, headers, data = reply or standin.handle(call)
                except ValueError:  # a body cut short by a killed sender
                    status, headers, data = 400, {}, b"bad request"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, call: Call) -> Reply:
        return 404, {}, b""

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(payload).encode(),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the cryptography package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
