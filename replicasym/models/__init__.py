"""Model builders: each returns a :class:`~replicasym.models.spec.ModelSpec` describing the system."""
from __future__ import annotations

import inspect

from ..errors import ParameterError
from .ising import sk
from .mlp import mlp
from .perceptron import perceptron
from .signal import signal
from .spec import ModelSpec
from .spherical import spherical
from .yoshino import yoshino

__all__ = ["ModelSpec", "spherical", "sk", "mlp", "perceptron", "signal", "yoshino", "build", "MODELS"]

MODELS = {"spherical": spherical, "sk": sk, "mlp": mlp, "perceptron": perceptron, "signal": signal, "yoshino": yoshino}


def build(name: str, **params) -> ModelSpec:
    """Build a model by name with keyword parameters (as the CLI's ``--param KEY=VALUE``)."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ParameterError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}") from None
    accepted = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ParameterError(f"{name}: unknown parameter(s) {', '.join(unknown)}; "
                                 f"{name} takes {', '.join(accepted)}")
    try:
        return builder(**params)
    except TypeError as exc:
        raise ParameterError(f"{name}: {exc}") from None
