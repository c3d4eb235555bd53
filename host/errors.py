"""Errors the host raises for bad input: each message names the file, key or value at fault."""

from __future__ import annotations


class LifstpError(Exception):
    """Base of every error the host reports to a user (the CLI prints it without a traceback)."""


class InputError(LifstpError, ValueError):
    """A malformed input file or argument."""


class UnrepresentableError(InputError):
    """A model the core cannot represent (a PyNN cell type, synapse, connection or parameter set that
    would have to be approximated): refused, with the reason, rather than run as something else."""
