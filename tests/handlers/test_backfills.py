"""Citation schemas and backfills end to end, over signed HTTP, against the simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sandbox.harness import ALICE, BOB, OPS_CHANNEL, Sandbox, block_text, response_json

VARIABLES = "customer_satisfied | boolean | Was the customer satisfied?\norder_id | string | The order number"


async def open_view(box: Sandbox, text: str, user: str = ALICE) -> dict[str, Any]:
    before = len(box.slack.views)
    assert (await box.command(text, user=user)).status_code == 200
    return await box.modal_after(before, what=f"the modal of /bland {text}")


async def new_schema(box: Sandbox, name: str = "Order check", variables: str = VARIABLES) -> str:
    view = await open_view(box, "schema new")
    response = await box.submit_view(view, {"schema_name": name, "schema_variables": variables})
    assert response.status_code == 200 and response.text == "", response.text
    await box.settle()
    return next(sid for sid, s in box.sim.schemas.items() if s["name"] == name)


def past_calls(box: Sandbox, count: int) -> list[str]:
    """Put finished calls into the simulator, as if placed earlier."""
    ids = []
    for index in range(count):
        call = box.sim._plan_call(
            {"task": "Earlier call", "max_duration": 2},
            f"+1415555{index:04d}",
            created_at=box.sim.clock.now() - 3600,
            batch_id=None,
        )
        call.citation_variables = {"customer_name": f"Person {index}", "order_id": "OLD-1"}
        ids.append(call.call_id)
    return ids


async def review(box: Sandbox, inputs: dict[str, Any], user: str = ALICE) -> dict[str, Any]:
    view = await open_view(box, "backfill", user)
    response = await box.submit_view(view, inputs, user=user)
    assert response.status_code == 200
    return response_json(response)


async def start(box: Sandbox, inputs: dict[str, Any]) -> str:
    """Review, then confirm; return the backfill card's ts."""
    answer = await review(box, inputs)
    assert answer.get("response_action") == "update", answer
    confirm = answer["view"]
    assert (await box.submit_view(confirm, {})).status_code == 200
    await box.settle()
    card = box.slack.channel_messages(OPS_CHANNEL)[-1]
    assert "Backfill" in block_text(card.blocks)
    return card.ts


# -- schemas ------------------------------------------------------------------------------------


