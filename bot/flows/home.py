"""The Home tab's data, published on app_home_opened and again whenever state changes."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from bot.blocks.backfills import backfill_state
from bot.blocks.home import HomeData, home_view
from bot.deps import Deps
from bot.domain import Kind, RequestState, TrackedState
from bot.flows.today import today_figures
from bot.notifier import slack_error
from bot.permissions import Role

log = logging.getLogger(__name__)


async def home_data(deps: Deps, user: str) -> HomeData:
    """Gather what the user's dashboard shows."""
    store = deps.store
    now = deps.clock.now()
    requests = await store.batch_requests.recent(100)
    pending = []
    if await deps.permissions.has_role(user, Role.APPROVER):
        pending = [
            r
            for r in requests
            if r.state == RequestState.PENDING
            and r.expires_at > now
            and (r.requester != user or deps.settings.allow_self_approval)
        ]
    batches = []
    followed = await store.tracked.recent(Kind.BATCH, 20)
    followed_states: dict[str, TrackedState] = {item.external_id: item.state for item in followed}
    for item in followed:
        if item.state != TrackedState.ACTIVE:
            continue
        progress = item.data.get("progress") or {}
        batches.append(
            {
                "label": item.data.get("label") or item.external_id,
                "batch_id": item.external_id,
                "completed": progress.get("completed", 0),
                "total": progress.get("total", 0),
                "since": item.created_at,
            }
        )
    backfills = [
        f"• `{b.id}` · {len(b.plan.get('call_ids') or [])} calls · {backfill_state(b.workflows)} · by <@{b.requester}>"
        for b in await store.backfills.recent(5)
    ]
    calls = [
        {
            "to": item.data.get("to"),
            "state": item.last_status or item.state,
            "call_id": item.external_id,
            "at": item.created_at,
        }
        for item in await store.tracked.recent(Kind.CALL, 5)
    ]
    return HomeData(
        user=user,
        pending=pending,
        mine=[r for r in requests if r.requester == user],
        batches=batches,
        backfills=backfills,
        calls=calls,
        followed=followed_states,
        now=now,
        pricing=deps.settings.pricing,
        redact=deps.settings.redact_phone_numbers,
        today=await today_figures(deps),
        caps=deps.settings.caps,
    )


async def publish_home(deps: Deps, user: str) -> None:
    """Publish the user's Home tab."""
    view = home_view(await home_data(deps, user))
    await deps.notifier.client.views_publish(user_id=user, view=view)


async def home_opened(deps: Deps, user: str) -> None:
    """Remember that the user looks at the Home tab (it is refreshed on changes) and publish it."""
    await deps.store.homes.opened(user)
    await publish_home(deps, user)


# A person's Home tab is re-published at most this often (views.publish is Tier 4, 100 a minute).
HOME_GAP_SECONDS = 2.0


class HomeRefresher:
    """Re-publish Home tabs after changes, in the background and paced per person.

    The work that changed things does not wait for Slack: the publish runs in a task of its own (counted as
    work in flight, so shutdown and tests wait for it). A person's tab is published at once unless it was
    published less than HOME_GAP_SECONDS ago (on the bot's clock) or is being published now; then it is
    due, and the next tick publishes it once the gap has passed, however many changes came meanwhile: a
    thousand results finishing together publish a tab a few times, not a thousand.
    """

    def __init__(self, deps: Deps, gap: float = HOME_GAP_SECONDS) -> None:
        self._deps = deps
        self._gap = gap
        self._last: dict[str, float] = {}  # person -> when their tab was last published
        self._due: set[str] = set()  # people whose tab must show a change
        self._busy: set[str] = set()  # people whose tab is being published

    async def request(self, only: set[str] | None) -> None:
        """Have the tabs of those who opened theirs lately (of `only`, when given) show the change."""
        for user in await self._deps.store.homes.recent_users():
            if only is None or user in only:
                self._due.add(user)
        self.flush()

    def flush(self) -> None:
        """Publish the tabs that are due and past their gap (the tick calls it too)."""
        now = self._deps.clock.now()
        for user in sorted(self._due - self._busy):
            if now < self._last.get(user, now - self._gap) + self._gap:
                continue
            self._due.discard(user)
            self._busy.add(user)
            self._last[user] = now
            task = asyncio.get_running_loop().create_task(self._publish(user))
            self._deps.inflight.add(task)
            task.add_done_callback(self._deps.inflight.discard)

    async def _publish(self, user: str) -> None:
        try:
            await publish_home(self._deps, user)
        except SlackApiError as exc:
            log.warning("cannot refresh the Home tab of %s: %s", user, slack_error(exc))
        except Exception:
            log.exception("refreshing the Home tab of %s failed", user)
        finally:
            self._busy.discard(user)
