"""Erasure: find every stored text that mentions a number, whatever the table, and rewrite it."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.store.db import Database


@dataclass(frozen=True)
class Cell:
    """One text value of one row: where it is and what it says."""

    table: str
    column: str
    rowid: int
    value: str


class ErasureRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def text_columns(self) -> dict[str, list[str]]:
        """Every table's text columns (new tables and columns are swept without anyone listing them)."""
        tables = await self._db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        found: dict[str, list[str]] = {}
        for (table,) in tables:
            columns = await self._db.fetchall(f'PRAGMA table_info("{table}")')
            found[str(table)] = [str(c["name"]) for c in columns if "TEXT" in str(c["type"]).upper()]
        return found

    async def cells(self, fragment: str) -> list[Cell]:
        """Every text value that contains `fragment` (a cheap first pass; the caller matches exactly)."""
        found: list[Cell] = []
        for table, columns in (await self.text_columns()).items():
            for column in columns:
                rows = await self._db.fetchall(
                    f'SELECT rowid, "{column}" FROM "{table}" WHERE instr("{column}", ?) > 0', (fragment,)
                )
                found.extend(Cell(table, column, int(row[0]), str(row[1])) for row in rows)
        return found

    async def rewrite(self, cell: Cell, value: str, *, conn: aiosqlite.Connection | None = None) -> None:
        """Replace one text value."""
        await self._db.execute(
            f'UPDATE "{cell.table}" SET "{cell.column}" = ? WHERE rowid = ?', (value, cell.rowid), conn=conn
        )
