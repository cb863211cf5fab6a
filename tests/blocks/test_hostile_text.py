"""Every builder, fed text that would ping the channel or link elsewhere: it must arrive as text."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot.bland.models import BackfillStatus, Call, CitationSchema, ConversationResult
from bot.blocks.approvals import approval_card
from bot.blocks.backfills import (
    BackfillCardInfo,
    backfill_card,
    backfill_failure,
    backfill_results,
    schema_list,
    schema_view,
    sms_results,
    workflow_status,
)
from bot.blocks.batches import (
    BatchCardInfo,
    BatchProgress,
    batch_card,
    batch_summary,
    batches_list,
)
from bot.blocks.home import HomeData, home_view
from bot.blocks.messages import CallCardInfo, call_card, call_result, call_status, help_blocks
from bot.domain import BatchState, CallState
from bot.pricing import Pricing
from bot.tracking.batch_results import BatchResults
from handlers.commands import HELP
from tests.blocks.slack_limits import HOSTILE, pings_in
from tests.blocks.test_batches import request


def rendered(text: str, blocks: list[Block]) -> tuple[str, list[dict[str, Any]]]:
    return text, [b.to_dict() for b in blocks]


def hostile_call() -> Call:
    return Call.model_validate(
        {
            "call_id": "c1",
            "to": "+14155550123",
            "queue_status": "call_error",
            "completed": True,
            "summary": HOSTILE,
            "error_message": HOSTILE,
            "answered_by": HOSTILE,
            "call_ended_by": HOSTILE,
            "analysis": {HOSTILE: HOSTILE},
            "variables": {HOSTILE: HOSTILE},
            "transcripts": [{"user": "user", "text": HOSTILE}, {"user": HOSTILE, "text": HOSTILE}],
        }
    )


def test_call_builders() -> None:
    info = CallCardInfo("c1", "+14155550123", "U1", HOSTILE, CallState.IN_PROGRESS)
    assert pings_in(*rendered(*call_card(info))) == []
    result = call_result(hostile_call(), redact=True)
    assert pings_in(*rendered(result.text, result.blocks)) == []
    assert pings_in(*rendered(*call_status(hostile_call(), redact=True))) == []
    assert pings_in(*rendered(*help_blocks(HELP, f"Unknown subcommand `{HOSTILE}`."))) == []


def test_batch_builders() -> None:
    payload = {
        "call_data": [{"phone_number": "+14155550100", HOSTILE: HOSTILE}],
        "base_prompt": HOSTILE,
        "voice": HOSTILE,
        "max_duration": 3,
    }
    card = approval_card(
        request(label=HOSTILE, note=HOSTILE, payload=payload),
        placeholders=[HOSTILE],
        redact=True,
        pricing=Pricing.of("start", 0.1),
    )
    assert pings_in(*rendered(*card)) == []
    progress = BatchProgress(total=2, completed=1, queue_statuses={HOSTILE: 1})
    live = BatchCardInfo("b1", HOSTILE, "U2", "U1", progress, BatchState.RUNNING)
    assert pings_in(*rendered(*batch_card(live))) == []
    batch = Batch_with(HOSTILE)
    with BatchResults.of(batch.call_data, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        assert pings_in(*rendered(*batch_summary(results, batch.analysis, label=HOSTILE))) == []
    assert pings_in(*rendered(*batches_list([(request(label=HOSTILE), {"completed": 1, "total": 2})]))) == []


def Batch_with(text: str) -> Any:
    from bot.bland.models import Batch

    return Batch.model_validate(
        {
            "status": "completed",
            "call_data": [
                {"call_id": "c1", "queue_status": "call_error", "error_message": text, "answered_by": text},
                {"call_id": "c2", "queue_status": "complete", "call_length": 1, "answered_by": "human"},
            ],
        }
    )


def test_backfill_and_schema_builders() -> None:
    info = BackfillCardInfo("bf1", "U1", 3, 1, [HOSTILE], {"backfill:1": HOSTILE}, 10.0)
    assert pings_in(*rendered(*backfill_card(info))) == []
    status = BackfillStatus.model_validate(
        {
            "workflow_id": "backfill:1",
            "status": "COMPLETED",
            "result": {
                "status": "partial",
                "calls": [
                    {
                        "call_id": "c1",
                        "status": HOSTILE,
                        "schemas_processed": [{"schema_id": "s1", "status": "failed"}],
                        "previous_variables": {HOSTILE: HOSTILE},
                        "newly_extracted_variables": {HOSTILE: HOSTILE + "!"},
                    }
                ],
                "summary": {"total_calls": 1},
            },
        }
    )
    assert pings_in(*rendered(*backfill_results(status, part="", schema_names={"s1": HOSTILE}))) == []
    failed = BackfillStatus(workflow_id="backfill:1", status=HOSTILE, start_time=HOSTILE, close_time=HOSTILE)
    assert pings_in(*rendered(*backfill_failure(failed, part="", call_count=1))) == []
    assert pings_in(*rendered(*workflow_status(failed))) == []
    conversation = ConversationResult(
        conversation_id="conv1", status=HOSTILE, error=HOSTILE, newly_extracted_variables={HOSTILE: HOSTILE}
    )
    assert pings_in(*rendered(*sms_results([conversation]))) == []
    schema = CitationSchema.model_validate(
        {
            "id": "s1",
            "name": HOSTILE,
            "description": HOSTILE,
            "schema": {
                "variables": [{"name": HOSTILE, "type": HOSTILE, "description": HOSTILE}],
                "groupings": [{"name": HOSTILE, "variables": [HOSTILE]}],
                "conditions": [
                    {
                        "condition": {"variable": HOSTILE, "operator": HOSTILE, "value": HOSTILE},
                        "variables": [{"name": HOSTILE}],
                    }
                ],
            },
        }
    )
    assert pings_in(*rendered(*schema_view(schema))) == []
    assert pings_in(*rendered(*schema_list([schema], fallback=False))) == []


def test_home_tab() -> None:
    data = HomeData(
        user="U2",
        pending=[request(label=HOSTILE)],
        mine=[request(label=HOSTILE)],
        batches=[{"label": HOSTILE, "batch_id": "b1", "completed": 1, "total": 2}],
        calls=[{"to": "+14155550123", "state": HOSTILE, "call_id": "c1"}],
    )
    view = home_view(data).to_dict()
    assert pings_in("", view) == []