async def test_a_schema_is_created_shown_and_listed(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    stored = sandbox.sim.schemas[schema_id]["schema"]["variables"]
    assert stored == [
        {"name": "customer_satisfied", "type": "boolean", "description": "Was the customer satisfied?"},
        {"name": "order_id", "type": "string", "description": "The order number"},
    ]
    shown = sandbox.slack.ephemerals[-1]
    assert shown["user"] == ALICE and "customer_satisfied" in json.dumps(shown["blocks"])
    await sandbox.command(f"schema {schema_id}")
    await sandbox.settle()
    assert "*customer_satisfied* (`boolean`)" in block_text(sandbox.last_response()["blocks"])
    await sandbox.command("schemas")
    await sandbox.settle()
    listed = block_text(sandbox.last_response()["blocks"])
    assert "Order check" in listed and "created or used" not in listed
    audit = [(e.action, e.outcome, e.target) for e in await sandbox.bot.deps.store.audit.since(0)]
    assert ("schema.create", "created", schema_id) in audit


async def test_a_schema_is_edited_prefilled_and_saved_whole_and_audited(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    view = await open_view(sandbox, f"schema edit {schema_id}")
    assert view["callback_id"] == "edit_schema" and view["submit"]["text"] == "Save schema"
    values = {
        b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"
    }
    assert values["schema_name"] == "Order check"
    assert values["schema_variables"] == VARIABLES
    bad = await sandbox.submit_view(view, {"schema_variables": "total | money"})
    assert "unknown type `money`" in response_json(bad)["errors"]["schema_variables"]
    saved = await sandbox.submit_view(
        view,
        {
            "schema_name": "Order check v2",
            "schema_variables": "order_id | string | The order\nrefund | Boolean",
        },
    )
    assert saved.status_code == 200 and saved.text == "", saved.text
    await sandbox.settle()
    stored = sandbox.sim.schemas[schema_id]
    assert sandbox.sim.count("schemas.update") == 1 and stored["name"] == "Order check v2"
    assert [v["name"] for v in stored["schema"]["variables"]] == ["order_id", "refund"]  # replaced whole
    assert "Saved" in sandbox.slack.ephemerals[-1]["text"]
    audit = [(e.action, e.outcome, e.target) for e in await sandbox.bot.deps.store.audit.since(0)]
    assert ("schema.update", "updated", schema_id) in audit


async def test_editing_an_unknown_schema_says_so_and_help_says_schemas_cannot_be_deleted(
    sandbox: Sandbox,
) -> None:
    before = len(sandbox.slack.views)
    await sandbox.command("schema edit 5f0c5a8e-1b7d-4c36-9a41-2d8e7f6a9b10")
    shown = await sandbox.until(
        lambda: [
            v for v in list(sandbox.slack.views.values())[before:] if "not found" in json.dumps(v).lower()
        ],
        what="the not-found message",
    )
    assert "Traceback" not in json.dumps(shown) and sandbox.sim.count("schemas.update") == 0
    shown_help = response_json(await sandbox.command("help"))
    assert "schema edit <id>" in str(shown_help) and "cannot be deleted" in str(shown_help)


async def test_a_json_schema_with_groupings_and_conditions_is_shown_readably(sandbox: Sandbox) -> None:
    definition = {
        "variables": [
            {"name": "Customer Name", "type": "string", "description": "Full name"},
            {"name": "Interested in Demo", "type": "boolean", "description": "Wants a demo"},
        ],
        "groupings": [{"name": "Contact", "variables": ["Customer Name", "Demo Preference"]}],
        "conditions": [
            {
                "condition": {"variable": "Interested in Demo", "operator": "===", "value": "true"},
                "variables": [{"name": "Demo Preference", "type": "string", "description": "When"}],
            }
        ],
    }
    schema_id = await new_schema(sandbox, "Demo interest", json.dumps(definition))
    await sandbox.command(f"schema {schema_id}")
    await sandbox.settle()
    shown = block_text(sandbox.last_response()["blocks"])
    assert "*Contact*: Customer Name, Demo Preference" in shown
    assert "when *Interested in Demo* === `true`: also extract *Demo Preference* (`string`)" in shown


SCHEMA_ERRORS = [
    ("a | string\na | number", "defined twice"),
    ("a | text", "unknown type `text`"),
    ("a | string | b | c", "expected `name | type | description`"),
    (
        json.dumps(
            {
                "variables": [{"name": "a", "type": "boolean"}],
                "conditions": [
                    {"condition": {"variable": "zzz", "operator": "===", "value": "true"}, "variables": []}
                ],
            }
        ),
        "refers to `zzz`",
    ),
    (
        json.dumps(
            {
                "variables": [{"name": "a", "type": "boolean"}],
                "conditions": [
                    {"condition": {"variable": "a", "operator": "==", "value": "true"}, "variables": []}
                ],
            }
        ),
        "operator `==` is not supported",
    ),
    ('{"variables": [', "Not valid JSON"),
    ("", "at least one variable"),
]


@pytest.mark.parametrize(("variables", "message"), SCHEMA_ERRORS)
async def test_schema_definitions_are_validated_inline(
    sandbox: Sandbox, variables: str, message: str
) -> None:
    view = await open_view(sandbox, "schema new")
    answer = response_json(
        await sandbox.submit_view(view, {"schema_name": "S", "schema_variables": variables})
    )
    assert message in answer["errors"]["schema_variables"], answer
    assert sandbox.sim.schemas == {}


async def test_schemas_fall_back_to_the_bots_own_when_bland_has_no_list(sandbox: Sandbox) -> None:
    sandbox.sim.config.list_schemas_endpoint = False
    await new_schema(sandbox, "Mine")
    await sandbox.command("schemas")
    await sandbox.settle()
    listed = block_text(sandbox.last_response()["blocks"])
    assert "Mine" in listed and "answered 404" in listed and "created or used" in listed


# -- backfills ----------------------------------------------------------------------------------


BACKFILL_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"call_ids": "c1"}, "backfill_schemas", "Choose at least one schema"),
    (
        {"backfill_schemas": "s1", "inline_schema": "a | string", "call_ids": "c1"},
        "inline_schema",
        "not both",
    ),
    ({"backfill_schemas": "s1"}, "call_ids", "Give call IDs"),
    (
        {"backfill_schemas": "s1", "conversation_ids": ",".join(f"conv-{i}" for i in range(51))},
        "conversation_ids",
        "at most 50",
    ),
    ({"inline_schema": "a | colour", "call_ids": "c1"}, "inline_schema", "unknown type"),
    # Past the fields' 3,000 characters: Slack's client stops typing there, but a submission may come from
    # anywhere.
    ({"backfill_schemas": "s1", "call_ids": "c" * 3001}, "call_ids", "takes at most 3,000"),
    ({"inline_schema": "a | string\n" * 400, "call_ids": "c1"}, "inline_schema", "takes at most 3,000"),
    (
        {"backfill_schemas": "s1", "backfill_batch": "nope-gen-batch"},
        "backfill_batch",
        "does not know batch `nope-gen-batch`",
    ),
]


