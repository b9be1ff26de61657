"""Progress bars for scans and long solves: tqdm when installed (``pip install 'replicasym[progress]'``),
else a plain counter on stderr; silent when stderr is not a terminal, or with ``enabled=False``.

``REPLICASYM_PROGRESS=0`` switches every bar off and ``REPLICASYM_PROGRESS=1`` forces it on (the
default, unset, shows bars only in an interactive terminal).  Bars write to stderr only, never to
stdout, so ``--json`` output stays one JSON object.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def _interactive(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _enabled(enabled: bool | None, stream) -> bool:
    setting = os.environ.get("REPLICASYM_PROGRESS", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if enabled is not None:
        return enabled
    if setting in ("1", "true", "yes", "on"):
        return True
    return _interactive(stream)


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def progress(items: Iterable[T], total: int | None = None, desc: str = "", enabled: bool | None = None,
             stream=None) -> Iterator[T]:
    """Iterate over ``items`` while showing a progress bar on ``stream`` (default ``sys.stderr``).

    ``enabled=None`` (the default) shows it only when ``stream`` is a terminal; ``False`` never;
    ``True`` always (unless ``REPLICASYM_PROGRESS=0``).  With tqdm installed the bar is tqdm's;
    otherwise a line ``desc: k/total`` is rewritten in place (``\\r``) and ended with a newline.
    """
    stream = sys.stderr if stream is None else stream
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not _enabled(enabled, stream):
        yield from items
        return
    tqdm = _tqdm()
    if tqdm is not None:
        yield from tqdm(items, total=total, desc=desc or None, file=stream, leave=False)
        return
    label = f"{desc}: " if desc else ""
    count = 0
    try:
        for item in items:
            yield item
            count += 1
            stream.write(f"\r{label}{count}/{total if total is not None else '?'}")
            stream.flush()
    finally:
        if count:
            stream.write("\n")
            stream.flush()
