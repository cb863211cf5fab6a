"""The CLI as a person runs it: check, serve (with graceful shutdown) and configuration errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub

SETTINGS_PREFIXES = (
    "SLACK_",
    "BLAND_",
    "PUBLIC_URL",
    "DATABASE_URL",
    "ADMIN_",
    "APPROVER_",
    "OPERATOR_",
    "PORT",
    "HOST",
    "LOG_",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update(extra)
    return env


async def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def services() -> AsyncIterator[tuple[SlackStub, BlandSimulator]]:
    stub, sim = SlackStub(), BlandSimulator()
    await stub.start()
    await sim.start()
    yield stub, sim
    await sim.stop()
    await stub.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_check_reports_both_services_and_masks_secrets(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, sim = services
    env = clean_env(
        SLACK_BOT_TOKEN=stub.bot_token,
        SLACK_SIGNING_SECRET="signing-secret-value",
        SLACK_API_URL=stub.api_url,
        BLAND_API_KEY=sim.api_key,
        BLAND_API_URL=sim.url,
    )
    code, out, _ = await run(["check"], env, tmp_path)
    assert code == 0, out
    assert "✓ Slack: auth.test ok" in out and "✓ Bland: GET /v1/calls ok" in out
    assert "no approvers configured: batch approvals are impossible" in out
    assert "signing-secret-value" not in out and stub.bot_token not in out and "set (…" in out

    env["BLAND_API_KEY"] = "wrong-key-value"
    code, out, _ = await run(["check"], env, tmp_path)
    assert code == 1 and "✗ Bland" in out and "misconfigured" in out and "wrong-key-value" not in out


async def test_missing_or_invalid_settings_stop_startup_with_one_line(tmp_path: Path) -> None:
    code, _, err = await run(["serve"], clean_env(), tmp_path)
    assert code == 2 and err.strip() == "blandbot: configuration error: SLACK_BOT_TOKEN: required but not set"
    code, _, err = await run(["serve"], clean_env(PORT="eighty"), tmp_path)
    assert code == 2 and err.startswith("blandbot: configuration error: PORT:") and "Traceback" not in err


async def test_serve_answers_slack_and_shuts_down_gracefully_on_sigterm(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, sim = services
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN=stub.bot_token,
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_API_URL=stub.api_url,
        BLAND_API_KEY=sim.api_key,
        BLAND_API_URL=sim.url,
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        POLL_TICK_SECONDS="0.2",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as http:
            health = None
            for _ in range(200):  # the process is starting: wait for it to listen
                try:
                    health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert health is not None and health["database"] == "ok" and health["scheduler_running"] is True
            body = sr.command_body("help", user="U1", channel="C1", response_url=stub.response_url())
            reply = await http.post(
                f"http://127.0.0.1:{port}/slack/events", content=body, headers=sr.sign_headers("s3cret", body)
            )
            assert reply.status_code == 200 and "/bland call" in reply.text
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert "shutting down" in err.decode() and "s3cret" not in err.decode()


async def wait_healthy(http: httpx.AsyncClient, url: str) -> httpx.Response:
    for _ in range(300):  # the process is starting: wait for it to listen
        try:
            return await http.get(url)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise TimeoutError(url)


async def test_simulate_runs_the_simulator_with_faults_from_flags(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "simulate",
        "--port",
        str(port),
        "--seed",
        "5",
        "--fault",
        "calls.list:500:2",
        env=clean_env(),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(headers={"authorization": "sim-key"}) as http:
            state = (await wait_healthy(http, f"http://127.0.0.1:{port}/_sim/state")).json()
            assert state["faults"]["calls.list"][0]["remaining"] == 2
            assert (await http.get(f"http://127.0.0.1:{port}/v1/calls")).status_code == 500
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0


async def test_serve_simulate_needs_no_bland_key(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, _ = services
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN=stub.bot_token,
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_API_URL=stub.api_url,
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path}/sim.db",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--simulate",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as http:
            health = (await wait_healthy(http, f"http://127.0.0.1:{port}/healthz")).json()
            assert health["database"] == "ok"
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0 and "in-process Bland simulator" in err.decode()


async def test_kill_9_mid_call_then_restart_posts_the_result_exactly_once(
    tmp_path: Path, services: tuple[SlackStub, BlandSimulator]
) -> None:
    stub, sim = services
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN=stub.bot_token,
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_API_URL=stub.api_url,
        BLAND_API_KEY=sim.api_key,
        BLAND_API_URL=sim.url,
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path}/k.db",
        POLL_TICK_SECONDS="0.1",
        CALL_POLL_SECONDS="0.2",
    )
    base = f"http://127.0.0.1:{port}"

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def signed(http: httpx.AsyncClient, body: str) -> httpx.Response:
        return await http.post(f"{base}/slack/events", content=body, headers=sr.sign_headers("s3cret", body))

    sim.clock.speed = 1.0  # the call stays live while the bot is killed
    process = await start()
    try:
        async with httpx.AsyncClient() as http:
            await wait_healthy(http, f"{base}/healthz")
            await signed(
                http,
                sr.command_body(
                    "call +14155550123 Say hi", user="U1", channel="C1", response_url=stub.response_url()
                ),
            )
            for _ in range(200):
                if stub.views:
                    break
                await asyncio.sleep(0.02)
            payload = sr.view_submission_payload(stub.last_view(), {}, user="U1")
            assert (await signed(http, sr.interactive_body(payload))).status_code == 200
            for _ in range(200):
                if stub.channel_messages("C1") and sim.calls:
                    break
                await asyncio.sleep(0.02)
            card = stub.channel_messages("C1")[0]
            process.kill()  # kill -9: no graceful shutdown
            await process.wait()
            assert stub.channel_messages("C1", thread_ts=card.ts) == []
            sim.clock.advance(3600)  # the call ends while the bot is down
            process = await start()
            await wait_healthy(http, f"{base}/healthz")
            for _ in range(300):
                health = (await http.get(f"{base}/healthz")).json()
                if health["tracked"] == 0:
                    break
                await asyncio.sleep(0.02)
            assert health["tracked"] == 0
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
    replies = stub.channel_messages("C1", thread_ts=card.ts)
    assert len(replies) == 1 and "Call result" in json.dumps(replies[0].blocks)
