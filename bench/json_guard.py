"""What the nesting check costs a webhook body, against `json.loads` of the same body, in one run.

    .venv/bin/python bench/json_guard.py [--kb 150] [--repeat 200]

Every webhook and stored JSON passes `bot.safe_json.nesting_ok` before `json.loads` sees it. Printed, per
body, the median time of: `json.loads`; the check as shipped (strings cut out by one regular expression,
the rest reduced to its brackets, the depth summed by `itertools.accumulate`); and, as the baseline, the
byte-by-byte state machine it replaced (the one tests/bland/test_webhooks.py keeps as the oracle). The
goal: the check costs at most 1 ms more than `json.loads` on a 150 kB webhook.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.safe_json import MAX_DEPTH, nesting_ok
from tests.bland.test_webhooks import reference_nesting_ok  # the check before: one Python step per byte


def byte_by_byte(data: bytes, limit: int = MAX_DEPTH) -> bool:
    return reference_nesting_ok(data, limit)


def webhook(kb: int) -> bytes:
    """A call webhook of about `kb` kB: a long transcript (quotes, brackets and escapes in its text)."""
    turns = []
    while len(json.dumps(turns)) < kb * 1000:
        i = len(turns)
        turns.append(
            {"id": i, "user": "user" if i % 2 else "assistant", "text": f'Turn {i}: "ok" [1] {{x}} \\ fine.'}
        )
    body = {
        "call_id": "c-bench",
        "completed": True,
        "transcripts": turns,
        "variables": {"a": [1, {"b": [2]}]},
    }
    return json.dumps(body).encode()


def median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for kb in (args.kb, 1000):
        body = webhook(kb)
        assert nesting_ok(body) == byte_by_byte(body) is True
        loads = median_ms(lambda b=body: json.loads(b), args.repeat)
        shipped = median_ms(lambda b=body: nesting_ok(b), args.repeat)
        before = median_ms(lambda b=body: byte_by_byte(b), max(10, args.repeat // 10))
        print(
            f"{len(body) / 1000:7.0f} kB  json.loads {loads:6.2f} ms | nesting check {shipped:6.2f} ms "
            f"(+{shipped - loads:5.2f} ms over json.loads) | baseline byte by byte {before:6.2f} ms "
            f"({before / shipped:4.1f}x slower)"
        )


if __name__ == "__main__":
    main()
