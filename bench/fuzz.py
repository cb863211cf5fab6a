"""Send N hostile requests (default 10,000) through the real app and count how each was answered.

    .venv/bin/python bench/fuzz.py [-n 10000] [--seed 1]

Prints the answers by status and by kind of request, the 5xx count and the tracebacks logged; exits 1 if
any request got a 5xx or any traceback was logged. For comparison it first sends the same number of
well-formed requests (`/bland help`, at most 1,000), so the figures show what hostile input costs beside normal traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.sandbox.harness import Sandbox
from bot.sandbox.hostile import send_hostile


async def run(count: int, seed: int) -> int:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as folder:
        async with Sandbox(Path(folder) / "fuzz.db") as box:
            well_formed = min(count, 1000)
            started = time.monotonic()
            for _ in range(well_formed):
                assert (await box.command("help")).status_code == 200
            baseline = time.monotonic() - started
            started = time.monotonic()
            answers = await send_hostile(box, seed, count)
            statuses = Counter(a.status for a in answers)
            by_kind = Counter((a.request.kind, a.status // 100 * 100) for a in answers)
            hostile = time.monotonic() - started
    text = log.getvalue()
    tracebacks = text.count("Traceback (most recent call last)")
    errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"{count} well-formed requests (/bland help): {baseline:.1f}s, {1000 * baseline / count:.2f} ms each"
    )
    print(f"{count} hostile requests (seed {seed}): {hostile:.1f}s, {1000 * hostile / count:.2f} ms each")
    print("answers by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    for (kind, klass), n in sorted(by_kind.items()):
        print(f"  {kind:28} {klass}s: {n}")
    print(f"5xx answers: {errors}; tracebacks logged: {tracebacks}")
    return 1 if errors or tracebacks else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.n, args.seed)))


if __name__ == "__main__":
    main()
