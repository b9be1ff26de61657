r"""Extrapolation of simulations: in the size N to :math:`N\to\infty`, and in the MLP's width ratio
:math:`\alpha` to the GP limit :math:`\alpha\to\infty`.

Every observable is fitted as :math:`O(v)=O_\infty+a\,v^{-\omega}` (:func:`~.observables.extrapolate`)
with v = N or v = :math:`\alpha`.  The exponent is physics, chosen by the caller: :math:`\omega=1`
for a replica-symmetric phase (e.g. the SK paramagnet, where
:math:`\mathbb E\log Z_N-\log\mathbb E Z_N` converges in law: Aizenman, Lebowitz & Ruelle, CMP 112
(1987) 3) and for the leading finite-width correction of the MLP (the layer tilts of the replica
action are :math:`O(1/\alpha_\ell)`, reference/winer_hanin_mlp.md §3.2); :math:`\omega=2/3` for the
spherical 2-spin model below :math:`T_c` (free-energy fluctuations on the Tracy--Widom scale
:math:`N^{-2/3}`: Baik & Lee, J. Stat. Phys. 165 (2016) 185) and for the SK model below
:math:`T_c` (ground-state corrections :math:`\propto N^{-2/3}`: Parisi & Rizzo, PRB 79 (2009)
134205).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ParameterError
from .observables import Estimate, extrapolate
from .simulation import MCResult, simulate

__all__ = ["FiniteSizeResult", "extrapolate_results", "scan_sizes", "scan_widths"]

#: the observables extrapolated (not <|q|>, whose paramagnetic finite-size scaling is N^-1/2)
_SCALARS = ("energy", "energy_typical", "free_entropy", "entropy", "q", "q2")


@dataclass
class FiniteSizeResult:
    """Simulations along ``variable`` ("N" or "alpha") and their extrapolation.

    ``target`` maps each observable to its extrapolated :class:`~.observables.Estimate`, in the
    shape of :attr:`MCResult.target`, and ``model``, ``params``, ``T``, ``symmetric``,
    ``hamiltonian``, ``N`` describe the extrapolated system, so :func:`~.compare.compare` accepts
    this object as it accepts a single run; ``fits`` holds the fits (slope, :math:`\\chi^2`)."""

    results: list
    variable: str
    values: list
    exponent: float
    target: dict
    fits: dict
    model: str
    params: dict
    T: float
    symmetric: bool
    hamiltonian: dict
    N: object
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"variable": self.variable, "values": self.values, "exponent": self.exponent,
                "extrapolated": {k: v.as_dict() for k, v in self.target.items() if isinstance(v, Estimate)},
                "fits": {k: {"slope": f["slope"], "chi2": f["chi2"], "dof": f["dof"]} for k, f in self.fits.items()},
                "runs": [r.as_dict() for r in self.results], "notes": list(self.notes)}


def extrapolate_results(results: list[MCResult], exponent: float = 1.0, variable: str = "N") -> FiniteSizeResult:
    """Extrapolate the scalar observables (and per-layer MLP values) of runs that differ in N
    (``variable="N"``) or in the MLP's width ratio (``"alpha"``, the same ratio for every layer)."""
    if len(results) < 2:
        raise ParameterError("extrapolation needs runs at two values or more")
    if variable == "N":
        values = [r.N for r in results]
    elif variable == "alpha":
        values = [r.hamiltonian["alpha"][0] for r in results]
    else:
        raise ParameterError(f"extrapolation variable must be 'N' or 'alpha', got {variable!r}")
    target, fits, notes = {}, {}, []
    for key in _SCALARS:
        if all(key in r.target for r in results):
            fit = extrapolate(values, [r.target[key] for r in results], exponent)
            target[key], fits[key] = fit["value"], fit
    layers = [r.target.get("layers") for r in results]
    if all(layers):
        target["layers"] = []
        for l in range(len(layers[0])):
            entry = {"layer": l + 1}
            for key, est in layers[0][l].items():
                if isinstance(est, Estimate):
                    fit = extrapolate(values, [ls[l][key] for ls in layers], exponent)
                    entry[key], fits[f"layer {l + 1} {key}"] = fit["value"], fit
            target["layers"].append(entry)
    for key, fit in fits.items():
        if fit["dof"] > 0 and fit["chi2"] > fit["dof"] + 3 * math.sqrt(2 * fit["dof"]):
            notes.append(f"{key}: the fit in {variable}^-{exponent:g} is poor (chi^2 = {fit['chi2']:.1f} for "
                         f"{fit['dof']} dof); its error bar is inflated")
    for r, v in zip(results, values):
        notes += [f"{variable} = {v}: {n}" for n in r.notes]
    last = results[-1]
    params, hamiltonian, N = dict(last.params), dict(last.hamiltonian), values
    if variable == "alpha":  # the extrapolated system is the GP limit
        params.pop("alpha", None)
        hamiltonian = {"N": last.N, "alpha": None}
        N = last.N
    return FiniteSizeResult(results, variable, values, exponent, target, fits, last.model, params, last.T,
                            last.symmetric, hamiltonian, N, notes)


def scan_sizes(model: str, params: dict | None, sizes, T: float, exponent: float = 1.0, **kwargs
               ) -> FiniteSizeResult:
    """:func:`~.simulation.simulate` at each N in ``sizes`` (same other arguments; the seed is
    offset per size so that the disorder samples are independent) and the extrapolation in
    :math:`N^{-\\omega}`."""
    seed = kwargs.pop("seed", 0)
    results = [simulate(model, params, N=n, T=T, seed=seed + 1000 * k, **kwargs) for k, n in enumerate(sizes)]
    return extrapolate_results(results, exponent)


def scan_widths(params: dict | None, alphas, N: int, T: float, exponent: float = 1.0, **kwargs
                ) -> FiniteSizeResult:
    """The MLP simulated with every width ratio :math:`\\alpha_\\ell=\\alpha` for each
    :math:`\\alpha` in ``alphas`` and extrapolated in :math:`\\alpha^{-\\omega}` to the GP limit."""
    params = dict(params or {})
    if "alpha" in params:
        raise ParameterError("scan_widths sets alpha itself; do not pass it in params")
    seed = kwargs.pop("seed", 0)
    results = [simulate("mlp", {**params, "alpha": float(a)}, N=N, T=T, seed=seed + 1000 * k, **kwargs)
               for k, a in enumerate(alphas)]
    return extrapolate_results(results, exponent, variable="alpha")
