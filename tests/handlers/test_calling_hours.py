"""Calling hours for single calls, through the real app on a moved clock: refused, scheduled, placed once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox.harness import ALICE, OPS_CHANNEL, Sandbox, response_json
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