@pytest.mark.parametrize(("inputs", "block", "message"), BACKFILL_ERRORS)
async def test_backfill_requests_are_validated_before_anything_is_sent(
    sandbox: Sandbox, inputs: dict[str, Any], block: str, message: str
) -> None:
    answer = await review(sandbox, inputs)
    assert message in answer["errors"][block], answer
    assert sandbox.sim.count("backfill.start") == 0


async def test_completed_with_partial_failures_posts_counts_diffs_and_a_file(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 8)
    sandbox.sim.config.extraction_failure_rate = 0.3
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": "\n".join(calls)})
    confirm = block_text(answer["view"]["blocks"])
    assert "*8 calls × 1 schema = 8 extractions*" in confirm and "Order check" in confirm
    assert sandbox.sim.count("backfill.start") == 0  # nothing is sent before the confirmation
    card_ts = await start_confirmed(sandbox, answer)
    assert sandbox.sim.count("backfill.start") == 1
    card = block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]
    assert "Running" in card and "RUNNING" in card and "Elapsed" in card
    await sandbox.advance(15)
    await sandbox.tick()
    await sandbox.advance(5)  # a live card shows a new state at most every 5 s
    await sandbox.settle()
    assert "Elapsed 15s" in block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]
    await sandbox.run_until_done(step=10)
    card = block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]
    assert "COMPLETED" in card and "Took" in card
    thread = sandbox.thread_text(OPS_CHANNEL, card_ts)
    assert "*8 calls*:" in thread and "Partial" in thread and "failed schemas: Order check" in thread
    assert "order_id*: " in thread and "_(was OLD-1)_" in thread and "customer_satisfied*:" in thread
    assert "_(new)_" in thread
    assert "…and 3 more calls in the attached file" in thread
    files = sandbox.slack.files_in(OPS_CHANNEL, card_ts)
    assert len(files) == 1 and files[0].filename.endswith(".json")
    rows = json.loads(files[0].content)
    assert {row["call_id"] for row in rows} == set(calls)
    assert all("final_variables" in row for row in rows)
    audit = [(e.action, e.outcome) for e in await sandbox.bot.deps.store.audit.since(0)]
    assert ("backfill.start", "submitted") in audit


