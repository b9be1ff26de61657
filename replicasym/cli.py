"""The ``replicasym`` command line (also ``python -m replicasym``).

Every command calls the public Python API (``replicasym.models.build``, ``replicasym.derive``,
``replicasym.solve``, ``replicasym.scan``, ``replicasym.phase``, ``replicasym.codegen.render``).
Conventions:

* ``--param KEY=VALUE`` (repeatable) values are read by :func:`replicasym.parsing.parse_value`;
* ``--json`` prints exactly one JSON object on stdout (anything the library prints while computing
  is diverted to stderr);
* errors exit non-zero with one line on stderr starting with ``replicasym: error:`` and never a
  traceback (set ``REPLICASYM_DEBUG=1`` to get the traceback of an unexpected error).

Exit status: 0 success, 1 error, 2 command-line usage error, 3 command not implemented yet,
130 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import traceback
import warnings

from .errors import ConvergenceError, ParseError, ReplicasymError
from .fileio import atomic_write, save_figure
from .parsing import parse_value

__all__ = ["build_parser", "main"]

PROG = "replicasym"
MODEL_NAMES = ("spherical", "sk", "mlp", "perceptron", "yoshino", "signal")
_ANSATZ = re.compile(r"^(rs|1rsb|frsb|auto|krsb:[1-9][0-9]?)$")
_MAX_SCAN_POINTS = 10_000

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_IMPLEMENTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """A command-line usage error (argparse's ``error``), reported in one line with exit status 2."""


class NotImplementedYet(Exception):
    """A documented command whose implementation has not landed yet."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------------------------------
# value helpers
# ---------------------------------------------------------------------------------------------
def _finite_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def _nonneg_float(text: str) -> float:
    v = _finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return v


def _precision(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer number of digits: {text!r}") from None
    if not 1 <= v <= 10_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10000 digits, got {v}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _ansatz(text: str) -> str:
    t = text.strip().lower()
    if not _ANSATZ.match(t):
        raise argparse.ArgumentTypeError(
            f"unknown ansatz {text!r}: use rs, 1rsb, krsb:K (K = 1..99), frsb or auto")
    return t


def _model_name(text: str) -> str:
    t = text.strip().lower()
    if not re.match(r"^[a-z][a-z0-9_]*$", t):
        raise argparse.ArgumentTypeError(f"invalid model name {text!r}; models: {', '.join(MODEL_NAMES)}")
    return t


def parse_params(items) -> dict:
    """``["p=3", "activation=x*erf(x)"]`` -> ``{"p": 3, "activation": "x*erf(x)"}``."""
    out: dict = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--param expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise UsageError(f"--param key {key!r} is not a valid name")
        if key in out:
            raise UsageError(f"--param {key} given twice")
        try:
            out[key] = parse_value(value)
        except ParseError as exc:
            raise ParseError(f"--param {key}: {exc}") from None
    return out


def parse_range(text: str, flag: str = "--T", signed: bool = False) -> list[float]:
    """``"0.2:1.5:14"`` -> 14 evenly spaced values from 0.2 to 1.5 inclusive (``flag`` names the
    option in error messages; ``signed`` allows negative values, e.g. energies)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"{flag} expects START:STOP:NUM (e.g. 0.2:1.5:14), got {text!r}")
    number = _finite_float if signed else _nonneg_float
    try:
        start, stop = number(parts[0]), number(parts[1])
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{flag} {text!r}: {exc}") from None
    try:
        num = int(parts[2])
    except ValueError:
        raise UsageError(f"{flag} {text!r}: NUM must be an integer, got {parts[2]!r}") from None
    if not 1 <= num <= _MAX_SCAN_POINTS:
        raise UsageError(f"{flag} {text!r}: NUM must be between 1 and {_MAX_SCAN_POINTS}")
    if num == 1:
        return [start]
    step = (stop - start) / (num - 1)
    return [start + i * step for i in range(num - 1)] + [stop]


def jsonable(value, digits: int | None = None):
    """Convert API results to JSON types; non-finite reals become null.

    Python ints and floats stay JSON numbers (a float carries no more than double precision, and
    ``Solution.as_dict`` already formats what it wants as strings).  Multi-precision reals (mpmath
    ``mpf``, SymPy numbers) become floats, or strings of ``digits`` significant digits when
    ``digits`` > 15."""
    import numbers

    wide = digits is not None and digits > 15
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, digits) for v in value]
    mod = type(value).__module__ or ""
    if mod.startswith("numpy"):
        if hasattr(value, "tolist"):
            return jsonable(value.tolist(), digits)
        return jsonable(value.item(), digits)
    if mod.startswith("mpmath"):
        import mpmath

        if isinstance(value, mpmath.mpf):
            if not mpmath.isfinite(value):
                return None
            return mpmath.nstr(value, digits, strip_zeros=False) if wide else float(value)
        if isinstance(value, mpmath.matrix):
            return [jsonable(value[i, j] if value.cols > 1 else value[i], digits)
                    for i in range(value.rows) for j in range(max(1, value.cols))]
        return str(value)
    if mod.startswith("sympy"):
        import sympy as sp

        if isinstance(value, sp.Integer):
            return int(value)
        if isinstance(value, sp.Basic) and value.is_number and value.is_real is not False:
            try:
                if wide:
                    v = sp.N(value, digits)
                    if v.is_finite is False or v.has(sp.nan, sp.zoo):
                        return None
                    return str(v) if v.is_Float else str(v.evalf(digits))
                f = float(value)
                return f if math.isfinite(f) else None
            except (TypeError, ValueError):
                return str(value)
        if isinstance(value, sp.MatrixBase):
            return [jsonable(v, digits) for v in value]
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return jsonable(float(value), digits)
    if hasattr(value, "as_dict"):
        return jsonable(value.as_dict(), digits)
    return str(value)


def _fmt(value, digits: int | None = None) -> str:
    v = jsonable(value, digits)
    if isinstance(v, float):
        return f"{v:.10g}"
    if v is None:
        return "-"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


