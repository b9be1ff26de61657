"""Shared reporting of the quadrature benchmarks: error and time per node count of two rules against one
reference, the nodes each needs for an error below a tolerance, and their time ratio there."""
from __future__ import annotations

from collections.abc import Callable, Iterable


def compare_rules(reference: float, rules: Iterable[tuple[str, Iterable[int], Callable]], label: str = "nodes",
                  tolerance: float = 1e-7) -> None:
    """``rules``: (name, node counts, value(n) -> (value, seconds, nodes used)); the first rule is the baseline."""
    need, names = {}, []
    for name, counts, value in rules:
        names.append(name)
        for n in counts:
            v, dt, nodes = value(n)
            err = abs(v - reference)
            print(f"{name:14s} {nodes:4d} {label}: error {err:.1e}, {dt * 1e3:.0f} ms")
            if err < tolerance and name not in need:
                need[name] = (nodes, dt)
    for name in names:
        if name in need:
            print(f"{name}: {need[name][0]} {label} for error < {tolerance:g} ({need[name][1] * 1e3:.0f} ms)")
        else:
            print(f"{name}: error >= {tolerance:g} at every node count tried")
    if len(need) == len(names) == 2:
        print(f"ratio ({names[0]} time / {names[1]} time at {tolerance:g}): {need[names[0]][1] / need[names[1]][1]:.2f}")
