"""Identity rules: the form in which titles are compared when a publisher changes an article's
GUID, and the keys a delivery carries (its idempotency key, its AT Protocol record key), derived
from what is delivered and never random.
"""

from __future__ import annotations

import hashlib
from datetime import datetime


def norm_title(title: str) -> str:
    return " ".join(title.casefold().split())


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def record_key(row: int, created: datetime) -> str:
    """An AT Protocol TID (13 characters, sortable by time), made once with the row and stored:
    the creation time in microseconds plus the row's id, so no two rows share one even when a
    transaction makes thousands at the same instant. A retry reads it back: the same key.
    """
    micros = (int(created.timestamp() * 1_000_000) + row) & ((1 << 53) - 1)
    value = (micros << 10) | (row % 1024)
    return "".join(_TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def idempotency_key(*parts: str) -> str:
    """Derived from what is delivered and where, never random: the same delivery, the same key."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
