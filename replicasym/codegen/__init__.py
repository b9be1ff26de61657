"""Code generation: a :class:`~replicasym.derivation.Derivation` -> a standalone numeric module.

* :func:`render` -- module source (numpy: vectorised truncated trapezoidal rule for the Gaussian
  expectations, 1601 nodes on [-10, 10] by default, evaluated in bounded-memory chunks, a batched
  Newton solver and ``sweep`` (continuation over a grid); mpmath: an adaptive trapezoidal rule at
  the working precision and a scalar Newton solver; jax / cupy: the numpy template family printed
  against the array namespace ``xp``, without ``solve``).  The trapezoidal rule converges
  geometrically for analytic integrands (Trefethen & Weideman, SIAM Review 56 (2014) 385), unlike
  Gauss--Hermite at low temperature.
* :func:`load` -- render, store in a content-addressed cache (SHA-256 of the source), import; a
  second load of the same derivation finds the module through the fingerprint index
  (:mod:`.fingerprint`) without rendering again.
* :func:`content_hash` -- the SHA-256 of a rendered source (the cache key).

Generated modules import only numpy (resp. mpmath; jax or cupy, and numpy) and the standard library.
"""
from __future__ import annotations

from .cache import content_hash, default_cache_dir, import_source, lookup, record, store
from .fingerprint import fingerprint
from .render import BACKENDS, render_source, require_backend

__all__ = ["BACKENDS", "content_hash", "default_cache_dir", "load", "render"]


def render(derivation, backend: str = "numpy") -> str:
    """Source of the generated module for ``derivation``; ``backend`` is ``"numpy"``, ``"mpmath"``,
    ``"jax"`` or ``"cupy"`` (rendering the source needs neither jax nor cupy).

    Deterministic: the same derivation always renders to byte-identical source.
    """
    return render_source(derivation, backend)


def load(derivation, backend: str = "numpy", cache_dir=None):
    """Render ``derivation``, cache the source under its SHA-256 and import it.

    The cache also keeps an index from the derivation's :func:`~.fingerprint.fingerprint` to the
    source's SHA-256, so a later load of the same derivation (same generator version) imports the
    cached module without rendering: milliseconds instead of the seconds rendering costs.

    ``cache_dir`` defaults to ``$REPLICASYM_CACHE`` or ``~/.cache/replicasym``.  The entry is
    written atomically and verified against its hash when read back; a corrupted or truncated
    entry is regenerated.  Returns the imported module.  A backend whose library is not installed
    (jax, cupy) raises :class:`~replicasym.errors.ParameterError` saying how to install it.
    """
    require_backend(backend)
    key = fingerprint(derivation, backend)
    hit = lookup(key, backend, cache_dir)
    if hit is not None:
        path, data, digest = hit
    else:
        source = render(derivation, backend)
        path, data = store(source, backend, cache_dir)
        digest = content_hash(source)
        record(key, backend, digest, cache_dir)
    return import_source(path, data, f"replicasym_generated_{backend}_{digest[:32]}")
