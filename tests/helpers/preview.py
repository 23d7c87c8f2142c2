"""`dispatch preview` as an editor runs it: a process of its own, on a free port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from helpers.servers import free_port


@contextlib.contextmanager
def running_preview(config: Path, port: int | None = None) -> Iterator[str]:
    """The preview of ``config``, by its URL; stopped with SIGTERM after, which it must take
    as a clean stop (exit 0), having printed no traceback.
    """
    port = port or free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    command = [sys.executable, "-m", "dispatch", "--config", str(config)]
    process = subprocess.Popen(
        [*command, "preview", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line + process.stdout.read()
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output and "Error handling request" not in output, output
