"""Every builder, fed text that grows when escaped, huge text, many parts: within Slack's limits, every time.

Slack measures the text it receives, so `&` counts five (`&amp;`). Each input here broke a message once
(issue 24): a CRM export's cells, a transcript saying "AT&T" often, a label of ampersands, `/bland &&&…`,
200 variables, 100 schemas, 100 columns.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.bland.models import BackfillStatus, Call, CitationSchema, ConversationResult
from bot.blocks.approvals import approval_card
from bot.blocks.backfill_modals import backfill_confirm_view, backfill_modal
from bot.blocks.backfills import (
    BackfillCardInfo,
    backfill_card,
    backfill_failure,
    backfill_results,
    schema_list,
    schema_view,
    sms_results,
    workflow_status,
)
from bot.blocks.batch_modals import batch_modal, reject_modal
from bot.blocks.batches import (
    BatchCardInfo,
    BatchProgress,
    batch_card,
    batch_summary,
    batches_list,
    rerun_modal,
    stop_batch_button,
)
from bot.blocks.dnc import dnc_list
from bot.blocks.home import HomeData, home_view
from bot.blocks.limits import (
    MESSAGE_BLOCKS,
    MESSAGE_TEXT_TOTAL,
    SHORTENED_NOTE,
    fit_message,
    fit_view,
    message_problems,
    text_total,
    view_problems,
)
from bot.blocks.messages import (
    CallCardInfo,
    call_card,
    call_result,
    call_status,
    calls_found,
    help_blocks,
    notice,
    stop_call_prompt,
)
from bot.blocks.modals import call_modal, message_view
from bot.domain import BatchState, CallState, DncSource
from bot.mrkdwn import escape, fit, truncate, unescape
from bot.pricing import Pricing
from bot.store.dnc import DncEntry
from bot.tracking.batch_results import BatchResults
from handlers.commands import HELP
from tests.blocks.slack_limits import message_fits, view_fits
from tests.blocks.test_batches import request

HOSTILE_TEXTS = {
    "ampersands": "&" * 3000,
    "crm cells": "AT&T <west> <p>Call re: R&amp;D</p> " * 120,
    "pings": "<!channel> <!here> <@U0ADMIN> <#C0SECRET> " * 100,
    "emoji": "📞👩🏽‍💻🇺🇸 " * 800,
    "right to left": "مرحبا بالعالم שלום עולם " * 300,
    "transcript": ("Agent: Is this AT&T? " * 500)[:10_000],
}
HUGE = pytest.mark.parametrize("text", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())


def crm_rows(columns: int, rows: int = 5) -> list[dict[str, str]]:
    """A CRM export: every cell escapes to five times its length."""
    return [
        {"phone_number": f"+1415555{r:04d}"}
        | {f"col {c} <&>": f"AT&T <west> <p>R&amp;D</p> #{r}.{c}" for c in range(columns)}
        for r in range(rows)
    ]


def call_with(text: str, *, variables: int = 3) -> Call:
    return Call.model_validate(
        {
            "call_id": "c1",
            "to": "+14155550123",
            "queue_status": "call_error",
            "completed": True,
            "record": True,
            "summary": text,
            "error_message": text,
            "answered_by": text[:200],
            "call_ended_by": text[:200],
            "analysis": {f"{text[:40]} {i}": text for i in range(variables)},
            "variables": {f"var {i} {text[:30]}": text for i in range(variables)},
            "transcripts": [{"user": "user", "text": text}, {"user": "assistant", "text": text}],
        }
    )


# -- cutting text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 60, 299, 3000])
@HUGE
def test_fit_measures_after_escaping_and_never_splits_an_entity(text: str, limit: int) -> None:
    cut = fit(text, limit)
    assert len(cut) <= limit
    assert unescape(cut.removesuffix("…")) == text[: len(unescape(cut.removesuffix("…")))]
    assert "<" not in cut.replace("&lt;", "")  # nothing of the text turned into a token


def test_a_cut_never_lands_inside_a_mention_or_a_date() -> None:
    text = "Approved by <@U0123ABCDEF> at <!date^1800000000^{date_short}|2027-01-15>"
    for limit in range(2, len(text)):
        cut = truncate(text, limit)
        assert len(cut) <= limit
        assert cut.count("<") == cut.count(">"), cut


def test_a_short_text_is_escaped_and_not_cut() -> None:
    assert fit("AT&T", 20) == "AT&amp;T"
    assert fit("AT&T", 5) == "AT…"  # `&amp;` would not fit whole: cut before it, never through it


# -- messages ---------------------------------------------------------------------------------------


@HUGE
def test_the_approval_card_of_a_crm_export(text: str) -> None:
    payload = {"call_data": crm_rows(20), "base_prompt": text, "voice": text[:100], "max_duration": 3}
    card = approval_card(
        request(label=text, note=text, payload=payload),
        placeholders=[text[:50]] * 20,
        redact=True,
        pricing=Pricing.of("start", 0.09),
        hours=text,
    )
    message_fits(*card)


def test_the_approval_card_with_100_columns_shows_the_first_rows() -> None:
    payload = {"call_data": crm_rows(100), "base_prompt": "Hi", "max_duration": 3}
    rendered = message_fits(
        *approval_card(
            request(payload=payload), placeholders=[], redact=True, pricing=Pricing.of("start", 0.1)
        )
    )
    assert "•0000" in str(rendered)  # the first row is still there, masked


@HUGE
def test_call_messages(text: str) -> None:
    for variables in (3, 200):
        result = call_result(call_with(text, variables=variables), redact=True, retry=True)
        message_fits(result.text, result.blocks)
    message_fits(*call_status(call_with(text), redact=True))
    message_fits(*call_card(CallCardInfo("c1", "+14155550123", "U1", text, CallState.IN_PROGRESS, note=text)))
    message_fits(*calls_found([call_with(text)] * 10, described=text, more=text[:100], redact=True))
    message_fits(*stop_call_prompt("c1", "+14155550123"))
    message_fits(*notice(escape(text)))  # a notice is mrkdwn already


def test_a_transcript_that_says_at_and_t_47_times_is_posted_with_its_excerpt() -> None:
    line = "Caller: my provider is AT&T and "
    text = (line * 100)[:2800]
    assert text.count("AT&T") >= 47
    call = Call.model_validate(
        {
            "call_id": "c1",
            "to": "+14155550123",
            "queue_status": "complete",
            "completed": True,
            "transcripts": [{"user": "user", "text": text}],
        }
    )
    result = call_result(call, redact=True)
    rendered = message_fits(result.text, result.blocks)
    assert "AT&amp;T" in str(rendered)


@HUGE
def test_help_after_any_text_typed_after_bland(text: str) -> None:
    rendered = message_fits(*help_blocks(HELP, f"Unknown subcommand `{text}`."))
    assert "Bland operations console" in str(rendered)


def test_help_after_600_ampersands() -> None:
    rendered = message_fits(*help_blocks(HELP, f"Unknown subcommand `{'&' * 600}`."))
    assert "Bland operations console" in str(rendered)


@HUGE
def test_batch_messages(text: str) -> None:
    progress = BatchProgress(
        total=10_000, completed=5000, queue_statuses={text[:100] + str(i): i for i in range(50)}
    )
    card = BatchCardInfo("b1", text, "U2", "U1", progress, BatchState.RUNNING, note=text)
    message_fits(*batch_card(card))
    button = stop_batch_button("b1", text).to_dict()  # the stop confirmation is built from the label too
    assert len(button["confirm"]["text"]["text"]) <= 300
    batch_calls = [call_with(text)] * 3
    with BatchResults.of(batch_calls, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        message_fits(*batch_summary(results, None, label=text, stopped_by="U2"))
    entries: list[tuple[Any, dict[str, Any] | None]] = [
        (request(label=text), {"completed": 1, "total": 2}) for _ in range(40)
    ]
    message_fits(*batches_list(entries))


def test_a_label_of_48_ampersands_gives_a_live_card_and_its_stop_confirmation() -> None:
    label = "&" * 48 + " renewals for the west region, second pass"
    card = BatchCardInfo("b1", label, "U2", "U1", BatchProgress(total=6, completed=1), BatchState.RUNNING)
    rendered = message_fits(*batch_card(card))
    confirm = next(e["confirm"] for b in rendered if b["type"] == "actions" for e in b["elements"])
    assert confirm["text"]["text"].startswith("Calls of &amp;&amp;")


@HUGE
def test_backfill_and_schema_messages(text: str) -> None:
    many = {f"{text[:20]}{i}": text for i in range(200)}
    schema = CitationSchema.model_validate(
        {
            "id": "s1",
            "name": text[:200],
            "description": text,
            "schema": {
                "variables": [
                    {"name": f"{text[:30]}{i}", "type": "string", "description": text} for i in range(200)
                ],
                "groupings": [{"name": text[:40], "variables": [text[:40]] * 50}],
            },
        }
    )
    message_fits(*schema_view(schema))
    message_fits(*schema_list([schema] * 100, fallback=False))
    info = BackfillCardInfo(
        "bf1", "U1", 3, 1, [text[:100]] * 100, {f"backfill:{i}": text[:50] for i in range(100)}, 10.0
    )
    message_fits(*backfill_card(info))
    status = BackfillStatus.model_validate(
        {
            "workflow_id": "backfill:1",
            "status": "COMPLETED",
            "result": {
                "status": "partial",
                "calls": [
                    {
                        "call_id": f"c{i}",
                        "status": text[:50],
                        "previous_variables": many,
                        "newly_extracted_variables": many,
                    }
                    for i in range(30)
                ],
            },
        }
    )
    message_fits(*backfill_results(status, part=text[:30], schema_names={"s1": text}))
    failed = BackfillStatus(
        workflow_id="backfill:1", status=text[:200], start_time=text[:100], close_time=text[:100]
    )
    message_fits(*backfill_failure(failed, part="", call_count=1))
    message_fits(*workflow_status(failed))
    conversations = [
        ConversationResult(
            conversation_id=f"conv{i}", status=text[:50], error=text, newly_extracted_variables=many
        )
        for i in range(30)
    ]
    message_fits(*sms_results(conversations))


@HUGE
def test_do_not_call_list(text: str) -> None:
    entries = [DncEntry(f"+1415555{i:04d}", text, DncSource("manual"), "U1", 1.0) for i in range(60)]
    message_fits(*dnc_list(entries, 60, redact=True))


# -- views ------------------------------------------------------------------------------------------


@HUGE
def test_views(text: str) -> None:
    view_fits(call_modal(origin_channel="C1", voices=("maya",), max_minutes=10, phone=text[:40], task=text))
    typed = {"label": text, "prompt": text, "csv": text}
    view_fits(
        batch_modal(
            origin_channel="C1",
            voices=("maya",),
            max_minutes=10,
            max_calls=1000,
            typed=typed,
            problems={"csv": text, "label": text},
        )
    )
    view_fits(reject_modal(request_id="r1", label=text, origin_channel="C1"))
    view_fits(backfill_modal(origin_channel="C1", schemas=[(f"s{i}", text[:200]) for i in range(150)]))
    view_fits(
        backfill_confirm_view(
            backfill_id="bf1",
            origin_channel="C1",
            calls=10,
            schemas=[text[:100]] * 100,
            requests=1,
            conversations=0,
        )
    )
    view_fits(rerun_modal(batch_id="b1", label=text, counts={}, origin_channel="C1"))
    view_fits(message_view("Done", text))
    home = HomeData(
        user="U2",
        pending=[request(label=text, note=text)] * 30,
        mine=[request(label=text)] * 30,
        batches=[{"label": text, "batch_id": "b1", "completed": 1, "total": 2}] * 30,
        backfills=[text] * 30,
        calls=[{"to": "+14155550123", "state": text[:40], "call_id": "c1"}] * 30,
    )
    view_fits(home_view(home))


# -- the net behind the builders ----------------------------------------------------------------------


def test_a_message_over_every_limit_is_shrunk_and_keeps_what_it_cut() -> None:
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": escape("AT&T " * 2000)}}
    fields: dict[str, Any] = {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": "f" * 2500} for _ in range(14)],
    }
    blocks: list[dict[str, Any]] = [section, fields] + [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"part {i}"}} for i in range(70)
    ]
    assert message_problems(blocks)
    fitted = fit_message("fallback " * 1000, blocks)
    assert message_problems(fitted.blocks) == []
    assert text_total(fitted.blocks) <= MESSAGE_TEXT_TOTAL
    assert len(fitted.blocks or []) <= MESSAGE_BLOCKS
    assert (fitted.blocks or [])[-1]["elements"][0]["text"] == SHORTENED_NOTE
    assert "AT&T " * 2000 in fitted.overflow  # the whole text, unescaped, for the attached file
    assert "part 69" in fitted.overflow and "f" * 2500 in fitted.overflow


def test_a_message_that_fits_is_left_alone() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}]
    fitted = fit_message("fine", blocks)
    assert fitted.blocks is blocks and not fitted.shortened


def test_a_view_over_its_limits_is_shrunk() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title far longer than twenty-four"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}}] * 120,
    }
    assert view_problems(fit_view(view)) == []
