"""Schema and backfill builders: schemas, the backfill card, results, failures and SMS, at any size."""

from __future__ import annotations

from typing import Any

from bot.bland.models import BackfillStatus, CitationSchema, ConversationResult
from bot.blocks.backfills import (
    BackfillCardInfo,
    backfill_card,
    backfill_failure,
    backfill_results,
    backfill_state,
    schema_list,
    schema_view,
    sms_results,
    workflow_status,
)
from bot.domain import BackfillOutcome
from tests.blocks.slack_limits import message_fits

HUGE = "z" * 20_000


def schema(variables: int = 2, text: str = "What they said") -> CitationSchema:
    return CitationSchema.model_validate(
        {
            "id": "sch_1",
            "name": "Renewal outcome",
            "description": text,
            "schema": {
                "variables": [
                    {"name": f"v{i}", "type": "string", "description": text} for i in range(variables)
                ],
                "groupings": [{"name": "g", "variables": [f"v{i}" for i in range(variables)]}],
                "conditions": [
                    {
                        "condition": {"variable": "v0", "operator": "===", "value": text},
                        "variables": [{"name": "extra", "type": "boolean"}],
                    }
                ],
            },
        }
    )


def test_schema_view_shows_variables_groupings_and_conditions() -> None:
    body = str(message_fits(*schema_view(schema())))
    assert "*v0*" in body and "Groupings" in body and "Conditions" in body and "===" in body


def test_schema_view_and_list_with_oversized_input_fit() -> None:
    message_fits(*schema_view(schema(variables=500, text=HUGE)))
    many = [
        CitationSchema.model_validate({"id": f"s{i}", "name": HUGE[:500], "description": HUGE})
        for i in range(300)
    ]
    rendered = message_fits(*schema_list(many, fallback=True))
    assert "404" in str(rendered)


def test_backfill_state_sums_up_workflows() -> None:
    assert backfill_state({}) is BackfillOutcome.RUNNING
    assert backfill_state({"a": "COMPLETED", "b": "RUNNING"}) is BackfillOutcome.RUNNING
    assert backfill_state({"a": "COMPLETED", "sms": "SMS DONE"}) is BackfillOutcome.COMPLETED
    assert backfill_state({"a": "COMPLETED", "b": "TIMED_OUT"}) is BackfillOutcome.FAILED


def test_backfill_card_with_many_parts_and_long_schema_names_fits() -> None:
    info = BackfillCardInfo(
        backfill_id="bf1",
        requester="U1",
        calls=10_000,
        conversations=50,
        schemas=[HUGE[:200]] * 50,
        workflows={f"backfill:{i}": "RUNNING" for i in range(100)},
        elapsed=75.0,
    )
    rendered = message_fits(*backfill_card(info))
    assert "Elapsed" in str(rendered)


def call_result(i: int, text: str) -> dict[str, Any]:
    return {
        "call_id": f"c{i}",
        "status": "partial" if i % 3 == 0 else "success",
        "schemas_processed": [{"schema_id": "s1", "status": "failed" if i % 3 == 0 else "success"}],
        "previous_variables": {"renewal": text},
        "newly_extracted_variables": {"renewal": text + "!", **{f"k{j}": text for j in range(30)}},
        "final_variables": {"renewal": text + "!"},
    }


def completed(calls: int, text: str = "yes") -> BackfillStatus:
    return BackfillStatus.model_validate(
        {
            "workflow_id": "backfill:1",
            "status": "COMPLETED",
            "result": {
                "status": "partial",
                "calls": [call_result(i, text) for i in range(calls)],
                "summary": {"total_calls": calls, "successful_calls": calls - calls // 3},
            },
        }
    )


def test_results_show_counts_and_what_changed() -> None:
    rendered = message_fits(*backfill_results(completed(4), part="", schema_names={"s1": "Renewal"}))
    body = str(rendered)
    assert "_(was yes)_" in body or "(was" in body
    assert "Renewal" in body  # the failed schema is named


def test_results_of_many_calls_with_long_values_fit() -> None:
    message_fits(*backfill_results(completed(500, HUGE), part=" (part 2/3)", schema_names={"s1": HUGE}))


def test_failures_and_status_fit_and_say_what_happened() -> None:
    for state in ("FAILED", "TERMINATED", "TIMED_OUT", "WEIRD"):
        status = BackfillStatus(workflow_id="backfill:9", status=state, start_time="t0")
        text, blocks = backfill_failure(status, part="", call_count=3)
        assert state.lower().replace("_", " ")[:5] in str(message_fits(text, blocks)).lower()
    message_fits(*workflow_status(completed(50, HUGE)))


def test_sms_results_fit_with_many_conversations() -> None:
    conversations = [
        ConversationResult(
            conversation_id=f"conv{i}",
            status="error" if i % 2 else "success",
            error=HUGE if i % 2 else None,
            newly_extracted_variables={f"k{j}": HUGE for j in range(20)},
        )
        for i in range(50)
    ]
    rendered = message_fits(*sms_results(conversations))
    assert "more in the attached file" in str(rendered)
