"""Slack failing (500s and 429s) while calls and a batch run: after it recovers, nothing lost, nothing twice."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, OPS_CHANNEL, Sandbox, block_text
from tests.handlers.test_batches import APPROVALS, click, request
from tests.handlers.test_calls import send
from tests.helpers import request_id_of

NEWS = "C0NEWS"
CALLS = 5


BOX_SETTINGS = dict(
    approver_users=(ALICE, BOB), approval_channel=APPROVALS, batch_poll_seconds=15, notify_channel=NEWS
)


@pytest.fixture(autouse=True)
def _calls_talk_for_thirty_seconds(box: Sandbox) -> None:
    box.sim.config.talk_seconds = 30


def texts(box: Sandbox, channel: str) -> list[str]:
    return [m.text for m in box.slack.channel_messages(channel)]


async def test_a_minute_of_slack_500s_and_429s_loses_nothing_and_repeats_nothing(box: Sandbox) -> None:
    cards = [await send(box, {"phone": f"+141555501{i:02d}"}) for i in range(CALLS)]
    approval = await request(box)
    assert "Approved and sent" in await click(
        box, ActionId.APPROVE_BATCH, request_id_of(approval), BOB, approval
    )
    await box.tick()  # the live card is up and polled once

    box.slack.start_outage()
    for _ in range(4):  # a minute of simulated time: the calls and the batch end while Slack fails
        await box.advance(15)
        await box.tick()
    failed = sum(1 for c in box.slack.calls if c.method in {"chat.postMessage", "chat.update"})
    box.slack.clear_faults()
    await box.run_until_done(step=30)

    assert failed > 0, "the outage was hit"
    for card in cards:
        thread = box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)
        assert len(thread) == 1, [m.text for m in thread]  # the result, once, in its thread
        assert "Completed" in block_text(box.slack.message(OPS_CHANNEL, card.ts).blocks)  # type: ignore[union-attr]
    assert len(box.slack.channel_messages(OPS_CHANNEL)) == CALLS  # nothing outside a thread
    batch_thread = box.slack.channel_messages(APPROVALS, thread_ts=approval.ts)
    assert len(batch_thread) == 1  # the summary, once (the batch's progress is on the approval card)
    assert len(box.slack.files_in(APPROVALS, approval.ts)) == 1
    shown = block_text(box.slack.message(APPROVALS, approval.ts).blocks)  # type: ignore[union-attr]
    assert f"Approved by <@{BOB}>" in shown and "Completed" in shown and "[Stop batch]" not in shown
    news = Counter(texts(box, NEWS))
    assert [line for line, n in news.items() if n > 1] == []  # no line twice
    completed = [line for line in news if "Call to" in line and "completed" in line]
    assert len(completed) == CALLS and any("Batch *Renewals* completed" in line for line in news)
    # A person's messages waiting together go as one, a line each.
    dms = Counter(line.removeprefix("• ") for text in texts(box, "D" + ALICE) for line in text.splitlines())
    assert [line for line, n in dms.items() if n > 1 and not line.endswith(" updates*")] == []
    assert sum("Your call to" in line for line in dms) == CALLS
    assert box.sim.count("calls.send") == CALLS and box.sim.count("batches.send") == 1  # nothing sent twice


async def test_a_notification_line_slack_refused_is_sent_by_the_next_poll_and_nothing_else_twice(
    box: Sandbox,
) -> None:
    card = await send(box)
    box.slack.fail_next(
        "chat.postMessage", status=500, retry_after=None, error="internal_error", channel=NEWS
    )
    await box.run_until_done(step=30)
    assert len(box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)) == 1  # the result, once
    lines = [line for line in texts(box, NEWS) if "Call to" in line]
    assert len(lines) == 1 and "completed" in lines[0]  # refused once, then sent by the next poll
    assert sum("Your call to" in line for line in texts(box, "D" + ALICE)) == 1


async def test_an_upload_host_failing_holds_a_result_file_back_only_as_long_as_any_slack_failure(
    box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    card = await request(box)
    await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    box.slack.upload_faults = [500, 500, 503]  # Slack's upload host fails three times
    await box.run_until_done(step=2)
    (shared,) = box.slack.files_in(APPROVALS, card.ts)
    assert b"call_id" in shared.content
    tries = [c.at for c in box.slack.calls_to("upload")]
    assert len(tries) == 4  # three failures, then the file
    assert tries[-1] - tries[0] < 15, tries  # the usual backoff (2, 4, 8 s), not the one for the unexpected
    assert "failed unexpectedly" not in caplog.text and "Traceback" not in caplog.text
    assert "upload host failed" in caplog.text
