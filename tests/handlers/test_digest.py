"""The daily digest on a moved clock: posted once after DIGEST_TIME, against the day before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox.harness import Sandbox

NEWS = "C0NEWS"
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()


async def test_the_digest_is_posted_once_after_its_time_with_yesterdays_figures(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "g.db", start=SUNDAY_NOON, digest_time="08:00", notify_channel=NEWS) as box:
        box.sim.config.answered_by_mix = {"human": 1.0}
        bland = box.bot.deps.bland
        await bland.send_call({"phone_number": "+14155550100", "task": "Sunday call"})  # Sunday: 1 call
        await box.advance(24 * 3600)  # Monday noon
        for i in range(3):  # Monday: 3 calls
            await bland.send_call(
                {"phone_number": f"+1415555{101 + i:04d}", "task": "Monday call", "answered_by_enabled": True}
            )
        await box.advance(600)  # they end
        await box.advance(19 * 3600 + 49 * 60)  # Tuesday 07:59
        await box.tick()
        assert box.slack.channel_messages(NEWS) == []
        await box.advance(60)  # Tuesday 08:00
        for _ in range(3):
            await box.tick()
            await box.advance(60)
        [digest] = box.slack.channel_messages(NEWS)
        assert "Daily digest* for Monday 23 November 2026" in digest.text
        assert "Calls: *3* (+200% on the day before)" in digest.text
        assert "Answered by a person: *100%*" in digest.text and "cost about $" in digest.text


async def test_no_digest_without_digest_time(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "n.db", start=SUNDAY_NOON, notify_channel=NEWS) as box:
        await box.advance(2 * 24 * 3600)
        await box.tick()
        assert box.slack.channel_messages(NEWS) == []
