"""Atomic file writes: generated modules, derivations, plots and tables are never left half-written."""
from __future__ import annotations

import contextlib
import os
import tempfile

from .errors import ReplicasymError

__all__ = ["atomic_write", "save_figure"]


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``."""
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise ReplicasymError(f"cannot write {path}: directory {parent} does not exist")
    if os.path.isdir(target):
        raise ReplicasymError(f"cannot write {path}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise ReplicasymError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ReplicasymError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> None:
    """Render a matplotlib figure in memory (format from the file extension) and write it atomically."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=os.fspath(path).rsplit(".", 1)[-1].lower(), dpi=dpi)
    atomic_write(path, buf.getvalue())
