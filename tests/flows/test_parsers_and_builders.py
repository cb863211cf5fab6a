"""Parsers and builders, directly: the recipients CSV, batch summaries, backfill variable diffs."""

from __future__ import annotations

import csv
import io

import pytest

from bot.bland.models import BackfillCallResult, BackfillStatus, Batch, Call
from bot.blocks.backfills import backfill_results, call_diff_text, variable_diff
from bot.blocks.batches import bucket_counts, histogram
from bot.flows.batch_form import check_placeholders, decode_csv, parse_recipients, placeholders_in
from bot.payloads import BatchPayload
from bot.pricing import Pricing
from bot.tracking.batch_results import BatchResults


def parse(text: str, max_rows: int = 100):  # type: ignore[no-untyped-def]
    return parse_recipients(text, default_region="US", max_rows=max_rows)


def test_numbers_are_normalised_and_other_columns_kept() -> None:
    got = parse('Number,name,note\n(415) 555-0100,Ada,"hello, world"\n\n4155550101,Grace,x\n')
    assert got.phone_column == "Number"
    assert got.rows == [
        {"Number": "+14155550100", "name": "Ada", "note": "hello, world"},
        {"Number": "+14155550101", "name": "Grace", "note": "x"},
    ]
    assert got.lines == [2, 4]  # the blank line is skipped but still counted


def test_semicolons_tabs_and_a_byte_order_mark() -> None:
    assert parse("\ufeffphone;name\n+14155550100;Ada").rows[0]["name"] == "Ada"
    assert parse("phone\tname\n+14155550100\tAda").rows[0]["name"] == "Ada"
    assert decode_csv("phone\n+14155550100\n".encode("utf-8-sig"), "x.csv").startswith("phone")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phone,name\n+14155550100,Ada,extra", "Line 2: expected 2 values"),
        ("phone,Phone\n1,2", "names a column twice"),
        ("phone,\n+14155550100,x", "needs a name"),
        ("phone\n", "header but no rows"),
        ("", "empty"),
        ("phone\n" + "+14155550100\n" * 9, r"lines 2 and 3; .*; and 3 more\)"),
    ],
)
def test_bad_csv_is_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_bad_numbers_name_their_lines_and_the_first_problem() -> None:
    with pytest.raises(ValueError) as caught:
        parse("phone\n+14155550100\n12\n+14155550101\nabc")
    assert "line 3, 5" in str(caught.value) and "'12' is not a valid phone number" in str(caught.value)


def test_placeholders_need_columns_and_values() -> None:
    recipients = parse("phone,name\n+14155550100,Ada\n+14155550101,")
    assert placeholders_in("Hi {{ name }}, {{name}} and {{plan}}") == ["name", "plan"]
    with pytest.raises(ValueError, match="Line 3 leaves a placeholder empty"):
        check_placeholders("Hi {{name}}", recipients)
    with pytest.raises(ValueError, match=r"No CSV column for \{\{plan\}\}"):
        check_placeholders("{{plan}}", recipients)


def test_row_limit() -> None:
    with pytest.raises(ValueError, match="more than BATCH_MAX_CALLS"):
        parse("phone\n+14155550100\n+14155550101", max_rows=1)


def test_an_over_long_list_is_refused_before_its_numbers_are_checked() -> None:
    # Every number is bad: had they been checked first, the message would name them instead.
    text = "phone\n" + "not a number\n\n" * 70_000
    with pytest.raises(ValueError, match=r"^70000 rows is more than BATCH_MAX_CALLS \(10000\)"):
        parse(text, max_rows=10_000)
    with pytest.raises(ValueError, match="Invalid phone number"):
        parse(text, max_rows=70_000)


def test_fingerprint_is_stable_and_changes_with_the_payload() -> None:
    payload = {"call_data": [{"phone_number": "+14155550100"}], "label": "x"}
    assert BatchPayload(payload).fingerprint() == BatchPayload(dict(reversed(payload.items()))).fingerprint()
    assert BatchPayload(payload).fingerprint() != BatchPayload({**payload, "label": "y"}).fingerprint()


def test_histogram_scales_bars_to_the_biggest_bucket() -> None:
    lines = histogram(bucket_counts([1, 2, 3, 4, 20, 70, 400]), width=8).splitlines()
    assert lines[0].split() == ["0–15s", "████████", "4"]
    assert lines[1].split() == ["15–30s", "██", "1"]
    assert lines[2].split() == ["30–60s", "0"]
    assert lines[-1].split() == ["5m+", "██", "1"]


def test_batch_csv_masks_numbers_and_keeps_variables() -> None:
    batch = Batch.model_validate(
        {
            "status": "completed",
            "call_data": [
                {
                    "call_id": "c1",
                    "to": "+14155550100",
                    "queue_status": "complete",
                    "answered_by": "human",
                    "corrected_duration": "42",
                    "summary": "Renewed; call back at +14155550199.",
                    "analysis": {"renewed": True},
                },
                {
                    "call_id": "c2",
                    "to": "4155550101",
                    "queue_status": "call_error",
                    "error_message": "dropped",
                },
            ],
        }
    )
    with BatchResults.of(batch.call_data, redact=True, pricing=Pricing.of("start", 0.09)) as results:
        rows = list(csv.DictReader(io.StringIO(results.csv())))
    # Masked without the + (which a spreadsheet would read as a formula): no guard needed.
    assert rows[0]["to"] == "•••••••0100" and rows[0]["length_seconds"] == "42"
    assert "0199" in rows[0]["summary_or_transcript"] and "4155550199" not in rows[0]["summary_or_transcript"]
    assert rows[0]["renewed"] == "true" and rows[1]["renewed"] == ""  # each variable a column of its own
    assert rows[1]["status"] == "call_error" and rows[1]["summary_or_transcript"] == "dropped"


