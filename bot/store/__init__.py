"""SQLite through aiosqlite, or PostgreSQL through asyncpg: numbered migrations, small repositories.

`db` holds the connection and knows no repository; each repository takes a Database; `Store` bundles them.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.store.audit import AuditRepo
from bot.store.backfills import BackfillRepo, SchemaRepo
from bot.store.batch_calls import BatchCallRepo, BlandFactsRepo
from bot.store.batch_requests import BatchRequestRepo
from bot.store.budget import SlackBudgetRepo
from bot.store.call_requests import CallRequestRepo
from bot.store.db import Database, SqliteDatabase
from bot.store.dnc import DncRepo
from bot.store.erasure import ErasureRepo
from bot.store.notifications import NotificationRepo
from bot.store.outbox import OutboxRepo
from bot.store.postgres import PostgresDatabase
from bot.store.presence import ChoreRepo, HomeRepo, WebhookRepo
from bot.store.retention import RetentionRepo
from bot.store.subscriptions import SubscriptionRepo
from bot.store.tracked import TrackedRepo

__all__ = ["Database", "Store", "open_database"]


def open_database(url_or_path: str, *, pool_size: int = 10) -> Database:
    """The database a DATABASE_URL names: `postgresql://…`, or a SQLite file (`sqlite:///` or a bare path)."""
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url_or_path, pool_size=pool_size)
    return SqliteDatabase(url_or_path.removeprefix("sqlite:///"))


class Store:
    """The repositories, sharing one Database."""

    def __init__(self, db: Database, clock: Clock, *, erasure_key: bytes = b"blandbot") -> None:
        self.db = db
        self.tracked = TrackedRepo(db, clock)
        self.batch_requests = BatchRequestRepo(db, clock)
        self.call_requests = CallRequestRepo(db, clock)
        self.notifications = NotificationRepo(db, clock)
        self.outbox = OutboxRepo(db, clock)
        self.slack_budget = SlackBudgetRepo(db, clock)
        self.subscriptions = SubscriptionRepo(db, clock)
        self.audit = AuditRepo(db, clock)
        self.schemas = SchemaRepo(db, clock)
        self.backfills = BackfillRepo(db, clock)
        self.webhooks = WebhookRepo(db, clock)
        self.homes = HomeRepo(db, clock)
        self.dnc = DncRepo(db, clock, erasure_key)
        self.chores = ChoreRepo(db, clock)
        self.retention = RetentionRepo(db, clock, self.tracked)
        self.erasure = ErasureRepo(db)
        self.batch_calls = BatchCallRepo(db, clock)
        self.facts = BlandFactsRepo(db, clock)

    @classmethod
    async def open(
        cls, path: str, clock: Clock, *, erasure_key: bytes = b"blandbot", pool_size: int = 10
    ) -> Store:
        """Connect, migrate and return a ready store: `path` is a SQLite file, or a `postgresql://` URL."""
        db = open_database(path, pool_size=pool_size)
        await db.connect()
        return cls(db, clock, erasure_key=erasure_key)

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()
