"""SQLite through aiosqlite: one connection, numbered migrations, small repositories."""

from bot.store.db import Database, Store

__all__ = ["Database", "Store"]
