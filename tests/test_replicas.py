"""Three `blandbot serve` processes on one PostgreSQL database, Slack's requests spread across them.

200 calls and two batches in flight, approvals racing on different replicas, one replica killed with -9:
every batch request is sent once, every result is posted once, each call is read by one replica at a time,
the three stay within one Slack rate budget together, and the dead replica's items are finished by the
others once its leases lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from bot.sandbox import slack_requests as sr
from bot.sandbox.bland_sim import BlandSimulator
from bot.sandbox.slack_stub import SlackStub, StubMessage
from tests.conftest import TEST_DATABASE_URL, postgres_schema
from tests.processes import BotProcess, TcpProxy, approve_body, next_request, until_seen

pytestmark = pytest.mark.slow  # the bot as a process: `pytest -m "not slow"` leaves these out

ALICE, BOB = "U0ALICE", "U0BOB"
OPS, APPROVALS = "C0OPS", "C0APPROVE"
PROMPT = "Hi {{name}}, this is Acme calling about your {{plan}} renewal."
LEASE_SECONDS = 3.0
CALL_POLL_SECONDS = 0.5
CALLS = 200
# Slack's Tier 3 allows 50 card edits a minute in a workspace, and each of 200 calls' cards is edited:
# minutes of Slack's time, whatever the bot does. So Slack's limits (the stand-in's) and the bot's budget
# are both scaled by ten: the three replicas must still keep to the one budget together (no 429).
RATE_SCALE = 10.0
BLAND_RPS = 40
# Slack takes about one message a second per channel: the calls are spread over channels, as teams do.
CHANNELS = [f"C0OPS{n:02d}" for n in range(20)]
# Each requester gets a DM per result, paced per person: the calls come from many people, as they would.
OPERATORS = [f"U0OP{n:03d}" for n in range(50)]


class Cluster:
    def __init__(self, stub: SlackStub, sim: BlandSimulator, replicas: list[BotProcess]) -> None:
        self.stub, self.sim, self.replicas = stub, sim, replicas
        self.turn = 0

    def next(self) -> BotProcess:
        """The next live replica, round robin: Slack's requests land anywhere."""
        live = [r for r in self.replicas if r.process is not None]
        self.turn += 1
        return live[self.turn % len(live)]

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        return await until_seen(self.stub, self.sim, predicate, what, timeout)

    async def quiet(self) -> None:
        """Wait until no replica tracks anything and the shared outbox is empty."""
        deadline = time.monotonic() + 240
        while True:
            health = await self.next().health()
            if health["tracked"] == 0 and health["outbox"] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replicas never settled: {health}")
            await next_request(self.stub, self.sim, timeout=1.0)

    async def place(self, number: str, channel: str, user: str) -> None:
        """`/bland call NUMBER …` on one replica, then its modal submitted on another."""
        body = sr.command_body(
            f"call {number} Say hi", user=user, channel=channel, response_url=self.stub.response_url()
        )
        trigger = parse_qs(body)["trigger_id"][0]
        assert (await self.next().signed(body)).status_code == 200
        view_id = await self.until(lambda: self.stub.opened.get(trigger), f"the modal for {number}")
        await self.submit(self.stub.views[view_id], {}, user)

    async def modal(
        self, command: str, callback: str, channel: str = OPS, user: str = ALICE
    ) -> dict[str, Any]:
        before = len(self.stub.views)
        body = sr.command_body(command, user=user, channel=channel, response_url=self.stub.response_url())
        assert (await self.next().signed(body)).status_code == 200

        def opened() -> dict[str, Any] | None:
            view = self.stub.last_view() if len(self.stub.views) > before else None
            return view if view and view.get("callback_id") == callback else None

        return await self.until(opened, f"the {callback} modal")  # type: ignore[no-any-return]

    async def submit(self, view: dict[str, Any], fields: dict[str, Any], user: str = ALICE) -> None:
        body = sr.interactive_body(sr.view_submission_payload(view, fields, user=user))
        assert (await self.next().signed(body)).status_code == 200


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    replicas: int,
    *,
    rate_scale: float = 1.0,
    socket_mode: bool = False,
    route: Callable[[int, str], str] = lambda n, url: url,
    clean: Callable[[int], bool] = lambda n: True,
    **settings: str,
) -> AsyncIterator[Cluster]:
    """The stand-ins, a fresh PostgreSQL schema and `replicas` started `blandbot serve` processes on it
    (replica n reaches the database at `route(n, url)`; each with its own Socket Mode connection when asked);
    afterwards, no `clean(n)` replica logged a traceback."""
    stub, sim = SlackStub(rate_scale=rate_scale), BlandSimulator()
    if socket_mode:
        settings["SLACK_APP_TOKEN"] = stub.app_token
    sim.clock.speed = 1.0  # calls stay live until the test advances Bland's clock
    await stub.start()
    await sim.start()
    try:
        async with postgres_schema() as url:
            processes = []
            for n in range(replicas):
                folder = tmp_path / f"replica{n}"
                folder.mkdir()
                processes.append(
                    BotProcess(
                        stub,
                        sim,
                        folder,
                        DATABASE_URL=route(n, url),
                        LEASE_SECONDS=str(LEASE_SECONDS),
                        POLL_TICK_SECONDS="0.1",
                        CALL_POLL_SECONDS=str(CALL_POLL_SECONDS),
                        SLACK_RATE_SCALE=str(rate_scale),
                        **settings,
                    )
                )
            try:
                await asyncio.gather(*(p.start() for p in processes))
                yield Cluster(stub, sim, processes)
            finally:
                for process in processes:
                    await process.close()
            for n, process in enumerate(processes):
                if clean(n):
                    assert "Traceback" not in process.log(), process.log()[-3000:]
    finally:
        await sim.stop()
        await stub.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with running(
        tmp_path,
        3,
        rate_scale=RATE_SCALE,
        DATABASE_POOL_SIZE="4",
        BATCH_POLL_SECONDS="0.5",
        APPROVER_USERS=BOB,
        APPROVAL_CHANNEL=APPROVALS,
        BATCH_MAX_CALLS="100",
        # 200 calls at once are past every plan's caps but an enterprise contract's (none).
        BLAND_PLAN="enterprise",
        COST_PER_MINUTE="0.14",
        # This Bland grants the org 40 requests a second (Bland's default is 5): 200 calls placed and
        # followed at once by three replicas, within the budget they share.
        BLAND_MAX_RPS=str(BLAND_RPS),
        # A send cut off by a kill is looked up in Bland this soon (never re-sent).
        SEND_STUCK_SECONDS="1",
    ) as c:
        # Bland takes a fifth of a second to answer each call read: a call polled by two replicas in one
        # interval is then two reads in flight at once, which the simulator notes.
        c.sim.inject("calls.get", "slow", count=10**6, delay=0.2)
        yield c


