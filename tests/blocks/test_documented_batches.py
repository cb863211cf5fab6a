"""Batch results built from what Bland's documents promise, read from the documents' own example."""

from __future__ import annotations

import csv
import io

from bot.bland.models import Batch
from bot.blocks.batches import BatchProgress, batch_summary
from bot.pricing import Pricing
from bot.tracking.batch_results import BatchResults
from tests.bland_fixtures import load


def documented_batch() -> Batch:
    return Batch.model_validate(load("batch_details.jsonc"))


def test_the_documented_batch_row_gives_a_transcript_excerpt_and_an_estimated_cost() -> None:
    batch = documented_batch()
    with BatchResults.of(batch.call_data, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        rows = list(csv.DictReader(io.StringIO(results.csv())))
        text, blocks = batch_summary(results, batch.analysis, label="CSAT")
    [row] = rows
    # The row has no price, summary or concatenated transcript: the excerpt comes from transcripts[].
    assert row["summary_or_transcript"].startswith("Agent: Hi, Im calling about the laundromat")
    assert "Callee: I'll get back to you" in row["summary_or_transcript"]
    assert row["length_seconds"] == "12"  # corrected_duration, in seconds
    assert (row["cost_usd"], row["cost_source"]) == ("0.0180", "estimate")  # 12 s at $0.09/min
    assert (
        "cost about $0.018 (1 of 1 estimated from call lengths, Start plan, COST_PER_MINUTE $0.09/min, "
        "at least $0.015 a call)"
    ) in text
    assert "estimated from call lengths" in str([b.to_dict() for b in blocks])


def test_a_batch_row_with_no_price_and_no_length_says_unknown_not_zero() -> None:
    batch = Batch.model_validate({"call_data": [{"call_id": "c1", "queue_status": "queued"}]})
    with BatchResults.of(batch.call_data, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        [row] = list(csv.DictReader(io.StringIO(results.csv())))
        text, _ = batch_summary(results, None, label="x")
    assert row["length_seconds"] == "" and row["cost_usd"] == "" and row["cost_source"] == ""
    assert "cost unknown" in text and "$0.00" not in text


def test_call_lengths_average_is_in_seconds_whatever_the_documents_say() -> None:
    # The documents call analysis.call_lengths minutes. Their own example settles it: the first call
    # (call_length 0.12345 minutes, 7.4 s) is the first entry of call_lengths.all: 7. Seconds.
    batch = documented_batch()
    assert batch.analysis is not None and batch.analysis.call_lengths is not None
    first = batch.call_data[0]
    assert first.call_length is not None
    assert round(first.call_length * 60) == batch.analysis.call_lengths["all"][0]
    assert BatchProgress.of(batch).average_seconds == 17.0
