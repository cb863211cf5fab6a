"""User and Bland text never pings anyone: everything Slack is sent carries `<!channel>` & co. as text."""

from __future__ import annotations

from typing import Any

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, Sandbox, block_text
from tests.blocks.slack_limits import mrkdwn_texts
from tests.handlers.test_batches import APPROVALS, PROMPT, click, recipients, request
from tests.helpers import request_id_of

HOSTILE = "<!channel> <!here> <@U0ADMIN> <#C0SECRET> <https://evil.example|x> &"
TOKENS = ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<#C0SECRET>", "<https://evil")
NEWS = "C0NEWS"


BOX_SETTINGS = dict(
    approver_users=(ALICE, BOB), approval_channel=APPROVALS, batch_poll_seconds=15, notify_channel=NEWS
)


def everything_slack_was_sent(box: Sandbox) -> list[tuple[str, str]]:
    """Every text Slack would render as mrkdwn: fallback texts, blocks, views, file comments, replies."""
    sent: list[tuple[str, str]] = []
    for call in box.slack.calls:
        for key in ("text", "initial_comment"):
            if isinstance(call.args.get(key), str):
                sent.append((call.method, call.args[key]))
        for key in ("blocks", "view"):
            sent += [(call.method, text) for text in mrkdwn_texts(call.args.get(key))]
    for reply in box.slack.responses:
        sent += [("response_url", text) for text in mrkdwn_texts(reply)]
    return sent


def pings(box: Sandbox) -> list[str]:
    return [
        f"{method}: {text[:200]}"
        for method, text in everything_slack_was_sent(box)
        if any(t in text for t in TOKENS)
    ]


async def test_a_hostile_label_note_prompt_and_reason_reach_slack_as_text(box: Sandbox) -> None:
    inputs: dict[str, Any] = {
        "batch_label": HOSTILE,
        "approver_note": HOSTILE,
        "base_prompt": PROMPT + " " + HOSTILE,
        "recipients_text": recipients(2),
    }
    rejected = await request(box, inputs)
    await click(box, ActionId.REJECT_BATCH, request_id_of(rejected), BOB, rejected)
    reject_view = await box.until(
        lambda: [v for v in box.slack.views.values() if v.get("callback_id") == "reject_batch"],
        what="the reject modal",
    )
    await box.submit_view(reject_view[-1], {"reject_reason": HOSTILE}, user=BOB)
    await box.settle()
    approved = await request(box, inputs)
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(approved), BOB, approved)
    assert "Approved and sent" in answer
    await box.command(f"stop {next(iter(box.sim.batches))}", user=ALICE)
    await box.run_until_done()
    assert "&lt;!channel&gt;" in block_text(box.slack.message(APPROVALS, approved.ts).blocks)  # type: ignore[union-attr]
    assert [m for m in box.slack.channel_messages(NEWS)], "the notification lines were posted"
    found = pings(box)
    assert found == [], "\n".join(found)
