r"""Finite-N Hamiltonians of the models, with the conventions of DESIGN.md, batched over disorder.

Configurations are arrays ``x`` of shape ``(S, C, N)``: ``S`` disorder samples, ``C`` chains per
sample (replicas times temperatures), ``N`` sites; every sample has its own couplings.  Spherical
configurations lie on :math:`S^{N-1}(\sqrt N)`, Ising ones in :math:`\{\pm1\}^N`.

Every Hamiltonian is written as :math:`H(x) = F(x, u)` with :math:`u = A x` **linear** in ``x``
(``A`` has shape ``M x N`` per sample).  A move that changes a few coordinates ``idx`` by ``dx``
changes ``u`` by :math:`A_{:,\mathrm{idx}}\,dx`, an :math:`O(M)` update, so the samplers never pay
for a full evaluation of ``A x``:

* mixed p-spin (:class:`PolynomialHamiltonian`), :math:`\xi(q)=\sum_p a_p q^p` with explicit
  couplings, :math:`H=\sum_p\sum_{i_1..i_p}J^{(p)}_{i_1..i_p}x_{i_1}\cdots x_{i_p}`,
  :math:`J^{(p)}\sim\mathcal N(0, a_p/N^{p-1})` i.i.d., so that
  :math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)` exactly; ``u`` holds :math:`J^{(p)}` contracted
  once with ``x``.  For Ising spins the diagonal of the p = 2 couplings is removed: SK is exactly
  :math:`H=-\sum_{i<j}J_{ij}s_is_j - h\sum_i s_i`, :math:`J_{ij}\sim\mathcal N(0,1/N)`
  (Sherrington & Kirkpatrick 1975).  The constant :math:`a_0` of :math:`\xi` (an x-independent
  Gaussian) is left out: it does not change the Gibbs measure.
* random MLP (:class:`MLPHamiltonian`), reference/winer_hanin_mlp.md §2.1: :math:`L` hidden layers
  of widths :math:`N_\ell=\alpha_\ell N`, :math:`W^{(\ell)}\sim\mathcal N(0,C_W/\text{fan-in})`
  including the scalar output, biases :math:`\mathcal N(0,C_b)`,
  :math:`H(x)=\sqrt N\,z^{(L+1)}(x)`; ``u`` is the first layer's :math:`W^{(1)}x`.
* perceptron (:class:`PerceptronHamiltonian`), Gardner's storage problem with the error-counting
  energy of Gardner & Derrida (J. Phys. A 21 (1988) 271): :math:`P=\alpha N` Gaussian patterns
  (the labels absorbed in them), stabilities :math:`\Delta_\mu=\xi_\mu\cdot x/\sqrt N`,
  :math:`H(x)=\sum_\mu\theta(\kappa-\Delta_\mu)`; ``u`` is the vector of stabilities.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..errors import ParameterError
from .backend import activation_function, array_module

__all__ = ["DTYPES", "GP_ALPHA", "MAX_COUPLINGS", "SIM_MODELS", "Hamiltonian", "MLPHamiltonian",
           "PerceptronHamiltonian", "PolynomialHamiltonian", "build_hamiltonian"]

#: width ratio alpha_l used for every hidden layer when a simulation of the MLP gives none: wide
#: layers approximate the GP limit (the replica prediction without ``alpha``)
GP_ALPHA = 4.0
#: the most coupling-tensor entries (all samples together) a p-spin simulation may allocate
MAX_COUPLINGS = 60_000_000
#: the floating-point precisions of a simulation
DTYPES = ("float64", "float32")
#: the models the simulation knows
SIM_MODELS = ("sk", "spherical", "mlp", "perceptron")


class Hamiltonian:
    """Base class: :math:`H(x)=F(x,u)`, :math:`u=Ax`, batched over ``S`` samples and ``C`` chains.

    Subclasses set ``A_T`` (shape ``(S, N, M)``, so that ``u = x @ A_T``), ``spins`` and
    ``symmetric`` (whether :math:`H(-x)=H(x)` for every sample, so that the overlap distribution is
    symmetric), and implement :meth:`energy_from_linear`."""

    name = "hamiltonian"
    spins = "spherical"
    #: whether :meth:`energy_from_linear` reads ``x`` (else only ``u``)
    needs_x = True
    symmetric = False
    #: whether :meth:`gradient` is available
    has_gradient = False

    def __init__(self, N: int, samples: int, xp, dtype: str = "float64"):
        if dtype not in DTYPES:
            raise ParameterError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.N, self.samples, self.xp, self.dtype = int(N), int(samples), xp, dtype
        self.A_T = None
        #: a constant added to ``u`` (S, M) (the MLP's first bias), or None
        self.offset = None

    def array(self, a):
        """A host array on the backend, in the simulation's precision."""
        return self.xp.asarray(a, dtype=self.dtype)

    # -- evaluation ------------------------------------------------------------------------
    def linear(self, x):
        """:math:`u = A x` (plus :attr:`offset`), shape ``(S, C, M)``."""
        u = self.xp.matmul(x, self.A_T)
        return u if self.offset is None else u + self.offset[:, None, :]

    def energy_from_linear(self, x, u):  # pragma: no cover - abstract
        raise NotImplementedError

    def energy(self, x):
        """:math:`H(x)` (not per site), shape ``(S, C)``."""
        return self.energy_from_linear(x, self.linear(x))

    def moved_linear(self, u, dx, idx):
        """``u`` after the coordinates ``idx`` (a slice or a list of k sites) change by ``dx``
        (S, C, k)."""
        return u + self.xp.matmul(dx, self.A_T[:, idx, :])

    def propose(self, x, u, E, idx, dx):
        """Energy and ``u`` after the coordinates ``idx`` (a slice or a list of k sites) change by
        ``dx`` (S, C, k); nothing is modified."""
        new = self.moved_linear(u, dx, idx)
        if self.needs_x:
            x = x.copy()
            x[:, :, idx] += dx
        return self.energy_from_linear(x, new), new

    def gradient(self, x):
        """Euclidean gradient :math:`\\nabla H(x)`, shape ``(S, C, N)``."""
        raise ParameterError(f"the {self.name} Hamiltonian has no gradient; find its ground state by "
                             "annealing instead")

    def layers(self, x, u=None) -> list:
        """Hidden layers ``[(pre-activations z, post-activations sigma(z)), ...]`` (MLP only);
        ``u``: the linear part of ``x`` when already known."""
        return []

    def random_configurations(self, chains: int, rng: np.random.Generator):
        """``chains`` independent uniform configurations per sample (host draws, moved to ``xp``)."""
        shape = (self.samples, chains, self.N)
        if self.spins == "ising":
            x = rng.choice(np.array([-1.0, 1.0]), size=shape)
        else:
            x = rng.standard_normal(shape)
            x *= math.sqrt(self.N) / np.linalg.norm(x, axis=-1, keepdims=True)
        return self.array(x)

    def describe(self) -> dict:
        """What was simulated (sizes), for the JSON output."""
        return {"N": self.N}


