"""The database: one interface, SQLite (aiosqlite, the default) or PostgreSQL (asyncpg, bot/store/postgres.py)
behind it, numbered migrations shared by both, and one transaction convention: a task inside `transaction()` has every statement join it.

The repositories write one SQL text for both: `?` placeholders, `ON CONFLICT`, `CASE` instead of SQLite's
two-argument MIN/MAX, and `instr`/`json_remove`, which PostgreSQL gets as functions at migration time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import aiosqlite

from bot.errors import ConfigError

log = logging.getLogger(__name__)


def _probe(path: str) -> None:
    """Open the file and read its header (raises sqlite3.Error or OSError when it is no usable database)."""
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path} is a folder")
    probe = sqlite3.connect(path)
    try:
        probe.execute("PRAGMA schema_version").fetchone()
        # Pages damaged behind a valid header: found now, in one line, not as an error at every tick.
        try:
            verdict = probe.execute("PRAGMA quick_check(1)").fetchone()
        except sqlite3.DatabaseError as exc:
            raise sqlite3.DatabaseError(f"the file is damaged ({exc}); restore it from a backup") from None
        if verdict is None or verdict[0] != "ok":
            found = " ".join(str(verdict[0]).split()) if verdict else "no answer"  # one line
            raise sqlite3.DatabaseError(f"the file is damaged ({found}); restore it from a backup")
    finally:
        probe.close()


def causes(exc: BaseException) -> Iterable[BaseException]:
    """An error and what it groups or was raised from (a TaskGroup's failures, a wrapped driver error)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)


class Outage:
    """Says once that the database cannot be reached (no work is claimed meanwhile), and once that it is back,
    instead of a traceback every tick."""

    def __init__(self, worker: str) -> None:
        self._worker = worker
        self._since: float | None = None

    def lost(self, exc: BaseException) -> None:
        """The database did not answer this round."""
        if self._since is None:
            self._since = time.monotonic()
            log.warning(
                "%s: the database cannot be reached (%s); no work is claimed until it answers",
                self._worker,
                type(exc).__name__,
            )

    def back(self) -> None:
        """A round went through."""
        if self._since is not None:
            log.warning(
                "%s: the database answers again after %.0f s; claiming work again",
                self._worker,
                time.monotonic() - self._since,
            )
            self._since = None


def migrations_after(current: int) -> list[tuple[int, str, str]]:
    """The numbered migrations (number, file name, SQL) newer than `current`, in order."""
    files = sorted(
        (entry for entry in resources.files("bot.store.migrations").iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    found = [(int(entry.name.split("_", 1)[0]), entry.name, entry) for entry in files]
    return [(n, name, entry.read_text(encoding="utf-8")) for n, name, entry in found if n > current]


# Columns that were added to a migration after it had landed (never again: a new migration is the way).
# A SQLite database that applied the migration before lacks them; they are added where missing. No
# PostgreSQL database predates them.
LATE_COLUMNS = (("batch_requests", "start_at", "REAL"),)


# SQLite's words for a file it cannot use now (not a bad query, not a lock held a moment too long).
_SQLITE_UNREACHABLE = ("unable to open", "disk I/O error", "database or disk is full", "readonly database")


# A connection inside a transaction (aiosqlite's or asyncpg's).
Conn: TypeAlias = Any


class _Open:
    """A transaction while it lasts: its connection and the task that opened it."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.task = asyncio.current_task()
        self.live = True


class TaskTransactions:
    """Which transaction the running task is inside, so that every statement it runs joins it unasked.

    One convention on both databases: inside `async with db.transaction():` a repository's write is part of
    that transaction, whoever calls it; nothing hands a connection around. Only the task that opened the
    transaction joins it: a task started inside it (a context copies its variables) runs on its own once it
    is running by itself, and never inside a transaction that has ended."""

    def __init__(self, name: str) -> None:
        self._var: contextvars.ContextVar[_Open | None] = contextvars.ContextVar(name, default=None)

    def current(self) -> Conn | None:
        """The connection of the transaction this task is inside, or None."""
        open_ = self._var.get()
        if open_ is None or not open_.live or open_.task is not asyncio.current_task():
            return None
        return open_.conn

    @contextlib.contextmanager
    def entered(self, conn: Conn) -> Iterator[None]:
        """Mark this task as inside a transaction on `conn` until the block ends."""
        open_ = _Open(conn)
        token = self._var.set(open_)
        try:
            yield
        finally:
            open_.live = False
            self._var.reset(token)


class Row(Protocol):
    """A result row: by column name or position (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Any: ...

    def __iter__(self) -> Any: ...

    def __len__(self) -> int: ...


class Database(Protocol):
    """What the repositories use, whichever database is behind it."""

    path: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        """Run the statements of the block atomically: every statement the task runs inside joins it (a
        transaction opened inside another is part of it)."""
        ...

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int: ...

    async def execute_many(self, sql: str, rows: Sequence[Iterable[Any]]) -> None:
        """Run one write statement once per row of parameters, as one trip (atomic as `execute` is)."""
        ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    async def fetch_written(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run one write with RETURNING, atomically, and return its rows."""
        ...

    async def text_columns(self) -> dict[str, list[str]]: ...

    async def tables(self) -> list[str]:
        """The bot's tables (not the database's own bookkeeping)."""
        ...

    async def after_copy(self, table: str) -> None:
        """Make a table whose rows were copied in ready for new rows (`blandbot migrate-db`)."""
        ...

    async def after_erasure(self, tables: list[str]) -> None:
        """Drop the old versions of rows an erasure rewrote, where the database keeps them."""
        ...

    async def ok(self) -> bool: ...

    def unreachable(self, exc: BaseException) -> bool:
        """Whether an error means the database cannot be reached now (not a bad query): the work waits."""
        ...

    # What a claim query appends to its row-locking subquery: PostgreSQL skips rows another replica is
    # claiming; SQLite needs nothing (its writes are serialised).
    SKIP_LOCKED: str


class SqliteDatabase:
    """Two aiosqlite connections per process: one writes (multi-statement writes under BEGIN IMMEDIATE and
    a lock), the other reads what is committed, so reads never queue behind writes (WAL lets them run
    together). A task inside a transaction reads on the writing connection, and sees its own writes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._open = TaskTransactions(f"sqlite-tx-{id(self)}")

    @property
    def conn(self) -> aiosqlite.Connection:
        """Return the open connection."""
        if self._conn is None:
            raise RuntimeError("database is not connected")
        return self._conn

    async def connect(self) -> None:
        """Open the file (creating its folder), set pragmas and apply migrations.

        A file that is not a database, cannot be read or written, or whose folder cannot be made raises
        ConfigError naming it, with the connection closed (an open one would keep the process alive).
        """
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                # Probe with plain sqlite3 first: a failed aiosqlite.connect leaves its worker thread
                # behind, which then writes a traceback to a closed event loop at exit.
                await asyncio.to_thread(_probe, self.path)
            # isolation_level=None: no implicit transactions; we say BEGIN IMMEDIATE ourselves.
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = aiosqlite.Row
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA foreign_keys=ON")
            await self._conn.execute("PRAGMA busy_timeout=5000")
            await self._conn.execute("PRAGMA synchronous=NORMAL")
            # What is deleted or rewritten is overwritten on disk, not left in free pages (an erasure's
            # promise; a little more writing).
            await self._conn.execute("PRAGMA secure_delete=ON")
            await self.migrate()
            if self.path != ":memory:":  # an in-memory database is one connection's alone
                self._reader = await aiosqlite.connect(self.path, isolation_level=None)
                self._reader.row_factory = aiosqlite.Row
                await self._reader.execute("PRAGMA busy_timeout=5000")
                await self._reader.execute("PRAGMA query_only=ON")
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise ConfigError(f"DATABASE_URL: cannot use the database at {self.path}: {exc}") from None

    async def close(self) -> None:
        """Close the connections (an open one would hang interpreter exit)."""
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def migrate(self) -> None:
        """Apply migrations/NNN_*.sql newer than PRAGMA user_version, each in one transaction."""
        current = (await self.fetchone("PRAGMA user_version"))[0]  # type: ignore[index]
        for number, name, script in migrations_after(current):
            async with self._lock:
                await self.conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
                )
            log.info("applied migration %s", name)
        for table, column, kind in LATE_COLUMNS:
            present = await self.fetchall(f"PRAGMA table_info({table})")
            if column not in {row["name"] for row in present}:
                async with self._lock:
                    await self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                log.info("added %s.%s, missing from an earlier migration", table, column)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run several statements atomically; other processes wait on the busy timeout."""
        joined = self._open.current()
        if joined is not None:  # already inside one: this block is part of it
            yield joined
            return
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            with self._open.entered(self.conn):
                try:
                    yield self.conn
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                else:
                    await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write statement and return the rows it changed: atomic on its own, or part of the
        transaction this task is inside."""
        joined = self._open.current()
        if joined is not None:
            return await self._execute(joined, sql, params)
        async with self._lock:
            return await self._execute(self.conn, sql, params)

    # Each statement is one trip to aiosqlite's thread (a trip costs more than a small statement): a query
    # runs and is read in one (`execute_fetchall`); a write's cursor is read for its count and left to the
    # garbage collector, not closed by another trip (it holds no rows; SQLite is built serialized).

    async def execute_many(self, sql: str, rows: Sequence[Iterable[Any]]) -> None:
        """Run one write statement for each row of parameters, in one trip to the database's thread."""
        if rows:
            async with self.transaction() as conn:
                await conn.executemany(sql, [tuple(r) for r in rows])

    @staticmethod
    async def _execute(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> int:
        cursor = await conn.execute(sql, tuple(params))
        return int(cursor.rowcount)

    def _reading(self) -> aiosqlite.Connection:
        """The connection a query runs on: this task's transaction's, or the reading one."""
        return self._open.current() or self._reader or self.conn

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        """Return the first row of a query, or None (inside a transaction, its writes are seen)."""
        rows = await self._reading().execute_fetchall(sql, tuple(params))
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Return every row of a query."""
        return list(await self._reading().execute_fetchall(sql, tuple(params)))

    SKIP_LOCKED = ""

    async def fetch_written(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run one write with RETURNING: in this task's transaction, or under the write lock (never inside
        another task's transaction)."""
        if self._open.current() is not None:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))
        async with self._lock:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def tables(self) -> list[str]:
        """The bot's tables (not SQLite's own)."""
        rows = await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [str(row[0]) for row in rows]

    async def after_copy(self, table: str) -> None:
        """Nothing to do: SQLite numbers new rows after the largest id there is."""

    async def after_erasure(self, tables: list[str]) -> None:
        """Move the write-ahead log into the file and empty it: the old versions of the rewritten rows were
        in it. Freed space in the file is zeroed as it is freed (`secure_delete`)."""
        async with self._lock:
            await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def text_columns(self) -> dict[str, list[str]]:
        """Every table's text columns."""
        found: dict[str, list[str]] = {}
        for table in await self.tables():
            columns = await self.fetchall(f'PRAGMA table_info("{table}")')
            found[table] = [str(c["name"]) for c in columns if "TEXT" in str(c["type"]).upper()]
        return found

    async def ok(self) -> bool:
        """Return whether the database answers a trivial query."""
        try:
            row = await self.fetchone("SELECT 1")
        except Exception:
            return False
        return row is not None and row[0] == 1

    def unreachable(self, exc: BaseException) -> bool:
        """The file cannot be opened, read or written (a disk gone, a full disk, a lost mount)."""
        return any(
            isinstance(e, OSError)
            or (isinstance(e, sqlite3.OperationalError) and any(w in str(e) for w in _SQLITE_UNREACHABLE))
            for e in causes(exc)
        )
