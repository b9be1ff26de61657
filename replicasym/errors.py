"""The exceptions replicasym raises on purpose.

Every error the package raises deliberately derives from :class:`ReplicasymError`, so that callers
(and the command line, which turns them into one ``replicasym: error: ...`` line) can tell a user
mistake or a numerical failure from a bug.  :class:`ParseError` and :class:`ParameterError` are also
:class:`ValueError` subclasses, so ``except ValueError`` keeps working for code that expects it.
"""
from __future__ import annotations

__all__ = ["ConvergenceError", "ParameterError", "ParseError", "ReplicasymError"]


class ReplicasymError(Exception):
    """Base class of every error replicasym raises deliberately."""


class ParseError(ReplicasymError, ValueError):
    """A user expression (activation, covariance function, hand-typed equation, ``--param`` value)
    was rejected by the whitelist parser :func:`replicasym.parsing.parse_expression`.

    ``text`` is the offending input (possibly truncated) and ``position`` the 0-based column of the
    offending token when known, else ``None``.
    """

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        super().__init__(message)
        self.text = text
        self.position = position


class ParameterError(ReplicasymError, ValueError):
    """A model, ansatz or solver parameter is missing, unknown or outside its admissible range."""


class ConvergenceError(ReplicasymError):
    """A numerical solver did not reach its tolerance.

    ``residual`` is the size of the residual at the last iterate (``None`` when unknown) and
    ``solution`` the last iterate or partial result, if the solver chose to attach one.
    """

    def __init__(self, message: str, residual=None, solution=None):
        super().__init__(message)
        self.residual = residual
        self.solution = solution
