"""Bland failures mapped to types once, so callers never look at status codes.

One class per kind of answer, siblings under BlandError: a 403 (the account may not do this) is not a
401 (the key is wrong), so neither the log nor the person is told to check BLAND_API_KEY for it. Each
error carries the request it came from (`request`, e.g. "GET /v1/calls/abc") and Bland's status code.
"""

from __future__ import annotations

from bot.mrkdwn import escape


class BlandError(Exception):
    """Any failure talking to Bland. `user_message` is safe to show in Slack."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        messages: list[str] | None = None,
        request: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.messages = messages or []
        self.request = request

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        detail = "; ".join(self.messages) if self.messages else self.message
        return f"Bland answered with an error: {escape(detail)}"


class BlandAuthError(BlandError):
    """401: the API key was refused. The bot is misconfigured."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return (
            "The bot is misconfigured: Bland refused its API key. "
            "An admin needs to check BLAND_API_KEY (this has been logged for them)."
        )


class BlandForbiddenError(BlandError):
    """403: the key works but the account may not do this (an enterprise feature, another org's resource)."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        detail = f" ({escape(self.message)})" if self.message else ""
        return (
            "Bland refused this for the bot's account: the feature needs an enterprise plan or the "
            f"resource belongs to another organisation{detail}. This has been logged for admins."
        )


class BlandNotFoundError(BlandError):
    """404: unknown id, or one that belongs to another account."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return f"Bland does not know that id (or it belongs to another account): {escape(self.message)}"


class BlandValidationError(BlandError):
    """400/422 or a body with status "error": Bland rejected the request; `messages` says why."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        detail = "; ".join(self.messages) if self.messages else self.message
        return f"Bland rejected the request: {escape(detail)}"


class BlandRateLimitedError(BlandError):
    """429: slow down; `retry_after` is honoured when Bland sends it."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        request: str | None = None,
    ):
        super().__init__(message, status_code=status_code, request=request)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return "Bland is rate limiting the bot (too many requests or the daily call quota). Try again later."


class BlandServerError(BlandError):
    """5xx from Bland."""

    retryable = True

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return f"Bland is having trouble (HTTP {self.status_code}). Try again in a few minutes."


class BlandConnectionError(BlandError):
    """Bland could not be reached, or a read timed out."""

    retryable = True

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return "Bland could not be reached. Try again in a few minutes."


class BlandBadResponseError(BlandError):
    """A reply that is not the JSON Bland documents."""

    retryable = True

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return "Bland sent a reply the bot could not read. Try again in a few minutes."


class BlandOutcomeUnknownError(BlandError):
    """A request that can dial may or may not have been accepted. Never retried."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return (
            "The outcome is unknown: Bland did not answer clearly, so the request may or may not have "
            "been accepted. It was not retried, to avoid dialling twice."
        )
