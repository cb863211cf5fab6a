"""`blandbot demo`: the whole product offline, acted out scene by scene as Slack users would."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import textwrap
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, buttons, response_json

DEMO_TIMEOUT = 30.0
DEMO_SPEED = 120.0  # simulated seconds a real second


@dataclass
class Scene:
    title: str
    checks: list[tuple[str, bool]] = field(default_factory=list)

    def check(self, what: str, ok: object) -> None:
        """Record one expectation of the scene."""
        self.checks.append((what, bool(ok)))

    @property
    def passed(self) -> bool:
        """Return whether every expectation held."""
        return all(ok for _, ok in self.checks)


class Printer:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose

    def __call__(self, text: str = "", indent: int = 0) -> None:
        if self.verbose:
            print(textwrap.indent(text, " " * indent) if text else "")

    def channel(self, box: Sandbox, channel: str) -> None:
        """Print a channel as a reader would see it: cards, then their threads indented."""
        for message in box.slack.channel_messages(channel):
            self(f"┌ #{channel} · message {message.ts} (edited {message.edits}×)")
            self(block_text(message.blocks) or message.text, indent=2)
            for reply in box.slack.channel_messages(channel, thread_ts=message.ts):
                self("└ in thread:", indent=2)
                self(block_text(reply.blocks) or reply.text, indent=6)
            for file in box.slack.files_in(channel, message.ts):
                self(f"└ file in thread: {file.filename} ({len(file.content)} bytes)", indent=2)


async def wait_for(box: Sandbox, done: Callable[[], object], what: str) -> None:
    """Wait until what a scene checks is there; on time-out, go on and let the checks say what is missing."""
    try:
        await box.until(done, timeout=DEMO_TIMEOUT, what=what)
    except TimeoutError:
        print(f"demo: gave up after {DEMO_TIMEOUT:.0f}s waiting for {what}")


def card_text(box: Sandbox, channel: str, ts: str) -> str:
    """Return a card's text as it reads now (cards are edited in place)."""
    message = box.slack.message(channel, ts)
    return block_text(message.blocks) if message else ""


async def scene_help(box: Sandbox, show: Printer) -> Scene:
    scene = Scene("/bland help")
    response = await box.command("help", user=ALICE)
    body = response_json(response)
    show(f"{ALICE} types: /bland help   → only they see:")
    show(block_text(body.get("blocks", [])), indent=4)
    scene.check("acked with 200", response.status_code == 200)
    scene.check("help lists the call subcommand", "/bland call" in str(body))
    scene.check("help is ephemeral", body.get("response_type") == "ephemeral")
    unknown = response_json(await box.command("dance", user=ALICE))
    show("\n{ALICE} types: /bland dance   → only they see:".replace("{ALICE}", ALICE))
    show(block_text(unknown.get("blocks", [])).splitlines()[0], indent=4)
    scene.check("unknown subcommand is named", "Unknown subcommand `dance`" in str(unknown))
    return scene


