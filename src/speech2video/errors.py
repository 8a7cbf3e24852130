"""Error types the core raises for bad input; callers map them to exit codes or status codes."""

from __future__ import annotations


class S2VError(Exception):
    """Base of every error the core raises on purpose, with a message fit for a user."""


class InputError(S2VError, ValueError):
    """The caller's input is wrong (shape, key, value, format); the message names what."""


class NotFoundError(S2VError, LookupError):
    """A named thing (file, speaker, model, dictionary entry) does not exist."""
