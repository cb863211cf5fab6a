"""Hostile input through the real app: every request answered 2xx or 4xx, nothing logged as a traceback."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from bot.sandbox.harness import Sandbox
from bot.sandbox.hostile import send_hostile

# bench/fuzz.py sends 10,000 of these; the suite sends enough to touch every kind, with a fixed seed.
COUNT = 600


async def test_hostile_requests_never_get_a_500_nor_a_traceback(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = await send_hostile(sandbox, 11, COUNT)
    for answer in answers:
        assert answer.status < 500, (answer.request.kind, answer.request.body[:300], answer.text)
    statuses = Counter(a.status for a in answers)
    kinds = Counter(a.request.kind.split("/")[0] for a in answers)
    assert set(kinds) == {"command", "interactive", "event", "webhook"}
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[401] > 0  # each way of answering was used
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert tracebacks == [], tracebacks[0].getMessage()
    assert "Traceback" not in caplog.text


async def test_a_bad_timestamp_is_refused_with_401(sandbox: Sandbox) -> None:
    for stamp in ("abc", "", "12.5", "9" * 40):
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=00",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = await sandbox.http.post(
            f"{sandbox.base_url}/slack/events", content=b"command=%2Fbland", headers=headers
        )
        assert response.status_code == 401


async def test_a_signed_but_malformed_payload_is_refused_with_400_and_a_reason(sandbox: Sandbox) -> None:
    response = await sandbox.post_signed(
        "payload=%7B%22type%22%3A%22block_actions%22%7D"
    )  # no user, no actions
    assert response.status_code == 400 and "malformed request" in response.json()["error"]


async def test_a_command_over_3000_characters_gets_the_help(sandbox: Sandbox) -> None:
    response = await sandbox.command("call " + "x" * 3100)
    body = response.json()
    assert response.status_code == 200 and body["response_type"] == "ephemeral"
    assert "characters long; nothing was done" in body["text"] and "/bland call" in str(body["blocks"])
