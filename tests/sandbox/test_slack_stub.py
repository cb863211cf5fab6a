"""The Slack stand-in refuses what Slack refuses, so no test passes on a message Slack would reject."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_stub import SlackStub

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackStub, AsyncWebClient]]:
    stub = SlackStub()
    await stub.start()
    try:
        yield stub, AsyncWebClient(token=stub.bot_token, base_url=stub.api_url)
    finally:
        await stub.stop()


async def test_a_message_over_fifty_blocks_is_refused(slack: tuple[SlackStub, AsyncWebClient]) -> None:
    stub, client = slack
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0OPS", text="x", blocks=[SECTION] * 51)
    assert caught.value.response["error"] == "invalid_blocks"
    ok = await client.chat_postMessage(channel="C0OPS", text="x", blocks=[SECTION] * 50)
    assert ok["ok"] and len(stub.channel_messages("C0OPS")) == 1


async def test_an_oversized_section_field_is_refused_on_update_too(
    slack: tuple[SlackStub, AsyncWebClient],
) -> None:
    _, client = slack
    posted = await client.chat_postMessage(channel="C0OPS", text="x", blocks=[SECTION])
    field = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C0OPS", ts=posted["ts"], text="x", blocks=[field])
    assert caught.value.response["error"] == "invalid_blocks"


async def test_a_view_asking_for_more_than_3000_characters_is_refused(
    slack: tuple[SlackStub, AsyncWebClient],
) -> None:
    _, client = slack
    element = {"type": "plain_text_input", "action_id": "task", "max_length": 4000}
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Send a call"},
        "blocks": [
            {
                "type": "input",
                "block_id": "task",
                "label": {"type": "plain_text", "text": "Task"},
                "element": element,
            }
        ],
    }
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id="t", view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    assert "max_length" in str(caught.value.response["response_metadata"]["messages"])
    element["max_length"] = 3000
    assert (await client.views_open(trigger_id="t", view=view))["ok"]
