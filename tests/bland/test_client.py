"""The Bland client against the simulator over real HTTP, faults included."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.bland.client import BlandClient
from bot.bland.errors import (
    EXCERPT_CHARS,
    BlandAuthError,
    BlandBadResponseError,
    BlandConnectionError,
    BlandForbiddenError,
    BlandNotFoundError,
    BlandOutcomeUnknownError,
    BlandRateLimitedError,
    BlandRequest,
    BlandServerError,
    BlandValidationError,
)
from bot.error_replies import describe_error
from bot.sandbox.bland_sim import BlandSimulator, SimClock
from tests.helpers import answering

CALL = {"phone_number": "+14155550123", "task": "Say hello", "max_duration": 2.0}


@pytest.fixture
async def sim() -> AsyncIterator[BlandSimulator]:
    simulator = BlandSimulator(clock=SimClock(manual=True))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: BlandSimulator) -> AsyncIterator[BlandClient]:
    bland = BlandClient(sim.url, sim.api_key)
    yield bland
    await bland.aclose()


async def test_send_and_get_call_round_trip(sim: BlandSimulator, client: BlandClient) -> None:
    sent = await client.send_call({**CALL, "metadata": {"slack_channel": "C1"}})
    assert sent.call_id in sim.calls
    call = await client.get_call(str(sent.call_id))
    assert call.id == sent.call_id
    assert call.normalized_queue_status == "new"
    assert not call.is_terminal
    await sim.advance(600)
    call = await client.get_call(str(sent.call_id))
    assert call.is_terminal and call.metadata == {"slack_channel": "C1"}
    assert call.duration_seconds is not None and call.price is not None


async def test_validation_error_carries_blands_messages(client: BlandClient) -> None:
    with pytest.raises(BlandValidationError) as caught:
        await client.send_call({"phone_number": "12223334444"})
    assert "Missing required parameter: task or pathway_id." in caught.value.messages
    assert any("Invalid phone number" in m for m in caught.value.messages)


async def test_an_error_carries_its_request_and_a_bounded_excerpt_of_the_response(
    client: BlandClient,
) -> None:
    with pytest.raises(BlandValidationError) as caught:
        await client.send_call({"phone_number": "12223334444", "task": "x" * 5000, "note": "<b>&</b>"})
    error = caught.value
    assert error.request == BlandRequest("POST", "/v1/calls") and str(error.request) == "POST /v1/calls"
    assert error.response is not None and error.response.status == error.status_code == 400
    assert "Invalid phone number" in error.response.excerpt
    assert len(error.response.excerpt) <= EXCERPT_CHARS + 1
    assert "&amp;" not in error.user_message  # plain text: escaped where it enters mrkdwn, not here


async def test_wrong_key_is_an_auth_error_that_never_shows_the_key(sim: BlandSimulator) -> None:
    bland = BlandClient(sim.url, "not-the-key-123")
    try:
        with pytest.raises(BlandAuthError) as caught:
            await bland.get_call("anything")
    finally:
        await bland.aclose()
    assert "not-the-key-123" not in str(caught.value) + caught.value.user_message
    assert "BLAND_API_KEY" in caught.value.user_message


async def test_unknown_call_is_not_found(client: BlandClient) -> None:
    with pytest.raises(BlandNotFoundError):
        await client.get_call("no-such-call")


async def test_reads_retry_through_500s_and_429s_then_succeed(
    sim: BlandSimulator, client: BlandClient
) -> None:
    sent = await client.send_call(CALL)
    sim.inject("calls.get", "500", 1)
    sim.inject("calls.get", "429", 1, retry_after=0.01)
    call = await client.get_call(str(sent.call_id))
    assert call.id == sent.call_id
    assert sim.count("calls.get") == 3


async def test_reads_give_up_after_the_retry_budget(sim: BlandSimulator, client: BlandClient) -> None:
    sim.inject("calls.list", "500", 10)
    with pytest.raises(BlandServerError):
        await client.list_calls(limit=1)
    assert sim.count("calls.list") == 3  # stamina testing mode: 3 attempts


async def test_rate_limit_error_keeps_retry_after(sim: BlandSimulator, client: BlandClient) -> None:
    sim.inject("calls.list", "429", 10, retry_after=7)
    with pytest.raises(BlandRateLimitedError) as caught:
        await client.list_calls()
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("fault", ["500", "malformed"])
async def test_a_dialling_post_is_never_retried_on_ambiguous_failure(
    sim: BlandSimulator, client: BlandClient, fault: str
) -> None:
    sim.inject("calls.send", fault, 5)
    with pytest.raises(BlandOutcomeUnknownError):
        await client.send_call(CALL)
    assert sim.count("calls.send") == 1
    sim.inject("batches.send", fault, 5)
    with pytest.raises(BlandOutcomeUnknownError):
        await client.send_batch({"base_prompt": "Hi", "call_data": [{"phone_number": "+14155550123"}]})
    assert sim.count("batches.send") == 1


async def test_a_timeout_on_send_is_outcome_unknown(sim: BlandSimulator) -> None:
    sim.inject("calls.send", "slow", 1, delay=1.0)
    bland = BlandClient(sim.url, sim.api_key, timeout=httpx.Timeout(0.2))
    try:
        with pytest.raises(BlandOutcomeUnknownError):
            await bland.send_call(CALL)
    finally:
        await bland.aclose()
    assert sim.count("calls.send") == 1


async def test_unreachable_bland_is_a_connection_error(client: BlandClient) -> None:
    bland = BlandClient("http://127.0.0.1:9", "key", retry_attempts=1)
    try:
        with pytest.raises(BlandConnectionError):
            await bland.send_call(CALL)  # nothing was sent, so this is not "outcome unknown"
    finally:
        await bland.aclose()


async def test_non_json_reads_are_bad_responses(sim: BlandSimulator, client: BlandClient) -> None:
    sim.inject("batches.list", "malformed", 10)
    with pytest.raises(BlandBadResponseError):
        await client.list_batches()


async def test_batch_ids_with_dollar_signs_are_quoted_and_found(
    sim: BlandSimulator, client: BlandClient
) -> None:
    created = await client.send_batch(
        {
            "base_prompt": "Hello {{name}}",
            "label": "req-1",
            "call_data": [
                {"phone_number": "+14155550123", "name": "Ada"},
                {"phone_number": "+14155550124", "name": "Bo"},
            ],
        }
    )
    batch_id = str(created.batch_id)
    batch = await client.get_batch(batch_id, include_calls=True)
    assert batch.batch_params is not None and batch.batch_params.id == batch_id
    assert [c.to for c in batch.call_data] == ["+14155550123", "+14155550124"]
    assert "Hello Ada" in str(sim.calls[batch.call_data[0].id].payload["task"])
    listed = await client.list_batches()
    assert any(b.batch_id == batch_id and b.label == "req-1" for b in listed.batches)
    stopped = await client.stop_batch(batch_id)
    assert stopped.status == "success" and stopped.num_calls == 2
    again = await client.stop_batch(batch_id)  # already finished: a soft failure, not an exception
    assert again.status == "error"


async def test_schema_endpoints_with_integer_status(client: BlandClient) -> None:
    created = await client.create_schema("Lead", schema={"variables": [{"name": "budget", "type": "number"}]})
    assert created.id and created.body is not None
    fetched = await client.get_schema(created.id)
    assert fetched.name == "Lead" and fetched.body and fetched.body.variables[0].name == "budget"
    assert [s.id for s in await client.list_schemas()] == [created.id]
    with pytest.raises(BlandNotFoundError):
        await client.get_schema("missing")
    with pytest.raises(BlandValidationError):
        await client.create_schema("")


async def test_backfill_enterprise_refusal_is_forbidden(sim: BlandSimulator, client: BlandClient) -> None:
    sim.config.enterprise = False
    with pytest.raises(BlandForbiddenError) as caught:
        await client.start_backfill(
            {"schema": {"name": "x", "variables": [{"name": "a"}]}, "conversation_ids": ["c"]}
        )
    assert "enterprise" in caught.value.user_message


def _mock(status: int, body: object) -> BlandClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return BlandClient("http://bland.test", "key", http=httpx.AsyncClient(transport=transport))


async def test_error_in_a_200_body_is_detected() -> None:
    # The simulator answers errors with 4xx; Bland documents 200 bodies with status "error" too.
    bland = _mock(
        200, {"status": "error", "message": "Invalid parameters", "errors": ["Task must be a string."]}
    )
    with pytest.raises(BlandValidationError) as caught:
        await bland.send_call(CALL)
    assert caught.value.messages == ["Invalid parameters", "Task must be a string."]


async def test_batch_create_without_success_message_is_refused() -> None:
    with pytest.raises(BlandValidationError):
        await _mock(200, {"message": "quota exceeded"}).send_batch({"base_prompt": "x", "call_data": []})


async def test_send_call_accepted_without_id_is_outcome_unknown() -> None:
    with pytest.raises(BlandOutcomeUnknownError):
        await _mock(200, {"status": "success"}).send_call(CALL)


async def test_a_failed_backfill_workflow_is_a_state_not_a_request_error() -> None:
    body = {"workflow_id": "backfill:call-1:1", "status": "FAILED", "close_time": "2025-10-16T17:21:39Z"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=transport) as http:
        client = BlandClient("https://bland.test", "key", http=http)
        status = await client.backfill_status("backfill:call-1:1")
    assert status.status == "FAILED" and status.is_terminal


async def test_forbidden_is_its_own_error_and_never_blames_the_key(caplog: pytest.LogCaptureFixture) -> None:
    bland = _mock(403, {"status": "error", "message": "Citation backfill requires an enterprise plan"})
    with pytest.raises(BlandForbiddenError) as caught:
        await bland.backfill_status("backfill:abc")
    error = caught.value
    assert not isinstance(error, BlandAuthError)
    assert (
        error.status_code == 403
        and error.request is not None
        and str(error.request).startswith("GET /v1/citation_schemas/backfill/status/")
    )
    assert "BLAND_API_KEY" not in error.user_message and "enterprise" in error.user_message
    with caplog.at_level(logging.ERROR):
        message, error_id = describe_error(error)
    assert message == error.user_message and error_id is None
    assert "403" in caplog.text and "BLAND_API_KEY" not in caplog.text


async def test_refused_key_is_logged_for_admins_with_the_request(caplog: pytest.LogCaptureFixture) -> None:
    bland = _mock(401, {"status": "error", "message": "Invalid API key"})
    with pytest.raises(BlandAuthError) as caught:
        await bland.get_call("abc")
    with caplog.at_level(logging.ERROR):
        describe_error(caught.value)
    assert "BLAND_API_KEY" in caplog.text and "GET /v1/calls/abc" in caplog.text


async def test_batch_calls_stream_one_call_at_a_time(sim: BlandSimulator, client: BlandClient) -> None:
    rows = [{"phone_number": f"+1415555{i:04d}", "name": f"N{i}"} for i in range(120)]
    created = await client.send_batch({"base_prompt": "Hello {{name}}", "call_data": rows})
    await sim.advance(3600)
    calls = [call async for call in client.batch_calls(str(created.batch_id))]
    assert [c.to for c in calls] == [r["phone_number"] for r in rows]
    assert all(c.is_terminal and c.transcripts is not None for c in calls)
    query = sim.requests[-1][2]
    assert "include_calls=true" in query and "include_transcripts=true" in query


async def test_batch_calls_stream_cut_short_or_refused_raises_a_bland_error(
    sim: BlandSimulator, client: BlandClient
) -> None:
    rows = [{"phone_number": f"+1415555{i:04d}"} for i in range(50)]
    created = await client.send_batch({"base_prompt": "Hello", "call_data": rows})
    batch_id = str(created.batch_id)
    sim.inject("batches.get", "cut")
    with pytest.raises(BlandConnectionError):
        _ = [call async for call in client.batch_calls(batch_id)]
    sim.inject("batches.get", "malformed")
    with pytest.raises(BlandBadResponseError):
        _ = [call async for call in client.batch_calls(batch_id)]
    with pytest.raises(BlandNotFoundError):
        _ = [call async for call in client.batch_calls("missing-gen-batch")]
    assert len([c async for c in client.batch_calls(batch_id)]) == 50


@pytest.mark.parametrize("total_count", [True, False], ids=["with total_count", "count alone"])
async def test_calls_are_counted_with_or_without_total_count(
    sim: BlandSimulator, client: BlandClient, total_count: bool
) -> None:
    sim.config.list_total_count = total_count
    rows = [{"phone_number": f"+1415555{i:04d}"} for i in range(2500)]
    await client.send_batch({"base_prompt": "Hello", "call_data": rows})
    assert await client.count_calls(cap=10_000) == 2500
    assert await client.count_calls(cap=1001) == 1001  # counting stops just past what the caller needs
    listed = [q for name, _, q in sim.requests if name == "calls.list"]
    # With total_count one request answers; with `count` alone the list is paged (3 pages, then 2).
    assert len(listed) == (2 if total_count else 5), listed


@pytest.mark.parametrize(
    ("said", "explained"),
    [
        ("Calls can only be sent every 10 seconds to the same number", "called less than 10 seconds ago"),
        ("Rate limit exceeded", "Bland refused the call (Rate limit exceeded). Nothing was dialled."),
    ],
)
async def test_a_429_on_a_send_says_why_and_that_nothing_was_dialled(said: str, explained: str) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"status": "error", "message": said}, status=429)

    async with answering(answer) as url:
        client = BlandClient(url, "key")
        try:
            with pytest.raises(BlandRateLimitedError) as refused:
                await client.send_call({"phone_number": "+14155550100", "task": "Hi"})
        finally:
            await client.aclose()
    assert explained in refused.value.user_message and "Nothing was dialled" in refused.value.user_message
