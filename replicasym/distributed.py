"""Running independent chunks of work on a Dask cluster (``pip install 'replicasym[dask]'``).

:func:`map_chunks` submits one task per chunk to a ``dask.distributed`` cluster, a ``LocalCluster``
of worker processes started here (one thread each) or the scheduler at a given address, shows the
progress with :func:`replicasym.progress.progress` as chunks complete, and returns the results in
the order of the chunks.  An exception raised in a chunk (e.g. a ``ConvergenceError``) is raised
here, as in a serial run.  dask is imported only when a Dask scheduler is asked for.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from .errors import ParameterError, ReplicasymError
from .progress import progress as _progress

__all__ = ["SCHEDULERS", "map_chunks", "parse_scheduler", "require_distributed"]

SCHEDULERS = ("serial", "dask", "dask=ADDRESS")


def parse_scheduler(text: str | None) -> tuple[str, str | None]:
    """``None``/``"serial"`` -> ("serial", None); ``"dask"`` -> ("dask", None) (a LocalCluster);
    ``"dask=tcp://host:8786"`` -> ("dask", "tcp://host:8786")."""
    t = "serial" if text is None else str(text).strip()
    if t.lower() in ("serial", "dask"):
        return t.lower(), None
    if t.lower().startswith("dask="):
        address = t.split("=", 1)[1].strip()
        if address:
            return "dask", address
    raise ParameterError(f"unknown scheduler {text!r}; use serial, dask or dask=ADDRESS "
                         "(e.g. dask=tcp://127.0.0.1:8786)")


def require_distributed():
    """The ``dask.distributed`` module, or ReplicasymError naming the extra that installs it."""
    try:
        from dask import distributed
    except ImportError:
        raise ReplicasymError("--scheduler dask needs dask.distributed, which is not installed; "
                              "install it with: pip install 'replicasym[dask]'") from None
    return distributed


def map_chunks(func: Callable, chunks: Sequence[tuple], address: str | None = None,
               workers: int | None = None, progress: bool | None = None, desc: str = "") -> list:
    """``[func(*args) for args in chunks]`` computed on a Dask cluster, in the order of ``chunks``.

    ``address``: a running scheduler (``tcp://host:port``); None starts a ``LocalCluster`` of
    ``workers`` processes (default: one per CPU) with one thread each and closes it at the end."""
    distributed = require_distributed()
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise ParameterError(f"workers must be an integer >= 1, got {workers!r}")
    if address is not None and workers is not None:
        raise ParameterError("workers applies to the local cluster only (not with a scheduler address)")
    cluster = None
    try:
        if address is None:
            import dask
            # the nanny's default MALLOC_TRIM_THRESHOLD_=65536 makes glibc return the generated numpy
            # modules' chunk-sized temporaries (256 KiB) to the OS after every operation: the page
            # faults made a worker 2.3x slower than this process on the same chunk (SK 1RSB)
            environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster if cluster is not None else address)
    except OSError as exc:
        where = address or "(local cluster)"
        raise ReplicasymError(f"cannot reach the Dask scheduler {where}: {exc}") from None
    try:
        futures = [client.submit(func, *args, pure=False) for args in chunks]
        for _ in _progress(distributed.as_completed(futures), total=len(futures),
                           desc=f"{desc} ({len(futures)} chunks)".strip(), enabled=progress):
            pass
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
