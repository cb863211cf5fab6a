"""Results in a burst: from each call's end to its result in the card's thread, webhooks against polling alone.

    .venv/bin/python bench/webhook_latency.py [-n 200] [--slack-latency 0.1] [--poll-seconds 10]

`blandbot serve` runs as its own process against the Slack stand-in and the Bland simulator (both in this
process, so the load generator never shares the bot's event loop). N calls are made in Bland and followed
by the bot in 50 channels, their cards already posted (seeded, as bench/tracking_scale.py does: placing a
thousand calls through modals would be a bench of Slack's views.open limit, 100 a minute). Bland's time
stands still until the bot is up; then the calls end, in one of two ways:
- spread: each talks 40–150 simulated seconds at 60x, so the ends fall over about two real seconds;
- at once: every call talks the same 60 s, so all end in the same instant and Bland sends every webhook
  together.
Measured per call, until its result lands in its card's thread in the stand-in: from the moment the call
ended. Three paths: webhooks with spread ends, webhooks with ends at once, and (the baseline, in the same
run) polling alone (no PUBLIC_URL) with ends at once. The stand-in keeps Slack's rate tiers, its posts per
channel and a workspace-wide ceiling on posts (600 a minute), and answers each call after `--slack-latency`
seconds (an assumption for Slack's network time, not a measurement). Bland keeps its default request
budget (BLAND_MAX_RPS=5). Prints p50/p99/max per path, the spread of the results' arrival, and the rate at
which results were posted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tracking_scale import place_calls
from bot.clock import SystemClock
from bot.domain import Kind, card_key
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub, StubMessage
from bot.store import Store
from tests.processes import BotProcess

TIMEOUT = 600.0
CHANNELS = 50
SPEED = 60.0
USER = "U0BENCH"


async def follow(stub: SlackStub, db_path: Path, ids: list[str]) -> list[tuple[str, StubMessage]]:
    """Have the bot's database follow every call, its card posted in the stand-in; return (call, card)."""
    store = await Store.open(str(db_path), SystemClock())
    cards = []
    try:
        for i, call_id in enumerate(ids):
            channel = f"C0BENCH{i % CHANNELS:02d}"
            await store.tracked.add(
                Kind.CALL,
                call_id,
                channel,
                created_by=USER,
                data={"to": f"+1415{i:07d}"},
                last_status="in_progress",
            )
            card = StubMessage(
                channel=channel, ts=f"1700000000.{i + 1:06d}", text=f"Call {call_id}", blocks=[]
            )
            stub.messages.append(card)
            await store.notifications.claim(card_key(Kind.CALL, call_id), channel, "bench")
            await store.notifications.record(card_key(Kind.CALL, call_id), channel, card.ts)
            cards.append((call_id, card))
        # Carded and read already, as a bot following them for a while would have: the next reads are the
        # safety net's.
        await store.db.execute(
            "UPDATE tracked SET card_ts = (SELECT ts FROM notifications n WHERE n.event_key = tracked.kind"
            " || ':' || tracked.external_id || ':card'), next_poll_at = ?",
            (time.time() + 600,),
        )
    finally:
        await store.close()
    return cards


async def run_path(
    n: int, *, webhooks: bool, at_once: bool, poll_seconds: float, latency: float
) -> list[float]:
    """End n calls and return each one's end-to-thread latency in seconds."""
    stub, sim = SlackStub(), BlandSimulator()
    stub.answer_delay = latency
    sim.clock.set_speed(0.0)  # Bland's time stands still until the bot is up
    sim.config.queue_seconds = 0.0
    sim.config.ring_seconds = 0.0
    sim.config.answered_by_mix = {"human": 1.0}
    sim.config.error_rate = 0.0
    sim.config.talk_seconds = 60.0 if at_once else None  # None: 40-150 s each
    await stub.start()
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="blandbot-bench-") as folder:
        bot = BotProcess(
            stub,
            sim,
            Path(folder),
            CALL_POLL_SECONDS=f"{poll_seconds:g}",
            LOG_LEVEL="WARNING",
            BLAND_PLAN="enterprise",  # n calls at once are past the other plans' caps
            COST_PER_MINUTE="0.14",
        )
        if webhooks:
            bot.env.update(PUBLIC_URL=bot.base, BLAND_WEBHOOK_SECRET=sim.webhook_secret)
        try:
            ids = await place_calls(sim, n, webhook=f"{bot.base}/bland/webhook" if webhooks else None)
            cards = await follow(stub, Path(folder) / "bot.db", ids)
            await bot.start()
            sim.clock.set_speed(SPEED)  # the calls run, and end

            def reported() -> int:  # cheap: this process also plays Slack and Bland, which it must not slow
                return len({m.thread_ts for m in stub.messages if m.thread_ts})

            deadline = time.monotonic() + TIMEOUT
            while reported() < n or (webhooks and len(sim.webhooks_sent) < n):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{n - reported()} calls did not report")
                await asyncio.sleep(0.05)
            latencies = []
            for call_id, card in cards:
                reply = stub.channel_messages(card.channel, thread_ts=card.ts)[0]
                ended = sim.clock.monotonic_at(sim.calls[call_id].effective_end())
                latencies.append(reply.received_at - ended)
            if webhooks:
                refused = [status for _, status in sim.webhooks_sent if status != 200]
                assert not refused, f"webhooks refused: {refused}"
            assert not stub.rate_limited, f"Slack refused {len(stub.rate_limited)} calls for their rate"
            return latencies
        finally:
            await bot.close()
            await sim.stop()
            await stub.stop()


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="calls per path (default 200)")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="CALL_POLL_SECONDS (default 10)")
    parser.add_argument(
        "--slack-latency", type=float, default=0.1, help="seconds the stand-in takes to answer (default 0.1)"
    )
    args = parser.parse_args()
    print(
        f"{args.n} calls in {CHANNELS} channels; CALL_POLL_SECONDS={args.poll_seconds:g}; Slack answers in "
        f"{args.slack_latency:g} s; BLAND_MAX_RPS=5; load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'path':<26}{'p50 s':>8}{'p99 s':>8}{'max s':>8}{'mean s':>8}{'results/s':>10}")
    for name, webhooks, at_once in (
        ("webhooks, ends spread", True, False),
        ("webhooks, ends at once", True, True),
        ("polling alone, at once", False, True),
    ):
        values = await run_path(
            args.n,
            webhooks=webhooks,
            at_once=at_once,
            poll_seconds=args.poll_seconds,
            latency=args.slack_latency,
        )
        span = max(values) - min(values)
        rate = f"{len(values) / span:>10.0f}" if at_once and span > 0 else f"{'':>10}"
        print(
            f"{name:<26}{pct(values, 50):>8.2f}{pct(values, 99):>8.2f}{max(values):>8.2f}"
            f"{statistics.mean(values):>8.2f}{rate}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
