"""Socket Mode: the same app answers envelopes over the stand-in's websocket."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import slack_requests as sr
from bot.sandbox.harness import ALICE, OPS_CHANNEL, Sandbox, block_text


async def test_socket_mode_answers_commands_and_modal_errors(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "s.db", slack_app_token="xapp-sandbox") as box:
        assert box.bot.settings.socket_mode
        await box.bot.start_socket_mode()
        await box.until(lambda: box.slack.socket_connected, what="the websocket")
        assert box.slack.calls_to("apps.connections.open")[0].token == "xapp-sandbox"

        help_ack = await box.slack.send_envelope(
            "slash_commands",
            sr.command_payload(
                "help", user=ALICE, channel=OPS_CHANNEL, response_url=box.slack.response_url()
            ),
        )
        assert "/bland call" in block_text(help_ack["payload"]["blocks"])

        await box.slack.send_envelope(
            "slash_commands",
            sr.command_payload(
                "call +14155550123", user=ALICE, channel=OPS_CHANNEL, response_url=box.slack.response_url()
            ),
        )
        view = await box.until(lambda: box.slack.views and box.view(), what="the modal")
        errors_ack = await box.slack.send_envelope(
            "interactive", sr.view_submission_payload(view, {"phone": "nope"}, user=ALICE)
        )
        assert errors_ack["payload"]["response_action"] == "errors"
        assert "phone" in errors_ack["payload"]["errors"]

        ok_ack = await box.slack.send_envelope(
            "interactive", sr.view_submission_payload(view, {"task": "Say hi"}, user=ALICE)
        )
        assert ok_ack["payload"]["response_action"] == "update"  # "Placing the call…", over the socket too
        assert "Placing the call" in str(ok_ack["payload"]["view"])
        await box.until(lambda: box.slack.channel_messages(OPS_CHANNEL), what="the call card")
        assert box.sim.count("calls.send") == 1
