"""The do-not-call list through the real app: kept with /bland dnc, enforced on calls and batches, fed by opt-outs."""

from __future__ import annotations

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, CAROL, OPS_CHANNEL, Sandbox, block_text, response_json
from tests.handlers.test_batches import APPROVALS, PROMPT, click, numbers, recipients, request
from tests.handlers.test_calls import call_id_of, open_modal, send
from tests.helpers import request_id_of

LISTED = "+14155550101"  # the second row of tests.handlers.test_batches.recipients()


BOX_SETTINGS = dict(
    approver_users=(ALICE, BOB),
    operator_users=(ALICE, BOB),
    approval_channel=APPROVALS,
    opt_out_variable="opt_out",
)


async def dnc(box: Sandbox, args: str, user: str = ALICE) -> str:
    """Run `/bland dnc …` and return the answer only the typist saw."""
    before = len(box.slack.responses)
    assert (await box.command(f"dnc {args}", user=user)).status_code == 200
    answers = await box.until(lambda: box.slack.responses[before:], what=f"the answer to dnc {args}")
    return str(answers[-1].get("text")) + block_text(answers[-1].get("blocks") or [])


async def test_operators_add_list_and_remove_numbers_and_every_change_is_audited(box: Sandbox) -> None:
    assert "is on the do-not-call list now" in await dnc(box, "add (415) 555-0101 asked on the phone")
    assert "already on the do-not-call list" in await dnc(box, f"add {LISTED}")
    listing = await dnc(box, "list")
    assert "1 number" in listing and "•0101" in listing and "asked on the phone" in listing
    assert LISTED not in listing and "4155550101" not in listing  # masked
    assert "not a valid phone number" in await dnc(box, "add 12345")
    assert "not allowed" in await dnc(box, f"remove {LISTED}", user=CAROL)
    assert "off the do-not-call list" in await dnc(box, f"remove {LISTED}")
    assert "was not on the do-not-call list" in await dnc(box, f"remove {LISTED}")
    assert "empty" in await dnc(box, "list")
    audit = [(a.action, a.outcome, a.actor) for a in await box.bot.deps.store.audit.since(0)]
    assert audit == [
        ("dnc.add", "added", ALICE),
        ("dnc.add", "unchanged", ALICE),
        ("dnc.remove", "removed", ALICE),
        ("dnc.remove", "unchanged", ALICE),
    ]
    assert all(LISTED not in str(a.target) for a in await box.bot.deps.store.audit.since(0))


async def test_the_call_modal_refuses_a_listed_number_inline_and_nothing_is_dialled(box: Sandbox) -> None:
    await dnc(box, f"add {LISTED} wrong number")
    view = await open_modal(box)
    response = await box.submit_view(view, {"phone": LISTED, "task": "Say hello"})
    errors = response_json(response)["errors"]
    assert "do-not-call list" in errors["phone"] and "wrong number" in errors["phone"]
    assert box.sim.count("calls.send") == 0


async def test_listed_batch_rows_are_left_out_and_named_on_the_approval_card(box: Sandbox) -> None:
    await dnc(box, f"add {LISTED}")
    card = await request(box, {"recipients_text": recipients(3)})
    text = block_text(card.blocks)
    assert "*2 calls*" in text and "Left out: on the do-not-call list* (1)" in text and "•0101" in text
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None
    assert [row["phone_number"] for row in stored.payload.rows] == [numbers(3)[0], numbers(3)[2]]
    assert LISTED not in str(stored.excluded)  # stored masked
    await click(box, ActionId.APPROVE_BATCH, stored.id, BOB, card)
    sent = box.sim.batches[next(iter(box.sim.batches))]
    assert LISTED not in {box.sim.calls[cid].to for cid in sent["call_ids"]}


