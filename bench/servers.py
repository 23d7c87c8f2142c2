"""The benchmark's servers, so that they are never the bottleneck: nginx (Debian's) serving the
corpus with ETag, Last-Modified and 304s, and postfix's smtp-sink, which accepts and counts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NGINX_CONF = """
{user}
worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    {open_file_cache}
    types {{ application/rss+xml xml; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        etag on;
        if_modified_since exact;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Nginx:
    """nginx on 127.0.0.1 serving ``root``; ``url(path)`` for a file under it. With
    ``cache_files``, it keeps files open and their sizes known for a minute: faster, and right
    while nothing under ``root`` changes.
    """

    def __init__(self, root: Path, *, cache_files: bool = True) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise SystemExit("nginx is missing: `apt-get install nginx` (tests/prepare.sh does)")
        self.prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                # Started as root, nginx's workers drop to nobody, who may not read a checkout
                # in a private folder (mktemp -d): they keep our user instead.
                user="user root root;" if os.geteuid() == 0 else "",
                prefix=self.prefix,
                port=self.port,
                root=root.resolve(),
                open_file_cache="open_file_cache max=20000 inactive=60s;" if cache_files else "",
            ),
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        _wait_for(self.port)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)


class SmtpSink:
    """Postfix's smtp-sink (Debian's postfix package; tests/prepare.sh installs it): a C SMTP
    server made for load tests. It accepts every message and prints running counters, from
    which a thread here notes when each message was taken.
    """

    def __init__(self) -> None:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not Path(binary).exists():
            raise SystemExit("smtp-sink is missing: run `sh tests/prepare.sh` (Debian's postfix)")
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it will not run as root
        self.stamps: list[float] = []  # when each message was taken
        self.process = subprocess.Popen(
            [binary, "-c", *user, f"127.0.0.1:{self.port}", "256"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        threading.Thread(target=self._count, daemon=True).start()
        _wait_for(self.port)

    @property
    def received(self) -> int:
        return len(self.stamps)

    def _count(self) -> None:
        """Read the counters (``sess=1 quit=0 mesg=12``, one update a message, ended by a
        carriage return) and stamp each new message.
        """
        assert self.process.stdout is not None
        taken, pending = 0, b""
        while chunk := self.process.stdout.read1(65536):
            now = time.perf_counter()
            *updates, pending = (pending + chunk).replace(b"\r", b"\n").split(b"\n")
            for update in updates:
                if match := re.search(rb"mesg=(\d+)", update):
                    total = int(match.group(1))
                    self.stamps.extend([now] * (total - taken))
                    taken = max(taken, total)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class WebhookSink:
    """An HTTP endpoint on 127.0.0.1 that takes each POST after ``delay`` seconds, hands its
    headers (lower-case names) and body to ``take``, and answers 204.
    """

    def __init__(self, take: Callable[[dict[str, str], bytes], None], delay: float = 0.0) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                take({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")
