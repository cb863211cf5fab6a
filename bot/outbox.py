"""The delivery worker: sends queued Slack writes in order per thread, through Slack's failures, exactly once.

Flows and the tick queue `Delivery` rows (bot/store/outbox.py) with the state change that causes them; this
worker sends them. Slack answering 429 (its Retry-After honoured, for that channel), 5xx, timeouts or
connection errors puts a row off with backoff until it expires; a refusal (the channel is gone, the bot is
not in it, the message is invalid) drops it and says why in the log. A message waits for the card it
belongs under, so it is never posted outside its thread. Posts go through the Notifier's ledger, so a post
cut off by a crash is looked up in Slack by its delivery key before it is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from enum import Enum
from random import Random

from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.blocks.limits import fit_message
from bot.clock import Clock
from bot.metrics import Metrics
from bot.notifier import UNREACHABLE_CHANNEL, DeliveryPending, Notifier, is_transient, slack_error
from bot.store import Store
from bot.store.db import Outage
from bot.store.outbox import Delivery, Op, OutboxRow, OutboxState, overflow_file

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
# Writes in flight at once, at most: Slack's budgets decide what goes (a row whose bucket is empty is put
# off without a call), so as many go together as the buckets allow at once (a burst of results across fifty
# channels: 250), up to this many connections to Slack.
MAX_WRITERS = 64
# How often an idle worker looks for rows that fell due (a kick wakes it at once).
IDLE_SECONDS = 1.0

Unreachable = Callable[[OutboxRow, str], Awaitable[None]]


# How slack_sdk's files_upload_v2 says the upload URL answered other than 200.
UPLOAD_FAILED = "Failed to upload a file"


def dm_gap(messages: int) -> float:
    """Seconds a person's next direct message waits after one that held `messages` of them."""
    return min(DM_MAX_GAP, DM_GAP_PER_MESSAGE * (messages - 1))


def backoff(attempts: int, rng: Random) -> float:
    """Seconds before the next try: 2^n, capped, with ±10 % jitter."""
    return min(2.0 ** min(attempts, 12), MAX_BACKOFF_SECONDS) * rng.uniform(0.9, 1.1)


def retry_after(exc: SlackApiError) -> float | None:
    """Return Slack's Retry-After, in seconds, when it gave one."""
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# Slack's rate tiers, as token buckets (per second, burst) shared by every replica (bot/store/budget.py).
# Slack guarantees only the N of "N+ per minute", so a bucket never allows more than N in any minute:
# burst + 60 × rate stays a few short of it, which also absorbs the network's jitter. chat.update is
# Tier 3 (50 a minute per workspace); chat.postMessage about one a second per channel (60 a minute);
# uploads go through two Tier 4 methods (100 a minute each).
UPDATE_BUDGET = (40 / 60, 5.0)
POST_BUDGET = (50 / 60, 5.0)
UPLOAD_BUDGET = (80 / 60, 10.0)
# chat.postMessage is also held to a workspace-wide ceiling Slack does not publish ("several hundred a
# minute", "generous burst": SLACK_WORKSPACE_POSTS_PER_MINUTE). Every post spends this bucket too.
WORKSPACE_POSTS = "posts:workspace"


def workspace_post_budget(per_minute: int) -> tuple[float, float]:
    """The workspace's post bucket (per second, burst) for a ceiling of `per_minute` in any minute.

    A token bucket lets its burst and a minute's refill through in one minute, so the two share the
    ceiling: half of it at once (a burst of results reaches every thread together), half of it a minute
    after that, a few short of the ceiling in all."""
    half = per_minute / 2
    return half / 60, max(1.0, half - 5)


# Direct messages are paced per person, more gently than Slack requires: a few at once, then one every
# 5 s. What queues for a person meanwhile goes out together as one message listing it all (DM_MERGE), and
# the more one message held, the longer the next one waits (`dm_gap`): a thousand results finishing
# together reach their person as a handful of messages, not a flood of pings, while a lone one goes at once.
DM_BUDGET = (1 / 5, 3.0)
DM_GAP_PER_MESSAGE = 5.0
DM_MAX_GAP = 60.0
# At most this many direct messages go out as one (the list past what Slack shows goes in a file).
DM_MERGE = 500
# The most of a merged message's list shown in the message itself (Slack's text limit is 4,000).
DM_SHOWN_CHARS = 3500


