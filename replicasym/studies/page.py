"""The command line of a study: ``python -m replicasym.studies.<name> -o DIR`` writes ``DIR/<stem>.md``."""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from ..fileio import atomic_write

__all__ = ["write_page"]


def write_page(stem: str, description: str, build: Callable[[str], str], argv=None) -> int:
    """Parse ``-o/--outdir`` (default ``derivations``), call ``build(outdir)`` (which may write figures
    there) for the page's Markdown, and write ``outdir/stem.md`` atomically."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("-o", "--outdir", default="derivations")
    args = p.parse_args(argv)
    t0 = time.time()
    text = build(args.outdir)
    path = os.path.join(args.outdir, stem + ".md")
    atomic_write(path, text.encode())
    print(f"wrote {path} ({time.time() - t0:.0f} s)")
    return 0
