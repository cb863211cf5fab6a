"""Peak memory of the bot, and its requests to Bland, while a 10,000-call batch completes, on each of
Bland's batch APIs, the bot as its own process.

    .venv/bin/python bench/batch_memory.py [--calls 10000] [--batch-api v1,v2] [--rps 100]

v1 (the baseline) reads the batch's progress from the batch and its calls once, as a stream; v2 counts the
call list each poll and reads each call that ended once (Bland keeps no results on a v2 batch), within
BLAND_MAX_RPS (`--rps`: Bland's default org limit is 5; the bench raises it so that 10,000 reads take
minutes, and prints how long they would take at 5).

The whole flow runs through the real app: `/bland batch`, the modal submitted with a CSV file, a second
person's approval, the live card, then every call of the batch ends at once in the Bland simulator and
the bot posts the summary and uploads the result CSV. Printed, from /proc/<pid>/status of the bot:

- RSS before approval (the baseline: the bot with the request and its frozen CSV waiting);
- peak RSS while the batch completes (VmHWM, reset just before the calls end);
- for comparison, in the same run, the peak RSS of a bare process that reads the same batch the way the
  bot used to (`GET /v1/batches/{id}` with every call and transcript parsed at once), and the reply's size.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from subprocess import PIPE
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bot.ids import ActionId
from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator, SimClock
from bot.sandbox.harness import block_text
from bot.sandbox.slack_stub import SlackStub
from tests.processes import BotProcess, next_request, until_seen

ALICE, BOB = "U0ALICE", "U0BOB"
OPS, APPROVALS = "C0OPS", "C0APPROVE"
TIMEOUT = 600.0
ROOT = Path(__file__).resolve().parents[1]

FULL_READ = """
import asyncio, sys
from bot.bland.client import BlandClient
async def main():
    client = BlandClient(sys.argv[1], sys.argv[2])
    batch = await client.get_batch(sys.argv[3], include_calls=True, include_transcripts=True)
    await client.aclose()
    print(len(batch.call_data))
asyncio.run(main())
status = open("/proc/self/status").read()
print(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
"""


def status_kb(pid: int, field: str) -> int:
    """Read one VmRSS/VmHWM figure (kB) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def until(predicate: Callable[[], Any], what: str, stub: SlackStub, sim: BlandSimulator) -> Any:
    """Wait until the bot's requests into the stand-ins make `predicate()` truthy."""
    return await until_seen(stub, sim, predicate, what, TIMEOUT)


async def settled(bot: BotProcess, stub: SlackStub, sim: BlandSimulator) -> None:
    """Wait until the bot's outbox is empty (asked again after each request it makes)."""
    deadline = time.monotonic() + TIMEOUT
    while (await bot.health())["outbox"]:
        if time.monotonic() > deadline:
            raise TimeoutError("the bot's outbox never emptied")
        await next_request(stub, sim, timeout=1.0)


async def submit_batch(
    bot: BotProcess, stub: SlackStub, sim: BlandSimulator, *, user: str, channel: str, label: str, rows: int
) -> httpx.Response:
    """Open `/bland batch` and submit it with a CSV of `rows` recipients; return the modal's answer."""
    before_views = len(stub.views)
    await bot.signed(sr.command_body("batch", user=user, channel=channel, response_url=stub.response_url()))
    await until(
        lambda: len(stub.views) > before_views and stub.last_view().get("callback_id") == "request_batch",
        "the batch modal",
        stub,
        sim,
    )
    fields = {
        "batch_label": label,
        "base_prompt": "Hi {{name}}, about your {{plan}} plan.",
        "recipients_text": None,
        "recipients_file": [stub.add_file("list.csv", recipients(rows))],
    }
    return await bot.signed(
        sr.interactive_body(sr.view_submission_payload(stub.last_view(), fields, user=user))
    )


def recipients(n: int) -> bytes:
    rows = "".join(f"+1415555{i % 10_000:04d},Customer {i},gold\n" for i in range(n))
    return ("phone,name,plan\n" + rows).encode()


async def run(n: int, api: str, rps: float) -> dict[str, Any]:
    stub = SlackStub()
    sim = BlandSimulator(clock=SimClock(manual=True))  # calls stay live until the bench ends them
    sim.config.batch_dispatch_per_second = 10_000.0
    sim.config.batch_api = api  # this Bland speaks only one batch API
    await stub.start()
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="blandbot-memory-") as folder:
        bot = BotProcess(
            stub,
            sim,
            Path(folder),
            POLL_TICK_SECONDS="0.5",
            BATCH_POLL_SECONDS="1",
            APPROVER_USERS=BOB,
            APPROVAL_CHANNEL=APPROVALS,
            LOG_LEVEL="WARNING",
            BLAND_MAX_RPS=str(rps),
            # 10,000 calls at once are past every plan's caps but an enterprise contract's.
            BLAND_PLAN="enterprise",
            COST_PER_MINUTE="0.14",
        )
        try:
            await bot.start()
            assert bot.process is not None
            pid = bot.process.pid
            answer = await submit_batch(bot, stub, sim, user=ALICE, channel=OPS, label="Memory", rows=n)
            if answer.content and b"errors" in answer.content:
                raise SystemExit(f"the modal refused the batch: {answer.text}")
            card = await until(
                lambda: next((m for m in stub.channel_messages(APPROVALS) if "Memory" in m.text), None),
                "the approval card",
                stub,
                sim,
            )
            found = re.search(r"Request `([0-9a-f]+)`", block_text(card.blocks))
            assert found, block_text(card.blocks)
            await settled(bot, stub, sim)  # the baseline is taken with nothing left to send
            before = status_kb(pid, "VmRSS")
            payload = sr.action_payload(
                ActionId.APPROVE_BATCH,
                found.group(1),
                user=BOB,
                channel=APPROVALS,
                message_ts=card.ts,
                response_url=stub.response_url(),
            )
            approved_at = len(sim.requests)
            approved_time = time.monotonic()
            await bot.signed(sr.interactive_body(payload))
            batch_id = await until(lambda: next(iter(sim.batches), None), "the batch at Bland", stub, sim)
            polled = "batches.get" if api == "v1" else "batches.logs"  # v2: a poll ends with the logs read
            await until(lambda: sim.count(polled) >= 2, "the bot polling the batch", stub, sim)
            running = status_kb(pid, "VmRSS")
            reset_peak(pid)
            started = time.monotonic()
            sim.clock.advance(3600)  # every call of the batch ends now
            await until(
                lambda: any(c.method == "files.completeUploadExternal" for c in stub.calls),
                "the result CSV",
                stub,
                sim,
            )
            elapsed = time.monotonic() - started
            peak = status_kb(pid, "VmHWM")
            after = status_kb(pid, "VmRSS")
            uploaded = max(
                (len(f.content) for f in stub.files.values() if f.filename.startswith("batch-")), default=0
            )
            requests = Counter(route for route, _, _ in sim.requests[approved_at:])
            busiest = sim.busiest_second(approved_time)
        finally:
            await bot.close()
        reply_mb = 0.0
        full_peak = count = 0
        if api == "v1":
            async with httpx.AsyncClient() as http:
                reply = await http.get(
                    f"{sim.url}/v1/batches/{batch_id}",
                    params={"include_calls": "true", "include_transcripts": "true"},
                    headers={"authorization": sim.api_key},
                )
            reply_mb = len(reply.content) / 1e6
            # The simulator answers from this event loop: the comparison process must not block it.
            reader = await asyncio.create_subprocess_exec(
                sys.executable, "-c", FULL_READ, sim.url, sim.api_key, batch_id, cwd=ROOT, stdout=PIPE
            )
            out, _ = await reader.communicate()
            count, full_peak = (int(v) for v in out.split())
    await sim.stop()
    await stub.stop()
    return {
        "api": api,
        "before": before,
        "running": running,
        "peak": peak,
        "after": after,
        "elapsed": elapsed,
        "uploaded": uploaded,
        "requests": requests,
        "busiest": busiest,
        "reply_mb": reply_mb,
        "full_peak": full_peak,
        "count": count,
    }


