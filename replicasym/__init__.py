"""replicasym: symbolic replica calculations for spin glasses and random neural networks.

>>> import replicasym as rs
>>> d = rs.derive(rs.models.sk(), ansatz="rs")
>>> s = rs.solve(d, T=0.5)
"""
from . import models
from .derivation import Derivation
from .derive import derive
from .solution import Solution
from .solvers.scan import scan
from .solvers.thermo import solve
from .solvers.transitions import phase

__all__ = ["models", "derive", "solve", "phase", "scan", "Derivation", "Solution"]
__version__ = "0.1.0"
