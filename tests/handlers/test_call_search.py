"""`/bland calls`: recent calls through Bland's list, filtered, ten at a time, only to the asker."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, CAROL, OPS_CHANNEL, Sandbox, block_text


async def calls_answer(box: Sandbox, args: str, user: str = ALICE) -> dict[str, Any]:
    before = len(box.slack.responses)
    await box.command(f"calls {args}".strip(), user=user)
    answers: list[dict[str, Any]] = await box.until(
        lambda: box.slack.responses[before:], what=f"the answer to calls {args}"
    )
    return answers[-1]


def ids_in(answer: dict[str, Any]) -> list[str]:
    """The calls listed, in order: each row's View button opens its call."""
    return [
        b["accessory"]["value"]
        for b in answer.get("blocks") or []
        if (b.get("accessory") or {}).get("action_id") == ActionId.VIEW_CALL
    ]


async def test_calls_lists_every_call_newest_first_ten_at_a_time_with_filters(tmp_path: Path) -> None:
    # Build: 25 calls within minutes are more than Start's 10 at once, and Bland would reject the rest.
    async with Sandbox(tmp_path / "c.db", bland_plan="build", operator_users=(ALICE,)) as box:
        box.sim.config.error_rate = 0.3
        bland = box.bot.deps.bland
        placed = []
        for i in range(25):  # placed outside Slack: Bland's list has them all the same
            sent = await bland.send_call({"phone_number": f"+1415555{1000 + i:04d}", "task": "Hello"})
            placed.append(str(sent.call_id))
            await box.advance(1)
        await box.advance(600)
        newest = list(reversed(placed))

        first = await calls_answer(box, "")
        assert first["response_type"] == "ephemeral" and ids_in(first) == newest[:10]
        shown = block_text(first["blocks"])
        assert "+1415555" not in shown  # masked
        assert shown.count("<!date^") == 10 and shown.count("placed outside Slack") == 10  # when, and by whom
        assert not re.search(r"`[0-9a-f-]{36}`", shown)  # no UUIDs to read: View opens the call
        before = len(box.slack.responses)
        await box.click(ActionId.VIEW_CALL, newest[0])
        opened = (await box.until(lambda: box.slack.responses[before:], what="the call, opened"))[-1]
        assert opened["response_type"] == "ephemeral" and f"Call result · {newest[0]}" in block_text(
            opened["blocks"]
        )
        more = next(
            e
            for b in first["blocks"]
            for e in b.get("elements", [])
            if e.get("action_id") == ActionId.MORE_CALLS
        )
        before = len(box.slack.responses)
        await box.click(ActionId.MORE_CALLS, more["value"])
        second = (await box.until(lambda: box.slack.responses[before:], what="the next page"))[-1]
        assert second["replace_original"] is True and ids_in(second) == newest[10:20]

        failed = [cid for cid in newest if box.sim.calls[cid].outcome != "complete"]
        assert failed and ids_in(await calls_answer(box, "status:failed")) == failed[:10]
        ending = box.sim.calls[placed[3]].to[-4:]
        assert ids_in(await calls_answer(box, ending)) == [placed[3]]
        assert ids_in(await calls_answer(box, "date:1999-01-01")) == []
        assert "not a filter I know" in str((await calls_answer(box, "colour:blue"))["text"])
        assert "YYYY-MM-DD" in str((await calls_answer(box, "date:tuesday"))["text"])
        assert "not allowed to look up calls" in str((await calls_answer(box, "", user=CAROL))["text"])


async def test_calls_of_one_batch(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "b.db") as box:
        bland = box.bot.deps.bland
        await bland.send_call({"phone_number": "+14155550100", "task": "Hello"})
        rows = [{"phone_number": f"+1415555{i:04d}"} for i in range(200, 203)]
        batch_id = str((await bland.send_batch({"base_prompt": "Hi", "call_data": rows})).batch_id)
        answer = await calls_answer(box, f"batch:{batch_id}")
        assert sorted(ids_in(answer)) == sorted(box.sim.batches[batch_id]["call_ids"])
        assert "More" not in str(answer["blocks"])


async def test_admins_export_the_matching_calls_as_csv_masked_unless_asked(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "e.db", admin_users=(ALICE,)) as box:
        bland = box.bot.deps.bland
        for i in range(5):
            await bland.send_call({"phone_number": f"+1415555{2000 + i:04d}", "task": "Hello"})
        await box.advance(600)
        await box.command("export calls 2003", user=ALICE)
        files = await box.until(lambda: box.slack.files_in(OPS_CHANNEL), what="the export")
        rows = list(csv.DictReader(io.StringIO(files[0].content.decode())))
        assert len(rows) == 1 and rows[0]["to"].endswith("2003") and "•" in rows[0]["to"]
        assert "+14155552003" not in files[0].content.decode()
        await box.command("export calls", user=CAROL)
        refused = await box.until(
            lambda: [r for r in box.slack.responses if "export calls" in str(r.get("text"))], what="refusal"
        )
        assert "not allowed" in str(refused[-1]["text"])
        audit = [(a.action, a.outcome, a.actor) for a in await box.bot.deps.store.audit.since(0)]
        assert ("calls.export", "uploaded", ALICE) in audit