async def scene_call(box: Sandbox, show: Printer) -> Scene:
    scene = Scene("/bland call: send a call and follow it to its results")
    schema = await box.bot.deps.bland.create_schema(
        "Appointment",
        description="What the patient said",
        schema={
            "variables": [
                {"name": "confirmed", "type": "boolean", "description": "Did they confirm?"},
                {"name": "insurer", "type": "string", "description": "Their insurance company"},
            ]
        },
    )
    show(f"(An operator saved the citation schema 'Appointment' in Bland earlier: {schema.id}.)")
    opened = len(box.slack.views)
    await box.command("call +14155550123 Confirm tomorrow's 3pm dental appointment and ask about insurance.")
    view = await box.modal_after(opened, what="the call modal")
    show(f"{ALICE} types: /bland call +14155550123 Confirm tomorrow's 3pm dental appointment…")
    show(
        f"→ a modal opens: {view['title']['text']!r} with fields "
        f"{', '.join(b['label']['text'] for b in view['blocks'] if b['type'] == 'input')}",
        indent=2,
    )
    bad = response_json(await box.submit_view(view, {"phone": "555-CALL-NOW", "pathway_id": "pw-123"}))
    show("They submit a bad number and both a task and a pathway → the modal shows:", indent=2)
    for block_id, error in (bad.get("errors") or {}).items():
        show(f"⚠ {block_id}: {error}", indent=6)
    scene.check("bad number rejected inline", "phone" in (bad.get("errors") or {}))
    scene.check("task and pathway together rejected inline", "pathway_id" in (bad.get("errors") or {}))
    good = await box.submit_view(
        view,
        {
            "phone": "+1 (415) 555-0123",
            "citation_schemas": [schema.id],
            "options": ["record"],
            "summary_prompt": "Say whether the appointment is confirmed, and which insurer they named.",
        },
    )
    scene.check(
        "valid submission: the modal says the call is being placed",
        good.status_code == 200 and "Placing the call" in good.text,
    )
    card = await box.until(lambda: box.slack.channel_messages(OPS_CHANNEL), what="the call card")
    show("They fix it and press Send call → a card appears in the channel:", indent=2)
    show(block_text(card[0].blocks), indent=6)
    await wait_for(
        box,
        lambda: (
            "Completed" in card_text(box, OPS_CHANNEL, card[0].ts)
            and "Callee:" in box.thread_text(OPS_CHANNEL, card[0].ts)
        ),
        "the call's final card and its transcript",
    )
    show("\nWhen the call ends, the card updates and the thread fills in:")
    show.channel(box, OPS_CHANNEL)
    thread = box.thread_text(OPS_CHANNEL, card[0].ts)
    scene.check("card shows the call completed", "Completed" in block_text(card[0].blocks))
    final_card = card_text(box, OPS_CHANNEL, card[0].ts)
    scene.check(
        "the card itself says who answered, how long, the cost and how it went",
        "Answered by" in final_card and " · $" in final_card and "\n> " in final_card,
    )
    scene.check("thread has the outcome line", "duration" in thread and "price" in thread)
    scene.check("thread has the summary", "*Summary*" in thread)
    scene.check(
        "thread has the citation schema's variables",
        "*Citations*" in thread and "confirmed" in thread and "insurer" in thread,
    )
    scene.check("thread has speaker-labelled transcript", "Agent:" in thread and "Callee:" in thread)
    scene.check(
        "number is masked everywhere", "4155550123" not in str([m.blocks for m in box.slack.messages])
    )
    call_id = next(iter(box.sim.calls))
    # Polls come only every minute here, so a result this fast can only have come through the webhook.
    scene.check("the signed webhook brought the result", (call_id, 200) in box.sim.webhooks_sent)
    return scene


APPROVALS_CHANNEL = "C0APPROVALS"
OPTED_OUT = "+14155550105"
DEMO_CSV = "phone,name,plan\n" + "\n".join(
    f"+1415555{100 + i:04d},{name},{plan}"
    for i, (name, plan) in enumerate(
        [("Ada", "gold"), ("Grace", "silver"), ("Alan", "gold"), ("Edsger", "bronze"), ("Barbara", "gold")]
    )
)