# ---------------------------------------------------------------------------------------------
# mixed p-spin with explicit couplings (SK, spherical)
# ---------------------------------------------------------------------------------------------
def polynomial_coefficients(xi: sp.Expr, q: sp.Symbol) -> dict[int, float]:
    r"""The coefficients :math:`a_p` of :math:`\xi(q)=\sum_p a_p q^p` (a polynomial with
    non-negative coefficients, Schoenberg); a clear error otherwise."""
    try:
        poly = sp.Poly(sp.expand(xi), q)
        coeffs = {int(m[0]): float(c) for m, c in poly.terms()}
    except (sp.PolynomialError, TypeError, ValueError):
        raise ParameterError(f"explicit couplings need a polynomial xi(q); got {xi} (for a kernel xi use "
                             "the mlp model, whose wide layers realise it)") from None
    bad = {p: a for p, a in coeffs.items() if a < 0}
    if bad:
        raise ParameterError(f"xi(q) = {xi} has negative coefficients {bad}: not a covariance on the sphere")
    return {p: a for p, a in coeffs.items() if a > 0 and p > 0}


class PolynomialHamiltonian(Hamiltonian):
    r"""Mixed p-spin Hamiltonian :math:`H = g\cdot x + \tfrac12 x^\top M x + \sum_{p\ge3}H_p(x)`.

    ``coefficients`` maps p to :math:`a_p` (p = 1..4); ``field`` is a uniform external field
    :math:`h` (:math:`H \ni -h\sum_i x_i`).  The p = 1 term is :math:`g=\sqrt{a_1}\,z - h`,
    :math:`M = J + J^\top` with :math:`J_{ij}\sim\mathcal N(0,a_2/N)` (diagonal removed for Ising
    spins), and ``u = (M x, J^{(3)} x, J^{(4)} x)`` with the tensors flattened."""

    name = "p-spin"
    has_gradient = True

    def __init__(self, coefficients: dict[int, float], N: int, samples: int, rng: np.random.Generator,
                 xp=np, spins: str = "spherical", field: float = 0.0, dtype: str = "float64"):
        super().__init__(N, samples, xp, dtype)
        self.spins = spins
        self.coefficients = dict(coefficients)
        degree = max(self.coefficients, default=0)
        if degree > 4:
            raise ParameterError(f"explicit couplings are available up to p = 4 (N^p entries per sample); "
                                 f"xi has degree {degree}")
        if not self.coefficients and field == 0:
            raise ParameterError("xi has no term of degree >= 1: the Hamiltonian would be constant")
        size = sum(N**p for p in self.coefficients if p >= 2) * samples
        if size > MAX_COUPLINGS:
            raise ParameterError(f"the couplings need {size:.3g} numbers (N^p per sample for each p); "
                                 f"the limit is {MAX_COUPLINGS:.0e}: reduce N or the number of samples")
        S = samples
        g = np.zeros((S, N))
        if 1 in self.coefficients:
            g += math.sqrt(self.coefficients[1]) * rng.standard_normal((S, N))
        g -= field
        self.g = self.array(g) if (1 in self.coefficients or field) else None
        blocks = []
        self.M = None
        if 2 in self.coefficients:
            J = rng.standard_normal((S, N, N)) * math.sqrt(self.coefficients[2] / N)
            M = J + J.transpose(0, 2, 1)
            if spins == "ising":
                M[:, np.arange(N), np.arange(N)] = 0.0
            self.M = self.array(M)
            blocks.append(self.M)
        self.tensors = {}
        for p in (3, 4):
            if p in self.coefficients:
                J = rng.standard_normal((S, N ** (p - 1), N)) * math.sqrt(self.coefficients[p] / N ** (p - 1))
                self.tensors[p] = self.array(J)
                blocks.append(self.tensors[p].transpose(0, 2, 1))
        self.A_T = xp.concatenate(blocks, axis=-1) if blocks else xp.zeros((S, N, 0), dtype=dtype)
        self.needs_x = True
        self.quadratic = not self.tensors
        self.symmetric = self.g is None and all(p % 2 == 0 for p in self.coefficients)

    def _split(self, u):
        parts, start = {}, 0
        if self.M is not None:
            parts[2] = u[..., :self.N]
            start = self.N
        for p in self.tensors:
            size = self.N ** (p - 1)
            parts[p] = u[..., start:start + size]
            start += size
        return parts

    def _contract(self, v, x):
        """Contract ``v`` (``(S, C, N^k)``) with ``x`` in each of its k slots."""
        S, C, N = x.shape
        col = x[..., None]
        while v.shape[-1] > 1:
            v = self.xp.matmul(v.reshape(S, C, -1, N), col)[..., 0]
        return v[..., 0]

    def energy_from_linear(self, x, u):
        xp = self.xp
        E = xp.zeros(x.shape[:2], dtype=x.dtype)
        if self.g is not None:
            E = E + xp.einsum("scn,sn->sc", x, self.g)
        for p, part in self._split(u).items():
            E = E + (0.5 * xp.sum(x * part, axis=-1) if p == 2 else self._contract(part, x))
        return E

    def propose(self, x, u, E, idx, dx):
        if not self.quadratic:
            return super().propose(x, u, E, idx, dx)
        # H(x + d) - H(x) = d.(g + M x) + d^T M d / 2, exact for a quadratic H (M has a zero
        # diagonal for Ising spins)
        xp = self.xp
        field = 0.0 if self.g is None else self.g[:, None, idx]
        if self.M is not None:
            field = field + u[:, :, idx]
        dE = xp.sum(dx * field, axis=-1)
        if self.M is not None:
            block = self.M[:, idx][:, :, idx]
            dE = dE + 0.5 * xp.sum(xp.matmul(dx, block) * dx, axis=-1)
        return E + dE, self.moved_linear(u, dx, idx)

    def gradient(self, x):
        xp = self.xp
        G = xp.zeros(x.shape, dtype=x.dtype)
        if self.g is not None:
            G = G + self.g[:, None, :]
        if self.M is not None:
            G = G + xp.matmul(x, self.M)
        for p, J in self.tensors.items():
            full = J.reshape((self.samples,) + (self.N,) * p)
            letters = "ijkl"[:p]
            for k in range(p):  # contract every slot but k with x
                ins = ",".join(f"sc{letters[j]}" for j in range(p) if j != k)
                G = G + xp.einsum(f"s{letters},{ins}->sc{letters[k]}", full, *([x] * (p - 1)), optimize=True)
        return G

    def describe(self) -> dict:
        return {"N": self.N, "xi_coefficients": {str(p): a for p, a in sorted(self.coefficients.items())}}


