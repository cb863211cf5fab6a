"""Message builders: calls, notices, help, status. Each renders within Slack's limits, whatever it is fed."""

from __future__ import annotations

from typing import Any

from bot.bland.models import Call
from bot.blocks.format import money, plural, progress_bar
from bot.blocks.messages import (
    CallCardInfo,
    call_card,
    call_result,
    call_state,
    call_status,
    help_blocks,
    notice,
    outcome_line,
    stop_all_prompt,
    stop_call_prompt,
)
from bot.domain import CallState
from handlers.commands import COMMANDS, HELP, closest
from tests.blocks.slack_limits import message_fits

HUGE = "x" * 50_000


def finished_call(**overrides: Any) -> Call:
    body: dict[str, Any] = {
        "call_id": "call-1",
        "to": "+14155550123",
        "queue_status": "complete",
        "completed": True,
        "call_length": 1.5,
        "price": 0.14,
        "answered_by": "human",
        "summary": "They confirmed the appointment for +14155550123.",
        "transcripts": [
            {"user": "assistant", "text": "Hello, this is Acme."},
            {"user": "user", "text": "Hi, yes."},
        ],
        "analysis": {"confirmed": True},
        "variables": {"now": "Mon", "plan": "gold"},
    }
    return Call.model_validate(body | overrides)


def test_help_lists_every_subcommand_from_the_command_table_grouped_by_task() -> None:
    text, blocks = help_blocks(HELP)
    rendered = message_fits(text, blocks)
    body = str(rendered)
    for command in COMMANDS:
        assert f"/bland {command.usage}" in body
    listed = [usage for _, commands in HELP for usage, _ in commands]
    assert sorted(listed) == sorted(c.usage for c in COMMANDS)  # each once, none left out of a group
    titles = [b["text"]["text"].split("\n")[0] for b in rendered if b["type"] == "section"][1:]
    assert titles == [
        "*Calls*",
        "*Batches*",
        "*Backfills and schemas*",
        "*Notifications*",
        "*Administration*",
        "*Help*",
    ]
    assert "Unknown" not in body


def test_a_typo_gets_the_subcommand_it_most_likely_meant() -> None:
    assert [closest(t) for t in ("cal", "stopall", "schemes", "batchs", "balnce")] == [
        "call",
        "stop-all",
        "schemas",
        "batches",
        "balance",
    ]
    assert closest("dance") is None and closest("frobnicate") is None


def test_words_agree_and_money_is_in_cents() -> None:
    assert (plural(1, "call"), plural(2, "call"), plural(1000, "extraction")) == (
        "1 call",
        "2 calls",
        "1,000 extractions",
    )
    assert plural(1, "recent batch", "recent batches") == "1 recent batch"
    assert (money(0.9), money(2.7), money(0.015), money(1234.5), money(0.0)) == (
        "$0.90",
        "$2.70",
        "$0.015",
        "$1,234.50",
        "$0.00",
    )
    assert "`" not in progress_bar(
        5, 5
    )  # inline code is red in Slack: a healthy 100 % must not look like an error
    text, blocks = stop_all_prompt(0)
    assert "nothing to stop" in text and not [b for b in blocks if b.type == "actions"]
    assert "Stop all 1 live call" in str(message_fits(*stop_all_prompt(1)))


def test_help_names_the_problem_first_and_escapes_it() -> None:
    text, blocks = help_blocks(HELP, "Unknown subcommand `<!channel>`.")
    rendered = message_fits(text, blocks)
    assert rendered[0]["text"]["text"].startswith(":warning: Unknown subcommand")
    assert "<!channel>" not in rendered[0]["text"]["text"]


