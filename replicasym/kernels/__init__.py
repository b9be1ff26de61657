r"""Activation kernels :math:`\mathbb{E}[\sigma(u)\sigma(v)]`, their Price derivatives and the deep
kernel map.

* :mod:`.activations` -- built-in activations and user expressions in ``x`` (whitelist parser);
* :mod:`.closed_forms` -- symbolic kernel derivation with a recorded trace;
* :mod:`.quadrature` -- Gauss--Hermite, mpmath and Hermite-series numerics;
* :mod:`.evaluate` -- :func:`kernel`, one entry point choosing among them;
* :mod:`.deep` -- :class:`DeepKernel`, :math:`\xi(q)=K^{(L+1)}(q)` with derivatives and power series.
"""
from .activations import BUILTINS, Activation, activation
from .closed_forms import KernelDerivation, derive_kernel
from .deep import DeepKernel, deep_kernel
from .evaluate import kernel, kernel_derivation

__all__ = ["BUILTINS", "Activation", "DeepKernel", "KernelDerivation", "activation", "deep_kernel",
           "derive_kernel", "kernel", "kernel_derivation"]
