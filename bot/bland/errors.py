"""Bland failures mapped to types once, so callers never look at status codes.

One class per kind of answer, siblings under BlandError: a 403 (the account may not do this) is not a
401 (the key is wrong), so neither the log nor the person is told to check BLAND_API_KEY for it. Each
error carries its evidence, as httpx's errors do: the request it came from (`request`: method and path)
and, when Bland answered, the response (`response`: status and a bounded excerpt of the body).
`user_message` is plain text: whoever puts it into mrkdwn escapes it (bot.mrkdwn).
"""

from __future__ import annotations

from dataclasses import dataclass

# How much of a response body an error keeps (enough to see what Bland said, never a whole transcript).
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class BlandRequest:
    """The request an error came from."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class BlandResponse:
    """What Bland answered: its status and the start of its body."""

    status: int
    excerpt: str

    @classmethod
    def of(cls, status: int, body: str) -> BlandResponse:
        """Keep the status and at most EXCERPT_CHARS of the body."""
        cut = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
        return cls(status, cut)


class BlandError(Exception):
    """Any failure talking to Bland. `user_message` is safe to show in Slack."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        messages: list[str] | None = None,
        request: BlandRequest | None = None,
        response: BlandResponse | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.messages = messages or []
        self.request = request
        self.response = response

    @property
    def status_code(self) -> int | None:
        """Bland's HTTP status, when it answered."""
        return self.response.status if self.response else None

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        detail = "; ".join(self.messages) if self.messages else self.message
        return f"Bland answered with an error: {detail}"


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
        detail = f" ({self.message})" if self.message else ""
        return (
            "Bland refused this for the bot's account: the feature needs an enterprise plan or the "
            f"resource belongs to another organisation{detail}. This has been logged for admins."
        )


class BlandNotFoundError(BlandError):
    """404: unknown id, or one that belongs to another account."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        return f"Bland does not know that id (or it belongs to another account): {self.message}"


class BlandValidationError(BlandError):
    """400/422 or a body with status "error": Bland rejected the request; `messages` says why."""

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted."""
        detail = "; ".join(self.messages) if self.messages else self.message
        return f"Bland rejected the request: {detail}"


class BlandRateLimitedError(BlandError):
    """429: slow down; `retry_after` is honoured when Bland sends it."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request: BlandRequest | None = None,
        response: BlandResponse | None = None,
        messages: list[str] | None = None,
    ):
        super().__init__(message, request=request, response=response, messages=messages)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        """Return a sentence for the person who acted. A 429 on a send has reasons of its own (docs/bland.md,
        "Rate limits"): the same number within 10 seconds above all; nothing was dialled either way."""
        said = "; ".join(self.messages)
        if self.request is not None and (self.request.method, self.request.path) == ("POST", "/v1/calls"):
            if "10 seconds" in said:
                return (
                    "Bland refused the call: that number was called less than 10 seconds ago, and Bland calls "
                    "a number at most once every 10 seconds. Nothing was dialled; try again in a few seconds."
                )
            return (
                f"Bland refused the call ({said or 'HTTP 429'}). Nothing was dialled. Bland refuses calls to the "
                "same number within 10 seconds, past the plan's limits, to blocked numbers, and from new "
                "accounts or abroad past their limits."
            )
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


class RecordingNotFoundError(BlandNotFoundError):
    """`CALL_RECORDING_NOT_FOUND`: Bland has no recording of the call (not recorded, not ready, or expired)."""
