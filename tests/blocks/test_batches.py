"""Batch builders: the approval card, the live card, the summary, the CSV and the list, at any size."""

from __future__ import annotations

import csv
import io
from typing import Any

from bot.bland.models import Batch
from bot.blocks.approvals import approval_card
from bot.blocks.batches import (
    BatchCardInfo,
    BatchProgress,
    batch_card,
    batch_summary,
    batches_list,
    tally_line,
)
from bot.caps import CapCheck, Caps, Usage
from bot.domain import BatchState, RequestState
from bot.mrkdwn import escape
from bot.payloads import BatchPayload
from bot.pricing import Pricing
from bot.store.batch_requests import BatchRequest
from bot.tracking.batch_results import BatchResults
from tests.blocks.slack_limits import message_fits

HUGE = "y" * 20_000


def request(**overrides: Any) -> BatchRequest:
    rows = [{"phone_number": f"+1415555{i:04d}", "name": f"Person {i}"} for i in range(5)]
    values: dict[str, Any] = {
        "id": "req1",
        "payload": {"call_data": rows, "max_duration": 5, "base_prompt": "Hi {{name}}"},
        "fingerprint": "f" * 64,
        "requester": "U1",
        "channel": "C1",
        "card_channel": "C2",
        "card_ts": "1.1",
        "approver": None,
        "state": RequestState.PENDING,
        "batch_id": None,
        "reason": None,
        "expires_at": 1_800_086_400.0,
        "created_at": 1_800_000_000.0,
        "updated_at": 1_800_000_000.0,
        "label": "Renewals",
        "call_count": 5,
    }
    merged = values | overrides
    if isinstance(merged["payload"], dict):
        merged["payload"] = BatchPayload(merged["payload"])
    return BatchRequest(**merged)


def buttons(rendered: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in rendered if b["type"] == "actions" for e in b["elements"]]


def test_pending_card_offers_approve_reject_cancel_and_masks_numbers() -> None:
    text, blocks = approval_card(
        request(), placeholders=["name"], redact=True, pricing=Pricing.of("start", 0.09)
    )
    rendered = message_fits(text, blocks)
    assert buttons(rendered) == ["approve_batch", "reject_batch", "cancel_batch"]
    assert "4155550001" not in str(rendered) and "•0001" in str(rendered)
    assert "$2.25" in str(rendered)  # 5 calls × 5 min × $0.09


def test_decided_card_has_no_buttons_and_says_who_decided() -> None:
    # A reason is stored mrkdwn-safe (flows/batches.py escapes what the approver typed).
    decided = request(state=RequestState.REJECTED, approver="U2", reason=escape("<!channel> wrong list"))
    rendered = message_fits(
        *approval_card(decided, placeholders=[], redact=True, pricing=Pricing.of("start", 0.09))
    )
    assert buttons(rendered) == [] and "Rejected by <@U2>" in str(rendered)
    assert "<!channel>" not in str(rendered) and "&lt;!channel&gt; wrong list" in str(rendered)


def test_approval_card_with_oversized_request_fits() -> None:
    rows = [{"phone_number": "+14155550100", **{f"col{j}": HUGE for j in range(30)}} for _ in range(10_000)]
    huge = request(
        label=HUGE[:80],
        note=HUGE[:1000],
        call_count=10_000,
        payload={"call_data": rows, "max_duration": 30, "base_prompt": HUGE, "test_mode": True},
    )
    caps = CapCheck(
        Caps.of("build"), Usage(today=1990, hour=990, active=0), "the daily cap and the hourly cap"
    )
    rendered = message_fits(
        *approval_card(
            huge,
            placeholders=[f"p{i}" for i in range(500)],
            redact=True,
            pricing=Pricing.of("start", 0.09),
            caps=caps,
        )
    )
    assert "1,990 calls placed today" in str(rendered)  # the caps' line is there


def progress(**overrides: Any) -> BatchProgress:
    values: dict[str, Any] = {"total": 5, "completed": 2, "queue_statuses": {"complete": 2, "queued": 3}}
    return BatchProgress(**(values | overrides))


def test_live_card_shows_progress_and_stop_while_running() -> None:
    info = BatchCardInfo("b-gen-batch", "Renewals", "U2", "U1", progress(), BatchState.RUNNING)
    rendered = message_fits(*batch_card(info))
    assert "stop_batch" in buttons(rendered) and "2/5" in str(rendered)
    done = BatchCardInfo("b-gen-batch", "Renewals", "U2", "U1", progress(completed=5), BatchState.COMPLETED)
    assert buttons(message_fits(*batch_card(done))) == []


def test_live_card_with_oversized_label_and_statuses_fits() -> None:
    statuses = {f"status_{i}_{HUGE[:100]}": i for i in range(300)}
    info = BatchCardInfo(
        "b" * 100, HUGE, "U2", "U1", progress(queue_statuses=statuses), BatchState.RUNNING, note=HUGE[:2900]
    )
    message_fits(*batch_card(info))


def text_of(rendered: list[dict[str, Any]]) -> str:
    return "\n".join(
        str(b.get("text", {}).get("text", ""))
        + "".join(str(e.get("text", "")) for e in b.get("elements", []))
        for b in rendered
    )


