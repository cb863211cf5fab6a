"""Slack answering 500 and 429 for a minute while N calls and one batch run: what arrives once it recovers.

    .venv/bin/python bench/slack_outage.py [--calls 20] [--seconds 60]

Runs the same scenario twice in one process, with the same seeds: once with Slack healthy (the baseline),
once with every Web API call failing (500, 500, 500, 429 in turn) for `--seconds` of simulated time while
the calls end and the batch runs. Prints, per run, the messages each place received, then the messages
lost and duplicated against the baseline. Exits 1 if anything was lost or sent twice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, Sandbox, response_json

APPROVALS, NEWS = "C0APPROVE", "C0NEWS"
CSV = "phone,name\n" + "\n".join(f"+1415555{100 + i:04d},P{i}" for i in range(10))


async def scenario(calls: int, outage_seconds: float) -> tuple[Counter[str], float]:
    """Run the calls and a batch, with Slack failing for `outage_seconds` if > 0; count what arrived where."""
    with tempfile.TemporaryDirectory() as folder:
        async with Sandbox(
            Path(folder) / "o.db",
            approver_users=(ALICE, BOB),
            approval_channel=APPROVALS,
            notify_channel=NEWS,
            batch_poll_seconds=15,
        ) as box:
            box.sim.config.talk_seconds = 30
            started = time.monotonic()
            for i in range(calls):
                before = len(box.slack.views)
                await box.command("call")
                view = await box.modal_after(before)
                await box.submit_view(view, {"phone": f"+1415555{200 + i:04d}", "task": "Say hello"})
            before = len(box.slack.views)
            await box.command("batch")
            view = await box.modal_after(before)
            answer = await box.submit_view(
                view, {"batch_label": "Outage", "base_prompt": "Hi {{name}}", "recipients_text": CSV}
            )
            assert not response_json(answer), answer.text
            await box.settle()
            request_id = (await box.bot.deps.store.batch_requests.recent(1))[0].id
            card = box.slack.channel_messages(APPROVALS)[-1]
            await box.click(
                ActionId.APPROVE_BATCH, request_id, user=BOB, channel=APPROVALS, message_ts=card.ts
            )
            await box.tick()
            if outage_seconds:
                box.slack.start_outage()
            for _ in range(max(1, int(outage_seconds // 15))):
                await box.advance(15)
                await box.tick()
            box.slack.clear_faults()
            await box.run_until_done(step=30, max_steps=200)
            received: Counter[str] = Counter()
            for message in box.slack.messages:
                place = "thread" if message.thread_ts and message.thread_ts != message.ts else message.channel
                received[f"{place}: {message.text[:60]}"] += 1
            for file in box.slack.files.values():
                if file.channel:
                    received[f"file: {file.filename}"] += 1
            return received, time.monotonic() - started


async def run(calls: int, seconds: float) -> int:
    logging.basicConfig(level=logging.ERROR)
    baseline, took = await scenario(calls, 0)
    print(f"baseline (Slack healthy): {sum(baseline.values())} messages and files in {took:.1f}s")
    outage, took = await scenario(calls, seconds)
    print(f"with {seconds:g}s of 500s and 429s: {sum(outage.values())} messages and files in {took:.1f}s")

    # Texts carry ids that differ between runs: compare where things arrived, and how many.
    def places(counts: Counter[str]) -> Counter[str]:
        return Counter(key.split(":")[0] for key in counts.elements())

    def repeats(counts: Counter[str]) -> int:
        return sum(n - 1 for n in counts.values() if n > 1)

    base, seen = places(baseline), places(outage)
    lost = sum((base - seen).values())
    duplicated = repeats(outage) - repeats(baseline)
    for place in sorted(base | seen):
        print(f"  {place:12} baseline {base[place]:4}   outage {seen[place]:4}")
    print(f"lost: {lost}; duplicated: {duplicated}; extra beyond the baseline: {sum((seen - base).values())}")
    return 1 if lost or duplicated else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.calls, args.seconds)))


if __name__ == "__main__":
    main()