# ---------------------------------------------------------------------------------------------
# access to the public API (looked up at call time, so tests can substitute it)
# ---------------------------------------------------------------------------------------------
def _rs():
    import replicasym

    return replicasym


def _api(name: str):
    return getattr(_rs(), name)


def _build_model(args):
    params = parse_params(args.param)
    return _rs().models.build(args.model, **params), params


def _render_code(derivation, backend: str) -> str:
    from . import codegen
    return codegen.render(derivation, backend)


def _solution_dict(solution) -> dict:
    if hasattr(solution, "as_dict"):
        return solution.as_dict()
    if isinstance(solution, dict):
        return solution
    raise ReplicasymError(f"solve returned {type(solution).__name__}, not a Solution")


def _one_line(text: str, limit: int = 400) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------
def _describe_derivation(d, out, indent: str = "  ") -> None:
    ops = ", ".join(str(o) for o in getattr(d, "order_parameters", ()) or ())
    print(f"{indent}ansatz: {getattr(d, 'ansatz', '?')}    order parameters: {ops or '-'}", file=out)
    if d.free_entropy is not None:  # signal propagation has maps, not a free entropy
        print(f"{indent}free entropy:", file=out)
        print(f"{indent}  Phi = {d.free_entropy}", file=out)
    print(f"{indent}saddle-point equations:", file=out)
    for eq in d.equations:
        lhs, rhs = (eq.lhs, eq.rhs) if hasattr(eq, "lhs") else (eq, 0)
        print(f"{indent}  {lhs} = {rhs}", file=out)
    if d.replicon is not None:
        print(f"{indent}replicon:", file=out)
        print(f"{indent}  lambda_R = {d.replicon}", file=out)
    print(f"{indent}derivation trace: {len(d.steps)} steps", file=out)


def _require_ansatz(args) -> None:
    """--ansatz is required except for the signal model, which has no replica ansatz."""
    if args.ansatz is None and args.model != "signal":
        raise UsageError("the following arguments are required: --ansatz")


def cmd_derive(args, out) -> int:
    rs = _rs()
    _require_ansatz(args)
    model, params = _build_model(args)
    d = _api("derive")(model, ansatz=args.ansatz)
    if args.json:
        steps = []
        for s in getattr(d, "steps", ()) or ():
            steps.append({"rule": str(getattr(s, "rule", "")),
                          "description": str(getattr(s, "description", "")),
                          "latex": str(getattr(s, "latex", ""))})
        import sympy as sp

        obj = {
            "model": args.model,
            "params": jsonable(params),
            "ansatz": str(getattr(d, "ansatz", args.ansatz)),
            "order_parameters": [str(o) for o in getattr(d, "order_parameters", ()) or ()],
            "free_entropy": str(d.free_entropy),
            "equations": [f"{e.lhs} = {e.rhs}" if hasattr(e, "lhs") else str(e) for e in d.equations],
            "replicon": str(d.replicon),
            "latex": {
                "free_entropy": sp.latex(d.free_entropy),
                "equations": [sp.latex(e) for e in d.equations],
                "replicon": sp.latex(d.replicon),
            },
            "steps": steps,
        }
        _emit_json(obj, out)
    elif args.latex:
        print(d.latex(), file=out)
    elif args.markdown:
        print(d.steps.markdown(), file=out)
    else:
        print(f"{args.model} ({_fmt(params) or 'default parameters'})", file=out)
        _describe_derivation(d, out)
    del rs
    return EXIT_OK


def _temperature_kwargs(args) -> dict:
    if args.T is not None:
        return {"T": args.T}
    return {} if args.beta is None else {"beta": args.beta}


def _has_temperature(model) -> bool:
    """A model without temperature (signal propagation, the perceptron's volume) says so with
    ``has_temperature = False``; engine ModelSpecs have one, other models default to none."""
    from .models.spec import ModelSpec

    return bool(getattr(model, "has_temperature", isinstance(model, ModelSpec)))


def cmd_solve(args, out) -> int:
    model, params = _build_model(args)
    if getattr(args, "alpha", None) is not None and _has_temperature(model):
        raise UsageError(f"--alpha is the load of a model without temperature; use --T for {args.model}")
    if args.T is None and args.beta is None and _has_temperature(model):
        raise UsageError("one of the arguments --T --beta is required")
    try:
        if getattr(args, "alpha", None) is not None:  # the load of a model without temperature
            sol = model.solve(ansatz=args.ansatz, precision=args.precision, alpha=args.alpha,
                              **_temperature_kwargs(args))
        else:
            sol = _api("solve")(model, ansatz=args.ansatz, precision=args.precision, **_temperature_kwargs(args))
    except ConvergenceError as exc:
        sol = getattr(exc, "solution", None)
        if not (args.keep_unconverged and hasattr(sol, "as_dict")):
            raise
        print(f"{PROG}: warning: kept an unconverged result: {_one_line(exc.report())}", file=sys.stderr)
        sol.converged = False
    data = _solution_dict(sol)
    if args.json:
        obj = jsonable(data, args.precision)
        # the parameters are echoed as given, never reformatted as digit strings
        obj["params"] = jsonable(data.get("params", params)) if isinstance(data, dict) else jsonable(params)
        obj.setdefault("model", args.model)
        _emit_json(obj, out)
        return EXIT_OK
    _print_solution(data, out, args.precision, header=True, model=args.model, params=params)
    return EXIT_OK


