"""Who may do what: roles from settings, user groups resolved through Slack and cached."""

from __future__ import annotations

import logging
from enum import StrEnum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.errors import PermissionDenied, UserError
from bot.notifier import slack_error
from bot.settings import Settings

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0


class Role(StrEnum):
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


def people(ids: list[str] | tuple[str, ...]) -> str:
    """Slack ids as mentions, in order, each once: `<@U1>`, `<!subteam^S1>`; `a, b or c`."""
    shown = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in dict.fromkeys(ids)]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


class Permissions:
    def __init__(self, settings: Settings, client: AsyncWebClient, clock: Clock) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def _members(self, group_id: str) -> frozenset[str]:
        cached = self._groups.get(group_id)
        if cached and self._clock.now() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
            members = frozenset(str(u) for u in response.get("users") or [])
        except SlackApiError as exc:
            log.warning("cannot resolve user group %s: %s", group_id, slack_error(exc))
            members = cached[1] if cached else frozenset()
        self._groups[group_id] = (self._clock.now(), members)
        return members

    async def _listed(self, user_id: str, ids: tuple[str, ...]) -> bool:
        if user_id in ids:
            return True
        for entry in ids:
            if entry.startswith("S") and user_id in await self._members(entry):
                return True
        return False

    async def has_role(self, user_id: str, role: Role) -> bool:
        """Return whether the user holds the role (admins hold every role)."""
        settings = self._settings
        if await self._listed(user_id, settings.admin_users):
            return True
        if role is Role.ADMIN:
            return False
        if role is Role.APPROVER:
            return await self._listed(user_id, settings.approver_users)
        return not settings.operator_users or await self._listed(user_id, settings.operator_users)

    def holders(self, role: Role, *, besides: str | None = None) -> str:
        """Who holds a role, as Slack mentions (users as users, groups as groups): `<@U1> or <@U2>`; the
        admins as well, who hold every role; `besides` left out. Empty when nobody is set up."""
        settings = self._settings
        ids = list(settings.admin_users)
        if role is Role.APPROVER:
            ids += settings.approver_users
        elif role is Role.OPERATOR:
            ids += settings.operator_users
        return people([i for i in ids if i != besides])

    def who_can_fix(self) -> str:
        """Who can change what the bot allows: its admins by name, else whoever runs it."""
        admins = people(self._settings.admin_users)
        return f"ask {admins}" if admins else "ask whoever installed the bot (it has no admins yet)"

    async def require(self, user_id: str, role: Role, action: str) -> None:
        """Raise PermissionDenied, naming the action and the people who can let them, unless allowed."""
        if not await self.has_role(user_id, role):
            raise PermissionDenied(
                f"You are not allowed to {action}: it needs the {role.value} role. To be added, "
                f"{self.who_can_fix()}."
            )

    def check_channel(self, channel_id: str) -> None:
        """Raise UserError when commands are not accepted in this channel."""
        allowed = self._settings.allowed_channels
        if allowed and channel_id not in allowed:
            listed = ", ".join(f"<#{c}>" for c in allowed)
            raise UserError(f"The bot does not take commands in this channel. Use one of: {listed}.")
