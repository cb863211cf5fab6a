"""Ack latency of the real app vs a bare AsyncApp that only acks, each its own process, under the same load.

    .venv/bin/python bench/ack_latency.py [-n 500] [-c 20] [--tracked 0,2000]

For each number of tracked calls, `blandbot serve` runs as its own process with that many calls in flight
at the Bland simulator (they outlast the run; the bot follows them with CALL_POLL_SECONDS=10), and
bench/bare_app.py runs beside it. N signed requests (a mix of /bland help commands, button clicks and
call-modal submissions) go to each app at concurrency C, alternating between them, and p50/p99 of both
and their ratio are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tracking_scale import follow, place_calls
from bot.ids import ActionId
from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub
from tests.processes import SIGNING, BotProcess, free_port, until_seen, wait_listening

ALICE = "U0ALICE"
OPS_CHANNEL = "C0OPS"
SWEEP_WAIT = 60.0  # at most, for the bot's first two list sweeps (CALL_POLL_SECONDS=10)
HERE = Path(__file__).resolve().parent


def bodies(n: int, view: dict[str, Any], response_url: str) -> list[str]:
    """Build n signed-able bodies: commands, clicks and modal submissions in turn."""
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(sr.command_body("help", user=ALICE, channel=OPS_CHANNEL, response_url=response_url))
        elif kind == 1:
            payload = sr.action_payload(
                ActionId.REFRESH_CALL,
                "no-such-call",
                user=ALICE,
                channel=OPS_CHANNEL,
                message_ts="1.000001",
                response_url=response_url,
            )
            out.append(sr.interactive_body(payload))
        else:
            payload = sr.view_submission_payload(
                view, {"phone": "+14155550123", "task": "Benchmark"}, user=ALICE
            )
            out.append(sr.interactive_body(payload))
    return out


async def load(http: httpx.AsyncClient, url: str, payloads: list[str], concurrency: int) -> list[float]:
    """Send every payload, `concurrency` at a time; return latencies in ms."""
    latencies: list[float] = []
    queue = list(payloads)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            response = await http.post(
                f"{url}/slack/events", content=body, headers=sr.sign_headers(SIGNING, body)
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise SystemExit(f"{failures} requests were not acked with 200")
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(n: int, concurrency: int, tracked: int) -> dict[str, float]:
    """Run both apps with `tracked` calls in flight at the bot; return p50/p99 of each."""
    stub, sim = SlackStub(), BlandSimulator()
    sim.clock.speed = 1.0  # simulated time at wall-clock pace: the tracked calls outlast the run
    sim.config.talk_seconds = 100_000
    sim.config.answered_by_mix = {"human": 1.0}
    sim.config.queue_seconds = sim.config.ring_seconds = 0.0
    await stub.start()
    await sim.start()
    bare_port = free_port()
    bare = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "bare_app.py"), str(bare_port), stub.api_url, stub.bot_token, SIGNING
    )
    with tempfile.TemporaryDirectory(prefix="blandbot-ack-") as folder:
        bot = BotProcess(stub, sim, Path(folder), CALL_POLL_SECONDS="10", LOG_LEVEL="WARNING")
        try:
            if tracked:
                ids = await place_calls(sim, tracked)
                sim.clock.advance(5)  # all of them started
                await follow(Path(folder) / "bot.db", ids)
            await bot.start()
            bare_url = f"http://127.0.0.1:{bare_port}"
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                await wait_listening(http, f"{bare_url}/healthz")
                before = len(stub.views)
                await bot.signed(
                    sr.command_body("call", user=ALICE, channel=OPS_CHANNEL, response_url=stub.response_url())
                )
                view = await until_seen(
                    stub, sim, lambda: len(stub.views) > before and stub.last_view(), "the modal"
                )
                if tracked:
                    # Measure a bot that is already following them: wait for its first two list sweeps.
                    await until_seen(
                        stub, sim, lambda: sim.count("calls.list") >= 2, "two sweeps", SWEEP_WAIT
                    )
                payloads = bodies(n, view, stub.response_url())
                await load(http, bare_url, payloads[:30], concurrency)  # warm both up
                await load(http, bot.base, payloads[:30], concurrency)
                results: dict[str, list[float]] = {"bare": [], "app": []}
                for _ in range(2):  # alternate so neither side gets the quieter machine
                    results["bare"] += await load(http, bare_url, payloads[: n // 2], concurrency)
                    results["app"] += await load(http, bot.base, payloads[: n // 2], concurrency)
        finally:
            await bot.close()
            bare.kill()
            await bare.wait()
            await sim.stop()
            await stub.stop()
    return {
        "tracked": tracked,
        "requests": len(results["app"]),
        "bare_p50": pct(results["bare"], 50),
        "bare_p99": pct(results["bare"], 99),
        "bare_mean": statistics.mean(results["bare"]),
        "app_p50": pct(results["app"], 50),
        "app_p99": pct(results["app"], 99),
        "app_mean": statistics.mean(results["app"]),
    }


async def main(n: int, concurrency: int, tracked: list[int]) -> int:
    print(f"{n} requests per side per run, concurrency {concurrency}; each app its own process")
    for count in tracked:
        r = await measure(n, concurrency, count)
        print(f"-- {count} calls tracked by the bot")
        print(
            f"bare AsyncApp   p50 {r['bare_p50']:7.2f} ms   p99 {r['bare_p99']:7.2f} ms   mean {r['bare_mean']:.2f}"
        )
        print(
            f"blandbot app    p50 {r['app_p50']:7.2f} ms   p99 {r['app_p99']:7.2f} ms   mean {r['app_mean']:.2f}"
        )
        print(
            f"ratio app/bare  p50 {r['app_p50'] / r['bare_p50']:5.2f}x     p99 {r['app_p99'] / r['bare_p99']:5.2f}x"
        )
        print(json.dumps({**r, "p99_ratio": r["app_p99"] / r["bare_p99"]}), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("-c", type=int, default=20)
    parser.add_argument("--tracked", default="0,2000", help="calls in flight at the bot, one run each")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.n, args.c, [int(t) for t in args.tracked.split(",")])))
