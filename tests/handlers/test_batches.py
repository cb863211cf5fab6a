"""Batches end to end: request from a CSV, approve in Slack, watch, stop, summarise. Over signed HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Kind, RequestState
from bot.errors import UserError
from bot.flows import batches
from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, buttons, response_json
from bot.sandbox.slack_stub import StubMessage
from bot.tracking.kinds import CARD_MIN_INTERVAL
from tests.helpers import batch_list_reads, card_text, request_id_of, speaks_v2

APPROVALS = "C0APPROVE"
PROMPT = "Hi {{name}}, this is Acme calling about your {{plan}} renewal."
BOX_SETTINGS = dict(approver_users=(ALICE, BOB), approval_channel=APPROVALS, batch_poll_seconds=15)
# Every test here runs against a Bland that speaks only v1 batches, then one that speaks only v2.
pytestmark = pytest.mark.usefixtures("batch_api")


def numbers(count: int, start: int = 100) -> list[str]:
    return [f"+1415555{start + i:04d}" for i in range(count)]


def recipients(count: int = 3, start: int = 100) -> str:
    rows = ["Phone,name,plan"] + [f"{n},Person {i},gold" for i, n in enumerate(numbers(count, start))]
    return "\n".join(rows)


async def open_modal(box: Sandbox, user: str = ALICE) -> dict[str, Any]:
    before = len(box.slack.views)
    assert (await box.command("batch", user=user)).status_code == 200
    return await box.modal_after(before, what="the batch modal")


async def submit(box: Sandbox, inputs: dict[str, Any], *, user: str = ALICE) -> dict[str, Any]:
    view = await open_modal(box, user)
    fields = {"batch_label": "Renewals", "base_prompt": PROMPT, "recipients_text": recipients()} | inputs
    response = await box.submit_view(view, fields, user=user)
    assert response.status_code == 200
    return response_json(response)


async def request(box: Sandbox, inputs: dict[str, Any] | None = None) -> StubMessage:
    """Submit a valid request and return its approval card."""
    before = len(box.slack.channel_messages(APPROVALS))
    assert await submit(box, inputs or {}) == {}
    cards: list[StubMessage] = await box.until(
        lambda: box.slack.channel_messages(APPROVALS)[before:], what="the approval card"
    )
    await box.settle()
    return cards[-1]


async def click(box: Sandbox, action: str, value: str, user: str, card: StubMessage) -> str:
    """Click a button on a card; return the ephemeral answer the clicker got (if any)."""
    before = len(box.slack.responses)
    response = await box.click(action, value, user=user, channel=card.channel, message_ts=card.ts)
    assert response.status_code == 200
    await box.settle()
    answers = box.slack.responses[before:]
    return " ".join(str(a.get("text")) for a in answers)


async def approved_batch(box: Sandbox, inputs: dict[str, Any] | None = None) -> tuple[StubMessage, str]:
    card = await request(box, inputs)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "Approved and sent" in answer, answer
    batch_id = next(iter(box.sim.batches))
    return card, batch_id


# -- the request --------------------------------------------------------------------------------


async def test_a_valid_pasted_csv_freezes_the_payload_and_asks_for_approval(box: Sandbox) -> None:
    card = await request(box, {"approver_note": "Q3 list, checked by legal", "batch_options": ["test_mode"]})
    text = block_text(card.blocks)
    assert "<@U0ALICE> asks to send *Renewals*: *1 call*" in text  # test mode dials only the first row
    assert "Test mode" in text and "only the first of 3 rows" in text
    assert "`{{name}}`" in text and "`{{plan}}`" in text
    assert "+•••••••0100" in text and "4155550100" not in json.dumps(card.blocks)
    assert "Q3 list, checked by legal" in text
    assert "$0.70" in text and "Start plan: $0.14/min, at least $0.015 a call" in text  # 1 × 5 min × $0.14
    assert "[Approve] [Reject] [Cancel request]" in text
    # Read in five seconds: who, how many, the most it costs, when it rings and who decides; then the buttons.
    lines = text.splitlines()
    assert (
        lines[1]
        == "<@U0ALICE> asks to send *Renewals*: *1 call*, up to *$0.70*, ringing as soon as it is approved."
    )
    assert lines[2] == f"Approvers: <@{BOB}>" and lines[3] == "[Approve] [Reject] [Cancel request]"
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.state == "pending" and stored.call_count == 1
    assert stored.payload.rows[2] == {
        "phone_number": "+14155550102",
        "name": "Person 2",
        "plan": "gold",
    }
    assert "[blandbot:" + stored.id + "]" in stored.payload.label
    assert stored.fingerprint[:16] in text and "expires" in text
    assert stored.expires_at == pytest.approx(box.clock.now() + 24 * 3600)
    told = box.slack.ephemerals[-1]
    assert (
        told["user"] == ALICE and f"<#{APPROVALS}>" in told["text"] and "Nothing is dialled" in told["text"]
    )
    assert box.sim.count("batches.send") == 0


async def test_an_uploaded_csv_file_is_read_with_the_bot_token(box: Sandbox) -> None:
    upload = box.slack.add_file("list.csv", recipients(4).encode())
    card = await request(box, {"recipients_text": None, "recipients_file": [upload]})
    assert "*4 calls*" in block_text(card.blocks)
    assert box.slack.calls_to("files.info")[0].args["file"] == upload["id"]


INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"recipients_text": "name,plan\nAda,gold"}, "recipients_text", "No phone column"),
    (
        {"recipients_text": "phone,name,plan\n+14155550100,A,g\n+1415555010,B,g\n555-CALL,C,g"},
        "recipients_text",
        "Invalid phone number on line 3, 4",
    ),
    ({"recipients_text": "phone,name\n+14155550100,Ada"}, "base_prompt", "No CSV column for {{plan}}"),
    ({"recipients_text": "phone,Name,plan\n+14155550100,Ada,g"}, "base_prompt", "the CSV has `Name`"),
    (
        {"recipients_text": "phone,name,plan\n+14155550100,A,g\n(415) 555-0100,B,g"},
        "recipients_text",
        "lines 2 and 3",
    ),
    ({"recipients_text": recipients(4)}, "recipients_text", "more than BATCH_MAX_CALLS (3)"),
    ({"recipients_text": ""}, "recipients_text", "Paste the recipients"),
    ({"from_number": "12"}, "from_number", "not a valid phone number"),
    ({"batch_label": ""}, "batch_label", "Give the batch a label"),
]


@pytest.mark.parametrize(("inputs", "block", "message"), INVALID)
async def test_invalid_requests_get_inline_errors(
    tmp_path: Path, inputs: dict[str, Any], block: str, message: str
) -> None:
    async with Sandbox(tmp_path / "i.db", approver_users=(BOB,), batch_max_calls=3) as box:
        answer = await submit(box, inputs)
        assert answer.get("response_action") == "errors", answer
        assert message in answer["errors"][block], answer["errors"]
        assert await box.bot.deps.store.batch_requests.recent() == []


BAD_ROWS = (
    "phone,name,plan\n"
    "+14155550100,Ada,gold\n"  # line 2: fine
    "12,Bob,gold\n"  # line 3: not a number
    "+14155550100,Ada again,gold\n"  # line 4: the same number as line 2
    "+14155550101,,silver\n"  # line 5: {{name}} left empty
    "+14155550102,Grace,gold,extra\n"  # line 6: one value too many
    "+14155550103,Alan,gold\n"  # line 7: fine
)


async def test_every_row_problem_is_named_at_once_and_the_rows_can_be_left_out(box: Sandbox) -> None:
    answer = await submit(box, {"recipients_text": BAD_ROWS})
    said = answer["errors"]["recipients_text"]
    assert "Line 6: expected 3 values" in said and "Invalid phone number on line 3" in said
    assert "lines 2 and 4" in said and "Line 5 leaves a placeholder empty" in said
    assert "Leave out the rows with problems" in said
    card = await request(box, {"recipients_text": BAD_ROWS, "batch_options": ["leave_out_bad_rows"]})
    text = block_text(card.blocks)
    assert "*2 calls*" in text and "Left out by the requester: rows with problems* (4)" in text
    assert (
        "line 3: not a valid phone number; line 4: the same number as line 2; line 5: a placeholder is empty"
        in text
    )
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert (
        stored is not None
        and stored.payload.numbers == ["+14155550100", "+14155550103"]
        and len(stored.skipped) == 4
    )
    nothing = await submit(
        box, {"recipients_text": "phone,name,plan\n12,A,g\n", "batch_options": ["leave_out_bad_rows"]}
    )
    assert "No row is left to send" in nothing["errors"]["recipients_text"]


async def test_a_template_for_a_prompt_is_a_csv_with_its_placeholders_in_the_persons_dms(
    box: Sandbox,
) -> None:
    await box.command("batch template Hi {{name}}, your {{ plan }} renews on {{date}}.")
    await box.settle()
    (template,) = box.slack.files_in("D" + ALICE)
    header, example = list(csv.reader(io.StringIO(template.content.decode())))
    assert header == ["phone", "name", "plan", "date"] and example[0] == "+14155550123"
    assert "`phone`, `name`, `plan`, `date`" in box.last_response()["text"]
    # Filled in and pasted back, it is a valid request.
    filled = "phone,name,plan,date\n+14155550100,Ada,gold,Monday\n"
    answer = await submit(
        box, {"recipients_text": filled, "base_prompt": "Hi {{name}}, your {{plan}} renews on {{date}}."}
    )
    assert answer == {}


async def test_files_that_are_too_big_or_not_csv_are_refused(box: Sandbox) -> None:
    cases = [
        (box.slack.add_file("big.csv", b"phone\n" + b"+14155550100\n" * 200_000), "too big"),
        (
            box.slack.add_file("photo.png", b"\x89PNG\x00\x00", filetype="png", mimetype="image/png"),
            "not a CSV",
        ),
        (box.slack.add_file("sneaky.csv", b"phone\x00\x01\x02"), "binary data"),
    ]
    for upload, message in cases:
        answer = await submit(box, {"recipients_text": None, "recipients_file": [upload]})
        assert message in answer["errors"]["recipients_file"], answer
    both = await submit(box, {"recipients_file": [cases[0][0]]})
    assert "not both" in both["errors"]["recipients_text"]
    # A pasted list past the field's 3,000 characters (Slack's client stops typing there; a submission may
    # come from anywhere) is refused on its field, and the file input offered instead.
    pasted = "phone,name,plan\n" + "".join(f"+1415555{i:04d},Person {i},gold\n" for i in range(6000))
    long = await submit(box, {"recipients_text": pasted})
    assert "at most 3,000 can be pasted" in long["errors"]["recipients_text"]
    assert await box.bot.deps.store.batch_requests.recent(1) == []  # nothing was frozen for approval
    assert box.slack.channel_messages(APPROVALS) == []


# -- deciding -----------------------------------------------------------------------------------


async def test_an_approver_approves_and_the_batch_is_sent_once_and_tracked(box: Sandbox) -> None:
    card, batch_id = await approved_batch(box)
    assert box.sim.count("batches.send") == 1
    sent = box.sim.batches[batch_id]
    assert len(sent["call_ids"]) == 3 and "Renewals [blandbot:" in sent["label"]
    stamped = card_text(box.slack, card)
    assert f"Approved by <@{BOB}> · sent as batch `{batch_id}`" in stamped and "[Approve]" not in stamped
    # The approval card is now the batch's card: its progress and Stop are in the channel, nothing in the
    # thread until the summary.
    assert f"batch `{batch_id}`" in stamped and "[Stop batch] [Refresh]" in stamped
    assert stamped.index("Approved by") < stamped.index("[Stop batch]") < stamped.index("*Details*")
    assert box.slack.channel_messages(APPROVALS, thread_ts=card.ts) == []
    actions = [(e.actor, e.action, e.outcome) for e in await box.bot.deps.store.audit.since(0)]
    assert (ALICE, "batch.request", "pending") in actions and (BOB, "batch.approve", "approved") in actions
    assert (BOB, "batch.send", "sent") in actions


async def test_a_batch_tracked_before_approval_cards_became_batch_cards_keeps_its_thread_card(
    box: Sandbox,
) -> None:
    card = await request(box)
    # A row written by an earlier version: linked to its request, without the marker.
    deps = box.bot.deps
    await deps.tracker.track(
        deps,
        Kind.BATCH,
        "old-gen-batch",
        APPROVALS,
        created_by=ALICE,
        data={"request_id": request_id_of(card)},
    )
    await box.settle()
    (live,) = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)
    assert "old-gen-batch" in block_text(live.blocks) and "[Stop batch]" in block_text(live.blocks)
    assert "[Stop batch]" not in card_text(box.slack, card)


async def test_the_requester_and_non_approvers_are_told_why_nothing_happened(box: Sandbox) -> None:
    card = await request(box)
    request_id = request_id_of(card)
    own = await click(box, ActionId.APPROVE_BATCH, request_id, ALICE, card)
    # Who can help, by name, never a setting.
    assert "you requested this batch" in own and f"a different approver must decide it: <@{BOB}>." in own
    stranger = await click(box, ActionId.APPROVE_BATCH, request_id, CAROL, card)
    assert f"only <@{ALICE}> or <@{BOB}> decide batches" in stranger and "_USERS" not in stranger
    reject = await click(box, ActionId.REJECT_BATCH, request_id, CAROL, card)
    assert f"only <@{ALICE}> or <@{BOB}>" in reject
    cancel = await click(box, ActionId.CANCEL_BATCH, request_id, BOB, card)
    assert "only <@U0ALICE>" in cancel
    stored = await box.bot.deps.store.batch_requests.get(request_id)
    assert stored is not None and stored.state == "pending"
    assert box.sim.count("batches.send") == 0 and "[Approve]" in card_text(box.slack, card)


async def test_self_approval_and_user_groups_when_allowed(tmp_path: Path) -> None:
    async with Sandbox(
        tmp_path / "g.db", approver_users=("S0LEADS",), allow_self_approval=True, approval_channel=APPROVALS
    ) as box:
        box.slack.groups["S0LEADS"] = [ALICE]
        card = await request(box)
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), ALICE, card)
        assert "Approved and sent" in answer and box.sim.count("batches.send") == 1


async def test_fifty_concurrent_approve_clicks_send_exactly_one_batch(box: Sandbox) -> None:
    box.slack.groups["S0APPROVERS"] = [BOB, CAROL]
    box.bot.deps.settings = box.bot.deps.settings.model_copy(
        update={"approver_users": (ALICE, BOB, "S0APPROVERS")}
    )
    card = await request(box)
    request_id = request_id_of(card)
    clicks = [
        box.click(
            ActionId.APPROVE_BATCH,
            request_id,
            user=(BOB, CAROL)[i % 2],
            channel=APPROVALS,
            message_ts=card.ts,
        )
        for i in range(50)
    ]
    responses = await asyncio.gather(*clicks)
    assert all(r.status_code == 200 for r in responses)
    await box.settle()
    assert box.sim.count("batches.send") == 1 and len(box.sim.batches) == 1
    answers = [str(r.get("text")) for r in box.slack.responses]
    assert sum("Approved and sent" in a for a in answers) == 1
    assert sum("Nothing happened" in a for a in answers) == 49
    stored = await box.bot.deps.store.batch_requests.get(request_id)
    assert stored is not None and stored.state == "sent"
    assert card_text(box.slack, card).count("[Stop batch]") == 1  # one batch on the card
    assert box.slack.channel_messages(APPROVALS, thread_ts=card.ts) == []


async def test_rejection_asks_for_a_reason_and_tells_the_requester(box: Sandbox) -> None:
    card = await request(box)
    await click(box, ActionId.REJECT_BATCH, request_id_of(card), BOB, card)
    modal = box.view()
    assert modal["callback_id"] == "reject_batch"
    short = response_json(await box.submit_view(modal, {"reject_reason": "no"}, user=BOB))
    assert "Say briefly why" in short["errors"]["reject_reason"]
    assert (await box.submit_view(modal, {"reject_reason": "List not cleared by legal"}, user=BOB)).text == ""
    await box.settle()
    assert "Rejected by <@U0BOB>: List not cleared by legal" in card_text(box.slack, card)
    assert "[Approve]" not in card_text(box.slack, card)
    dm = box.slack.channel_messages("D" + ALICE)
    assert dm and "rejected by <@U0BOB>: List not cleared by legal" in dm[-1].text
    late = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "already rejected" in late and box.sim.count("batches.send") == 0


async def test_the_requester_can_cancel(box: Sandbox) -> None:
    card = await request(box)
    answer = await click(box, ActionId.CANCEL_BATCH, request_id_of(card), ALICE, card)
    assert "Cancelled" in answer and "Cancelled by <@U0ALICE>" in card_text(box.slack, card)


async def test_pending_requests_expire_and_their_cards_say_so(box: Sandbox) -> None:
    card = await request(box)
    await box.advance(24 * 3600 + 1)
    await box.tick()
    assert "Expired" in card_text(box.slack, card) and "[Approve]" not in card_text(box.slack, card)
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.state == "expired"
    late = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "expired" in late and box.sim.count("batches.send") == 0


# -- ambiguous sends ----------------------------------------------------------------------------


async def test_a_lost_reply_is_reconciled_by_label_and_never_resent(box: Sandbox) -> None:
    box.sim.inject("batches.send", "lost")
    card = await request(box)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert box.sim.count("batches.send") == 1 and len(box.sim.batches) == 1
    batch_id = next(iter(box.sim.batches))
    assert f"batch `{batch_id}`" in answer and "sent once" in answer
    assert batch_list_reads(box) == 1
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.state == "sent" and stored.batch_id == batch_id
    thread = box.thread_text(APPROVALS, card.ts)
    assert "<@U0BOB> Bland did not answer clearly" in thread and batch_id in thread
    await box.run_until_done()
    assert box.sim.count("batches.send") == 1


async def test_an_unknown_outcome_with_no_batch_ends_as_send_failed_after_checks(box: Sandbox) -> None:
    box.sim.inject("batches.send", "500")
    card = await request(box)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "shows no batch for this request yet" in answer and "will not send" in answer
    assert "did not answer clearly" in card_text(box.slack, card)
    for _ in range(12):
        await box.advance(61)
        await box.tick()
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.state == "send_failed" and stored.checks == 10
    assert "Nothing was re-sent" in box.thread_text(APPROVALS, card.ts)
    assert box.sim.count("batches.send") == 1 and box.sim.batches == {}


async def test_a_refused_send_is_reported_and_nothing_is_dialled(box: Sandbox) -> None:
    box.sim.inject("batches.send", "429")
    card = await request(box)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "Bland did not take the batch, so nothing was dialled" in answer
    assert "Bland did not take the batch" in card_text(box.slack, card)
    assert box.sim.count("batches.send") == 1 and box.sim.batches == {}


# -- progress, stop, completion -----------------------------------------------------------------


async def test_progress_then_summary_with_histogram_errors_cost_and_a_csv(box: Sandbox) -> None:
    box.sim.config.error_rate = 0.3
    card, batch_id = await approved_batch(box, {"recipients_text": recipients(12)})
    await box.advance(20)
    await box.tick()
    progress = card_text(box.slack, card)
    assert "/12" in progress and "Queue statuses" in progress and "errors so far" in progress
    if speaks_v2(box):  # progress is counted from the call list, filtered by batch
        lists = [path for route, _, path in box.sim.requests if route == "calls.list" and "batch_id=" in path]
        assert lists and all(f"batch_id={batch_id}" in path for path in lists)
        assert box.sim.count("batches.get") == 0
    else:
        polls = [path for route, _, path in box.sim.requests if route == "batches.get"]
        assert polls and all("include_calls=false" in path for path in polls)  # progress is read cheaply

    await box.run_until_done()
    final = card_text(box.slack, card)
    assert "Completed" in final and "12/12" in final and "[Stop batch]" not in final
    # The final tally on the card, where the channel sees it: how the calls ended and what they cost.
    assert re.search(r"\*12 calls: \d+ (answered by a person|reached voicemail|not answered)", final), final
    assert re.search(r"\d+ failed · cost (about )?\$", final), final
    replies = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)
    assert len(replies) == 1  # one summary in the thread: a handful of messages, not one per call
    summary = block_text(replies[0].blocks)
    assert "*12 calls*" in summary and re.search(r"cost (about )?\$", summary) and "Answered by" in summary
    assert "0–15s" in summary and "█" in summary
    assert "First errors" in summary
    files = box.slack.files_in(APPROVALS, card.ts)
    assert len(files) == 1 and files[0].filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(files[0].content.decode())))
    # The requester's list, completed: their columns in their order, then each row's call.
    header = next(csv.reader(io.StringIO(files[0].content.decode())))
    assert header == ["phone", "name", "plan", "call_id", "status", "answered_by", "length_seconds", "cost_usd",
                      "cost_source", "summary_or_transcript"]  # fmt: skip
    assert [r["name"] for r in rows] == [f"Person {i}" for i in range(12)] and all(
        r["plan"] == "gold" for r in rows
    )
    assert [r["phone"][-4:] for r in rows] == [n[-4:] for n in numbers(12)]
    assert all(r["phone"].startswith("•••••••") for r in rows)  # masked, with no + for a spreadsheet to guard
    assert {r["call_id"] for r in rows} == set(box.sim.batches[batch_id]["call_ids"])
    by_number = {c.to[-4:]: c.call_id for c in box.sim.calls.values()}
    assert all(by_number[r["phone"][-4:]] == r["call_id"] for r in rows)  # each row with its own call
    assert "4155550" not in files[0].content.decode()
    assert any(r["status"] in {"queue_error", "call_error"} for r in rows)
    assert any(r["summary_or_transcript"] for r in rows if r["status"] == "complete")
    if speaks_v2(box):  # each call is read in full at most once, after it ended; unanswered ones never
        reads = [path.rsplit("/", 1)[1] for route, _, path in box.sim.requests if route == "calls.get"]
        assert len(reads) == len(set(reads))
        spoke = {r["call_id"] for r in rows if r["status"] == "complete" and r["answered_by"] != "no-answer"}
        assert spoke <= set(reads) and not {
            r["call_id"] for r in rows if r["answered_by"] == "no-answer"
        } & set(reads)
    else:
        polls = [path for route, _, path in box.sim.requests if route == "batches.get"]
        assert (
            sum("include_calls=true" in path for path in polls) == 1
        )  # the calls are fetched once, at the end


@pytest.mark.parametrize("completes", [True, False], ids=["Bland completes it", "Bland never says completed"])
async def test_stop_mid_way_stops_the_rest_and_the_card_says_who(box: Sandbox, completes: bool) -> None:
    box.sim.config.stopped_batch_completes = completes
    box.sim.config.batch_dispatch_per_second = 0.05  # one call every 20 s: most are still waiting
    box.sim.config.talk_seconds = 60
    card, batch_id = await approved_batch(box, {"recipients_text": recipients(6)})
    await box.advance(30)
    await box.tick()
    answer = await click(box, ActionId.STOP_BATCH, batch_id, CAROL, card)  # the approval card's Stop
    assert "Stopping batch" in answer and box.sim.count("batches.stop") == 1
    await box.tick()
    final = card_text(box.slack, card)
    assert "Stopped" in final and f"stopped by <@{CAROL}>" in final and "[Stop batch]" not in final
    assert re.search(r"\(\d+ pending calls? ended undialled or cut short\)", final), final
    if speaks_v2(box):  # did Bland send a final event for the stopped batch (the documents never say)
        await box.sim.process()
        assert (box.sim.batches[batch_id]["final"] == "completed") is completes
    else:
        assert box.sim.batches[batch_id]["completes"] is completes
    summary = block_text(box.slack.channel_messages(APPROVALS, thread_ts=card.ts)[0].blocks)
    assert "Batch stopped" in summary and "queue_error" in summary
    again = await box.command(f"stop {batch_id}", user=CAROL)
    assert again.status_code == 200
    await box.settle()
    assert "has finished: there is nothing to stop" in str(box.last_response().get("text"))
    late = await click(box, ActionId.STOP_BATCH, batch_id, CAROL, card)  # an old prompt's button
    assert "nothing left to stop" in late
    audit = [(e.action, e.outcome) for e in await box.bot.deps.store.audit.since(0)]
    assert ("batch.stop", "stopped") in audit and ("batch.stop", "already_finished") in audit


async def test_a_restart_mid_batch_loses_nothing_and_posts_nothing_twice(box: Sandbox) -> None:
    card, _ = await approved_batch(box, {"recipients_text": recipients(5)})
    await box.advance(10)
    await box.tick()
    await box.restart()
    await box.run_until_done()
    replies = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)
    assert len(replies) == 1 and "Batch finished" in block_text(replies[0].blocks)
    assert len(box.slack.files_in(APPROVALS, card.ts)) == 1
    assert "Completed" in card_text(box.slack, card)
    await box.restart()
    await box.tick()
    assert len(box.slack.channel_messages(APPROVALS, thread_ts=card.ts)) == 1
    assert box.sim.count("batches.send") == 1


async def test_a_crash_while_sending_is_reconciled_not_resent(box: Sandbox) -> None:
    card = await request(box)
    request_id = request_id_of(card)
    repo = box.bot.deps.store.batch_requests
    # The process died right after claiming the send and before Bland answered.
    assert await repo.move(request_id, RequestState.PENDING, RequestState.APPROVED, approver=BOB)
    assert await repo.move(request_id, RequestState.APPROVED, RequestState.SENDING)
    await box.restart()
    await box.advance(121)
    await box.tick()
    stored = await repo_get(box, request_id)
    assert stored.state == "outcome_unknown" and box.sim.count("batches.send") == 0
    assert "shows no batch for this request yet" in box.thread_text(APPROVALS, card.ts)


async def repo_get(box: Sandbox, request_id: str) -> Any:
    stored = await box.bot.deps.store.batch_requests.get(request_id)
    assert stored is not None
    return stored


async def test_batches_lists_recent_requests_with_progress(box: Sandbox) -> None:
    _, batch_id = await approved_batch(box)
    await request(box)
    await box.advance(20)
    await box.tick()
    assert (await box.command("batches")).status_code == 200
    await box.settle()
    listed = block_text(box.last_response()["blocks"])
    assert listed.count("*Renewals*") == 2 and "`sent`" in listed and "`pending`" in listed
    assert batch_id in listed and "done" in listed


async def test_fifty_racing_approvals_past_the_pending_check_still_send_once(box: Sandbox) -> None:
    # Over HTTP the clicks above tend to arrive one after another; here all fifty read "pending"
    # before any of them moves it, so only the conditional UPDATE stands between them and Bland.
    card = await request(box)
    request_id = request_id_of(card)
    deps = box.bot.deps
    outcomes = await asyncio.gather(
        *(batches.approve(deps, request_id, user=BOB) for _ in range(50)), return_exceptions=True
    )
    sent = [o for o in outcomes if isinstance(o, str) and "Approved and sent" in o]
    refused = [o for o in outcomes if isinstance(o, UserError) and "Nothing happened" in o.message]
    assert len(sent) == 1 and len(refused) == 49, outcomes
    assert box.sim.count("batches.send") == 1 and len(box.sim.batches) == 1


async def test_status_and_track_work_for_batches(box: Sandbox) -> None:
    _, batch_id = await approved_batch(box, {"recipients_text": recipients(4)})
    await box.advance(600)
    assert (await box.command(f"status {batch_id}", user=CAROL)).status_code == 200
    await box.settle()
    shown = block_text(box.last_response()["blocks"])
    assert (
        batch_id in shown
        and "4/4" in shown
        and "approved by <@U0BOB>" in shown
        and "[Stop batch]" not in shown
    )
    assert (await box.command(f"track {batch_id}", user=CAROL, channel=OPS_CHANNEL)).status_code == 200
    await box.settle()
    card = box.slack.channel_messages(OPS_CHANNEL)[-1]
    assert batch_id in block_text(card.blocks)
    await box.run_until_done()
    assert "Completed" in block_text(card.blocks)
    assert "Batch finished" in box.thread_text(OPS_CHANNEL, card.ts)


async def test_an_unreachable_approval_channel_is_explained_and_nothing_stays_pending(box: Sandbox) -> None:
    box.slack.add_channel(APPROVALS, "approvals", is_private=True, is_member=False)
    assert await submit(box, {}) == {}
    await box.settle()
    told = box.slack.ephemerals[-1]
    assert told["user"] == ALICE and "cannot post the approval card in <#C0APPROVE>" in told["text"]
    assert "/invite @bland" in told["text"]
    stored = (await box.bot.deps.store.batch_requests.recent(1))[0]
    assert stored.state == "cancelled" and box.sim.count("batches.send") == 0
    audit = [(e.action, e.outcome) for e in await box.bot.deps.store.audit.since(0)]
    assert ("batch.cancel", "cancelled") in audit


async def test_a_card_update_slack_refused_once_is_made_again(box: Sandbox) -> None:
    card, _ = await approved_batch(box)
    assert "Waiting for Bland's first progress report" in card_text(box.slack, card)
    # The card's first progress is the next update; Slack fails it once.
    box.slack.fail_next("chat.update", status=500, retry_after=None, error="internal_error", count=1)
    await box.advance(CARD_MIN_INTERVAL)
    await box.tick()
    assert "Queue statuses" not in card_text(box.slack, card)
    await box.advance(3)  # past the first backoff (2 s ± 10 %)
    await box.settle()
    assert "Queue statuses" in card_text(box.slack, card)
    await box.run_until_done()
    assert box.sim.count("batches.send") == 1
    assert "Completed" in card_text(box.slack, card)


@pytest.fixture
def slow_file(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Reading the uploaded file takes longer than the bot may wait before answering Slack."""
    from handlers import batches as batch_handlers

    monkeypatch.setattr(batch_handlers, "ACK_BUDGET_SECONDS", 0.05)
    box.slack.download_delay = 0.3
    return box


