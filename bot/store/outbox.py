"""The durable outbox: Slack writes waiting to be delivered, written with the state change that causes them.

A row is one message (or file, or card update) for one channel. Rows are added inside the caller's
transaction when there is one, so a state change and what it tells people commit together or not at all.
The worker (bot/outbox.py) reads `eligible` rows, sends them and records the outcome here.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackObjectFormationError

from bot.clock import Clock
from bot.store.db import Database, Row

log = logging.getLogger(__name__)

# How long a message stays worth delivering while Slack fails: results a day later still matter; a card
# update is replaced by the next one anyway.
DEFAULT_TTL_SECONDS = 3 * 24 * 3600.0


class Op(StrEnum):
    POST = "post"
    UPDATE = "update"
    UPLOAD = "upload"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"


@dataclass(frozen=True)
class Delivery:
    """One Slack write to make, exactly once.

    `key` is the delivery key (unique per channel, carried in the message's metadata). `channel` is a
    channel id, or `@U…` for a direct message to that person. `thread_of` is the key of the card whose
    thread the message goes into, or (for an update) the card to edit; the delivery waits for that card.
    `link_to` is a (card key, channel) whose thread is linked at the end of the text.
    """

    key: str
    channel: str
    text: str
    blocks: Sequence[Any] | None = None
    op: Op = Op.POST
    thread_of: str | None = None
    link_to: tuple[str, str] | None = None
    topic: str | None = None
    file: dict[str, str] | None = None
    ttl: float = DEFAULT_TTL_SECONDS
    # For a card update: do not show states more often than this (a live card whose passing states nobody
    # needs to see); 0 shows each as soon as Slack's budget allows (a decision on an approval card).
    min_interval: float = 0.0
    # For a card update: whether this is a state someone must see (a call that ended, a decision, a batch's
    # end), whose edit goes before any passing state's. None: a state shown at once is one, a paced one not.
    final: bool | None = None

    @property
    def is_final(self) -> bool:
        """Whether the row spends Slack's budget before passing card states (every row but those)."""
        if self.op is not Op.UPDATE:
            return True
        return self.final if self.final is not None else self.min_interval == 0

    @property
    def group(self) -> str | None:
        """The ordered stream a row belongs to: a person's direct messages, or one thread's replies.

        Rows of a group go out one at a time in the order they were queued, so "your batch finished" never
        overtakes "your batch was approved". Card updates coalesce instead, and channel lines need no order.
        """
        if self.op is Op.UPDATE:
            return None
        if self.channel.startswith("@"):
            return f"{self.channel}|dm"
        if self.thread_of is None:
            return None
        return f"{self.channel}|{self.thread_of}"

    def payload(self) -> str:
        """Serialise what Slack receives (Block Kit objects as dicts).

        Builders keep to Slack's limits; should one not, its blocks are left out and the fallback text
        still goes, rather than the state change that queued it being rolled back with it."""
        try:
            blocks = (
                [b.to_dict() if hasattr(b, "to_dict") else b for b in self.blocks] if self.blocks else None
            )
        except SlackObjectFormationError as exc:
            log.error(
                "outbox: %s's blocks break a Block Kit limit (%s); sending its text alone", self.key, exc
            )
            blocks = None
        return json.dumps(
            {"text": self.text, "blocks": blocks, "file": self.file, "min_interval": self.min_interval}
        )


def card_update(
    card: str,
    channel: str,
    text: str,
    blocks: Sequence[Any],
    *,
    min_interval: float = 0.0,
    final: bool | None = None,
) -> Delivery:
    """A card's new state: one row per card, so queued states coalesce and only the latest is sent.

    `final` marks the state someone must see (see Delivery.final); it defaults to "shown at once"."""
    return Delivery(
        key=f"{card}:update",
        channel=channel,
        text=text,
        blocks=blocks,
        op=Op.UPDATE,
        thread_of=card,
        min_interval=min_interval,
        final=final,
    )


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    channel: str
    op: Op
    thread_of: str | None
    link_to: tuple[str, str] | None
    topic: str | None
    text: str
    blocks: list[dict[str, Any]] | None
    file: dict[str, str] | None
    min_interval: float
    version: int
    attempts: int
    created_at: float
    expires_at: float
    shown_at: float | None = None  # a card: when any replica last edited it
    final: bool = True  # a card state someone must see (every row but a live card's passing state)
    merged_into: int | None = None  # a direct message that goes out inside an earlier one

    @property
    def mergeable(self) -> bool:
        """A direct message of plain text, which may go out in one message with the person's others."""
        return self.op is Op.POST and self.channel.startswith("@") and not self.blocks and not self.file

    @classmethod
    def from_row(cls, row: Row) -> OutboxRow:
        payload = json.loads(row["payload"])
        link = (row["link_card"], row["link_channel"]) if row["link_card"] else None
        return cls(
            id=int(row["id"]),
            key=row["key"],
            channel=row["channel"],
            op=Op(row["op"]),
            thread_of=row["thread_of"],
            link_to=link,
            topic=row["topic"],
            text=str(payload.get("text") or ""),
            blocks=payload.get("blocks"),
            file=payload.get("file"),
            min_interval=float(payload.get("min_interval") or 0.0),
            version=int(row["version"]),
            attempts=int(row["attempts"]),
            created_at=float(row["created_at"]),
            expires_at=float(row["expires_at"]),
            shown_at=float(row["shown_at"]) if row["shown_at"] is not None else None,
            final=bool(row["final"]),
            merged_into=int(row["merged_into"]) if row["merged_into"] is not None else None,
        )


@dataclass(frozen=True)
class Delivered:
    """A message Slack took: where, its ts (a post) or its card (a thread reply), and what it said."""

    channel: str
    ts: str | None
    thread_of: str | None
    content: str


INSERT = (
    "INSERT INTO outbox (key, channel, op, grp, thread_of, link_card, link_channel, topic, payload,"
    " next_attempt_at, created_at, expires_at, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class OutboxRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, deliveries: Iterable[Delivery]) -> None:
        """Queue deliveries, all or none (in the transaction the caller is inside, if any).

        A post or upload already queued under its key is left as it is (the same event twice is one
        message). An update replaces the queued state of its card and is sent again, even if sent before.
        """
        async with self._db.transaction():
            await self._add(deliveries)

    async def _add(self, deliveries: Iterable[Delivery]) -> None:
        now = self._clock.now()
        posts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for d in deliveries:
            link_card, link_channel = d.link_to or (None, None)
            values = (
                d.key,
                d.channel,
                d.op,
                d.group,
                d.thread_of,
                link_card,
                link_channel,
                d.topic,
                d.payload(),
                now,
                now,
                now + d.ttl,
                int(d.is_final),
            )
            (updates if d.op is Op.UPDATE else posts).append(values)
        # The latest state replaces the queued one (it is drawn from everything known, so it shows the final
        # state too); a final state still waiting keeps its place before passing states. Updates go one by
        # one, in the order given: two states of one card in one call leave the later.
        await self._db.execute_many(INSERT + " ON CONFLICT (key, channel) DO NOTHING", posts)
        for values in updates:
            await self._db.execute(
                INSERT + " ON CONFLICT (key, channel) DO UPDATE SET payload = excluded.payload,"
                " version = outbox.version + 1, attempts = 0, last_error = NULL,"
                " final = CASE WHEN outbox.state = 'pending' AND outbox.final = 1 THEN 1 ELSE excluded.final END,"
                " state = 'pending',"
                " next_attempt_at = excluded.next_attempt_at, expires_at = excluded.expires_at",
                values,
            )

    async def eligible(
        self,
        now: float,
        *,
        exclude: Iterable[int] = (),
        limit: int = 200,
        owner: str = "",
        lease: float = 60.0,
        final_first: bool = True,
    ) -> list[OutboxRow]:
        """Take due pending rows that no earlier pending row of their thread holds back, oldest first, and
        that no other replica holds: each is leased to `owner` for `lease` seconds (its outcome gives it
        back), so two replicas never deliver one row at once.

        Card states someone must see come first: a passing state (a live card's progress) is taken only
        while no final state waits for its turn, so after a burst the edit budget goes to final states
        (`final_first=False`: oldest first, whatever the state, as before; bench/bursts.py's baseline)."""
        skip = set(exclude)
        first = (
            " AND (o.final = 1 OR NOT EXISTS (SELECT 1 FROM outbox f WHERE f.op = 'update' AND f.final = 1"
            " AND f.state = 'pending' AND f.attempts = 0))"
            if final_first
            else ""
        )
        order = "o.final DESC, o.id" if final_first else "o.id"
        rows = await self._db.fetch_written(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT o.id FROM outbox o"
            " WHERE o.state = 'pending' AND o.next_attempt_at <= ?"
            " AND (o.lease_until IS NULL OR o.lease_until <= ? OR o.lease_owner = ?) AND (o.grp IS NULL"
            " OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.grp = o.grp AND p.state = 'pending' AND p.id < o.id))"
            f"{first} ORDER BY {order} LIMIT ?{self._db.SKIP_LOCKED}) RETURNING *",
            (owner, now + lease, now, now, owner, limit + len(skip)),
        )
        rows = sorted(rows, key=lambda r: (-int(r["final"]) if final_first else 0, int(r["id"])))
        return [OutboxRow.from_row(r) for r in rows if int(r["id"]) not in skip][:limit]

    async def card_state(self, card: str, channel: str) -> OutboxState | None:
        """Return the state of a card's own post in the outbox (None when it never went through it)."""
        row = await self._db.fetchone(
            "SELECT state FROM outbox WHERE key = ? AND channel = ? AND op = 'post'", (card, channel)
        )
        return OutboxState(row["state"]) if row else None

    async def sent(self, row: OutboxRow, ts: str | None) -> bool:
        """Record a delivery; False when a newer state of the card arrived meanwhile (it stays pending).

        A card's edit is stamped either way: the newer state waits out its `min_interval` from now."""
        now = self._clock.now()
        # One statement, unless messages went inside it (then they are marked with it, atomically).
        async with self._db.transaction() if row.mergeable else contextlib.nullcontext():
            count = await self._db.execute(
                "UPDATE outbox SET state = 'sent', ts = ?, last_error = NULL, lease_owner = NULL,"
                " lease_until = NULL, shown_at = CASE WHEN op = 'update' THEN ? ELSE shown_at END"
                " WHERE id = ? AND version = ?",
                (ts, now, row.id, row.version),
            )
            if count == 1 and row.mergeable:  # the messages that went out inside it
                await self._db.execute(
                    "UPDATE outbox SET state = 'sent', ts = ?, last_error = NULL WHERE merged_into = ?"
                    " AND state = 'pending'",
                    (ts, row.id),
                )
        if count == 0 and row.op is Op.UPDATE:  # a newer state waits: it is shown no sooner than due
            await self._db.execute(
                "UPDATE outbox SET shown_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                (now, row.id),
            )
        return count == 1

    async def merge(self, head: OutboxRow, *, limit: int) -> list[OutboxRow]:
        """The direct messages that go out inside `head` (the first pending one of its person's stream).

        The first time, they are chosen and fixed: the plain-text messages queued after it, in order, up to
        the first that is not (a message with blocks or a file keeps its place and goes alone), at most
        `limit`. Every later try sends the same ones again, so a crash mid-send never sends one twice."""
        if not head.mergeable or head.merged_into is not None:
            return []
        async with self._db.transaction():
            later = await self._db.fetchall(
                "SELECT * FROM outbox WHERE grp = ? AND state = 'pending' AND id > ?"
                " AND (merged_into IS NULL OR merged_into = ?) ORDER BY id LIMIT ?",
                (head.channel + "|dm", head.id, head.id, limit),
            )
            fixed = [OutboxRow.from_row(r) for r in later if r["merged_into"] is not None]
            if fixed:  # chosen on an earlier try
                return fixed
            taken: list[OutboxRow] = []
            for r in later:
                row = OutboxRow.from_row(r)
                if not row.mergeable or row.merged_into is not None:
                    break
                taken.append(row)
            if taken:
                marks = ", ".join("?" for _ in taken)
                await self._db.execute(
                    f"UPDATE outbox SET merged_into = ? WHERE id IN ({marks})",
                    (head.id, *(r.id for r in taken)),
                )
            return taken

    async def retry(self, row: OutboxRow, *, at: float, error: str) -> None:
        """Try a row again at `at` (Slack failed for a passing reason)."""
        await self._db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_owner = NULL,"
            " lease_until = NULL WHERE id = ?",
            (at, error, row.id),
        )

    async def put_off(self, row: OutboxRow, *, at: float) -> None:
        """Look at a row again at `at` (Slack's budget for it is spent), unless a newer state came meanwhile."""
        await self._db.execute(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL,"
            " next_attempt_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at ELSE ? END"
            " WHERE id = ? AND version = ?",
            (at, at, row.id, row.version),
        )

    async def drop(self, row: OutboxRow, reason: str) -> None:
        """Give a row up (Slack refused it for good, or it is no longer worth sending)."""
        await self._db.execute(
            "UPDATE outbox SET state = 'dropped', last_error = ?, lease_owner = NULL, lease_until = NULL"
            " WHERE (id = ? OR merged_into = ?) AND state = 'pending'",
            (reason, row.id, row.id),
        )

    async def next_due(self) -> float | None:
        """Return when the earliest pending row falls due (None when nothing is pending)."""
        row = await self._db.fetchone("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
        return float(row[0]) if row and row[0] is not None else None

    async def count(self, state: OutboxState = OutboxState.PENDING) -> int:
        """Return how many rows are in a state."""
        row = await self._db.fetchone("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,))
        return int(row[0]) if row else 0

    async def progress(self, key: str, channel: str) -> tuple[OutboxState, int] | None:
        """Return a delivery's state and how many attempts failed (None when it was never queued)."""
        row = await self._db.fetchone(
            "SELECT state, attempts FROM outbox WHERE key = ? AND channel = ?", (key, channel)
        )
        return (OutboxState(row["state"]), int(row["attempts"])) if row else None

    async def state_of(self, key: str, channel: str) -> tuple[OutboxState, str | None] | None:
        """Return a delivery's state and last error (None when it was never queued)."""
        row = await self._db.fetchone(
            "SELECT state, last_error FROM outbox WHERE key = ? AND channel = ?", (key, channel)
        )
        return (OutboxState(row["state"]), row["last_error"]) if row else None

    async def delivered_mentioning(self, fragment: str) -> list[Delivered]:
        """Return delivered messages whose content contains `fragment` (a first pass; the caller matches)."""
        rows = await self._db.fetchall(
            "SELECT channel, ts, thread_of, payload FROM outbox WHERE state = 'sent' AND instr(payload, ?) > 0",
            (fragment,),
        )
        return [Delivered(str(r["channel"]), r["ts"], r["thread_of"], str(r["payload"])) for r in rows]


def overflow_file(row: OutboxRow, overflow: str) -> Delivery:
    """What a message too big for Slack had cut from it, as a file that follows it: into its thread, or
    next in a person's direct messages (queued once, however often the message is tried)."""
    slug = "".join(c if c.isalnum() else "-" for c in row.key)[:60].strip("-") or "message"
    return Delivery(
        key=f"{row.key}:full",
        channel=row.channel,
        text="",
        op=Op.UPLOAD,
        thread_of=None if row.channel.startswith("@") else (row.thread_of or row.key),
        file={"filename": f"{slug}-full.txt", "content": overflow, "title": "The full text"},
        ttl=max(row.expires_at - row.created_at, 60.0),
    )
