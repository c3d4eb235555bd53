"""Errors the host raises for bad input: each message names the file, key or value at fault."""

from __future__ import annotations


class LifstpError(Exception):
    """Base of every error the host reports to a user (the CLI prints it without a traceback)."""


class InputError(LifstpError, ValueError):
    """A malformed input file or argument."""
