"""N single calls in flight, the bot as its own process: its CPU, Bland requests and Slack calls per interval.

    .venv/bin/python bench/tracking_scale.py [--sizes 100,1000,5000] [--seconds 30]

For each N, the Bland simulator holds N calls in progress (they outlast the run) and the bot's database
follows all of them (cards already posted), then `blandbot serve` runs for `--seconds` with
CALL_POLL_SECONDS=10. Measured over that window, after a warm-up: the bot process's CPU (from /proc), Bland
requests per 10 s by route, Slack calls per minute by method, and how often each call was checked. Each N
runs twice in the same process: with the list sweep (the default) and with CALL_LIST_SWEEP=false (every
call read on its own), the baseline. With `--changing`, every call moves from queued to in progress in the
middle of the window (N cards to update at once) instead of staying quiet. The bot keeps Bland's default
budget, BLAND_MAX_RPS=5: the busiest second of Bland's requests is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock
from bot.domain import CallState, Kind, card_key
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub
from bot.store import Store
from tests.processes import BotProcess

WARMUP_SECONDS = 12.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return a process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def place_calls(sim: BlandSimulator, n: int, *, webhook: str | None = None) -> list[str]:
    """Create n calls through the simulator's API, 50 at a time (each posting to `webhook` when given)."""
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as http:
        for start in range(0, n, 50):
            bodies = [
                {"phone_number": f"+1415{i % 10_000_000:07d}", "task": "hi", "max_duration": 240}
                | ({"webhook": webhook} if webhook else {})
                for i in range(start, min(n, start + 50))
            ]
            replies = await asyncio.gather(*(http.post("/v1/calls", json=body) for body in bodies))
            ids += [r.json()["call_id"] for r in replies]
    return ids


async def follow(db_path: Path, ids: list[str], state: CallState) -> None:
    """Make the bot's database follow every call, as if each had been sent from Slack and carded."""
    store = await Store.open(str(db_path), SystemClock())
    try:
        for i, call_id in enumerate(ids):
            channel = f"C0SCALE{i % 100:02d}"
            await store.tracked.add(
                Kind.CALL, call_id, channel, created_by="U0BENCH", data={}, last_status=state
            )
            await store.notifications.claim(card_key(Kind.CALL, call_id), channel, "bench")
            await store.notifications.record(card_key(Kind.CALL, call_id), channel, f"1.{i:06d}")
    finally:
        await store.close()


async def run(n: int, seconds: float, *, sweep: bool, changing: bool = False) -> dict[str, float | str]:
    stub, sim = SlackStub(), BlandSimulator()
    sim.clock.speed = 1.0  # simulated time runs at wall-clock pace: every call outlasts the run
    sim.config.talk_seconds = 100_000
    sim.config.answered_by_mix = {"human": 1.0}  # no voicemail or no-answer cutting a call short
    # Quiet: every call is in progress before the bot starts. Changing: every call starts mid-window.
    sim.config.queue_seconds = WARMUP_SECONDS + seconds / 2 if changing else 0.0
    sim.config.ring_seconds = 0.0
    await stub.start()
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="blandbot-scale-") as folder:
        try:
            ids = await place_calls(sim, n)
            if not changing:
                sim.clock.advance(5)  # all of them started
            await follow(
                Path(folder) / "bot.db", ids, CallState.QUEUED if changing else CallState.IN_PROGRESS
            )
            bot = BotProcess(
                stub,
                sim,
                Path(folder),
                CALL_POLL_SECONDS="10",
                POLL_TICK_SECONDS="1",
                CALL_LIST_SWEEP=str(sweep).lower(),
                LOG_LEVEL="WARNING",
            )
            await bot.start()
            try:
                await asyncio.sleep(WARMUP_SECONDS)
                assert bot.process is not None
                pid = bot.process.pid
                requests_before, calls_before = len(sim.requests), len(stub.calls)
                cpu_before, started = cpu_seconds(pid), time.monotonic()
                window_start = started
                await asyncio.sleep(seconds)
                elapsed = time.monotonic() - started
                cpu = (cpu_seconds(pid) - cpu_before) / elapsed * 100
                routes = Counter(name for name, _, _ in sim.requests[requests_before:])
                methods = Counter(c.method for c in stub.calls[calls_before:])
            finally:
                await bot.stop()
                await bot.close()
        finally:
            await sim.stop()
            await stub.stop()
    per_10s = 10 / elapsed
    return {
        "cpu": cpu,
        "list": routes["calls.list"] * per_10s,
        "get": routes["calls.get"] * per_10s,
        "slack": sum(methods.values()) * 60 / elapsed,
        "update": methods["chat.update"] * 60 / elapsed,
        "checks": (routes["calls.get"] / n if n else 0) * (10 / elapsed),
        "busiest": sim.busiest_second(window_start),
        "methods": ", ".join(f"{m} {c * 60 / elapsed:.0f}" for m, c in methods.most_common(3)),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="numbers of calls in flight")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per run")
    parser.add_argument("--changing", action="store_true", help="every call changes state mid-window")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    what = "changing state mid-window" if args.changing else "quiet"
    print(
        f"CALL_POLL_SECONDS=10, BLAND_MAX_RPS=5; calls {what}; measured over {args.seconds:g} s after "
        f"{WARMUP_SECONDS:g} s of warm-up"
    )
    header = (
        f"{'N':>6} {'mode':<12}{'bot CPU %':>10}{'lists/10s':>10}{'reads/10s':>10}{'busiest s':>10}"
        f"{'Slack/min':>10}{'updates/min':>12}"
    )
    print(header)
    for n in sizes:
        for sweep in (True, False):
            figures = await run(n, args.seconds, sweep=sweep, changing=args.changing)
            mode = "list sweep" if sweep else "one by one"
            print(
                f"{n:>6} {mode:<12}{figures['cpu']:>10.1f}{figures['list']:>10.1f}{figures['get']:>10.1f}"
                f"{figures['busiest']:>10}{figures['slack']:>10.1f}{figures['update']:>12.1f}  ({figures['methods']})",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