def call_cards(c: Cluster) -> list[StubMessage]:
    return [m for channel in CHANNELS for m in c.stub.channel_messages(channel) if "Call to" in m.text]


async def test_three_replicas_send_each_batch_once_and_post_every_result_once(cluster: Cluster) -> None:
    c = cluster
    started = time.monotonic()
    numbers = [f"+1415555{1000 + i:04d}" for i in range(CALLS)]
    for first in range(0, CALLS, len(OPERATORS)):  # 50 people at a time, each placing one call
        await asyncio.gather(
            *(
                c.place(numbers[i], CHANNELS[i % len(CHANNELS)], OPERATORS[i % len(OPERATORS)])
                for i in range(first, min(first + len(OPERATORS), CALLS))
            )
        )
    await c.until(lambda: len(call_cards(c)) == CALLS, "cards", timeout=120)
    for label in ("North", "South"):
        rows = "\n".join(f"+1212555{2000 + i:04d},P{i},gold" for i in range(20))
        view = await c.modal("batch", "request_batch")
        await c.submit(
            view, {"batch_label": label, "base_prompt": PROMPT, "recipients_text": f"phone,name,plan\n{rows}"}
        )
    cards = await c.until(
        lambda: (
            c.stub.channel_messages(APPROVALS)[:2] if len(c.stub.channel_messages(APPROVALS)) >= 2 else None
        ),
        "approval cards",
    )

    # 50 approvals at once, 25 a request, spread over the three replicas.
    clicks = [c.replicas[i % 3].signed(approve_body(c.stub, cards[i % 2], BOB)) for i in range(50)]
    assert all(r.status_code == 200 for r in await asyncio.gather(*clicks))
    await c.until(lambda: len(c.sim.batches) == 2, "both batches")

    c.sim.clock.advance(3600)  # every call and batch ends
    await c.quiet()
    assert c.sim.count("batches.send") == 2 and len(c.sim.batches) == 2  # one per request
    assert c.sim.count("calls.send") == CALLS and len(c.sim.calls) == CALLS + 40
    for card in call_cards(c):
        replies = c.stub.channel_messages(card.channel, thread_ts=card.ts)
        assert len(replies) == 1 and "Call result" in json.dumps(replies[0].blocks), replies
    for card in cards:
        summaries = [
            m for m in c.stub.channel_messages(APPROVALS, thread_ts=card.ts) if "finished" in m.text.lower()
        ]
        assert len(summaries) == 1, [m.text for m in c.stub.channel_messages(APPROVALS, thread_ts=card.ts)]
    # Each call was read by one replica at a time: every read takes Bland a while here (see the fixture), so
    # two replicas polling one call in the same interval would have been in flight together.
    reads = Counter(
        path.split("?")[0].rsplit("/", 1)[-1] for name, _, path in c.sim.requests if name == "calls.get"
    )
    assert len(reads) >= CALLS, len(reads)  # every call was read
    assert [o for o in c.sim.overlapping if o[0] == "calls.get"] == [], c.sim.overlapping[:5]
    # Calls are found changed through Bland's list, read by the one replica leading the sweep: at most one
    # list a poll interval (and one more for each time the lead moved), not one per replica.
    sweeps = c.sim.count("calls.list")
    assert 0 < sweeps <= (time.monotonic() - started) / CALL_POLL_SECONDS + 5, sweeps
    # … and one Bland budget: a burst of 30 % of BLAND_MAX_RPS, then the rest of it each second, so no second
    # saw more than BLAND_MAX_RPS leave the replicas. Measured where Bland receives them, each request's trip
    # may take up to half a second on a busy machine: that much refill more, and no further.
    burst, refill = 0.3 * BLAND_RPS, 0.7 * BLAND_RPS
    assert c.sim.busiest_second() <= BLAND_RPS + refill * 0.5, c.sim.busiest_second()
    assert c.sim.busiest(10.0) <= burst + refill * 10.5, c.sim.busiest(10.0)  # the sustained rate, too
    # The three replicas spent one Slack budget: Slack never had to refuse one of them.
    assert c.stub.rate_limited == [], Counter(call.method for call in c.stub.rate_limited)


