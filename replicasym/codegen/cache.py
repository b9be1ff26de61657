"""Content-addressed on-disk cache of generated modules and importing them (no pickle)."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from ..errors import ReplicasymError
from ..fileio import atomic_write

__all__ = ["cache_path", "content_hash", "default_cache_dir", "import_source", "lookup", "record", "store"]


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


def _index_path(cache_dir, backend: str, fingerprint: str) -> Path:
    return Path(cache_dir) / "index" / f"{backend}_{fingerprint}"


def lookup(fingerprint: str, backend: str, cache_dir=None) -> tuple[Path, bytes, str] | None:
    """The cached module that the index maps ``fingerprint`` to, as (path, verified bytes, digest),
    or None (the caller then renders again) when there is no index entry, the entry is malformed, the
    module it names is missing or does not match its SHA-256, or the index is not private.

    Unlike a content-addressed lookup (the source is rendered here, then found by its own hash), an
    index entry decides *which* code is imported.  It is therefore used only where nobody else could
    have written it: the cache directory, the index directory and the entry must belong to this user
    and be writable by nobody else (as ssh treats ~/.ssh); on a system without POSIX ownership the
    index is not used."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    entry = _index_path(cache_dir, backend, fingerprint)
    if not all(_private(p) for p in (cache_dir, entry.parent, entry)):
        return None
    try:
        digest = entry.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    path = cache_path(cache_dir, backend, digest)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return path, data, digest


def _private(path: Path) -> bool:
    """``path`` exists, belongs to this user and is not writable by group or others."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == getuid() and not st.st_mode & 0o022


def record(fingerprint: str, backend: str, digest: str, cache_dir=None) -> None:
    """Map ``fingerprint`` to the module with SHA-256 ``digest`` in the index (atomic write; an index
    that cannot be written only costs a re-render next time, so the error is not raised)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = _index_path(cache_dir, backend, fingerprint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, digest + "\n")
    except (OSError, ReplicasymError):
        pass


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
