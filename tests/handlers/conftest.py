"""Fixtures shared by the handler tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.harness import ALICE, BOB, Sandbox
from tests.handlers.test_batches import APPROVALS


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The app with Alice and Bob as approvers and an approval channel (a module may define its own)."""
    async with Sandbox(
        tmp_path / "b.db", approver_users=(ALICE, BOB), approval_channel=APPROVALS, batch_poll_seconds=15
    ) as sandbox:
        yield sandbox
