"""Result latency with signed Bland webhooks vs polling alone, in the same run, the bot as its own process.

    .venv/bin/python bench/webhook_latency.py [-n 200] [--poll-seconds 10]

For each path, `blandbot serve` runs as its own process against the Slack stand-in and the Bland simulator
(both in this process, so the load generator never shares the bot's event loop). N calls are placed
through the real app (`/bland call` and its modal, spread over 50 channels) while Bland's clock stands
still; then the clock runs at 60x, so the N calls end within about two real seconds: a burst. Measured per
call, until its result lands in the card's thread in the stand-in: from the moment the simulator sends the
signed webhook (webhook path, PUBLIC_URL set), or from the moment the call ended (polling-only path, no
PUBLIC_URL). Prints p50/p99 for both paths and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub, StubMessage
from tests.processes import BotProcess, until_seen

TIMEOUT = 300.0
CHANNELS = 50
SPEED = 60.0
USER = "U0BENCH"


def card_of(stub: SlackStub, channel: str, call_id: str) -> StubMessage | None:
    """The call's card in its channel (the card names the call id)."""
    return next((m for m in stub.channel_messages(channel) if call_id in str(m.blocks)), None)


async def place(stub: SlackStub, sim: BlandSimulator, bot: BotProcess, channel: str, number: str) -> str:
    """Place one call through `/bland call` and its modal; return Bland's call id once its card is up."""
    before = len(stub.views)
    await bot.signed(
        sr.command_body(
            f"call {number} Benchmark call", user=USER, channel=channel, response_url=stub.response_url()
        )
    )
    view = await until_seen(
        stub, sim, lambda: len(stub.views) > before and stub.last_view(), "the call modal"
    )
    calls_before = set(sim.calls)
    await bot.signed(sr.interactive_body(sr.view_submission_payload(view, {}, user=USER)))
    call_id: str = await until_seen(
        stub, sim, lambda: next(iter(set(sim.calls) - calls_before), None), "the call"
    )
    await until_seen(stub, sim, lambda: card_of(stub, channel, call_id), "the card")
    return call_id


async def run_path(n: int, *, webhooks: bool, poll_seconds: float) -> list[float]:
    """Place n calls, end them in a burst and return each one's end-to-thread latency in seconds."""
    stub, sim = SlackStub(), BlandSimulator()
    sim.clock.set_speed(0.0)  # Bland's time stands still while the calls are placed
    await stub.start()
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="blandbot-bench-") as folder:
        extra = {
            "CALL_POLL_SECONDS": f"{poll_seconds:g}",
            "LOG_LEVEL": "WARNING",
            "OPERATOR_USERS": USER,
            # n calls at once are past the Start plan's 10; an enterprise contract has no caps.
            "BLAND_PLAN": "enterprise",
            "COST_PER_MINUTE": "0.14",
        }
        bot = BotProcess(stub, sim, Path(folder), **extra)
        if webhooks:
            bot.env.update(PUBLIC_URL=bot.base, BLAND_WEBHOOK_SECRET=sim.webhook_secret)
        try:
            await bot.start()
            placed = [(f"C0BENCH{i % CHANNELS:02d}", "") for i in range(n)]
            for i, (channel, _) in enumerate(placed):
                # One number a call: Bland refuses a number asked for again within 10 seconds.
                placed[i] = (channel, await place(stub, sim, bot, channel, f"+1415555{i:04d}"))
            sim.clock.set_speed(SPEED)  # every call ends within about 150 simulated seconds: a burst

            def unreported() -> list[str]:
                missing = []
                for channel, call_id in placed:
                    card = card_of(stub, channel, call_id)
                    if card is None or not stub.channel_messages(channel, thread_ts=card.ts):
                        missing.append(call_id)
                return missing

            deadline = time.monotonic() + TIMEOUT
            # Done when every result is in its thread and, on the webhook path, every webhook has gone out
            # (a regular poll can post a result a few milliseconds before the simulator sends its webhook).
            while unreported() or (webhooks and len(sim.webhooks_sent) < n):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(unreported())} calls did not report")
                await asyncio.sleep(0.1)
            latencies = []
            for channel, call_id in placed:
                call = sim.calls[call_id]
                card = card_of(stub, channel, call_id)
                assert card is not None
                reply = stub.channel_messages(channel, thread_ts=card.ts)[0]
                if webhooks:
                    assert call.webhook_sent_at is not None, call_id
                    start = call.webhook_sent_at
                else:
                    start = sim.clock.monotonic_at(call.effective_end())
                latencies.append(reply.received_at - start)
            if webhooks:
                refused = [status for _, status in sim.webhooks_sent if status != 200]
                assert not refused, f"webhooks refused: {refused}"
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
    args = parser.parse_args()
    print(f"{args.n} calls per path; CALL_POLL_SECONDS={args.poll_seconds:g}; simulator at {SPEED:g}x")
    webhook = await run_path(args.n, webhooks=True, poll_seconds=args.poll_seconds)
    polling = await run_path(args.n, webhooks=False, poll_seconds=args.poll_seconds)
    print(f"{'path':<14}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in (("webhook", webhook), ("polling only", polling)):
        print(
            f"{name:<14}{pct(values, 50) * 1000:>10.0f}{pct(values, 99) * 1000:>10.0f}"
            f"{statistics.mean(values) * 1000:>10.0f}"
        )
    early = sum(1 for v in webhook if v < 0)
    if early:
        print(f"({early} webhook-path results were posted by a regular poll before the webhook was sent)")
    print(
        f"polling / webhook: p50 {pct(polling, 50) / pct(webhook, 50):.1f}x, "
        f"p99 {pct(polling, 99) / pct(webhook, 99):.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