def _print_solution(data: dict, out, digits, header: bool, model: str = "", params=None) -> None:
    d = jsonable(data, digits)
    T = d.get("T")
    if header:
        tdesc = "0 (ground state)" if T in (0, 0.0, "0", "0.0") else _fmt(T)
        print(f"{d.get('model', model)}  params: {_fmt(d.get('params', params)) or '-'}", file=out)
        print(f"  ansatz: {d.get('ansatz', '?')}    T = {tdesc}", file=out)
    width = 16
    for key in ("free_entropy", "energy", "entropy"):
        if key in d:
            print(f"  {key:<{width}} {_fmt(d[key])}", file=out)
    for k, v in (d.get("order_parameters") or {}).items():
        print(f"  {k:<{width}} {_fmt(v)}", file=out)
    if "replicon" in d:
        rep = d["replicon"]
        note = ""
        try:
            r = float(rep)
            note = "  (stable)" if r > 0 else "  (unstable)" if r < 0 else "  (marginal)"
        except (TypeError, ValueError):
            pass
        print(f"  {'replicon':<{width}} {_fmt(rep)}{note}", file=out)
    if "converged" in d:
        print(f"  {'converged':<{width}} {d['converged']}  (residual {_fmt(d.get('residual'))})", file=out)


def _note_missing_backend(backend: str) -> None:
    """One line on stderr when the module just written needs a library (jax, cupy) missing here."""
    from .codegen.render import require_backend
    try:
        require_backend(backend)
    except ReplicasymError as exc:
        print(f"note: the module was written, but importing it here will fail: {exc}", file=sys.stderr)


def cmd_codegen(args, out) -> int:
    model, _ = _build_model(args)
    d = _api("derive")(model, ansatz=args.ansatz)
    source = _render_code(d, args.backend)
    if not isinstance(source, str) or not source.strip():
        raise ReplicasymError("code generation produced no source")
    try:
        compile(source, args.output, "exec")
    except SyntaxError as exc:
        raise ReplicasymError(f"generated code does not compile (line {exc.lineno}: {exc.msg}); "
                              "nothing was written") from None
    if args.output == "-":
        out.write(source if source.endswith("\n") else source + "\n")
        return EXIT_OK
    atomic_write(args.output, source)
    _note_missing_backend(args.backend)
    if args.json:
        _emit_json({"model": args.model, "ansatz": args.ansatz, "backend": args.backend,
                    "output": args.output, "bytes": len(source.encode())}, out)
    else:
        print(f"wrote {args.output} ({args.backend} backend, {len(source.splitlines())} lines)", file=out)
    return EXIT_OK


def _require_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ReplicasymError("--plot needs matplotlib, which is not installed; "
                              "install it with: pip install 'replicasym[plot]'") from None
    return plt


def cmd_scan_signal(args, out) -> int:
    """``scan signal``: the critical line sigma_w2(sigma_b2) on --sigma_b2 START:STOP:NUM (default
    0:0.3:31), as a table, JSON and/or the (sigma_w2, sigma_b2) phase diagram."""
    import numpy as np

    b2 = parse_range(args.sigma_b2 or "0:0.3:31")
    plt = _require_matplotlib() if args.plot else None
    if args.plot and not args.plot.lower().endswith((".png", ".pdf", ".svg")):
        raise UsageError("--plot FILE must end in .png, .pdf or .svg")
    model, params = _build_model(args)
    w2 = model.critical_line(np.array(b2))
    points = [{"sigma_b2": b, "sigma_w2_critical": jsonable(float(w))} for b, w in zip(b2, w2)]
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(w2, b2, "k-", label=r"$\chi_1 = 1$")
        top = np.nanmax(w2) * 1.3 if np.any(np.isfinite(w2)) else 3.0
        ax.fill_betweenx(b2, 0, w2, alpha=0.2, label="ordered")
        ax.fill_betweenx(b2, w2, top, alpha=0.2, label="chaotic")
        ax.set_xlim(0, top)
        ax.set_xlabel(r"$\sigma_w^2$")
        ax.set_ylabel(r"$\sigma_b^2$")
        ax.set_title(f"signal propagation, {params.get('activation', 'tanh')}")
        ax.legend()
        fig.tight_layout()
        save_figure(fig, args.plot)
        plt.close(fig)
    if args.json:
        _emit_json({"model": "signal", "params": jsonable(params), "points": points,
                    **({"plot": args.plot} if args.plot else {})}, out)
        return EXIT_OK
    print(f"# signal {_fmt(params)}: critical line chi1 = 1", file=out)
    print(f"{'sigma_b2':>12}  {'sigma_w2_critical':>18}", file=out)
    for p in points:
        print(f"{_fmt(p['sigma_b2']):>12}  {_fmt(p['sigma_w2_critical']):>18}", file=out)
    if args.plot:
        print(f"# plot written to {args.plot}", file=out)
    return EXIT_OK


def cmd_scan_load(args, out) -> int:
    """``scan --alpha``: a model without temperature (the perceptron) along the load alpha."""
    loads = parse_range(args.alpha, "--alpha")
    plt = _require_matplotlib() if args.plot else None
    if args.plot and not args.plot.lower().endswith((".png", ".pdf", ".svg")):
        raise UsageError("--plot FILE must end in .png, .pdf or .svg")
    model, params = _build_model(args)
    if _has_temperature(model) or not hasattr(model, "scan"):
        raise UsageError(f"--alpha scans the load of a model without temperature; use --T for {args.model}")
    points = [jsonable(_solution_dict(s)) for s in model.scan(loads)]
    if plt is not None and all("profile" in p for p in points):  # yoshino: the layer profiles
        from .studies.yoshino import plot_profiles
        plot_profiles(plt, points, args.plot, title=f"{args.model} {_fmt(params)}")
    elif plt is not None:
        _plot(plt, points, args, x="alpha", keys=("free_entropy", "epsilon_g"))
    if args.json:
        _emit_json({"model": args.model, "params": jsonable(params), "points": points,
                    **({"plot": args.plot} if args.plot else {})}, out)
        return EXIT_OK
    ops = list(dict.fromkeys(k for p in points for k in (p.get("order_parameters") or {})))
    extra = [c for c in ("epsilon_g",) if any(p.get(c) is not None for p in points)]
    cols = ["alpha", "free_entropy", *ops, *extra, "replicon", "converged"]
    rows = [[_fmt((p.get("order_parameters") or {}).get(c)) if c in ops else _fmt(p.get(c)) for c in cols]
            for p in points]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    print(f"# {args.model} {_fmt(params) or ''}".rstrip(), file=out)
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)), file=out)
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)), file=out)
    for p in points:
        for note in p.get("notes") or ():
            print(f"# alpha = {_fmt(p.get('alpha'))}: {note}", file=out)
    if args.plot:
        print(f"# plot written to {args.plot}", file=out)
    return EXIT_OK


