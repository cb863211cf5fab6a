"""A finished batch's tally and its result file, built one call at a time: counters and the first errors in
memory, CSV rows in a temporary file (so 10,000 calls cost what 10 do; bench/batch_memory.py)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from collections.abc import Iterable
from typing import Any

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
from bot.blocks.format import csv_cell, money, redact_text, table_phone, truncate
from bot.blocks.messages import SYSTEM_VARIABLES, transcript_lines
from bot.pricing import Pricing

# After the requester's own columns: what became of each row.
CALL_COLUMNS = [
    "call_id",
    "status",
    "answered_by",
    "length_seconds",
    "cost_usd",
    "cost_source",
    "summary_or_transcript",
]
# Without the requester's rows (a batch followed with /bland track): each call's number first.
CSV_COLUMNS = ["to", *CALL_COLUMNS]
UNMATCHED = 1 << 40  # the sort key of a call matched to no row of the list: after every row


class BatchResults:
    """A finished batch's summary and CSV, built one call at a time.

    Only counters and the first errors stay in memory; CSV rows go to a temporary file as they arrive, so
    a 10,000-call batch costs the same memory as a 10-call one (bench/batch_memory.py). Only fields that
    Bland's documents promise on a batch's call rows are relied on; the others (`price`, `summary`,
    `variables`) are used when present.
    """

    def __init__(
        self,
        *,
        redact: bool,
        pricing: Pricing,
        rows: list[dict[str, Any]] | None = None,
        not_dialled: dict[int, str] | None = None,
        left_out: list[str] | None = None,
    ) -> None:
        """`rows` are the requester's list, as approved (each a `phone_number` and its columns): the file is
        then that list, in its order, each row completed with its call. `not_dialled` says why a row has no
        call by design (test mode); `left_out` are the masked numbers taken out before approval."""
        self.redact = redact
        self.pricing = pricing
        self.rows = rows or []
        self.columns = list(dict.fromkeys(k for row in self.rows for k in row if k != "phone_number"))
        self.by_phone = {str(row.get("phone_number")): i for i, row in enumerate(self.rows)}
        self.not_dialled = not_dialled or {}
        self.left_out = left_out or []
        self.variables: dict[str, None] = {}  # every extracted variable's name, in the order first seen
        self.total = 0
        self.answered: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # how each call ended: failed, or who answered
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
        self.outcomes["failed" if call.is_error else call.answered_by_text or "unknown"] += 1
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
        variables = self._variables(call)
        self.variables.update(dict.fromkeys(variables))
        # Spooled as (row, the call's cells, its variables); csv() puts them in the list's order.
        self._csv.writerow(
            [self._index(call), json.dumps(self._cells(call, seconds, cost)), json.dumps(variables)]
        )

    def _index(self, call: Call) -> int:
        """The row of the requester's list this call is for: v2 calls carry it in their metadata, v1 calls are
        found by their number (a list never holds one number twice)."""
        row = (call.metadata or {}).get("row")
        if isinstance(row, int) and 0 <= row < len(self.rows):
            return row
        return self.by_phone.get(str(call.to), UNMATCHED)

    def _variables(self, call: Call) -> dict[str, Any]:
        """What the call extracted: variables (not the system's, nor the row's own values echoed back),
        analysis and citations."""
        echoed = {*self.columns, "phone_number"}
        found = {
            k: v for k, v in (call.variables or {}).items() if k not in SYSTEM_VARIABLES and k not in echoed
        }
        found.update(call.analysis or {})
        found.update(call.citation_values)
        return found

    def _cells(self, call: Call, seconds: float | None, cost: tuple[float, CostSource] | None) -> list[str]:
        transcript = " / ".join(transcript_lines(call, redact=False))
        excerpt = call.summary or transcript or call.error_message or ""
        return [
            table_phone(call.to, redact=self.redact),
            call.id,
            call.normalized_queue_status or str(call.status or ""),
            call.answered_by_text or "",
            f"{seconds:.0f}" if seconds is not None else "",
            f"{cost[0]:.4f}" if cost else "",
            cost[1].value if cost else "",
            truncate(redact_text(excerpt, redact=self.redact).replace("\n", " "), 500),
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
        """The result file (RFC 4180, CRLF, formula cells neutralised): the requester's list in its order,
        every column they gave, then each row's call and each extracted variable in a column of its own.
        A row with no call says why; calls matched to no row (or all, without a list) follow."""
        self._file.flush()
        self._file.seek(0)
        spooled = sorted(
            (
                (int(index), json.loads(cells), json.loads(found))
                for index, cells, found in csv.reader(self._file)
            ),
            key=lambda entry: entry[0],
        )
        self._file.seek(0, io.SEEK_END)
        names = list(self.variables)
        out = io.StringIO()
        writer = csv.writer(out)
        lead = ["phone", *self.columns] if self.rows else []
        writer.writerow(
            [csv_cell(name) for name in [*lead, *(CALL_COLUMNS if self.rows else CSV_COLUMNS), *names]]
        )
        calls: dict[int, tuple[list[str], dict[str, Any]]] = {}
        extra: list[tuple[list[str], dict[str, Any]]] = []
        for index, cells, found in spooled:
            if index == UNMATCHED or index in calls:
                extra.append((cells, found))
            else:
                calls[index] = (cells, found)
        blank_lead = [""] * len(lead)
        width = len(lead) + len(CALL_COLUMNS) + len(names)

        def padded(cells: list[str]) -> list[str]:
            return [csv_cell(v) for v in cells + [""] * (width - len(cells))]

        for index, row in enumerate(self.rows):
            given = [table_phone(row.get("phone_number"), redact=self.redact)]
            given += [redact_text(str(row.get(c, "")), redact=self.redact) for c in self.columns]
            if index in calls:
                cells, found = calls[index]
                writer.writerow([csv_cell(v) for v in [*given, *cells[1:], *self._values(found, names)]])
            else:
                why = self.not_dialled.get(
                    index, "no call found in Bland for this row (stopped before it was dialled?)"
                )
                writer.writerow(padded([*given, "", f"not dialled: {why}"]))
        for number in self.left_out:
            left = [number.lstrip("+"), *[""] * len(self.columns), "", "not dialled: on the do-not-call list"]
            writer.writerow(padded(left))
        for cells, found in extra:
            shown = [cells[0], *blank_lead[1:], *cells[1:]] if self.rows else cells
            writer.writerow([csv_cell(v) for v in [*shown, *self._values(found, names)]])
        return out.getvalue()

    @staticmethod
    def _values(found: dict[str, Any], names: list[str]) -> list[str]:
        return [
            ""
            if found.get(n) is None
            else v
            if isinstance(v := found.get(n), str)
            else json.dumps(v, ensure_ascii=False)
            for n in names
        ]

    def close(self) -> None:
        """Delete the temporary file."""
        self._file.close()

    def __enter__(self) -> BatchResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
