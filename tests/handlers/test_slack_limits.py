"""Inputs that once broke Slack's limits, through the real app: each gets its card, result or help.

The Slack stand-in refuses what Slack refuses (`invalid_blocks`, `msg_blocks_too_long`), so a message that
would break a limit would be missing here, as it would be in a workspace.
"""

from __future__ import annotations

from bot.blocks.limits import MESSAGE_TEXT_TOTAL, SHORTENED_NOTE, message_problems, text_total
from bot.ids import ActionId
from bot.sandbox.harness import BOB, OPS_CHANNEL, Sandbox, block_text, response_json
from bot.store.outbox import Delivery
from tests.handlers.test_batches import BOX_SETTINGS, PROMPT, click, request

__all__ = ["BOX_SETTINGS"]  # the batch tests' set-up: the box fixture reads it from this module
from tests.handlers.test_calls import send
from tests.helpers import card_text, request_id_of


def crm_export(rows: int = 6, columns: int = 20) -> bytes:
    """A CSV exported from a CRM: every cell escapes to several times its length."""
    header = ["phone", "name", "plan"] + [f"Field {c} <&>" for c in range(columns)]
    lines = [",".join(header)]
    for r in range(rows):
        cells = [f"+1415555{r:04d}", f"Person {r}", "gold"]
        cells += ['"AT&T <west>"' if c % 2 else '"<p>Call re: R&amp;D</p>"' for c in range(columns)]
        lines.append(",".join(cells))
    return "\n".join(lines).encode()


async def test_an_uploaded_crm_export_gets_its_approval_card_and_is_stored(box: Sandbox) -> None:
    upload = box.slack.add_file("crm.csv", crm_export())
    card = await request(box, {"recipients_text": None, "recipients_file": [upload]})
    text = block_text(card.blocks)
    assert "*6 calls*" in text and "AT&amp;T &lt;west&gt;" in text
    assert message_problems(card.blocks) == [] and text_total(card.blocks) <= MESSAGE_TEXT_TOTAL
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.call_count == 6
    assert stored.payload.rows[0]["Field 1 <&>"] == "AT&T <west>"  # stored as typed


async def test_a_label_of_ampersands_gets_its_live_card_and_stop_confirmation(box: Sandbox) -> None:
    label = "&" * 48 + " renewals, west"
    card = await request(box, {"batch_label": label, "base_prompt": PROMPT})
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "Approved and sent" in answer, answer
    await box.advance(15)
    await box.tick()
    await box.settle()
    live = [m for m in box.slack.messages if "Stop batch" in block_text(m.blocks)]
    assert live, "no live card with its Stop button"
    confirm = next(
        e["confirm"]
        for b in live[-1].blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if "confirm" in e
    )
    assert "&amp;&amp;" in confirm["text"]["text"] and len(confirm["text"]["text"]) <= 300
    assert "&amp;" in card_text(box.slack, card)


async def test_bland_followed_by_600_ampersands_gets_the_help(box: Sandbox) -> None:
    body = response_json(await box.command("&" * 600))
    assert "Unknown subcommand" in body["text"]
    assert "/bland call" in block_text(body["blocks"])
    assert message_problems(body["blocks"]) == []


async def test_a_result_with_long_analysis_values_is_posted_with_the_whole_of_it_attached(
    box: Sandbox,
) -> None:
    box.sim.config.answered_by_mix = {"human": 1.0}
    box.sim.config.analysis_answers = {f"answer {i} & more": "AT&T <west> " * 150 for i in range(30)}
    names = [f"answer {i} & more" for i in range(30)]
    schema = await box.bot.deps.bland.create_schema(
        "Long answers",
        schema={"variables": [{"name": n, "type": "string", "description": "x"} for n in names]},
    )
    card = await send(box, {"citation_schemas": [schema.id], "options": ["record"]})
    await box.run_until_done(step=60)
    replies = box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)
    assert replies, "the result never reached the thread"
    assert all(
        message_problems(m.blocks) == [] and text_total(m.blocks) <= MESSAGE_TEXT_TOTAL for m in replies
    )


async def test_a_message_too_big_for_slack_is_shrunk_and_what_was_cut_follows_as_a_file(box: Sandbox) -> None:
    huge = "AT&amp;T &lt;west&gt; " * 700  # 15,400 characters as Slack counts them
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": huge[i : i + 2900]}}
        for i in range(0, 15_400, 2900)
    ]
    await box.bot.deps.outbox.add(
        Delivery(key="big:1", channel=OPS_CHANNEL, text="a long result", blocks=blocks)
    )
    await box.bot.deps.outbox.drain()
    await box.bot.deps.outbox.drain()
    posted = box.slack.channel_messages(OPS_CHANNEL)
    assert len(posted) == 1 and text_total(posted[0].blocks) <= MESSAGE_TEXT_TOTAL
    assert SHORTENED_NOTE in block_text(posted[0].blocks)
    files = box.slack.files_in(OPS_CHANNEL, posted[0].ts)
    assert len(files) == 1 and files[0].content.decode().count("AT&T <west>") >= 500


async def test_files_go_to_a_public_channel_the_bot_has_not_joined(box: Sandbox) -> None:
    box.slack.add_channel("C0PUBLIC", "public", joined=False)
    await box.bot.deps.outbox.add(
        Delivery(key="card:1", channel="C0PUBLIC", text="a card"),
        Delivery(
            key="card:1:file",
            channel="C0PUBLIC",
            text="",
            op="upload",  # type: ignore[arg-type]
            thread_of="card:1",
            file={"filename": "results.csv", "content": "a,b\n", "title": "Results"},
        ),
    )
    for _ in range(3):
        await box.bot.deps.outbox.drain()
    card = box.slack.channel_messages("C0PUBLIC")
    assert len(card) == 1
    assert [f.filename for f in box.slack.files_in("C0PUBLIC", card[0].ts)] == ["results.csv"]
    assert [c.args.get("channel") for c in box.slack.calls_to("conversations.join")] == ["C0PUBLIC"]
