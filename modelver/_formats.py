"""Serialization formats, chosen by the model's type.

=================  =========================================  ======================
format             what                                       runs code on load?
=================  =========================================  ======================
``npy``            numpy arrays (``allow_pickle=False``)      no
``bytes``          bytes and bytearray, raw                   no
``file``           a path to a file: its bytes                no (load gives a path)
``folder``         a path to a folder: a deterministic tar    no (load gives a path)
``torch-state``    a torch module's ``state_dict``            no (``weights_only``)
``pickle``         anything else, protocol 5                  **yes**
=================  =========================================  ======================

A digest match proves the bytes are the ones registered, not that they are safe:
``load(..., safe=True)`` refuses formats that run code when loaded. Each format
checks the blob's leading bytes before deserializing, so a blob that does not
match its recorded format is refused.

Both directions stream. :func:`serialize_to` writes a model straight into a
temporary file in the store's staging folder through a writer that hashes what
it writes, so the bytes are produced, hashed and written once and never held
whole in memory. :func:`read_model` reads a model back from an open, already
verified blob file; an ``npy`` array is memory-mapped from it (read-only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ._blobs import hash_stream
from ._errors import IntegrityError, ModelverError, StoreError

__all__ = ["check_magic", "read_model", "serialize_to"]

_MAGIC = {
    "npy": (0, b"\x93NUMPY"),
    "pickle": (0, b"\x80\x05"),
    "folder": (257, b"ustar"),
    "torch-state": (0, b"PK\x03\x04"),
}

_Writer = Callable[[BinaryIO], tuple[str, int]]  # writes the model, returns (digest, size)


class _HashingWriter:
    """A write-only file object that hashes (sha256) and counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
        self._hash.update(view)
        with _writing(self._out):
            self._out.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:  # tarfile asks where it starts
        return self.size

    def flush(self) -> None:
        with _writing(self._out):
            self._out.flush()

    def result(self) -> tuple[str, int]:
        return "sha256:" + self._hash.hexdigest(), self.size


@contextlib.contextmanager
def _writing(out: BinaryIO) -> Iterator[None]:
    """Report a failed write to the staging file (a full disk, say) as a ``StoreError``."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, ModelverError):
            raise
        raise StoreError(f"cannot write the model into the store's staging file "
                         f"{getattr(out, 'name', '')!r}: {exc}") from None


def _hashed(dump: Callable[[_HashingWriter], object]) -> _Writer:
    def write(out: BinaryIO) -> tuple[str, int]:
        writer = _HashingWriter(out)
        dump(writer)
        return writer.result()
    return write


def _choose(obj: Any) -> tuple[str, _Writer]:
    """The format of ``obj`` and how to write it; raises for a path that is not there."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "bytes", _hashed(lambda w: w.write(obj))
    if isinstance(obj, os.PathLike):
        path = os.fspath(obj)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if os.path.isdir(path):
            return "folder", _hashed(lambda w: _write_tar(path, w))
        if os.path.isfile(path):
            return "file", lambda out: _copy_file(path, out)
        raise ModelverError(f"cannot register {path!r}: no such file or folder")
    np = sys.modules.get("numpy")
    # np.memmap is what load gives back for npy: a plain array in a file.
    if np is not None and type(obj) in (np.ndarray, np.memmap) and obj.dtype != object:
        return "npy", _hashed(lambda w: np.save(w, obj, allow_pickle=False))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return "torch-state", _hashed(lambda w: torch.save(obj.state_dict(), w))
    return "pickle", _hashed(lambda w: pickle.dump(obj, w, protocol=5))


def serialize_to(obj: Any, staging_dir: str) -> tuple[str, str, str, int]:
    """Write ``obj`` to a new temporary file in ``staging_dir``, hashing it as it is written.

    Returns (format, path of the temporary file, digest, size). The caller owns the
    file (publish it with ``put_file(path, digest=digest, move=True)``); on any error
    no file is left behind and a :class:`ModelverError` is raised.
    """
    fmt, write = _choose(obj)
    try:
        fd, tmp = tempfile.mkstemp(dir=staging_dir, prefix="stage-")
    except OSError as exc:
        raise StoreError(f"cannot write to the staging folder {staging_dir!r}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = write(out)
            with _writing(out):
                out.flush()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, (ModelverError, MemoryError)) or not isinstance(exc, Exception):
            raise
        hint = ("register bytes, a numpy array, a file or folder path, or a picklable object"
                if fmt == "pickle" else "check that every file in it can be read")
        raise ModelverError(f"cannot serialize a {type(obj).__name__} as {fmt!r}: {exc}; "
                            f"{hint}") from None
    return fmt, tmp, digest, size


