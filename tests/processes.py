"""Running the real `blandbot` process against the stand-ins: environment, start, signals, health."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.ids import ActionId
from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub, StubMessage
from tests.helpers import request_id_of

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
    "POLL_",
    "CALL_POLL",
    "CALLING_",
)
SIGNING = "s3cret"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any blandbot setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update(extra)
    return env


def bot_env(
    stub: SlackStub, sim: BlandSimulator | None, tmp_path: Path, port: int, **extra: str
) -> dict[str, str]:
    """Settings for a bot process talking to the stand-in (and the simulator, when given)."""
    settings = {
        "SLACK_BOT_TOKEN": stub.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING,
        "SLACK_API_URL": stub.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
        # These processes run on the wall clock: always inside calling hours, whatever the hour.
        "CALLING_HOURS": "00:00-24:00",
        "CALLING_DAYS": "Mon-Sun",
    }
    env = clean_env(**(settings | extra))
    if sim is not None:
        env.update(BLAND_API_KEY=sim.api_key, BLAND_API_URL=sim.url)
    return env


async def spawn(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` with its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` to completion."""
    process = await spawn(args, env, cwd)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def running(
    args: list[str], env: dict[str, str], cwd: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `python -m bot ARGS` in the background; kill it on the way out if it is still running."""
    process = await spawn(args, env, cwd)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> str:
    """Signal a process, wait for it to exit and return what it wrote to stderr."""
    process.send_signal(sig)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    return err.decode()


async def wait_listening(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET `url` once the process has started listening (bounded: about 15 s)."""
    for _ in range(300):
        try:
            return await http.get(url)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise TimeoutError(url)


# Ports handed out in this process: the kernel may offer a just-closed port again, and two bots (replicas)
# told the same port would fail to start ("address already in use").
_HANDED: set[int] = set()


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED:
            _HANDED.add(port)
            return port


class BotProcess:
    """`python -m bot serve` on one database, started, killed (-9) and restarted by a test.

    Its log goes to a file (a pipe nobody reads would fill up and stall it); `log()` reads it all.
    """

    def __init__(self, stub: SlackStub, sim: BlandSimulator, tmp_path: Path, **extra: str) -> None:
        self.port = free_port()
        self.env = bot_env(stub, sim, tmp_path, self.port, **extra)
        self.cwd = tmp_path
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.AsyncClient(timeout=30.0)
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = tmp_path / "bot.log"
        self.runs = 0

    async def start(self) -> None:
        """Start the process and wait until it answers /healthz."""
        self.runs += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- run {self.runs} ---\n".encode())
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )
        await wait_listening(self.http, f"{self.base}/healthz")

    async def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.process = None

    async def stop(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await self.process.wait()
        self.process = None

    async def close(self) -> None:
        """Kill whatever still runs and close the HTTP client."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self.http.aclose()

    async def health(self) -> dict[str, object]:
        """Return /healthz."""
        response = await self.http.get(f"{self.base}/healthz")
        body: dict[str, object] = response.json()
        return body

    async def signed(self, body: str) -> httpx.Response:
        """POST a signed Slack request."""
        return await self.http.post(
            f"{self.base}/slack/events", content=body, headers=sr.sign_headers(SIGNING, body)
        )

    def log(self) -> str:
        """Return everything the process wrote, across its runs."""
        return self.log_path.read_text(errors="replace")


async def next_request(stub: SlackStub, sim: BlandSimulator, timeout: float) -> None:
    """Wait until the next request reaches the Slack stand-in or the Bland simulator (or `timeout`)."""
    stub.changed.clear()
    sim.changed.clear()
    waits = [asyncio.ensure_future(stub.changed.wait()), asyncio.ensure_future(sim.changed.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


async def until_seen(
    stub: SlackStub, sim: BlandSimulator, predicate: Callable[[], Any], what: str, timeout: float = 30.0
) -> Any:
    """Wait, bounded, until requests into the stand-ins make `predicate()` truthy; return its value."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await next_request(stub, sim, timeout=1.0)
    return result


def approve_body(stub: SlackStub, card: StubMessage, user: str) -> str:
    """The signed-request body of `user` clicking Approve on an approval card."""
    payload = sr.action_payload(
        ActionId.APPROVE_BATCH,
        request_id_of(card),
        user=user,
        channel=card.channel,
        message_ts=card.ts,
        response_url=stub.response_url(),
    )
    return sr.interactive_body(payload)


class TcpProxy:
    """A TCP relay to a server (the database) that a test can cut and restore: a network partition."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (on the same port again after a cut)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        if server is not None:
            await server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}
