"""A new user against a Bland that answers only as its documents say today: v2 batches only, recordings as
audio, strict Send Call keys, the Build plan's prices and caps, the schema list and PATCH. Each step is the
one the issue's "done when" names, tried through signed requests into the real app."""

from __future__ import annotations

from pathlib import Path

from bot.ids import ActionId
from bot.sandbox.harness import ALICE, BOB, OPS_CHANNEL, Sandbox, block_text
from tests.handlers.test_backfills import VARIABLES, new_schema, open_view
from tests.handlers.test_batches import APPROVALS, recipients, request
from tests.handlers.test_calls import call_id_of, send
from tests.helpers import request_id_of


async def test_a_new_user_against_todays_bland(tmp_path: Path) -> None:
    async with Sandbox(
        tmp_path / "n.db",
        bland_speaks="v2",
        bland_plan="build",
        operator_users=(ALICE,),
        approver_users=(BOB,),
        approval_channel=APPROVALS,
    ) as box:
        box.sim.config.documented_keys_only = True
        box.sim.config.recordings_route = True

        # A recorded call: the Recording button gives the presser the MP3.
        card = await send(box, {"options": ["record"], "summary_prompt": "One line, please."})
        call_id = call_id_of(card)
        assert not {"answered_by_enabled", "analysis_schema"} & set(box.sim.calls[call_id].payload)
        await box.run_until_done()
        result = box.slack.channel_messages(OPS_CHANNEL, thread_ts=card.ts)[0]
        await box.click(ActionId.GET_RECORDING, call_id, user=ALICE, message_ts=result.ts)
        await box.until(lambda: box.slack.files_in("D" + ALICE), what="the MP3 in her DMs")
        (mp3,) = box.slack.files_in("D" + ALICE)
        assert mp3.filename == f"call-{call_id}.mp3" and mp3.content.startswith(b"ID3")

        # A 3-row batch of 5-minute calls on Build: $1.80, beside the balance, within the caps.
        approval = await request(box, {"recipients_text": recipients(3), "max_duration": "5"})
        text = block_text(approval.blocks)
        assert "*Estimated max cost*: $1.80\n_Build plan: $0.12/min" in text and "Balance: $" in text
        assert "this batch fits" in text
        before = len(box.slack.responses)
        await box.click(
            ActionId.APPROVE_BATCH,
            request_id_of(approval),
            user=BOB,
            channel=APPROVALS,
            message_ts=approval.ts,
        )
        told = (await box.until(lambda: box.slack.responses[before:], what="the approval"))[-1]["text"]
        assert "Approved and sent" in told and box.sim.count("batches.send") == 1
        (batch,) = box.sim.batches.values()
        assert batch["api"] == "v2"

        # Schemas: listed from Bland's list, edited and saved with PATCH.
        schema_id = await new_schema(box)
        await box.command("schemas")
        await box.settle()
        listed = block_text(box.last_response()["blocks"])
        assert (
            "Order check" in listed and "created or used" not in listed and box.sim.count("schemas.list") >= 1
        )
        view = await open_view(box, f"schema edit {schema_id}")
        saved = await box.submit_view(view, {"schema_variables": VARIABLES + "\nrefund | boolean"})
        assert saved.status_code == 200 and not saved.text.strip()
        await box.until(lambda: box.sim.count("schemas.update") == 1, what="the PATCH")
        assert [v["name"] for v in box.sim.schemas[schema_id]["schema"]["variables"]][-1] == "refund"