def _copy_file(path: str, out: BinaryIO) -> tuple[str, int]:
    """Copy a file, hashing it as it is read: its bytes pass through memory once."""
    with _open_source(path) as src:
        try:
            return hash_stream(src, out)
        except OSError as exc:
            raise StoreError(f"cannot copy {path!r} into the store: {exc}") from None


def _open_source(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ModelverError(f"cannot register {path!r}: {exc}") from None


def _write_tar(path: str, out: _HashingWriter) -> None:
    """A tar of a folder with sorted entries and no times or owners: same files, same bytes."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    # Symlinks are followed (a Hugging Face snapshot is all links into a blob folder):
    # the artifact holds the bytes they point to, and a link loop is refused.
    seen_dirs: set[str] = set()
    sink: Any = out  # tarfile's stub wants read and seek too; writing needs write and tell
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT,
                      dereference=True) as tar:
        for root, dirs, files in os.walk(path, followlinks=True):
            real = os.path.realpath(root)
            if real in seen_dirs:
                raise ModelverError(f"cannot register {path!r}: the folder {root!r} links "
                                    "back into itself")
            seen_dirs.add(real)
            dirs.sort()
            if root != path and not files and not dirs:
                tar.add(root, arcname=os.path.relpath(root, path), recursive=False,
                        filter=clean)
            for fname in sorted(files):
                full = os.path.join(root, fname)
                if not os.path.exists(full):
                    raise ModelverError(f"cannot register {path!r}: {full!r} is a broken link")
                tar.add(full, arcname=os.path.relpath(full, path), recursive=False, filter=clean)


def check_magic(fmt: str, head: bytes) -> None:
    """Refuse bytes whose leading signature does not match the recorded format."""
    if fmt not in _MAGIC:
        return
    offset, magic = _MAGIC[fmt]
    if head[offset:offset + len(magic)] != magic:
        raise IntegrityError(
            f"the artifact's bytes are not a valid {fmt!r} file; it may have been replaced. "
            "Run `modelver verify`"
        )


def read_model(fmt: str, f: BinaryIO, blob_path: str, extract_dir: str) -> Any:
    """Turn a verified blob, open as ``f`` at its start, back into the model.

    Only the first 512 bytes are read to check the format's signature; then the
    format reads what it needs from ``f`` (nothing for ``file``). An ``npy`` blob in
    a real file is memory-mapped read-only, so the array stays valid after ``f`` is
    closed and costs memory only as it is read. A folder is extracted once into
    ``extract_dir``.
    """
    fileno = _fileno(f)
    if fileno is None:
        check_magic(fmt, f.read(512))
        f.seek(0)
    else:  # read the signature without moving (and so without re-filling) f's buffer
        check_magic(fmt, os.pread(fileno, 512, 0))
    if fmt == "pickle":
        return pickle.load(f)
    if fmt == "bytes":
        # One read of the known size: a sized read fills the result directly, where
        # read() grows a buffer chunk by chunk.
        return f.read(os.fstat(fileno).st_size) if fileno is not None else f.read()
    if fmt == "npy":
        return _read_npy(f)
    if fmt == "file":
        return Path(blob_path)
    if fmt == "folder":
        return _extract(f, extract_dir)
    if fmt == "torch-state":
        import torch

        return torch.load(f, weights_only=True)
    raise ModelverError(f"unknown artifact format {fmt!r}; upgrade modelver to load it")


def _fileno(f: BinaryIO) -> int | None:
    """The file descriptor behind ``f``, or None for an in-memory stream."""
    try:
        return f.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _read_npy(f: BinaryIO) -> Any:
    """A read-only array mapped from the file (read into memory for a buffer or no data)."""
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(f)
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    if version not in readers or not isinstance(f, io.BufferedReader):
        f.seek(0)
        return np.load(f, allow_pickle=False)
    shape, fortran, dtype = readers[version](f)
    if dtype.hasobject:
        raise IntegrityError("the 'npy' artifact holds Python objects, which modelver never "
                             "writes; it may have been replaced. Run `modelver verify`")
    offset = f.tell()
    if int(np.prod(shape, dtype=np.int64)) == 0 or dtype.itemsize == 0:  # nothing to map
        f.seek(0)
        empty = np.load(f, allow_pickle=False)
        empty.flags.writeable = False  # like every other loaded array
        return empty
    mapped = np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape,
                       order="F" if fortran else "C")
    return np.asarray(mapped)  # a plain read-only ndarray over the mapping


def _extract(f: BinaryIO, target: str) -> Path:
    """Extract a folder artifact, streamed from ``f`` (already verified), once into
    ``target`` (named by digest), and return it.

    Beside it, ``<target>.manifest.json`` lists every extracted file's size and
    sha256. An existing extraction is checked against that manifest on every load:
    a file edited, added or removed there (by a user writing into the returned
    folder, say) is never served; the folder is extracted again from the artifact.
    """
    if os.path.isdir(target):
        if _tree_matches(target):
            return Path(target)
        import warnings

        warnings.warn(f"the extracted folder {target!r} was changed since it was extracted; "
                      "extracting it again from the verified artifact", UserWarning,
                      stacklevel=5)
        _discard_tree(target)
    import shutil

    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=".extract-")
    except OSError as exc:
        raise StoreError(f"cannot extract a folder artifact into {parent!r}: {exc}") from None
    try:
        with tarfile.open(fileobj=f, mode="r:") as tar:
            for member in tar.getmembers():  # modelver writes only files and folders
                unsafe = member.name.startswith("/") or ".." in member.name.split("/")
                if unsafe or not (member.isfile() or member.isdir()):
                    raise IntegrityError(f"folder artifact has an unsafe member "
                                         f"{member.name!r}; it was not written by modelver")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python < 3.10.12 has no extraction filters
                tar.extractall(tmp)  # noqa: S202 - every member checked above
        for root, _, files in os.walk(tmp):  # the extracted model is read-only, like its blob
            for fname in files:
                os.chmod(os.path.join(root, fname), 0o444)
        _write_manifest(target, _tree(tmp))
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, tarfile.TarError):
            raise IntegrityError(f"folder artifact cannot be unpacked: {exc}") from None
        if isinstance(exc, OSError) and not isinstance(exc, ModelverError):
            raise StoreError(f"cannot extract a folder artifact into {parent!r}: "
                             f"{exc}") from None
        raise
    try:
        os.rename(tmp, target)
    except OSError:  # another process extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return Path(target)


def _tree(root: str) -> dict[str, Any]:
    """``{relative path: [size, sha256]}`` of every file, ``{path/: None}`` of every
    folder, under ``root``."""
    tree: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        for d in dirs:
            tree[os.path.normpath(os.path.join(rel, d)) + "/"] = None
        for fname in files:
            full = os.path.join(folder, fname)
            if os.path.islink(full):
                tree[os.path.normpath(os.path.join(rel, fname))] = ["link"]
                continue
            with open(full, "rb") as fh:
                digest, size = hash_stream(fh)
            tree[os.path.normpath(os.path.join(rel, fname))] = [size, digest]
    return tree


def _write_manifest(target: str, tree: dict[str, Any]) -> None:
    import json

    tmp = f"{target}.manifest.json.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(tree, out, sort_keys=True)
    os.replace(tmp, target + ".manifest.json")


def _tree_matches(target: str) -> bool:
    """Whether an extracted folder still holds exactly what its manifest lists."""
    import json

    try:
        with open(target + ".manifest.json", encoding="utf-8") as fh:
            expected = json.load(fh)
        return bool(_tree(target) == expected)
    except (OSError, ValueError):
        return False


def _discard_tree(target: str) -> None:
    """Move a changed extraction out of the way and delete it."""
    import shutil

    aside = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=".discard-")
    try:
        os.rename(target, os.path.join(aside, "tree"))
    except OSError as exc:
        shutil.rmtree(aside, ignore_errors=True)
        if not os.path.isdir(target):
            return  # another process moved it first
        raise IntegrityError(f"the extracted folder {target!r} was changed and cannot be "
                             f"replaced ({exc}); delete it and load again") from None
    with contextlib.suppress(OSError):
        os.unlink(target + ".manifest.json")
    shutil.rmtree(aside, ignore_errors=True)