async def start_confirmed(box: Sandbox, answer: dict[str, Any]) -> str:
    assert (await box.submit_view(answer["view"], {})).status_code == 200
    await box.settle()
    return box.slack.channel_messages(OPS_CHANNEL)[-1].ts


async def test_more_than_100_calls_are_split_and_tracked_together(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    # More calls than a typed field holds (3,000 characters): they come as a batch, expanded through the API.
    for cap in ("daily_cap", "hourly_cap", "concurrent_cap"):
        setattr(sandbox.sim.config, cap, None)
    response = await sandbox.bot.deps.bland.send_batch(
        {"base_prompt": "Hi", "call_data": [{"phone_number": f"+1415555{i:04d}"} for i in range(230)]}
    )
    await sandbox.advance(3600)  # its calls ended an hour ago
    answer = await review(
        sandbox, {"backfill_schemas": [schema_id], "backfill_batch": str(response.batch_id)}
    )
    assert "Sent as 3 requests of at most 100 calls" in block_text(answer["view"]["blocks"])
    card_ts = await start_confirmed(sandbox, answer)
    assert sandbox.sim.count("backfill.start") == 3
    sizes = sorted(len(w["call_ids"]) for w in sandbox.sim.workflows.values())
    assert sizes == [30, 100, 100]
    card = block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]
    assert "230 calls × 1 schema = 230 extractions" in card and card.count("part ") == 3
    await sandbox.run_until_done(step=10)
    thread = sandbox.thread_text(OPS_CHANNEL, card_ts)
    assert thread.count("Backfill results · part") == 3
    assert len(sandbox.slack.files_in(OPS_CHANNEL, card_ts)) == 3
    assert "Completed" in block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]


async def test_a_batch_is_expanded_through_the_api(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    response = await sandbox.bot.deps.bland.send_batch(
        {"base_prompt": "Hi", "call_data": [{"phone_number": f"+1415555{i:04d}"} for i in range(3)]}
    )
    batch_id = str(response.batch_id)
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "backfill_batch": batch_id})
    assert "*3 calls × 1 schema = 3 extractions*" in block_text(answer["view"]["blocks"])


@pytest.mark.parametrize("outcome", ["FAILED", "TIMED_OUT", "TERMINATED"])
async def test_failed_workflows_say_so_clearly(sandbox: Sandbox, outcome: str) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 2)
    sandbox.sim.config.next_workflow_outcome = outcome
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": "\n".join(calls)})
    card_ts = await start_confirmed(sandbox, answer)
    await sandbox.run_until_done(step=10)
    thread = sandbox.thread_text(OPS_CHANNEL, card_ts)
    words = {"FAILED": "failed", "TIMED_OUT": "timed out", "TERMINATED": "was stopped (terminated)"}
    assert f"Backfill {words[outcome]}." in thread and "over 2 calls" in thread and "ended 20" in thread
    card = block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]
    assert "Finished with failures" in card and outcome in card


