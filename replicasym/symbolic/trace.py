"""The derivation trace: every transformation of the pipeline, recorded as it is applied.

A :class:`Step` holds the rule's name, a sentence saying what it did, the resulting SymPy
expression and its LaTeX.  :class:`Trace` is the ordered list that ``Derivation.steps`` exposes,
that ``derivations/`` renders and that the hand-calculation checker compares against.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Step", "Trace"]


@dataclass(frozen=True)
class Step:
    rule: str
    description: str
    expression: sp.Basic

    @property
    def latex(self) -> str:
        return latex_of(self.expression)


def latex_of(expr) -> str:
    r"""LaTeX of a step; the conjugates ``lam``, ``lam0``, ... print as :math:`\Lambda, \Lambda_0`."""
    if isinstance(expr, (list, tuple)):
        return r" ,\quad ".join(latex_of(e) for e in expr)
    if isinstance(expr, sp.Basic):
        names = {s: r"\Lambda" + (f"_{{{s.name[3:]}}}" if s.name[3:] else "")
                 for s in expr.free_symbols if isinstance(s, sp.Symbol) and re.fullmatch(r"lam\d*", s.name)}
        return sp.latex(expr, symbol_names=names)
    return str(expr)


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)

    def record(self, rule: str, description: str, expression) -> None:
        if isinstance(expr := expression, (list, tuple)):
            expr = sp.Tuple(*expr)
        self.steps.append(Step(rule, description, expr))

    def copy(self) -> "Trace":
        """A new trace with the same steps (to extend a derivation without changing it)."""
        return Trace(list(self.steps))

    def __iter__(self):
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def rules(self) -> list[str]:
        return [s.rule for s in self.steps]

    def markdown(self) -> str:
        """GitHub-renderable Markdown: one numbered step per rule, math in ``$$`` blocks."""
        lines = []
        for i, s in enumerate(self.steps, 1):
            lines.append(f"{i}. **{s.rule}**: {s.description}")
            lines.append("")
            lines.append("$$")
            lines.append(s.latex)
            lines.append("$$")
            lines.append("")
        return "\n".join(lines)