async def scene_batch(box: Sandbox, show: Printer) -> Scene:
    scene = Scene("/bland batch: request from a CSV, a different person approves, live progress, summary")
    opened = len(box.slack.views)
    await box.command("batch")
    view = await box.modal_after(opened, what="the batch modal")
    show(f"{ALICE} types: /bland batch → the {view['title']['text']!r} modal opens.")
    prompt = "Hi {{name}}, this is Acme. Your {{plan}} plan renews next week: may we renew it for you?"
    bad = response_json(
        await box.submit_view(
            view,
            {
                "batch_label": "Renewals",
                "base_prompt": prompt,
                "recipients_text": "phone,name\n+1415555010,Ada",
            },
        )
    )
    show("They paste a CSV with a short number and no plan column → the modal shows:", indent=2)
    for block_id, error in (bad.get("errors") or {}).items():
        show(f"⚠ {block_id}: {error}", indent=6)
    scene.check("bad number named by line", "line 2" in str(bad.get("errors")))
    scene.check("missing placeholder column named", "{{plan}}" in str(bad.get("errors")))
    before = len(box.slack.responses)
    await box.command(f"dnc add {OPTED_OUT} asked us not to call again")
    listed = await box.until(lambda: box.slack.responses[before:], what="the dnc answer")
    show(f"\n{ALICE} types: /bland dnc add {OPTED_OUT} asked us not to call again → {listed[-1]['text']}")
    scene.check("a number goes on the do-not-call list", "do-not-call list now" in str(listed[-1]["text"]))
    show("Her CSV has a sixth row with that number; she submits it.")
    good = await box.submit_view(
        view,
        {
            "batch_label": "Renewals",
            "base_prompt": prompt,
            "recipients_text": DEMO_CSV + f"\n{OPTED_OUT},Frances,silver",
            "approver_note": "Renewal list from the CRM export of Monday.",
        },
    )
    scene.check("valid request closes the modal", good.status_code == 200 and not good.text.strip())
    cards = await box.until(lambda: box.slack.channel_messages(APPROVALS_CHANNEL), what="the approval card")
    card = cards[-1]
    show(f"\nIn #{APPROVALS_CHANNEL} an approval card appears:")
    show(block_text(card.blocks), indent=4)
    scene.check("card masks numbers", "4155550100" not in str(card.blocks) and "•0100" in str(card.blocks))
    scene.check(
        "the listed number is left out and named",
        "*5 calls*" in block_text(card.blocks)
        and "Left out: on the do-not-call list* (1)" in block_text(card.blocks),
    )
    request_id = next(iter(await box.bot.deps.store.batch_requests.recent(1))).id
    before = len(box.slack.responses)
    await box.click(
        ActionId.APPROVE_BATCH, request_id, user=ALICE, channel=APPROVALS_CHANNEL, message_ts=card.ts
    )
    refusal = await box.until(lambda: box.slack.responses[before:], what="the refusal")
    show(f"\n{ALICE} clicks Approve on her own request → only she sees: {refusal[0]['text']}")
    scene.check("requester cannot approve her own batch", "different approver" in str(refusal[0]["text"]))
    before = len(box.slack.responses)
    await box.click(
        ActionId.APPROVE_BATCH, request_id, user=BOB, channel=APPROVALS_CHANNEL, message_ts=card.ts
    )
    answer = await box.until(lambda: box.slack.responses[before:], what="the approval answer")
    show(f"{BOB} clicks Approve and confirms → he sees: {answer[0]['text']}")
    scene.check("approver's click sends it", "Approved and sent" in str(answer[0]["text"]))
    await wait_for(
        box,
        lambda: (
            "Completed" in card_text(box, APPROVALS_CHANNEL, card.ts)
            and box.slack.files_in(APPROVALS_CHANNEL, card.ts)
        ),
        "the batch's completed card and its CSV",
    )
    show(
        "\nThe approval card becomes the batch's card (the decision, progress and Stop, then the final tally); "
        "the summary and the result file arrive in its thread:"
    )
    show.channel(box, APPROVALS_CHANNEL)
    thread = box.thread_text(APPROVALS_CHANNEL, card.ts)
    shown = card_text(box, APPROVALS_CHANNEL, card.ts)
    scene.check("sent exactly once", box.sim.count("batches.send") == 1)
    sent = next(iter(box.sim.batches.values()), {})
    objects = sent.get("call_objects") or []
    show(
        f"\nBland speaks the v2 batch API: one POST /v2/batches/create, {len(objects)} call objects, e.g. "
        f"{json.dumps(objects[0].get('request_data') if objects else None)}"
    )
    scene.check(
        "sent as one v2 batch whose call objects carry each row's own values",
        sent.get("api") == "v2"
        and len(objects) == 5
        and all({"name", "plan"} <= set(o.get("request_data") or {}) for o in objects)
        and len({o["request_data"]["name"] for o in objects}) == 5,
    )
    scene.check("card stamped with the decision", f"Approved by <@{BOB}>" in block_text(card.blocks))
    scene.check(
        "the approval card shows the batch completed 5/5 with its tally",
        "5/5" in shown and "Completed" in shown and "*5 calls: " in shown and "[Stop batch]" not in shown,
    )
    # Each call was read once it ended: the cost is Bland's own price per call.
    scene.check(
        "summary with histogram and cost", "Call lengths" in thread and re.search(r"cost (about )?\$", thread)
    )
    files = box.slack.files_in(APPROVALS_CHANNEL, card.ts)
    rows = list(csv.DictReader(io.StringIO(files[0].content.decode()))) if len(files) == 1 else []
    show(
        "\nThe result file is the requester's own list, completed (numbers masked; the excerpt is each call's "
        "summary, or its transcript):"
    )
    for row in rows:
        excerpt = row["summary_or_transcript"][:50]
        show(
            f"{row['phone']} · {row['name']} · {row['plan']} · {row['status']} · {row['answered_by'] or '—'} · "
            f"{row['length_seconds'] or '—'} s · {excerpt}",
            indent=1,
        )
    await rerun_unanswered(box, show, scene, card)
    called = [r for r in rows if r["call_id"]]
    scene.check(
        "the result file is the list, each row with its call",
        [r["name"] for r in called] == ["Ada", "Grace", "Alan", "Edsger", "Barbara"]  # the list's own order
        and all(r["plan"] for r in called)
        and all(r["length_seconds"] and r["cost_source"] in {"price", "estimate"} for r in called)
        and all(r["summary_or_transcript"] for r in called),
    )
    scene.check(
        "the listed number's row says why it was not dialled",
        any(r["status"] == "not dialled: on the do-not-call list" for r in rows),
    )
    return scene