async def test_a_replica_killed_mid_flight_is_taken_over_within_a_lease(cluster: Cluster) -> None:
    c = cluster
    numbers = [f"+1415555{3000 + i:04d}" for i in range(15)]
    for i, number in enumerate(numbers):
        view = await c.modal(
            f"call {number} Say hi", "send_call", CHANNELS[i % len(CHANNELS)], OPERATORS[i % 50]
        )
        await c.submit(view, {}, OPERATORS[i % 50])
    await c.until(lambda: len(call_cards(c)) == 15, "cards")
    victim = c.replicas[0]
    await victim.kill()  # kill -9 while it may hold leases
    c.sim.clock.advance(3600)  # the calls end while one replica is dead
    await c.quiet()  # the two others finish everything, the dead one's leased items once its leases lapse
    # A call the dead replica had placed but not yet recorded is found in Bland's list and followed.
    await c.until(lambda: len(call_cards(c)) == 15, "every call's card")
    await c.quiet()
    for card in call_cards(c):
        replies = c.stub.channel_messages(card.channel, thread_ts=card.ts)
        assert len(replies) == 1, (card.text, [r.text for r in replies])
    assert c.sim.count("calls.send") == 15 and len(c.sim.calls) == 15


async def test_a_replica_cut_off_from_the_database_says_so_and_the_others_finish_its_work(
    tmp_path: Path,
) -> None:
    """A network partition between one replica and PostgreSQL: its /healthz says 503 and its log says why
    (once, not a traceback a tick), it claims nothing, the replica that still reaches the database finishes
    every call, and once the network is back it takes work again. Nothing is lost, nothing posted twice."""
    database = urlsplit(TEST_DATABASE_URL or "postgresql://127.0.0.1:5432")
    proxy = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
    await proxy.start()

    def through_proxy(n: int, url: str) -> str:
        """Replica 0 reaches the database through the relay the test cuts."""
        parts = urlsplit(url)
        return (
            urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}")) if n == 0 else url
        )

    try:
        async with running(tmp_path, 2, route=through_proxy, clean=lambda n: n != 0) as c:
            cut, kept = c.replicas
            sim = c.sim
            for i in range(6):
                await c.place(f"+1415555{4000 + i:04d}", CHANNELS[i], OPERATORS[i])
            await c.until(lambda: len(call_cards(c)) == 6, "the cards")
            view = await c.modal("call +14155554999 Say hi", "send_call", CHANNELS[9], OPERATORS[9])

            await proxy.cut()
            await c.until(lambda: "database cannot be reached" in cut.log(), "the cut replica saying so")
            health = await cut.http.get(f"{cut.base}/healthz")
            assert health.status_code == 503 and health.json()["database"] == "error"
            # Someone submits a call on the cut replica: told plainly, where they acted; no stack trace.
            body = sr.interactive_body(sr.view_submission_payload(view, {}, user=OPERATORS[9]))
            assert (await cut.signed(body)).status_code == 200
            told = await c.until(
                lambda: [
                    e
                    for e in c.stub.ephemerals
                    if e.get("user") == OPERATORS[9] and "lost its database" in e.get("text", "")
                ],
                "the operator told the database was lost",
            )
            assert "Traceback" not in json.dumps(told)
            sim.clock.advance(3600)  # the calls end while one replica cannot reach the database
            await c.until(
                lambda: all(
                    c.stub.channel_messages(card.channel, thread_ts=card.ts) for card in call_cards(c)
                ),
                "every result, from the replica that still reaches the database",
            )
            assert (await kept.health())["tracked"] == 0
            assert (await cut.http.get(f"{cut.base}/healthz")).status_code == 503
            # The outbox looks at least once a second: wait for it to say so too before the network heals.
            await c.until(
                lambda: "outbox: the database cannot be reached" in cut.log(),
                "the cut replica's outbox saying so",
            )

            await proxy.start()
            await c.until(lambda: "database answers again" in cut.log(), "the replica back at work")
            assert (await cut.health())["database"] == "ok"
            for card in call_cards(c):
                assert len(c.stub.channel_messages(card.channel, thread_ts=card.ts)) == 1
            assert sim.count("calls.send") <= 7  # the call submitted during the cut went out once, or not
            # Said once by the tick and once by the outbox, not a line (or a traceback) a round.
            assert cut.log().count("tick: the database cannot be reached") == 1
            assert cut.log().count("outbox: the database cannot be reached") == 1
    finally:
        await proxy.cut()


