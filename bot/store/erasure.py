"""Erasure: find every stored text that mentions a number, whatever the table, and rewrite it.

A value is rewritten where it still holds what was read (`WHERE column = old value`): no row key is
needed, and a value another process changed meanwhile is left for the next pass to find again.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True)
class Cell:
    """One text value, where it is and what it says."""

    table: str
    column: str
    value: str


class ErasureRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def cells(self, fragment: str) -> list[Cell]:
        """Every distinct text value that contains `fragment` (a cheap first pass; the caller matches exactly)."""
        found: list[Cell] = []
        for table, columns in (await self._db.text_columns()).items():
            for column in columns:
                rows = await self._db.fetchall(
                    f'SELECT DISTINCT "{column}" FROM "{table}" WHERE instr("{column}", ?) > 0', (fragment,)
                )
                found.extend(Cell(table, column, str(row[0])) for row in rows)
        return found

    async def rewrite(self, cell: Cell, value: str) -> int:
        """Replace a text value wherever it still stands; returns how many rows changed."""
        return await self._db.execute(
            f'UPDATE "{cell.table}" SET "{cell.column}" = ? WHERE "{cell.column}" = ?', (value, cell.value)
        )

    async def messages_about(self, ident: str) -> list[Cell]:
        """The outbox's messages whose delivery key names `ident` (a call's or a request's id): what the bot
        said about it, whatever number form the text holds."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT payload FROM outbox WHERE instr(key, ?) > 0", (ident,)
        )
        return [Cell("outbox", "payload", str(row[0])) for row in rows]
