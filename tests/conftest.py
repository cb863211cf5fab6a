from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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
async def services() -> AsyncIterator[tuple[SlackStub, BlandSimulator]]:
    """The Slack stand-in and the Bland simulator on ephemeral ports, for a bot process to talk to."""
    stub, sim = SlackStub(), BlandSimulator()
    await stub.start()
    await sim.start()
    yield stub, sim
    await sim.stop()
    await stub.stop()