async def test_socket_mode_replicas_each_hold_a_connection_and_share_the_work(tmp_path: Path) -> None:
    """Two replicas in Socket Mode on one PostgreSQL: each opens its own connection, Slack spreads envelopes
    over them, and a command on one replica and its modal's submission on the other place one call each;
    every result is posted once."""
    async with running(tmp_path, 2, socket_mode=True) as c:
        stub, sim = c.stub, c.sim
        await c.until(lambda: stub.open_sockets == 2, "a connection from each replica")
        assert len(stub.calls_to("apps.connections.open")) == 2  # one each, with the app-level token
        for i in range(6):
            number, channel, user = f"+1415555{5000 + i:04d}", CHANNELS[i], OPERATORS[i]
            body = sr.command_payload(
                f"call {number} Say hi", user=user, channel=channel, response_url=stub.response_url()
            )
            await stub.send_envelope("slash_commands", body, connection=i)
            view_id = await c.until(partial(stub.opened.get, body["trigger_id"]), f"the modal for {number}")
            payload = sr.view_submission_payload(stub.views[view_id], {}, user=user)
            await stub.send_envelope("interactive", payload, connection=i + 1)
        await c.until(lambda: len(call_cards(c)) == 6, "every call's card")
        sim.clock.advance(3600)
        await c.until(
            lambda: all(stub.channel_messages(card.channel, thread_ts=card.ts) for card in call_cards(c)),
            "every result",
        )
        await c.quiet()
        for card in call_cards(c):
            assert len(stub.channel_messages(card.channel, thread_ts=card.ts)) == 1
        assert sim.count("calls.send") == 6
