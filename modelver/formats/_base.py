"""What a format is: a name, whether loading it can run code, and how to save and load.

A format writes a model as files into a folder (:meth:`Format.save`) and reads it back
from a folder holding the same files (:meth:`Format.load`). The store turns that folder
into a manifest of per-file blobs; formats never see digests, blobs or remote stores.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from .._errors import ModelverError

__all__ = ["Format", "class_path", "hashed_file", "import_class", "type_module",
           "written_digest"]


class Format:
    """A way to store one kind of model: subclass it and :func:`modelver.formats.register`.

    - ``name``: recorded in each version; names the format on load.
    - ``safe``: False if loading can run code from the artifact (``load(..., safe=True)``
      then refuses it).
    - ``modules``: the top-level modules the format needs; their versions at register
      time are recorded as the version's ``requirements`` (and compared on load).
    - ``options``: the keyword options :meth:`load` accepts (``device``, ``into``, …);
      others are refused before anything is read.

    :meth:`claims` must not import a framework: test ``type(obj).__module__`` or look
    in ``sys.modules`` (an object of a framework means the framework is imported).
    """

    name: ClassVar[str] = ""
    safe: ClassVar[bool] = True
    modules: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[frozenset[str]] = frozenset()

    def claims(self, obj: Any) -> bool:
        """Whether this format stores ``obj``."""
        raise NotImplementedError

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any] | None:
        """Write ``obj`` as files into the empty folder ``dest``; returns what
        :meth:`load` needs besides the files (plain JSON data), or None."""
        raise NotImplementedError

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The model, from the folder ``path`` (read-only, verified) and ``meta``."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Import what :meth:`save` needs (a run calls it in the background while the
        function trains, when the format's framework is imported); by default nothing."""

    def requirements(self, obj: Any) -> tuple[str, ...]:
        """The modules this object needs when loaded (by default :attr:`modules`)."""
        return self.modules

    def __repr__(self) -> str:
        return f"<format {self.name!r}{'' if self.safe else ' (runs code on load)'}>"


def type_module(obj: Any) -> str:
    """The module that defines ``type(obj)`` (``""`` when it has none)."""
    return getattr(type(obj), "__module__", "") or ""


def class_path(cls: type) -> str:
    """``module:qualname`` of a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str, what: str) -> Any:
    """The class a ``module:qualname`` names; a clear ``ModelverError`` when it cannot
    be imported here (with what to install or pass instead)."""
    module, _, qualname = path.partition(":")
    if module == "__main__" and "__main__" in sys.modules:
        target: Any = sys.modules["__main__"]
    else:
        try:
            target = importlib.import_module(module)
        except ImportError as exc:
            top = module.split(".")[0]
            raise ModelverError(f"cannot import {path} to load {what}: {exc}; install the "
                                f"package that provides {top!r} in this environment") from exc
    for part in qualname.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ModelverError(f"cannot load {what}: {module!r} has no class {qualname!r} "
                                "(was it renamed or moved since the version was registered?)"
                                ) from None
    return target


#: A write at least this large is hashed on a second thread while it is written (both
#: release the GIL), so a large model costs about one pass, not a write plus a hash.
_OVERLAP_BYTES = 1 << 20


class _HashingWriter:
    """A write-only file that hashes (sha256) what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.hash = hashlib.sha256()
        self.size = 0
        self._pool: Any = None

    def write(self, data: Any) -> int:
        view = memoryview(data)
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        if view.nbytes < _OVERLAP_BYTES:
            self.hash.update(view)
            self._out.write(view)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(1, thread_name_prefix="modelver-hash")
            # The hash finishes before write() returns: the caller may reuse its buffer.
            hashed = self._pool.submit(self.hash.update, view)
            try:
                self._out.write(view)
            finally:
                hashed.result()
        self.size += view.nbytes
        return view.nbytes

    def close(self) -> None:
        """Stop the hashing thread, if one was started."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._out.flush()


_WRITTEN: dict[str, tuple[str, tuple[int, int, int]]] = {}
_WRITTEN_LOCK = threading.Lock()


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


@contextlib.contextmanager
def hashed_file(path: Path) -> Iterator[Any]:
    """Open ``path`` to write a format's file, hashing it as it is written, so that the
    store does not read it again to hash it (one pass over a large model fewer)."""
    with open(path, "wb") as raw:
        writer = _HashingWriter(raw)
        try:
            yield writer
        finally:
            writer.close()
    with _WRITTEN_LOCK:
        _WRITTEN[os.path.abspath(path)] = ("sha256:" + writer.hash.hexdigest(),
                                           _identity(os.stat(path)))


def written_digest(path: str) -> str | None:
    """The digest :func:`hashed_file` computed for ``path``, if the file is still exactly
    as it was then written (same size, time and inode); else None."""
    with _WRITTEN_LOCK:
        entry = _WRITTEN.pop(os.path.abspath(path), None)
    if entry is None:
        return None
    try:
        same = _identity(os.stat(path)) == entry[1]
    except OSError:
        return None
    return entry[0] if same else None
