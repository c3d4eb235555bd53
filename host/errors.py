"""Errors the host raises for bad input: each message names the file, key or value at fault."""

from __future__ import annotations


class LifstpError(Exception):
    """Base of every error the host reports to a user (the CLI prints it without a traceback)."""


class InputError(LifstpError, ValueError):
    """A malformed input file or argument."""


class GraphError(InputError):
    """A NIR graph the core cannot represent; the message names the node that does not fit."""


class ExecutorError(LifstpError):
    """An executor that cannot be had (a scheduler that does not answer, a package missing)."""


class TaskError(LifstpError):
    """Tasks of a parallel run that failed: the message names each one's parameters and error;
    `results` holds the results of the tasks that succeeded (None where one failed)."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = results or []


class UnrepresentableError(InputError):
    """A model the core cannot represent (a PyNN cell type, synapse, connection or parameter set that
    would have to be approximated): refused, with the reason, rather than run as something else."""