async def test_a_slow_csv_file_is_acknowledged_at_once_and_the_modal_says_where_it_went(
    slow_file: Sandbox,
) -> None:
    box = slow_file
    upload = box.slack.add_file("list.csv", recipients(3).encode())
    answer = await submit(box, {"recipients_text": None, "recipients_file": [upload]})
    assert answer["response_action"] == "update" and "Checking the CSV file" in json.dumps(answer["view"])
    cards = await box.until(lambda: box.slack.channel_messages(APPROVALS), what="the approval card")
    done = await box.until(
        lambda: "waits for approval" in json.dumps(box.view()) and box.view(), what="the modal's answer"
    )
    assert "Renewals" in json.dumps(done) and len(cards) == 1
    assert len(await box.bot.deps.store.batch_requests.recent(5)) == 1


async def test_problems_in_a_slow_csv_file_bring_the_form_back_filled_in(slow_file: Sandbox) -> None:
    box = slow_file
    upload = box.slack.add_file("list.csv", b"name,plan\nAda,gold\n")  # no phone column
    answer = await submit(
        box, {"recipients_text": None, "recipients_file": [upload], "approver_note": "from the CRM"}
    )
    assert answer["response_action"] == "update"
    again = await box.until(
        lambda: "Fix this and submit again" in json.dumps(box.view()) and box.view(), what="the form again"
    )
    assert again["callback_id"] == "request_batch" and "No phone column" in json.dumps(again)
    label = next(b for b in again["blocks"] if b.get("block_id") == "batch_label")
    note = next(b for b in again["blocks"] if b.get("block_id") == "approver_note")
    assert (
        label["element"]["initial_value"] == "Renewals" and note["element"]["initial_value"] == "from the CRM"
    )
    assert (
        await box.bot.deps.store.batch_requests.recent(5) == []
        and box.slack.channel_messages(APPROVALS) == []
    )