async def test_sms_conversations_are_answered_at_once(sandbox: Sandbox) -> None:
    answer = await review(
        sandbox, {"inline_schema": "intent | string | Why they wrote", "conversation_ids": "conv-1\nconv-2"}
    )
    confirm = block_text(answer["view"]["blocks"])
    assert "2 SMS conversations" in confirm and "Inline schema from Slack" in confirm
    card_ts = await start_confirmed(sandbox, answer)
    thread = sandbox.thread_text(OPS_CHANNEL, card_ts)
    assert "*2 conversations*: 2 succeeded" in thread
    assert "*Conversation* `conv-1` · success" in thread and "*intent*:" in thread and "_(new)_" in thread
    assert await sandbox.bot.deps.store.tracked.count_active() == 0
    assert "Completed" in block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("forbidden", "citation backfill is an enterprise feature"),
        ("missing_call", "Bland could not find: `missing-call`"),
        ("unresolvable", "NO_RESOLVABLE_SCHEMAS"),
        ("server_error", "It may or may not have started; it was not retried"),
    ],
)
async def test_refused_backfills_explain_why(sandbox: Sandbox, setup: str, message: str) -> None:
    calls = past_calls(sandbox, 1)
    schema_id = await new_schema(sandbox)
    if setup == "forbidden":
        sandbox.sim.config.enterprise = False
    if setup == "missing_call":
        calls.append("missing-call")
    if setup == "unresolvable":
        schema_id = "no-such-schema"
    if setup == "server_error":
        sandbox.sim.inject("backfill.start", "500")
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": "\n".join(calls)})
    card_ts = await start_confirmed(sandbox, answer)
    assert message in sandbox.thread_text(OPS_CHANNEL, card_ts)
    assert sandbox.sim.count("backfill.start") == 1  # never retried
    assert "Finished with failures" in block_text(sandbox.slack.message(OPS_CHANNEL, card_ts).blocks)  # type: ignore[union-attr]


async def test_a_restart_while_running_posts_the_results_once(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 3)
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": "\n".join(calls)})
    card_ts = await start_confirmed(sandbox, answer)
    await sandbox.tick()
    await sandbox.restart()
    await sandbox.run_until_done(step=10)
    await sandbox.restart()
    await sandbox.advance(60)
    await sandbox.tick()
    thread = sandbox.thread_text(OPS_CHANNEL, card_ts)
    assert thread.count("Backfill results") == 1
    assert len(sandbox.slack.files_in(OPS_CHANNEL, card_ts)) == 1


async def test_status_works_for_backfill_workflows(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 1)
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": calls[0]})
    await start_confirmed(sandbox, answer)
    workflow_id = next(iter(sandbox.sim.workflows))
    await sandbox.command(f"status {workflow_id}", user=BOB)
    await sandbox.settle()
    assert f"`{workflow_id}`: *RUNNING*" in block_text(sandbox.last_response()["blocks"])


async def test_a_confirmation_starts_the_backfill_only_once(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 1)
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": calls[0]})
    await start_confirmed(sandbox, answer)
    await sandbox.submit_view(answer["view"], {})
    await sandbox.settle()
    assert sandbox.sim.count("backfill.start") == 1
    assert "already started" in sandbox.slack.ephemerals[-1]["text"]


async def test_an_unreachable_results_channel_sends_nothing(sandbox: Sandbox) -> None:
    schema_id = await new_schema(sandbox)
    calls = past_calls(sandbox, 1)
    answer = await review(sandbox, {"backfill_schemas": [schema_id], "call_ids": calls[0]})
    sandbox.slack.add_channel(OPS_CHANNEL, "ops", is_private=False, is_member=False)
    await sandbox.submit_view(answer["view"], {})
    await sandbox.settle()
    assert sandbox.sim.count("backfill.start") == 0
    assert (
        "Nothing was sent: the bot cannot post in <#C0OPS>"
        in sandbox.slack.channel_messages("D" + ALICE)[-1].text
    )


async def test_a_slow_schema_list_never_costs_the_person_their_modal(sandbox: Sandbox) -> None:
    box = sandbox
    # Slack lets a trigger_id open a view for 3 s; here 0.3 s, while Bland takes 0.8 s to list schemas.
    box.slack.trigger_ttl = 0.3
    box.sim.inject("schemas.list", "slow", delay=0.8)
    before = len(box.slack.views)
    await box.command("backfill")
    loading = await box.until(lambda: len(box.slack.views) > before and box.view(), what="the loading view")
    assert "Fetching your citation schemas" in json.dumps(loading)  # opened before Bland answered
    modal = await box.modal_after(before, what="the backfill modal")
    assert modal["callback_id"] == "backfill" and modal["id"] == loading["id"]  # the same modal, updated
    assert box.slack.ephemerals == [] and box.slack.responses == []  # no error reached the person
