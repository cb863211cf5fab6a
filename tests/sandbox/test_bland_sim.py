"""The simulator against the documents: shapes, validation, lifecycle, batches, backfills, faults, webhooks."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.bland.webhooks import verify_signature
from bot.sandbox.bland_sim import BlandSimulator, SimClock, SimConfig
from tests.bland_fixtures import load
from tests.helpers import answering


@pytest.fixture
async def sim() -> AsyncIterator[BlandSimulator]:
    simulator = BlandSimulator(clock=SimClock(manual=True), seed=3)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http(sim: BlandSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as client:
        yield client


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ("+12223334444", True),
        ("+91223334444", True),
        ("+61223334444", True),
        ("2223334444", True),
        ("+1 (222) 333-4444", True),
        ("+1 222 333 4444", True),
        ("222-333-4444", True),
        ("12223334444", False),
        ("552223334444", False),
        ("222333444a", False),
        ("+1 222 333 4444 ext. 123", False),
    ],
)
def test_phone_rules_follow_the_documents_examples(raw: str, valid: bool) -> None:
    assert (BlandSimulator.normalise_phone(raw) is not None) is valid


async def test_auth_is_required(sim: BlandSimulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as anonymous:
        response = await anonymous.get("/v1/calls")
    assert response.status_code == 401 and response.json()["status"] == "error"
    async with httpx.AsyncClient(
        base_url=sim.url, headers={"authorization": f"Bearer {sim.api_key}"}
    ) as bearer:
        assert (await bearer.get("/v1/calls")).status_code == 200


async def test_send_call_validation(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/calls", json={"phone_number": "+14155550123"})
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Invalid parameters",
        "errors": ["Missing required parameter: task or pathway_id."],
    }
    ok = (await http.post("/v1/calls", json={"phone_number": "+14155550123", "pathway_id": "pw"})).json()
    # One of the two documented shapes: the full Send Call doc's, or the simple doc's status + call_id.
    assert set(ok) in ({"status", "call_id"}, {"status", "message", "call_id", "batch_id"})
    assert ok["status"] == "success" and ok.get("batch_id") is None


async def test_call_lifecycle_and_completed_fields(sim: BlandSimulator, http: httpx.AsyncClient) -> None:
    sim.config.answered_by_mix = {"human": 1.0}
    body = {
        "phone_number": "+14155550123",
        "task": "Ask about the order. Be kind.",
        "answered_by_enabled": True,
        "analysis_schema": {"happy": "boolean", "count": "number", "email": "email"},
        "metadata": {"k": "v"},
    }
    call_id = (await http.post("/v1/calls", json=body)).json()["call_id"]
    seen: list[str] = []
    for _ in range(40):
        call = (await http.get(f"/v1/calls/{call_id}")).json()
        if not seen or seen[-1] != call["queue_status"]:
            seen.append(call["queue_status"])
        if call["completed"]:
            break
        await sim.advance(5)
    assert seen[0] == "new" and "queued" in seen and "started" in seen
    assert seen[-1] in ("complete", "completed")  # the table's word, or the call example's
    assert call["status"] == "completed" and call["answered_by"] == "human"
    assert call["transcripts"][-1]["user"] == "agent-action"
    assert {"assistant", "user"} <= {t["user"] for t in call["transcripts"]}
    assert call["concatenated_transcript"].startswith("user: Hello? \n assistant:")
    assert call["summary"] and "Ask about the order" in call["summary"]
    assert isinstance(call["analysis"]["happy"], bool) and isinstance(call["analysis"]["count"], int)
    assert call["analysis"]["email"].endswith("@example.com")
    assert float(call["corrected_duration"]) == pytest.approx(call["call_length"] * 60, abs=1)
    assert call["price"] > 0 and call["metadata"] == {"k": "v"}


async def test_the_answered_by_mix_and_seed_are_deterministic() -> None:
    async def outcomes(seed: int) -> list[str]:
        sim = BlandSimulator(clock=SimClock(manual=True), seed=seed)
        await sim.start()
        try:
            async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as client:
                for i in range(40):
                    await client.post("/v1/calls", json={"phone_number": f"+1415555{i:04d}", "task": "t"})
        finally:
            await sim.stop()
        return [c.answered_by for c in sim.calls.values()]

    first, second = await outcomes(11), await outcomes(11)
    assert first == second
    assert {"human", "voicemail"} <= set(first)


async def test_batches_fill_placeholders_progress_analyse_and_stop(
    sim: BlandSimulator, http: httpx.AsyncClient
) -> None:
    rows = [{"phone_number": f"+1415555{i:04d}", "name": f"N{i}"} for i in range(6)]
    created = (
        await http.post(
            "/v1/batches",
            json={
                "base_prompt": "Call {{name}} now",
                "call_data": rows,
                "label": "req-42",
                "max_duration": 3,
            },
        )
    ).json()
    assert created["message"] == "success" and created["batch_id"].endswith("-gen-batch")
    batch_id = created["batch_id"]
    details = (await http.get(f"/v1/batches/{batch_id}", params={"include_calls": "false"})).json()
    assert details["status"] == "in-progress" and "call_data" not in details
    assert details["batch_params"]["id"] == batch_id and details["batch_params"]["label"] == "req-42"
    assert details["analysis"]["total_calls"] == 6
    first_call = sim.calls[details["analysis"]["call_ids"][0]]
    assert first_call.payload["task"] == "Call N0 now"
    await sim.advance(12)
    sim.config.stopped_batch_completes = True
    stopped = (await http.post(f"/v1/batches/{batch_id}/stop")).json()
    assert stopped["status"] == "success" and stopped["num_calls"] >= 1
    await sim.advance(1)
    full = (await http.get(f"/v1/batches/{batch_id}")).json()
    assert full["status"] == "completed" and len(full["call_data"]) == 6
    row = full["call_data"][0]
    assert "transcripts" in row and set(row["transcripts"][0]) == {"id", "created_at", "text", "user", "c_id"}
    # A batch row holds what the documents show, no more: no price, summary or variables.
    assert set(row) == set(load("batch_details.jsonc")["call_data"][0])
    summary = full["analysis"]["call_lengths"]["summary"]
    assert set(summary) == {
        "0-5",
        "5-10",
        "10-15",
        "15-20",
        "20-30",
        "30-45",
        "45-60",
        "60-90",
        "90-120",
        "120+",
    }
    assert sum(summary.values()) == 6
    no_transcripts = (
        await http.get(f"/v1/batches/{batch_id}", params={"include_transcripts": "false"})
    ).json()
    assert "transcripts" not in no_transcripts["call_data"][0]


async def test_test_mode_dials_only_the_first_row(sim: BlandSimulator, http: httpx.AsyncClient) -> None:
    rows = [{"phone_number": "+14155550100"}, {"phone_number": "+14155550101"}]
    batch_id = (
        await http.post("/v1/batches", json={"base_prompt": "x", "call_data": rows, "test_mode": True})
    ).json()["batch_id"]
    details = (await http.get(f"/v1/batches/{batch_id}")).json()
    assert details["analysis"]["total_calls"] == 1


async def test_schema_endpoints_use_integer_status(http: httpx.AsyncClient) -> None:
    missing_name = await http.post("/v1/citation_schemas/", json={"description": "d"})
    assert missing_name.status_code == 400 and missing_name.json()["status"] == 400
    created = (await http.post("/v1/citation_schemas/", json={"name": "Lead"})).json()
    assert created["status"] == 200 and created["errors"] is None
    schema_id = created["data"]["id"]
    assert (await http.get("/v1/citation_schemas/")).status_code == 400
    assert (await http.get("/v1/citation_schemas/", params={"id": "nope"})).status_code == 404
    fetched = (await http.get("/v1/citation_schemas/", params={"id": schema_id})).json()
    assert fetched["data"]["schema"] == {"variables": [], "groupings": [], "conditions": []}


BACKFILL_400 = [
    {"call_id": "c"},
    {"schema_ids": ["a"], "schema": {"name": "x", "variables": [{"name": "v"}]}, "call_id": "c"},
    {"schema_id": "a"},
    {"schema_ids": [], "call_id": "c"},
    {"schema_id": "a", "call_ids": []},
    {"schema_id": "a", "conversation_ids": [f"c{i}" for i in range(51)]},
]


@pytest.mark.parametrize("body", BACKFILL_400)
async def test_backfill_400_cases(http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await http.post("/v1/citation_schemas/backfill", json=body)
    assert response.status_code == 400 and response.json()["status"] == "error"


async def test_backfill_lifecycle_404s_and_sms(sim: BlandSimulator, http: httpx.AsyncClient) -> None:
    sim.config.backfill_seconds = 30
    schema_id = (
        await http.post(
            "/v1/citation_schemas/",
            json={
                "name": "S",
                "schema": {
                    "variables": [
                        {"name": "budget", "type": "number"},
                        {"name": "Wants Demo", "type": "boolean"},
                    ]
                },
            },
        )
    ).json()["data"]["id"]
    unresolvable = await http.post(
        "/v1/citation_schemas/backfill", json={"schema_ids": ["x"], "call_id": "c"}
    )
    assert unresolvable.status_code == 404 and "NO_RESOLVABLE_SCHEMAS" in unresolvable.text
    missing = await http.post(
        "/v1/citation_schemas/backfill", json={"schema_id": schema_id, "call_ids": ["nope"]}
    )
    assert missing.status_code == 404 and "nope" in missing.text
    call_id = (await http.post("/v1/calls", json={"phone_number": "+14155550123", "task": "t"})).json()[
        "call_id"
    ]
    started = await http.post(
        "/v1/citation_schemas/backfill", json={"schema_id": schema_id, "call_id": call_id}
    )
    assert started.status_code == 202
    workflow = started.json()
    assert workflow["status"] == "processing" and workflow["workflow_id"].startswith(
        f"backfill:call-{call_id}:"
    )
    assert workflow["total_combinations"] == 1
    status = (await http.get(f"/v1/citation_schemas/backfill/status/{workflow['workflow_id']}")).json()
    assert status["status"] == "RUNNING" and "result" not in status
    await sim.advance(31)
    status = (await http.get(f"/v1/citation_schemas/backfill/status/{workflow['workflow_id']}")).json()
    assert status["status"] == "COMPLETED" and status["close_time"]
    result = status["result"]["calls"][0]
    assert set(result["newly_extracted_variables"]) == {"budget", "Wants Demo"}
    assert result["final_variables"] == {
        **result["previous_variables"],
        **result["newly_extracted_variables"],
    }
    assert status["result"]["summary"]["total_calls"] == 1
    sms = await http.post(
        "/v1/citation_schemas/backfill",
        json={"schema_id": schema_id, "conversation_ids": ["conv-1", "conv-2"]},
    )
    assert sms.status_code == 200 and sms.json()["status"] == "complete"
    assert [c["conversation_id"] for c in sms.json()["conversations"]] == ["conv-1", "conv-2"]


async def test_failed_and_timed_out_workflows_and_partial_extractions(
    sim: BlandSimulator, http: httpx.AsyncClient
) -> None:
    schema = {"name": "S", "variables": [{"name": "a", "type": "string"}]}
    call_ids = [
        (await http.post("/v1/calls", json={"phone_number": f"+1415555012{i}", "task": "t"})).json()[
            "call_id"
        ]
        for i in range(8)
    ]
    for outcome in ("FAILED", "TIMED_OUT"):
        sim.config.next_workflow_outcome = outcome
        wf = (
            await http.post("/v1/citation_schemas/backfill", json={"schema": schema, "call_ids": call_ids})
        ).json()
        await sim.advance(60)
        status = (await http.get(f"/v1/citation_schemas/backfill/status/{wf['workflow_id']}")).json()
        assert status["status"] == outcome and "result" not in status
    sim.config.extraction_failure_rate = 0.5
    two = {
        "schema_ids": [
            (await http.post("/v1/citation_schemas/", json={"name": n, "schema": schema})).json()["data"][
                "id"
            ]
            for n in ("A", "B")
        ],
        "call_ids": call_ids,
    }
    wf = (await http.post("/v1/citation_schemas/backfill", json=two)).json()
    await sim.advance(60)
    status = (await http.get(f"/v1/citation_schemas/backfill/status/{wf['workflow_id']}")).json()
    assert {c["status"] for c in status["result"]["calls"]} >= {"partial"}


@pytest.mark.parametrize("kind", ["429", "500", "malformed"])
async def test_faults_hit_the_next_n_requests_of_a_route(
    sim: BlandSimulator, http: httpx.AsyncClient, kind: str
) -> None:
    response = await http.post(
        "/_sim/faults", json={"route": "calls.list", "kind": kind, "count": 2, "retry_after": 3}
    )
    assert response.status_code == 200
    first = await http.get("/v1/calls")
    second = await http.get("/v1/calls")
    third = await http.get("/v1/calls")
    expected = {"429": 429, "500": 500, "malformed": 200}[kind]
    assert first.status_code == second.status_code == expected and third.status_code == 200
    if kind == "429":
        assert first.headers["Retry-After"] == "3"
    if kind == "malformed":
        with pytest.raises(ValueError):
            first.json()
    assert (await http.post("/_sim/faults", json={"kind": "weird"})).status_code == 400
    state = (await http.get("/_sim/state")).json()
    assert state["requests"] == 3


async def test_webhooks_are_signed_so_the_bot_accepts_them(
    sim: BlandSimulator, http: httpx.AsyncClient
) -> None:
    received: list[tuple[bytes, str | None]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get("X-Webhook-Signature")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await http.post(
            "/v1/calls",
            json={"phone_number": "+14155550123", "task": "t", "webhook": f"http://127.0.0.1:{port}/hook"},
        )
        await sim.advance(5)
        assert received == []  # not finished yet
        await sim.advance(600)
        await sim.advance(600)  # only once per call
    finally:
        await runner.cleanup()
    assert len(received) == 1
    body, signature = received[0]
    assert verify_signature(sim.webhook_secret, body, signature)
    assert not verify_signature("other-secret", body, signature)


async def test_where_the_documents_disagree_both_forms_come_and_each_can_be_pinned() -> None:
    async def forms(vary: bool) -> tuple[set[str], set[bool], set[str]]:
        sim = BlandSimulator(clock=SimClock(manual=True), config=SimConfig(vary_forms=vary))
        sim.config.answered_by_mix = {"human": 1.0}
        await sim.start()
        try:
            async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as client:
                sent = [
                    (
                        await client.post("/v1/calls", json={"phone_number": f"+1415555{i:04d}", "task": "t"})
                    ).json()
                    for i in range(30)
                ]
                await sim.advance(600)
                words = {(await client.get(f"/v1/calls/{s['call_id']}")).json()["queue_status"] for s in sent}
                listed = (await client.get("/v1/calls")).json()["calls"]
        finally:
            await sim.stop()
        return words, {"message" in s for s in sent}, {c["to"][:2] for c in listed}

    words, full_shapes, prefixes = await forms(vary=True)
    assert words == {"complete", "completed"} and full_shapes == {True, False} and prefixes == {"+1", "41"}
    assert await forms(vary=False) == ({"complete"}, {True}, {"+1"})


# -- v2 batches, strictly as today's documents describe them ---------------------------------------------

V2_GOOD = {
    "global": {"task": "Hello {{name}}", "max_duration": 2},
    "call_objects": [{"phone_number": "+14155550100", "request_data": {"name": "Ada"}}],
    "description": "Renewals",
}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"call_objects": V2_GOOD["call_objects"]}, "global is required"),
        ({**V2_GOOD, "global": {"max_duration": 2}}, "task or pathway_id"),
        (
            {**V2_GOOD, "global": {"task": "x", "phone_number": "+14155550100"}},
            "must not contain phone_number",
        ),
        ({**V2_GOOD, "call_objects": []}, "non-empty array"),
        ({**V2_GOOD, "description": "x" * 61}, "at most 60"),
        ({**V2_GOOD, "label": "v1's name for it"}, "Additional properties are not allowed: label"),
    ],
)
async def test_v2_create_refuses_what_the_documents_forbid(
    http: httpx.AsyncClient, sim: BlandSimulator, body: dict[str, Any], complaint: str
) -> None:
    response = await http.post("/v2/batches/create", json=body)
    assert response.status_code == 400 and response.json()["data"] is None
    assert complaint in response.json()["errors"][0]["message"] and sim.batches == {}


async def test_v2_a_bad_call_object_is_taken_then_fails_with_the_documents_code(
    http: httpx.AsyncClient, sim: BlandSimulator
) -> None:
    now = sim.clock.now()
    soon = datetime.fromtimestamp(now + 120, UTC).strftime("%Y-%m-%d %H:%M:%S")
    for entries, reason in (
        (
            [{"phone_number": "+14155550100"}, {"request_data": {"name": "x"}}],
            "Entry #2 did not have a phone number.",
        ),
        ([{"phone_number": "+14155550100", "start_time": soon}], "at least 5 minutes in advance"),
    ):
        created = await http.post("/v2/batches/create", json={**V2_GOOD, "call_objects": entries})
        batch_id = created.json()["data"]["batch_id"]
        assert created.status_code == 200 and created.json()["errors"] is None
        logs = (await http.get(f"/v2/batches/{batch_id}/logs")).json()["data"]
        assert logs[0]["payload"]["state_change"] == "failed" and reason in logs[0]["payload"]["message"]
        assert sim.batches[batch_id]["call_ids"] == []  # nothing dialled


async def test_v2_list_and_get_are_metadata_only_and_calls_come_from_the_call_list(
    http: httpx.AsyncClient, sim: BlandSimulator
) -> None:
    created = (await http.post("/v2/batches/create", json=V2_GOOD)).json()
    batch_id = created["data"]["batch_id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", batch_id)
    listed = (await http.get("/v2/batches/list", params={"take": 10, "skip": 0})).json()["data"]
    one = (await http.get(f"/v2/batches/{batch_id}")).json()["data"]
    for record in (listed[0], one):
        assert set(record) == {"id", "user_id", "base_prompt", "created_at", "call_objects", "description"}
        assert json.loads(record["base_prompt"]) == V2_GOOD["global"]  # `global`, as a JSON string
    calls = (await http.get("/v1/calls", params={"batch_id": batch_id})).json()["calls"]
    assert len(calls) == 1 and calls[0]["batch_id"] == batch_id
    assert (
        sim.calls[calls[0]["call_id"]].payload["task"] == "Hello Ada"
    )  # `global` + the call object's values
    missing = await http.get("/v2/batches/0b0e8c57-9e6e-4e4d-84d2-9826b2268c22")
    assert missing.status_code == 404 and missing.json()["errors"][0]["error"] == "BATCH_NOT_FOUND"
    stopped = await http.post(f"/v2/batches/{batch_id}/stop")
    assert stopped.json() == {"data": None, "errors": None}


@pytest.mark.parametrize("speaks", ["v1", "v2"])
async def test_a_bland_that_speaks_one_batch_api_answers_the_others_routes_404(
    http: httpx.AsyncClient, sim: BlandSimulator, speaks: str
) -> None:
    sim.config.batch_api = speaks
    v1 = await http.post(
        "/v1/batches", json={"base_prompt": "Hi", "call_data": [{"phone_number": "+14155550100"}]}
    )
    v2 = await http.post("/v2/batches/create", json=V2_GOOD)
    assert (v1.status_code, v2.status_code) == ((200, 404) if speaks == "v1" else (404, 200))
    assert (await http.get("/v2/batches/list?take=1")).status_code == (404 if speaks == "v1" else 200)


async def test_v2_status_events_one_post_a_phase_then_one_final_unsigned_never_retried(
    http: httpx.AsyncClient, sim: BlandSimulator
) -> None:
    got: list[tuple[dict[str, Any], str | None]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append((await request.json(), request.headers.get("X-Webhook-Signature")))
        return web.json_response({}, status=500 if len(got) == 2 else 200)  # one failure: never retried

    async with answering(receive) as base:
        url = f"{base}/status"
        batch_id = (await http.post("/v2/batches/create", json={**V2_GOOD, "status_webhook": url})).json()[
            "data"
        ]["batch_id"]
        await sim.advance(0)
        await sim.advance(3600)
        await sim.advance(60)
    phases = [event["status"] for event, _ in got]
    assert phases == ["validating", "dispatching", "in_progress", "completed"]
    assert all(event["batch_id"] == batch_id and "timestamp" in event for event, _ in got)
    assert got[2][0]["message"].startswith("Requested: 1. Validated: 1. Dispatched: 1.")
    assert got[3][0] | {"timestamp": ""} == {
        "batch_id": batch_id,
        "status": "completed",
        "calls_total": 1,
        "calls_successful": 1,
        "calls_failed": 0,
        "timestamp": "",
    }
    assert all(signature is None for _, signature in got)  # the documents do not say they are signed


async def test_todays_send_call_rules(sim: BlandSimulator, http: httpx.AsyncClient) -> None:
    """The documented 400s of the settings, the strict schema, the 10-second rule and the plan's caps."""
    base = {"task": "t"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"summary_prompt": "s" * 2001}, "summary_prompt"),
        ({"voicemail": {"action": "shout"}}, "voicemail.action"),
        ({"voicemail": {"action": "leave_message"}}, "voicemail.message is required"),
        ({"citation_schema_ids": ["a"], "record": False}, "Citations require call recording"),
    ]
    for i, (extra, fragment) in enumerate(bad):
        answer = await http.post("/v1/calls", json={"phone_number": f"+1415555020{i}", **base, **extra})
        assert answer.status_code == 400 and fragment in str(answer.json()["errors"]), answer.text
    sim.config.documented_keys_only = True
    old = await http.post(
        "/v1/calls", json={"phone_number": "+14155550210", **base, "answered_by_enabled": True}
    )
    assert old.status_code == 400 and "Additional properties are not allowed" in str(old.json()["errors"])
    first = await http.post("/v1/calls", json={"phone_number": "+14155550211", **base})
    again = await http.post("/v1/calls", json={"phone_number": "+14155550211", **base})
    assert first.status_code == 200 and again.status_code == 429 and "10 seconds" in again.json()["message"]
    await sim.advance(10)
    assert (await http.post("/v1/calls", json={"phone_number": "+14155550211", **base})).status_code == 200
    sim.config.concurrent_cap = 2  # two calls are live: a third is past the cap
    over = await http.post("/v1/calls", json={"phone_number": "+14155550212", **base})
    assert over.status_code == 429 and "concurrent call limit (2)" in over.json()["message"]
