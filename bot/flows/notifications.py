"""Channel notifications and subscriptions: one concise line per event, per channel, exactly once.

Every line goes through the dedupe ledger (`notifications`), so restarts and duplicate webhooks never
post an event twice. Announcing never raises: a notification must not break the work it reports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.domain import AuditAction, AuditOutcome, Topic
from bot.errors import UserError
from bot.flows.home import refresh_homes
from bot.notifier import UNREACHABLE_CHANNEL, is_transient, slack_error
from bot.permissions import Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something worth a line: `key` is unique per event; `where` is the card (channel, ts) to link.

    The requester's Home tab is refreshed; they get a DM only when `dm_text` is given.
    """

    key: str
    topic: Topic
    text: str
    where: tuple[str, str | None] | None = None
    requester: str | None = None
    dm_text: str | None = None


async def _permalink(deps: Deps, where: tuple[str, str | None] | None) -> str | None:
    if where is None or not where[1]:
        return None
    try:
        response = await deps.notifier.client.chat_getPermalink(channel=where[0], message_ts=where[1])
        return str(response["permalink"])
    except SlackApiError as exc:
        log.info("no permalink for %s: %s", where, slack_error(exc))
        return None


class AnnounceLater(Exception):
    """Slack failed for a while on some of an event's lines; announcing again sends only what is missing."""


async def announce(deps: Deps, event: Event, *, retry_later: bool = False) -> None:
    """Post the event's line to subscribed channels and NOTIFY_CHANNEL; DM the requester; refresh homes.

    With `retry_later` (the tick, which polls again anyway), lines Slack refused for a passing reason raise
    AnnounceLater once every other line is sent, so the next poll announces again; the ledger sends each
    line once. Without it (a person's action, which must not fail for a notification) they are logged.
    """
    try:
        missed = await _announce(deps, event)
    except Exception:
        log.exception("announcing %s failed", event.key)
        missed = []
    try:
        # Approval events change every approver's pending list; the rest concern the requester alone.
        await refresh_homes(deps, only=None if event.topic is Topic.APPROVALS else {event.requester or ""})
    except Exception:
        log.exception("refreshing Home tabs after %s failed", event.key)
    if missed and retry_later:
        raise AnnounceLater(f"{event.key}: Slack refused {', '.join(missed)} for now")


async def _announce(deps: Deps, event: Event) -> list[str]:
    """Post the lines; return where Slack failed for a passing reason (429, 5xx)."""
    missed: list[str] = []
    channels = set(await deps.store.subscriptions.channels_for(event.topic))
    if deps.settings.notify_channel:
        channels.add(deps.settings.notify_channel)
    if event.where is not None:
        channels.discard(event.where[0])  # the card there already shows it
    link = await _permalink(deps, event.where) if channels or event.dm_text else None
    line = f"{event.text} · <{link}|open thread>" if link else event.text
    for channel in sorted(channels):
        try:
            await deps.notifier.post(channel, line, event_key=f"notify:{event.key}")
        except SlackApiError as exc:
            if slack_error(exc) not in UNREACHABLE_CHANNEL:
                log.warning("cannot notify %s of %s: %s", channel, event.key, slack_error(exc))
                if is_transient(exc):
                    missed.append(channel)
                continue
            await _explain_unreachable(deps, channel, event.topic, slack_error(exc))
    if event.requester and event.dm_text:
        text = f"{event.dm_text} · <{link}|open thread>" if link else event.dm_text
        try:
            await deps.notifier.dm(event.requester, text, event_key=f"dm:{event.key}")
        except SlackApiError as exc:
            log.warning("cannot DM %s about %s: %s", event.requester, event.key, slack_error(exc))
            if is_transient(exc):
                missed.append(f"a DM to {event.requester}")
    return missed


async def _explain_unreachable(deps: Deps, channel: str, topic: Topic, error: str) -> None:
    """Tell whoever subscribed that channel why its notifications cannot arrive (once per channel)."""
    for user in await deps.store.subscriptions.creators(channel):
        text = (
            f":warning: The bot could not post a {topic} notification in <#{channel}> ({error}). "
            f"Invite it there with `/invite @bland`, or run `/bland unsubscribe all` in that channel."
        )
        try:
            await deps.notifier.dm(user, text, event_key=f"unreachable:{channel}")
        except SlackApiError as exc:
            log.warning("cannot tell %s that %s is unreachable: %s", user, channel, slack_error(exc))


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
