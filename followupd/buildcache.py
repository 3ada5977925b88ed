"""A disk cache for things that are slow to build and rebuilt from files: the phrase books.

The cache is only ever a shortcut. An entry is keyed by a hash of everything the built value
depends on (the source texts, the code that builds it, the Python that pickled it); an entry
that is missing, stale, unreadable, corrupt or not ours is ignored and rebuilt, never an
error. Entries are written atomically (a temporary file renamed over the old one), so two
processes starting at once at worst both build. A read-only cache folder (the systemd
sandbox) only means every start builds.

Pickle stores a compiled regular expression as its source, so loading one compiles it
again: most of the cost the cache is there to save. Entries therefore hold each pattern's
compiled program, made by the `re` module's own compiler when the entry is written, and
hand it to `_sre.compile` when read, as `re.compile` itself does. That interface is
private and may change between Python versions: the key holds the exact `sys.version`, a
program `_sre` rejects fails the read (so the book is rebuilt), and where the interface is
missing patterns are pickled the ordinary way.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import logging
import os
import pickle
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from followupd import __version__
from followupd.xdg import cache_home, private_dir

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bump when the layout of an entry changes.
FORMAT = 1

try:
    _sre: Any = importlib.import_module("_sre")
    _re_parser: Any = importlib.import_module("re._parser")
    _re_compiler: Any = importlib.import_module("re._compiler")
    _PROGRAMS = all(
        callable(getattr(module, name, None))
        for module, name in ((_sre, "compile"), (_re_parser, "parse"), (_re_compiler, "_code"))
    )
except ImportError:  # pragma: no cover - not CPython 3.11+
    _PROGRAMS = False


def cached(name: str, sources: Iterable[bytes], kind: type[T], build: Callable[[], T]) -> T:
    """The value `build()` returns, from the cache entry `name` when its key still matches.

    `sources` are the bytes the value is made from, code included; `kind` is the type a
    cached value must have. Errors `build` raises propagate; cache errors never do.
    """
    key = _key(sources)
    path = cache_home() / f"{name}.pickle"
    value = _read(path, key, kind)
    if value is not None:
        return value
    value = build()
    _write(path, key, value)
    return value


def _key(sources: Iterable[bytes]) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0{sys.version}\0".encode())
    for source in sources:
        # The length first, so that no two different lists of sources hash alike.
        digest.update(b"%d\0" % len(source))
        digest.update(source)
    return digest.hexdigest()


def _read(path: Path, key: str, kind: type[T]) -> T | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            # Unpickling runs code: only a file of our own that nobody else could write.
            if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o022:
                log.warning("%s: not private to this user; ignored", path)
                return None
            stored_key, value = pickle.load(handle)  # noqa: S301 - our own private file
    except Exception:  # a damaged entry, whatever the damage, is rebuilt
        log.debug("%s: unreadable cache entry; rebuilding", path, exc_info=True)
        return None
    if stored_key != key or not isinstance(value, kind):
        return None
    return value


def _write(path: Path, key: str, value: object) -> None:
    try:
        folder = private_dir(path.parent)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_dumps((key, value)))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except Exception as exc:  # noqa: BLE001 - without an entry the next start just builds
        log.debug("%s: cache not written: %s", path, exc)


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL) if _PROGRAMS else None
    if pickler is None:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dump(value)
    return buffer.getvalue()


class _Pickler(pickle.Pickler):
    """Stores each compiled pattern with its program, so reading it skips the compiler."""

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, re.Pattern):
            return NotImplemented
        # What re._compiler.compile hands to _sre.compile, made the same way.
        tree = _re_parser.parse(obj.pattern, obj.flags)
        groupindex = dict(tree.state.groupdict)
        indexgroup: list[str | None] = [None] * tree.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        program = (
            obj.pattern,
            obj.flags | tree.state.flags,
            [int(op) for op in _re_compiler._code(tree, obj.flags)],  # opcodes are named ints
            tree.state.groups - 1,
            groupindex,
            tuple(indexgroup),
        )
        return _compiled, program


def _compiled(
    pattern: str,
    flags: int,
    code: list[int],
    groups: int,
    groupindex: dict[str, int],
    indexgroup: tuple[str | None, ...],
) -> re.Pattern[str]:
    """A pattern from its stored program; _sre checks the program and raises if it is bad."""
    compiled: re.Pattern[str] = _sre.compile(pattern, flags, code, groups, groupindex, indexgroup)
    return compiled
