"""Channel notifications and subscriptions: one concise line per event, per channel, exactly once.

Every line is queued in the outbox under a key made from the event, so restarts and duplicate webhooks
never post an event twice, and Slack failing only delays it.
"""

from __future__ import annotations

import logging

from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Topic
from bot.errors import UserError
from bot.permissions import Role
from bot.store.outbox import Delivery
from bot.unit import Event

__all__ = ["Event", "announce"]  # Event is the unit's; flows take it from here with announce

log = logging.getLogger(__name__)


async def announce(deps: Deps, event: Event) -> None:
    """Queue the event's lines and DM in the outbox, in the unit of work this task is inside or in one of
    its own (the lines are delivered through Slack's failures, each once; Home tabs refresh after)."""
    async with deps.unit() as u:
        await u.announce(event)


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
    problem = await deps.notifier.cannot_post(channel)
    if problem:
        message += (
            f" :warning: But the bot cannot post here yet ({problem}): invite it with `/invite @blandbot`, "
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
