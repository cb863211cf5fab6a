"""Slack listeners only: one module per feature, each with register(app)."""

from slack_bolt.async_app import AsyncApp

from handlers import backfills, batches, calls, commands, dnc, home, schemas
from handlers.context import listener_arguments


def register_all(app: AsyncApp) -> None:
    """Hand listeners their typed arguments, then register every listener module."""
    app.middleware(listener_arguments)
    commands.register(app)
    calls.register(app)
    batches.register(app)
    schemas.register(app)
    backfills.register(app)
    home.register(app)
    dnc.register(app)
