"""Retention and erasure, through the real app on a moved clock: what is personal goes when its time
comes, the audit still answers who did what, and `/bland forget` leaves no trace of a number in any table."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from bot.ids import ActionId
from bot.logs import setup_logging
from bot.payloads import BatchPayload
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, response_json
from tests.handlers.test_batches import APPROVALS, click, numbers, request
from tests.handlers.test_calls import NUMBER, open_modal, send
from tests.helpers import card_text, request_id_of

DAY = 86400.0
# How people and systems write NUMBER.
FORMS = ("+14155550123", "4155550123", "(415) 555-0123", "415-555-0123", "415.555.0123", "415 555 0123")


async def traces(box: Sandbox, forms: tuple[str, ...] = FORMS) -> list[str]:
    """Every cell, of every column of every table, that holds one of the forms: `table.column: form`.

    Read with the database's own driver, independently of the bot's code: sqlite3 for a file, asyncpg
    (over the information schema) for PostgreSQL."""
    cells: list[tuple[str, str, str]] = []
    if "://" not in box.db_path:
        with sqlite3.connect(box.db_path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for column in [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]:
                    cells += [
                        (table, column, v)
                        for (v,) in db.execute(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"')
                    ]
    else:
        import asyncpg  # type: ignore[import-untyped]

        url, _, schema = box.db_path.partition("?schema=")
        db = await asyncpg.connect(url)
        try:
            columns = await db.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1",
                schema,
            )
            for table, column in columns:
                rows = await db.fetch(f'SELECT CAST("{column}" AS TEXT) FROM "{schema}"."{table}"')
                cells += [(table, column, r[0]) for r in rows]
        finally:
            await db.close()
    return [f"{t}.{c}: {form}" for t, c, value in cells for form in forms if value and form in value]


def box_with_roles(where: Path | str, **overrides: Any) -> Sandbox:
    return Sandbox(
        where if isinstance(where, str) else where / "r.db",
        approver_users=(ALICE, BOB),
        admin_users=(CAROL,),
        approval_channel=APPROVALS,
        **overrides,
    )


async def reply_to(box: Sandbox, text: str, user: str) -> str:
    before = len(box.slack.responses)
    assert (await box.command(text, user=user)).status_code == 200
    answers = await box.until(lambda: box.slack.responses[before:], what=f"the answer to /bland {text}")
    return " ".join(block_text(a.get("blocks") or []) or str(a.get("text")) for a in answers)


async def test_finished_rows_lose_what_is_personal_after_retention_and_the_audit_still_answers(
    database_url: str,
) -> None:
    async with box_with_roles(database_url) as box:
        await send(box)
        card = await request(
            box, {"recipients_text": "phone,name,plan\n" + "\n".join(f"{n},A,b" for n in numbers(2))}
        )
        request_id = request_id_of(card)
        assert "Approved and sent" in await click(box, ActionId.APPROVE_BATCH, request_id, BOB, card)
        await box.run_until_done()
        before = await box.bot.deps.store.batch_requests.get(request_id)
        assert before is not None and before.payload and await traces(box)
        batch_forms = tuple(numbers(2))

        await box.advance(89 * DAY)
        later = "+14155550199"  # a call placed on day 89: not past retention on day 91
        await send(box, {"phone": later})
        await box.run_until_done()
        await box.tick()
        assert await traces(box), "nothing is scrubbed before RETENTION_DAYS"

        await box.advance(2 * DAY)
        await box.tick()
        assert await traces(box) == [] and await traces(box, batch_forms) == []
        assert await traces(box, (later,)), "the day-89 call keeps its details"
        after = await box.bot.deps.store.batch_requests.get(request_id)
        assert after is not None and after.payload == BatchPayload({}) and after.scrubbed_at is not None
        assert after.fingerprint == before.fingerprint and after.call_count == 2 and after.approver == BOB
        audit = [(a.actor, a.action, a.outcome) for a in await box.bot.deps.store.audit.since(0)]
        assert (BOB, "batch.approve", "approved") in audit and (ALICE, "call.send", "sent") in audit
        db = box.bot.deps.store.db
        now = box.clock.now()
        for sql, since in (
            ("SELECT COUNT(*) FROM outbox WHERE created_at < ?", now - 14 * DAY),
            ("SELECT COUNT(*) FROM webhook_events WHERE received_at < ?", now - 14 * DAY),
            ("SELECT COUNT(*) FROM notifications WHERE created_at < ?", now - 90 * DAY),
        ):
            row = await db.fetchone(sql, (since,))
            assert row is not None and row[0] == 0, sql

        await box.advance(275 * DAY)  # day 366: the first day's audit entries and rows go
        await box.tick()
        targets = [(a.action, a.target) for a in await box.bot.deps.store.audit.since(0)]
        assert ("batch.approve", request_id) not in targets and targets, targets
        assert await box.bot.deps.store.batch_requests.get(request_id) is None
        assert await traces(box, (later,)) == []  # day 89 + 90 days: scrubbed too


async def test_retention_set_to_zero_keeps_everything(tmp_path: Path) -> None:
    async with box_with_roles(tmp_path, retention_days=0, audit_retention_days=0) as box:
        await send(box)
        await box.run_until_done()
        await box.advance(400 * DAY)
        await box.tick()
        assert await traces(box) and await box.bot.deps.store.audit.since(0)


async def test_forget_erases_a_number_from_every_table_and_it_is_never_dialled_again(
    database_url: str,
) -> None:
    async with box_with_roles(database_url) as box:
        await send(box, {"task": "If busy, they asked us to call (415) 555-0123 after 5pm."})
        await box.run_until_done()
        others = numbers(2, start=300)
        rows = "\n".join(f"{n},P,gold" for n in [NUMBER, *others])
        card = await request(
            box,
            {"recipients_text": f"phone,name,plan\n{rows}", "approver_note": "Owner at 415.555.0123 agreed."},
        )
        request_id = request_id_of(card)
        first = await box.bot.deps.store.batch_requests.get(request_id)
        await reply_to(box, f"dnc add {NUMBER} asked by email", ALICE)
        assert await traces(box)

        refused = await reply_to(box, f"forget {NUMBER}", BOB)
        assert "needs the admin role" in refused and f"ask <@{CAROL}>" in refused  # who can help, by name
        assert "Usage: `/bland forget <number>`" in await reply_to(box, "forget", CAROL)
        assert "is not a phone number" in await reply_to(box, "forget call-me-maybe", CAROL)
        answer = await reply_to(box, "forget +1 (415) 555-0123", CAROL)
        assert "Forgot `+•••••••0123`" in answer
        assert "1 row(s) of 1 batch request(s)" in answer and "the details of 1 call(s)" in answer
        assert "not the bot's to delete" in answer and f"archives/{OPS_CHANNEL}/p" in answer
        assert not any(form in answer for form in FORMS)

        assert await traces(box) == [], "no table holds the number in any form"
        changed = await box.bot.deps.store.batch_requests.get(request_id)
        assert first is not None and changed is not None and changed.state == "pending"
        assert changed.call_count == 2 and changed.fingerprint != first.fingerprint
        await box.until(
            lambda: "erased 1 row(s)" in box.thread_text(APPROVALS, card.ts), what="the thread note"
        )
        assert "*2 calls*" in card_text(box.slack, card)
        forgot = [a for a in await box.bot.deps.store.audit.since(0) if a.action == "number.forget"]
        assert len(forgot) == 1 and forgot[0].actor == CAROL and str(forgot[0].target).startswith("hmac:")

        # Approved now, the batch dials the two numbers left, and the forgotten one never again.
        assert "Approved and sent" in await click(box, ActionId.APPROVE_BATCH, request_id, BOB, card)
        batch = next(iter(box.sim.batches.values()))
        assert {box.sim.calls[c].to for c in batch["call_ids"]} == set(others)
        refused_call = response_json(
            await box.submit_view(await open_modal(box), {"phone": NUMBER, "task": "Hi"})
        )
        assert "do-not-call" in refused_call["errors"]["phone"]
        assert "a forgotten number" in await reply_to(box, "dnc list", ALICE)
        assert await traces(box) == []


async def test_logs_mask_numbers_and_hold_no_transcript_even_at_debug(tmp_path: Path) -> None:
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *logging.root.manager.loggerDict)}
    async with box_with_roles(tmp_path, log_level="DEBUG") as box:
        setup_logging(box.bot.deps.settings)
        handler = logging.getLogger().handlers[0]
        stream = io.StringIO()
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        try:
            card = await send(box, {"task": "Remind them the code is 7731."})
            await box.run_until_done()
            thread = box.thread_text(OPS_CHANNEL, card.ts)
            assert "Callee: " in thread  # the transcript reached Slack
            logging.getLogger("bot.test").info("callee was %s", NUMBER)
        finally:
            root.handlers.clear()
            for name, level in levels.items():  # the rest of the suite logs as before
                logging.getLogger(name).setLevel(level)
        logged = stream.getvalue()
        assert "callee was •••0123" in logged, "the handler saw the lines"
        assert not any(form in logged for form in FORMS[:2])
        spoken = [line.split(": ", 1)[1] for line in thread.splitlines() if line.startswith("Callee: ")]
        assert spoken and not any(words in logged for words in spoken if len(words) > 12)
        assert "code is 7731" not in logged


# Every written form of NUMBER, its local one included, as bytes on disk or in a dump.
WRITTEN = re.compile(rb"(?<!\d)(?:\+?1[\s.\-()]{0,2})?(?:\(?415\)?[\s.\-]{0,2})?555[\s.\-]{0,2}0123(?!\d)")


async def test_forget_leaves_no_written_form_on_disk_nor_in_a_dump(database_url: str) -> None:
    async with box_with_roles(database_url) as box:
        await send(box, {"task": "Call back on (415) 555-0123 or 555-0123 after five."})
        await box.run_until_done()
        assert "Forgot `+•••••••0123`" in await reply_to(box, f"forget {NUMBER}", CAROL)
        if "://" in box.db_path:
            schema = database_url.split("schema=")[1]
            dump = await asyncio.create_subprocess_exec(
                "pg_dump", "--data-only", "--schema", schema, database_url.split("?")[0],
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            dumped, _ = await dump.communicate()
            assert dump.returncode == 0 and b"COPY" in dumped
            assert WRITTEN.findall(dumped) == [], "pg_dump holds the number"
    if "://" not in database_url:  # the stopped file, its write-ahead log included
        folder = Path(database_url).parent
        for path in sorted(folder.iterdir()):
            held = WRITTEN.findall(await asyncio.to_thread(path.read_bytes))
            assert held == [], f"{path.name} holds {held[:3]}"