async def rerun_unanswered(box: Sandbox, show: Printer, scene: Scene, card: Any) -> None:
    """Press the summary's Re-run button: a new request with the calls that were not answered."""
    thread = box.slack.channel_messages(APPROVALS_CHANNEL, thread_ts=card.ts)
    summary = next(m for m in thread if "Batch finished" in block_text(m.blocks))
    button = buttons(summary.blocks).get("Re-run for unanswered…")
    scene.check(
        "the summary offers a re-run", button is not None and button["action_id"] == ActionId.RERUN_BATCH
    )
    if button is None:
        return
    opened = len(box.slack.views)
    await box.click(ActionId.RERUN_BATCH, button["value"], channel=APPROVALS_CHANNEL, message_ts=summary.ts)
    view = await box.modal_after(opened, what="the re-run modal")
    options = view["blocks"][1]["element"]["options"]
    show(
        f"\n{ALICE} clicks Re-run for unanswered… → she may choose: "
        + ", ".join(o["text"]["text"] for o in options)
    )
    before = len(box.slack.channel_messages(APPROVALS_CHANNEL))
    await box.submit_view(view, {"rerun_kinds": [o["value"] for o in options]})
    cards = await box.until(
        lambda: box.slack.channel_messages(APPROVALS_CHANNEL)[before:], what="the re-run's card"
    )
    text = block_text(cards[-1].blocks)
    show("She requests them all → a new approval card, for a second person to approve:")
    show(text.splitlines()[1], indent=4)
    scene.check("the re-run is a new request awaiting approval", "re-run:" in text and "[Approve]" in text)


async def open_modal(box: Sandbox, text: str) -> dict[str, Any]:
    """Type `/bland <text>` as Alice and return the modal it opens."""
    opened = len(box.slack.views)
    await box.command(text)
    return await box.modal_after(opened, what=f"the modal of /bland {text}")


