r"""Finite-N simulation of the models, to check the replica predictions (DESIGN.md conventions).

>>> from replicasym import montecarlo as mc
>>> r = mc.simulate("sk", N=64, T=1.5, samples=8, sweeps=200)
>>> c = mc.compare(r)          # the engine's prediction beside the simulation

Modules (one job each): :mod:`.hamiltonians` (SK / mixed p-spin with explicit couplings, random
MLP with explicit weights, perceptron), :mod:`.samplers` (Metropolis moves, adaptive steps,
replica exchange, quench, projected gradient descent), :mod:`.simulation` (a run at T or a
ground-state search), :mod:`.observables` (estimates over disorder samples, overlaps, layer
statistics, thermodynamic integration), :mod:`.finite_size` (extrapolation in N),
:mod:`.compare` (replica prediction vs simulation), :mod:`.plots` (P(q), e(T); matplotlib
optional), :mod:`.validation` (the page ``derivations/validation.md``), :mod:`.backend` (numpy,
or cupy on a GPU).  Long runs show :mod:`replicasym.progress` bars on stderr.
"""
from .compare import Comparison, compare, predict
from .finite_size import FiniteSizeResult, scan_sizes
from .hamiltonians import build_hamiltonian
from .observables import Estimate
from .plots import plot_result
from .simulation import MCResult, ground_state, simulate

__all__ = ["Comparison", "Estimate", "FiniteSizeResult", "MCResult", "build_hamiltonian", "compare",
           "ground_state", "plot_result", "predict", "scan_sizes", "simulate"]
