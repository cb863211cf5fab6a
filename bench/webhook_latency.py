"""Result latency with signed Bland webhooks vs polling alone, in the same run.

Usage: python bench/webhook_latency.py [-n 200] [--poll-seconds 10]
For each path it sends N calls through the real flow (the simulator at 60x, the Slack stand-in, the
scheduler running on the wall clock) and measures, per call, until the result lands in the card's
thread in the stand-in: from the moment the simulator sends the signed webhook (webhook path), or
from the moment the call ended (polling-only path, where no webhook is sent). Prints p50/p99 for both
paths and their ratio.
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

from bot.domain import Kind, card_key
from bot.flows.calls import CallForm, send_call
from bot.sandbox.harness import ALICE, Sandbox

TIMEOUT = 300.0
CHANNELS = 50


async def run_path(n: int, *, webhooks: bool, poll_seconds: float) -> list[float]:
    """Send n calls and return each one's end-to-thread latency in seconds."""
    with tempfile.TemporaryDirectory(prefix="blandbot-bench-") as folder:
        box = Sandbox(
            Path(folder) / "bench.db",
            manual=False,
            speed=60.0,
            scheduler=True,
            public_webhooks=webhooks,
            call_poll_seconds=poll_seconds,
            poll_tick_seconds=0.2,
        )
        # Talk times vary (40–150 simulated seconds), so calls end spread over a few real seconds.
        await box.start()
        try:
            deps = box.bot.deps
            # Spread over channels, as separate teams' calls are: Slack takes about one post a second per
            # channel, so 200 results in one channel would measure that budget, not the webhook path.
            forms = [
                CallForm(
                    phone_number="+14155550123", channel=f"C0BENCH{i % CHANNELS:02d}", task="Benchmark call"
                )
                for i in range(n)
            ]
            for start in range(0, n, 20):
                batch = [send_call(deps, form, requester=ALICE) for form in forms[start : start + 20]]
                # A card Slack has not shown within 2 s is not an error here: the call was placed.
                await asyncio.gather(*batch, return_exceptions=True)
            items = await deps.store.tracked.recent(Kind.CALL, n)
            assert len(items) == n, f"{len(items)} of {n} calls tracked"
            deadline = time.monotonic() + TIMEOUT

            async def unreported() -> int:
                """Calls without their result in the thread (card updates may still be queued: Tier 3)."""
                missing = 0
                for item in items:
                    card_ts = await deps.outbox.card_ts(card_key(Kind.CALL, item.external_id), item.channel)
                    if not card_ts or not box.slack.channel_messages(item.channel, thread_ts=card_ts):
                        missing += 1
                return missing

            # Done when every result is in its thread and, on the webhook path, every webhook has gone out
            # (a regular poll can post a result a few milliseconds before the simulator sends its webhook).
            while await unreported() or (webhooks and len(box.sim.webhooks_sent) < n):
                if time.monotonic() > deadline:
                    raise TimeoutError("calls did not finish")
                await asyncio.sleep(0.1)
            latencies = []
            for item in items:
                call = box.sim.calls[item.external_id]
                card_ts = await deps.outbox.card_ts(card_key(Kind.CALL, item.external_id), item.channel)
                replies = box.slack.channel_messages(item.channel, thread_ts=card_ts)
                assert replies, f"no result in the thread of {item.external_id}"
                if webhooks:
                    assert call.webhook_sent_at is not None, item.external_id
                    start = call.webhook_sent_at
                else:
                    start = box.sim.clock.monotonic_at(call.effective_end())
                latencies.append(replies[0].received_at - start)
            if webhooks:
                assert len(box.sim.webhooks_sent) == n, "every call should have sent its webhook"
            return latencies
        finally:
            await box.stop()


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="calls per path (default 200)")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="CALL_POLL_SECONDS (default 10)")
    args = parser.parse_args()
    print(f"{args.n} calls per path; CALL_POLL_SECONDS={args.poll_seconds:g}; simulator at 60x")
    webhook = await run_path(args.n, webhooks=True, poll_seconds=args.poll_seconds)
    polling = await run_path(args.n, webhooks=False, poll_seconds=args.poll_seconds)
    print(f"{'path':<14}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in (("webhook", webhook), ("polling only", polling)):
        print(
            f"{name:<14}{pct(values, 50) * 1000:>10.0f}{pct(values, 99) * 1000:>10.0f}{statistics.mean(values) * 1000:>10.0f}"
        )
    early = sum(1 for v in webhook if v < 0)
    if early:
        print(
            f"({early} webhook-path results were already posted by a regular poll before the webhook was sent)"
        )
    print(
        f"polling / webhook: p50 {pct(polling, 50) / pct(webhook, 50):.1f}x, "
        f"p99 {pct(polling, 99) / pct(webhook, 99):.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