class Went(Enum):
    """What became of a row in one delivery round."""

    YES = "yes"  # attempted: sent, put off after a failure, or dropped
    NO_CARD = "no_card"  # waits for its card
    LATER = "later"  # put off by Slack's budget


# Cards whose ts the worker keeps in memory, at most (each saves a read for every reply under it).
CARD_TS_KEPT = 10_000
# Rows taken from the queue at a time (more are taken as writers free up).
ROUND_SIZE = 64


class Waiting(Exception):
    """The row cannot go yet: its card is not posted (the card's delivery kicks the worker again)."""


class CardMissing(Exception):
    """The card a row belongs under was never posted (Slack refused it): the row is dropped with it."""


class Outbox:
    """Queue Slack writes durably and deliver them."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        rng: Random,
        *,
        metrics: Metrics | None = None,
        owner: str = "",
        lease: float = 60.0,
        rate_scale: float = 1.0,
        workspace_posts: int = 600,
    ) -> None:
        # Replicas: the rows this process delivers are leased to `owner` (its replica name).
        self._owner = owner or uuid.uuid4().hex[:12]
        self._lease = lease
        self._metrics = metrics or Metrics()
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._rng = rng
        self._wake = asyncio.Event()
        self._listening: asyncio.Queue[asyncio.Future[Went] | None] | None = None  # the drain under way
        self._outage = Outage("outbox")
        self._drain_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._dm_channels: dict[str, str] = {}
        self._card_ts: dict[tuple[str, str], str] = {}
        self._workspace_url: str | None = None
        # Slack's budget is the workspace's: every replica spends the same buckets (SLACK_RATE_SCALE).
        self._budget = store.slack_budget
        self._rate_scale = rate_scale
        self._workspace_posts = workspace_posts
        # Told when a notification line cannot reach its channel (the subscriber gets a DM).
        self.on_unreachable: Unreachable | None = None
        # How bursts are met (bench/bursts.py turns both off for its baseline, the behaviour before them):
        # final card states edited first, and a person's queued direct messages sent as one.
        self.final_first = True
        self.dm_merge = DM_MERGE

    # -- queueing -----------------------------------------------------------------------------

    async def add(self, *deliveries: Delivery) -> None:
        """Queue deliveries in a transaction of their own and wake the worker."""
        if deliveries:
            await self._store.outbox.add(deliveries)
            self.kick()

    def kick(self) -> None:
        """Make the worker look at the queue now."""
        self._wake.set()
        if self._listening is not None:  # a drain under way looks again
            self._listening.put_nowait(None)

    async def card_ts(self, card: str, channel: str) -> str | None:
        """Return the ts of a card once it is posted (kept once known: a posted message keeps its ts)."""
        known = self._card_ts.get((card, channel))
        if known is None:
            known = await self._store.notifications.ts_of(card, channel)
            if known is not None:
                if len(self._card_ts) >= CARD_TS_KEPT:
                    del self._card_ts[next(iter(self._card_ts))]  # the longest known first
                self._card_ts[(card, channel)] = known
        return known

    async def wait_for(self, key: str, channel: str, *, timeout: float) -> OutboxState | None:
        """Deliver now and wait, at most `timeout` seconds, for a row's first attempt; return its state.

        PENDING means Slack did not take it yet (it failed once and is retried with backoff, or the time
        ran out); None means it was never queued.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await self._store.outbox.progress(key, channel)
            if found is None or found[0] is not OutboxState.PENDING or found[1] > 0:
                return found[0] if found else None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return OutboxState.PENDING
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    if not await self.drain():  # it waits for its card: look again shortly
                        await asyncio.sleep(0.05)

    # -- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker in the current loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self, *, grace: float = 5.0) -> None:
        """Let a delivery round under way finish (at most `grace` seconds), then stop the worker.

        A row cut off mid-send stays queued, in doubt, and is looked up in Slack on the next start.
        """
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    async with self._drain_lock:
                        pass
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
                wait = await self._until_next()
                self._outage.back()
            except Exception as exc:
                if self._store.db.unreachable(exc):
                    self._outage.lost(exc)
                else:
                    log.exception("outbox: delivery round failed")
                wait = IDLE_SECONDS
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: 3.11's wait_for can swallow a cancel
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _until_next(self) -> float:
        due = await self._store.outbox.next_due()  # rows put off by the budget are rescheduled there too
        if due is None:
            return IDLE_SECONDS
        return min(max(due - self._clock.now(), 0.05), IDLE_SECONDS)

    def _bucket(self, row: OutboxRow) -> tuple[str, tuple[float, float]]:
        """The budget a row spends first: its Slack method's (or its channel's, for posts) and its pace."""
        if row.op is Op.UPDATE:
            return "chat.update", UPDATE_BUDGET
        if row.op is Op.UPLOAD:
            return "files", UPLOAD_BUDGET
        if row.channel.startswith("@"):
            return f"dm:{row.channel}", DM_BUDGET
        return f"post:{row.channel}", POST_BUDGET

    def _buckets(self, row: OutboxRow) -> list[tuple[str, float, float]]:
        """Every budget a row spends, scaled: a post spends its channel's and then the workspace's."""
        key, (rate, burst) = self._bucket(row)
        scale = 1.0 if key.startswith("dm:") else self._rate_scale  # the DM pace is ours, not Slack's
        buckets = [(key, rate * scale, burst * scale)]
        if row.op is Op.POST:
            rate, burst = workspace_post_budget(self._workspace_posts)
            buckets.append((WORKSPACE_POSTS, rate * self._rate_scale, burst * self._rate_scale))
        return buckets

    async def _spend(self, row: OutboxRow, queued: dict[str, float]) -> float:
        """Take the row's share of Slack's rate budget; 0, or the seconds it must wait.

        Once a bucket is found empty in a drain, the rows after it queue behind it (`queued`: when the last
        one's turn comes, per bucket), each a token's time later, without asking the database again: a
        backlog wakes a row at a time as tokens come, not all at once for each token."""
        now = self._clock.now()
        if row.op is Op.UPDATE and row.shown_at is not None:  # a live card is shown at most this often
            wait = row.shown_at + row.min_interval - now
            if wait > 0:
                return wait
        buckets = self._buckets(row)
        for key, rate, _ in buckets:
            if key in queued:
                queued[key] += 1.0 / rate
                return queued[key] - now
        for key, rate, burst in buckets:
            wait = await self._budget.take(key, rate, burst)
            if wait > 0:
                queued[key] = now + wait
                return wait
        return 0.0

    async def drain(self) -> int:
        """Send every row that may go now, many at once; return how many were attempted.

        Rows are taken as writers free up, not in rounds that wait for their slowest send: a row queued
        meanwhile (a result a webhook just found) is taken as soon as a writer is free. A row put off by
        Slack's budget or a Retry-After is taken again once its time comes (the queue keeps its time); a
        row waiting for its card gets another look whenever something went after it was tried (it may have
        been its card). The drain ends when nothing is under way and nothing may go now.
        """
        async with self._drain_lock:
            attempted = 0
            waiting: set[int] = set()
            queued: dict[str, float] = {}  # bucket -> when the last row queued behind it goes
            slots = asyncio.Semaphore(MAX_WRITERS)
            running: dict[asyncio.Future[Went], tuple[OutboxRow, int]] = {}  # a send -> its row, `went` then
            went = 0  # rows attempted so far: a row that waited for its card is tried again once it grows
            look = True  # something may have become eligible since the last look
            # What the drain waits for: a send that ended, or None (kick(): rows were queued).
            events: asyncio.Queue[asyncio.Future[Went] | None] = asyncio.Queue()
            self._listening = events
            try:
                while True:
                    if look and len(running) < 2 * MAX_WRITERS:
                        rows = await self._store.outbox.eligible(
                            self._clock.now(),
                            exclude=waiting | {row.id for row, _ in running.values()},
                            limit=ROUND_SIZE,
                            owner=self._owner,
                            lease=self._lease,
                            final_first=self.final_first,
                        )
                        for row in rows:
                            sending = asyncio.get_running_loop().create_task(
                                self._deliver_guarded(row, slots, queued)
                            )
                            sending.add_done_callback(events.put_nowait)
                            running[sending] = (row, went)
                        look = len(rows) == ROUND_SIZE  # a full batch: there may be more now
                    if not running:
                        return attempted
                    ended = [await events.get()]
                    while not events.empty():
                        ended.append(events.get_nowait())
                    for finished in ended:
                        if finished is None:
                            look = True  # new rows were queued
                            continue
                        row, since = running.pop(finished)
                        result = finished.result()
                        if result is Went.NO_CARD:
                            if went == since:  # nothing went since it was tried: its card is still away
                                waiting.add(row.id)
                            else:
                                look = True
                        elif result is Went.YES:
                            went += 1
                            attempted += 1
                            waiting.clear()  # a card may have gone (or been refused): replies get a look
                            look = True
            finally:
                self._listening = None
                for task in running:
                    task.cancel()
                if running:
                    await asyncio.wait(running)

    async def _deliver_guarded(
        self, row: OutboxRow, slots: asyncio.Semaphore, queued: dict[str, float]
    ) -> Went:
        """Deliver one row and record the outcome (or say why it must wait)."""
        async with slots:
            now = self._clock.now()
            if now >= row.expires_at:
                log.warning("outbox: %s for %s expired unsent (%s)", row.key, row.channel, row.op)
                await self._store.outbox.drop(row, "expired")
                return Went.YES
            wait = await self._spend(row, queued)
            if wait > 0:  # Slack's budget for it is spent for now; newer card states replace it meanwhile
                self._metrics.budget_waits.labels(op=row.op).inc()
                await self._store.outbox.put_off(row, at=now + wait)
                return Went.LATER
            outcome = "sent"
            try:
                ts = await self._deliver(row)
            except Waiting:
                return Went.NO_CARD
            except CardMissing as exc:
                outcome = "dropped"
                log.warning(
                    "outbox: %s to %s dropped: its card %s was never posted", row.key, row.channel, exc
                )
                await self._store.outbox.drop(row, f"card {exc} never posted")
            except DeliveryPending as exc:
                outcome = "retried"
                await self._store.outbox.retry(row, at=now + 5.0, error=str(exc))
            except SlackApiError as exc:
                outcome = await self._failed(row, exc)
            except (OSError, TimeoutError) as exc:  # the connection failed: Slack may or may not have it
                outcome = "retried"
                log.warning("outbox: %s to %s: %s; retrying", row.key, row.channel, type(exc).__name__)
                await self._store.outbox.retry(
                    row, at=now + backoff(row.attempts, self._rng), error=type(exc).__name__
                )
            except Exception as exc:
                outcome = "retried"
                if isinstance(exc, SlackRequestError) and str(exc).startswith(UPLOAD_FAILED):
                    # Slack's upload host answered an error (a 5xx in an incident): a passing Slack failure.
                    log.warning("outbox: Slack's upload host failed %s to %s; retrying", row.key, row.channel)
                    await self._store.outbox.retry(
                        row, at=now + backoff(row.attempts, self._rng), error="upload failed"
                    )
                else:
                    log.exception("outbox: %s to %s failed unexpectedly; retrying", row.key, row.channel)
                    await self._store.outbox.retry(
                        row, at=now + backoff(row.attempts + 4, self._rng), error="internal error"
                    )
            else:
                if not await self._store.outbox.sent(row, ts):
                    self.kick()  # a newer state of this card arrived while this one was sent
                elif row.op is Op.POST:
                    self.kick()  # messages waiting for this card may go now
            self._metrics.slack_writes.labels(op=row.op, outcome=outcome).inc()
            return Went.YES

    async def _failed(self, row: OutboxRow, exc: SlackApiError) -> str:
        """Put the row off or drop it, by what Slack said; return which (for the metrics)."""
        error = slack_error(exc)
        now = self._clock.now()
        status = exc.response.status_code
        if status == 429 or error == "ratelimited":
            wait = retry_after(exc) or backoff(row.attempts, self._rng)
            key = self._bucket(row)[0]
            await self._budget.hold(key, wait)  # every replica honours it
            log.warning("outbox: Slack rate-limited %s; %s waits %.0f s", key, row.key, wait)
            self._metrics.slack_rate_limited.labels(op=row.op).inc()
            await self._store.outbox.retry(row, at=now + wait, error=error)
            return "retried"
        if is_transient(exc):
            log.warning("outbox: Slack failed %s to %s (%s); retrying", row.key, row.channel, error)
            await self._store.outbox.retry(row, at=now + backoff(row.attempts, self._rng), error=error)
            return "retried"
        log.warning("outbox: Slack refused %s to %s (%s); dropped", row.key, row.channel, error)
        await self._store.outbox.drop(row, error)
        if error in UNREACHABLE_CHANNEL and row.topic and self.on_unreachable is not None:
            try:
                await self.on_unreachable(row, error)
            except Exception:
                log.exception("outbox: telling subscribers that %s is unreachable failed", row.channel)
        return "dropped"

    async def _card(self, row: OutboxRow, card: str, channel: str) -> str | None:
        """Return a card's ts; raise Waiting while its post is queued; None when it will never exist."""
        ts = await self.card_ts(card, channel)
        if ts:
            return ts
        if await self._store.outbox.card_state(card, channel) is OutboxState.PENDING:
            raise Waiting(card)
        return None

    async def _deliver(self, row: OutboxRow) -> str | None:
        """Send one row; return the new message's ts (posts)."""
        thread_ts: str | None = None
        if row.thread_of:
            thread_ts = await self._card(row, row.thread_of, row.channel)
            if thread_ts is None:  # never outside its thread
                raise CardMissing(row.thread_of)
        notifier = self._notifier
        if row.op is Op.UPDATE:
            assert thread_ts is not None and row.thread_of is not None
            await notifier.update(row.channel, thread_ts, row.text, row.blocks)
            return None
        channel = await self._channel(row.channel)
        text = await self._linked(row)
        blocks = row.blocks
        merged = (
            await self._store.outbox.merge(row, limit=self.dm_merge)
            if row.mergeable and self.dm_merge
            else []
        )
        if merged:
            text = await self._merged_text(row, [text, *[await self._linked(m) for m in merged]])
        if row.op is Op.POST:
            fitted = fit_message(text, row.blocks)
            if fitted.shortened:
                text, blocks = fitted.text, fitted.blocks
                await self._store.outbox.add([overflow_file(row, fitted.overflow)])
        if row.op is Op.UPLOAD:
            file = row.file or {}
            await notifier.upload(
                channel,
                filename=file.get("filename", "file.txt"),
                content=file.get("content", ""),
                title=file.get("title", ""),
                thread_ts=thread_ts,
                comment=text or None,
                event_key=row.key,
            )
            return None
        ts = await notifier.post(channel, text, blocks, thread_ts=thread_ts, event_key=row.key)
        if merged:  # a burst for this person: what comes next waits for more to join it
            await self._budget.hold(self._bucket(row)[0], dm_gap(len(merged) + 1))
        return ts or await self._store.notifications.ts_of(row.key, channel)

    async def _merged_text(self, head: OutboxRow, lines: list[str]) -> str:
        """One direct message listing several: as many as fit in Slack's text, the whole list in a file."""
        shown: list[str] = []
        size = 0
        for line in lines:
            size += len(line) + 3
            if size > DM_SHOWN_CHARS:
                break
            shown.append(f"• {line}")
        text = f"*{len(lines)} updates*\n" + "\n".join(shown)
        if len(shown) < len(lines):
            rest = len(lines) - len(shown)
            text += f"\n…and {rest} more: the whole list, with a link to each, is in the file below."
            await self._store.outbox.add([overflow_file(head, "\n".join(lines) + "\n")])
        return text

    async def _channel(self, channel: str) -> str:
        """Resolve `@U…` to the bot's direct-message channel with that person (cached)."""
        if not channel.startswith("@"):
            return channel
        user = channel[1:]
        if user not in self._dm_channels:
            opened = await self._notifier.client.conversations_open(users=user)
            self._dm_channels[user] = str(opened["channel"]["id"])
        return self._dm_channels[user]

    async def _linked(self, row: OutboxRow) -> str:
        """Append a link to the card's thread when the row asks for one and the card exists."""
        if row.link_to is None:
            return row.text
        card, channel = row.link_to
        ts = await self._card(row, card, channel)
        if ts is None:
            return row.text
        link = await self._permalink(channel, ts)
        return f"{row.text} · <{link}|open thread>" if link else row.text

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A message's permalink (None when the workspace's URL is unknown)."""
        try:
            return await self._permalink(channel, ts)
        except SlackApiError:
            return None

    async def _permalink(self, channel: str, ts: str) -> str | None:
        """Build a message's permalink from the workspace's URL (one auth.test per process, not a call a link).

        Slack's permalinks are `<workspace url>archives/<channel>/p<ts without the dot>`.
        """
        if self._workspace_url is None:
            try:
                self._workspace_url = str((await self._notifier.client.auth_test()).get("url") or "")
            except SlackApiError as exc:
                if exc.response.status_code == 429 or exc.response.status_code >= 500:
                    raise
                log.info("outbox: no workspace URL for links: %s", slack_error(exc))
                self._workspace_url = ""
        if not self._workspace_url:
            return None
        base = self._workspace_url if self._workspace_url.endswith("/") else self._workspace_url + "/"
        return f"{base}archives/{channel}/p{ts.replace('.', '')}"
