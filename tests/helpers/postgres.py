"""A private PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary
folder, listening on 127.0.0.1 only, with password authentication (the password reaches
dispatch through PGPASSWORD, as it would in production). Stopped when the session ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "dispatch"


def installed() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run tests/prepare.sh (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """``start()`` makes and starts a cluster; ``database()`` makes an empty database in it."""

    def __init__(self, *, durable: bool = False) -> None:
        # Tests trade durability for speed; the benchmark keeps PostgreSQL's defaults.
        self.durable = durable
        self.bin = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="dispatch-pg-"))
        self.data = self.folder / "data"
        self.password = secrets.token_hex(16)
        self.port = _free_port()
        # PostgreSQL refuses to run as root: then it runs as Debian's postgres user.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.run_as, *command], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        secret = self.folder / "password"
        secret.write_text(self.password)
        if self.run_as:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            os.chown(secret, account.pw_uid, account.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={secret}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        secret.unlink()
        self.resume()

    def resume(self) -> None:
        """Start the server (again, after ``halt``), with its data as it was."""
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
            "-c max_connections=200"
            + ("" if self.durable else " -c fsync=off -c synchronous_commit=off"),
            "start",
        )

    def halt(self) -> None:
        """Stop the server at once, as a crash or a restart would, keeping its data."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The URL as it goes in feeds.yaml: no password (that comes from PGPASSWORD)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), password=self.password, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)