async def scene_backfill(box: Sandbox, show: Printer) -> Scene:
    scene = Scene("/bland backfill: a citation schema run over the demo's earlier calls")
    view = await open_modal(box, "schema new")
    variables = "renewal_agreed | boolean | Did the customer agree to renew?\nobjection | string | Main objection, if any"
    bad = response_json(
        await box.submit_view(
            view, {"schema_name": "Renewal outcome", "schema_variables": "renewal_agreed | yes/no"}
        )
    )
    show(f"{ALICE} types: /bland schema new, and gives a type Bland does not know → the modal shows:")
    show(f"⚠ {bad.get('errors', {}).get('schema_variables')}", indent=6)
    scene.check("unknown variable type rejected inline", "unknown type" in str(bad.get("errors")))
    await box.submit_view(view, {"schema_name": "Renewal outcome", "schema_variables": variables})
    created = await box.until(
        lambda: [sid for sid, s in box.sim.schemas.items() if s["name"] == "Renewal outcome"],
        what="the schema",
    )
    scene.check("schema created in Bland", len(created) == 1)
    schema_id = created[0]
    call_ids = list(box.sim.calls)
    view = await open_modal(box, "backfill")
    review = response_json(
        await box.submit_view(view, {"backfill_schemas": [schema_id], "call_ids": "\n".join(call_ids)})
    )
    confirm = review.get("view") or {}
    show(
        f"\n{ALICE} types: /bland backfill, picks the schema and pastes the {len(call_ids)} earlier call IDs → review:"
    )
    show(block_text(confirm.get("blocks", [])), indent=4)
    scene.check("confirmation shows calls × schemas", f"{len(call_ids)} calls × 1 schema" in str(confirm))
    scene.check("nothing sent before confirming", box.sim.count("backfill.start") == 0)
    before = len(box.slack.channel_messages(OPS_CHANNEL))
    await box.submit_view(confirm, {})
    await box.until(lambda: len(box.slack.channel_messages(OPS_CHANNEL)) > before, what="the backfill card")
    card = box.slack.channel_messages(OPS_CHANNEL)[-1]
    await wait_for(
        box,
        lambda: (
            "Completed" in card_text(box, OPS_CHANNEL, card.ts) and box.slack.files_in(OPS_CHANNEL, card.ts)
        ),
        "the backfill's completed card and its JSON file",
    )
    show("\nThe backfill card, and the results in its thread:")
    show(block_text(card.blocks), indent=4)
    for reply in box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts):
        show(block_text(reply.blocks), indent=6)
    thread = box.thread_text(OPS_CHANNEL, card.ts)
    scene.check("card completed", "Completed" in block_text(card.blocks))
    scene.check("per-call variables with what changed", "renewal_agreed" in thread and "_(new)_" in thread)
    scene.check("all calls in a JSON file", len(box.slack.files_in(OPS_CHANNEL, card.ts)) == 1)
    return scene


NEWS_CHANNEL = "C0NEWS"