def cmd_scan_energy(args, out) -> int:
    """``scan --E``: the entropy at given energy s(E) of a spherical model, by the Legendre and the
    microcanonical (delta(H - NE)) routes side by side."""
    from .solvers.entropy import entropy_curve
    energies = parse_range(args.E, "--E", signed=True)
    plt = _require_matplotlib() if args.plot else None
    if args.plot and not args.plot.lower().endswith((".png", ".pdf", ".svg")):
        raise UsageError("--plot FILE must end in .png, .pdf or .svg")
    model, params = _build_model(args)
    if getattr(model, "spins", None) != "spherical":
        raise UsageError("--E (entropy at given energy) is available for spherical models (spherical, mlp)")
    curve = entropy_curve(model, energies, ansatz=args.ansatz or "rs")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(curve["E"], curve["s_legendre"], "o-", label="Legendre")
        ax.plot(curve["E"], curve["s_microcanonical"], "x--", label="delta(H - NE)")
        ax.set_xlabel("E")
        ax.set_ylabel("s(E)")
        ax.set_title(f"{args.model} {_fmt(params)}")
        ax.legend()
        fig.tight_layout()
        save_figure(fig, args.plot)
        plt.close(fig)
    if args.json:
        _emit_json(jsonable(curve), out)
        return EXIT_OK
    print(f"# {args.model} {_fmt(params)}: s(E), ansatz {curve['ansatz']}, E_gs = {_fmt(curve['E_gs'])}", file=out)
    print(f"{'E':>12}  {'s_legendre':>14}  {'s_microcanonical':>16}  {'beta':>10}  {'replicon':>10}", file=out)
    for i, e in enumerate(curve["E"]):
        print(f"{_fmt(e):>12}  {_fmt(curve['s_legendre'][i]):>14}  {_fmt(curve['s_microcanonical'][i]):>16}  "
              f"{_fmt(curve['beta'][i]):>10}  {_fmt(curve['replicon'][i]):>10}", file=out)
    return EXIT_OK


def cmd_scan(args, out) -> int:
    if args.model == "signal" or getattr(args, "E", None) is not None or args.alpha is not None:
        used = [f for f, v in (("--scheduler", args.scheduler), ("--workers", args.workers),
                               ("--chunk-size", args.chunk_size), ("--output", args.output)) if v is not None]
        if used:
            raise UsageError(f"{', '.join(used)}: only for temperature scans (--T)")
    if args.model == "signal":
        return cmd_scan_signal(args, out)
    if getattr(args, "E", None) is not None:
        return cmd_scan_energy(args, out)
    if args.alpha is not None:
        return cmd_scan_load(args, out)
    if args.T is None and not _has_temperature(_build_model(args)[0]):
        raise UsageError(f"scan {args.model} needs --alpha START:STOP:NUM (the model has no temperature)")
    _require_ansatz(args)
    if args.T is None:
        raise UsageError("the following arguments are required: --T")
    temps = parse_range(args.T)
    plt = _require_matplotlib() if args.plot else None
    if args.plot and not args.plot.lower().endswith((".png", ".pdf", ".svg")):
        raise UsageError("--plot FILE must end in .png, .pdf or .svg")
    model, params = _build_model(args)
    from .solvers.scan import require_pyarrow, write_scan
    if args.output is not None and not args.output.lower().endswith((".csv", ".json", ".parquet")):
        raise UsageError("--output FILE must end in .csv, .json or .parquet")
    if args.output is not None and args.output.lower().endswith(".parquet"):
        require_pyarrow()  # before the scan, not after it
    options = {k: v for k, v in (("scheduler", args.scheduler), ("chunk_size", args.chunk_size),
                                 ("workers", args.workers)) if v is not None}
    sols = _api("scan")(model, args.ansatz, temps, **options)
    points = [jsonable(_solution_dict(s)) for s in sols]
    if plt is not None:
        _plot(plt, points, args)
    result = {"model": args.model, "params": jsonable(params), "ansatz": args.ansatz, "points": points,
              **({"plot": args.plot} if args.plot else {})}
    if args.output is not None:
        write_scan(args.output, result)
    if args.json:
        _emit_json({**result, **({"output": args.output} if args.output else {})}, out)
        return EXIT_OK
    ops = []
    for p in points:
        for k in (p.get("order_parameters") or {}):
            if k not in ops:
                ops.append(k)
    cols = ["T", "free_entropy", "energy", "entropy", *ops, "replicon", "converged"]
    rows = []
    for p in points:
        opv = p.get("order_parameters") or {}
        rows.append([_fmt(p.get(c)) if c not in ops else _fmt(opv.get(c)) for c in cols])
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    print(f"# {args.model} {_fmt(params) or ''}  ansatz={args.ansatz}".rstrip(), file=out)
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)), file=out)
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)), file=out)
    if args.plot:
        print(f"# plot written to {args.plot}", file=out)
    return EXIT_OK


def _plot(plt, points, args, x: str = "T", keys=("free_entropy", "energy", "entropy")) -> None:
    Ts = [p.get(x) for p in points]
    ops = sorted({k for p in points for k in (p.get("order_parameters") or {})})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k in keys:
        axes[0].plot(Ts, [p.get(k) if p.get(k) is not None else float("nan") for p in points], "o-", label=k)
    for k in ops:
        ys = []
        for p in points:
            v = (p.get("order_parameters") or {}).get(k)
            ys.append(v if isinstance(v, (int, float)) else float("nan"))
        axes[1].plot(Ts, ys, "o-", label=k)
    for ax, title in zip(axes, ("thermodynamics", "order parameters")):
        ax.set_xlabel(x)
        ax.set_title(f"{args.model} {getattr(args, 'ansatz', None) or ''}: {title}")
        ax.legend()
    fig.tight_layout()
    save_figure(fig, args.plot)
    plt.close(fig)


