"""Numerical solvers driven by the generated modules: Newton (batched and mpmath), the Parisi
prescription over ansätze, ground states, and transition temperatures."""
from .thermo import derivation_for, solve, solve_auto, solve_derivation

__all__ = ["solve", "solve_auto", "solve_derivation", "derivation_for"]
