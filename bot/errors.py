"""Errors that carry a message meant for a person."""

from __future__ import annotations


class UserError(Exception):
    """Something the person asked for cannot be done; the message is shown to them as-is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class FormErrors(UserError):
    """Several inline errors on a modal, keyed by block_id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class PermissionDenied(UserError):
    """The person lacks the role an action needs."""


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it in one line."""
