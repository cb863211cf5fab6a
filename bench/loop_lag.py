"""The bot's event loop while it follows thousands of calls, and /healthz while it checks a big CSV.

    .venv/bin/python bench/loop_lag.py [--calls 5000] [--rows 10000] [--seconds 60]

`blandbot serve` runs as its own process against the Bland simulator and the Slack stand-in (in this
process). Its event loop's lag (how late a task that asked to sleep 50 ms woke: the time any Slack ack,
webhook or health check could have waited behind other work) is read from its /metrics
(`blandbot_loop_lag_seconds`, `blandbot_loop_lag_worst_seconds`) over the measured window. Two runs, the
first the baseline: the bot following no calls, then following `--calls` calls (cards already posted)
which move from queued to in progress in the middle of the window, so the sweep finds every one changed
and queues every card's new state. Then, in the second run, `/bland batch` is submitted five times with a CSV of
`--rows` rows while /healthz is asked every 20 ms: its answer times are printed beside those of the same
asking with nothing else going on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.batch_memory import submit_batch
from bench.tracking_scale import follow, place_calls
from bot.domain import CallState
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub
from tests.processes import BotProcess

WARMUP_SECONDS = 12.0
CSV_CHECKS = 5  # CSV checks in a row while /healthz is asked (each one is under a second)
USER = "U0LAG"


def lag_buckets(text: str) -> dict[float, float]:
    """The loop-lag histogram's cumulative buckets (upper bound -> count) from a /metrics page."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("blandbot_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(bound)] = float(line.rsplit(" ", 1)[1])
    return out


def worst(text: str) -> float:
    return next(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("blandbot_loop_lag_worst_seconds ")
    )


def quantile_bound(before: dict[float, float], after: dict[float, float], q: float) -> tuple[float, int]:
    """The smallest bucket bound holding q of the window's samples, and how many samples there were."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
    total = counts[float("inf")]
    for bound in sorted(counts):
        if counts[bound] >= q * total:
            return bound, int(total)
    return float("inf"), int(total)


async def healthz_times(http: httpx.AsyncClient, url: str, stop: asyncio.Event) -> list[float]:
    """Ask /healthz every 20 ms until `stop`; return each answer's time in seconds."""
    times: list[float] = []
    while not stop.is_set():
        started = time.monotonic()
        await http.get(url)
        times.append(time.monotonic() - started)
        await asyncio.sleep(0.02)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def csv_check(bot: BotProcess, stub: SlackStub, sim: BlandSimulator, rows: int) -> float:
    """Open /bland batch and submit it with a CSV of `rows` rows; return the seconds both took."""
    started = time.monotonic()
    await submit_batch(bot, stub, sim, user=USER, channel="C0OPS", label="Lag", rows=rows)
    return time.monotonic() - started


async def run(n: int, seconds: float, rows: int) -> dict[str, object]:
    stub, sim = SlackStub(), BlandSimulator()
    sim.clock.speed = 1.0
    sim.config.talk_seconds = 100_000
    sim.config.answered_by_mix = {"human": 1.0}
    sim.config.queue_seconds = WARMUP_SECONDS + seconds / 2  # every call goes in progress mid-window
    sim.config.ring_seconds = 0.0
    await stub.start()
    await sim.start()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="blandbot-lag-") as folder:
        try:
            ids = await place_calls(sim, n) if n else []
            await follow(Path(folder) / "bot.db", ids, CallState.QUEUED)
            bot = BotProcess(
                stub,
                sim,
                Path(folder),
                CALL_POLL_SECONDS="10",
                POLL_TICK_SECONDS="1",
                LOG_LEVEL="WARNING",
                OPERATOR_USERS=USER,
                BLAND_PLAN="enterprise",
                COST_PER_MINUTE="0.14",
            )
            await bot.start()
            try:
                async with httpx.AsyncClient(timeout=30) as http:
                    await asyncio.sleep(WARMUP_SECONDS)
                    before = lag_buckets((await http.get(f"{bot.base}/metrics")).text)
                    await asyncio.sleep(seconds)
                    page = (await http.get(f"{bot.base}/metrics")).text
                    after = lag_buckets(page)
                    figures["p50"], samples = quantile_bound(before, after, 0.50)
                    figures["p99"], _ = quantile_bound(before, after, 0.99)
                    figures["over_100ms"] = int(
                        (after[float("inf")] - before[float("inf")]) - (after[0.1] - before.get(0.1, 0.0))
                    )
                    figures["worst"] = worst(page)
                    figures["samples"] = samples
                    if rows:
                        stop = asyncio.Event()
                        quiet_task = asyncio.create_task(healthz_times(http, f"{bot.base}/healthz", stop))
                        await asyncio.sleep(5)
                        stop.set()
                        quiet = await quiet_task
                        stop = asyncio.Event()
                        busy_task = asyncio.create_task(healthz_times(http, f"{bot.base}/healthz", stop))
                        checks = [await csv_check(bot, stub, sim, rows) for _ in range(CSV_CHECKS)]
                        figures["csv_s"] = sum(checks) / len(checks)
                        stop.set()
                        busy = await busy_task
                        figures["healthz"] = (quiet, busy)
            finally:
                await bot.stop()
                await bot.close()
        finally:
            await sim.stop()
            await stub.stop()
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(
        f"loop lag over {args.seconds:g} s (after {WARMUP_SECONDS:g} s of warm-up); CALL_POLL_SECONDS=10; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'calls followed':<16}{'samples':>8}{'p50 ≤ ms':>10}{'p99 ≤ ms':>10}{'> 100 ms':>9}{'worst ms':>10}"
    )
    for n, rows in ((0, 0), (args.calls, args.rows)):
        f = await run(n, args.seconds, rows)
        print(
            f"{n:<16}{f['samples']:>8}{float(f['p50']) * 1000:>10.0f}{float(f['p99']) * 1000:>10.0f}"  # type: ignore[arg-type]
            f"{f['over_100ms']:>9}{float(f['worst']) * 1000:>10.1f}",  # type: ignore[arg-type]
            flush=True,
        )
        if rows:
            quiet, busy = f["healthz"]  # type: ignore[misc]
            print(
                f"/healthz while idle: p50 {pct(quiet, 50) * 1000:.1f} ms, p99 {pct(quiet, 99) * 1000:.1f} ms "
                f"({len(quiet)} asked); during {CSV_CHECKS} checks of a {rows:,}-row CSV "
                f"({float(f['csv_s']):.2f} s each): "  # type: ignore[arg-type]
                f"p50 {pct(busy, 50) * 1000:.1f} ms, p99 {pct(busy, 99) * 1000:.1f} ms, "
                f"max {max(busy) * 1000:.1f} ms ({len(busy)} asked)"
            )


if __name__ == "__main__":
    asyncio.run(main())