async def test_an_approval_card_slack_failed_to_update_is_fixed_once_slack_recovers(box: Sandbox) -> None:
    card = await request(box)
    box.slack.fail_next("chat.update", status=500, retry_after=None, error="internal_error", count=100)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "Approved and sent" in answer
    assert "[Approve]" in card_text(box.slack, card)  # stale: Slack refused every update so far
    box.slack.clear_faults()
    await box.advance(3)  # the queued update's retry falls due: the card's latest state is sent
    await box.tick()
    text = card_text(box.slack, card)
    assert "[Approve]" not in text and f"Approved by <@{BOB}>" in text
    assert box.sim.count("batches.send") == 1


@pytest.mark.parametrize("total_count", [True, False], ids=["with total_count", "count alone"])
async def test_the_approval_card_spreads_a_batch_past_the_daily_limit_counted_either_way(
    tmp_path: Path, total_count: bool
) -> None:
    async with Sandbox(
        tmp_path / "d.db", approver_users=(ALICE, BOB), approval_channel=APPROVALS, daily_call_limit=4
    ) as box:
        box.sim.config.list_total_count = total_count
        for number in numbers(3, start=500):  # three calls placed today, outside Slack
            await box.bot.deps.bland.send_call({"phone_number": number, "task": "Earlier call"})
        card = await request(box)  # three more
        text = block_text(card.blocks)
        assert "3 calls placed today (UTC), 3 in the last hour" in text, text
        assert "All 3 at once would pass the daily cap" in text and "no call is rejected" in text
        assert "1 at once" in text  # the day's room; the other two the next UTC day