def cmd_phase(args, out) -> int:
    model, params = _build_model(args)
    result = _api("phase")(model, precision=args.precision)
    obj = jsonable(result, args.precision)
    if args.json:
        if isinstance(obj, dict):
            obj.setdefault("model", args.model)
            obj.setdefault("params", jsonable(params))
        _emit_json(obj, out)
        return EXIT_OK
    print(f"{args.model}  params: {_fmt(params) or '-'}", file=out)
    for k, v in (obj.items() if isinstance(obj, dict) else [("result", obj)]):
        if k in ("model", "params"):
            continue
        print(f"  {k:<24} {'-  (none)' if v is None else _fmt(v)}", file=out)
    return EXIT_OK


def cmd_check(args, out) -> int:
    """``check``: is the user's equation / free entropy the engine's?  Exit 0 if so, 1 if not."""
    from .check import check

    mapping: dict = {}
    for item in args.map:
        name, sep, expr = item.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name.strip()) or not expr.strip():
            raise UsageError(f"--map expects NAME=EXPR (e.g. x=m or q0=0), got {item!r}")
        if name.strip() in mapping:
            raise UsageError(f"--map {name.strip()} given twice")
        mapping[name.strip()] = expr.strip()
    if not 3 <= args.samples <= 200:
        raise UsageError(f"--samples must be between 3 and 200, got {args.samples}")
    model, params = _build_model(args)
    result = check(model, equation=args.equation, free_entropy=args.free_entropy, ansatz=args.ansatz,
                   mapping=mapping, syntax=args.syntax, samples=args.samples, seed=args.seed)
    if args.json:
        _emit_json({"model": args.model, "params": jsonable(params), "ansatz": args.ansatz,
                    **jsonable(result.as_dict())}, out)
    else:
        print(f"{args.model} ({_fmt(params) or 'default parameters'}), ansatz {args.ansatz}", file=out)
        print(result.report(), file=out)
    return EXIT_OK if result.equivalent else EXIT_ERROR


def cmd_mc(args, out) -> int:
    """``mc``: simulate MODEL at --N, --T (0: ground state); --compare adds the replica prediction."""
    from . import montecarlo as mc

    params = parse_params(args.param)
    if args.plot:
        if not args.plot.lower().endswith((".png", ".pdf", ".svg")):
            raise UsageError("--plot FILE must end in .png, .pdf or .svg")
        _require_matplotlib()  # fail before a long run, not after it
    result = mc.simulate(args.model, params, N=args.N, T=args.T, samples=args.samples, replicas=args.replicas,
                         sweeps=args.sweeps, burn_in=args.burn_in, tempering=args.tempering, seed=args.seed,
                         backend=args.backend, dtype=args.dtype,
                         progress=True if args.progress else None)
    comparison = mc.compare(result, ansatz=args.ansatz) if args.compare else None
    if args.plot:
        mc.plot_result(result, args.plot, comparison)
    if args.json:
        obj = jsonable(result.as_dict())
        if comparison is not None:
            obj["compare"] = jsonable(comparison.as_dict())
        if args.plot:
            obj["plot"] = args.plot
        _emit_json(obj, out)
        return EXIT_OK
    print(result.summary(), file=out)
    if comparison is not None:
        print(f"replica prediction ({comparison.ansatz}) beside the simulation:", file=out)
        print(comparison.table(), file=out)
        for note in comparison.notes:
            print(f"  note: {note}", file=out)
    if args.plot:
        print(f"# plot written to {args.plot}", file=out)
    return EXIT_OK


# -- demo ---------------------------------------------------------------------------------------
def cmd_derivations(args, out) -> int:
    from .report import write_derivations
    for path in write_derivations(args.out):
        print(path, file=out)
    return EXIT_OK


