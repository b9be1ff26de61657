"""The command line of a study: ``python -m replicasym.studies.<name> -o DIR`` writes ``DIR/<stem>.md``."""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from ..fileio import atomic_write

__all__ = ["pyplot", "write_page"]


def write_page(stem: str, description: str, run: Callable[..., object], markdown: Callable, figures=None,
               argv=None, parallel: bool = False) -> int:
    """Parse ``-o/--outdir`` (default ``derivations``), compute ``res = run()``, render ``markdown(res)`` (or
    ``markdown(res, figures(res, outdir, print))`` when the study draws figures into ``outdir``) and write
    ``outdir/stem.md`` atomically.  ``parallel``: the study's ``run(jobs=...)`` takes ``-j/--jobs``
    processes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("-o", "--outdir", default="derivations")
    if parallel:
        p.add_argument("-j", "--jobs", type=int, default=1, help="processes for the study's independent tasks")
    args = p.parse_args(argv)
    t0 = time.time()
    res = run(jobs=args.jobs) if parallel else run()
    text = markdown(res) if figures is None else markdown(res, figures(res, args.outdir, print))
    path = os.path.join(args.outdir, stem + ".md")
    atomic_write(path, text.encode())
    print(f"wrote {path} ({time.time() - t0:.0f} s)")
    return 0


def pyplot(log=print):
    """matplotlib's pyplot on the Agg backend, or None (logged) when matplotlib is not installed: the
    studies' figures are optional (``pip install 'replicasym[plot]'``)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no figures (pip install 'replicasym[plot]')")
        return None
    return plt
