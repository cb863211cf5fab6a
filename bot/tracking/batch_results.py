"""A finished batch's tally and its result file, built one call at a time: counters and the first errors in
memory, CSV rows in a temporary file (so 10,000 calls cost what 10 do; bench/batch_memory.py)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from collections.abc import Iterable

from bot.bland.models import Call
from bot.blocks.batches import (
    LENGTH_BUCKETS,
    SHOWN_ERRORS,
    CostSource,
    Rerun,
    call_cost,
    length_bucket,
    rerun_kind,
)
from bot.blocks.format import csv_cell, mask_phone, money, redact_text, truncate
from bot.blocks.messages import SYSTEM_VARIABLES, transcript_lines
from bot.pricing import Pricing

CSV_COLUMNS = [
    "call_id",
    "to",
    "status",
    "answered_by",
    "length_seconds",
    "cost_usd",
    "cost_source",
    "summary_or_transcript",
    "variables",
]


class BatchResults:
    """A finished batch's summary and CSV, built one call at a time.

    Only counters and the first errors stay in memory; CSV rows go to a temporary file as they arrive, so
    a 10,000-call batch costs the same memory as a 10-call one (bench/batch_memory.py). Only fields that
    Bland's documents promise on a batch's call rows are relied on; the others (`price`, `summary`,
    `variables`) are used when present.
    """

    def __init__(self, *, redact: bool, pricing: Pricing) -> None:
        self.redact = redact
        self.pricing = pricing
        self.total = 0
        self.answered: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.lengths = [0] * len(LENGTH_BUCKETS)
        self.errors: list[tuple[str, str]] = []
        self.error_count = 0
        self.rerun: Counter[Rerun] = Counter()
        self.cost = {CostSource.PRICE: 0.0, CostSource.ESTIMATE: 0.0}
        self.costed: Counter[CostSource] = Counter()
        # Closed (and deleted) by close(), which the with-statement calls.
        self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow([csv_cell(name) for name in CSV_COLUMNS])

    @classmethod
    def of(cls, calls: Iterable[Call], *, redact: bool, pricing: Pricing) -> BatchResults:
        """Tally calls already in memory."""
        results = cls(redact=redact, pricing=pricing)
        for call in calls:
            results.add(call)
        return results

    def add(self, call: Call) -> None:
        """Count one call and write its CSV row."""
        self.total += 1
        self.answered[call.answered_by_text or "unknown"] += 1
        self.statuses[call.normalized_queue_status or "unknown"] += 1
        seconds = call.duration_seconds
        if call.is_terminal and not call.is_error and seconds is not None:
            self.lengths[length_bucket(seconds)] += 1
        kind = rerun_kind(call)
        if kind is not None:
            self.rerun[kind] += 1
        cost = call_cost(call, self.pricing)
        if cost is not None:
            self.cost[cost[1]] += cost[0]
            self.costed[cost[1]] += 1
        if call.error_message:
            self.error_count += 1
            if len(self.errors) < SHOWN_ERRORS:
                self.errors.append((call.id, call.error_message))
        self._csv.writerow([csv_cell(cell) for cell in self._row(call, seconds, cost)])

    def _row(self, call: Call, seconds: float | None, cost: tuple[float, CostSource] | None) -> list[object]:
        transcript = " / ".join(transcript_lines(call, redact=False))
        excerpt = call.summary or transcript or call.error_message or ""
        variables = {k: v for k, v in (call.variables or {}).items() if k not in SYSTEM_VARIABLES}
        variables.update(call.analysis or {})
        return [
            call.id,
            mask_phone(call.to, redact=self.redact),
            call.normalized_queue_status or call.status or "",
            call.answered_by_text or "",
            f"{seconds:.0f}" if seconds is not None else "",
            f"{cost[0]:.4f}" if cost else "",
            cost[1].value if cost else "",
            truncate(redact_text(excerpt, redact=self.redact).replace("\n", " "), 500),
            json.dumps(variables, ensure_ascii=False, sort_keys=True) if variables else "",
        ]

    def cost_text(self) -> str:
        """Say what the batch cost, and how much of it is an estimate or unknown."""
        priced, estimated = self.costed[CostSource.PRICE], self.costed[CostSource.ESTIMATE]
        unknown = self.total - priced - estimated
        if not priced and not estimated:
            return "cost unknown"
        total = money(self.cost[CostSource.PRICE] + self.cost[CostSource.ESTIMATE])
        notes = []
        if estimated:
            notes.append(f"{estimated} of {self.total} estimated from call lengths, {self.pricing.label}")
        if unknown:
            notes.append(f"{unknown} unknown")
        if not notes:
            return f"cost {total}"
        return f"cost {'about ' if estimated else 'at least '}{total} ({'; '.join(notes)})"

    def csv(self) -> str:
        """Return the CSV written so far (RFC 4180, CRLF, formula cells neutralised)."""
        self._file.flush()
        self._file.seek(0)
        text = self._file.read()
        self._file.seek(0, io.SEEK_END)
        return text

    def close(self) -> None:
        """Delete the temporary file."""
        self._file.close()

    def __enter__(self) -> BatchResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