# ---------------------------------------------------------------------------------------------
# random MLP
# ---------------------------------------------------------------------------------------------
class MLPHamiltonian(Hamiltonian):
    r""":math:`H(x)=\sqrt N\,z^{(L+1)}(x)` of a random MLP with explicit Gaussian weights
    (reference/winer_hanin_mlp.md §2.1): :math:`z^{(1)}=W^{(1)}x+b^{(1)}`,
    :math:`z^{(\ell+1)}=W^{(\ell+1)}\sigma(z^{(\ell)})+b^{(\ell+1)}`, :math:`W^{(\ell)}_{ij}\sim
    \mathcal N(0, C_W/N_{\ell-1})`, :math:`b\sim\mathcal N(0,C_b)`, scalar output :math:`N_{L+1}=1`."""

    name = "mlp"
    needs_x = False

    def __init__(self, act, depth: int, C_W: float, C_b: float, alpha, N: int, samples: int,
                 rng: np.random.Generator, xp=np, dtype: str = "float64"):
        from ..kernels.activations import X, activation

        super().__init__(N, samples, xp, dtype)
        self.activation = activation(act)
        if isinstance(depth, bool) or not float(depth).is_integer() or depth < 0:
            raise ParameterError(f"mlp: depth must be an integer >= 0, got {depth!r}")
        self.depth = int(depth)
        for key, v in (("C_W", C_W), ("C_b", C_b)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ParameterError(f"mlp: {key} must be a finite number >= 0, got {v!r}")
        if C_W == 0:
            raise ParameterError("mlp: C_W must be > 0")
        self.C_W, self.C_b = float(C_W), float(C_b)
        self.alpha = _alphas(alpha, self.depth)
        self.widths = [N] + [max(1, round(a * N)) for a in self.alpha] + [1]
        S = samples
        self.Wt, self.b = [], []
        for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:]):
            W = rng.standard_normal((S, fan_in, fan_out)) * math.sqrt(self.C_W / fan_in)
            self.Wt.append(self.array(W))
            self.b.append(self.array(rng.standard_normal((S, fan_out)) * math.sqrt(self.C_b)))
        self.A_T, self.offset = self.Wt[0], self.b[0]
        self.sigma = activation_function(self.activation, 0, xp)
        self._dsigma = None
        self.has_gradient = self.activation.is_evaluable(1)
        e = self.activation.expr
        self.symmetric = (self.depth >= 1 and self.C_b == 0 and sp.simplify(e.subs(X, -X) - e) == 0)

    def _forward(self, u, keep: bool = False):
        z = u  # the first layer's pre-activations (u includes the bias)
        layers = []
        for l in range(1, len(self.Wt)):
            a = self.sigma(z)
            if keep:
                layers.append((z, a))
            z = self.xp.matmul(a, self.Wt[l]) + self.b[l][:, None, :]
        return math.sqrt(self.N) * z[..., 0], layers

    def energy_from_linear(self, x, u):
        return self._forward(u)[0]

    def layers(self, x, u=None) -> list:
        return self._forward(self.linear(x) if u is None else u, keep=True)[1]

    def gradient(self, x):
        xp = self.xp
        if self._dsigma is None:
            self._dsigma = activation_function(self.activation, 1, xp)
        _, layers = self._forward(self.linear(x), keep=True)
        delta = xp.full(x.shape[:2] + (1,), math.sqrt(self.N), dtype=x.dtype)
        for l in range(len(layers), 0, -1):  # back through hidden layer l (1-based)
            z, _ = layers[l - 1]
            delta = xp.matmul(delta, self.Wt[l].transpose(0, 2, 1)) * self._dsigma(z)
        return xp.matmul(delta, self.Wt[0].transpose(0, 2, 1))

    def describe(self) -> dict:
        return {"N": self.N, "widths": self.widths[1:-1], "alpha": self.alpha}


