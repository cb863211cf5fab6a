"""Bland's plan caps, end to end: a batch that would pass one is spread so that no call is rejected, a single
call that would pass one is refused in the modal with the time it could go, and the simulator rejects what
Bland rejects."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, Sandbox, block_text, response_json
from tests.handlers.test_batches import APPROVALS, recipients, request
from tests.handlers.test_calls import open_modal, placing
from tests.helpers import request_id_of

# Monday noon UTC: the day's groups are the same whatever time the tests run at.
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()


async def test_a_2500_row_batch_on_build_is_planned_over_two_days_and_no_call_is_rejected(
    tmp_path: Path, batch_api: str
) -> None:
    async with Sandbox(
        tmp_path / "c.db",
        start=NOON,
        bland_plan="build",
        bland_speaks=batch_api,
        approver_users=(ALICE, BOB),
        approval_channel=APPROVALS,
    ) as box:
        box.sim.config.balance = 10_000.0  # the balance is not what this test is about
        upload = box.slack.add_file("big.csv", recipients(2500).encode())
        card = await request(box, {"recipients_text": None, "recipients_file": [upload]})
        text = block_text(card.blocks)
        assert "*Plan caps* (2,000 a day, 1,000 an hour, 50 at once (Build plan))" in text
        assert "0 calls placed today (UTC), 0 in the last hour" in text
        assert "would pass the daily cap and the hourly cap" in text and "no call is rejected" in text
        assert "Bland runs at most 50 of them at once" in text
        before = len(box.slack.responses)
        await box.click(
            ActionId.APPROVE_BATCH, request_id_of(card), user=BOB, channel=APPROVALS, message_ts=card.ts
        )
        told = (await box.until(lambda: box.slack.responses[before:], what="the approval"))[-1]["text"]
        assert "daily cap and the hourly cap" in told
        if batch_api == "v2":
            # One batch; each call beyond the first thousand rings at its group's time.
            assert box.sim.count("batches.send") == 1
            (batch,) = box.sim.batches.values()
            starts = Counter(str(o.get("start_time", "")) for o in batch["call_objects"])
            assert sorted(starts.values()) == [500, 1000, 1000] and starts[""] == 1000
            assert sorted(starts)[1:] == ["2026-12-07 13:01:00", "2026-12-08 00:12:00"]
        else:
            # Waves: the first goes now, the others are held until their time, then sent by the scheduler.
            await box.settle()
            waves = await box.bot.deps.store.batch_requests.waves_of(request_id_of(card))
            assert sorted(w.call_count for w in waves) == [500, 1000, 1000]
            assert box.sim.count("batches.send") == 1
            for wave in sorted(waves, key=lambda w: w.send_at or 0):
                if wave.send_at:
                    await box.advance(wave.send_at - box.clock.now() + 1)
                    await box.tick()
            await box.until(lambda: box.sim.count("batches.send") == 3, what="the later waves")
        rejected = [c for c in box.sim.calls.values() if (c.error_message or "").startswith("Call rejected")]
        assert len(box.sim.calls) == 2500 and rejected == []
        per_day = Counter(datetime.fromtimestamp(c.queue_at, UTC).date() for c in box.sim.calls.values())
        assert sorted(per_day.values()) == [500, 2000]


async def test_the_simulator_rejects_batch_calls_past_a_cap(tmp_path: Path) -> None:
    """The world the spreading protects against: sent whole, the calls past the hourly cap fail."""
    async with Sandbox(tmp_path / "s.db", bland_plan="start") as box:
        bland = box.bot.deps.bland
        body = {
            "base_prompt": "Hi",
            "call_data": [{"phone_number": f"+1415555{1000 + i}"} for i in range(120)],
            "label": "raw",
        }
        await bland.send_batch(body)
        rejected = [c for c in box.sim.calls.values() if (c.error_message or "").startswith("Call rejected")]
        assert len(rejected) == 20 and "call limit (100) is reached" in (rejected[0].error_message or "")


async def test_a_single_call_past_the_hourly_cap_is_refused_in_the_modal_with_when_it_can_go(
    tmp_path: Path,
) -> None:
    async with Sandbox(
        tmp_path / "h.db", bland_plan="start", hourly_call_limit=2, operator_users=(ALICE,)
    ) as box:
        for number in ("+14155550101", "+14155550102"):
            view = await open_modal(box)
            response = await box.submit_view(view, {"phone": number, "task": "Say hi"})
            assert response.status_code == 200 and placing(response), response.text
            await box.settle()
            await box.advance(60)
        view = await open_modal(box)
        refused = response_json(await box.submit_view(view, {"phone": "+14155550103", "task": "Say hi"}))
        message = refused["errors"]["phone"]
        assert "2 calls were placed in the last hour" in message and "cap is 2 an hour" in message
        assert "It can go from" in message and box.sim.count("calls.send") == 2
        await box.advance(3600)
        view = await open_modal(box)
        response = await box.submit_view(view, {"phone": "+14155550103", "task": "Say hi"})
        assert placing(response)
        await box.until(lambda: box.sim.count("calls.send") == 3, what="the call, once the hour allows it")


async def test_the_same_number_twice_within_ten_seconds_is_refused_by_bland_and_explained(
    tmp_path: Path,
) -> None:
    async with Sandbox(tmp_path / "t.db", operator_users=(ALICE,)) as box:
        for _ in range(2):
            view = await open_modal(box)
            await box.submit_view(view, {"phone": "+14155550123", "task": "Say hi"})
            await box.settle()
        told = await box.until(
            lambda: "10 seconds" in json.dumps(box.view()) and block_text(box.view()["blocks"]),
            what="the refusal",
        )
        assert "Nothing was dialled" in told and "called less than 10 seconds ago" in told
        assert len(box.sim.calls) == 1
        await box.advance(11)
        view = await open_modal(box)
        await box.submit_view(view, {"phone": "+14155550123", "task": "Say hi"})
        await box.until(lambda: len(box.sim.calls) == 2, what="the second call")
