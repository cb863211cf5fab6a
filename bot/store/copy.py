"""`blandbot migrate-db`: copy every table of one database into another, then verify the counts.

Both databases are migrated first, so they have the same tables and columns; the target must be empty. The
copy is one transaction on the target: it lands whole or not at all. Stop the bot while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ConfigError
from bot.store.db import Database

CHUNK = 1000


@dataclass(frozen=True)
class Copied:
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


async def _count(db: Database, table: str) -> int:
    row = await db.fetchone(f'SELECT COUNT(*) FROM "{table}"')
    return int(row[0]) if row else 0


async def copy_database(source: Database, target: Database) -> list[Copied]:
    """Copy every table of `source` into the empty `target`; return each table's counts, both sides."""
    tables = await source.tables()
    missing = sorted(set(tables) - set(await target.tables()))
    if missing:
        raise ConfigError(f"the target has no table {', '.join(missing)}: is it the same version?")
    filled = [table for table in tables if await _count(target, table)]
    if filled:
        raise ConfigError(
            f"the target is not empty ({', '.join(filled)} have rows): copy into an empty database"
        )
    async with target.transaction():
        for table in tables:
            first = await source.fetchone(f'SELECT * FROM "{table}" LIMIT 1')
            # Every column, in order: a total order over distinct rows, so pages neither skip nor repeat.
            order = ", ".join(str(i + 1) for i in range(len(first.keys()) if first else 0))
            offset = 0
            while first is not None:
                rows = await source.fetchall(
                    f'SELECT * FROM "{table}" ORDER BY {order} LIMIT ? OFFSET ?', (CHUNK, offset)
                )
                if not rows:
                    break
                columns = list(rows[0].keys())
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join("?" for _ in columns)
                for row in rows:
                    await target.execute(
                        f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                        [row[c] for c in columns],
                    )
                offset += len(rows)
            await target.after_copy(table)
    return [Copied(table, await _count(source, table), await _count(target, table)) for table in tables]
