"""The playground's server without a browser: what it refuses, and that what it sends is what Slack sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox.harness import ALICE
from bot.sandbox.playground import Playground, playground_box, start_playground


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Playground, str]]:
    box = playground_box(str(tmp_path), speed=60.0)
    playground, runner, url = await start_playground(box, "127.0.0.1", 0)
    try:
        yield playground, url
    finally:
        await playground.close()
        await runner.cleanup()
        await box.stop()


async def test_strangers_paths_and_empty_uploads_are_refused(served: tuple[Playground, str]) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        assert (
            await http.post("act/command", json={"as": "U0MALLORY", "text": "/bland help"})
        ).status_code == 400
        assert (await http.post("act/command", json=["not", "an", "object"])).status_code == 400
        assert (await http.get("static/..%2Fplayground.py")).status_code == 404  # nothing outside its folder
        assert (await http.get("static/app.js")).status_code == 200
        assert (await http.get("static/nothing.js")).status_code == 404
        assert (await http.get("files/F0NONE")).status_code == 404
        empty = await http.post("act/upload", files={"other": ("", b"")})
        assert empty.status_code == 400
        closed = await http.post("act/submit", json={"as": ALICE, "view_id": "V0NOTOPEN", "values": {}})
        assert closed.status_code == 409


async def test_a_command_reaches_the_bot_as_slack_sends_it_and_its_answer_is_for_the_typist_alone(
    served: tuple[Playground, str],
) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        sent = await http.post("act/command", json={"as": ALICE, "channel": "C0OPS", "text": "/bland cal"})
        assert sent.status_code == 200 and sent.json()["status"] == 200  # the bot checked Slack's signature
        mine = (await http.get("state", params={"as": ALICE})).json()["conversations"]["C0OPS"]
        assert len(mine) == 1 and "Did you mean `/bland call`?" in str(mine[0])
        theirs = (await http.get("state", params={"as": "U0BOB"})).json()["conversations"]["C0OPS"]
        assert theirs == []  # an ephemeral: nobody else sees it
        other = await http.post("act/command", json={"as": ALICE, "channel": "C0OPS", "text": "/giphy cats"})
        assert other.json()["body"] is None
        shown = (await http.get("state", params={"as": ALICE})).json()["conversations"]["C0OPS"]
        assert "Only `/bland …` commands reach the bot here" in str(shown[-1])