def test_the_result_file_is_the_requesters_list_in_its_order_each_row_with_its_call() -> None:
    rows = [
        {"phone_number": "+14155550100", "name": "Ada", "account": "A-1"},
        {"phone_number": "+14155550101", "name": "Grace", "account": "A-2"},
        {"phone_number": "+14155550102", "name": "Alan", "account": "A-3"},
    ]
    calls = [  # in Bland's order, not the list's; one found by its row (v2), one by its number (v1)
        Call.model_validate(
            {"call_id": "c3", "to": "+14155550102", "queue_status": "complete", "answered_by": "human",
             "corrected_duration": "30", "citations": [{"schema_id": "s", "variables": {"renewed": True}}]}
        ),
        Call.model_validate({"call_id": "c1", "to": "+1 415 555 0100", "metadata": {"row": 0},
                             "queue_status": "complete", "answered_by": "voicemail",
                             "variables": {"name": "Ada", "callback": "tomorrow"}}),
        Call.model_validate({"call_id": "c9", "to": "+14155550999", "queue_status": "complete"}),
    ]  # fmt: skip
    with BatchResults(
        redact=True, pricing=Pricing.of("build"), rows=rows, left_out=["+•••••••0105"]
    ) as results:
        for call in calls:
            results.add(call)
        table = list(csv.reader(io.StringIO(results.csv())))
    header, body = table[0], table[1:]
    assert header[:3] == ["phone", "name", "account"] and header[-2:] == ["renewed", "callback"]
    assert "variables" not in header and header.count("name") == 1  # the row's own values are not echoed
    by = [dict(zip(header, line, strict=True)) for line in body]
    assert [(r["phone"], r["name"], r["call_id"]) for r in by] == [
        ("•••••••0100", "Ada", "c1"),
        ("•••••••0101", "Grace", ""),
        ("•••••••0102", "Alan", "c3"),
        ("•••••••0105", "", ""),
        ("•••••••0999", "", "c9"),  # a call matched to no row comes last
    ]
    assert by[0]["callback"] == "tomorrow" and by[2]["renewed"] == "true" and by[0]["renewed"] == ""
    assert by[1]["status"].startswith("not dialled: no call found")
    assert by[3]["status"] == "not dialled: on the do-not-call list"


def test_variable_diffs_render_nested_values_and_truncate_long_ones() -> None:
    previous = {"order_id": "OLD-1", "same": 3, "products": []}
    new = {
        "order_id": "ORD-789",
        "same": 3,
        "products": [{"name": "Widget", "quantity": 2, "tags": ["a", "b"]}],
        "notes": "x" * 5000,
    }
    lines = variable_diff(previous, new)
    assert lines[0] == "• *order_id*: ORD-789 _(was OLD-1)_"
    assert lines[1] == "• *same*: 3 _(unchanged)_"
    assert '[{"name": "Widget", "quantity": 2, "tags": ["a", "b"]}]' in lines[2] and "_(was [])_" in lines[2]
    assert lines[3].startswith("• *notes*: xxx") and lines[3].endswith("… _(new)_") and len(lines[3]) < 260
    call = BackfillCallResult(
        call_id="c1",
        status="success",
        previous_variables=previous,
        newly_extracted_variables={f"v{i}": "y" * 190 for i in range(40)},
    )
    text = call_diff_text(call, {})
    _, blocks = backfill_results(
        BackfillStatus.model_validate(
            {"status": "COMPLETED", "result": {"status": "success", "calls": [call.model_dump()]}}
        ),
        part="",
        schema_names={},
    )
    assert len(text) > 3000  # forty long values
    assert all(
        len(b.to_dict().get("text", {}).get("text", "")) <= 3000 for b in blocks
    )  # but each block fits Slack


def test_quoted_cells_with_doubled_quotes_and_newlines_are_read_as_written() -> None:
    text = (
        'phone,name,note\r\n+14155550100,"Ada ""the first"" Lovelace","line one\nline two"\r\n'
        '+14155550101,Grace,"He said ""hi"", ok"\r\n'
    )
    rows = parse_recipients(text, default_region="US", max_rows=10).rows
    assert [r["name"] for r in rows] == ['Ada "the first" Lovelace', "Grace"]
    assert [r["note"] for r in rows] == ["line one\nline two", 'He said "hi", ok']


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_with_a_bom_are_read(delimiter: str) -> None:
    text = (
        "\ufeff"
        + delimiter.join(["phone", "name"])
        + "\n"
        + delimiter.join(["+14155550100", '"Gr;ace, A."'])
        + "\n"
    )
    rows = parse_recipients(text, default_region="US", max_rows=10).rows
    assert rows == [{"phone": "+14155550100", "name": "Gr;ace, A."}]


def test_exported_cells_never_run_as_formulas() -> None:
    from bot.blocks.format import csv_text

    text = csv_text(
        ["a", "b"], [['=HYPERLINK("http://x")', "+1"], ["-2", "@SUM(A1)"], ["\tx", "plain"], [None, 3]]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1:] == [
        ['\'=HYPERLINK("http://x")', "'+1"],
        ["'-2", "'@SUM(A1)"],
        ["'\tx", "plain"],
        ["", "3"],
    ]
