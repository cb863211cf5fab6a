"""The listener plumbing: the arguments every listener is handed, and the wrapper that reports its errors."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from slack_bolt.context.async_context import AsyncBoltContext

from bot.ids import BlockId
from bot.sandbox.harness import ALICE, OPS_CHANNEL, Sandbox
from handlers.context import listener_arguments, reports_errors


async def arguments(body: Any) -> dict[str, Any]:
    context = AsyncBoltContext()
    called = []

    async def next_() -> None:
        called.append(True)

    await listener_arguments(body, context, next_)
    assert called == [True]  # the request always goes on
    return {key: context[key] for key in ("user", "value", "values", "meta", "origin")}


async def test_a_click_hands_over_user_value_and_channel() -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "actions": [{"value": "r1"}],
    }
    assert await arguments(body) == {"user": "U1", "value": "r1", "values": {}, "meta": {}, "origin": "C1"}


async def test_a_submission_hands_over_the_form_and_the_channel_it_was_opened_from() -> None:
    view = {
        "private_metadata": json.dumps({"origin_channel": "C2", "request_id": "r1"}),
        "state": {"values": {BlockId.PHONE: {BlockId.PHONE: {"type": "plain_text_input", "value": "+1415"}}}},
    }
    got = await arguments({"type": "view_submission", "user": {"id": "U1"}, "view": view})
    assert got["values"] == {BlockId.PHONE: "+1415"} and got["meta"]["request_id"] == "r1"
    assert got["origin"] == "C2"


async def test_a_modal_from_the_home_tab_takes_the_channel_picked_in_it() -> None:
    view = {
        "state": {
            "values": {
                BlockId.CHANNEL: {
                    BlockId.CHANNEL: {"type": "conversations_select", "selected_conversation": "C3"}
                }
            }
        }
    }
    assert (await arguments({"type": "view_submission", "user": {"id": "U1"}, "view": view}))[
        "origin"
    ] == "C3"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "view_submission", "view": "not a view"},
        {"type": "view_submission", "view": {"private_metadata": "[1, 2]", "state": {"values": {}}}},
        {"actions": "nope", "user": "U1", "channel": ["C1"]},
        {"actions": [None], "event": {"user": "U9"}},
    ],
)
async def test_malformed_bodies_give_empty_arguments_not_errors(body: dict[str, Any]) -> None:
    got = await arguments(body)
    assert got["value"] == "" and got["values"] == {} and isinstance(got["origin"], str)


async def test_the_wrapper_hands_a_listener_only_what_it_names() -> None:
    seen: dict[str, Any] = {}

    async def listener(ack: Any, value: str) -> None:
        seen.update(value=value)

    wrapped = reports_errors(listener)
    # bolt reads the wrapper's parameters to choose what to pass: its own four, and the listener's.
    assert set(inspect.signature(wrapped).parameters) == {"ack", "body", "deps", "respond", "value"}
    assert wrapped.__name__ == "listener" and not hasattr(wrapped, "__wrapped__")


async def test_an_error_after_ack_reaches_the_person_who_clicked(sandbox: Sandbox) -> None:
    # stop_call_clicked names (ack, value, user, origin, deps, respond): the wrapper still gets body and
    # respond to report Bland's refusal under the message that was clicked.
    before = len(sandbox.slack.responses)
    await sandbox.click("stop_call", "no-such-call", user=ALICE, channel=OPS_CHANNEL)
    replies = await sandbox.until(lambda: sandbox.slack.responses[before:], what="the error reply")
    assert (
        replies[0]["text"].startswith(":warning: Bland rejected the request")
        and replies[0]["response_type"] == "ephemeral"
    )