def cmd_demo(args, out) -> int:
    rs = _rs()
    failures: list[str] = []
    t0 = time.perf_counter()

    def section(title):
        print(file=out)
        print(title, file=out)
        print("-" * len(title), file=out)

    def attempt(label, fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the demo reports and goes on
            msg = _one_line(f"{type(exc).__name__}: {exc}")
            print(f"  FAILED: {msg}", file=out)
            failures.append(f"{label}: {msg}")
        out.flush()

    print("replicasym demo: derive and solve the classic replica calculations", file=out)
    print("(conventions: DESIGN.md; spherical p-spin xi(q) = q^p/2, SK xi(q) = q^2/2)", file=out)
    state: dict = {}

    def derive_sk():
        state["sk"] = rs.models.build("sk")
        state["d_sk"] = rs.derive(state["sk"], ansatz="rs")
        _describe_derivation(state["d_sk"], out)

    def derive_sph():
        state["sph"] = rs.models.build("spherical", p=3)
        d = rs.derive(state["sph"], ansatz="1rsb")
        _describe_derivation(d, out)

    def solve_sk():
        s = _solution_dict(rs.solve(state.get("d_sk") or rs.models.build("sk"), T=0.5))
        _print_solution(s, out, None, header=False)
        rep = jsonable(s.get("replicon"))
        if isinstance(rep, float) and rep < 0:
            print("  -> replicon < 0: the RS solution is unstable below the AT line (T_AT(h=0) = 1)",
                  file=out)

    def ground_sk():
        s = _solution_dict(rs.solve(state.get("d_sk") or rs.models.build("sk"), T=0))
        e = jsonable(s.get("energy"))
        ref = -math.sqrt(2 / math.pi)
        print(f"  {'E_gs (RS)':<16} {_fmt(e)}    reference -sqrt(2/pi) = {ref:.10g}", file=out)

    def phase_sph():
        ph = jsonable(rs.phase(state.get("sph") or rs.models.build("spherical", p=3)))
        refs = {"T_d": ("sqrt(3/8)", math.sqrt(3 / 8))}
        for key in ("T_d", "T_s", "E_gs", "T_c", "phase", "zero_temperature_phase", "E_th"):
            if key in ph:
                ref = refs.get(key)
                extra = f"    reference {ref[0]} = {ref[1]:.10g}" if ref else ""
                print(f"  {key:<24} {_fmt(ph[key])}{extra}", file=out)
        for key, v in ph.items():
            if key not in ("T_d", "T_s", "E_gs", "T_c", "phase", "zero_temperature_phase", "E_th",
                           "model", "params"):
                print(f"  {key:<24} {_fmt(v)}", file=out)

    section("1. SK model, replica-symmetric derivation")
    attempt("derive sk rs", derive_sk)
    section("2. Spherical pure 3-spin, 1RSB derivation")
    attempt("derive spherical p=3 1rsb", derive_sph)
    section("3. SK, RS solution at T = 0.5")
    attempt("solve sk T=0.5", solve_sk)
    section("4. SK, RS ground state (T = 0)")
    attempt("solve sk T=0", ground_sk)
    section("5. Spherical pure 3-spin: transitions and ground state (phase)")
    attempt("phase spherical p=3", phase_sph)
    print(file=out)
    dt = time.perf_counter() - t0
    if failures:
        print(f"demo finished in {dt:.1f} s with {len(failures)} failed part(s)", file=out)
        raise ReplicasymError(f"demo: {len(failures)} part(s) failed: " + "; ".join(failures))
    print(f"demo finished in {dt:.1f} s; all parts succeeded", file=out)
    return EXIT_OK


def _emit_json(obj, out) -> None:
    out.write(json.dumps(obj, allow_nan=False, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------
_FMT = argparse.RawDescriptionHelpFormatter


def _common(p: argparse.ArgumentParser, ansatz_required: bool | None, ansatz_default: str | None = None):
    p.add_argument("model", metavar="MODEL", type=_model_name,
                   help=f"the model: {', '.join(MODEL_NAMES)}")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="model parameter (repeatable), e.g. p=3, xi='q**3/2', activation='x*erf(x)', "
                        "alpha=1.0,0.5")
    if ansatz_required is not None:
        p.add_argument("--ansatz", type=_ansatz, required=ansatz_required, default=ansatz_default,
                       metavar="A", help="rs | 1rsb | krsb:K | frsb | auto"
                       + (f" (default {ansatz_default})" if ansatz_default else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, formatter_class=_FMT,
        description="replicasym: symbolic replica calculations for spin glasses and random neural networks.",
        epilog="examples:\n"
               "  replicasym demo\n"
               "  replicasym derive sk --ansatz rs --latex\n"
               "  replicasym solve spherical --param p=3 --ansatz 1rsb --T 0 --json\n"
               "  replicasym phase spherical --param p=3\n"
               "run 'replicasym COMMAND --help' for the options of a command.")
    try:
        from . import __version__ as version
    except ImportError:  # pragma: no cover
        version = "unknown"
    parser.add_argument("--version", action="version", version=f"replicasym {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("derive", formatter_class=_FMT,
                       help="derive the free entropy and saddle-point equations",
                       description="Derive the free-entropy functional, the saddle-point equations and the "
                                   "replicon of MODEL under ansatz A.",
                       epilog="examples:\n  replicasym derive sk --ansatz rs\n"
                              "  replicasym derive spherical --param p=3 --ansatz 1rsb --latex\n"
                              "  replicasym derive sk --ansatz rs --json")
    _common(p, ansatz_required=False)  # required except for signal
    g = p.add_mutually_exclusive_group()
    g.add_argument("--latex", action="store_true", help="print the result as LaTeX")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.add_argument("--markdown", action="store_true", help="print the derivation trace as Markdown")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("solve", formatter_class=_FMT, help="solve the saddle point at one temperature",
                       description="Solve MODEL at temperature T (or inverse temperature beta); --T 0 is the "
                                   "ground state. With --ansatz auto (default) RS is solved, its replicon "
                                   "checked and the RSB ansatze the model supports compared.",
                       epilog="examples:\n  replicasym solve sk --ansatz rs --T 0.5\n"
                              "  replicasym solve spherical --param p=3 --ansatz 1rsb --T 0 --json\n"
                              "  replicasym solve sk --ansatz rs --T 0.5 --precision 50 --json")
    _common(p, ansatz_required=False, ansatz_default="auto")
    g = p.add_mutually_exclusive_group()  # one is required except for signal
    g.add_argument("--T", type=_nonneg_float, metavar="X", help="temperature (0: ground state)")
    g.add_argument("--beta", type=_nonneg_float, metavar="X", help="inverse temperature")
    p.add_argument("--alpha", type=_nonneg_float, metavar="X",
                   help="the load alpha of a model without temperature (perceptron, yoshino); the same as "
                        "--param alpha=X")
    p.add_argument("--precision", type=_precision, metavar="DIGITS",
                   help="solve with mpmath at this many significant digits (JSON numbers become strings "
                        "above 15 digits)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--keep-unconverged", action="store_true",
                   help="print a solver's last iterate (converged: false, with its residual) instead of "
                        "failing when the solver attached one; the warning goes to stderr")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("codegen", formatter_class=_FMT, help="generate a standalone solver module",
                       description="Render the derivation of MODEL under ansatz A as a standalone, "
                                   "importable "
                                   "Python module (written atomically to FILE.py; '-o -' prints it).",
                       epilog="examples:\n  replicasym codegen sk --ansatz rs --backend numpy -o sk_rs.py\n"
                              "  replicasym codegen spherical --param p=3 --ansatz 1rsb --backend mpmath "
                              "-o pspin3.py\n"
                              "  replicasym codegen sk --param h=0.3 --ansatz rs --backend jax -o sk_rs_jax.py")
    _common(p, ansatz_required=True)
    p.add_argument("--backend", choices=("numpy", "mpmath", "jax", "cupy"), required=True,
                   help="numpy | mpmath | jax | cupy (jax/cupy: the numpy functions and newton/sweep on "
                        "xp = jax.numpy or cupy, no solve(); the module needs that library at import time)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.py", help="output file ('-' for stdout)")
    p.add_argument("--json", action="store_true", help="print one JSON object describing what was written")
    p.set_defaults(func=cmd_codegen)

    p = sub.add_parser("scan", formatter_class=_FMT, help="solve along a range of temperatures",
                       description="Solve MODEL under ansatz A at NUM evenly spaced temperatures from "
                                   "START to "
                                   "STOP (inclusive) and print a table, JSON (key 'points') and/or a plot.",
                       epilog="examples:\n  replicasym scan sk --ansatz rs --T 0.2:1.5:14\n"
                              "  replicasym scan spherical --param p=3 --ansatz 1rsb --T 0.3:0.8:11 --json\n"
                              "  replicasym scan sk --ansatz rs --T 0.2:1.5:14 --plot sk.png   "
                              "# needs pip install 'replicasym[plot]'\n"
                              "  replicasym scan perceptron --param kappa=0.5 --alpha 0.1:0.9:9")
    _common(p, ansatz_required=False)  # required except for signal
    p.add_argument("--T", metavar="START:STOP:NUM", help="temperatures, e.g. 0.2:1.5:14 (not for signal)")
    p.add_argument("--E", metavar="START:STOP:NUM",
                   help="spherical models: entropy s(E) at these energies (< 0) by the Legendre and the "
                        "delta(H - NE) routes, e.g. --E -0.6:-0.1:6")
    p.add_argument("--alpha", metavar="START:STOP:NUM",
                   help="loads alpha = P/N, e.g. 0.1:1.9:19, for models without temperature (perceptron)")
    p.add_argument("--sigma_b2", metavar="START:STOP:NUM",
                   help="signal only: bias variances of the critical line (default 0:0.3:31)")
    p.add_argument("--plot", metavar="FILE.png", help="also plot the scan (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the list 'points'")
    p.add_argument("--output", metavar="FILE", help="--T scans: also write the table to FILE.csv, FILE.json "
                                                    "or FILE.parquet (parquet needs pyarrow)")
    p.add_argument("--scheduler", metavar="S",
                   help="--T scans: serial (default), dask (a local Dask cluster) or dask=ADDRESS (a running "
                        "scheduler); needs pip install 'replicasym[dask]'. Same numbers as the serial scan "
                        "with the same --chunk-size")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="--scheduler dask: worker processes of the local cluster (default: one per CPU)")
    p.add_argument("--chunk-size", type=_positive_int, metavar="N",
                   help="--T scans: temperatures per chunk; continuation in T restarts at each chunk "
                        "(serial default: one chunk; dask default: NUM/16 rounded up)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("phase", formatter_class=_FMT, help="transition temperatures and the T = 0 phase",
                       description="Locate the transitions of MODEL (T_c, T_d, T_s, T_AT where they exist; "
                                   "null when absent), the zero-temperature phase and E_gs.",
                       epilog="examples:\n  replicasym phase spherical --param p=3\n"
                              "  replicasym phase sk --json")
    _common(p, ansatz_required=None)
    p.add_argument("--precision", type=_precision, metavar="DIGITS", help="digits (mpmath) for the results")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_phase)

    p = sub.add_parser("check", formatter_class=_FMT,
                       help="check a hand-derived equation or free entropy against the engine",
                       description="Say whether a hand-derived saddle-point equation (--equation \"LHS = RHS\")\n"
                                   "or free entropy (--free-entropy \"EXPR\") is equivalent to the engine's "
                                   "derivation of MODEL\nunder ansatz A, and where it differs: a constant "
                                   "factor or sign, a constant offset, the term\nto change, a corrected "
                                   "expression.\n\n"
                                   "Syntax: plain SymPy (+ - * / **, exp log sqrt tanh cosh erf ...), "
                                   "with E(expr, z) the average\nover a standard Gaussian z; or LaTeX with "
                                   "--syntax latex. Names: the engine's order parameters\n(q for RS; q1 and m "
                                   "for 1RSB, where a lone q means q1), beta (or T = 1/beta) and the model's\n"
                                   "parameters (h); --map reads your own names.\n\n"
                                   "Method: symbolic simplification first, then 30-digit evaluation at random "
                                   "admissible points\n(equations: proportional residuals, or the same zeros "
                                   "in the order parameter).\n"
                                   "Exit status: 0 equivalent, 1 not equivalent (or an error, reported on "
                                   "stderr).",
                       epilog="examples:\n"
                              "  replicasym check sk --ansatz rs --equation "
                              "\"q = 1 - E(1/cosh(beta*sqrt(q)*z)**2, z)\"\n"
                              "  replicasym check sk --ansatz rs --free-entropy "
                              "\"beta**2*(1-q)**2/4 + E(log(2*cosh(beta*sqrt(q)*z)), z)\"\n"
                              "  replicasym check spherical --param p=3 --ansatz 1rsb --equation "
                              "\"3*beta**2*q**2/2 = q/((1-q)*(1-(1-x)*q))\" --map x=m\n"
                              "  replicasym check sk --ansatz rs --equation "
                              "\"q = 2*E(tanh(beta*sqrt(q)*z)**2, z)\" --json\n"
                              "  replicasym check sk --ansatz rs --syntax latex --equation "
                              "\"q = \\mathbb{E}_z[\\tanh^2(\\beta\\sqrt{q} z)]\"   "
                              "# needs pip install 'replicasym[latex]'")
    _common(p, ansatz_required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--equation", metavar="\"LHS = RHS\"",
                   help="a saddle-point equation (without '=': EXPR = 0)")
    g.add_argument("--free-entropy", dest="free_entropy", metavar="\"EXPR\"",
                   help="a free entropy Phi (per spin, Phi(beta=0) = log 2 for Ising, 0 for spherical); "
                        "'Phi = EXPR' is accepted")
    p.add_argument("--map", action="append", default=[], metavar="NAME=EXPR",
                   help="read your NAME as EXPR in the engine's names (repeatable), e.g. x=m, q0=0, J=1")
    p.add_argument("--syntax", choices=("sympy", "latex"), default="sympy",
                   help="input syntax (default sympy; latex needs pip install 'replicasym[latex]')")
    p.add_argument("--samples", type=int, default=8, metavar="N",
                   help="random admissible sample points (default 8)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the sample points (default 0)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (key 'equivalent': true or false, plus the diagnosis)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("mc", formatter_class=_FMT, help="Monte Carlo simulation of a finite-N system",
                       description="Finite-N Monte Carlo of MODEL's Hamiltonian (sk, spherical, mlp, "
                                   "perceptron) with the conventions of the replica engine: energy, overlaps "
                                   "P(q), hidden-layer norms (mlp), entropy by thermodynamic integration "
                                   "(--tempering). Error bars are over disorder samples. --T 0 searches "
                                   "ground states (gradient descent on the sphere, else annealing).",
                       epilog="examples:\n  replicasym mc sk --N 200 --T 1.5 --samples 20 --json\n"
                              "  replicasym mc mlp --param activation=tanh --param depth=1 --N 200 --T 0.5 "
                              "--compare\n"
                              "  replicasym mc spherical --param p=2 --N 64 --T 0.5 --tempering 8 --compare\n"
                              "  replicasym mc mlp --param activation=linear --param alpha=1,0.5 "
                              "--param depth=2 --N 100 --T 0")
    _common(p, ansatz_required=None)
    p.add_argument("--N", type=int, required=True, metavar="SIZE", help="system size (input dimension)")
    p.add_argument("--T", type=_nonneg_float, required=True, metavar="X", help="temperature (0: ground state)")
    p.add_argument("--samples", type=int, default=10, metavar="K", help="disorder samples (default 10)")
    p.add_argument("--replicas", type=int, default=2, metavar="R",
                   help="chains per sample (overlaps between them; starts at T = 0) (default 2)")
    p.add_argument("--sweeps", type=int, default=500, metavar="S", help="measurement sweeps (default 500)")
    p.add_argument("--burn-in", dest="burn_in", type=int, default=None, metavar="B",
                   help="equilibration sweeps (default sweeps/2; annealed over the first half)")
    p.add_argument("--tempering", type=int, default=0, metavar="K",
                   help="parallel tempering on K temperatures beta_k = k beta/(K-1); also gives the "
                        "entropy by thermodynamic integration (default 0: off)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy", help="array backend (cupy: GPU)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="floating-point precision")
    p.add_argument("--compare", action="store_true", help="put the replica prediction beside the simulation")
    p.add_argument("--ansatz", type=_ansatz, default="auto", metavar="A",
                   help="ansatz of the replica prediction for --compare (default auto)")
    p.add_argument("--plot", metavar="FILE.png", help="plot P(q) and e(T) (needs matplotlib)")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr (default: when a terminal)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_mc)

    p = sub.add_parser("derivations", formatter_class=_FMT,
                       help="regenerate the Markdown derivations (derivations/)",
                       description="Write one Markdown file per model x ansatz, generated from the "
                                   "derivation trace, with the solved numbers.",
                       epilog="example:\n  replicasym derivations -o derivations")
    p.add_argument("-o", "--out", default="derivations", metavar="DIR", help="output directory")
    p.set_defaults(func=cmd_derivations)

    p = sub.add_parser("demo", formatter_class=_FMT,
                       help="derive and solve the classic examples (the main job)",
                       description="Derive SK (RS) and the spherical pure 3-spin model (1RSB), print the "
                                   "free entropies and saddle-point equations, solve SK at T = 0.5 and at "
                                   "T = 0, and locate T_d, T_s and E_gs of the 3-spin model.",
                       epilog="example:\n  replicasym demo")
    p.set_defaults(func=cmd_demo)
    return parser


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------
def _error(msg: str) -> None:
    print(f"{PROG}: error: {_one_line(msg)}", file=sys.stderr)
    sys.stderr.flush()


def main(argv=None) -> int:
    """Run the command line; returns the exit status (the console script passes it to ``sys.exit``)."""
    debug = bool(os.environ.get("REPLICASYM_DEBUG"))
    parser = build_parser()
    out = sys.stdout
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        if not debug:
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                status = args.func(args, out)
        except UsageError as exc:
            _error(str(exc))
            return EXIT_USAGE
        except NotImplementedYet as exc:
            _error(str(exc))
            return EXIT_NOT_IMPLEMENTED
        except (ReplicasymError, ValueError) as exc:
            if debug:
                traceback.print_exc()
            _error((exc.report() if isinstance(exc, ConvergenceError) else str(exc)) or type(exc).__name__)
            return EXIT_ERROR
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            with contextlib.suppress(Exception):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            return EXIT_ERROR
        except RecursionError:
            if debug:
                traceback.print_exc()
            _error("internal error: recursion too deep (expression too large?)")
            return EXIT_ERROR
        except MemoryError:
            _error("out of memory")
            return EXIT_ERROR
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            if debug:
                traceback.print_exc()
            _error(f"internal error: {type(exc).__name__}: {exc} (set REPLICASYM_DEBUG=1 for a traceback)")
            return EXIT_ERROR
        finally:
            with contextlib.suppress(Exception):
                out.flush()
    seen = set()
    for w in caught:
        line = _one_line(f"{w.category.__name__}: {w.message}")
        if line not in seen:
            seen.add(line)
            print(f"{PROG}: warning: {line}", file=sys.stderr)
    return status if isinstance(status, int) else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
