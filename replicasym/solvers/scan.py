r"""Temperature scans with continuation, serial or in chunks on a Dask cluster.

Every temperature is solved by one batched Newton run over the multi-start grid plus the previous
temperature's solution (continuation in T): the branch found at the previous point is followed even
where the grid would miss it, and the Parisi choice between branches is re-made at every point, so a
first-order change of solution is not missed.

``chunk_size`` splits the grid into consecutive chunks; continuation runs inside a chunk and starts
afresh at the first temperature of the next one.  A chunk is a pure function of (model, ansatz,
temperatures, precision), so the chunks can run anywhere: ``scheduler="dask"`` (or
``"dask=ADDRESS"``) sends them to a Dask cluster (:mod:`replicasym.distributed`) and gives the same
numbers, bit for bit, as the serial scan with the same ``chunk_size``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

from ..errors import ParameterError, ReplicasymError
from ..fileio import atomic_write
from ..progress import progress as _progress
from ..solution import Solution
from .thermo import solve

__all__ = [
    "DEFAULT_DASK_CHUNKS",
    "TABLE_FORMATS",
    "chunks_of",
    "require_pyarrow",
    "scan",
    "scan_chunk",
    "scan_rows",
    "write_scan",
]

#: the number of chunks a Dask scan splits its grid into unless ``chunk_size`` is given: it depends on
#: the grid only (not on the number of workers), so every cluster size gives the same numbers
DEFAULT_DASK_CHUNKS = 16


def scan_chunk(model, ansatz: str, T: Sequence[float], precision=None, tick=None) -> list[Solution]:
    """Solve ``model`` at the consecutive temperatures ``T`` with continuation (one chunk of a scan).

    ``tick()``, when given, is called after every temperature (progress)."""
    out: list[Solution] = []
    for t in T:
        start = out[-1].order_parameters if out and out[-1].T != 0 else None
        out.append(solve(model, T=t, ansatz=ansatz, precision=precision, start=start))
        if tick is not None:
            tick()
    return out


def chunks_of(T: Sequence[float], chunk_size: int) -> list[list[float]]:
    """``T`` cut into consecutive chunks of ``chunk_size`` temperatures (the last may be shorter)."""
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    T = list(T)
    return [T[i:i + chunk_size] for i in range(0, len(T), chunk_size)]


def scan(model, ansatz: str = "auto", T: Sequence[float] = (), precision=None,
         progress: bool | None = None, scheduler: str | None = None, chunk_size: int | None = None,
         workers: int | None = None) -> list[Solution]:
    """Solve ``model`` at every temperature in ``T`` (see the module docstring).

    ``progress``: a progress bar on stderr (:func:`replicasym.progress.progress`; None: only in an
    interactive terminal).  ``scheduler``: None or ``"serial"`` (this process), ``"dask"`` (a
    ``dask.distributed.LocalCluster`` with ``workers`` processes, default one per CPU) or
    ``"dask=ADDRESS"`` (the scheduler at ADDRESS).  ``chunk_size``: temperatures per chunk (serial
    default: one chunk, continuation over the whole grid; Dask default: ``ceil(len(T) / 16)``)."""
    from ..distributed import parse_scheduler
    T = list(T)
    if not T:
        raise ParameterError("scan needs at least one temperature")
    kind, address = parse_scheduler(scheduler)
    desc = f"scan {getattr(model, 'name', '')}".strip()
    if kind == "serial":
        chunks = chunks_of(T, chunk_size or len(T))
        out: list[Solution] = []
        bar = iter(_progress(range(len(T)), desc=desc, enabled=progress))
        next(bar)  # start the bar; each tick then counts one solved temperature
        for chunk in chunks:
            out.extend(scan_chunk(model, ansatz, chunk, precision, tick=lambda: next(bar, None)))
        return out
    from ..distributed import map_chunks
    chunks = chunks_of(T, chunk_size or math.ceil(len(T) / min(len(T), DEFAULT_DASK_CHUNKS)))
    results = map_chunks(scan_chunk, [(model, ansatz, c, precision) for c in chunks], address=address,
                         workers=workers, progress=progress, desc=desc)
    return [s for chunk in results for s in chunk]


#: ``write_scan`` formats by file suffix
TABLE_FORMATS = (".csv", ".json", ".parquet")


def scan_rows(points: Sequence[dict]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a scan table from ``solve --json`` objects: T, free_entropy, energy,
    entropy, the order parameters, replicon, converged, residual, ansatz (one row per point)."""
    ops = list(dict.fromkeys(k for p in points for k in (p.get("order_parameters") or {})))
    cols = ["T", "free_entropy", "energy", "entropy", *ops, "replicon", "converged", "residual", "ansatz"]
    rows = [{c: (p.get("order_parameters") or {}).get(c) if c in ops else p.get(c) for c in cols}
            for p in points]
    return cols, rows


def write_scan(path: str, obj: dict) -> None:
    """Write a scan (the ``scan --json`` object ``obj``, key ``points``) to ``path`` by its suffix:
    ``.json`` the object itself, ``.csv`` the table of :func:`scan_rows` (floats in full precision,
    empty cells for null), ``.parquet`` the same table (needs pyarrow).  Written atomically."""
    suffix = "." + str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if suffix not in TABLE_FORMATS:
        raise ParameterError(f"--output {path}: the file name must end in {', '.join(TABLE_FORMATS)}")
    if suffix == ".json":
        atomic_write(path, json.dumps(obj, allow_nan=False, ensure_ascii=False) + "\n")
        return
    cols, rows = scan_rows(obj["points"])
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: "" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c]
                          for c in cols} for r in rows)
        atomic_write(path, buf.getvalue())
        return
    pa, pq = require_pyarrow()
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    atomic_write(path, sink.getvalue().to_pybytes())


def require_pyarrow():
    """(pyarrow, pyarrow.parquet), or ReplicasymError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ReplicasymError("--output FILE.parquet needs pyarrow, which is not installed; "
                              "install it with: pip install pyarrow (or write .csv / .json)") from None
    return pa, pq
