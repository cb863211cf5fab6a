"""The "Request a batch" form: recipients CSV and prompt validated into the exact payload to freeze."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bot.caps import CapCheck
from bot.errors import FormErrors
from bot.flows.call_settings import CallSettings, parse_call_settings
from bot.ids import BlockId, Option
from bot.limits import FREE_TEXT_MAX_CHARS, LABEL_MAX_CHARS, NOTE_MAX_CHARS, PROMPT_MAX_CHARS
from bot.payloads import BatchPayload, label_marker
from bot.phones import to_e164

PHONE_COLUMNS = ("phone", "phone_number", "number")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
CSV_MAX_BYTES = 2 * 1024 * 1024
SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class Recipients:
    """Parsed CSV: the phone column's name, the other columns, and one dict per row (E.164 numbers)."""

    phone_column: str
    columns: list[str]
    rows: list[dict[str, str]]
    lines: list[int]  # the CSV line of each row, for messages
    skipped: tuple[str, ...] = ()  # rows left out at the requester's word: `line 4: not a phone number`


class RowProblems(ValueError):
    """Rows with problems, every one found (not only the first kind); `good` holds the other rows, should the
    requester choose to leave the others out."""

    def __init__(self, message: str, good: Recipients, skipped: list[str]) -> None:
        super().__init__(message)
        self.good = good
        self.skipped = skipped


@dataclass(frozen=True)
class BatchForm:
    """A validated batch request, before it is frozen."""

    label: str
    base_prompt: str
    recipients: Recipients
    placeholders: list[str]
    max_duration: float
    voice: str | None = None
    from_number: str | None = None
    test_mode: bool = False
    record: bool = False
    note: str | None = None
    channel: str = ""
    excluded: tuple[str, ...] = ()  # masked numbers left out: on the do-not-call list
    outside_rows: int = 0  # rows outside calling hours when requested
    start_at: float | None = None  # when it should start (the bot holds it until then)
    wave_plan: tuple[tuple[float, int], ...] = ()  # when its rows would go out, if approved at once
    settings: CallSettings = field(default_factory=CallSettings)
    cap_check: CapCheck | None = None  # the plan's caps, as counted when it was checked

    @property
    def call_count(self) -> int:
        """Return how many calls Bland will dial (test mode dials only the first row)."""
        return 1 if self.test_mode else len(self.recipients.rows)

    def payload(self, request_id: str) -> BatchPayload:
        """Return the POST /v1/batches body; the label carries the request id for reconciliation."""
        body: dict[str, Any] = {
            "label": tagged_label(self.label, request_id),
            "base_prompt": self.base_prompt,
            "call_data": [
                {"phone_number": row[self.recipients.phone_column]}
                | {k: v for k, v in row.items() if k != self.recipients.phone_column}
                for row in self.recipients.rows
            ],
            "max_duration": self.max_duration,
            "test_mode": self.test_mode,
            "metadata": {"source": "blandbot", "bot_request_id": request_id},
        }
        if self.voice:
            body["voice"] = self.voice
        if self.from_number:
            body["from"] = self.from_number
        if self.record:
            body["record"] = True
        body.update(self.settings.fields())
        return BatchPayload(body)


def tagged_label(label: str, request_id: str) -> str:
    """Return the label sent to Bland: the person's label plus the request id marker."""
    return f"{label} {label_marker(request_id)}"


def template_csv(placeholders: list[str]) -> str:
    """A recipients CSV to fill in: `phone` and one column per placeholder, with an example row."""
    header = ["phone", *placeholders]
    example = ["+14155550123", *(f"<{name}>" for name in placeholders)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([header, example])
    return out.getvalue()


def placeholders_in(prompt: str) -> list[str]:
    """Return the distinct {{placeholders}} of a prompt, in order of appearance."""
    return list(dict.fromkeys(match.strip() for match in PLACEHOLDER.findall(prompt)))


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:SHOWN_PROBLEMS])
    more = len(numbers) - SHOWN_PROBLEMS
    return shown + (f" and {more} more" if more > 0 else "")