async def test_batch_webhooks_bring_the_summary_without_waiting_for_a_poll(
    tmp_path: Path, batch_api: str
) -> None:
    async with Sandbox(
        tmp_path / "w.db",
        public_webhooks=True,
        bland_speaks=batch_api,
        approver_users=(ALICE, BOB),
        approval_channel=APPROVALS,
        batch_poll_seconds=3600,  # polling alone would not see the end within this test
    ) as box:
        card, batch_id = await approved_batch(box, {"recipients_text": recipients(4)})
        url = f"{box.base_url}/bland/webhook"
        sent = box.sim.batches[batch_id]
        if speaks_v2(box):
            assert sent["status_webhook"].startswith(f"{box.base_url}/bland/batch-status/")
            assert all(entry["webhook"] == url for entry in sent["call_objects"])
        else:
            assert sent["batch_webhook"] == url and sent["call_params"]["webhook"] == url
        stored = await box.bot.deps.store.batch_requests.by_batch_id(batch_id)
        assert (
            stored is not None and "webhook" not in stored.payload.to_bland()
        )  # delivery settings, not approved content
        await box.tick()  # the first progress read; the next is an hour away
        polls = box.sim.count("batches.get")
        reads = box.sim.count("calls.get")
        await box.advance(600)  # every call ends: four call webhooks, then the batch's own
        subjects = [subject for subject, _ in box.sim.webhooks_sent]
        if speaks_v2(box):  # one status event per phase, the final one among them (sent together, they are
            # answered in any order)
            phases = [s for s in subjects if s.startswith(batch_id)]
            assert f"{batch_id}:completed" in phases and len(phases) == len(set(phases)), phases
            assert len([s for s in subjects if not s.startswith(batch_id)]) == 4
        else:
            assert len(subjects) == 5 and batch_id in subjects
        assert all(status == 200 for _, status in box.sim.webhooks_sent)
        await box.until(
            lambda: len(box.slack.channel_messages(APPROVALS, thread_ts=card.ts)) >= 1, what="the summary"
        )
        await box.settle()
        if speaks_v2(box):
            # The call webhooks were each call's result: no call was read again, and the batch (metadata
            # only on v2) was never read.
            assert box.sim.count("calls.get") == reads and box.sim.count("batches.get") == 0
        else:
            gets = [path for route, _, path in box.sim.requests if route == "batches.get"][polls:]
            # No tick in between: the webhook's progress read, then the calls read once, as a stream.
            assert len(gets) == 2 and "include_calls=false" in gets[0] and "include_calls=true" in gets[1]
        summary = block_text(box.slack.channel_messages(APPROVALS, thread_ts=card.ts)[0].blocks)
        assert "Batch finished" in summary and "*4 calls*" in summary
        item = await box.bot.deps.store.tracked.find(Kind.BATCH, batch_id)
        assert item is not None and item.state != "active"


