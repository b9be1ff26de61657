r"""The validation page ``derivations/validation.md``: replica predictions against simulations.

Regenerate with ``python -m replicasym.montecarlo.validation -o derivations/validation.md`` (a few
minutes on two cores; every point has a fixed seed, so the page is reproducible).  Each
:class:`Point` is simulated (extrapolated in N, or in the MLP width ratio to the GP limit), the
engine solves the same model (:func:`~.compare.predict`), and one table row per observable gives
the replica value, the simulation value with its error bar (standard error over disorder samples,
propagated through the extrapolation), the deviation in error bars and the verdict: agreement
within 3 error bars, or a disagreement with its stated explanation, or a missing prediction.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

from ..errors import ReplicasymError
from ..fileio import atomic_write
from .compare import THRESHOLD, compare
from .finite_size import scan_sizes, scan_widths
from .simulation import simulate

__all__ = ["POINTS", "Point", "main", "render", "run_point"]


@dataclass(frozen=True)
class Point:
    """One validated model/parameter point.

    ``sizes``: N values, extrapolated in :math:`N^{-\\omega}` (``exponent``) when there are two or
    more; ``alphas``: MLP width ratios at size ``sizes[0]``, extrapolated in :math:`1/\\alpha` to the
    GP limit; ``observables``: the rows shown (names of :class:`~.compare.Row`); ``explanation``:
    why a disagreement is expected, if it is."""

    model: str
    params: dict
    T: float
    observables: tuple
    sizes: tuple
    alphas: tuple = ()
    exponent: float = 1.0
    samples: int = 16
    sweeps: int = 400
    tempering: int = 0
    replicas: int = 2
    seed: int = 0
    explanation: str = ""
    remark: str = ""
    run: dict = field(default_factory=dict)


#: the points of the page (at least 8 across SK, spherical, linear MLP, nonlinear MLP at infinite and
#: finite width, perceptron)
POINTS = (
    Point("sk", {}, 1.5, ("energy", "entropy", "q2"), (32, 64, 128), tempering=6,
          remark="paramagnet, e = -beta/2"),
    Point("sk", {}, 0.5, ("energy",), (32, 64, 128), exponent=2 / 3, tempering=12, sweeps=1000,
          remark="spin-glass phase (full RSB), N^-2/3 extrapolation"),
    Point("spherical", {"p": 2}, 0.5, ("energy", "entropy", "q2"), (32, 64, 128), exponent=2 / 3, tempering=8,
          sweeps=600,
          remark="glassy phase of the 2-spin model (RS exact), N^-2/3 extrapolation"),
    Point("spherical", {"p": 3}, 0.8, ("energy", "entropy"), (16, 24, 32), tempering=6,
          remark="paramagnet above T_d = 0.612"),
    Point("mlp", {"activation": "linear", "depth": 2, "alpha": [1.0, 0.5]}, 0.5,
          ("energy", "q", "layer 1 pre_norm", "layer 2 pre_norm"), (50, 100, 200),
          remark="finite width; hidden norms per neuron |z^l|^2/N_l, exact linear-network values"),
    Point("mlp", {"activation": "linear", "depth": 2, "alpha": [1.0, 0.5]}, 0.0,
          ("energy", "layer 1 pre_norm", "layer 2 pre_norm"), (100, 200, 400), replicas=4,
          remark="ground state by gradient descent: E_gs = -C_W^((L+1)/2), |z^l|^2/N_l = C_W^l (1 + sum 1/alpha_k)"),
    Point("mlp", {"activation": "linear", "depth": 1, "alpha": 0.25}, 0.5, ("energy", "q"), (100, 200, 400),
          remark="narrow layer: the thermodynamics does not depend on alpha"),
    Point("mlp", {"activation": "tanh", "depth": 1}, 0.5, ("energy", "q", "layer 1 post_norm"), (100,),
          alphas=(2.0, 4.0, 8.0), remark="GP limit by extrapolation in 1/alpha"),
    Point("mlp", {"activation": "sin", "depth": 1}, 0.5, ("energy", "q"), (100,), alphas=(2.0, 4.0, 8.0),
          remark="GP limit by extrapolation in 1/alpha"),
    Point("mlp", {"activation": "erf", "depth": 2}, 1.0, ("energy", "q"), (50,), alphas=(2.0, 3.0, 4.0),
          remark="GP limit by extrapolation in 1/alpha (two wide layers: a move costs N_1 N_2)"),
    Point("mlp", {"activation": "tanh", "depth": 1, "alpha": 1.0}, 0.5, ("energy", "q"), (100, 200),
          explanation="finite width alpha = 1: the MLP Hamiltonian is not Gaussian and its free energy "
                      "has O(1/alpha) corrections to the GP limit shown (the engine has no finite-width "
                      "theory yet); the GP-limit rows above extrapolate them away",
          remark="finite width, nonlinear"),
    Point("perceptron", {"alpha": 0.5, "kappa": 0.0}, 0.1, ("free_entropy (volume)", "q"), (50, 100, 200),
          tempering=21, sweeps=1000,
          remark="error-counting energy; free entropy by thermodynamic integration to beta = 10 "
                 "approximates the Gardner volume (beta -> oo)"),
)


def run_point(point: Point, progress: bool | None = None):
    """Simulate ``point`` and compare; returns (result, comparison or None, error message or None)."""
    kw = {"samples": point.samples, "sweeps": point.sweeps, "tempering": point.tempering,
          "replicas": point.replicas, "seed": point.seed, "progress": progress, **point.run}
    if point.alphas:
        result = scan_widths(point.params, point.alphas, point.sizes[0], point.T, **kw)
    elif len(point.sizes) >= 2:
        result = scan_sizes(point.model, point.params, point.sizes, point.T, point.exponent, **kw)
    else:
        result = simulate(point.model, point.params, N=point.sizes[0], T=point.T, **kw)
    try:
        return result, compare(result), None
    except ReplicasymError as exc:
        return result, None, str(exc)


def _params_text(point: Point) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.params.items()) or "—"


def _sizes_text(point: Point) -> str:
    if point.alphas:
        return f"{point.sizes[0]}; α = {', '.join(f'{a:g}' for a in point.alphas)} → ∞"
    if len(point.sizes) >= 2:
        return f"{', '.join(map(str, point.sizes))} → ∞ (N^-{point.exponent:.3g})"
    return str(point.sizes[0])


def _verdict(row, point: Point) -> str:
    if row is None or row.replica is None:
        return "pending (no replica value)"
    if row.agree:
        return "yes"
    if point.explanation:
        return "explained (see notes)"
    return "**NO**"


def render(outcomes) -> str:
    """The Markdown page from ``[(point, result, comparison, error), ...]``."""
    lines = ["# Validation: replica predictions against finite-N simulations", "",
             ("Generated by `python -m replicasym.montecarlo.validation -o derivations/validation.md`; do not "
              "edit by hand."), "",
             ("Each point is simulated with `replicasym.montecarlo` (Metropolis on the sphere or spin flips, "
             "parallel tempering where `tempering` > 0, gradient descent at T = 0) with the conventions of "
             "DESIGN.md, then extrapolated: in N (`N → ∞`, exponent given) or, for the MLP in the GP limit, in "
             "the width ratio α (`α → ∞`, in 1/α).  Error bars are standard errors over disorder samples, "
             "propagated through the least-squares extrapolation.  The replica value is the engine's "
             "(`replicasym.solve(..., ansatz='auto')`; for the linear MLP at finite width the hidden norms are "
             "the exact linear-network values).  `agree` means |simulation − replica| ≤ "
             f"{THRESHOLD:g} error bars."), "",
             "| # | model | parameters | T | observable | replica | simulation | N | dev/err | agree |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for k, (point, result, comparison, error) in enumerate(outcomes, start=1):
        rows = {r.observable: r for r in comparison.rows} if comparison else {}
        for name in point.observables:
            row = rows.get(name)
            est = row.mc if row else _observable(result, name)
            rep = "—" if row is None or row.replica is None else f"{row.replica:.6g}"
            if row is not None and comparison is not None and row.source == "engine":
                rep += f" ({comparison.ansatz})"
            elif row is not None:
                rep += f" ({row.source})"
            dev = "—" if row is None or row.deviation is None else f"{row.deviation:+.2f}"
            lines.append(f"| {k} | {point.model} | {_params_text(point)} | {point.T:g} | {name} | {rep} | "
                         f"{est if est is not None else '—'} | {_sizes_text(point)} | {dev} | "
                         f"{_verdict(row, point)} |")
        extra = [point.remark] if point.remark else []
        if point.explanation:
            extra.append(f"expected disagreement: {point.explanation}")
        if error:
            extra.append(f"no replica prediction: {error}")
        if comparison:
            extra += comparison.notes
        extra += getattr(result, "notes", [])
        notes.append(f"{k}. " + "; ".join(dict.fromkeys(extra)) if extra else f"{k}. —")
    lines += ["", "## Notes", ""] + notes + [""]
    return "\n".join(lines)


def _observable(result, name: str):
    if name.startswith("layer "):
        _, l, key = name.split(" ", 2)
        layers = result.target.get("layers") or []
        return layers[int(l) - 1].get(key) if len(layers) >= int(l) else None
    return result.target.get(name.split(" ")[0])


def main(argv=None) -> int:
    """``python -m replicasym.montecarlo.validation [-o FILE] [--only K ...] [--progress]``."""
    parser = argparse.ArgumentParser(prog="python -m replicasym.montecarlo.validation",
                                     description="Regenerate the validation page (replica vs simulation).")
    parser.add_argument("-o", "--output", default="derivations/validation.md", help="output Markdown file")
    parser.add_argument("--only", type=int, nargs="*", metavar="K", help="only these points (1-based); "
                        "prints the page to stdout instead of writing it")
    parser.add_argument("--progress", action="store_true", help="progress bars on stderr (default: in a terminal)")
    args = parser.parse_args(argv)
    chosen = [(k, p) for k, p in enumerate(POINTS, start=1) if not args.only or k in args.only]
    outcomes = []
    for k, point in chosen:
        t0 = time.perf_counter()
        result, comparison, error = run_point(point, True if args.progress else None)
        outcomes.append((point, result, comparison, error))
        verdicts = [] if comparison is None else [r.agree for r in comparison.rows]
        print(f"[{k}/{len(POINTS)}] {point.model} {_params_text(point)} T={point.T:g}: "
              f"{time.perf_counter() - t0:.0f} s, agree {verdicts}", file=sys.stderr)
    page = render(outcomes)
    if args.only:
        print(page)
    else:
        atomic_write(args.output, page)
        print(f"wrote {args.output}", file=sys.stderr)
    bad = [o for o in outcomes if o[2] is not None and not o[2].agree and not o[0].explanation]
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