def decode_csv(content: bytes, filename: str) -> str:
    """Return a CSV file's text, or raise ValueError saying why it is refused."""
    if len(content) > CSV_MAX_BYTES:
        raise ValueError(
            f"{filename} is {len(content) / 1024 / 1024:.1f} MB; the limit is "
            f"{CSV_MAX_BYTES // 1024 // 1024} MB. Split it into several batches."
        )
    if b"\x00" in content:
        raise ValueError(f"{filename} is not a CSV file (it holds binary data). Export it as CSV.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            raise ValueError(f"{filename} is not a text CSV file. Save it as CSV (UTF-8).") from None


def header_of(text: str | None) -> list[str]:
    """Return the column names of a CSV's first line (empty when there is none)."""
    first = (text or "").strip("\ufeff\r\n ").split("\n", 1)[0]
    if not first:
        return []
    delimiter = max(",;\t", key=first.count)
    return [cell.strip() for cell in next(csv.reader([first], delimiter=delimiter))]


SNIFF_SAMPLE_CHARS = 64 * 1024


def _dialect(text: str) -> type[csv.Dialect]:
    """Return RFC 4180 CSV (quoted cells, doubled quotes, quoted newlines) with the file's delimiter.

    The delimiter is sniffed over a sample of the whole file, not the header alone, and must occur in
    the header; otherwise the header's most frequent of `,` `;` tab wins. Quoting is never sniffed:
    a header has no quotes to learn from, and `""` inside quotes is always an escaped quote.
    """
    sample = text[:SNIFF_SAMPLE_CHARS]
    header = sample.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(sample, ",;\t").delimiter
    except csv.Error:
        delimiter = ""
    if delimiter not in header or not delimiter:
        delimiter = max(",;\t", key=header.count)

    class Recipients(csv.excel):
        pass

    Recipients.delimiter = delimiter
    return Recipients


def _rows_within(reader: Any, max_rows: int) -> list[tuple[int, list[str]]]:
    """Read the non-blank rows; refuse a list longer than `max_rows` before any number is checked.

    Checking a number is the costly part of a row (tens of µs); an over-long list is refused after the
    cheap CSV split alone, and the rest of it is only counted, for the message."""
    rows: list[tuple[int, list[str]]] = []
    for row in reader:
        if any(cell.strip() for cell in row):
            if len(rows) == max_rows:
                total = max_rows + 1 + sum(1 for rest in reader if any(cell.strip() for cell in rest))
                raise ValueError(
                    f"{total} rows is more than BATCH_MAX_CALLS ({max_rows}). Split the list into batches."
                )
            rows.append((reader.line_num, row))
    return rows


def parse_recipients(text: str, *, default_region: str, max_rows: int) -> Recipients:
    """Parse recipients CSV; raise ValueError naming the first bad rows by line number."""
    stripped = text.strip("\ufeff\r\n ")
    if not stripped:
        raise ValueError("The recipients CSV is empty: give a header row and one row per call.")
    reader = csv.reader(io.StringIO(stripped), _dialect(stripped))
    try:
        header = [cell.strip() for cell in next(reader)]
        raw_rows = _rows_within(reader, max_rows)
    except csv.Error as exc:
        raise ValueError(f"The recipients are not valid CSV (line {reader.line_num}): {exc}.") from None
    lowered = [name.lower() for name in header]
    phone_index = next((lowered.index(name) for name in PHONE_COLUMNS if name in lowered), None)
    if phone_index is None:
        raise ValueError(
            "No phone column: the header row needs a column named phone, phone_number or number "
            f"(found: {', '.join(header) or 'nothing'})."
        )
    if len(set(lowered)) != len(lowered):
        twice = sorted({h for h in header if lowered.count(h.lower()) > 1})
        raise ValueError(f"The header names a column twice: {', '.join(twice)}.")
    if any(not name for name in header):
        raise ValueError("Every column in the header row needs a name.")
    phone_column = header[phone_index]
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    bad_numbers: list[int] = []
    bad_width: list[int] = []
    first_problem = ""
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    skipped: list[str] = []
    for line, cells in raw_rows:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            bad_width.append(line)
            skipped.append(f"line {line}: {len(cells)} values, not {len(header)}")
            continue
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        try:
            row[phone_column] = to_e164(row[phone_column], default_region)
        except ValueError as exc:
            bad_numbers.append(line)
            first_problem = first_problem or str(exc)
            skipped.append(f"line {line}: not a valid phone number")
            continue
        number = row[phone_column]
        if number in seen:
            duplicates.append(f"lines {seen[number]} and {line}")
            skipped.append(f"line {line}: the same number as line {seen[number]}")
            continue
        seen[number] = line
        rows.append(row)
        lines.append(line)
    good = Recipients(phone_column=phone_column, columns=header, rows=rows, lines=lines)
    problems = []
    if bad_width:
        problems.append(
            f"Line {_lines(bad_width)}: expected {len(header)} values as in the header row "
            "(quote values that contain commas)."
        )
    if bad_numbers:
        problems.append(f"Invalid phone number on line {_lines(bad_numbers)} (first: {first_problem})")
    if duplicates:
        more = len(duplicates) - SHOWN_PROBLEMS
        listed = "; ".join(duplicates[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        problems.append(f"The same number appears more than once ({listed}).")
    if problems:
        raise RowProblems(" ".join(problems), good, skipped)
    if not rows:
        raise ValueError("The recipients CSV has a header but no rows.")
    return good


def check_placeholders(prompt: str, recipients: Recipients) -> list[str]:
    """Return the prompt's placeholders; raise ValueError when a column or a value is missing."""
    names = placeholders_in(prompt)
    columns = set(recipients.columns)
    missing = [name for name in names if name not in columns]
    if missing:
        by_case = {c.lower(): c for c in recipients.columns}
        parts = []
        for name in missing:
            near = by_case.get(name.lower())
            hint = f" (the CSV has `{near}`: names are case-sensitive)" if near else ""
            parts.append(f"{{{{{name}}}}}{hint}")
        raise ValueError(f"No CSV column for {', '.join(parts)}. Add the column or change the prompt.")
    empty = empty_placeholder_lines(names, recipients)
    if empty:
        raise ValueError(f"Line {_lines(empty)} leaves a placeholder empty; fill every placeholder column.")
    return names


def empty_placeholder_lines(names: list[str], recipients: Recipients) -> list[int]:
    """The CSV lines whose row leaves one of the prompt's placeholders empty."""
    return [
        line
        for line, row in zip(recipients.lines, recipients.rows, strict=True)
        if any(not row.get(name) for name in names)
    ]


LEAVE_OUT_HINT = " Fix them, or tick 'Leave out the rows with problems' to send the rest."


def without_bad_rows(
    prompt: str, recipients: Recipients | None, problems: RowProblems | None, *, leave_out: bool
) -> tuple[Recipients | None, str | None]:
    """Every row problem at once (numbers, widths, duplicates, empty placeholders): the rows to send and
    nothing to say, or (leave_out unticked) the problems in one message. With leave_out the bad rows are
    taken out and named in `skipped`; a list with no good row left is still refused."""
    good = problems.good if problems is not None else recipients
    if good is None:
        return None, None
    messages = [str(problems)] if problems is not None else []
    skipped = list(problems.skipped) if problems is not None else []
    names = [n for n in placeholders_in(prompt) if n in set(good.columns)]
    empty = set(empty_placeholder_lines(names, good))
    if empty:
        messages.append(f"Line {_lines(sorted(empty))} leaves a placeholder empty.")
        skipped += [f"line {line}: a placeholder is empty" for line in sorted(empty)]
    if not messages:
        return good, None
    kept = [(row, line) for row, line in zip(good.rows, good.lines, strict=True) if line not in empty]
    if not leave_out:
        return None, " ".join(messages) + (LEAVE_OUT_HINT if kept else "")
    if not kept:
        return None, " ".join(messages) + " No row is left to send."
    order = sorted(skipped, key=lambda text: int(text.split(":")[0].removeprefix("line ")))
    return (
        replace(good, rows=[r for r, _ in kept], lines=[line for _, line in kept], skipped=tuple(order)),
        None,
    )


def parse_batch_form(
    values: dict[str, Any],
    *,
    csv_text: str | None,
    default_region: str,
    voices: tuple[str, ...],
    max_minutes: float,
    max_rows: int,
    channel: str,
) -> BatchForm:
    """Validate the modal's values (CSV already downloaded when a file was given); raise FormErrors."""
    errors: dict[str, str] = {}

    def text(block: str) -> str:
        return str(values.get(block) or "").strip()

    label = text(BlockId.BATCH_LABEL)
    if not label:
        errors[BlockId.BATCH_LABEL] = "Give the batch a label, so people can recognise it."
    elif len(label) > LABEL_MAX_CHARS:
        errors[BlockId.BATCH_LABEL] = f"At most {LABEL_MAX_CHARS} characters."
    prompt = text(BlockId.BASE_PROMPT)
    if not prompt:
        errors[BlockId.BASE_PROMPT] = "Write the prompt every call uses; {{column}} fills in from the CSV."
    elif len(prompt) > PROMPT_MAX_CHARS:
        errors[BlockId.BASE_PROMPT] = (
            f"The prompt is {len(prompt)} characters; the limit is {PROMPT_MAX_CHARS}."
        )

    pasted = text(BlockId.RECIPIENTS_TEXT)
    has_file = bool(values.get(BlockId.RECIPIENTS_FILE))
    recipients: Recipients | None = None
    if has_file and pasted:
        errors[BlockId.RECIPIENTS_TEXT] = "Upload a CSV file or paste CSV text, not both."
    elif not has_file and not pasted:
        errors[BlockId.RECIPIENTS_TEXT] = "Paste the recipients as CSV, or upload a CSV file above."
    elif (
        len(pasted) > FREE_TEXT_MAX_CHARS
    ):  # Slack's client stops it there; a submission may come from anywhere
        errors[BlockId.RECIPIENTS_TEXT] = (
            f"The pasted list is {len(pasted):,} characters; at most {FREE_TEXT_MAX_CHARS:,} can be pasted. "
            "Upload it as a CSV file above instead."
        )
    else:
        source = csv_text if has_file else pasted
        where = BlockId.RECIPIENTS_FILE if has_file else BlockId.RECIPIENTS_TEXT
        problems: RowProblems | None = None
        try:
            recipients = parse_recipients(source or "", default_region=default_region, max_rows=max_rows)
        except RowProblems as exc:
            problems = exc
        except ValueError as exc:
            errors[where] = str(exc)
        if where not in errors:
            leave_out = Option.LEAVE_OUT_BAD_ROWS in (values.get(BlockId.BATCH_OPTIONS) or [])
            recipients, said = without_bad_rows(prompt, recipients, problems, leave_out=leave_out)
            if said:
                errors[where] = said

    placeholders: list[str] = []
    if recipients is not None and prompt:
        try:
            placeholders = check_placeholders(prompt, recipients)
        except ValueError as exc:
            errors[BlockId.BASE_PROMPT] = str(exc)
    elif prompt and BlockId.BASE_PROMPT not in errors:
        # The rows were refused, but the header may still say which placeholders have no column.
        header = Recipients(
            phone_column="", columns=header_of(csv_text if has_file else pasted), rows=[], lines=[]
        )
        try:
            check_placeholders(prompt, header)
        except ValueError as exc:
            errors[BlockId.BASE_PROMPT] = str(exc)

    from_number = text(BlockId.FROM_NUMBER)
    if from_number:
        try:
            from_number = to_e164(from_number, default_region)
        except ValueError as exc:
            errors[BlockId.FROM_NUMBER] = str(exc)

    voice = text(BlockId.VOICE) or (voices[0] if voices else "")
    if voices and voice not in voices:
        errors[BlockId.VOICE] = f"Choose one of: {', '.join(voices)}."

    max_duration = 0.0
    try:
        max_duration = float(text(BlockId.MAX_DURATION) or "5")
        if not 0.5 <= max_duration <= max_minutes:
            raise ValueError
    except ValueError:
        errors[BlockId.MAX_DURATION] = f"Enter minutes between 0.5 and {max_minutes:g}."

    note = text(BlockId.APPROVER_NOTE)
    if len(note) > NOTE_MAX_CHARS:
        errors[BlockId.APPROVER_NOTE] = f"At most {NOTE_MAX_CHARS} characters."
    options = values.get(BlockId.BATCH_OPTIONS) or []
    settings = parse_call_settings(values, record=Option.RECORD in options, errors=errors)
    if errors or recipients is None:
        raise FormErrors(errors)
    return BatchForm(
        label=label,
        base_prompt=prompt,
        recipients=recipients,
        placeholders=placeholders,
        max_duration=max_duration,
        voice=voice or None,
        from_number=from_number or None,
        test_mode=Option.TEST_MODE in options,
        record=Option.RECORD in options,
        note=note or None,
        channel=channel,
        settings=settings,
    )
