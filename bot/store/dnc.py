"""The do-not-call list: numbers (E.164) that are never dialled."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.domain import DncSource
from bot.store.db import Database

# SQLite allows 999 bound parameters in older builds: look numbers up this many at a time.
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class DncEntry:
    number: str
    reason: str
    source: DncSource
    added_by: str
    added_at: float

    @classmethod
    def from_row(cls, row: Any) -> DncEntry:
        return cls(
            number=str(row["number"]),
            reason=str(row["reason"]),
            source=DncSource(row["source"]),
            added_by=str(row["added_by"]),
            added_at=float(row["added_at"]),
        )


# A forgotten number is listed by its keyed hash, so that it is never dialled and never stored.
FORGOTTEN = "hmac:"


def is_forgotten(entry_number: str) -> bool:
    """Whether a list entry stands for a forgotten number (its keyed hash, not the number)."""
    return entry_number.startswith(FORGOTTEN)


class DncRepo:
    def __init__(self, db: Database, clock: Clock, key: bytes = b"blandbot") -> None:
        self._db = db
        self._clock = clock
        self._key = key

    def hashed(self, number: str) -> str:
        """The keyed hash that stands for a forgotten number (on the list and in the audit log)."""
        return FORGOTTEN + hmac.new(self._key, number.encode(), hashlib.sha256).hexdigest()[:32]

    async def forget(self, number: str, *, added_by: str) -> None:
        """List a number by its hash only: its plain entry (if any) goes, its reason with it."""
        await self._db.execute("DELETE FROM do_not_call WHERE number = ?", (number,))
        await self._db.execute(
            "INSERT INTO do_not_call (number, reason, source, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (self.hashed(number), "forgotten on request", DncSource.ERASURE, added_by, self._clock.now()),
        )

    async def add(
        self,
        number: str,
        *,
        reason: str,
        source: DncSource,
        added_by: str,
    ) -> bool:
        """Put a number on the list; False when it already was (its first entry stays)."""
        count = await self._db.execute(
            "INSERT INTO do_not_call (number, reason, source, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (number, reason, source, added_by, self._clock.now()),
        )
        return count == 1

    async def add_many(self, entries: dict[str, str], *, source: DncSource, added_by: str) -> int:
        """Put numbers (number → reason) on the list in one transaction; return how many were new."""
        now = self._clock.now()
        rows = [(number, reason, source, added_by, now) for number, reason in entries.items()]
        added = 0
        async with self._db.transaction():
            for row in rows:
                added += await self._db.execute(
                    "INSERT INTO do_not_call (number, reason, source, added_by, added_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    row,
                )
        return added

    async def remove(self, number: str) -> bool:
        """Take a number off the list (its plain or its forgotten entry); False when it was not on it."""
        return (
            await self._db.execute(
                "DELETE FROM do_not_call WHERE number IN (?, ?)", (number, self.hashed(number))
            )
            >= 1
        )

    async def get(self, number: str) -> DncEntry | None:
        """Return a number's entry, if it is on the list."""
        return (await self.find([number])).get(number)

    async def find(self, numbers: Iterable[str]) -> dict[str, DncEntry]:
        """Return the entries of those of `numbers` that are on the list (by number, or by the hash of a
        forgotten one)."""
        wanted = {number: number for number in numbers}
        wanted.update({self.hashed(number): number for number in list(wanted)})
        keys = list(wanted)
        found: dict[str, DncEntry] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._db.fetchall(f"SELECT * FROM do_not_call WHERE number IN ({marks})", chunk)
            found.update((wanted[str(row["number"])], DncEntry.from_row(row)) for row in rows)
        return found

    async def recent(self, limit: int) -> list[DncEntry]:
        """Return the newest entries."""
        rows = await self._db.fetchall(
            "SELECT * FROM do_not_call ORDER BY added_at DESC, number LIMIT ?", (limit,)
        )
        return [DncEntry.from_row(row) for row in rows]

    async def count(self) -> int:
        """Return how many numbers are on the list."""
        row = await self._db.fetchone("SELECT COUNT(*) FROM do_not_call", ())
        return int(row[0]) if row else 0
