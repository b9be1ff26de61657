"""Fingerprint of what a generated module is rendered from, so a second :func:`~replicasym.codegen.load`
can skip rendering.

Rendering (cse, printing, templates) is the expensive part of a load: up to tens of seconds for a
large k-RSB derivation (benchmarks/README.md, "Derivation cost").  The fingerprint is the SHA-256 of
a canonical text of every input of :func:`~replicasym.codegen.render.render_source`:

* the derivation's fields, SymPy objects by a Merkle digest of their tree (:func:`_tree_digest`:
  class name and argument digests per node, ``srepr`` per atom; deterministic, since SymPy orders
  the arguments of Add and Mul canonically, and linear in the number of *distinct* subtrees, where
  ``srepr`` of the whole tree took 0.4 s for SK 1RSB), containers element by element, sets sorted;
* the model's name, public parameters and the keys of its numerically known covariance functions
  (a network kernel map: activation, depth, C_W, C_b), which ``srepr`` names only by a short tag;
* the backend, the package version and the source of the renderer and its templates (a change to the
  code generator changes every fingerprint).

The fingerprint only *points* at a content-addressed cache entry (:mod:`.cache`), which is still
verified against its own SHA-256 before it is imported, so a stale or corrupted index entry costs a
re-render; and the index is read only where it is private to this user (:func:`.cache.lookup`).
"""
from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from pathlib import Path

import sympy as sp

from ..symbolic.covariance import covariance_kernels

__all__ = ["fingerprint"]

_SKIP_FIELDS = ("model", "steps")  # the model is described separately; the trace is not rendered


def _tree_digest(expr: sp.Basic, memo: dict) -> str:
    """SHA-256 (hex, 32 characters) of ``expr``: ``srepr`` for an atom, else the class name and the
    digests of the arguments in SymPy's canonical order; shared subtrees are digested once."""
    stack = [expr]
    while stack:
        node = stack[-1]
        key = (type(node), node)
        if key in memo:
            stack.pop()
            continue
        if not node.args:
            memo[key] = hashlib.sha256(sp.srepr(node).encode()).hexdigest()[:32]
            stack.pop()
            continue
        pending = [a for a in node.args if (type(a), a) not in memo]
        if pending:
            stack.extend(pending)
            continue
        text = type(node).__name__ + "(" + ",".join(memo[(type(a), a)] for a in node.args) + ")"
        memo[key] = hashlib.sha256(text.encode()).hexdigest()[:32]
        stack.pop()
    return memo[(type(expr), expr)]


def _canonical(obj, out: list, basics: list, memo: dict) -> None:
    """Append the canonical text of ``obj`` to ``out``; collect its SymPy objects in ``basics``
    (``memo``: subtree digests, :func:`_tree_digest`)."""
    if isinstance(obj, sp.MatrixBase):
        out.append(f"Matrix{obj.shape}(")
        for e in obj:
            _canonical(e, out, basics, memo)
        out.append(")")
    elif isinstance(obj, sp.Basic):
        basics.append(obj)
        out.append(_tree_digest(obj, memo))
        out.append(";")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out.append(type(obj).__name__ + "(")
        for f in dataclasses.fields(obj):
            if f.name not in _SKIP_FIELDS:
                out.append(f.name + "=")
                _canonical(getattr(obj, f.name), out, basics, memo)
        out.append(")")
    elif isinstance(obj, dict):
        out.append("{")
        for key in sorted(obj, key=lambda k: sp.srepr(k) if isinstance(k, sp.Basic) else repr(k)):
            _canonical(key, out, basics, memo)
            out.append(":")
            _canonical(obj[key], out, basics, memo)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for e in obj:
            _canonical(e, out, basics, memo)
        out.append("]")
    elif isinstance(obj, (set, frozenset)):
        out.append("set" + repr(sorted(sp.srepr(e) if isinstance(e, sp.Basic) else repr(e) for e in obj)))
    else:
        out.append(repr(obj))
        out.append(";")


@lru_cache(maxsize=1)
def _generator_digest() -> str:
    """SHA-256 over the package version, the code generator's modules and the templates."""
    from .. import __version__
    from .render import template_root
    files = [*Path(__file__).resolve().parent.glob("*.py"),
             *(t for t in template_root().iterdir() if t.name.endswith((".j2", ".py")))]
    h = hashlib.sha256(__version__.encode())
    for path in sorted(files, key=lambda t: t.name):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(derivation, backend: str) -> str:
    """SHA-256 (hex) of everything the module for ``derivation`` and ``backend`` is rendered from
    (see the module docstring): equal fingerprints render to the same source."""
    parts: list[str] = [backend, "|", _generator_digest(), "|"]
    basics: list = []
    memo: dict = {}
    model = derivation.model
    parts.append(repr(getattr(model, "name", None) or type(model).__name__))
    _canonical(model.public_params() if hasattr(model, "public_params") else {}, parts, basics, memo)
    _canonical(derivation, parts, basics, memo)
    parts.append(repr([k.key for k in covariance_kernels(basics)]))
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()
