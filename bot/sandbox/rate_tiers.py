"""Slack's Web API rate limits, as the stand-in enforces them.

Slack counts calls per method per workspace per app, in tiers of "N+ per minute"; chat.postMessage is
limited per channel ("generally one message per second", which Slack's Java SDK models as 60 a minute).
Only the N is guaranteed, so the stand-in allows exactly N in any rolling minute and answers the next one
with 429 and a Retry-After, as Slack does (Slack's rate-limit tiers: README, "Slack's rate tiers are a budget"). `scale` multiplies every limit:
for a test that plays hours of Slack traffic in minutes, with the bot's budget scaled alike.
"""

from __future__ import annotations

import math
from collections import deque

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# The methods the bot calls, by the tier each method's page in Slack's API reference gives.
# apps.connections.open is left out: the sources disagree (Tier 1 or Tier 3). auth.test and chat.getPermalink allow "hundreds per minute".
METHOD_TIERS = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.upload": 2,
    "files.info": 4,
    "files.list": 3,
    "conversations.info": 3,
    "conversations.open": 3,
    "conversations.join": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.members": 4,
    "users.info": 4,
    "usergroups.users.list": 2,
}
POSTS_PER_CHANNEL_PER_MINUTE = 60
# Slack also keeps chat.postMessage under a workspace-wide limit it does not publish (its Java SDK says
# "several hundred messages per minute", with "generous burst behavior"; README, "Slack's rate tiers are a
# budget"). The stand-in models it as this many posts in any rolling minute, across every channel (a
# setting: `workspace`).
WORKSPACE_POSTS_PER_MINUTE = 600
WINDOW_SECONDS = 60.0


class RateTiers:
    """Rolling one-minute windows per method (and per channel for posts)."""

    def __init__(self, scale: float = 1.0, workspace: int = WORKSPACE_POSTS_PER_MINUTE) -> None:
        self.scale = scale
        self.workspace_posts = workspace  # chat.postMessage in any rolling minute, all channels together
        self._seen: dict[str, deque[float]] = {}

    def limit_of(self, method: str) -> int | None:
        """Calls allowed per rolling minute (None: not limited here)."""
        if method == "chat.postMessage":
            return max(1, int(POSTS_PER_CHANNEL_PER_MINUTE * self.scale))
        tier = METHOD_TIERS.get(method)
        return None if tier is None else max(1, int(TIER_PER_MINUTE[tier] * self.scale))

    def admit(self, method: str, channel: str | None, now: float) -> float:
        """Count a call; return 0, or the Retry-After (whole seconds) when it is over a limit."""
        limit = self.limit_of(method)
        if limit is None:
            return 0.0
        if method != "chat.postMessage":
            return self._admit([(method, limit)], now)
        workspace = max(1, int(self.workspace_posts * self.scale))
        return self._admit([(f"{method}:{channel}", limit), (method, workspace)], now)

    def _admit(self, windows: list[tuple[str, int]], now: float) -> float:
        """Count the call in every window, or in none when one of them is full (its Retry-After)."""
        retry = 0.0
        for key, limit in windows:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - WINDOW_SECONDS:
                seen.popleft()
            if len(seen) >= limit:
                retry = max(retry, float(max(1, math.ceil(seen[0] + WINDOW_SECONDS - now))))
        if retry:
            return retry
        for key, _ in windows:
            self._seen[key].append(now)
        return 0.0
