"""Send a call from Slack and follow it to its results: end to end over signed HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.bland.webhooks import sign
from bot.domain import Kind, TrackedState
from bot.flows.calls import MAX_CALL_CHECKS
from bot.ids import ActionId
from bot.sandbox.harness import (
    ALICE,
    BOB,
    OPS_CHANNEL,
    WEBHOOK_SECRET,
    Sandbox,
    block_text,
    buttons,
    response_json,
)
from bot.sandbox.slack_stub import StubMessage
from tests.bland_fixtures import load
from tests.helpers import card_text as shown_text

NUMBER = "+14155550123"
SCHEMA_ID = "5f0c5a8e-1b7d-4c36-9a41-2d8e7f6a9b10"


async def open_modal(box: Sandbox, text: str = "call") -> dict[str, Any]:
    before = len(box.slack.views)
    response = await box.command(text)
    assert response.status_code == 200
    return await box.modal_after(before, what="the call modal")


def placing(response: Any) -> bool:
    """Whether a Send a call submission was taken: the modal says the call is being placed."""
    answer = response_json(response)
    return bool(
        answer.get("response_action") == "update" and "Placing the call" in json.dumps(answer["view"])
    )


async def send(box: Sandbox, inputs: dict[str, Any] | None = None, *, user: str = ALICE) -> StubMessage:
    view = await open_modal(box)
    before = len(box.slack.channel_messages(OPS_CHANNEL))
    fields = {"phone": NUMBER, "task": "Confirm the appointment for tomorrow at 3pm."} | (inputs or {})
    response = await box.submit_view(view, fields, user=user)
    assert response.status_code == 200 and placing(response), response.text
    # Wait for this call's card, not for any card: an earlier call's is already in the channel.
    cards: list[StubMessage] = await box.until(
        lambda: box.slack.channel_messages(OPS_CHANNEL)[before:], what="the new call's card"
    )
    await box.settle()  # the listener has finished, and the first poll it woke has run
    return cards[-1]


def call_id_of(card: StubMessage) -> str:
    return str(next(e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]))


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b["element"] for b in view["blocks"] if b.get("block_id") == block_id)


async def test_modal_opens_prefilled_from_the_arguments(sandbox: Sandbox) -> None:
    view = await open_modal(sandbox, "call +14155550123 Ask whether the order arrived")
    assert view["callback_id"] == "send_call"
    assert element(view, "phone")["initial_value"] == NUMBER
    assert element(view, "task")["initial_value"] == "Ask whether the order arrived"
    assert element(view, "channel")["initial_conversation"] == OPS_CHANNEL
    assert [o["value"] for o in element(view, "voice")["options"]][:2] == ["maya", "mason"]
    assert sandbox.slack.calls_to("views.open")[0].args["trigger_id"]
    spaced = await open_modal(sandbox, "call (415) 555-0123 Say hi")  # a number typed with spaces
    assert element(spaced, "phone")["initial_value"] == "(415) 555-0123"
    assert element(spaced, "task")["initial_value"] == "Say hi"


INVALID = [
    ({"phone": "555-CALL-NOW"}, "phone", "not a phone number"),
    ({"phone": "+12223334444"}, "phone", "not a valid phone number"),
    ({"phone": "12345"}, "phone", "not a valid phone number"),
    ({"phone": "415 555 0123 ext. 12"}, "phone", "extensions"),
    ({"task": ""}, "task", "Give a task"),
    ({"pathway_id": "pw-1"}, "pathway_id", "not both"),
    ({"task": "x" * 3001}, "task", "limit is 3000"),
    ({"first_sentence": "y" * 201}, "first_sentence", "At most 200"),
    ({"voice": "robot"}, "voice", "Choose one of"),
    ({"max_duration": "0"}, "max_duration", "between 0.5 and 30"),
    ({"max_duration": "999"}, "max_duration", "between 0.5 and 30"),
    ({"request_data": '{"name": "Ada",}'}, "request_data", "not valid JSON"),
    ({"request_data": "[1, 2]"}, "request_data", "must be a JSON object"),
    ({"request_data": "just words"}, "request_data", "expected `key=value`"),
    ({"request_data": "a=1\na=2"}, "request_data", "appears twice"),
    ({"citation_schemas": "schema-one"}, "citation_schemas", "not a schema ID"),
    ({"citation_schemas": SCHEMA_ID}, "citation_schemas", "tick 'Record'"),
    ({"voicemail_action": "leave_message"}, "voicemail_message", "Write the message"),
    ({"voicemail_message": "Call us back"}, "voicemail_message", "only with 'Leave a message'"),
    ({"summary_prompt": "s" * 2001}, "summary_prompt", "at most 2000"),
]


@pytest.mark.parametrize(("inputs", "block", "fragment"), INVALID)
async def test_invalid_input_gets_an_inline_error_and_nothing_is_sent(
    sandbox: Sandbox, inputs: dict[str, Any], block: str, fragment: str
) -> None:
    view = await open_modal(sandbox)
    fields = {"phone": NUMBER, "task": "Say hello"} | inputs
    response = await sandbox.submit_view(view, fields)
    body = response_json(response)
    assert body["response_action"] == "errors"
    assert fragment in body["errors"][block], body["errors"]
    assert sandbox.sim.count("calls.send") == 0


async def test_a_card_channel_the_bot_cannot_post_in_is_refused_in_the_modal_before_anything_is_dialled(
    sandbox: Sandbox,
) -> None:
    sandbox.slack.add_channel("G0SECRET", "secret", is_private=True, is_member=False)
    view = await open_modal(sandbox)
    refused = response_json(
        await sandbox.submit_view(view, {"phone": NUMBER, "task": "Say hi", "channel": "G0SECRET"})
    )
    assert "The bot cannot post the call's card there" in refused["errors"]["channel"]
    assert "/invite @blandbot" in refused["errors"]["channel"] and sandbox.sim.count("calls.send") == 0
    sandbox.slack.fail_next(
        "conversations.info", status=500, error="internal_error", retry_after=None, count=10
    )
    sent = await sandbox.submit_view(view, {"phone": NUMBER, "task": "Say hi"})
    assert sent.status_code == 200 and placing(sent)
    await sandbox.until(lambda: sandbox.sim.count("calls.send") == 1, what="the call")


async def test_a_call_is_sent_carded_tracked_and_its_results_posted_once(sandbox: Sandbox) -> None:
    sandbox.sim.config.answered_by_mix = {"human": 1.0}
    schema = await sandbox.bot.deps.bland.create_schema(
        "Confirmations",
        schema={"variables": [{"name": "confirmed", "type": "boolean", "description": "Yes?"}]},
    )
    view = await open_modal(sandbox)
    picker = element(view, "citation_schemas")
    assert picker["type"] == "multi_static_select"
    assert [(o["value"], o["text"]["text"]) for o in picker["options"]] == [(schema.id, "Confirmations")]
    card = await send(
        sandbox,
        {
            "citation_schemas": [schema.id],
            "request_data": "name=Ada\nslot=3pm",
            "summary_prompt": "Did they confirm the new time?",
            "voicemail_action": "leave_message",
            "voicemail_message": "Please call Acme back.",
            "options": ["record"],
            "voice": "maya",
            "max_duration": "4",
        },
    )
    call_id = call_id_of(card)
    sent = sandbox.sim.calls[call_id].payload
    assert sent["phone_number"] == NUMBER and sent["voice"] == "maya" and sent["max_duration"] == 4.0
    assert sent["request_data"] == {"name": "Ada", "slot": "3pm"}
    assert sent["summary_prompt"] == "Did they confirm the new time?"
    assert sent["voicemail"] == {"action": "leave_message", "message": "Please call Acme back."}
    assert sent["record"] is True
    assert sent["citation_schema_ids"] == [schema.id]
    assert not {"answered_by_enabled", "analysis_schema"} & set(sent)
    assert sent["metadata"]["slack_channel"] == OPS_CHANNEL and sent["metadata"]["requested_by"] == ALICE
    assert "webhook" not in sent  # no PUBLIC_URL
    card_text = block_text(card.blocks)
    assert "Queued" in card_text and "•••0123" in card_text and NUMBER not in card_text
    assert "Stop call" in card_text and f"<@{ALICE}>" in card_text

    await sandbox.run_until_done()
    final = block_text(sandbox.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]
    assert "Completed" in final and "Stop call" not in final
    # The outcome is on the card itself: who answered, the length, the cost, the summary's first sentence.
    assert "Answered by *human* · " in final and " · $0." in final and "\n> " in final
    replies = sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)
    assert len(replies) == 1
    thread = block_text(replies[0].blocks)
    assert "duration" in thread and "answered by" in thread and "price $" in thread
    assert "*Summary*" in thread and "*Citations*" in thread and "*confirmed*" in thread
    assert "Agent: " in thread and "Callee: Hello?" in thread and "[action] Ended call" in thread
    audit = await sandbox.bot.deps.store.audit.since(0)
    assert [(a.action, a.outcome, a.target) for a in audit] == [("call.send", "sent", call_id)]

    for _ in range(3):  # more ticks and polls never post again
        await sandbox.advance(60)
        await sandbox.tick()
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1


async def test_long_transcripts_are_uploaded_as_a_file_in_the_thread(sandbox: Sandbox) -> None:
    sandbox.sim.config.talk_seconds = 20 * 60
    sandbox.sim.config.answered_by_mix = {"human": 1.0}
    card = await send(sandbox, {"max_duration": "25"})
    await sandbox.run_until_done(step=60)
    files = sandbox.slack.files_in(OPS_CHANNEL, card.ts)
    assert len(files) == 1 and files[0].filename.endswith(".txt")
    content = files[0].content.decode()
    assert content.count("\n") > 150 and content.rstrip().endswith("[action] Ended call: Goodbye")
    thread = sandbox.thread_text(OPS_CHANNEL, card.ts)
    assert "the whole result is in the attached file" in thread
    assert all(
        len(b.get("text", {}).get("text", "")) <= 3000 for m in sandbox.slack.messages for b in m.blocks
    )


async def test_a_restart_mid_call_posts_the_result_exactly_once(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    await sandbox.tick()
    await sandbox.restart()  # the process goes away mid-call; the database keeps the schedule
    await sandbox.advance(600)
    await sandbox.tick()
    await sandbox.restart()
    await sandbox.advance(60)
    await sandbox.tick()
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1
    assert await sandbox.bot.deps.store.tracked.count_active() == 0


async def test_a_crash_after_posting_but_before_recording_does_not_post_twice(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    await sandbox.advance(600)
    item = await sandbox.bot.deps.store.tracked.find(Kind.CALL, call_id_of(card))
    assert item is not None
    # As if killed right after the thread post: the ledger has the post, the row is still active.
    await sandbox.tick()
    await sandbox.bot.deps.store.tracked.record_poll(
        item.id, next_poll_at=0, last_status="in_progress", attempts=0, failures=0, state=TrackedState.ACTIVE
    )
    await sandbox.restart()
    await sandbox.tick()
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1


async def test_webhooks_make_results_arrive_without_waiting_and_replays_post_nothing(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "w.db", public_webhooks=True) as box:
        card = await send(box)
        call_id = call_id_of(card)
        assert box.sim.calls[call_id].payload["webhook"] == f"{box.base_url}/bland/webhook"
        await box.tick()  # now polled again only after CALL_POLL_SECONDS
        await box.advance(600)  # Bland finishes the call and sends the signed webhook
        assert box.sim.webhooks_sent == [(call_id, 200)]
        await box.until(lambda: box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts), what="result")
        raw = json.dumps(box.sim.call_json(box.sim.calls[call_id])).encode()
        replay = await box.http.post(
            f"{box.base_url}/bland/webhook",
            content=raw,
            headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)},
        )
        assert replay.status_code == 200
        await box.tick()
        assert len(box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1


async def test_an_ended_calls_signed_webhook_is_its_read_so_a_burst_spends_no_bland_requests(
    tmp_path: Path,
) -> None:
    """Bland's post-call payload is the call's details: the result is posted from it, with no read."""
    async with Sandbox(tmp_path / "r.db", public_webhooks=True) as box:
        cards = [await send(box, {"phone": f"+1415555{i:04d}"}) for i in range(3)]
        await box.tick()
        reads = box.sim.count("calls.get")
        await box.advance(600)  # every call ends; Bland sends each one's signed webhook

        def reported() -> bool:
            return all(
                box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)
                and "Completed" in shown_text(box.slack, card)
                for card in cards
            )

        await box.until(reported, what="every result and final card")
        assert "*Summary*" in box.thread_text(OPS_CHANNEL, cards[0].ts)
        assert box.sim.count("calls.get") == reads  # every result came from its webhook


async def test_a_webhook_without_the_summary_is_read_again_once_bland_has_written_it(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "s.db", public_webhooks=True) as box:
        box.sim.config.summary_delay = 40  # the webhook goes out as the call ends, before the summary
        box.sim.config.talk_seconds = 60
        card = await send(box)
        call_id = call_id_of(card)
        await box.tick()
        await box.advance(80)  # ended (queued, rang and talked for 68 s), its summary not yet written
        await box.until(lambda: box.sim.webhooks_sent, what="the webhook")
        await box.settle()  # the webhook's poll has run
        item = await box.bot.deps.store.tracked.find(Kind.CALL, call_id)
        assert item is not None and item.data.get("missing_retries") == 1  # it waits for the summary
        assert not box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)  # no result without a summary
        reads = box.sim.count("calls.get")
        await box.run_until_done(step=20)
        assert box.sim.count("calls.get") > reads  # read in full for what the webhook lacked
        assert "*Summary*" in box.thread_text(OPS_CHANNEL, card.ts)


async def test_bland_down_while_tracking_says_checking_and_catches_up(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    sandbox.sim.inject("calls.get", "500", 100)
    # While the call is live the list shows how it goes; once it ended, it is read in full (and fails).
    await sandbox.advance(200)
    await sandbox.tick()
    checking = block_text(sandbox.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]
    assert "Checking" in checking and "trouble" in checking
    item = await sandbox.bot.deps.store.tracked.find(Kind.CALL, call_id_of(card))
    assert item is not None and item.failures == 1 and item.next_poll_at > sandbox.clock.now()
    await sandbox.advance(300)
    await sandbox.tick()
    item = await sandbox.bot.deps.store.tracked.find(Kind.CALL, call_id_of(card))
    assert item is not None and item.failures == 2  # still failing, slowed down, still tracked
    sandbox.sim.faults.clear()
    await sandbox.run_until_done(step=120)
    final = block_text(sandbox.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]
    assert "Completed" in final and "Checking" not in final
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1


async def test_a_missing_summary_is_repolled_before_being_reported(sandbox: Sandbox) -> None:
    sandbox.sim.config.summary_delay = 40
    card = await send(sandbox)
    await sandbox.run_until_done(step=10)
    thread = sandbox.thread_text(OPS_CHANNEL, card.ts)
    assert "*Summary*" in thread and "never sent a summary" not in thread

    sandbox.sim.config.summary_delay = 10_000
    card = await send(sandbox)
    await sandbox.run_until_done(step=30)
    assert "Bland never sent a summary" in sandbox.thread_text(OPS_CHANNEL, card.ts)


async def test_failed_calls_show_queue_status_and_error(sandbox: Sandbox) -> None:
    sandbox.sim.config.error_rate = 1.0
    card = await send(sandbox)
    await sandbox.run_until_done()
    thread = sandbox.thread_text(OPS_CHANNEL, card.ts)
    assert "Failed at" in thread and "_error" in thread
    assert "Failed" in block_text(sandbox.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]


async def test_ambiguous_send_failure_is_reported_and_never_retried(sandbox: Sandbox) -> None:
    sandbox.sim.inject("calls.send", "500", 5)
    view = await open_modal(sandbox)
    await sandbox.submit_view(view, {"phone": NUMBER, "task": "Say hello"})
    notice = await sandbox.until(lambda: sandbox.slack.ephemerals, what="the outcome-unknown notice")
    assert "outcome is unknown" in notice[0]["text"] and "not retried" in notice[0]["text"]
    assert "•••0123" in notice[0]["text"] and NUMBER not in notice[0]["text"]
    assert sandbox.sim.count("calls.send") == 1
    assert sandbox.slack.channel_messages(OPS_CHANNEL) == []
    audit = await sandbox.bot.deps.store.audit.since(0)
    assert [(a.action, a.outcome) for a in audit] == [("call.send", "outcome_unknown")]


async def test_bland_refusing_the_key_tells_the_person_the_bot_is_misconfigured(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "k.db", bland_api_key="wrong-key") as box:
        view = await open_modal(box)
        await box.submit_view(view, {"phone": NUMBER, "task": "Say hello"})
        # The modal says so, and keeps what was typed (a wrong key once closed it and lost the form).
        again = await box.until(
            lambda: "misconfigured" in json.dumps(box.view()) and box.view(), what="the refusal"
        )
        assert "wrong-key" not in json.dumps(again)
        assert (
            next(b for b in again["blocks"] if b.get("block_id") == "task")["element"]["initial_value"]
            == "Say hello"
        )


async def test_status_shows_any_call_and_names_unknown_ids(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    call_id = call_id_of(card)
    await sandbox.command(f"status {call_id}", user=BOB)
    reply = await sandbox.until(lambda: sandbox.slack.responses, what="status reply")
    assert reply[-1]["response_type"] == "ephemeral" and call_id in block_text(reply[-1]["blocks"])
    await sandbox.command("status not-a-call")
    reply = await sandbox.until(
        lambda: len(sandbox.slack.responses) > 1 and sandbox.slack.responses, what="404"
    )
    assert "does not know that id" in reply[-1]["text"]
    await sandbox.command("status")
    reply = await sandbox.until(
        lambda: len(sandbox.slack.responses) > 2 and sandbox.slack.responses, what="usage"
    )
    assert "Usage: `/bland status" in reply[-1]["text"]


async def test_track_posts_a_card_in_another_channel_and_follows_it(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    call_id = call_id_of(card)
    await sandbox.command(f"track {call_id}", channel="C0OTHER")
    other = await sandbox.until(lambda: sandbox.slack.channel_messages("C0OTHER"), what="tracked card")
    await sandbox.run_until_done()
    assert len(sandbox.slack.channel_messages("C0OTHER", thread_ts=other[0].ts)) == 1
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1
    await sandbox.command(f"track {call_id}", channel="C0OTHER")
    reply = await sandbox.until(lambda: sandbox.slack.responses, what="already tracked")
    assert "already tracked" in reply[-1]["text"]


async def test_stop_call_asks_for_confirmation_then_stops_and_audits(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    call_id = call_id_of(card)
    await sandbox.advance(10)  # live now
    await sandbox.command(f"stop-call {call_id}")
    reply = await sandbox.until(lambda: sandbox.slack.responses, what="confirmation")
    button = next(e for b in reply[-1]["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["action_id"] == ActionId.CONFIRM_STOP_CALL and "confirm" in button
    assert sandbox.sim.calls[call_id].stopped_at is None  # nothing stopped before the click
    await sandbox.click(ActionId.CONFIRM_STOP_CALL, call_id)
    await sandbox.until(lambda: sandbox.sim.calls[call_id].stopped_at is not None, what="the stop")
    await sandbox.until(lambda: len(sandbox.slack.responses) > 1, what="stop confirmation")
    assert "Stop requested" in sandbox.slack.responses[-1]["text"]
    audit = await sandbox.bot.deps.store.audit.since(0)
    assert ("call.stop", "stopped") in [(a.action, a.outcome) for a in audit]
    await sandbox.run_until_done()
    assert "[action] Ended call: stopped by API" in sandbox.thread_text(OPS_CHANNEL, card.ts)


async def test_stop_button_on_the_card_stops_the_call(sandbox: Sandbox) -> None:
    card = await send(sandbox)
    call_id = call_id_of(card)
    await sandbox.advance(10)
    await sandbox.click(ActionId.STOP_CALL, call_id, message_ts=card.ts)
    await sandbox.until(lambda: sandbox.sim.calls[call_id].stopped_at is not None, what="the stop")


async def test_quota_refusal_on_send_is_explained_and_not_retried(sandbox: Sandbox) -> None:
    sandbox.sim.inject("calls.send", "429", 5, retry_after=30)
    view = await open_modal(sandbox)
    typed = {"phone": NUMBER, "task": "Say hello", "request_data": "name=Ada", "options": ["record"]}
    await sandbox.submit_view(view, typed)
    # The form comes back as it was typed, with Bland's reason on top: nothing to type again.
    again = await sandbox.until(
        lambda: (
            (v := sandbox.view()).get("callback_id") == "send_call"
            and "Nothing was dialled" in json.dumps(v)
            and v
        ),
        what="the form, back with the refusal",
    )
    told = block_text(again["blocks"])
    fields = {b["block_id"]: b["element"] for b in again["blocks"] if b["type"] == "input"}
    assert fields["phone"]["initial_value"] == NUMBER and fields["task"]["initial_value"] == "Say hello"
    assert fields["request_data"]["initial_value"] == "name=Ada"
    assert [o["value"] for o in fields["options"]["initial_options"]] == ["record"]
    assert (
        "Bland refused the call" in told
        and "Nothing was dialled" in told
        and "past the plan's limits" in told
    )
    assert sandbox.sim.count("calls.send") == 1
    audit = await sandbox.bot.deps.store.audit.since(0)
    assert [(a.action, a.outcome) for a in audit] == [("call.send", "failed")]


async def test_a_slack_failure_shows_its_code_and_an_error_id_that_is_also_logged(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.slack.fail_next("views.open", status=200, retry_after=None, error="internal_error")
    await sandbox.command("call")
    reply = await sandbox.until(lambda: sandbox.slack.responses, what="the error reply")
    text = reply[-1]["text"]
    assert "Slack refused the bot's request (internal_error" in text and "error id `" in text
    assert "Traceback" not in caplog.text
    error_id = text.split("error id `")[1].split("`")[0]
    assert any(error_id in record.getMessage() for record in caplog.records)


async def test_slack_failing_on_the_card_tells_the_truth_and_the_card_follows(sandbox: Sandbox) -> None:
    view = await open_modal(sandbox)
    sandbox.slack.fail_next("chat.postMessage", status=500, retry_after=None, error="internal_error")
    await sandbox.submit_view(view, {"phone": NUMBER, "task": "Say hello"})
    told = await sandbox.until(lambda: sandbox.slack.ephemerals, what="what the person is told")
    assert "was placed" in told[0]["text"] and "Do not send it again" in told[0]["text"]
    assert "went wrong" not in told[0]["text"] and sandbox.sim.count("calls.send") == 1
    assert sandbox.slack.channel_messages(OPS_CHANNEL) == []
    await sandbox.advance(3)  # the card's retry falls due (first backoff: 2 s ± 10 %)
    await sandbox.tick()
    cards = sandbox.slack.channel_messages(OPS_CHANNEL)
    assert len(cards) == 1 and "Call to" in cards[0].text
    await sandbox.run_until_done()
    assert (
        len(sandbox.slack.channel_messages(OPS_CHANNEL)) == 1
    )  # results went into the thread, not beside it
    assert len(sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=cards[0].ts)) == 1


async def test_a_recorded_call_offers_its_recording_to_whoever_asks_and_to_them_alone(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "r.db", operator_users=(ALICE,)) as box:
        recorded = await send(box, {"options": ["record"]})
        plain = await send(box, {"phone": "+14155550124"})  # another number: Bland spaces one number's calls
        call_id, plain_id = call_id_of(recorded), call_id_of(plain)  # the cards lose their buttons at the end
        await box.run_until_done()
        result = box.slack.channel_messages(OPS_CHANNEL, thread_ts=recorded.ts)[0]
        button = buttons(result.blocks)["Recording"]
        assert button["action_id"] == ActionId.GET_RECORDING and "http" not in json.dumps(result.blocks)
        other = box.slack.channel_messages(OPS_CHANNEL, thread_ts=plain.ts)[0]
        assert "Recording" not in block_text(other.blocks)  # not recorded: no button

        await box.click(ActionId.GET_RECORDING, call_id, user=ALICE, message_ts=result.ts)
        answer = await box.until(lambda: box.slack.responses, what="the answer to the click")
        assert answer[-1]["response_type"] == "ephemeral" and answer[-1].get("replace_original") is False
        assert "is in your direct messages with the bot" in answer[-1]["text"]
        (mp3,) = box.slack.files_in("D" + ALICE)  # the MP3 itself, in her direct messages: hers alone
        assert mp3.filename == f"call-{call_id}.mp3" and mp3.content.startswith(b"ID3")
        assert not box.slack.files_in(OPS_CHANNEL)
        recordings = [path for route, _, path in box.sim.requests if route == "recordings.get"]
        assert recordings == [f"/v1/recordings/{call_id}"] and box.sim.count("calls.recording") == 0

        await box.click(ActionId.GET_RECORDING, call_id, user=BOB, message_ts=result.ts)
        refusal = await box.until(
            lambda: [
                m
                for m in [*box.slack.responses, *box.slack.ephemerals]
                if "not allowed" in str(m.get("text"))
            ],
            what="the refusal",
        )
        assert "listen to call recordings" in refusal[0]["text"]
        assert box.sim.count("recordings.get") == 1  # not an operator: Bland is not asked
        await box.click(ActionId.GET_RECORDING, plain_id, user=ALICE)
        await box.until(lambda: len(box.slack.responses) > 2, what="no recording")
        assert "has no recording" in box.slack.responses[-1]["text"]
        assert "it was not recorded" in box.slack.responses[-1]["text"]  # why, not "something went wrong"
        audit = [(a.action, a.outcome, a.actor) for a in await box.bot.deps.store.audit.since(0)]
        assert ("recording.get", "ok", ALICE) in audit and ("recording.get", "failed", ALICE) in audit


async def test_stop_all_is_for_admins_names_the_live_calls_and_is_announced(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "s.db", admin_users=(ALICE,), notify_channel="C0NOTIFY") as box:
        cards = [await send(box, {"phone": f"+1415555012{i}"}) for i in range(3)]
        await box.advance(10)  # all three are live
        await box.command("stop-all", user=BOB)
        refused = await box.until(lambda: box.slack.responses, what="the refusal")
        assert "not allowed to stop every call" in refused[-1]["text"]
        await box.command("stop-all", user=ALICE)
        prompt = await box.until(
            lambda: len(box.slack.responses) > 1 and box.slack.responses[-1], what="prompt"
        )
        assert "*3 live calls*" in block_text(prompt["blocks"])
        button = buttons(prompt["blocks"])["Stop all 3 live calls"]
        assert button["action_id"] == ActionId.STOP_ALL_CALLS and button["confirm"]["title"]["text"]
        assert all(call.stopped_at is None for call in box.sim.calls.values())  # nothing before the click
        await box.click(ActionId.STOP_ALL_CALLS, "3", user=ALICE)
        await box.until(
            lambda: all(c.stopped_at is not None for c in box.sim.calls.values()), what="the stop"
        )
        await box.settle()
        assert "Stopping 3 calls" in box.slack.responses[-1]["text"]
        announced = f"<@{ALICE}> stopped all live calls: Bland is stopping 3 calls"
        await box.until(
            lambda: [m for m in box.slack.channel_messages("C0NOTIFY") if announced in m.text],
            what="the line",
        )
        audit = [(a.action, a.outcome, a.actor) for a in await box.bot.deps.store.audit.since(0)]
        assert ("calls.stop_all", "stopped", ALICE) in audit
        await box.run_until_done()
        for card in cards:
            final = block_text(box.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]
            assert "Stop call" not in final


async def test_an_unanswered_call_can_be_retried_once_with_the_same_settings(sandbox: Sandbox) -> None:
    sandbox.sim.config.answered_by_mix = {"voicemail": 1.0}
    card = await send(sandbox, {"voice": "maya", "max_duration": "4", "voicemail_action": "hangup"})
    call_id = call_id_of(card)
    await sandbox.run_until_done()
    result = sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)[0]
    retry = buttons(result.blocks)["Retry"]
    assert retry["action_id"] == ActionId.RETRY_CALL and "•0123" in retry["confirm"]["text"]["text"]
    for _ in range(2):  # a double click places one call
        await sandbox.click(ActionId.RETRY_CALL, call_id, message_ts=result.ts)
        await sandbox.settle()
    assert sandbox.sim.count("calls.send") == 2
    first, again = (sandbox.sim.calls[c].payload for c in list(sandbox.sim.calls))
    for key in ("phone_number", "task", "voice", "max_duration", "voicemail"):
        assert first[key] == again[key], key
    texts = [str(r.get("text")) for r in sandbox.slack.responses]
    assert any("Calling +•••••••0123 again" in t for t in texts) and any("placed already" in t for t in texts)


async def test_an_answered_call_offers_no_retry(sandbox: Sandbox) -> None:
    sandbox.sim.config.answered_by_mix = {"human": 1.0}
    card = await send(sandbox, {})
    await sandbox.run_until_done()
    result = sandbox.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)[0]
    assert "Retry" not in block_text(result.blocks)


async def test_the_documented_call_example_as_a_webhook_is_verified_and_read(tmp_path: Path) -> None:
    # The documents give no webhook body; the post-call webhook is the call object (docs/bland.md, "Webhooks").
    async with Sandbox(tmp_path / "d.db", public_webhooks=True) as box:
        raw = json.dumps(load("call_details.jsonc")).encode()
        unsigned = await box.http.post(f"{box.base_url}/bland/webhook", content=raw)
        assert unsigned.status_code == 401
        signed = await box.http.post(
            f"{box.base_url}/bland/webhook",
            content=raw,
            headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)},
        )
        assert signed.status_code == 200 and signed.json() == {
            "status": "ignored"
        }  # a call not followed here
        again = await box.http.post(
            f"{box.base_url}/bland/webhook",
            content=raw,
            headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)},
        )
        assert again.json() == {"status": "duplicate"}


async def test_a_live_calls_card_follows_the_call_list_and_the_call_is_read_in_full_once_it_ended(
    sandbox: Sandbox,
) -> None:
    sandbox.sim.config.talk_seconds = 120
    card = await send(sandbox)
    assert "Queued" in shown_text(sandbox.slack, card)
    reads = sandbox.sim.count("calls.get")
    await sandbox.advance(12)  # ringing, then talking
    await sandbox.tick()
    await sandbox.settle()
    assert "In progress" in shown_text(sandbox.slack, card)
    assert sandbox.sim.count("calls.get") == reads  # shown from the list row: the call was not read
    await sandbox.run_until_done(step=60)
    assert "Completed" in shown_text(sandbox.slack, card)
    assert sandbox.sim.count("calls.get") > reads  # read in full once it ended, for its results


async def test_an_older_bland_without_the_recordings_route_still_gives_the_file_from_the_calls_link(
    tmp_path: Path,
) -> None:
    async with Sandbox(tmp_path / "o.db") as box:
        box.sim.config.recordings_route = False  # an older Bland: only the call's recording_url
        card = await send(box, {"options": ["record"]})
        call_id = call_id_of(card)
        await box.run_until_done()
        before = len(box.slack.responses)
        await box.click(ActionId.GET_RECORDING, call_id, user=ALICE)
        answer = await box.until(lambda: box.slack.responses[before:], what="the answer")
        assert "is in your direct messages with the bot" in answer[-1]["text"]
        (mp3,) = box.slack.files_in("D" + ALICE)
        assert mp3.filename == f"call-{call_id}.mp3" and mp3.content.startswith(b"ID3")


async def test_a_recording_asked_for_before_the_call_ends_says_it_is_not_there_yet(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "y.db") as box:
        box.sim.config.talk_seconds = 600
        card = await send(box, {"options": ["record"]})
        before = len(box.slack.responses)
        await box.click(ActionId.GET_RECORDING, call_id_of(card), user=ALICE)
        answer = await box.until(lambda: box.slack.responses[before:], what="the answer")
        assert "has no recording" in answer[-1]["text"] and "the call has not ended" in answer[-1]["text"]
        assert not box.slack.files_in("D" + ALICE)


async def test_a_call_cut_off_at_midnight_utc_is_found_though_bland_stamped_it_the_next_day(
    tmp_path: Path,
) -> None:
    before_midnight = datetime(2026, 12, 6, 23, 59, 58, tzinfo=UTC).timestamp()
    async with Sandbox(tmp_path / "m.db", start=before_midnight) as box:
        box.sim.inject("calls.send", "lost", 1)  # Bland takes the call; its answer never arrives
        view = await open_modal(box)
        await box.submit_view(view, {"phone": NUMBER, "task": "Say hello"})
        await box.until(lambda: box.slack.ephemerals, what="the outcome-unknown notice")
        (call,) = box.sim.calls.values()
        call.created_at += 5  # Bland's clock stamped it a few seconds on: the next UTC day
        for _ in range(MAX_CALL_CHECKS + 1):
            await box.advance(box.bot.deps.settings.send_stuck_seconds + 60)
            await box.tick()
        dms = [m.text for m in box.slack.channel_messages("D" + ALICE)]
        assert any("was placed (the bot was interrupted" in text for text in dms), dms
        assert not any("was not placed" in text for text in dms)
        found = await box.bot.deps.store.call_requests.by_call_id(call.call_id)
        assert found is not None and box.sim.count("calls.send") == 1  # followed, never sent again


async def flood(box: Sandbox, call_id: str, count: int) -> None:
    """Send `count` distinct signed webhooks about one call, a hundred at a time."""
    url = f"{box.base_url}/bland/webhook"

    async def news(i: int) -> int:
        raw = json.dumps({"call_id": call_id, "status": "in-progress", "seq": i}).encode()  # each distinct
        answer = await box.http.post(
            url, content=raw, headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)}
        )
        return answer.status_code

    for start in range(0, count, 100):
        assert set(await asyncio.gather(*(news(i) for i in range(start, min(count, start + 100))))) == {200}


def reads_of(box: Sandbox, call_id: str) -> int:
    return sum(1 for route, _, path in box.sim.requests if route == "calls.get" and call_id in path)


async def live_call(box: Sandbox) -> tuple[str, int]:
    """A call under way, read once by the tick: its id, and how often Bland was asked for it so far."""
    call_id = call_id_of(await send(box))
    await box.tick()
    return call_id, reads_of(box, call_id)


async def test_a_flood_of_webhooks_for_one_live_call_reads_it_once_within_the_gap(tmp_path: Path) -> None:
    # The gap holds the whole flood, however long this machine takes to send it.
    async with Sandbox(tmp_path / "f.db", public_webhooks=True, webhook_read_gap_seconds=600) as box:
        call_id, before = await live_call(box)
        await flood(box, call_id, 600)
        await box.until(lambda: reads_of(box, call_id) > before, what="the first read")
        assert reads_of(box, call_id) - before == 1  # the first news is read at once; the rest wait


async def test_news_within_the_gap_is_read_once_when_it_has_passed(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "g.db", public_webhooks=True, webhook_read_gap_seconds=5) as box:
        call_id, before = await live_call(box)
        await flood(box, call_id, 3)
        await box.settle()
        assert reads_of(box, call_id) - before == 1  # the first news at once; the rest wait for the gap
        await box.advance(4)
        await box.tick()
        assert reads_of(box, call_id) - before == 1  # not before the gap has passed
        await box.advance(1)
        await box.tick()
        assert reads_of(box, call_id) - before == 2  # then once, for all the news that came within it
        await box.advance(60)
        await box.tick()
        assert reads_of(box, call_id) - before == 2  # and not again for the same news