def test_an_ended_calls_card_says_who_answered_how_long_the_cost_and_how_it_went() -> None:
    call = Call.model_validate(
        {
            "call_id": "c1",
            "queue_status": "complete",
            "completed": True,
            "answered_by": "human",
            "corrected_duration": "99",
            "price": 0.23,
            "summary": "They confirmed Tuesday at 3pm. Their insurer is Aetna.",
        }
    )
    info = CallCardInfo(
        "c1", "+14155550123", "U1", "Confirm", CallState.COMPLETED, outcome=outcome_line(call, redact=True)
    )
    shown = str(message_fits(*call_card(info)))
    assert "Answered by *human* · 1m 39s · $0.23" in shown and "> They confirmed Tuesday at 3pm." in shown
    assert "Aetna" not in shown  # the first sentence only: the rest is in the thread
    failed = Call.model_validate(
        {"call_id": "c2", "queue_status": "queue_error", "error_message": "Unreachable"}
    )
    assert outcome_line(failed, redact=True).startswith("Failed: Unreachable")


def test_notice_truncates_oversized_text() -> None:
    text, blocks = notice(HUGE)
    # The fallback is the caller's text; the block must still fit.
    message_fits(text[:100], blocks)
    assert blocks[0].to_dict()["text"]["text"].endswith("…")


def test_call_card_shows_stop_only_while_the_call_is_live() -> None:
    live = CallCardInfo("c1", "+14155550123", "U1", "Confirm", CallState.IN_PROGRESS)
    rendered = message_fits(*call_card(live))
    assert any(b["type"] == "actions" for b in rendered)
    assert "4155550123" not in str(rendered) and "•0123" in str(rendered)
    done = CallCardInfo("c1", "+14155550123", "U1", "Confirm", CallState.COMPLETED)
    assert not any(b["type"] == "actions" for b in message_fits(*call_card(done)))


def test_call_card_with_oversized_task_and_note_fits() -> None:
    info = CallCardInfo("c" * 200, "+14155550123", "U1", HUGE, CallState.QUEUED, note=HUGE[:2000])
    message_fits(*call_card(info))


def test_call_state_maps_blands_statuses() -> None:
    assert call_state(finished_call()) is CallState.COMPLETED
    assert call_state(finished_call(queue_status="call_error", completed=True)) is CallState.FAILED
    assert call_state(finished_call(queue_status="started", completed=False)) is CallState.IN_PROGRESS
    assert call_state(finished_call(queue_status="queued", completed=False)) is CallState.QUEUED
    assert call_state(finished_call(queue_status="??", completed=False)) is CallState.UNKNOWN


def test_call_result_shows_outcome_summary_fields_and_transcript() -> None:
    result = call_result(finished_call(), redact=True)
    rendered = message_fits(result.text, result.blocks)
    body = str(rendered)
    assert "*Summary*" in body and "confirmed" in body and "plan" in body
    assert "Agent: Hello, this is Acme." in body and "Callee: Hi, yes." in body
    assert "4155550123" not in body  # the number inside the summary is masked too
    assert "now" not in [f["text"].split("*")[1] for b in rendered for f in b.get("fields", [])]
    assert not result.attached  # everything is in the message: no file


def test_call_result_with_oversized_everything_fits_and_attaches_the_transcript() -> None:
    call = finished_call(
        summary=HUGE,
        analysis={f"key_{i}": HUGE for i in range(40)},
        variables={f"var_{i}": HUGE for i in range(40)},
        transcripts=[{"user": "user", "text": HUGE} for _ in range(3)],
        error_message=HUGE,
    )
    result = call_result(call, redact=True)
    message_fits(result.text, result.blocks)
    assert result.attached and len(result.file_text) > 100_000
    assert all(f"var_{i}: " in result.file_text for i in range(40))  # every variable, in the file


def test_call_status_adds_outcome_and_summary_once_ended() -> None:
    rendered = message_fits(*call_status(finished_call(summary=HUGE), redact=True))
    assert not any(b["type"] == "actions" for b in rendered)
    assert any("*Summary*" in b.get("text", {}).get("text", "") for b in rendered)
    live = message_fits(*call_status(finished_call(queue_status="started", completed=False), redact=True))
    assert "Summary" not in str(live)


def test_stop_call_prompt_asks_for_confirmation() -> None:
    rendered = message_fits(*stop_call_prompt("c1", "+•••0123"))
    button = next(e for b in rendered if b["type"] == "actions" for e in b["elements"])
    assert button["confirm"]["title"]["text"] and button["value"] == "c1"
