"""Calling hours for single calls, through the real app on a moved clock: refused, scheduled, placed once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, response_json
from tests.handlers.test_batches import APPROVALS, click, request, submit
from tests.handlers.test_calls import open_modal, placing
from tests.helpers import card_text, request_id_of

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
        assert ny.status_code == 200 and placing(ny)
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


def batch_box(tmp_path: Path, *, speaks: str = "v1", start: float = MONDAY_6AM_LA) -> Sandbox:
    """A Bland that speaks one batch API: v1 holds a batch, or splits it into waves, until its callees'
    hours open; v2 sends it at once, each call with its own start time (tests at the end of this file)."""
    return Sandbox(
        tmp_path / "hb.db",
        start=start,
        bland_speaks=speaks,
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


async def test_a_scheduled_call_that_would_pass_a_plan_cap_when_due_is_not_dialled_and_its_requester_is_told(
    tmp_path: Path,
) -> None:
    async with Sandbox(
        tmp_path / "c.db",
        start=MONDAY_6AM_LA,
        calling_hours="09:00-20:00",
        calling_days="Mon-Sat",
        daily_call_limit=1,
    ) as box:
        view = await open_modal(box)
        await box.submit_view(view, {"phone": LA, "task": "Hi", "options": ["when_allowed"]})
        await box.until(lambda: box.slack.ephemerals, what="the scheduling note")
        await box.submit_view(await open_modal(box), {"phone": NY, "task": "Hi"})  # today's one call
        await box.until(lambda: box.sim.count("calls.send") == 1, what="the New York call")
        await box.advance(3 * 3600 + 1)  # 09:00 in Los Angeles: the scheduled call falls due
        await box.tick()
        told = await box.until(
            lambda: [m for m in box.slack.channel_messages("D" + ALICE) if "was not placed" in m.text],
            what="DM",
        )
        assert "cap is 1 a day" in told[0].text and "It can go from Tue 24 Nov 00:00 UTC" in told[0].text
        assert box.sim.count("calls.send") == 1
        stored = await box.bot.deps.store.call_requests.to_number(LA)
        assert [r.state for r in stored] == ["failed"]


async def test_a_scheduled_call_bland_refuses_when_due_is_said_to_its_requester(tmp_path: Path) -> None:
    async with hours_box(tmp_path) as box:
        view = await open_modal(box)
        await box.submit_view(view, {"phone": LA, "task": "Hi", "options": ["when_allowed"]})
        await box.until(lambda: box.slack.ephemerals, what="the scheduling note")
        box.sim.inject("calls.send", "429", 5, retry_after=30)
        await box.advance(3 * 3600 + 1)  # 09:00 in Los Angeles: due, and Bland refuses it
        await box.tick()
        told = await box.until(
            lambda: [m for m in box.slack.channel_messages("D" + ALICE) if "was not placed" in m.text],
            what="DM",
        )
        assert "Nothing was dialled" in told[0].text and box.sim.count("calls.send") == 1
        assert [r.state for r in await box.bot.deps.store.call_requests.to_number(LA)] == ["failed"]


# At MONDAY_6AM_LA: 09:00 in New York (open), 08:00 in Chicago (opens 15:00 UTC), 06:00 in Los Angeles
# (opens 17:00 UTC).
CHICAGO = "+13125550100"
SPREAD = {
    "+12125550101": "America/New_York",
    "+12125550102": "America/New_York",
    CHICAGO: "America/Chicago",
    "+14155550103": "America/Los_Angeles",
    "+14155550104": "America/Los_Angeles",
}


def spread_list() -> str:
    return "\n".join(["phone,name,plan", *(f"{n},P{i},gold" for i, n in enumerate(SPREAD))])


def numbers_by_batch(box: Sandbox) -> dict[str, set[str]]:
    """What each batch Bland took dials: its numbers."""
    return {
        batch_id: {box.sim.calls[c].to for c in batch["call_ids"]}
        for batch_id, batch in box.sim.batches.items()
    }


def zone_numbers(zone: str) -> set[str]:
    return {n for n, z in SPREAD.items() if z == zone}


async def test_a_batch_across_time_zones_goes_out_in_waves_each_inside_its_callees_hours_once(
    tmp_path: Path,
) -> None:
    async with batch_box(tmp_path) as box:
        card = await request(box, {"recipients_text": spread_list()})
        told = await box.until(lambda: box.slack.ephemerals, what="the requester's note")
        assert "3 of its rows are outside calling hours now: once approved, it goes out in 3 waves" in str(
            told[-1]
        )
        assert "If approved at once: 2 at once, 1 <!date^" in str(told[-1])  # and when
        text = block_text(card.blocks)
        assert (
            "3 of 5 rows are outside them now; if approved at once, it goes out in 3 waves: 2 at once, 1 "
            in text
        )
        request_id = request_id_of(card)
        answer = await click(box, ActionId.APPROVE_BATCH, request_id, BOB, card)
        assert "so it goes out in 3 waves" in answer and "2 now (approved and sent: batch `" in answer
        assert [set(v) for v in numbers_by_batch(box).values()] == [zone_numbers("America/New_York")]
        shown = card_text(box.slack, card)
        assert "goes out in 3 waves" in shown and "*Wave 1* · 2 calls · sent as batch" in shown
        assert "*Wave 2* · 1 call · :alarm_clock: scheduled <!date^" in shown
        assert "[Cancel the waves not started]" in shown
        # The first wave runs on the approval card itself: its progress and its Stop button, in the channel.
        await box.until(lambda: "[Stop batch]" in card_text(box.slack, card), what="the wave on the card")
        assert box.slack.channel_messages(APPROVALS, thread_ts=card.ts) == []
        await box.restart()
        await box.advance(3600 - 60)  # 08:59 in Chicago
        await box.tick()
        assert box.sim.count("batches.send") == 1
        await box.advance(61)
        await box.tick()
        assert box.sim.count("batches.send") == 2
        assert zone_numbers("America/Chicago") in numbers_by_batch(box).values()
        await box.advance(2 * 3600)  # 09:01 in Los Angeles
        await box.tick()
        await box.tick()
        sent = numbers_by_batch(box)
        assert box.sim.count("batches.send") == 3 and len(sent) == 3
        assert sorted(map(sorted, sent.values())) == sorted(
            sorted(zone_numbers(z)) for z in ("America/New_York", "America/Chicago", "America/Los_Angeles")
        )
        labels = sorted(str(b["label"]) for b in box.sim.batches.values())
        assert all(f"[blandbot:{request_id}w" in label for label in labels)
        final = card_text(box.slack, card)
        assert final.count("sent as batch") == 3 and "Cancel the waves" not in final
        await box.advance(3600)
        await box.tick()
        assert box.sim.count("batches.send") == 3  # each wave once
        await box.run_until_done()
        done = card_text(box.slack, card)
        assert done.count("· ✅ Completed") == 3 and "[Stop batch]" not in done, done
        audit = [(a.action, a.outcome) for a in await box.bot.deps.store.audit.since(0)]
        assert audit.count(("batch.send", "sent")) == 3 and ("batch.send", "scheduled") in audit
        await box.command("batches")
        listed = await box.until(
            lambda: [r for r in box.slack.responses if "Recent batches" in str(r)], what="list"
        )
        assert "in 3 waves" in block_text(listed[-1]["blocks"])


async def test_waves_not_started_are_cancelled_by_the_requester_or_an_admin_and_never_dialled(
    tmp_path: Path,
) -> None:
    async with batch_box(tmp_path) as box:
        card = await request(box, {"recipients_text": spread_list()})
        request_id = request_id_of(card)
        await click(box, ActionId.APPROVE_BATCH, request_id, BOB, card)
        assert box.sim.count("batches.send") == 1
        refused = await click(box, ActionId.CANCEL_BATCH, request_id, BOB, card)
        assert "or an admin can cancel its waves" in refused
        done = await click(box, ActionId.CANCEL_BATCH, request_id, CAROL, card)
        assert "Cancelled 2 wave(s)" in done and "(3 calls)" in done
        told = await box.until(
            lambda: [m for m in box.slack.channel_messages("D" + ALICE) if "cancelled the waves" in m.text],
            what="the requester's DM",
        )
        assert f"<@{CAROL}>" in told[0].text
        # The card's edits came quickly: Slack's chat.update budget (Tier 3) lets this one go a little later.
        await box.advance(5)

        def settled() -> str | None:
            text = card_text(box.slack, card)
            return text if "Cancel the waves" not in text else None

        shown = await box.until(settled, what="the card without its cancel button")
        assert shown.count(f"cancelled by <@{CAROL}>") == 2 and "Cancel the waves" not in shown
        again = await click(box, ActionId.CANCEL_BATCH, request_id, ALICE, card)
        assert "every wave of this batch has started" in again
        await box.advance(6 * 3600)
        await box.tick()
        assert box.sim.count("batches.send") == 1


async def test_a_wave_whose_send_is_lost_is_reconciled_by_its_own_label_not_the_first_waves(
    tmp_path: Path,
) -> None:
    async with batch_box(tmp_path) as box:
        card = await request(box, {"recipients_text": spread_list()})
        await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        first = next(iter(box.sim.batches))
        box.sim.inject("batches.send", "500")  # Chicago's wave: Bland took nothing, and said so unclearly
        await box.advance(3600 + 1)
        await box.tick()
        assert box.sim.count("batches.send") == 2 and list(box.sim.batches) == [first]
        wave = await box.bot.deps.store.batch_requests.get(f"{request_id_of(card)}w2")
        assert wave is not None and wave.state == "outcome_unknown"  # not matched to the first wave's batch
        assert "checking whether Bland took it" in card_text(box.slack, card)
        assert "Bland did not answer clearly" in box.thread_text(APPROVALS, card.ts)


# -- v2: one batch, each call with its own start time ---------------------------------------------------


def utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


async def test_v2_a_batch_across_time_zones_is_one_batch_whose_calls_each_ring_inside_their_callees_hours(
    tmp_path: Path,
) -> None:
    async with batch_box(tmp_path, speaks="v2") as box:
        card = await request(box, {"recipients_text": spread_list()})
        text = block_text(card.blocks)
        assert "3 of 5 rows are outside them now; once approved, it is sent as one batch" in text
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert "Approved and sent: batch `" in answer and "3 of them ring between <!date^" in answer
        assert box.sim.count("batches.send") == 1 and len(box.sim.batches) == 1
        batch = next(iter(box.sim.batches.values()))
        starts = {entry["phone_number"]: entry.get("start_time") for entry in batch["call_objects"]}
        chicago_opens, la_opens = MONDAY_6AM_LA + 3600, MONDAY_6AM_LA + 3 * 3600
        assert starts == {
            "+12125550101": None,
            "+12125550102": None,
            CHICAGO: utc(chicago_opens),
            "+14155550103": utc(la_opens),
            "+14155550104": utc(la_opens),
        }
        calls = {box.sim.calls[c].to: box.sim.calls[c] for c in batch["call_ids"]}
        await box.advance(3600 - 60)  # 08:59 in Chicago: New York has rung, nobody else
        assert all(calls[n].is_done(box.sim.clock.now()) for n in zone_numbers("America/New_York"))
        assert calls[CHICAGO].queue_status(box.sim.clock.now()) == "new"
        assert all(call.start_at >= chicago_opens for n, call in calls.items() if n == CHICAGO)
        assert all(calls[n].start_at >= la_opens for n in zone_numbers("America/Los_Angeles"))
        await box.advance(3 * 3600)
        await box.run_until_done()
        summary = box.thread_text(APPROVALS, card.ts)
        assert "Batch finished" in summary and "*5 calls*" in summary
        assert box.sim.count("batches.send") == 1  # one approval, one batch, sent once


async def test_v2_a_callee_whose_hours_open_within_five_minutes_rings_no_sooner_than_bland_allows(
    tmp_path: Path,
) -> None:
    two_minutes_early = MONDAY_6AM_LA - 120  # 08:58 in New York
    async with batch_box(tmp_path, speaks="v2", start=two_minutes_early) as box:
        card = await request(box, {"recipients_text": "phone,name,plan\n+12125550101,Ann,gold"})
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert "Approved and sent" in answer
        entry = next(iter(box.sim.batches.values()))["call_objects"][0]
        # Bland refuses a start under 5 minutes ahead: the bot asks for 6, not the 2 until 09:00.
        assert entry["start_time"] == utc(two_minutes_early + 360)
        assert next(iter(box.sim.batches.values()))["final"] is None  # Bland took it


async def test_v2_a_batch_with_a_start_time_rings_then_and_is_sent_at_once(tmp_path: Path) -> None:
    noon_la = MONDAY_6AM_LA + 6 * 3600
    async with batch_box(tmp_path, speaks="v2") as box:
        card = await request(box, {"start_at": int(noon_la)})
        answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
        assert f"3 of them ring <!date^{int(noon_la)}^" in answer
        batch = next(iter(box.sim.batches.values()))
        assert [entry["start_time"] for entry in batch["call_objects"]] == [utc(noon_la)] * 3
        await box.advance(6 * 3600 - 60)
        now = box.sim.clock.now()
        assert all(box.sim.calls[c].queue_status(now) == "new" for c in batch["call_ids"])
        assert box.sim.count("batches.send") == 1
