"""Content-addressed on-disk cache of generated modules and importing them (no pickle)."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from ..errors import ReplicasymError
from ..fileio import atomic_write

__all__ = ["cache_path", "content_hash", "default_cache_dir", "import_source", "store"]


def content_hash(source: str) -> str:
    """SHA-256 hex digest of the UTF-8 encoded module source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``$REPLICASYM_CACHE`` if set, else ``~/.cache/replicasym``."""
    env = os.environ.get("REPLICASYM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "replicasym"


def cache_path(cache_dir, backend: str, digest: str) -> Path:
    return Path(cache_dir) / f"replicasym_{backend}_{digest}.py"


def store(source: str, backend: str, cache_dir=None) -> tuple[Path, bytes]:
    """Make sure the cache holds ``source`` intact; return its path and the verified bytes.

    An existing entry whose SHA-256 does not match its name (corrupted, truncated) is rewritten.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReplicasymError(f"cannot use the cache directory {cache_dir}: {exc.strerror or exc} "
                              "(set REPLICASYM_CACHE to a writable directory)") from None
    data = source.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    path = cache_path(cache_dir, backend, digest)
    try:
        existing = path.read_bytes()
    except OSError:
        existing = None
    if existing is None or hashlib.sha256(existing).hexdigest() != digest:
        atomic_write(path, data)
    return path, data


def import_source(path: Path, data: bytes, module_name: str):
    """Import ``data`` (already hash-verified bytes of ``path``) as module ``module_name``.

    The verified bytes are compiled directly, so a file changed after verification is never run.
    """
    cached = sys.modules.get(module_name)
    if cached is not None and getattr(cached, "__file__", None) == str(path):
        return cached
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    code = compile(data, str(path), "exec")
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
