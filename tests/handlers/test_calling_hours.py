"""Calling hours for single calls, through the real app on a moved clock: refused, scheduled, placed once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, response_json
from tests.handlers.test_batches import APPROVALS, click, request, request_id_of, submit
from tests.handlers.test_calls import open_modal

LA = "+14155550123"
NY = "+12125550123"
# Monday 23 November 2026, 06:00 in Los Angeles (14:00 UTC), 09:00 in New York.
MONDAY_6AM_LA = datetime(2026, 11, 23, 14, 0, tzinfo=UTC).timestamp()


def hours_box(tmp_path: Path) -> Sandbox:
    return Sandbox(
        tmp_path / "h.db", start=MONDAY_6AM_LA, calling_hours="09:00-20:00", calling_days="Mon-Sat"
    )


async def test_a_call_outside_the_callees_hours_is_refused_inline_and_nothing_is_dialled(
    tmp_path: Path,
) -> None:
    async with hours_box(tmp_path) as box:
        view = await open_modal(box)
        errors = response_json(await box.submit_view(view, {"phone": LA, "task": "Hi"}))["errors"]
        assert "outside calling hours (09:00–20:00, Mon–Sat" in errors["phone"]
        assert "Mon 23 Nov 09:00 (America/Los_Angeles)" in errors["phone"]
        assert "send at the next allowed time" in errors["phone"]
        assert box.sim.count("calls.send") == 0
        ny = await box.submit_view(await open_modal(box), {"phone": NY, "task": "Hi"})  # 09:00 there
        assert ny.status_code == 200 and not ny.text.strip()
        await box.until(lambda: box.sim.count("calls.send") == 1, what="the New York call")


async def test_a_scheduled_call_is_placed_once_when_its_hours_open_even_across_a_restart(
    tmp_path: Path,
) -> None:
    async with hours_box(tmp_path) as box:
        view = await open_modal(box)
        fields = {"phone": LA, "task": "Hi", "options": ["when_allowed"]}
        assert (await box.submit_view(view, fields)).status_code == 200
        told = await box.until(lambda: box.slack.ephemerals, what="the scheduling note")
        assert "is scheduled for" in told[-1]["text"] and told[-1]["user"] == ALICE
        await box.advance(3 * 3600 - 60)  # 08:59 there
        await box.tick()
        assert box.sim.count("calls.send") == 0
        await box.restart()
        await box.advance(60)  # 09:00 there
        await box.tick()
        await box.tick()
        assert box.sim.count("calls.send") == 1
        cards = await box.until(lambda: box.slack.channel_messages(OPS_CHANNEL), what="the card")
        assert "Call to" in cards[-1].text
        await box.advance(60)
        await box.tick()
        assert box.sim.count("calls.send") == 1  # once
        audit = [(a.action, a.outcome) for a in await box.bot.deps.store.audit.since(0)]
        assert ("call.send", "scheduled") in audit and ("call.send", "sent") in audit


def batch_box(tmp_path: Path) -> Sandbox:
    return Sandbox(
        tmp_path / "hb.db",
        start=MONDAY_6AM_LA,
        calling_hours="09:00-20:00",
        calling_days="Mon-Sat",
        approver_users=(ALICE, BOB),
        admin_users=(CAROL,),
        approval_channel=APPROVALS,
    )


async def test_a_batch_approved_outside_its_callees_hours_goes_out_when_they_open_once(
    tmp_path: Path,
) -> None:
    async with batch_box(tmp_path) as box:
        card = await request(box)  # three San Francisco numbers, at 06:00 there
        text = block_text(card.blocks)
        assert "*Calling hours* (09:00–20:00, Mon–Sat, the callee's time): 3 of 3 rows are outside" in text
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert "Approved: 3 of its rows are outside calling hours then, so it goes out" in answer
        assert box.sim.count("batches.send") == 0
        held = block_text(box.slack.message(APPROVALS, card.ts).blocks)  # type: ignore[union-attr]
        assert ":alarm_clock: *Scheduled*" in held and "[Cancel before it starts]" in held
        await box.advance(3 * 3600 - 60)  # 08:59 there
        await box.tick()
        assert box.sim.count("batches.send") == 0
        await box.restart()
        await box.advance(60 + 1)  # 09:00 there
        await box.tick()
        await box.tick()
        assert box.sim.count("batches.send") == 1
        sent = block_text(box.slack.message(APPROVALS, card.ts).blocks)  # type: ignore[union-attr]
        assert "sent as batch" in sent and "Scheduled" not in sent
        await box.advance(600)
        await box.tick()
        assert box.sim.count("batches.send") == 1  # once


async def test_a_held_batch_can_be_cancelled_by_its_requester_or_an_admin_only(tmp_path: Path) -> None:
    async with batch_box(tmp_path) as box:
        card = await request(box)
        await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        refused = await click(box, ActionId.CANCEL_BATCH, request_id_of(card), BOB, card)
        assert "or an admin can cancel" in refused
        assert "Cancelled" in await click(box, ActionId.CANCEL_BATCH, request_id_of(card), CAROL, card)
        stamped = block_text(box.slack.message(APPROVALS, card.ts).blocks)  # type: ignore[union-attr]
        assert f"Cancelled by <@{CAROL}>" in stamped and "Cancel before it starts" not in stamped
        await box.advance(4 * 3600)
        await box.tick()
        assert box.sim.count("batches.send") == 0


async def test_a_batch_with_a_start_time_waits_for_it_and_goes_out_once(tmp_path: Path) -> None:
    noon_la = MONDAY_6AM_LA + 6 * 3600  # inside hours in San Francisco
    async with batch_box(tmp_path) as box:
        passed = await submit(box, {"start_at": int(MONDAY_6AM_LA - 3600)})
        assert "That time has passed" in passed["errors"]["start_at"]
        card = await request(box, {"start_at": int(noon_la)})
        assert f":calendar: *Starts* <!date^{int(noon_la)}^" in block_text(card.blocks)
        stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
        assert stored is not None and stored.start_at == noon_la
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert f"it starts <!date^{int(noon_la)}^" in answer and "as requested" in answer
        await box.command("batches")
        listed = await box.until(
            lambda: [r for r in box.slack.responses if "Recent batches" in str(r)], what="list"
        )
        assert f"scheduled for <!date^{int(noon_la)}^" in block_text(listed[-1]["blocks"])
        await box.advance(6 * 3600 - 60)
        await box.tick()
        assert box.sim.count("batches.send") == 0
        await box.advance(61)
        await box.tick()
        await box.tick()
        assert box.sim.count("batches.send") == 1


async def test_a_scheduled_call_whose_number_is_listed_meanwhile_is_not_dialled(tmp_path: Path) -> None:
    async with hours_box(tmp_path) as box:
        view = await open_modal(box)
        await box.submit_view(view, {"phone": LA, "task": "Hi", "options": ["when_allowed"]})
        await box.until(lambda: box.slack.ephemerals, what="the scheduling note")
        await box.command(f"dnc add {LA} asked not to be called")
        await box.until(lambda: box.slack.responses, what="the dnc answer")
        await box.advance(3 * 3600 + 1)  # 09:00 there
        await box.tick()
        told = await box.until(
            lambda: [m for m in box.slack.channel_messages("D" + ALICE) if "was not placed" in m.text],
            what="DM",
        )
        assert "do-not-call list" in told[0].text
        assert box.sim.count("calls.send") == 0