def report(n: int, rps: float, result: dict[str, Any]) -> None:
    mb = 1024
    api = result["api"]
    requests: Counter[str] = result["requests"]
    total = sum(requests.values())
    print(f"\n== {api}: a batch of {n} calls, BLAND_MAX_RPS={rps:g} ==")
    print(f"bot RSS before approval        {result['before'] / mb:8.1f} MB   (baseline)")
    print(f"bot RSS while running          {result['running'] / mb:8.1f} MB")
    print(
        f"bot peak RSS while completing  {result['peak'] / mb:8.1f} MB   "
        f"({(result['peak'] - result['before']) / mb:+.1f} MB over the baseline)"
    )
    print(f"bot RSS after                  {result['after'] / mb:8.1f} MB")
    print(
        f"summary and CSV ({result['uploaded'] / 1e6:.1f} MB) posted {result['elapsed']:.1f} s after the calls ended"
    )
    print(
        f"Bland requests from approval to the result file: {total} "
        f"({', '.join(f'{route} {count}' for route, count in requests.most_common())}); "
        f"at most {result['busiest']} within one second"
    )
    if api == "v2":
        reads = requests.get("calls.get", 0)
        print(
            f"at Bland's default 5 requests a second the {reads} result reads alone would take "
            f"{reads / 3.5 / 60:.0f} min (3.5 a second once the burst is spent); with PUBLIC_URL set, each "
            "call's webhook is its result and most reads are never made"
        )
    if result["full_peak"]:
        print(
            f"comparison: a bare process reading the v1 batch whole ({result['reply_mb']:.1f} MB) peaks at "
            f"{result['full_peak'] / mb:.1f} MB ({result['count']} calls parsed)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--batch-api", default="v1,v2", help="which batch APIs, in order (v1 is the baseline)"
    )
    parser.add_argument("--rps", type=float, default=100.0, help="BLAND_MAX_RPS of the bot under test")
    args = parser.parse_args()
    for api in args.batch_api.split(","):
        report(args.calls, args.rps, asyncio.run(run(args.calls, api.strip(), args.rps)))


if __name__ == "__main__":
    main()
