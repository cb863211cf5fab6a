"""The CLI as a person runs it: check, serve (graceful shutdown, kill -9), simulate, configuration errors."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from bot.domain import Kind
from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub
from tests.processes import (
    SIGNING,
    bot_env,
    clean_env,
    free_port,
    run,
    running,
    stop,
    until_seen,
    wait_listening,
)

pytestmark = pytest.mark.slow  # the bot as a process: `pytest -m "not slow"` leaves these out


async def test_check_reports_both_services_and_masks_secrets(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, sim = services
    env = bot_env(stub, sim, tmp_path, free_port(), SLACK_SIGNING_SECRET="signing-secret-value")
    code, out, _ = await run(["check"], env, tmp_path)
    assert code == 0, out
    assert "✓ Slack: auth.test ok" in out and "✓ Bland: GET /v1/calls ok" in out
    assert "no approvers configured: batch approvals are impossible" in out
    assert "signing-secret-value" not in out and stub.bot_token not in out and "set (…" in out
    assert "✓ Bland: batch API v2 (auto: GET /v2/batches/list answered" in out
    assert "✓ Bland: balance $250.00; estimates assume Start plan: $0.14/min" in out
    assert (
        "✓ Bland: caps 100 a day, 100 an hour, 10 at once (Start plan); today 0 calls, the last hour 0" in out
    )
    sim.config.batch_api = "v1"
    code, out, _ = await run(["check"], env, tmp_path)
    assert (
        code == 0
        and "✓ Bland: batch API v1 (auto: GET /v2/batches/list answered 404, so Bland speaks v1" in out
    )
    code, out, _ = await run(["check"], {**env, "BLAND_BATCH_API": "v2"}, tmp_path)
    assert "batch API v2 (BLAND_BATCH_API=v2)" in out  # as set: Bland is not asked

    env["BLAND_API_KEY"] = "wrong-key-value"
    code, out, _ = await run(["check"], env, tmp_path)
    assert code == 1 and "✗ Bland" in out and "misconfigured" in out and "wrong-key-value" not in out


async def test_missing_or_invalid_settings_stop_startup_with_one_line(tmp_path: Path) -> None:
    code, _, err = await run(["serve"], clean_env(), tmp_path)
    assert code == 2 and err.strip() == "blandbot: configuration error: SLACK_BOT_TOKEN: required but not set"
    code, _, err = await run(["serve"], clean_env(PORT="eighty"), tmp_path)
    assert code == 2 and err.startswith("blandbot: configuration error: PORT:") and "Traceback" not in err


async def damaged_database(target: Path) -> None:
    """A database the bot made and used, whose pages 8,192–24,575 were then overwritten (its header intact)."""
    from bot.store.db import SqliteDatabase

    db = SqliteDatabase(str(target))
    await db.connect()
    for i in range(400):
        await db.execute(
            "INSERT INTO audit_log (at, actor, action, outcome, detail) VALUES (?, ?, ?, ?, ?)",
            (float(i), "U1", "call.send", "sent", "x" * 200),
        )
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.close()

    def overwrite() -> None:
        with target.open("r+b") as file:
            file.seek(8192)
            file.write(b"\xde\xad\xbe\xef" * (16384 // 4))

    await asyncio.to_thread(overwrite)


@pytest.mark.parametrize("case", ["not a database", "a folder", "under a file", "damaged pages"])
async def test_an_unusable_database_stops_startup_with_one_line(tmp_path: Path, case: str) -> None:
    target = tmp_path / "bot.db"
    if case == "not a database":
        target.write_bytes(b"this is not a database, it is text " * 40)
    elif case == "damaged pages":
        await damaged_database(target)
    elif case == "a folder":
        target.mkdir()
    else:
        target.write_text("a file")
        target = target / "inner.db"
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-x",
        SLACK_SIGNING_SECRET="s",
        BLAND_API_KEY="k",
        PORT="0",
        DATABASE_URL=f"sqlite:///{target}",
    )
    code, _, err = await run(["serve"], env, tmp_path, timeout=20)  # it used to hang here
    assert code == 2, err
    assert err.startswith(f"blandbot: configuration error: DATABASE_URL: cannot use the database at {target}")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if case == "damaged pages":
        assert "the file is damaged" in err and "restore it from a backup" in err


async def test_serve_answers_slack_and_shuts_down_gracefully_on_sigterm(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:

    stub, sim = services
    port = free_port()
    async with running(
        ["serve"], bot_env(stub, sim, tmp_path, port, POLL_TICK_SECONDS="0.2"), tmp_path
    ) as process:
        async with httpx.AsyncClient() as http:
            health = (await wait_listening(http, f"http://127.0.0.1:{port}/healthz")).json()
            assert health["database"] == "ok" and health["scheduler_running"] is True
            body = sr.command_body("help", user="U1", channel="C1", response_url=stub.response_url())
            reply = await http.post(
                f"http://127.0.0.1:{port}/slack/events", content=body, headers=sr.sign_headers(SIGNING, body)
            )
            assert reply.status_code == 200 and "/bland call" in reply.text
        err = await stop(process)
    assert process.returncode == 0
    assert "shutting down" in err and SIGNING not in err


async def test_simulate_runs_the_simulator_with_faults_from_flags(tmp_path: Path) -> None:
    port = free_port()
    args = ["simulate", "--port", str(port), "--seed", "5", "--fault", "calls.list:500:2"]
    async with running(args, clean_env(), tmp_path) as process:
        async with httpx.AsyncClient(headers={"authorization": "sim-key"}) as http:
            state = (await wait_listening(http, f"http://127.0.0.1:{port}/_sim/state")).json()
            assert state["faults"]["calls.list"][0]["remaining"] == 2
            assert (await http.get(f"http://127.0.0.1:{port}/v1/calls")).status_code == 500
        await stop(process)
    assert process.returncode == 0


async def test_serve_simulate_needs_no_bland_key(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, _ = services
    port = free_port()
    async with running(["serve", "--simulate"], bot_env(stub, None, tmp_path, port), tmp_path) as process:
        async with httpx.AsyncClient() as http:
            health = (await wait_listening(http, f"http://127.0.0.1:{port}/healthz")).json()
            assert health["database"] == "ok"
        err = await stop(process, signal.SIGINT)
    assert process.returncode == 0 and "in-process Bland simulator" in err


async def test_kill_9_mid_call_then_restart_posts_the_result_exactly_once(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, sim = services
    port = free_port()
    env = bot_env(stub, sim, tmp_path, port, POLL_TICK_SECONDS="0.1", CALL_POLL_SECONDS="0.2")
    base = f"http://127.0.0.1:{port}"
    sim.clock.speed = 1.0  # the call stays live while the bot is down

    async def signed(http: httpx.AsyncClient, body: str) -> httpx.Response:
        return await http.post(f"{base}/slack/events", content=body, headers=sr.sign_headers(SIGNING, body))

    async with httpx.AsyncClient() as http:
        async with running(["serve"], env, tmp_path) as process:
            await wait_listening(http, f"{base}/healthz")
            await signed(
                http,
                sr.command_body(
                    "call +14155550123 Say hi", user="U1", channel="C1", response_url=stub.response_url()
                ),
            )
            await until_seen(stub, sim, lambda: stub.views, "the modal")
            payload = sr.view_submission_payload(stub.last_view(), {}, user="U1")
            assert (await signed(http, sr.interactive_body(payload))).status_code == 200
            await until_seen(stub, sim, lambda: stub.channel_messages("C1") and sim.calls, "the call's card")
            card = stub.channel_messages("C1")[0]
            # A poll comes only once the card is stored: kill mid-call, not between posting it and storing it.
            async with asyncio.timeout(15):
                while not sim.count("calls.get"):
                    sim.changed.clear()
                    await sim.changed.wait()
            process.kill()  # kill -9: no graceful shutdown
            await process.wait()
        assert stub.channel_messages("C1", thread_ts=card.ts) == []
        sim.clock.advance(3600)  # the call ends while the bot is down
        async with running(["serve"], env, tmp_path) as process:
            health = (await wait_listening(http, f"{base}/healthz")).json()
            for _ in range(300):
                if health["tracked"] == 0:
                    break
                await asyncio.sleep(0.02)
                health = (await http.get(f"{base}/healthz")).json()
            assert health["tracked"] == 0
            await stop(process)
    replies = stub.channel_messages("C1", thread_ts=card.ts)
    assert len(replies) == 1 and "Call result" in json.dumps(replies[0].blocks)


async def test_kill_9_while_slack_holds_the_result_with_429_then_restart_posts_it_once(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    """The result's ledger entry is claimed, Slack answers 429 (Retry-After 30 s), the bot is killed while it waits.

    The restarted bot finds the claim in doubt, looks for the message in the thread by its delivery key,
    does not find it, and posts it: once. (It used to skip it for ever: the claim had no ts.)
    """
    stub, sim = services
    port = free_port()
    env = bot_env(stub, sim, tmp_path, port, POLL_TICK_SECONDS="0.1", CALL_POLL_SECONDS="0.2")
    base = f"http://127.0.0.1:{port}"
    sim.clock.speed = 1.0

    async def signed(http: httpx.AsyncClient, body: str) -> httpx.Response:
        return await http.post(f"{base}/slack/events", content=body, headers=sr.sign_headers(SIGNING, body))

    def thread_posts(card_ts: str) -> list[object]:
        return [c for c in stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == card_ts]

    async with httpx.AsyncClient() as http:
        async with running(["serve"], env, tmp_path) as process:
            await wait_listening(http, f"{base}/healthz")
            body = sr.command_body(
                "call +14155550123 Say hi", user="U1", channel="C1", response_url=stub.response_url()
            )
            await signed(http, body)
            await until_seen(stub, sim, lambda: stub.views, "the modal")
            payload = sr.view_submission_payload(stub.last_view(), {}, user="U1")
            assert (await signed(http, sr.interactive_body(payload))).status_code == 200
            await until_seen(stub, sim, lambda: stub.channel_messages("C1") and sim.calls, "the call's card")
            card = stub.channel_messages("C1")[0]
            stub.fail_next("chat.postMessage", status=429, retry_after=30)
            sim.clock.advance(3600)  # the call ends; the next poll posts its result, and Slack says 429
            await until_seen(stub, sim, lambda: thread_posts(card.ts), "the result post")
            process.kill()  # kill -9 while slack_sdk sleeps on Retry-After
            await process.wait()
        assert stub.channel_messages("C1", thread_ts=card.ts) == []
        async with running(["serve"], env, tmp_path) as process:
            await wait_listening(http, f"{base}/healthz")
            await until_seen(
                stub, sim, lambda: stub.channel_messages("C1", thread_ts=card.ts), "the result in the thread"
            )
            await stop(process)
    replies = stub.channel_messages("C1", thread_ts=card.ts)
    assert len(replies) == 1 and "Call result" in json.dumps(replies[0].blocks)
    lookups = stub.calls_to("conversations.replies")
    assert lookups and lookups[0].args.get("ts") == card.ts  # it looked before it posted


async def test_migrate_db_copies_a_sqlite_database_into_postgresql_and_verifies_the_counts(
    tmp_path: Path,
) -> None:
    from bot.clock import FakeClock
    from bot.store import Store
    from tests.conftest import postgres_schema

    source = tmp_path / "old.db"
    store = await Store.open(str(source), FakeClock())
    for i in range(1500):  # more than one page
        await store.tracked.add(Kind.CALL, f"c{i}", "C1", created_by="U1", data={"to": f"+1415555{i:04d}"})
    await store.audit.record(actor="U1", action="batch.approve", outcome="approved", target="r1")  # type: ignore[arg-type]
    await store.dnc.add("+14155550000", reason="asked", source="manual", added_by="U1")  # type: ignore[arg-type]
    await store.homes.opened("U1")
    await store.close()
    async with postgres_schema() as url:
        env = clean_env()
        code, out, err = await run(
            ["migrate-db", "--from", f"sqlite:///{source}", "--to", url], env, tmp_path
        )
        assert code == 0, err
        assert "every count matches" in out and "tracked" in out and "1500" in out
        copied = await Store.open(url, FakeClock())
        try:
            item = await copied.tracked.find(Kind.CALL, "c1499")
            assert item is not None and item.data["to"] == "+14155551499"
            assert await copied.dnc.get("+14155550000") is not None
            added = await copied.tracked.add(
                Kind.CALL, "new", "C1", created_by="U1"
            )  # ids go on past the copy
            assert added is not None and added.id > item.id
        finally:
            await copied.close()
        code, _, err = await run(["migrate-db", "--from", f"sqlite:///{source}", "--to", url], env, tmp_path)
        assert code == 2 and "target is not empty" in err


def test_check_warns_of_a_public_url_bland_would_refuse_for_webhooks() -> None:
    from pydantic import SecretStr

    from bot.check import warnings
    from bot.settings import Settings

    secret = SecretStr("s")
    plain = Settings(_env_file=None, public_url="http://bot.example.com", bland_webhook_secret=secret)  # type: ignore[call-arg]
    secure = Settings(_env_file=None, public_url="https://bot.example.com", bland_webhook_secret=secret)  # type: ignore[call-arg]
    assert any("PUBLIC_URL is not https" in w for w in warnings(plain))
    assert not any("https" in w for w in warnings(secure))
