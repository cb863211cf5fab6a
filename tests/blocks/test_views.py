"""Modals and the Home tab: within Slack's view limits, with inputs Slack will accept."""

from __future__ import annotations

from typing import Any

from bot.blocks.backfill_modals import backfill_confirm_view, backfill_modal, schema_modal
from bot.blocks.batch_modals import batch_modal, reject_modal
from bot.blocks.home import HomeData, home_view
from bot.blocks.modals import call_modal, metadata, read_values
from bot.domain import RequestState
from bot.ids import BlockId
from tests.blocks.slack_limits import view_fits
from tests.blocks.test_batches import request

HUGE = "w" * 20_000
VOICES = ("maya", "josh")


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def test_call_modal_prefills_and_keeps_its_origin() -> None:
    view = view_fits(
        call_modal(origin_channel="C1", voices=VOICES, max_minutes=30, phone="+14155550123", task="Say hi")
    )
    fields = inputs(view)
    assert fields[BlockId.PHONE]["initial_value"] == "+14155550123"
    assert fields[BlockId.TASK]["initial_value"] == "Say hi"
    assert metadata(view) == {"origin_channel": "C1"}
    assert fields[BlockId.CHANNEL]["initial_conversation"] == "C1"  # results go where it was typed


def test_call_modal_from_the_home_tab_asks_for_a_channel_and_cuts_an_oversized_prefill() -> None:
    view = view_fits(call_modal(origin_channel="", voices=VOICES * 200, max_minutes=30, task=HUGE))
    fields = inputs(view)
    assert "initial_conversation" not in fields[BlockId.CHANNEL]
    assert len(fields[BlockId.TASK]["initial_value"]) == fields[BlockId.TASK]["max_length"]


def test_batch_modals_fit() -> None:
    view = view_fits(batch_modal(origin_channel="C1", voices=VOICES, max_minutes=30, max_calls=10_000))
    assert BlockId.RECIPIENTS_FILE in inputs(view) and BlockId.RECIPIENTS_TEXT in inputs(view)
    rejected = view_fits(reject_modal(request_id="r1", label=HUGE, origin_channel="C1"))
    assert metadata(rejected)["request_id"] == "r1"


def test_schema_and_backfill_modals_fit_with_many_schemas() -> None:
    view_fits(schema_modal(origin_channel="C1"))
    view = view_fits(backfill_modal(origin_channel="C1", schemas=[(f"s{i}", HUGE) for i in range(500)]))
    assert BlockId.BACKFILL_SCHEMAS in inputs(view)
    view_fits(backfill_modal(origin_channel="", schemas=[]))
    confirm = view_fits(
        backfill_confirm_view(
            backfill_id="bf1",
            origin_channel="C1",
            calls=10_000,
            schemas=[HUGE] * 50,
            requests=100,
            conversations=50,
        )
    )
    assert metadata(confirm)["backfill_id"] == "bf1"


def test_read_values_flattens_every_element_kind() -> None:
    view = {
        "state": {
            "values": {
                "a": {"a": {"type": "plain_text_input", "value": "text"}},
                "b": {"b": {"type": "static_select", "selected_option": {"value": "maya"}}},
                "c": {"c": {"type": "checkboxes", "selected_options": [{"value": "record"}]}},
                "d": {"d": {"type": "conversations_select", "selected_conversation": "C9"}},
                "e": {"e": {"type": "file_input", "files": [{"id": "F1"}]}},
                "f": {"f": {"type": "static_select", "selected_option": None}},
            }
        }
    }
    assert read_values(view) == {
        "a": "text",
        "b": "maya",
        "c": ["record"],
        "d": "C9",
        "e": [{"id": "F1"}],
        "f": None,
    }
    assert metadata({"private_metadata": "not json"}) == {} and metadata({}) == {}


def test_home_tab_offers_decisions_and_fits_with_a_lot_going_on() -> None:
    pending = [request(id=f"r{i}", label=HUGE[:80]) for i in range(40)]
    mine = [request(id=f"m{i}", state=RequestState.SENT, batch_id=f"b{i}") for i in range(40)]
    data = HomeData(
        user="U2",
        pending=pending,
        mine=mine,
        batches=[{"label": HUGE, "batch_id": f"b{i}", "completed": 1, "total": 3} for i in range(40)],
        backfills=[HUGE] * 40,
        calls=[{"to": "+14155550123", "state": "completed", "call_id": f"c{i}"} for i in range(40)],
    )
    view = view_fits(home_view(data))
    assert view["type"] == "home"
    decisions = [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert decisions.count("approve_batch") >= 1 and decisions.count("reject_batch") >= 1
    assert "4155550123" not in str(view)


def test_home_tab_for_a_newcomer_says_nothing_waits() -> None:
    view = view_fits(home_view(HomeData(user="U1")))
    assert "Nothing waits for you" in str(view)
