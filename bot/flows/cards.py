"""What a person hears when the card of the work they started is slow to appear."""

from __future__ import annotations

from bot.deps import Deps
from bot.domain import TrackedState, card_key
from bot.errors import UserError
from bot.store.outbox import OutboxState
from bot.store.tracked import TrackedItem

# How long a person's action waits for its card before saying it will follow (Slack's ack budget is 3 s).
CARD_WAIT_SECONDS = 2.0


async def card_shown(deps: Deps, item: TrackedItem, done: str, track_again: str) -> None:
    """Wait briefly for an item's card; when Slack has not taken it, tell the person the truth.

    The work was done (a call placed, a batch followed): the card follows when Slack takes it, or, if the bot
    cannot post in the channel at all, the person learns how to follow it elsewhere.
    """
    key = card_key(item.kind, item.external_id)
    try:
        state = await deps.outbox.wait_for(key, item.channel, timeout=CARD_WAIT_SECONDS)
        if state is OutboxState.SENT:
            return
        found = await deps.store.outbox.state_of(key, item.channel)
    except Exception as exc:
        if not deps.store.db.unreachable(exc):
            raise
        raise UserError(  # the work itself was recorded before the database went
            f"{done} The bot lost its database connection just now: the card, and the results in its "
            f"thread, follow in <#{item.channel}> once it is back. Do not send it again."
        ) from None
    error = (found[1] if found else None) or "no answer yet"
    if state is OutboxState.DROPPED:
        await deps.store.tracked.finish(item.id, TrackedState.FAILED, last_status="cannot post")
        raise UserError(
            f"{done} But the bot cannot post in <#{item.channel}> ({error}). Invite it with `/invite @bland` "
            f"and run `{track_again}` there, or follow it from another channel."
        )
    raise UserError(
        f"{done} Slack did not take its card just now ({error}); the card, and the results in its thread, "
        f"follow in <#{item.channel}> as soon as Slack does. Do not send it again."
    )