def _alphas(alpha, depth: int) -> list[float]:
    if alpha is None:
        return [GP_ALPHA] * depth
    values = list(alpha) if isinstance(alpha, (list, tuple)) else [alpha] * depth
    if len(values) != depth:
        raise ParameterError(f"mlp: alpha has {len(values)} entries for depth {depth}")
    out = []
    for a in values:
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not (math.isfinite(a) and a > 0):
            raise ParameterError(f"mlp: width ratios alpha must be finite numbers > 0, got {a!r}")
        out.append(float(a))
    return out


# ---------------------------------------------------------------------------------------------
# perceptron
# ---------------------------------------------------------------------------------------------
class PerceptronHamiltonian(Hamiltonian):
    r"""Number of violated constraints :math:`H=\sum_{\mu\le\alpha N}\theta(\kappa-\xi_\mu\cdot x/\sqrt N)`
    (Gardner & Derrida 1988), :math:`\xi_{\mu i}\sim\mathcal N(0,1)`."""

    name = "perceptron"
    needs_x = False

    def __init__(self, alpha: float, kappa: float, N: int, samples: int, rng: np.random.Generator, xp=np,
                 dtype: str = "float64"):
        super().__init__(N, samples, xp, dtype)
        for key, v in (("alpha", alpha), ("kappa", kappa)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ParameterError(f"perceptron: {key} must be a finite number, got {v!r}")
        if alpha <= 0:
            raise ParameterError(f"perceptron: alpha must be > 0, got {alpha}")
        self.alpha, self.kappa = float(alpha), float(kappa)
        self.P = max(1, round(self.alpha * N))
        self.A_T = self.array(rng.standard_normal((samples, N, self.P)) / math.sqrt(N))

    def energy_from_linear(self, x, u):
        return self.xp.sum(u < self.kappa, axis=-1).astype(self.dtype)

    def describe(self) -> dict:
        return {"N": self.N, "P": self.P}


# ---------------------------------------------------------------------------------------------
# construction from a model name and parameters
# ---------------------------------------------------------------------------------------------
_MLP_KEYS = {"activation", "depth", "C_W", "C_b", "alpha"}
_PERCEPTRON_KEYS = {"alpha", "kappa"}


def build_hamiltonian(model: str, params: dict | None, N: int, samples: int, seed: int = 0,
                      backend: str = "numpy", dtype: str = "float64") -> Hamiltonian:
    """The finite-N Hamiltonian of ``model`` (``sk``, ``spherical``, ``mlp``, ``perceptron``) with
    ``samples`` independent disorder draws from ``seed``.

    ``params`` are the model's parameters as for the engine (``p``/``xi`` for spherical, ``h``/``xi``
    for sk, validated by :func:`replicasym.models.build`); the mlp takes ``activation`` (default
    tanh), ``depth`` (1), ``C_W`` (1), ``C_b`` (0), ``alpha`` (width ratios, default
    :data:`GP_ALPHA` per layer); the perceptron ``alpha`` (required) and ``kappa`` (0)."""
    from .. import models

    params = dict(params or {})
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 2:
        raise ParameterError(f"N must be an integer >= 2, got {N!r}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ParameterError(f"samples must be an integer >= 1, got {samples!r}")
    xp = array_module(backend)
    rng = np.random.default_rng(seed)
    if model in ("sk", "spherical"):
        spec = models.build(model, **params)
        coeffs = polynomial_coefficients(spec.xi.subs(spec.values), spec.overlap)
        field = float(spec.values.get(spec.field, 0.0)) if spec.field != 0 else 0.0
        return PolynomialHamiltonian(coeffs, int(N), int(samples), rng, xp, spins=spec.spins, field=field,
                                     dtype=dtype)
    if model == "mlp":
        _check_keys("mlp", params, _MLP_KEYS)
        return MLPHamiltonian(params.get("activation", "tanh"), params.get("depth", 1),
                              params.get("C_W", 1.0), params.get("C_b", 0.0), params.get("alpha"),
                              int(N), int(samples), rng, xp, dtype)
    if model == "perceptron":
        _check_keys("perceptron", params, _PERCEPTRON_KEYS)
        if "alpha" not in params:
            raise ParameterError("perceptron: give alpha=P/N (the number of patterns per input dimension)")
        return PerceptronHamiltonian(params["alpha"], params.get("kappa", 0.0), int(N), int(samples), rng, xp,
                                     dtype)
    raise ParameterError(f"no simulation for model {model!r}; simulated models: {', '.join(SIM_MODELS)}")


def _check_keys(model: str, params: dict, allowed: set) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise ParameterError(f"{model}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(sorted(allowed))}")
