"""The benchmark's servers, so that they are never the bottleneck: nginx (Debian's) serving the
corpus with ETag, Last-Modified and 304s, and an SMTP sink that accepts and counts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
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
    open_file_cache max=20000 inactive=60s;
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
    """nginx on 127.0.0.1 serving ``root``; ``url(path)`` for a file under it."""

    def __init__(self, root: Path) -> None:
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
    """An SMTP server (aiosmtpd) that accepts every message and counts them."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.received += len(envelope.rcpt_tos)
                return "250 OK"

        self.received = 0
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")
