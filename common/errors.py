"""Errors that the command line turns into one line naming the bad value and what is allowed (exit 2).

Raised by every layer; caught in one place (``drivestack.cli.main``).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value or key that is not allowed; the message names it and what is allowed."""


class UsageError(Exception):
    """A bad command-line value; the message names it and what is allowed."""