def test_once_sent_the_approval_card_is_the_batch_card_decision_progress_stop_then_tally() -> None:
    sent = request(state=RequestState.SENT, approver="U2", batch_id="b1", decided_at=1_800_000_100.0)
    running = BatchCardInfo("b1", "Renewals", "U2", "U1", progress(), BatchState.RUNNING)
    rendered = message_fits(
        *approval_card(sent, placeholders=[], redact=True, pricing=Pricing.of("start"), batches=[running])
    )
    shown = text_of(rendered)
    # The decision, then the running batch and its buttons, before the details.
    assert shown.index("Approved by <@U2>") < shown.index("2/5") < shown.index("*Details*")
    assert buttons(rendered) == ["stop_batch", "refresh_batch"]
    assert "requested by" not in shown and "expires" not in shown  # said once, in the lead; decided
    tally = "5 calls: 4 answered by a person, 1 reached voicemail · cost $0.70"
    done = BatchCardInfo(
        "b1", "Renewals", "U2", "U1", progress(completed=5), BatchState.COMPLETED, tally=tally
    )
    text, blocks = approval_card(
        sent, placeholders=[], redact=True, pricing=Pricing.of("start"), batches=[done]
    )
    finished = message_fits(text, blocks)
    assert buttons(finished) == [] and f"*{tally}*" in text_of(finished) and "✅ Completed" in text
    assert "Queue statuses" not in text_of(finished)  # the tally says it; the thread has the breakdown
    # Without a tracked batch (one sent before cards became batch cards), the card shows the stamp alone.
    alone = message_fits(*approval_card(sent, placeholders=[], redact=True, pricing=Pricing.of("start")))
    assert buttons(alone) == [] and "sent as batch `b1`" in text_of(alone)


def test_a_card_of_waves_shows_each_sent_wave_and_stop_for_those_running() -> None:
    parent = request(state=RequestState.SENT, approver="U2", waves=3)
    waves = [
        request(id=f"req1w{i}", parent_id="req1", wave=i, state=RequestState.SENT, batch_id=f"b{i}", call_count=2)
        for i in (1, 2)
    ] + [request(id="req1w3", parent_id="req1", wave=3, state=RequestState.APPROVED, send_at=1_800_007_200.0,
                 call_count=1)]  # fmt: skip
    first = BatchCardInfo(
        "b1", "Renewals", "U2", "U1", progress(total=2, completed=2), BatchState.COMPLETED, tally="2 calls: …"
    )
    second = BatchCardInfo("b2", "Renewals", "U2", "U1", progress(total=2, completed=0), BatchState.RUNNING)
    rendered = message_fits(
        *approval_card(
            parent,
            placeholders=[],
            redact=True,
            pricing=Pricing.of("start"),
            waves=waves,
            batches=[first, second],
        )
    )
    shown = text_of(rendered)
    assert "*Wave 1* · 2 calls · sent as batch `b1` · ✅ Completed 2/2 · 2 calls: …" in shown
    assert "*Wave 2* · 2 calls · sent as batch `b2` · 📞 Running 0/2" in shown
    assert "*Wave 3* · 1 call · :alarm_clock: scheduled" in shown
    # The running wave in full, with its Stop; the waves not started can be cancelled.
    assert [v for v in buttons(rendered)] == ["stop_batch", "refresh_batch", "cancel_batch"]


def batch(calls: int, *, text: str = "ok") -> Batch:
    return Batch.model_validate(
        {
            "status": "completed",
            "batch_params": {"label": "Renewals"},
            "call_data": [
                {
                    "call_id": f"c{i}",
                    "to": f"+1415555{i % 10_000:04d}",
                    "queue_status": "complete" if i % 7 else "call_error",
                    "call_length": (i % 300) / 60,
                    "answered_by": ["human", "voicemail"][i % 2],
                    "error_message": text if i % 7 == 0 else None,
                    "transcripts": [{"user": "user", "text": text}],
                }
                for i in range(calls)
            ],
        }
    )


def test_the_cards_tally_counts_each_call_once_in_words() -> None:
    # c0 and c7 failed (call_error); of the others, odd ones reached voicemail, even ones a person.
    with BatchResults(redact=True, pricing=Pricing.of("start")) as results:
        for call in batch(8).call_data:
            results.add(call)
        line = tally_line(results)
    assert line.startswith("8 calls: 3 answered by a person, 3 reached voicemail, 2 failed · cost "), line
    with BatchResults(redact=True, pricing=Pricing.of("start")) as one:
        one.add(batch(2).call_data[1])
        assert tally_line(one).startswith("1 call: 1 reached voicemail · cost ")


def test_summary_and_csv_cover_every_call() -> None:
    with BatchResults.of(batch(20).call_data, redact=True, pricing=Pricing.of("start")) as results:
        rendered = message_fits(*batch_summary(results, None, label="Renewals"))
        rows = list(csv.DictReader(io.StringIO(results.csv())))
    assert "Call lengths" in str(rendered)
    assert len(rows) == 20 and all("•" in row["to"] for row in rows)


def test_summary_of_ten_thousand_calls_with_long_errors_fits() -> None:
    with BatchResults.of(
        batch(10_000, text=HUGE).call_data, redact=True, pricing=Pricing.of("start")
    ) as results:
        rendered = message_fits(*batch_summary(results, None, label=HUGE, stopped_by="U3"))
    assert "stopped" in str(rendered).lower()


def test_batches_list_fits_with_many_long_entries() -> None:
    entries: list[tuple[BatchRequest, dict[str, Any] | None]] = [
        (request(id=f"r{i}", label=HUGE[:80], batch_id=f"b{i}"), {"completed": 1, "total": 2})
        for i in range(200)
    ]
    message_fits(*batches_list(entries))
    text, blocks = batches_list([])
    assert "No batch" in message_fits(text, blocks)[0]["text"]["text"]
