"""The exceptions replicasym raises on purpose.

Every error the package raises deliberately derives from :class:`ReplicasymError`, so that callers
(and the command line, which turns them into one ``replicasym: error: ...`` line) can tell a user
mistake or a numerical failure from a bug.  :class:`ParseError` and :class:`ParameterError` are also
:class:`ValueError` subclasses, so ``except ValueError`` keeps working for code that expects it.
"""
from __future__ import annotations

__all__ = ["ConvergenceError", "ParameterError", "ParseError", "ReplicasymError"]


class ReplicasymError(Exception):
    """Base class of every error replicasym raises deliberately.

    Its text is one line of at most :attr:`MAX_MESSAGE` characters: messages quote the offending
    input, which may be a megabyte long."""

    MAX_MESSAGE = 1000

    def __str__(self) -> str:
        text = " ".join(super().__str__().split("\n"))
        return text if len(text) <= self.MAX_MESSAGE else text[: self.MAX_MESSAGE - 16] + "... (truncated)"


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

    ``residual`` is the size of the residual at the last iterate (``None`` when unknown),
    ``solution`` the last iterate or partial result, if the solver chose to attach one (the way to
    keep an unconverged result on purpose), and ``hint`` what to try instead (:data:`HINT` when the
    solver has nothing more specific).  :meth:`report` is the one-line message the command line
    prints: the message, the residual and the hint.
    """

    #: what to try when a saddle point is not found
    HINT = ("start from a nearby converged point (scan continues in T or alpha), try another ansatz, "
            "or solve at a less extreme temperature / load")

    def __init__(self, message: str, residual=None, solution=None, hint: str | None = None):
        super().__init__(message)
        self.residual = residual
        self.solution = solution
        self.hint = hint

    def report(self) -> str:
        msg = str(self)
        if self.residual is not None and "residual" not in msg:
            try:
                msg += f" (residual {float(self.residual):.3g})"
            except (TypeError, ValueError, OverflowError):
                msg += f" (residual {self.residual})"
        return f"{msg}; hint: {self.hint or self.HINT}"
