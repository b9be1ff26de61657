"""Safe Python identifiers for SymPy symbols and safe text for generated docstrings."""
from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

__all__ = ["IDENT_RE", "assign_names", "docstring_text", "one_line", "safe_identifier"]

#: the only identifiers that generated code ever uses for user symbols
IDENT_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*\Z")

#: names used by the generated modules themselves (plus every CSE temporary ``x<digits>``)
RESERVED = frozenset({
    "numpy", "mpmath", "math", "theta", "params", "theta0", "tol", "maxiter", "damping",
    "xp", "jax", "cupy", "cupyx", "special",
    "PARAMS", "ORDER_PARAMETERS", "BOUNDS", "MODEL", "ANSATZ", "GROUND_STATE_PARAMS",
    "GROUND_STATE_ORDER_PARAMETERS", "GROUND_STATE_BOUNDS", "QUADRATURE_NODES",
}) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))

_TEMP_RE = re.compile(r"\Ax\d+\Z")


def _transliterate(ch: str) -> str:
    if ch.isascii():
        return ch if (ch.isalnum() or ch == "_") else "_"
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "_"
    if "GREEK" in name and "LETTER" in name:
        word = name.split()[-1].lower()
        return word if word.isascii() and word.isalpha() else "_"
    decomposed = unicodedata.normalize("NFKD", ch)
    ascii_part = "".join(c for c in decomposed if c.isascii() and c.isalnum())
    return ascii_part or "_"


def safe_identifier(name: str) -> str:
    r"""A valid, non-reserved Python identifier derived from ``name`` (``\chi_{1}`` -> ``chi_1``)."""
    text = name.replace("\\", "")
    out = "".join(_transliterate(c) for c in text)
    out = re.sub(r"_+", "_", out).strip("_")
    if not out or not out[0].isalpha():
        out = "s_" + out if out else "s"
    if out in RESERVED or _TEMP_RE.match(out):
        out += "_"
    assert IDENT_RE.match(out), out
    return out


def assign_names(symbols) -> dict:
    """Map each symbol to a distinct safe identifier (in the given order, deterministic)."""
    names: dict = {}
    used: set = set()
    for s in symbols:
        if s in names:
            continue
        base = safe_identifier(s.name)
        cand, i = base, 1
        while cand in used:
            i += 1
            cand = f"{base}_{i}"
        names[s] = cand
        used.add(cand)
    return names


def docstring_text(text: str) -> str:
    r"""Text that can sit inside a raw triple-double-quoted docstring without ending it.

    Double quotes become single quotes, non-printable characters are dropped, and a trailing
    backslash is padded so that it cannot escape the closing quotes.
    """
    text = str(text).replace('"', "'")
    text = "".join(c for c in text if c == "\n" or (c.isprintable() and c not in "\u2028\u2029"))
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    if text.endswith("\\"):
        text += " "
    return text


def one_line(text: str) -> str:
    """Docstring-safe text on a single line."""
    return " ".join(docstring_text(text).split())
