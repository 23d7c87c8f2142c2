"""The outputs table: what each output's network said of itself, and credentials refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from dispatch.models import (
    OutputState,
)
from dispatch.store.tables import Tables, iso_text, parse_time


class OutputTables(Tables):
    """What networks said: their limits, and credentials they refused until they change."""

    def output_states(self) -> dict[str, OutputState]:
        rows = self._db.execute("SELECT * FROM outputs").fetchall()
        return {
            row["name"]: OutputState(
                name=row["name"],
                limits=json.loads(row["limits"]) if row["limits"] else {},
                limits_read_at=parse_time(row["limits_read_at"]),
                refused_since=parse_time(row["refused_since"]),
                refused_error=row["refused_error"],
                refusals=row["refusals"],
                retry_at=parse_time(row["retry_at"]),
                refused_credentials=row["refused_credentials"],
            )
            for row in rows
        }

    def _ensure_output(self, name: str) -> None:
        self._db.execute("INSERT INTO outputs (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))

    def keep_limits(self, name: str, limits: Mapping[str, int], now: datetime) -> None:
        """What ``name``'s network said of its limits, read at ``now``."""
        with self._transaction():
            self._ensure_output(name)
            self._db.execute(
                "UPDATE outputs SET limits = ?, limits_read_at = ? WHERE name = ?",
                (json.dumps(dict(limits), sort_keys=True), iso_text(now), name),
            )

    def refuse_credentials(
        self, name: str, error: str, now: datetime, retry_at: datetime, credentials: str
    ) -> None:
        """The network refused ``name``'s credentials (a fingerprint) at ``now``: try again at
        ``retry_at``, or at once when the credentials change.
        """
        with self._transaction():
            self._ensure_output(name)
            self._db.execute(
                """UPDATE outputs SET refused_since = COALESCE(refused_since, ?),
                     refused_error = ?, refusals = refusals + 1, retry_at = ?,
                     refused_credentials = ?
                   WHERE name = ?""",
                (iso_text(now), error, iso_text(retry_at), credentials, name),
            )

    def accept_credentials(self, name: str) -> None:
        """``name``'s credentials worked: nothing holds its deliveries back any more."""
        self._db.execute(
            """UPDATE outputs SET refused_since = NULL, refused_error = NULL, refusals = 0,
                 retry_at = NULL, refused_credentials = NULL
               WHERE name = ? AND refused_since IS NOT NULL""",
            (name,),
        )
