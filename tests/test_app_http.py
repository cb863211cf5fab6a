"""The real app over HTTP: signatures, /bland help, refusals, /healthz and /bland/webhook."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from bot.bland.errors import BlandAuthError, BlandResponse
from bot.bland.webhooks import sign
from bot.error_replies import describe_error
from bot.errors import UserError
from bot.sandbox import slack_requests as sr
from bot.sandbox.harness import ALICE, BOB, SIGNING_SECRET, WEBHOOK_SECRET, Sandbox, block_text, response_json


async def test_help_is_answered_in_the_ack_as_ephemeral(sandbox: Sandbox) -> None:
    for text in ("help", "", "HELP"):
        response = await sandbox.command(text)
        body = response_json(response)
        assert response.status_code == 200
        assert body["response_type"] == "ephemeral"
        rendered = block_text(body["blocks"])
        for sub in (
            "call",
            "status",
            "track",
            "stop",
            "stop-call",
            "batch",
            "batches",
            "backfill",
            "schemas",
            "schema new",
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "audit",
        ):
            assert f"/bland {sub}" in rendered


async def test_unknown_subcommand_gets_help_and_the_problem(sandbox: Sandbox) -> None:
    body = response_json(await sandbox.command("frobnicate now"))
    assert "Unknown subcommand `frobnicate`" in body["text"] and "Did you mean" not in body["text"]
    assert "/bland call" in block_text(body["blocks"])
    typo = response_json(await sandbox.command("cal +14155550123"))
    assert "Unknown subcommand `cal`. Did you mean `/bland call`?" in typo["text"]


@pytest.mark.parametrize("case", ["unsigned", "forged", "stale", "future"])
async def test_bad_signatures_get_401_and_nothing_runs(sandbox: Sandbox, case: str) -> None:
    body = sr.command_body(
        "call +14155550123 hi", user=ALICE, channel="C0OPS", response_url=sandbox.slack.response_url()
    )
    now = int(time.time())
    if case == "unsigned":
        response = await sandbox.http.post(
            f"{sandbox.base_url}/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    elif case == "forged":
        response = await sandbox.post_signed(body, secret="not-the-secret")
    else:
        response = await sandbox.post_signed(body, timestamp=now + (-301 if case == "stale" else 301))
    assert response.status_code == 401
    assert sandbox.slack.calls_to("views.open") == []


async def test_channel_outside_allowed_channels_is_refused(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "b.db", allowed_channels="C0OPS") as box:
        body = response_json(await box.command("call", channel="C0RANDOM"))
        assert "does not take commands in this channel" in body["text"] and "<#C0OPS>" in body["text"]
        assert box.slack.calls_to("views.open") == []
        assert response_json(await box.command("help", channel="C0RANDOM"))["response_type"] == "ephemeral"


async def test_user_without_the_role_is_told_why(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "b.db", operator_users="S0OPS") as box:
        box.slack.groups["S0OPS"] = [ALICE]
        view_count = len(box.slack.views)
        await box.command("call")
        await box.until(lambda: len(box.slack.views) > view_count, what="modal")
        response = await box.submit_view(box.view(), {"phone": "+14155550123", "task": "hi"}, user=BOB)
        assert response.status_code == 200
        refusal = await box.until(
            lambda: [e for e in box.slack.ephemerals if e.get("user") == BOB], what="refusal"
        )
        assert "not allowed to send calls" in refusal[0]["text"] and "_USERS" not in refusal[0]["text"]
        assert "ask whoever installed the bot (it has no admins yet)" in refusal[0]["text"]
        assert box.sim.count("calls.send") == 0
        view_count = len(box.slack.views)
        await box.command("call")
        form = await box.modal_after(view_count, what="a fresh modal")
        await box.submit_view(form, {"phone": "+14155550123", "task": "hi"}, user=ALICE)  # via the group
        await box.until(lambda: box.sim.count("calls.send") == 1, what="alice's call")


async def test_healthz_reports_version_database_scheduler_and_tracked(sandbox: Sandbox) -> None:
    response = await sandbox.http.get(f"{sandbox.base_url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["tracked"] == 0 and body["scheduler_running"] is False
    assert body["leases"] == 0 and body["replica"]
    assert body["version"]


async def test_healthz_scheduler_running_when_started(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "b.db", scheduler=True) as box:
        body = (await box.http.get(f"{box.base_url}/healthz")).json()
        assert body["scheduler_running"] is True


async def test_bland_webhook_rejects_unsigned_and_forged(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/bland/webhook"
    raw = json.dumps({"call_id": "c1"}).encode()
    assert (await sandbox.http.post(url, content=raw)).status_code == 401
    forged = {"X-Webhook-Signature": sign("wrong", raw)}
    assert (await sandbox.http.post(url, content=raw, headers=forged)).status_code == 401
    good = {"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)}
    response = await sandbox.http.post(url, content=raw, headers=good)
    assert response.status_code == 200 and response.json() == {"status": "ignored"}


async def test_hostile_webhooks_get_a_4xx_never_a_500(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{sandbox.base_url}/bland/webhook"
    deep = b"[" * 200_000 + b"]" * 200_000
    cases = [
        (deep, {"X-Webhook-Signature": "00" * 32}, 401),  # any signature header: never parsed
        (deep, {"X-Webhook-Signature": sign(WEBHOOK_SECRET, deep)}, 400),  # signed, but nested too deeply
        (b"[1]", {"X-Webhook-Signature": sign(WEBHOOK_SECRET, b"[1]")}, 400),
        (b"\xff\xfe", {"X-Webhook-Signature": sign(WEBHOOK_SECRET, b"\xff\xfe")}, 400),
        (b"x" * (3 * 1024 * 1024), {"X-Webhook-Signature": "ab"}, 413),
        # Between the size the bot parses (1 MB) and the server's cap (2 MB), signed: too large, not "invalid".
        (
            big := b'{"pad": "' + b"y" * 1_500_000 + b'"}',
            {"X-Webhook-Signature": sign(WEBHOOK_SECRET, big)},
            413,
        ),
    ]
    for body, headers, status in cases:
        assert (await sandbox.http.post(url, content=body, headers=headers)).status_code == status
    odd = json.dumps({"call_id": {"nested": ["not", "an", "id"]}}).encode()
    response = await sandbox.http.post(
        url, content=odd, headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, odd)}
    )
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert "Traceback" not in caplog.text


async def test_whitespace_variants_of_one_signed_webhook_are_one_replay(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/bland/webhook"
    payload = {"call_id": "c-replayed", "completed": True}
    signature = {
        "X-Webhook-Signature": sign(WEBHOOK_SECRET, json.dumps(payload, separators=(",", ":")).encode())
    }
    answers = [
        (
            await sandbox.http.post(
                url, content=json.dumps(payload, indent=indent).encode(), headers=signature
            )
        ).json()
        for indent in (None, 2, 4)
    ]
    assert answers == [{"status": "ignored"}, {"status": "duplicate"}, {"status": "duplicate"}]


async def test_webhook_without_a_secret_configured_refuses_everything(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "b.db", bland_webhook_secret=None) as box:
        raw = b'{"call_id": "c1"}'
        response = await box.http.post(
            f"{box.base_url}/bland/webhook",
            content=raw,
            headers={"X-Webhook-Signature": sign(WEBHOOK_SECRET, raw)},
        )
        assert response.status_code == 401


def test_errors_are_described_without_internals() -> None:
    assert describe_error(UserError("nope")) == ("nope", None)
    message, error_id = describe_error(
        BlandAuthError("GET /v1/calls: Invalid API key", response=BlandResponse(401, "{}"))
    )
    assert "BLAND_API_KEY" in message and error_id is None
    message, error_id = describe_error(KeyError("secret internals"))
    assert error_id is not None and error_id in message and "secret internals" not in message


def test_signing_helper_matches_slacks_documented_vector() -> None:
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sr.sign_headers("8f742231b10e8888abcd99yyyzzz85a5", body, 1531420618)
    assert (
        headers["X-Slack-Signature"] == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )
    assert SIGNING_SECRET  # the sandbox signs with its own secret the same way


async def test_help_ends_with_the_dialling_rules(tmp_path: Path) -> None:
    async with Sandbox(tmp_path / "h.db", calling_hours="09:00-20:00", calling_days="Mon-Fri") as box:
        rendered = block_text(response_json(await box.command("help"))["blocks"])
        assert "ring only 09:00–20:00, Mon–Fri in the callee's own time" in rendered
        assert "do-not-call list (`/bland dnc`) are never dialled" in rendered
        for sub in ("calls", "dnc", "stop-all", "export calls"):
            assert f"/bland {sub}" in rendered, sub


# -- Slack's own requests -------------------------------------------------------------------------------


async def test_slacks_certificate_check_gets_an_empty_200(sandbox: Sandbox) -> None:
    response = await sandbox.http.post(
        f"{sandbox.base_url}/slack/events",
        content="ssl_check=1&token=deprecated",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and response.content == b""


async def test_app_rate_limited_is_acknowledged_and_logged(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(
        {
            "token": "deprecated",
            "type": "app_rate_limited",
            "team_id": "T0SANDBOX",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A0SANDBOX",
        }
    )
    response = await sandbox.post_signed(body, content_type="application/json")
    assert response.status_code == 200
    assert any("app_rate_limited" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        sr.event_body({"type": "message", "channel": "C0OPS", "user": ALICE, "text": "hi", "ts": "1.1"}),
        sr.event_body({"type": "reaction_added", "user": ALICE, "reaction": "tada"}),
        json.dumps({"type": "some_future_envelope", "team_id": "T0SANDBOX"}),
    ],
    ids=["message", "reaction_added", "unknown envelope"],
)
async def test_events_the_bot_does_not_use_get_200(sandbox: Sandbox, body: str) -> None:
    response = await sandbox.post_signed(body, content_type="application/json")
    assert response.status_code == 200


async def test_a_retried_event_is_handled_once(sandbox: Sandbox) -> None:
    body = sr.event_body({"type": "app_home_opened", "user": BOB, "channel": "D" + BOB, "tab": "home"})
    first = await sandbox.post_signed(body, content_type="application/json")
    await sandbox.until(lambda: sandbox.slack.calls_to("views.publish"), what="the Home tab")
    headers = sr.sign_headers(SIGNING_SECRET, body) | {
        "Content-Type": "application/json",
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    retried = await sandbox.http.post(f"{sandbox.base_url}/slack/events", content=body, headers=headers)
    assert first.status_code == 200 and retried.status_code == 200
    # A later event is the barrier: a retry handled again would have published before it (its listener
    # starts first, and the database serves them in turn).
    await sandbox.open_home(ALICE)

    def published(user: str) -> int:
        return sum(c.args.get("user_id") == user for c in sandbox.slack.calls_to("views.publish"))

    await sandbox.until(lambda: published(ALICE) == 1, what="Alice's Home tab")
    assert published(BOB) == 1


async def test_a_database_damaged_while_the_bot_runs_is_a_503_with_the_reason_never_a_500(
    tmp_path: Path,
) -> None:
    path = tmp_path / "damaged.db"
    async with Sandbox(path) as box:
        db = box.bot.deps.store.db
        for i in range(400):
            await db.execute(
                "INSERT INTO audit_log (at, actor, action, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                (float(i), "U1", "call.send", "sent", "x" * 200),
            )
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        def damage() -> None:
            with path.open("r+b") as file:  # pages 8,192–24,575 overwritten, the header intact
                file.seek(8192)
                file.write(b"\xde\xad\xbe\xef" * 4096)
            other = sqlite3.connect(path)  # another process touches the file: cached pages are read again
            version = other.execute("PRAGMA user_version").fetchone()[0]
            other.execute(f"PRAGMA user_version={version}")
            other.close()

        await asyncio.to_thread(damage)
        health = await box.http.get(f"{box.base_url}/healthz")
        assert health.status_code == 503 and health.json()["database"] == "error"
        assert "database disk image is malformed" in health.json()["reason"]
        metrics = await box.http.get(f"{box.base_url}/metrics")
        assert metrics.status_code == 503 and "cannot be read" in metrics.text
