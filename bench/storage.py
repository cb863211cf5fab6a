"""Database size and the busiest queries after 120 days of traffic, with retention on and off, in one run.

    .venv/bin/python bench/storage.py [--calls 100000] [--batches 200] [--days 120]

Each simulated day writes what the bot writes for that day's share of finished calls and batches, with the
rows the app's own code writes (same tables, columns and shapes): per call, its tracked row, its call
request, its card, result and card update in the outbox, their ledger rows, a webhook and an audit entry;
per batch, its request with the frozen CSV payload, its tracked row, card and summary. The clock moves a day
at a time; with retention on, the retention job (bot/flows/retention.py, RETENTION_DAYS=90,
AUDIT_RETENTION_DAYS=365) runs once a day, as the hourly job would. Printed for each run: the file's size,
the live data in it (pages in use), rows per table, and the median time of the queries that run on every
tick or every request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import FakeClock
from bot.domain import Kind
from bot.settings import Settings
from bot.store import Store

DAY = 86400.0
START = 1_780_000_000.0
WORDS = [
    "yes",
    "no",
    "maybe",
    "tomorrow",
    "afternoon",
    "appointment",
    "confirm",
    "reschedule",
    "thanks",
    "speaking",
    "hello",
]


def transcript(rng: random.Random, turns: int = 12) -> str:
    lines = []
    for i in range(turns):
        who = "Agent" if i % 2 == 0 else "Callee"
        lines.append(f"{who}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))))
    return "\n".join(lines)


def number(i: int) -> str:
    return f"+1415{5550000 + i % 9_000_000:07d}"


def blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def outbox_row(
    key: str, channel: str, op: str, text: str, at: float, thread_of: str | None = None
) -> tuple[Any, ...]:
    payload = json.dumps({"text": text[:200], "blocks": blocks(text)})
    return (key, channel, op, None, thread_of, None, None, None, payload, "sent", at, at, at + 3 * DAY, "1.0")


async def write_day(
    store: Store, day: int, calls: int, batches: int, rng: random.Random, seq: list[int]
) -> None:
    now = START + day * DAY
    tracked, requests, outbox, ledger, hooks, audit, batch_rows = [], [], [], [], [], [], []
    for _ in range(calls):
        seq[0] += 1
        i = seq[0]
        call_id, to = f"call-{i:07d}", number(i)
        task = f"Confirm the appointment with the person at {to} for tomorrow."
        tracked.append(
            (
                "call",
                call_id,
                "C0OPS",
                f"{now:.6f}",
                "done",
                "completed",
                json.dumps({"to": to, "task": task, "request_id": f"r{i}"}),
                now,
                "U0ALICE",
                now,
                now,
            )
        )
        requests.append(
            (
                f"r{i}",
                "U0ALICE",
                "C0OPS",
                to,
                json.dumps({"form": {"phone": to, "task": task}}),
                "sent",
                call_id,
                now,
                now,
            )
        )
        card = f"call:{call_id}:card"
        outbox.append(outbox_row(card, "C0OPS", "post", f"Call to {to[:-4]}•••• queued", now))
        outbox.append(outbox_row(f"{card}:update", "C0OPS", "update", f"Call to {to[-4:]} completed", now))
        outbox.append(
            outbox_row(f"call:{call_id}:completed", "C0OPS", "post", transcript(rng), now, thread_of=card)
        )
        ledger += [
            (card, "C0OPS", f"{now:.6f}", now),
            (f"call:{call_id}:completed", "C0OPS", f"{now + 1:.6f}", now),
        ]
        hooks.append((f"{rng.getrandbits(128):032x}", call_id, now))
        audit.append((now, "U0ALICE", "C0OPS", "call.send", call_id, None, "sent", None))
    for _ in range(batches):
        seq[0] += 1
        i = seq[0]
        rows = [
            {"phone_number": number(i * 500 + r), "name": f"Person {r}", "plan": "gold"} for r in range(500)
        ]
        payload = json.dumps(
            {"label": f"Renewals {i}", "base_prompt": "Hi {{name}}", "call_data": rows}, sort_keys=True
        )
        batch_rows.append(
            (
                f"req{i}",
                payload,
                f"{rng.getrandbits(256):064x}",
                "U0ALICE",
                "C0OPS",
                "sent",
                f"b{i}-gen-batch",
                now,
                now,
                now,
                f"Renewals {i}",
                500,
            )
        )
        tracked.append(
            (
                "batch",
                f"b{i}-gen-batch",
                "C0APPROVE",
                None,
                "done",
                "completed",
                json.dumps(
                    {
                        "label": f"Renewals {i}",
                        "request_id": f"req{i}",
                        "progress": {"total": 500, "completed": 500},
                    }
                ),
                now,
                "U0ALICE",
                now,
                now,
            )
        )
        outbox.append(
            outbox_row(
                f"batch:b{i}:completed",
                "C0APPROVE",
                "post",
                "Batch summary\n" + "\n".join(r["phone_number"] for r in rows[:50]),
                now,
            )
        )
        audit.append((now, "U0BOB", "C0APPROVE", "batch.approve", f"req{i}", None, "approved", None))
    async with store.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO tracked (kind, external_id, channel, card_ts, state, last_status, data, next_poll_at,"
            " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tracked,
        )
        await conn.executemany(
            "INSERT INTO call_requests (id, requester, channel, to_number, data, state, call_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            requests,
        )
        await conn.executemany(
            "INSERT INTO outbox (key, channel, op, grp, thread_of, link_card, link_channel, topic, payload, state,"
            " next_attempt_at, created_at, expires_at, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            outbox,
        )
        await conn.executemany(
            "INSERT INTO notifications (event_key, channel, ts, created_at) VALUES (?, ?, ?, ?)", ledger
        )
        await conn.executemany(
            "INSERT INTO webhook_events (digest, call_id, received_at) VALUES (?, ?, ?)", hooks
        )
        await conn.executemany(
            "INSERT INTO audit_log (at, actor, channel, action, target, fingerprint, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            audit,
        )
        await conn.executemany(
            "INSERT INTO batch_requests (id, payload, fingerprint, requester, channel, state, batch_id, expires_at,"
            " created_at, updated_at, label, call_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch_rows,
        )


async def timed(run: Any, repeats: int = 200) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def simulate(path: Path, *, retention: bool, calls: int, batches: int, days: int) -> dict[str, Any]:
    from bot.flows.retention import run_retention

    clock = FakeClock(START)
    store = await Store.open(str(path), clock)
    settings = Settings(
        _env_file=None, retention_days=90 if retention else 0, audit_retention_days=365 if retention else 0
    )  # type: ignore[call-arg]
    rng = random.Random(7)
    seq = [0]
    per_day = calls // days
    batch_days = Counter(i * days // batches for i in range(batches))
    for day in range(days):
        clock.advance(START + day * DAY - clock.now())
        todays = batch_days[day]
        await write_day(store, day, per_day, todays, rng, seq)
        if retention:
            clock.advance(3600)
            await run_retention(settings, store, clock.now())
    now = START + days * DAY
    clock.advance(now - clock.now())
    last_call = f"call-{seq[0] - 1:07d}"
    queries = {
        # What a tick leases (two rounds of POLL_CONCURRENCY=8); lease=0 hands the rows straight back.
        "tick: due tracked items": lambda: store.tracked.claim_due(owner="bench", lease=0, limit=16),
        "outbox: eligible rows": lambda: store.outbox.eligible(now),
        "webhook: find a call": lambda: store.tracked.find(Kind.CALL, last_call),
        "card ts lookup": lambda: store.notifications.ts_of(f"call:{last_call}:card", "C0OPS"),
        "Home tab: recent requests": lambda: store.batch_requests.recent(100),
        "audit export: last 7 days": lambda: store.audit.since(now - 7 * DAY),
    }
    times = {name: await timed(run) for name, run in queries.items()}
    counts = {}
    for table in (
        "tracked",
        "call_requests",
        "batch_requests",
        "outbox",
        "notifications",
        "webhook_events",
        "audit_log",
    ):
        row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
        counts[table] = int(row[0]) if row else 0
    page_size = (await store.db.fetchone("PRAGMA page_size"))[0]  # type: ignore[index]
    pages = (await store.db.fetchone("PRAGMA page_count"))[0]  # type: ignore[index]
    free = (await store.db.fetchone("PRAGMA freelist_count"))[0]  # type: ignore[index]
    await store.db.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
    await store.close()
    return {
        "file_mb": (await asyncio.to_thread(path.stat)).st_size / 1e6,
        "live_mb": (pages - free) * page_size / 1e6,
        "counts": counts,
        "times": times,
        "calls": seq[0],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="blandbot-storage-") as folder:
        for retention in (False, True):
            started = time.perf_counter()
            results[retention] = await simulate(
                Path(folder) / f"{retention}.db",
                retention=retention,
                calls=args.calls,
                batches=args.batches,
                days=args.days,
            )
            print(
                f"simulated retention {'on ' if retention else 'off'} in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    off, on = results[False], results[True]
    print(f"{args.calls} finished calls and {args.batches} batches (500 rows each) over {args.days} days")
    print(f"{'':32}{'retention off':>16}{'retention on':>16}")
    print(f"{'database file (MB)':32}{off['file_mb']:>16.1f}{on['file_mb']:>16.1f}")
    print(f"{'live data (MB)':32}{off['live_mb']:>16.1f}{on['live_mb']:>16.1f}")
    for table in off["counts"]:
        print(f"{'rows: ' + table:32}{off['counts'][table]:>16,}{on['counts'][table]:>16,}")
    for name in off["times"]:
        print(f"{name + ' (ms, median)':32}{off['times'][name]:>16.3f}{on['times'][name]:>16.3f}")


if __name__ == "__main__":
    asyncio.run(main())
