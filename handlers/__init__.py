"""Slack listeners only: one module per feature, each with register(app)."""

from slack_bolt.async_app import AsyncApp

from handlers import backfills, batches, calls, commands, home, schemas


def register_all(app: AsyncApp) -> None:
    """Register every listener module."""
    commands.register(app)
    calls.register(app)
    batches.register(app)
    schemas.register(app)
    backfills.register(app)
    home.register(app)
