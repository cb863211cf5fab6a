"""Replicas on one PostgreSQL: polling throughput and Bland requests per interval, with 1, 2 and 3 of them.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/replicas.py [--calls 300]

For each replica count, in the same run and on a fresh schema: N calls are placed in the Bland simulator
(its clock stopped, so they stay live) and tracked in the database as the bot tracks them; then that many
`blandbot serve` processes run on it, each polling call by call (CALL_LIST_SWEEP=false, so every read is a
lease at work) every CALL_POLL_SECONDS=2. Printed:

- reads of single calls per poll interval, while the calls stay live: each call read once per interval
  across the replicas means about N, whatever the replica count (without leases it would be N × replicas);
- the most any one call was read in that window (3 intervals: at most 3 with leases);
- tracked items finished per second once every call ends at once (the simulator's clock is released), up
  to the point where nothing is tracked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # type: ignore[import-untyped]
import httpx

from bot.clock import SystemClock
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub
from bot.store import Store
from tests.processes import BotProcess, next_request

POLL_SECONDS = 2.0
WINDOW_INTERVALS = 3


async def run(replicas: int, calls: int, base_url: str) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{base_url}?schema={schema}"
    stub, sim = SlackStub(), BlandSimulator()
    sim.clock.set_speed(0.0)  # the calls stay live until released
    await stub.start()
    await sim.start()
    processes: list[BotProcess] = []
    try:
        async with httpx.AsyncClient(base_url=sim.url, headers={"authorization": sim.api_key}) as bland:
            ids = []
            for i in range(calls):
                reply = await bland.post("/v1/calls", json={"phone_number": f"+1415555{i:04d}", "task": "Hi"})
                ids.append(str(reply.json()["call_id"]))
        store = await Store.open(url, SystemClock())
        for i, call_id in enumerate(ids):
            await store.tracked.add("call", call_id, f"C0BENCH{i % 20:02d}", created_by="U0BENCH")  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="blandbot-replicas-") as folder:
            for n in range(replicas):
                path = Path(folder) / f"r{n}"
                path.mkdir()
                processes.append(
                    BotProcess(
                        stub,
                        sim,
                        path,
                        DATABASE_URL=url,
                        CALL_LIST_SWEEP="false",
                        CALL_POLL_SECONDS=f"{POLL_SECONDS:g}",
                        POLL_TICK_SECONDS="0.2",
                        LOG_LEVEL="WARNING",
                    )
                )
            await asyncio.gather(*(p.start() for p in processes))
            # Let the first reads (cards, first polls) pass, then count reads over a few intervals.
            await asyncio.sleep(2 * POLL_SECONDS)
            mark = len(sim.requests)
            await asyncio.sleep(WINDOW_INTERVALS * POLL_SECONDS)
            window = [path for name, _, path in sim.requests[mark:] if name == "calls.get"]
            per_call = Counter(path.split("?")[0].rsplit("/", 1)[-1] for path in window)
            sim.clock.set_speed(600.0)  # every call ends within a few real seconds
            started = time.monotonic()
            while await store.tracked.count_active():
                await next_request(stub, sim, timeout=0.5)
            finished_in = time.monotonic() - started
        await store.close()
        return {
            "reads_per_interval": len(window) / WINDOW_INTERVALS,
            "most_reads_of_one_call": max(per_call.values(), default=0),
            "finished_per_second": calls / finished_in,
        }
    finally:
        for process in processes:
            await process.close()
        await sim.stop()
        await stub.stop()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    base_url = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    results = {n: await run(n, args.calls, base_url) for n in (1, 2, 3)}
    print(f"{args.calls} live calls, read call by call every {POLL_SECONDS:g} s (CALL_LIST_SWEEP=false)")
    print(f"{'replicas':>8} {'reads/interval':>15} {'most reads, one call':>21} {'items finished/s':>17}")
    for n, r in results.items():
        print(
            f"{n:>8} {r['reads_per_interval']:>15.0f} {r['most_reads_of_one_call']:>21.0f}"
            f" {r['finished_per_second']:>17.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
