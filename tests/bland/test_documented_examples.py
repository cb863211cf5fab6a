"""Bland's documents' own example replies, served over HTTP to the real client, then rendered by the builders.

Every example the bot reads is in tests/fixtures/bland/, copied verbatim with its source named. Each is
parsed by the client's models and shown by the builders that show it; none may crash, and none may show an
unknown value as a number ("$0.00" for a price that was never given, "0s" for an unknown length).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.bland.client import BlandClient
from bot.bland.errors import (
    BlandNotFoundError,
    BlandOutcomeUnknownError,
    BlandValidationError,
    RecordingNotFoundError,
)
from bot.blocks.backfills import backfill_results, schema_view, sms_results, workflow_status
from bot.blocks.batches import BatchCardInfo, BatchProgress, batch_card, batch_summary
from bot.blocks.messages import CallCardInfo, call_card, call_result, call_status
from bot.domain import BatchState
from bot.flows.batch_api import lifecycle_from_logs, lifecycle_of
from bot.flows.schemas import definition_text, parse_definition
from bot.pricing import Pricing
from bot.tracking.batch_results import BatchResults
from tests.bland_fixtures import FIXTURES, load
from tests.blocks.slack_limits import message_fits
from tests.helpers import answering

Answers = dict[tuple[str, str], tuple[str, int]]


@pytest.fixture
async def documented() -> AsyncIterator[tuple[BlandClient, Answers]]:
    """A server answering each (method, path) with a fixture, byte for byte as the documents print it
    (comments removed: Bland's wire format is JSON)."""
    answers: Answers = {}

    async def answer(request: web.Request) -> web.Response:
        name, status = answers[(request.method, request.path)]
        return web.json_response(load(name), status=status)

    async with answering(answer) as url:
        client = BlandClient(url, "key", retry_attempts=1)
        try:
            yield client, answers
        finally:
            await client.aclose()


def shown(text: str, blocks: list[Any]) -> str:
    """Everything a person reads of a message (it must also be one Slack accepts)."""
    return text + json.dumps(message_fits(text, blocks))


NO_INVENTED_NUMBERS = re.compile(r"\$0\.00\b|(?<![\d.])0s\b")


def test_every_fixture_names_its_source_and_parses() -> None:
    names = sorted(p.name for p in FIXTURES.glob("*.jsonc"))
    assert len(names) >= 20
    for name in names:
        first = (FIXTURES / name).read_text().splitlines()[0]
        # The original documents (../shared/seeds/), or Bland's documentation as it stands today.
        assert first.startswith(("// Source: ../shared/seeds/", "// Source: https://docs.bland.ai/")), name
        assert isinstance(load(name), dict), name


async def test_the_documented_call_parses_and_renders(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("GET", "/v1/calls/d9cc")] = ("call_details.jsonc", 200)
    call = await client.get_call("d9cc")
    assert call.is_terminal and call.normalized_queue_status == "complete"  # the example says `completed`
    assert call.duration_seconds == 45.0 and call.price == 0.068
    result = call_result(call, redact=True)
    text = shown(result.text, result.blocks)
    assert "duration 45s" in text and "price $0.068" in text and "*Summary*" in text
    assert "Agent:" in text and "Callee:" in text
    assert "Recording" not in text  # `record: false`
    assert not NO_INVENTED_NUMBERS.search(text)
    assert "2223334444" not in text  # masked
    message_fits(*call_status(call, redact=True))
    message_fits(*call_card(CallCardInfo.of_call(call, redact=True)))


async def test_the_documented_call_list_counts_and_normalises(
    documented: tuple[BlandClient, Answers],
) -> None:
    client, answers = documented
    answers[("GET", "/v1/calls")] = ("list_calls.jsonc", 200)
    listed = await client.list_calls(limit=1)
    assert listed.total_count is None and listed.count == 784  # the example has no total_count
    [call] = listed.calls
    assert call.to == "+15551234567"  # written "5551234567" in the example
    assert call.duration_seconds == pytest.approx(50.04)  # call_length 0.834 minutes
    assert call.is_terminal and call.batch_id == "b1234567-89ab-cdef-0123-gen-batch"
    result = call_result(call, redact=True)  # a light row: no price, no transcript
    text = shown(result.text, result.blocks)
    assert "price —" in text and "duration 50s" in text and not NO_INVENTED_NUMBERS.search(text)
    # One page of one row (the example's) and no total: counting by pages stops at the short page.
    assert await client.count_calls(cap=5000) == 784


async def test_the_documented_send_call_replies(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    for name in ("send_call_full.jsonc", "send_call_simple.jsonc"):
        answers[("POST", "/v1/calls")] = (name, 200)
        sent = await client.send_call({"phone_number": "+14155550123", "task": "t"})
        assert sent.call_id == "9d404c1b-6a23-4426-953a-a52c392ff8f1", name
    answers[("POST", "/v1/calls")] = ("send_call_error.jsonc", 400)
    with pytest.raises(BlandValidationError) as refused:
        await client.send_call({"phone_number": "+14155550123", "task": "t"})
    assert "Missing required parameter: phone_number." in refused.value.messages
    assert len(refused.value.messages) == 5  # the message and the four errors


async def test_the_documented_stops(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("POST", "/v1/calls/c1/stop")] = ("stop_call.jsonc", 200)
    assert (await client.stop_call("c1")).message == "Call ended successfully."
    answers[("POST", "/v1/calls/active/stop")] = ("stop_all.jsonc", 200)
    assert (await client.stop_all_calls()).num_calls == 12
    answers[("POST", "/v1/batches/b1/stop")] = ("stop_batch.jsonc", 200)
    stopped = await client.stop_batch("b1")
    assert stopped.status == "success" and stopped.num_calls == 1205
    card = batch_card(
        BatchCardInfo("b1", "x", None, None, None, BatchState.STOPPED, stopped_by="U1", stopped_calls=1205)
    )
    assert "1205 pending calls ended undialled or cut short" in shown(*card)


async def test_the_documented_recording_replies(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("GET", "/v1/calls/c1/recording")] = ("recording.jsonc", 200)
    assert (await client.get_recording("c1")).url == "https://URL-TO-FILE.mp3"
    answers[("GET", "/v1/calls/c2/recording")] = ("errors_envelope.jsonc", 404)
    with pytest.raises(BlandNotFoundError):
        await client.get_recording("c2")
    answers[("GET", "/v1/calls/c3/recording")] = ("recording_error.jsonc", 200)
    with pytest.raises(BlandValidationError):  # `"status": "error"` in a 200 is a failure too
        await client.get_recording("c3")


async def test_the_documented_batch_replies(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("POST", "/v1/batches")] = ("batch_created.jsonc", 200)
    created = await client.send_batch({"base_prompt": "x", "call_data": [{"phone_number": "+14155550123"}]})
    assert created.batch_id == "3p$7rQ3p9sT5bzmF-gen-batch"
    answers[("GET", "/v1/batches")] = ("list_batches.jsonc", 200)
    listed = await client.list_batches()
    assert listed.batches[0].batch_id == "ZfowpkhOSVCZJ94i-gen-batch"
    answers[("GET", "/v1/batches/AAcQ")] = ("batch_details.jsonc", 200)
    batch = await client.get_batch("AAcQ", include_calls=False)
    progress = BatchProgress.of(batch)
    assert (progress.total, progress.completed, progress.errors) == (88, 86, 1) and not progress.done
    card = shown(*batch_card(BatchCardInfo("AAcQ", "CSAT", "U2", "U1", progress, BatchState.RUNNING)))
    assert "86/88" in card and "Average length 17s" in card
    rows = [call async for call in client.batch_calls("AAcQ")]
    assert [c.to for c in rows] == ["+11112223333"]
    with BatchResults.of(rows, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        summary = shown(*batch_summary(results, batch.analysis, label="CSAT"))
        [row] = list(csv.DictReader(io.StringIO(results.csv())))
    assert "cost about $0.018" in summary and not NO_INVENTED_NUMBERS.search(summary)
    assert row["answered_by"] == "voicemail" and row["cost_source"] == "estimate"


async def test_the_documented_schema_replies(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("POST", "/v1/citation_schemas/")] = ("schema_created.jsonc", 200)
    created = await client.create_schema("Customer Information Extraction")
    assert created.id and created.body is not None and created.body.variables
    answers[("GET", "/v1/citation_schemas/")] = ("schema.jsonc", 200)
    schema = await client.get_schema("6ba7")
    text = shown(*schema_view(schema))
    assert (
        "Customer Name" in text
        and "Interested in Product" in text
        and "Demographics" in text
        and "===" in text
    )


async def test_the_documented_schema_list_and_update(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("GET", "/v1/citation_schemas/list")] = ("schema_list.jsonc", 200)
    (listed,) = await client.list_schemas()
    assert listed.name == "Customer Information Extraction" and listed.body is not None
    # Today's documents capitalise the types and add Category: the form takes the schema back as it is.
    definition = definition_text(listed)
    assert definition.splitlines()[1] == "Plan | Category | Which plan they are on"
    assert parse_definition(definition)["variables"][1]["type"] == "category"
    answers[("PATCH", "/v1/citation_schemas/")] = ("schema_updated.jsonc", 200)
    updated = await client.update_schema(
        "550e8400-e29b-41d4-a716-446655440000",
        name="Customer Information Extraction v2",
        description=None,
        schema={"variables": [{"name": "Customer Name", "type": "String", "description": "The full name"}]},
    )
    assert updated.name == "Customer Information Extraction v2"
    assert updated.body is not None and [v.name for v in updated.body.variables] == ["Customer Name"]


@pytest.mark.parametrize("state", ["RUNNING", "COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"])
async def test_the_documented_backfill_replies_in_every_state(
    documented: tuple[BlandClient, Answers], state: str
) -> None:
    client, answers = documented
    answers[("POST", "/v1/citation_schemas/backfill")] = ("backfill_started_many.jsonc", 202)
    started = await client.start_backfill({"call_ids": ["call-123"], "schema_ids": ["schema-abc"]})
    assert started.workflow_id and started.total_combinations == 6
    # The documents show RUNNING and COMPLETED; the other states are theirs with the status named.
    example = "backfill_completed.jsonc" if state == "COMPLETED" else "backfill_running.jsonc"
    answers[("GET", "/v1/citation_schemas/backfill/status/backfill:call-123:1760635265843")] = (example, 200)
    status = await client.backfill_status("backfill:call-123:1760635265843")
    status.status = state
    text = shown(*workflow_status(status))
    assert state in text and not NO_INVENTED_NUMBERS.search(text)
    if state == "COMPLETED":
        results = shown(*backfill_results(status, part="", schema_names={"schema-abc": "Orders"}))
        assert "ORD-789456" in results and "(new)" in results and not NO_INVENTED_NUMBERS.search(results)


async def test_the_documented_sms_backfill_reply(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    answers[("POST", "/v1/citation_schemas/backfill")] = ("backfill_sms.jsonc", 200)
    done = await client.start_backfill({"conversation_ids": ["conv-123", "conv-456"], "schema_id": "s"})
    assert done.workflow_id is None and len(done.conversations) == 2
    text = shown(*sms_results(done.conversations))
    assert "conv-123" in text and "support" in text and "billing" in text


async def test_the_documented_schema_errors_are_errors_whatever_their_body_says(
    documented: tuple[BlandClient, Answers],
) -> None:
    # Both error examples are copies of the success body (`"status": 200`): the HTTP status decides.
    client, answers = documented
    answers[("POST", "/v1/citation_schemas/")] = ("schema_create_error.jsonc", 400)
    with pytest.raises(BlandValidationError):
        await client.create_schema("")
    answers[("GET", "/v1/citation_schemas/")] = ("schema_not_found.jsonc", 404)
    with pytest.raises(BlandNotFoundError):
        await client.get_schema("nope")


# -- v2 batches, as Bland documents them today ----------------------------------------------------------


async def test_the_documented_v2_batch_replies_parse(documented: tuple[BlandClient, Answers]) -> None:
    client, answers = documented
    batch_id = "8b8e8c57-9e6e-4e4d-84d2-9826b2268c22"
    answers[("POST", "/v2/batches/create")] = ("v2_batch_created.jsonc", 200)
    answers[("GET", "/v2/batches/list")] = ("v2_batch_list.jsonc", 200)
    answers[("GET", f"/v2/batches/{batch_id}")] = ("v2_batch_get.jsonc", 200)
    answers[("GET", f"/v2/batches/{batch_id}/logs")] = ("v2_batch_logs.jsonc", 200)
    answers[("POST", f"/v2/batches/{batch_id}/stop")] = ("v2_batch_stop.jsonc", 200)
    assert await client.create_batch_v2({"global": {"task": "x"}, "call_objects": []}) == batch_id
    listed = await client.list_batches_v2(take=10)
    assert [(b.id, b.description) for b in listed] == [(batch_id, "My first batch")]
    assert json.loads(listed[0].base_prompt or "{}") == {"record": True, "task": "Say hello to the user"}
    assert (await client.get_batch_v2(batch_id)).description == "My first batch"
    phase = lifecycle_from_logs(await client.batch_logs(batch_id))
    assert phase.final and phase.phase == "completed"
    assert phase.counts == {"calls_total": 1, "calls_failed": 0, "calls_successful": 1}
    await client.stop_batch_v2(batch_id)  # `{data: null, errors: null}` is a success
    assert await client.probe_batches_v2() is True


async def test_a_v2_reply_with_errors_is_a_refusal_and_one_without_a_batch_id_an_unknown_outcome(
    documented: tuple[BlandClient, Answers],
) -> None:
    client, answers = documented
    answers[("POST", "/v2/batches/create")] = ("v2_batch_stop.jsonc", 200)  # {data: null, errors: null}
    with pytest.raises(BlandOutcomeUnknownError):
        await client.create_batch_v2({"global": {"task": "x"}, "call_objects": []})
    answers[("POST", "/v2/batches/create")] = ("errors_envelope.jsonc", 200)  # {data: null, errors: [...]}
    with pytest.raises(BlandValidationError):
        await client.create_batch_v2({"global": {"task": "x"}, "call_objects": []})
    answers[("GET", "/v2/batches/list")] = ("errors_envelope.jsonc", 404)
    assert await client.probe_batches_v2() is False  # a Bland that speaks only v1


def test_the_documented_status_events_read_as_phases() -> None:
    events = load("v2_status_events.jsonc")["events"]
    read = [lifecycle_of(event["status"], event) for event in events]
    assert [(r.phase, r.final) for r in read] == [
        ("validating", False),
        ("in_progress", False),
        ("completed", True),
        ("failed", True),
        ("completed_partial", True),
    ]
    assert read[1].message == "Requested: 100. Validated: 100. Dispatched: 100. CPS: 12.50."
    assert read[3].message == "source_invalid Entry #7 did not have a phone number."
    assert read[4].counts == {"calls_total": 50, "calls_successful": 45, "calls_failed": 5}


@pytest.mark.parametrize("status", [404, 200, 400])
async def test_a_missing_recording_is_known_by_its_documented_code_whatever_the_status(
    documented: tuple[BlandClient, Answers], status: int
) -> None:
    client, answers = documented
    answers[("GET", "/v1/recordings/c1")] = ("errors_envelope.jsonc", status)  # the status is not documented
    with pytest.raises(RecordingNotFoundError):
        await client.recording_audio("c1")
