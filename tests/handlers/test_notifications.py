"""Subscriptions and their delivery, the Home tab, Bland webhooks and the audit export, end to end."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from bot.bland.webhooks import sign
from bot.flows.home import HOME_GAP_SECONDS
from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, WEBHOOK_SECRET, Sandbox, block_text
from tests.handlers.test_batches import APPROVALS, click, request
from tests.helpers import request_id_of

NEWS = "C0NEWS"
FIREHOSE = "C0FIREHOSE"


BOX_SETTINGS = dict(
    approver_users=(BOB,), admin_users=(CAROL,), approval_channel=APPROVALS, notify_channel=FIREHOSE
)


async def reply_to(box: Sandbox, text: str, *, user: str = ALICE, channel: str = NEWS) -> str:
    before = len(box.slack.responses)
    response = await box.command(text, user=user, channel=channel)
    assert response.status_code == 200
    await box.settle()
    if response.text.strip():  # answered in the ack itself (usage errors)
        return response.text
    return " ".join(str(r.get("text")) for r in box.slack.responses[before:])


def lines(box: Sandbox, channel: str) -> list[str]:
    return [m.text for m in box.slack.channel_messages(channel)]


async def test_subscribed_channels_get_one_line_per_event_across_restarts(box: Sandbox) -> None:
    assert "now gets batches" in await reply_to(box, "subscribe batches")
    assert "now gets approvals" in await reply_to(box, "subscribe approvals")
    assert "already gets" in await reply_to(box, "subscribe batches")
    assert "batches" in await reply_to(box, "subscriptions") and "approvals" in await reply_to(
        box, "subscriptions"
    )
    card = await request(
        box, {"recipients_text": "phone,name,plan\n+14155550100,Ada,gold\n+14155550101,Bo,gold"}
    )
    await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    await box.restart()  # mid-batch
    await box.run_until_done()
    await box.restart()
    await box.tick()
    news = lines(box, NEWS)
    assert [line.split(":", 2)[1] for line in news] == ["inbox_tray", "scales", "rocket", "checkered_flag"], (
        news
    )
    assert "approval requested: *Renewals* (2 calls) by <@U0ALICE>" in news[0]
    assert "approved by <@U0BOB>" in news[1] and "completed: 2 calls" in news[3]
    assert all("|open thread>" in line and "/archives/C0APPROVE/p" in line for line in news)
    assert box.slack.calls_to("chat.getPermalink") == []  # links are built, not fetched one by one
    assert lines(box, FIREHOSE) == news  # NOTIFY_CHANNEL gets every event too
    assert lines(box, APPROVALS)[0].startswith("Batch request")  # the card's channel gets no extra lines
    dms = [m.text for m in box.slack.channel_messages("D" + ALICE)]
    assert (
        len(dms) == 2 and "was approved by <@U0BOB>" in dms[0] and "Your batch *Renewals* completed" in dms[1]
    )


async def test_unsubscribe_and_topics(box: Sandbox) -> None:
    await reply_to(box, "subscribe all")
    assert "no longer gets all" in await reply_to(box, "unsubscribe all")
    assert "has no subscriptions" in await reply_to(box, "subscriptions")
    assert "was not subscribed" in await reply_to(box, "unsubscribe calls")
    assert "Usage: `/bland subscribe <calls|batches|backfills|approvals|all>`" in await reply_to(
        box, "subscribe fax"
    )
    audit = [(e.action, e.outcome, e.target) for e in await box.bot.deps.store.audit.since(0)]
    assert ("subscription.add", "added", "all") in audit and (
        "subscription.remove",
        "removed",
        "all",
    ) in audit


async def test_only_operators_change_subscriptions(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "o.db", operator_users=(ALICE,)) as box:
        assert "needs the operator role" in await reply_to(box, "subscribe calls", user=BOB)
        assert await box.bot.deps.store.subscriptions.topics(NEWS) == []


async def test_a_channel_the_bot_cannot_post_in_is_explained(box: Sandbox) -> None:
    box.slack.add_channel("G0SECRET", "secret", is_private=True, is_member=False)
    answer = await reply_to(box, "subscribe approvals", channel="G0SECRET")
    assert (
        "cannot post here yet (it is private and the bot is not in it" in answer
        and "/invite @blandbot" in answer
    )
    await request(box)
    await request(box)
    dms = [m.text for m in box.slack.channel_messages("D" + ALICE)]
    assert len(dms) == 1 and "could not post a approvals notification in <#G0SECRET>" in dms[0]


async def test_call_events_reach_subscribers_and_the_requester(box: Sandbox) -> None:
    await reply_to(box, "subscribe calls")
    from tests.handlers.test_calls import send

    card = await send(box)
    await box.run_until_done()
    assert (
        len(lines(box, NEWS)) == 1
        and "completed" in lines(box, NEWS)[0]
        and "+•••••••0123" in lines(box, NEWS)[0]
    )
    assert "Your call to +•••••••0123 completed" in box.slack.channel_messages("D" + ALICE)[-1].text
    assert card.channel == OPS_CHANNEL


# -- the Home tab -------------------------------------------------------------------------------


def home_of(box: Sandbox, user: str) -> dict[str, Any]:
    return box.slack.views[f"HOME-{user}"]


async def test_the_home_tab_for_an_approver_and_for_a_requester(box: Sandbox) -> None:
    card = await request(box)
    request_id = request_id_of(card)
    assert (await box.open_home(BOB)).status_code == 200
    assert (await box.open_home(ALICE)).status_code == 200
    await box.until(
        lambda: f"HOME-{ALICE}" in box.slack.views and f"HOME-{BOB}" in box.slack.views, what="homes"
    )
    approver = block_text(home_of(box, BOB)["blocks"])
    assert "*Waiting for your approval* (1)" in approver
    assert f"*Renewals* · 3 calls · up to $2.10 · from <@{ALICE}> · waiting 0 min" in approver  # its age
    assert (
        "[Approve] [Reject]" in approver and "[Send a call] [Request a batch] [Start a backfill]" in approver
    )
    approve = next(
        e
        for b in home_of(box, BOB)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "approve_batch"
    )
    assert "up to $2.10" in approve["confirm"]["text"]["text"]  # money is spent only after a confirmation
    requester = block_text(home_of(box, ALICE)["blocks"])
    assert "*Waiting for your approval* (0)" in requester and "[Approve]" not in requester
    assert "*Your batch requests*\n• *Renewals* · 3 calls · waiting for approval · <!date^" in requester
    # Approving from the Home tab: no channel, no response_url; the answer comes as a DM.
    response = await box.click_in_view(ActionId.APPROVE_BATCH, request_id, home_of(box, BOB), user=BOB)
    assert response.status_code == 200
    await box.settle()
    assert box.sim.count("batches.send") == 1
    assert "Approved and sent" in box.slack.channel_messages("D" + BOB)[-1].text
    await box.advance(HOME_GAP_SECONDS)  # the changes after the first wait out the Home tab's gap
    await box.tick()
    await box.settle()
    requester = block_text(home_of(box, ALICE)["blocks"])  # refreshed when the state changed
    assert (
        "• *Renewals* · 3 calls · running · " in requester and "*Active batches*\n• *Renewals*" in requester
    )
    assert "since <!date^" in requester  # when it started, in the reader's own time
    assert "*Waiting for your approval* (0)" in block_text(home_of(box, BOB)["blocks"])
    await box.run_until_done()
    await box.settle()
    finished = block_text(home_of(box, ALICE)["blocks"])
    assert (
        "• *Renewals* · 3 calls · finished · " in finished and "*Active batches*\nNone running." in finished
    )


async def test_home_buttons_open_modals_with_a_channel_picker(box: Sandbox) -> None:
    await box.open_home(ALICE)
    await box.until(lambda: f"HOME-{ALICE}" in box.slack.views, what="home")
    for action, callback in [
        (ActionId.OPEN_CALL_MODAL, "send_call"),
        (ActionId.OPEN_BATCH_MODAL, "request_batch"),
        (ActionId.OPEN_BACKFILL_MODAL, "backfill"),
    ]:
        await box.click_in_view(action, "home", home_of(box, ALICE))
        await box.settle()
        opened = box.view()
        assert opened["callback_id"] == callback
        assert any(b.get("block_id") == "channel" for b in opened["blocks"])
    batch_view = box.view_of("request_batch")
    fields = {
        "channel": NEWS,
        "batch_label": "From home",
        "base_prompt": "Hi {{name}}",
        "recipients_text": "phone,name\n+14155550100,Ada",
    }
    assert (await box.submit_view(batch_view, fields)).text == ""
    await box.settle()
    stored = (await box.bot.deps.store.batch_requests.recent(1))[0]
    assert stored.channel == NEWS and stored.card_channel == APPROVALS
    backfill_view = box.view_of("backfill")
    inputs = {"channel": NEWS, "inline_schema": "intent | string", "conversation_ids": "conv-1"}
    review = await box.submit_view(backfill_view, inputs)
    confirm = review.json()["view"]
    assert (await box.submit_view(confirm, {})).text == ""
    await box.settle()
    card = box.slack.channel_messages(NEWS)[-1]
    assert "Backfill" in block_text(card.blocks) and "*1 conversation*: 1 succeeded" in box.thread_text(
        NEWS, card.ts
    )


# -- Bland webhooks -----------------------------------------------------------------------------


async def post_webhook(box: Sandbox, body: bytes, signature: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Webhook-Signature"] = signature
    response = await box.http.post(f"{box.base_url}/bland/webhook", content=body, headers=headers)
    return response.status_code, response.json()


async def test_webhook_signatures_replays_and_unknown_calls(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "w.db", public_webhooks=True) as box:
        from tests.handlers.test_calls import call_id_of, send

        card = await send(box)
        call_id = call_id_of(card)
        body = json.dumps({"call_id": call_id, "completed": True}).encode()
        assert (await post_webhook(box, body, None))[0] == 401
        assert (await post_webhook(box, body, sign("forged", body)))[0] == 401
        polls = box.sim.count("calls.get")
        assert await post_webhook(box, body, sign(WEBHOOK_SECRET, body)) == (200, {"status": "tracked"})
        await box.settle()
        assert box.sim.count("calls.get") == polls + 1  # the tracked call was polled at once
        assert await post_webhook(box, body, sign(WEBHOOK_SECRET, body)) == (200, {"status": "duplicate"})
        other = json.dumps({"call_id": "not-ours"}).encode()
        assert await post_webhook(box, other, sign(WEBHOOK_SECRET, other)) == (200, {"status": "ignored"})
        await box.settle()
        assert box.sim.count("calls.get") == polls + 1  # replays and unknown calls poll nothing
        await box.restart()
        assert await post_webhook(box, body, sign(WEBHOOK_SECRET, body)) == (200, {"status": "duplicate"})


# -- the audit log ------------------------------------------------------------------------------


async def test_admins_export_the_audit_log_as_csv(box: Sandbox) -> None:
    card = await request(box)
    await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    await reply_to(box, "subscribe calls")
    refused = await reply_to(box, "audit", user=ALICE)
    assert "needs the admin role" in refused and f"To be added, ask <@{CAROL}>." in refused  # who, by name
    assert "not a number of days" in await reply_to(box, "audit soon", user=CAROL)
    await reply_to(box, "audit 1", user=CAROL)
    files = box.slack.files_in(NEWS)
    assert len(files) == 1 and files[0].filename.startswith("blandbot-audit-")
    rows = list(csv.DictReader(io.StringIO(files[0].content.decode())))
    actions = [(r["actor"], r["action"], r["outcome"]) for r in rows]
    assert (ALICE, "batch.request", "pending") in actions
    assert (BOB, "batch.approve", "approved") in actions and (BOB, "batch.send", "sent") in actions
    assert (ALICE, "subscription.add", "added") in actions
    request_row = next(r for r in rows if r["action"] == "batch.request")
    stored = (await box.bot.deps.store.batch_requests.recent(1))[0]
    assert request_row["fingerprint"] == stored.fingerprint and request_row["channel"] == OPS_CHANNEL
    assert request_row["at_utc"].endswith("+00:00")
    assert set(rows[0]) == {
        "at_utc",
        "actor",
        "channel",
        "action",
        "target",
        "fingerprint",
        "outcome",
        "detail",
    }


async def test_the_home_tab_shows_todays_figures_against_the_daily_cap(box: Sandbox) -> None:
    # Calls placed on the account today, by the bot or anyone else: what the plan's daily cap counts.
    for i in range(4):
        await box.bot.deps.bland.send_call({"phone_number": f"+1415555{i:04d}", "task": "Hello"})
    await box.advance(3600)  # every call ends
    await box.open_home(ALICE)
    await box.until(lambda: f"HOME-{ALICE}" in box.slack.views, what="home")
    shown = block_text(home_of(box, ALICE)["blocks"])
    people = sum(call.answered_by == "human" for call in box.sim.calls.values())
    assert "*Today* (since 00:00 UTC, every call on the account)" in shown
    assert "*4* of 100 calls a day (Start plan's cap)" in shown
    assert f"{people} of the 4 that ended answered by a person ({people / 4:.0%})" in shown
    assert re.search(r"\d+ minutes? of talk · (about )?\$\d+\.\d\d spent", shown), shown
    assert shown.index("*Today*") < shown.index("*Waiting for your approval*")
    # Read once for every Home tab of the minute; read again after it.
    reads = box.sim.count("calls.list")
    await box.open_home(BOB)
    await box.until(lambda: f"HOME-{BOB}" in box.slack.views, what="Bob's home")
    assert box.sim.count("calls.list") == reads
    # Bland cannot be asked: the tab says so, and shows the rest.
    box.sim.inject("calls.list", "500", count=20)
    await box.advance(61)
    await box.open_home(ALICE)
    await box.until(
        lambda: "not available" in block_text(home_of(box, ALICE)["blocks"]),
        what="the Home tab without figures",
    )
    failing = block_text(home_of(box, ALICE)["blocks"])
    assert "Today's figures are not available: Bland's call list cannot be read now" in failing, failing
    assert "*Your batch requests*" in failing


async def test_a_burst_of_changes_publishes_a_persons_home_tab_a_few_times_not_once_each(
    box: Sandbox,
) -> None:
    """views.publish is Tier 4 (100 a minute): a thousand results finishing for one person must not each
    publish their Home tab, nor make the work that found them wait for Slack."""
    from bot.domain import Topic
    from bot.flows.notifications import Event, announce

    def published() -> int:
        return sum(1 for c in box.slack.calls_to("views.publish") if c.args.get("user_id") == ALICE)

    await box.open_home(ALICE)
    opened = await box.until(published, what="the Home tab")
    assert opened == 1
    await box.advance(HOME_GAP_SECONDS)
    for i in range(20):
        await announce(box.bot.deps, Event(key=f"burst:{i}", topic=Topic.CALLS, text=f"{i}", requester=ALICE))
    await box.settle()
    assert published() == opened + 1  # the first change at once; the others wait out the gap together
    await box.tick()
    assert published() == opened + 1  # not before the gap has passed
    await box.advance(HOME_GAP_SECONDS)
    await box.tick()
    await box.settle()
    assert published() == opened + 2  # then once, for all nineteen
    await box.advance(HOME_GAP_SECONDS)
    await box.tick()
    await box.settle()
    assert published() == opened + 2  # and nothing more without a change
