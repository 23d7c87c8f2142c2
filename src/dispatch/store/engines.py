"""The two databases the store runs on, behind one small interface: SQLite (one file, one
process) and PostgreSQL (many workers on many machines).

The store writes its SQL once, with ``?`` placeholders and what both engines understand; this
module translates the rest: placeholders, the schema's types, where the schema version lives,
transactions, row locks that skip rows another worker holds, and the store-wide lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from dispatch.errors import StoreError

if TYPE_CHECKING:
    import psycopg

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def describe(location: str | Path) -> str:
    """The location as it may be shown: a PostgreSQL URL loses its password."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=""))


class Rows(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """What the store needs of a connection."""

    name: str
    shared: bool  # several processes may use it at once: claims and leases matter
    skip_locked: str  # appended to a SELECT that claims rows

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows: ...
    def executemany(self, sql: str, rows: Any) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def schema_version(self) -> int: ...
    def set_schema_version(self, version: int) -> None: ...
    def translate_schema(self, script: str) -> str: ...
    def lock_rows_while(self, key: str) -> None: ...
    def exclusive(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


# What this process is, as the lock file tells another that finds the store taken: the
# command line sets it (``dispatch run``), like a process title.
PROCESS = "dispatch"


def _locked(name: str, holder: str) -> StoreError:
    """The store is locked by ``holder`` (``dispatch run, pid 4242``): say who, and what to do."""
    pid = holder.rpartition("pid ")[2]
    if holder.startswith("dispatch run"):
        return StoreError(
            f"the dispatch service (`{holder}`) is using {name}",
            hint="it polls and sends on its own schedule, so nothing else is needed while it "
            f"runs; to run this command anyway, stop it first (kill {pid}; it finishes the "
            "send in flight) and start it again after",
        )
    return StoreError(
        f"another dispatch (`{holder}`) is using {name}",
        hint="wait for it to finish and run this again; a crashed one frees the store at once",
    )


def _reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads an existing state file. Not ``mode=ro``: a read-only
    connection to a WAL database leaves its empty ``-wal`` and ``-shm`` files behind, where the
    last ordinary connection removes them. SQLite opens a file it may not write read-only.
    """
    if not path.is_file():
        raise sqlite3.OperationalError(f"no such file: {path}")
    return sqlite3.connect(path, isolation_level=None)


Translate = Callable[[sqlite3.OperationalError], Exception]


@contextmanager
def _reported(translate: Translate) -> Iterator[None]:
    """sqlite3's OperationalError raised as ``translate`` makes it."""
    try:
        yield
    except sqlite3.OperationalError as e:
        raise translate(e) from None


class _SqliteRows:
    """A cursor whose rows, read later (an UPDATE … RETURNING writes as they are read), fail
    with the same errors as the statement.
    """

    def __init__(self, cursor: sqlite3.Cursor, translate: Translate) -> None:
        self._cursor = cursor
        self._translate = translate

    def fetchone(self) -> Any:
        with _reported(self._translate):
            return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        with _reported(self._translate):
            return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        while True:
            with _reported(self._translate):
                rows = self._cursor.fetchmany(500)
            if not rows:
                return
            yield from rows


class SqliteDatabase:
    """One file, one sender at a time (a file lock); an in-memory copy for dry runs."""

    shared = False
    skip_locked = ""

    def __init__(self, connection: sqlite3.Connection, name: str, lock_path: Path | None) -> None:
        self._db = connection
        self.name = name
        self._lock_path = lock_path
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")

    @classmethod
    def open(cls, path: Path) -> SqliteDatabase:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            # WAL: a commit is one fsync of the log, not three of journal and file (the outbox
            # commits twice a message); FULL keeps every commit durable through a power cut.
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the state file {path}: {e}") from None
        return cls(connection, str(path), Path(f"{path}.lock"))

    @classmethod
    def snapshot(cls, path: Path) -> SqliteDatabase:
        memory = sqlite3.connect(":memory:", isolation_level=None)
        if path.exists():
            try:
                source = _reader(path)
                source.backup(memory)
                source.close()
            except sqlite3.Error as e:
                raise StoreError(f"cannot read the state file {path}: {e}") from None
        return cls(memory, f"{path} (snapshot)", None)

    @staticmethod
    def reachable(path: Path) -> bool:
        try:
            connection = _reader(path)
            try:
                connection.execute("PRAGMA user_version").fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            return False
        return True

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        with _reported(self._unwritable):
            return _SqliteRows(self._db.execute(sql, parameters), self._unwritable)

    def executemany(self, sql: str, rows: Any) -> None:
        with _reported(self._unwritable):
            self._db.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._db.in_transaction:  # inside a batch: its transaction holds this one
            yield
            return
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # a failed write or COMMIT: nothing of it is kept
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def _unwritable(self, error: sqlite3.OperationalError) -> Exception:
        """A full disk or a failing one as a StoreError that says so; any other error as it
        is (a bug in our SQL should show where it is).
        """
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code == sqlite3.SQLITE_FULL:
            what = "the disk is full"
        elif code == sqlite3.SQLITE_IOERR:
            what = "the disk refused the write (full, over a size limit, or failing)"
        else:
            return error
        return StoreError(
            f"cannot write the state file {self.name}: {what} ({error})",
            hint="free space on the disk that holds it, then run again: the step that failed "
            "was undone, what was recorded before it stands, and the next run carries on",
        )

    def schema_version(self) -> int:
        try:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.name} is not a dispatch state file: {e}") from None

    def set_schema_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version = {int(version)}")

    def translate_schema(self, script: str) -> str:
        return script

    def lock_rows_while(self, key: str) -> None:
        """SQLite's ``BEGIN IMMEDIATE`` already lets one writer in at a time."""

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store's lock: one sender at a time, or a row another process is sending
        would look cut off by a crash. The lock dies with its process, so a crash frees it.
        """
        if self._lock_path is None:  # a snapshot: nobody else can see it
            yield
            return
        handle = self._lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise _locked(self.name, holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{PROCESS}, pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def close(self) -> None:
        if self._lock_path is not None:
            # Back to the rollback journal when the last user leaves, so that someone who may
            # read the file but not write its folder can still open it (a WAL file needs its
            # -shm beside it). Another process still in it keeps WAL: busy, and left so.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA busy_timeout = 0")
                self._db.execute("PRAGMA journal_mode = DELETE")
        self._db.close()


_PLACEHOLDER = re.compile(r"\?")
_INTEGER_KEY = re.compile(r"\bINTEGER PRIMARY KEY\b")
_INTEGER = re.compile(r"\bINTEGER\b")
_TEXT = re.compile(r"\bTEXT\b")
_BLOB = re.compile(r"\bBLOB\b")


class PostgresDatabase:
    """A PostgreSQL database shared by many workers. Text compares byte by byte (``C``), as in
    SQLite, so ISO timestamps order the same on both. A snapshot is one transaction that is
    rolled back: a dry run writes nothing.
    """

    shared = True
    skip_locked = "FOR UPDATE SKIP LOCKED"

    def __init__(self, connection: psycopg.Connection[Any], name: str, *, snapshot: bool) -> None:
        self._db = connection
        self.name = name
        self._snapshot = snapshot
        self._sql: dict[str, str] = {}

    @classmethod
    def open(cls, url: str, *, snapshot: bool = False) -> PostgresDatabase:
        name = describe(url)
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise StoreError(
                f"the state is in PostgreSQL ({name}), but psycopg is not installed: "
                "pip install 'dispatch[postgresql]'"
            ) from None
        try:
            # The password comes from the environment (PGPASSWORD, or ~/.pgpass), never
            # from feeds.yaml; libpq reads both itself.
            connection = psycopg.connect(
                url, autocommit=not snapshot, row_factory=dict_row, connect_timeout=10
            )
        except psycopg.Error as e:
            raise StoreError(
                f"cannot open the state database {name}: {_first_line(e)}",
                hint="check that PostgreSQL runs there, the user and database in `state`, and "
                "that PGPASSWORD (or ~/.pgpass) holds the password",
            ) from None
        if snapshot:
            # One transaction, begun here, that sees the store as it was at this moment; every
            # write after it is a savepoint inside it, and all are rolled back at close.
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            connection.execute("SELECT 1")
        return cls(connection, name, snapshot=snapshot)

    @staticmethod
    def reachable(url: str) -> bool:
        import psycopg

        try:
            with psycopg.connect(url, connect_timeout=5) as connection:
                connection.execute("SELECT 1").fetchone()
        except psycopg.Error:
            return False
        return True

    def _translate(self, sql: str) -> str:
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))
        return found

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        with self._reported():
            return self._db.execute(self._translate(sql), parameters)

    def executemany(self, sql: str, rows: Any) -> None:
        with self._reported(), self._db.cursor() as cursor:
            cursor.executemany(self._translate(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Nested, it is a savepoint: a failure inside rolls back only its own writes. A lost
        # connection (the server restarting) fails its BEGIN, COMMIT or ROLLBACK: a StoreError
        # like any other of its statements.
        with self._reported(), self._db.transaction():
            yield

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """psycopg's OperationalError (the server gone, a connection lost) as a StoreError."""
        import psycopg

        try:
            yield
        except psycopg.OperationalError as e:
            raise StoreError(f"the state database {self.name} failed: {_first_line(e)}") from None

    def schema_version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS dispatch_schema (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT version FROM dispatch_schema").fetchone()
        return int(row["version"]) if row else 0

    def set_schema_version(self, version: int) -> None:
        self._db.execute("DELETE FROM dispatch_schema")
        self._db.execute("INSERT INTO dispatch_schema (version) VALUES (%s)", (version,))

    def translate_schema(self, script: str) -> str:
        script = _INTEGER_KEY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script)
        script = _INTEGER.sub("BIGINT", script)
        script = _BLOB.sub("BYTEA", script)
        return _TEXT.sub('TEXT COLLATE "C"', script)

    def lock_rows_while(self, key: str) -> None:
        """Wait for, then hold until the transaction ends, the advisory lock named ``key``:
        what lets exactly one worker at a time create digests.
        """
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id(key),))

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Workers share a PostgreSQL store: rows are claimed one by one, under leases."""
        yield

    def close(self) -> None:
        if self._snapshot:
            self._db.rollback()
        self._db.close()


def _lock_id(key: str) -> int:
    return zlib.crc32(f"dispatch:{key}".encode())


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
