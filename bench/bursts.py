"""A thousand calls of one person ending at once: their cards' final states and the person's direct messages.

    .venv/bin/python bench/bursts.py [--calls 1000] [--channels 50]

The real app runs in this process between the Bland simulator and the Slack stand-in, on a moved clock
(no waiting on wall-clock time): N calls are placed in Bland, the bot follows each in one of the channels
(its card posted through the outbox, at Slack's pace), the calls are answered (every card has a passing
"In progress" state to show, at Tier 3's pace), and ten minutes later every call ends in the same instant.
The tick and the outbox then run as they do in production, a simulated second at a time. Measured from
that instant, on what the stand-in received:
- card edits spent on passing states (a call "In progress", a running batch's progress) before every call's card
  showed its final state, against those spent on final states;
- when every card showed its final state, against N ÷ the bot's Tier 3 budget (40 a minute);
- the direct messages the person got in the first five minutes, and whether every call is reachable from
  them (its line with a link to its thread, in a message or the file that follows it).
It runs twice with the same seed: with final states first and a person's waiting messages merged (as
shipped), then as before them (the baseline: oldest edit first, one message a call, paced one every 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tracking_scale import place_calls
from bot.domain import Kind
from bot.outbox import UPDATE_BUDGET
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_stub import StubMessage
from bot.store.outbox import Delivery, card_update

USER = "U0BURST"
TALK_SECONDS = 600.0
AFTER_SECONDS = 45 * 60.0  # how long after the end the run watches
DM_WINDOW = 300.0
# Running batches elsewhere, whose live cards are redrawn all along (their passing states compete).
LIVE_CARDS = 3
LIVE_CHANNEL = "C0LIVE"


async def place(box: Sandbox, n: int, channels: int) -> list[tuple[str, str]]:
    """Create n calls in Bland and have the bot follow each (its card queued); return (channel, call id)."""
    deps = box.bot.deps
    placed = []
    for i, call_id in enumerate(await place_calls(box.sim, n)):
        channel = f"C0BURST{i % channels:02d}"
        await deps.tracker.track(
            deps, Kind.CALL, call_id, channel, created_by=USER, data={"to": f"+1415{i:07d}"}
        )
        placed.append((channel, call_id))
    return placed


async def redraw_live(box: Sandbox, second: int) -> None:
    """Redraw the running batches' live cards, as their polls do (a passing state, shown every 5 s at most)."""
    await box.bot.deps.outbox.add(
        *(
            card_update(f"batch:live{k}:card", LIVE_CHANNEL, f"Running: {second} s", [], min_interval=5)
            for k in range(LIVE_CARDS)
        )
    )


async def step(box: Sandbox, second: int) -> None:
    """One simulated second: the live cards redrawn, time moved, a tick run and the outbox drained."""
    if second % 5 == 0:
        await redraw_live(box, second)
    await box.advance(1)
    await box.tick()


async def run(n: int, channels: int, *, shipped: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="blandbot-bursts-") as folder:
        box = Sandbox(Path(folder) / "bot.db", bland_plan="enterprise", cost_per_minute=0.14)
        box.sim.config.queue_seconds = 0.0
        box.sim.config.ring_seconds = 0.0
        box.sim.config.talk_seconds = TALK_SECONDS  # every call ends at the same instant
        box.sim.config.answered_by_mix = {"human": 1.0}
        box.sim.config.error_rate = 0.0
        async with box:
            outbox = box.bot.deps.outbox
            if not shipped:
                outbox.final_first = False
                outbox.dm_merge = 0
            # The running batches' cards are older than the calls' (their rows come first by age).
            await outbox.add(
                *(
                    Delivery(key=f"batch:live{k}:card", channel=LIVE_CHANNEL, text="Running")
                    for k in range(LIVE_CARDS)
                )
            )
            placed = await place(box, n, channels)
            started = box.clock.now()
            second = 0
            while box.clock.now() < started + TALK_SECONDS - 1:  # cards posted, then "In progress" shown
                await step(box, second)
                second += 1
            end = started + TALK_SECONDS
            shown = card_messages(box, placed)
            assert all(shown), "every card is posted before the calls end"
            edits_before = len(box.slack.calls_to("chat.update"))
            final_at: float | None = None
            edits_to_final = 0
            while box.clock.now() < end + AFTER_SECONDS:
                await step(box, second)
                second += 1
                if final_at is None and all("Completed" in m.text for m in shown if m):
                    final_at = box.clock.now()
                    edits_to_final = len(box.slack.calls_to("chat.update"))
                if final_at is not None and box.clock.now() >= end + DM_WINDOW:
                    break
            burst = box.slack.calls_to("chat.update")[edits_before : edits_to_final or None]
            passing = sum(1 for c in burst if "Completed" not in str(c.args.get("text")))
            dm_channel = "D" + USER
            dm_times = [
                c.at for c in box.slack.calls_to("chat.postMessage") if c.args.get("channel") == dm_channel
            ]
            early = sum(1 for t in dm_times if end <= t < end + DM_WINDOW)
            files = "\n".join(f.content.decode() for f in box.slack.files_in(dm_channel))
            listed = "\n".join(m.text for m in box.slack.channel_messages(dm_channel)) + "\n" + files
            links = [f"/archives/{m.channel}/p{m.ts.replace('.', '')}|" for m in shown if m]
            return {
                "passing": passing,
                "final": len(burst) - passing,
                "all_final_min": (final_at - end) / 60 if final_at else float("nan"),
                "dms_5min": early,
                "dms_all": len(dm_times),
                "reachable": sum(1 for link in links if link in listed),
            }


def card_messages(box: Sandbox, placed: list[tuple[str, str]]) -> list[StubMessage | None]:
    """Each call's card in the stand-in, by the delivery key it carries (its edits change it in place)."""
    by_key = {
        str((m.metadata or {}).get("event_payload", {}).get("key")): m
        for m in box.slack.messages
        if m.thread_ts is None
    }
    return [by_key.get(f"call:{call_id}:card") for _, call_id in placed]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    args = parser.parse_args()
    rate = UPDATE_BUDGET[0] * 60
    print(
        f"{args.calls} calls of one person in {args.channels} channels end at one instant, while "
        f"{LIVE_CARDS} running batches' cards are redrawn every 5 s; Tier 3 budget {rate:.0f} edits a "
        f"minute: {args.calls} ÷ budget = {args.calls / rate:.1f} min"
    )
    print(
        f"{'run':<10}{'passing edits':>14}{'final edits':>12}{'all final (min)':>16}{'DMs in 5 min':>13}"
        f"{'DMs in all':>11}{'calls reachable':>16}{'real s':>8}"
    )
    for shipped in (False, True):
        real = time.monotonic()
        f = await run(args.calls, args.channels, shipped=shipped)
        print(
            f"{'shipped' if shipped else 'baseline':<10}{f['passing']:>14}{f['final']:>12}"
            f"{f['all_final_min']:>16.1f}{f['dms_5min']:>13}{f['dms_all']:>11}{f['reachable']:>16}"
            f"{time.monotonic() - real:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