async def test_a_batch_can_be_recorded_and_the_approver_sees_it(box: Sandbox) -> None:
    card = await request(box, {"batch_options": ["record"]})
    assert ":red_circle: *Recorded*: every call is recorded" in block_text(card.blocks)
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.payload.record is True  # part of what is approved
    await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    batch_id = next(iter(box.sim.batches))
    calls = [box.sim.calls[cid] for cid in box.sim.batches[batch_id]["call_ids"]]
    assert len(calls) == 3 and all(call.payload["record"] is True for call in calls)
    plain = await request(box)
    assert "Recording: off" in block_text(plain.blocks)


async def test_stop_by_command_asks_first_and_names_what_it_would_stop(box: Sandbox) -> None:
    box.sim.config.batch_dispatch_per_second = 0.05
    card, batch_id = await approved_batch(box, {"recipients_text": recipients(4)})
    await box.tick()
    assert (await box.command(f"stop {batch_id}", user=CAROL)).status_code == 200
    await box.settle()
    prompt = box.last_response()
    assert "4 of its 4 calls have not finished" in block_text(prompt["blocks"])
    button = buttons(prompt["blocks"])["Stop batch"]
    assert button["action_id"] == ActionId.STOP_BATCH and "confirm" in button
    assert box.sim.count("batches.stop") == 0  # nothing stopped before the click
    assert "Stopping batch" in await click(box, ActionId.STOP_BATCH, batch_id, CAROL, card)
    assert box.sim.count("batches.stop") == 1


