"""Channel notifications and subscriptions: one concise line per event, per channel, exactly once.

Every line is queued in the outbox under a key made from the event, so restarts and duplicate webhooks
never post an event twice, and Slack failing only delays it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Topic
from bot.errors import UserError
from bot.flows.home import refresh_homes
from bot.notifier import slack_error
from bot.permissions import Role
from bot.store.db import Conn
from bot.store.outbox import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something worth a line: `key` is unique per event; `where` is the card (channel, card key) to link.

    The requester's Home tab is refreshed; they get a DM only when `dm_text` is given.
    """

    key: str
    topic: Topic
    text: str
    where: tuple[str, str] | None = None
    requester: str | None = None
    dm_text: str | None = None


async def event_deliveries(deps: Deps, event: Event) -> list[Delivery]:
    """The event's lines: one per subscribed channel and NOTIFY_CHANNEL (not the card's own), and the DM."""
    channels = set(await deps.store.subscriptions.channels_for(event.topic))
    if deps.settings.notify_channel:
        channels.add(deps.settings.notify_channel)
    if event.where is not None:
        channels.discard(event.where[0])  # the card there already shows it
    link = (event.where[1], event.where[0]) if event.where else None
    out = [
        Delivery(key=f"notify:{event.key}", channel=channel, text=event.text, link_to=link, topic=event.topic)
        for channel in sorted(channels)
    ]
    if event.requester and event.dm_text:
        out.append(
            Delivery(key=f"dm:{event.key}", channel=f"@{event.requester}", text=event.dm_text, link_to=link)
        )
    return out


async def refresh_for(deps: Deps, events: Sequence[Event]) -> None:
    """Re-publish the Home tabs the events concern (never raises: a dashboard must not break the work)."""
    if not events:
        return
    everyone = any(event.topic is Topic.APPROVALS for event in events)
    try:
        # Approval events change every approver's pending list; the rest concern the requester alone.
        await refresh_homes(deps, only=None if everyone else {event.requester or "" for event in events})
    except Exception:
        log.exception("refreshing Home tabs after %s failed", ", ".join(event.key for event in events))


async def announce(deps: Deps, event: Event, *, conn: Conn | None = None) -> None:
    """Queue the event's lines and DM in the outbox (in `conn`'s transaction when given); refresh homes.

    Lines are delivered by the outbox worker, through Slack's failures, each once. With `conn` the Home
    tabs are the caller's to refresh once it commits (`refresh_for`).
    """
    rows = await event_deliveries(deps, event)
    await deps.store.outbox.add(rows, conn=conn)
    if conn is None:
        deps.outbox.kick()
        await refresh_for(deps, [event])


async def explain_unreachable(deps: Deps, channel: str, topic: str, error: str) -> None:
    """Tell whoever subscribed a channel why its notifications cannot arrive (once per channel)."""
    rows = [
        Delivery(
            key=f"unreachable:{channel}",
            channel=f"@{user}",
            text=(
                f":warning: The bot could not post a {topic} notification in <#{channel}> ({error}). "
                f"Invite it there with `/invite @bland`, or run `/bland unsubscribe all` in that channel."
            ),
        )
        for user in await deps.store.subscriptions.creators(channel)
    ]
    await deps.outbox.add(*rows)


TOPIC_CHOICES = "|".join(Topic)


def parse_topic(args: str, usage: str) -> Topic:
    """Return the topic named in `args`, or raise the usage line."""
    word = args.strip().split()[0].lower() if args.strip() else ""
    try:
        return Topic(word)
    except ValueError:
        raise UserError(f"Usage: `/bland {usage} <{TOPIC_CHOICES}>`") from None


async def _channel_reachable(deps: Deps, channel: str) -> str | None:
    """Return why the bot cannot post in a channel, or None when it can (as far as Slack says)."""
    try:
        info = (await deps.notifier.client.conversations_info(channel=channel))["channel"]
    except SlackApiError as exc:
        return slack_error(exc)
    if info.get("is_private") and not info.get("is_member"):
        return "not_in_channel"
    return None


async def subscribe(deps: Deps, channel: str, topic: Topic, *, user: str) -> str:
    """Subscribe a channel (operators and admins only); returns what to tell the person."""
    await deps.permissions.require(user, Role.OPERATOR, "change subscriptions")
    added = await deps.store.subscriptions.add(channel, topic, user)
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.SUBSCRIPTION_ADD,
        outcome=AuditOutcome.ADDED if added else AuditOutcome.UNCHANGED,
        channel=channel,
        target=topic,
    )
    message = (
        f"<#{channel}> now gets {topic} notifications."
        if added
        else f"<#{channel}> already gets {topic} notifications."
    )
    problem = await _channel_reachable(deps, channel)
    if problem:
        message += (
            f" :warning: But the bot cannot post here yet ({problem}): invite it with `/invite @bland`, "
            "or nothing will arrive."
        )
    return message


async def unsubscribe(deps: Deps, channel: str, topic: Topic, *, user: str) -> str:
    """Unsubscribe a channel from a topic (or from everything with `all`)."""
    await deps.permissions.require(user, Role.OPERATOR, "change subscriptions")
    topics = list(Topic) if topic is Topic.ALL else [topic]
    removed = [t for t in topics if await deps.store.subscriptions.remove(channel, t)]
    await deps.store.audit.record(
        actor=user,
        action=AuditAction.SUBSCRIPTION_REMOVE,
        outcome=AuditOutcome.REMOVED if removed else AuditOutcome.UNCHANGED,
        channel=channel,
        target=",".join(removed) or topic,
    )
    if not removed:
        return f"<#{channel}> was not subscribed to {topic}."
    return f"<#{channel}> no longer gets {', '.join(removed)} notifications."


async def subscriptions(deps: Deps, channel: str) -> str:
    """Say which topics a channel is subscribed to."""
    topics = await deps.store.subscriptions.topics(channel)
    if not topics:
        return f"<#{channel}> has no subscriptions. Add one with `/bland subscribe <{TOPIC_CHOICES}>`."
    extra = (
        f" (and NOTIFY_CHANNEL <#{deps.settings.notify_channel}> gets everything)"
        if deps.settings.notify_channel
        else ""
    )
    return f"<#{channel}> gets: {', '.join(topics)}{extra}."