async def test_a_list_that_is_all_listed_is_refused_inline(box: Sandbox) -> None:
    for number in numbers(2):
        await dnc(box, f"add {number}")
    before = len(box.slack.views)
    await box.command("batch")
    modal = await box.modal_after(before, what="the batch modal")
    fields = {"batch_label": "Renewals", "base_prompt": PROMPT, "recipients_text": recipients(2)}
    answer = response_json(await box.submit_view(modal, fields))
    assert "Every number of the list (2) is on the do-not-call list" in answer["errors"]["recipients_text"]


async def test_a_number_listed_after_the_request_stops_the_send_at_approval(box: Sandbox) -> None:
    card = await request(box, {"recipients_text": recipients(3)})
    await dnc(box, f"add {LISTED}")
    answer = await click(box, ActionId.APPROVE_BATCH, request_id_of(card), BOB, card)
    assert "Not sent" in answer and "do-not-call list" in answer
    assert box.sim.count("batches.send") == 0
    stored = await box.bot.deps.store.batch_requests.get(request_id_of(card))
    assert stored is not None and stored.state == "send_failed"


async def test_an_import_adds_numbers_and_names_the_lines_it_skipped(box: Sandbox) -> None:
    await dnc(box, f"add {LISTED}")
    before = len(box.slack.views)
    await box.command("dnc import")
    view = await box.modal_after(before, what="the import modal")
    both = response_json(
        await box.submit_view(
            view, {"dnc_text": "+14155550102", "dnc_file": [box.slack.add_file("a.csv", b"x")]}
        )
    )
    assert "not both" in both["errors"]["dnc_text"]
    pasted = f"phone,reason\n+14155550102,asked\n{LISTED}\nnot a number\n(415) 555-0103,moved away\n"
    assert (await box.submit_view(view, {"dnc_text": pasted})).status_code == 200
    told = await box.until(
        lambda: [e for e in box.slack.ephemerals if "Imported" in e["text"]], what="result"
    )
    assert "Imported 2 numbers" in told[0]["text"] and "1 were already on it" in told[0]["text"]
    assert "line 4" in told[0]["text"]
    assert await box.bot.deps.store.dnc.count() == 3
    entry = await box.bot.deps.store.dnc.get("+14155550103")
    assert entry is not None and entry.reason == "moved away" and entry.source == "import"


async def opt_out_schema(box: Sandbox) -> str:
    """A citation schema with the opt-out variable, as an operator would have saved it in Bland."""
    variables = [{"name": "opt_out", "type": "boolean", "description": "Asked never to be called again?"}]
    schema = await box.bot.deps.bland.create_schema("Opt-out", schema={"variables": variables})
    return str(schema.id)


async def test_a_callee_who_opts_out_is_listed_and_the_thread_says_so(box: Sandbox) -> None:
    box.sim.config.answered_by_mix = {"human": 1.0}
    box.sim.config.analysis_answers = {"opt_out": True}
    card = await send(box, {"citation_schemas": [await opt_out_schema(box)], "options": ["record"]})
    call_id = call_id_of(card)
    await box.run_until_done()
    thread = box.thread_text(OPS_CHANNEL, card.ts)
    assert "The callee asked not to be called again (`opt_out`)" in thread and "•0123" in thread
    to = box.sim.calls[call_id].to
    entry = await box.bot.deps.store.dnc.get(to)
    assert entry is not None and entry.source == "opt_out" and call_id in entry.reason
    audit = [(a.action, a.actor) for a in await box.bot.deps.store.audit.since(0)]
    assert ("dnc.add", "callee") in audit
    view = await open_modal(box)
    refused = response_json(await box.submit_view(view, {"phone": to, "task": "Call again"}))
    assert "opted out during a call" in refused["errors"]["phone"]


async def test_a_callee_who_did_not_opt_out_stays_callable(box: Sandbox) -> None:
    box.sim.config.answered_by_mix = {"human": 1.0}
    box.sim.config.analysis_answers = {"opt_out": False}
    card = await send(box, {"citation_schemas": [await opt_out_schema(box)], "options": ["record"]})
    await box.run_until_done()
    assert "asked not to be called again" not in box.thread_text(OPS_CHANNEL, card.ts)
    assert await box.bot.deps.store.dnc.count() == 0