async def test_approvers_are_reminded_once_and_the_requester_warned_before_expiry(box: Sandbox) -> None:
    card = await request(box)

    def reminders() -> list[str]:
        return [
            m.text for m in box.slack.channel_messages(APPROVALS, thread_ts=card.ts) if ":bell:" in m.text
        ]

    await box.advance(29 * 60)
    await box.tick()
    assert reminders() == []
    await box.advance(2 * 60)
    await box.tick()
    for _ in range(3):
        await box.advance(600)
        await box.tick()
    assert len(reminders()) == 1  # once, in the request's thread
    assert (
        f"<@{ALICE}> <@{BOB}>: *Renewals* (3 calls) from <@{ALICE}> has waited 31 minutes" in reminders()[0]
    )

    def warnings() -> list[str]:
        return [m.text for m in box.slack.channel_messages("D" + ALICE) if "expires" in m.text]

    await box.advance(21 * 3600)  # 22 h 1 min old: the 24-hour expiry is more than an hour away
    await box.tick()
    assert warnings() == []
    await box.advance(3600)  # less than an hour left
    await box.tick()
    await box.advance(60)
    await box.tick()
    assert len(warnings()) == 1 and "has no decision yet" in warnings()[0]
    await box.click(
        ActionId.APPROVE_BATCH, request_id_of(card), user=BOB, channel=APPROVALS, message_ts=card.ts
    )
    await box.settle()
    assert box.sim.count("batches.send") == 1  # still pending until it expires: a late approval still counts


async def test_a_decided_request_gets_no_reminder(box: Sandbox) -> None:
    card, _ = await approved_batch(box)
    await box.advance(3600)
    await box.tick()
    assert not [m for m in box.slack.channel_messages(APPROVALS, thread_ts=card.ts) if ":bell:" in m.text]


