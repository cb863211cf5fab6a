from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import stamina

from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_stub import SlackStub

# OAuth credentials in the environment would switch bolt to multi-workspace mode; tests never want that.
OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OAUTH_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fast_retries() -> None:
    # Retries stay on (their count is part of the behaviour) but never wait.
    stamina.set_testing(True, attempts=3)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with Sandbox(tmp_path / "bot.db") as box:
        yield box


@pytest.fixture
async def box(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The app between the stand-ins, set up by the module's `BOX_SETTINGS` (Sandbox's keyword arguments).

    On a SQLite file; on each database in turn when the test also uses `database_url`."""
    settings: dict[str, Any] = dict(getattr(request.module, "BOX_SETTINGS", {}))
    if "batch_api" in request.fixturenames:
        settings["bland_speaks"] = request.getfixturevalue("batch_api")
    where = (
        request.getfixturevalue("database_url")
        if "database_url" in request.fixturenames
        else tmp_path / "box.db"
    )
    async with Sandbox(where, **settings) as sandbox:
        yield sandbox


@pytest.fixture(params=["v1", "v2"])
def batch_api(request: pytest.FixtureRequest) -> str:
    """Each of Bland's batch APIs in turn: the box's Bland speaks only that one (the other's routes 404)."""
    return str(request.param)


@pytest.fixture
async def services() -> AsyncIterator[tuple[SlackStub, BlandSimulator]]:
    """The Slack stand-in and the Bland simulator on ephemeral ports, for a bot process to talk to."""
    stub, sim = SlackStub(), BlandSimulator()
    await stub.start()
    await sim.start()
    yield stub, sim
    await sim.stop()
    await stub.stop()


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
NO_POSTGRES = (
    "PostgreSQL tests need TEST_DATABASE_URL, e.g. TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test "
    "(.ci/run sets it and fails when the server cannot be reached)"
)


@contextlib.asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh schema of the test database, dropped afterwards; yields the URL that selects it."""
    if not TEST_DATABASE_URL:
        pytest.skip(NO_POSTGRES)
    import asyncpg  # type: ignore[import-untyped]

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{TEST_DATABASE_URL}?schema={schema}"
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each backend in turn: a SQLite file, then a schema of the PostgreSQL test database."""
    if request.param == "sqlite":
        yield str(tmp_path / "s.db")
        return
    async with postgres_schema() as url:
        yield url