async def scene_notifications(box: Sandbox, show: Printer) -> Scene:
    scene = Scene("notifications, the Home tab and the audit log")
    await box.command("subscribe all", user=ALICE, channel=NEWS_CHANNEL)
    reply = await box.until(
        lambda: [r for r in box.slack.responses if "now gets" in str(r.get("text"))], what="reply"
    )
    show(f"{ALICE} types in #{NEWS_CHANNEL}: /bland subscribe all → {reply[-1]['text']}")
    before = len(box.slack.channel_messages(APPROVALS_CHANNEL))
    view = await open_modal(box, "batch")
    recipients = "phone,name\n+14155550100,Ada\n+14155550101,Grace\n+14155550102,Alan"
    await box.submit_view(
        view,
        {
            "batch_label": "Win-back",
            "base_prompt": "Hi {{name}}, we miss you!",
            "recipients_text": recipients,
        },
    )
    cards = await box.until(
        lambda: box.slack.channel_messages(APPROVALS_CHANNEL)[before:], what="approval card"
    )
    await box.open_home(BOB)
    await box.until(lambda: f"HOME-{BOB}" in box.slack.views, what="Bob's Home tab")
    home = block_text(box.slack.views[f"HOME-{BOB}"]["blocks"])
    show(f"\n{BOB} opens the app's Home tab:")
    show(home, indent=4)
    scene.check(
        "approver's Home tab offers the pending batch", "Win-back" in home and "[Approve] [Reject]" in home
    )
    scene.check(
        "the Home tab shows today's calls against the daily cap, answered, minutes and spend",
        bool(
            re.search(
                r"\*\d+\* of 100 calls a day .* answered by a person .* of talk · .*\$[\d.]+ spent", home
            )
        ),
    )
    request_id = (await box.bot.deps.store.batch_requests.recent(1))[0].id
    await box.click_in_view(ActionId.APPROVE_BATCH, request_id, box.slack.views[f"HOME-{BOB}"], user=BOB)
    await box.until(
        lambda: len(box.slack.channel_messages(NEWS_CHANNEL)) >= 4,
        timeout=DEMO_TIMEOUT,
        what="the batch's events",
    )
    news = [m.text for m in box.slack.channel_messages(NEWS_CHANNEL)]
    show(f"\nMeanwhile #{NEWS_CHANNEL} got one line per event:")
    for line in news:
        show(line, indent=4)
    scene.check("one line per event: requested, decided, started, completed", len(news) == 4)
    scene.check("lines link to the thread", all("open thread" in line for line in news))
    await wait_for(
        box,
        lambda: any("Win-back" in m.text for m in box.slack.channel_messages("D" + ALICE)),
        "the requester's DM about Win-back",
    )
    dms = [m.text for m in box.slack.channel_messages("D" + ALICE)]
    scene.check("the requester got DMs", any("Win-back" in text for text in dms))
    scene.check("approval card stamped", f"Approved by <@{BOB}>" in block_text(cards[0].blocks))
    await box.command("audit 1", user=CAROL, channel=NEWS_CHANNEL)
    files = await box.until(lambda: box.slack.files_in(NEWS_CHANNEL), what="the audit CSV")
    rows = files[0].content.decode().splitlines()
    show(
        f"\n{CAROL} (an admin) types: /bland audit 1 → {files[0].filename} with {len(rows) - 1} entries, e.g.:"
    )
    for row in rows[:4]:
        show(row, indent=4)
    entries = list(csv.DictReader(rows))
    scene.check(
        "audit CSV has the batch decisions",
        any(e["action"] == "batch.approve" and e["actor"] == BOB for e in entries),
    )
    return scene


# Monday 23 November 2026, 06:00 in San Francisco (14:00 UTC): before calling hours there.
EARLY_MONDAY = datetime(2026, 11, 23, 14, 0, tzinfo=UTC).timestamp()


async def scene_calling_hours(_: Sandbox, show: Printer) -> Scene:
    """Calling hours on a clock of its own: 06:00 in San Francisco, on a Monday."""
    scene = Scene("calling hours: nothing rings before 09:00 where the callee is")
    with tempfile.TemporaryDirectory(prefix="blandbot-demo-hours-") as folder:
        async with Sandbox(
            Path(folder) / "hours.db",
            start=EARLY_MONDAY,
            calling_hours="09:00-20:00",
            calling_days="Mon-Sat",
            approver_users=(ALICE, BOB),
            approval_channel=APPROVALS_CHANNEL,
        ) as box:
            show(
                "The clock says Monday, 06:00 in San Francisco; CALLING_HOURS=09:00-20:00, CALLING_DAYS=Mon-Sat."
            )
            view = await open_modal(box, "call")
            refused = response_json(await box.submit_view(view, {"phone": "+14155550123", "task": "Hello"}))
            error = str((refused.get("errors") or {}).get("phone"))
            show(f"{ALICE} tries to call +1 415 555 0123 → the modal says: {error}", indent=2)
            scene.check("a call outside the callee's hours is refused, with the next time", "09:00" in error)
            opened = len(box.slack.views)
            await box.command("batch")
            view = await box.modal_after(opened, what="the batch modal")
            spread = DEMO_CSV + "\n+12125550188,Katherine,gold\n+12125550189,Dorothy,silver"
            fields = {"batch_label": "Early birds", "base_prompt": "Hi {{name}}", "recipients_text": spread}
            await box.submit_view(view, fields)
            cards = await box.until(lambda: box.slack.channel_messages(APPROVALS_CHANNEL), what="the card")
            line = next(line for line in block_text(cards[-1].blocks).splitlines() if "Calling hours" in line)
            show(
                "She requests a batch of five San Francisco and two New York numbers (09:00 there); the approval "
                f"card says:\n{line}",
                indent=2,
            )
            scene.check(
                "the approval card counts the rows outside calling hours and says each call rings in them",
                "5 of 7 rows are outside" in line and "each call rings when its callee's hours open" in line,
            )
            request_id = (await box.bot.deps.store.batch_requests.recent(1))[0].id
            before = len(box.slack.responses)
            await box.click(
                ActionId.APPROVE_BATCH,
                request_id,
                user=BOB,
                channel=APPROVALS_CHANNEL,
                message_ts=cards[-1].ts,
            )
            answer = await box.until(lambda: box.slack.responses[before:], what="the approval answer")
            show(f"{BOB} approves → {answer[-1]['text']}", indent=2)
            batch = next(iter(box.sim.batches.values()), {})
            starts = {o["phone_number"]: o.get("start_time") for o in batch.get("call_objects") or []}
            show(f"One v2 batch; each call object's start_time (UTC): {starts}", indent=2)
            opens = EARLY_MONDAY + 3 * 3600  # 09:00 in San Francisco
            scene.check(
                "one batch: New York rings at once, San Francisco's calls start at 09:00 there",
                len(box.sim.batches) == 1
                and starts.get("+12125550188") is None
                and sum(
                    1
                    for v in starts.values()
                    if v == datetime.fromtimestamp(opens, UTC).strftime("%Y-%m-%d %H:%M:%S")
                )
                == 5,
            )
            await box.advance(3 * 3600 - 60)
            now = box.sim.clock.now()
            early = [
                c
                for c in batch.get("call_ids", [])
                if box.sim.calls[c].to.startswith("+1415") and box.sim.calls[c].queue_status(now) != "new"
            ]
            show(f"At 08:59 in San Francisco, its calls have not rung ({len(early)} started).", indent=2)
            await box.advance(61)
            scene.check(
                "nothing rings before 09:00 there, and the batch was sent once",
                not early and box.sim.count("batches.send") == 1,
            )
    return scene