async def test_re_run_for_unanswered_requests_just_those_rows_through_approval(box: Sandbox) -> None:
    box.sim.config.answered_by_mix = {"human": 0.2, "no-answer": 0.4, "voicemail": 0.4}
    card, batch_id = await approved_batch(box, {"recipients_text": recipients(12)})
    await box.run_until_done()
    summary = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)[0]
    button = buttons(summary.blocks).get("Re-run for unanswered…")
    assert button is not None, block_text(summary.blocks)
    assert button["action_id"] == ActionId.RERUN_BATCH and button["value"] == batch_id
    ended = {box.sim.calls[c].to: box.sim.calls[c].answered_by for c in box.sim.batches[batch_id]["call_ids"]}
    unanswered = sorted(n for n, a in ended.items() if a == "no-answer")
    voicemail = sorted(n for n, a in ended.items() if a == "voicemail")
    assert unanswered and voicemail

    before = len(box.slack.views)
    await box.click(ActionId.RERUN_BATCH, batch_id, user=ALICE, channel=APPROVALS, message_ts=summary.ts)
    view = await box.modal_after(before, what="the re-run modal")
    options = [o["text"]["text"] for o in view["blocks"][1]["element"]["options"]]
    assert options == [f"Unanswered ({len(unanswered)})", f"Reached voicemail ({len(voicemail)})"]
    none = response_json(await box.submit_view(view, {"rerun_kinds": []}))
    assert "Choose which calls" in none["errors"]["rerun_kinds"]
    cards_before = len(box.slack.channel_messages(APPROVALS))
    assert (await box.submit_view(view, {"rerun_kinds": ["unanswered"]})).status_code == 200
    rerun_card = (await box.until(lambda: box.slack.channel_messages(APPROVALS)[cards_before:], what="card"))[
        -1
    ]
    text = block_text(rerun_card.blocks)
    assert f"*{len(unanswered)} call" in text and "(re-run: unanswered)" in text and "[Approve]" in text
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(rerun_card))
    assert stored is not None and stored.state == "pending"
    assert sorted(row["phone_number"] for row in stored.payload.rows) == unanswered
    assert all(row["name"] and row["plan"] for row in stored.payload.rows)  # the rows as they were
    assert box.sim.count("batches.send") == 1  # nothing dialled before a second person approves


# -- which batch API: asked with a read, remembered, asked again on a 404 ---------------------------------


async def test_the_batch_api_is_asked_with_a_read_remembered_and_asked_again_when_a_batch_read_says_404(
    tmp_path: Path,
) -> None:
    async with Sandbox(tmp_path / "a.db", bland_speaks="v1", **BOX_SETTINGS) as box:  # type: ignore[arg-type]
        card, batch_id = await approved_batch(box)
        assert batch_id.endswith("-gen-batch")  # sent with POST /v1/batches
        probes = [path for route, _, path in box.sim.requests if route == "batches.list"]
        assert probes == ["/v2/batches/list?take=1&skip=0"]  # a read that cannot dial, never a send
        fact = await box.bot.deps.store.facts.get("batch_api")
        assert fact is not None and fact[0] == "v1" and "answered 404" in fact[1]
        await approved_batch(box)
        assert len([r for r, _, _ in box.sim.requests if r == "batches.list"]) == 1  # remembered
        box.sim.config.batch_api = "v2"  # Bland drops v1: the next read of the batch says 404
        await box.advance(20)
        await box.tick()
        fact = await box.bot.deps.store.facts.get("batch_api")
        assert fact is not None and fact[0] == "v2"
        await box.run_until_done()  # the v1 batch is followed through the call list, which both share
        assert "Completed" in card_text(box.slack, card) and "Batch finished" in box.thread_text(
            APPROVALS, card.ts
        )
        before = set(box.sim.batches)
        await approved_batch(box)
        (new,) = set(box.sim.batches) - before
        assert box.sim.batches[new].get("api") == "v2"


async def test_a_set_batch_api_is_used_without_asking(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "f.db", bland_batch_api="v1", **BOX_SETTINGS) as box:  # type: ignore[arg-type]
        _, batch_id = await approved_batch(box)
        assert batch_id.endswith("-gen-batch") and box.sim.count("batches.list") == 0


async def test_when_bland_cannot_be_asked_which_batch_api_nothing_is_sent(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "u.db", **BOX_SETTINGS) as box:  # type: ignore[arg-type]
        card = await request(box)
        await box.bot.deps.store.facts.forget("batch_api")
        box.sim.inject("batches.list", "500", count=10)
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert (
            "not sent: cannot tell which batch API Bland speaks" in answer and "nothing was dialled" in answer
        )
        assert box.sim.count("batches.send") == 0
        stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
        assert stored is not None and stored.state == RequestState.SEND_FAILED


# -- v2's status webhook ------------------------------------------------------------------------------------


async def test_v2_status_events_come_to_a_url_only_the_bot_and_bland_know(tmp_path: Path) -> None:
    async with Sandbox(
        tmp_path / "s.db",
        public_webhooks=True,
        bland_speaks="v2",
        **BOX_SETTINGS,  # type: ignore[arg-type]
    ) as box:
        card, batch_id = await approved_batch(box, {"recipients_text": recipients(4)})
        url = box.sim.batches[batch_id]["status_webhook"]
        token = url.rsplit("/", 1)[1]
        other_end = "1" if token.endswith("0") else "0"  # a token one character off, never the real one
        forged = await box.http.post(
            f"{box.base_url}/bland/batch-status/{token[:-1]}{other_end}",
            json={"batch_id": batch_id, "status": "completed"},
        )
        assert forged.status_code == 401
        unsigned = await box.http.post(
            f"{box.base_url}/bland/batch-status/nothing", json={"batch_id": batch_id}
        )
        assert unsigned.status_code == 401
        other = await box.http.post(
            url, json={"batch_id": "0b0e8c57-9e6e-4e4d-84d2-9826b2268c22", "status": "completed"}
        )
        assert other.status_code == 200 and other.json() == {"status": "ignored"}  # another request's batch
        assert "Completed" not in box.thread_text(APPROVALS, card.ts)
        # Bland gives up on the batch (its documents' example): the card closes and the summary says why,
        # though no call has ended.
        final = {
            "batch_id": batch_id,
            "status": "completed_partial",
            "code": "batch_early_exit",
            "reason": "Condition not met within 86400 seconds",
            "calls_total": 4,
            "calls_successful": 0,
            "calls_failed": 4,
        }
        told = await box.http.post(url, json=final)
        assert told.status_code == 200 and told.json()["status"] == "tracked"
        await box.until(lambda: "Batch finished" in box.thread_text(APPROVALS, card.ts), what="the summary")
        await box.settle()
        thread = box.thread_text(APPROVALS, card.ts)
        assert "Bland: completed_partial: batch_early_exit Condition not met within 86400 seconds" in thread
        later = await box.http.post(url, json={**final, "status": "in_progress"})  # a final event stays final
        assert later.status_code == 200
        kept = await box.bot.deps.store.facts.get(f"batch-status:{batch_id}")
        assert kept is not None and "completed_partial" in kept[0]


async def test_a_new_user_on_a_bland_that_speaks_only_v2_sends_follows_and_stops_batches(
    tmp_path: Path,
) -> None:
    async with Sandbox(tmp_path / "n.db", bland_speaks="v2", **BOX_SETTINGS) as box:  # type: ignore[arg-type]
        card, batch_id = await approved_batch(box, {"recipients_text": recipients(6)})
        creates = [path for route, method, path in box.sim.requests if route == "batches.send"]
        assert creates == ["/v2/batches/create"]  # one request, on v2
        sent = box.sim.batches[batch_id]
        assert [o["request_data"] for o in sent["call_objects"]] == [
            {"name": f"Person {i}", "plan": "gold"} for i in range(6)
        ]
        assert [o["phone_number"] for o in sent["call_objects"]] == numbers(6)
        assert sent["global"]["task"] == PROMPT and "answered_by_enabled" not in sent["global"]
        await box.run_until_done()
        assert "Completed" in card_text(box.slack, card) and "*6 calls*" in box.thread_text(
            APPROVALS, card.ts
        )
        files = box.slack.files_in(APPROVALS, card.ts)
        rows = list(csv.DictReader(io.StringIO(files[0].content.decode())))
        assert len(files) == 1 and {r["call_id"] for r in rows} == set(sent["call_ids"])

        box.sim.config.batch_dispatch_per_second = 0.05  # the second batch's calls go out slowly
        box.sim.config.talk_seconds = 60
        second = await request(box, {"recipients_text": recipients(6, start=300)})
        before = set(box.sim.batches)
        assert "Approved and sent" in await click(
            box, ActionId.APPROVE_BATCH, request_id_of(second), BOB, second
        )
        (second_id,) = set(box.sim.batches) - before
        await box.advance(30)
        await box.tick()
        answer = await click(box, ActionId.STOP_BATCH, second_id, BOB, second)
        assert "Stopping batch" in answer and re.search(r"\(\d pending calls?\)", answer)
        assert box.sim.count("batches.stop") == 1
        await box.run_until_done()
        final = card_text(box.slack, second)
        assert "Stopped" in final and f"stopped by <@{BOB}>" in final


async def test_v2_results_are_read_once_each_across_polls_and_a_restart(tmp_path: Path) -> None:
    # A poll reads what the budget serves in a third of a lease: here 7 (1,000 a second × 0.7 × 0.01 s).
    settings = {**BOX_SETTINGS, "lease_seconds": 0.03}
    async with Sandbox(tmp_path / "r.db", bland_speaks="v2", **settings) as box:  # type: ignore[arg-type]
        box.sim.config.answered_by_mix = {"human": 1.0}  # every call has a result to read
        card, batch_id = await approved_batch(box, {"recipients_text": recipients(12)})
        await box.advance(CARD_MIN_INTERVAL)  # the card's approval edit is not the last it showed lately
        await box.tick()  # the first progress read, and its card edit, go out before the calls end
        await box.settle()
        await box.advance(3600)  # every call ends
        await box.tick()
        kept = await box.bot.deps.store.batch_calls.counts(batch_id)
        assert (kept.ended, kept.read) == (12, 7)  # some results are still to read…
        await box.settle()
        shown = card_text(box.slack, card)
        assert "Reading results 7 / 12" in shown  # …and the card says how far it got
        await box.restart()  # what was read is kept: the reading resumes, nothing is read again
        await box.run_until_done()
        reads = Counter(path.rsplit("/", 1)[1] for route, _, path in box.sim.requests if route == "calls.get")
        assert set(reads) == set(box.sim.batches[batch_id]["call_ids"]) and set(reads.values()) == {1}
        assert "*12 calls*" in box.thread_text(APPROVALS, card.ts)


# -- the result file with whole numbers ---------------------------------------------------------------------


async def test_the_whole_numbers_file_goes_to_an_admin_alone_when_the_workspace_allows_it(
    tmp_path: Path, batch_api: str
) -> None:
    settings = {**BOX_SETTINGS, "admin_users": (CAROL,), "export_full_numbers": True}
    async with Sandbox(tmp_path / "w.db", bland_speaks=batch_api, **settings) as box:  # type: ignore[arg-type]
        card, batch_id = await approved_batch(box)
        await box.run_until_done()
        (summary,) = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)
        button = buttons(summary.blocks).get("Result file with whole numbers")
        assert button is not None and button["value"] == batch_id
        (shared,) = box.slack.files_in(APPROVALS, card.ts)
        assert "4155550100" not in shared.content.decode()  # the thread's file stays masked
        refused = await click(box, ActionId.WHOLE_NUMBERS, batch_id, BOB, summary)
        assert (
            "not allowed to get result files with whole numbers" in refused and f"ask <@{CAROL}>" in refused
        )
        assert box.slack.files_in("D" + BOB) == []
        given = await click(box, ActionId.WHOLE_NUMBERS, batch_id, CAROL, summary)
        assert "in your direct messages" in given
        (private,) = box.slack.files_in("D" + CAROL)
        rows = list(csv.DictReader(io.StringIO(private.content.decode())))
        # The same list, in its order, with each number whole (kept as text by the spreadsheet guard).
        assert [r["phone"] for r in rows] == [f"'{n}" for n in numbers(3)]
        assert [r["name"] for r in rows] == [f"Person {i}" for i in range(3)] and all(
            r["call_id"] for r in rows
        )
        audit = [(e.actor, e.action, e.outcome) for e in await box.bot.deps.store.audit.since(0)]
        assert (CAROL, "batch.export", "uploaded") in audit
        # Turned off since: the button says so, and who can turn it on.
        box.bot.deps.settings = box.bot.deps.settings.model_copy(update={"export_full_numbers": False})
        off = await click(box, ActionId.WHOLE_NUMBERS, batch_id, CAROL, summary)
        assert "turned off" in off and len(box.slack.files_in("D" + CAROL)) == 1


async def test_without_whole_numbers_allowed_the_summary_offers_no_such_button(box: Sandbox) -> None:
    card, _ = await approved_batch(box)
    await box.run_until_done()
    (summary,) = box.slack.channel_messages(APPROVALS, thread_ts=card.ts)
    assert "Result file with whole numbers" not in buttons(summary.blocks)