SCENES: list[Callable[[Sandbox, Printer], Awaitable[Scene]]] = [
    scene_help,
    scene_call,
    scene_batch,
    scene_backfill,
    scene_notifications,
    scene_calling_hours,
]


async def run_demo(*, verbose: bool = True) -> int:
    """Run every scene; print what Slack would show; return 0 only if every scene passed."""
    show = Printer(verbose)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="blandbot-demo-") as folder:
        box = Sandbox(
            Path(folder) / "demo.db",
            manual=False,
            speed=DEMO_SPEED,
            scheduler=True,
            public_webhooks=True,
            call_poll_seconds=DEMO_TIMEOUT * 2,  # results must come through the webhook fast path
            batch_poll_seconds=0.5,
            approver_users=(ALICE, BOB),
            admin_users=(CAROL,),
            approval_channel=APPROVALS_CHANNEL,
            backfill_poll_seconds=0.5,
            # Bland's budget is requests a second of Bland's time: at 120 simulated seconds a real second,
            # its default 5 a second are 600 a real second here.
            bland_max_rps=5 * DEMO_SPEED,
        )
        await box.start()
        print(
            f"blandbot demo: Bland simulator {box.sim.url}, Slack stand-in {box.slack.base_url}, "
            f"bot {box.base_url}"
        )
        scenes: list[Scene] = []
        try:
            for play in SCENES:
                show(f"\n━━ Scene {len(scenes) + 1}: {play.__name__.removeprefix('scene_')} ━━")
                try:
                    scene = await play(box, show)
                except Exception as exc:
                    traceback.print_exc()  # the demo is for people: how it broke, in full
                    scene = Scene(play.__name__)
                    scene.check(f"ran without error ({type(exc).__name__}: {exc})", False)
                scenes.append(scene)
        finally:
            await box.stop()
    print()
    for scene in scenes:
        mark = "PASS" if scene.passed else "FAIL"
        print(f"[{mark}] {scene.title}")
        for what, ok in scene.checks:
            if not ok or verbose:
                print(f"    {'✓' if ok else '✗'} {what}")
    passed = sum(scene.passed for scene in scenes)
    print(f"demo: {passed}/{len(scenes)} scenes passed in {time.monotonic() - started:.1f}s")
    return 0 if passed == len(scenes) else 1
