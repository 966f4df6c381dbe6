"""Reading versions registered before artifacts were manifests (record schema 1).

Each such version is one blob in one of these formats:

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

Each format checks the blob's leading bytes before deserializing, so a blob that does
not match its recorded format is refused. New versions are written by
:mod:`modelver._artifacts`; these are only read.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from .._blobs import hash_stream
from .._errors import IntegrityError, ModelverError, StoreError

__all__ = ["check_magic", "read_model"]

_MAGIC = {
    "npy": (0, b"\x93NUMPY"),
    "pickle": (0, b"\x80\x05"),
    "folder": (257, b"ustar"),
    "torch-state": (0, b"PK\x03\x04"),
}

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


def read_model(fmt: str, f: BinaryIO, blob_path: str, extract_dir: str,
               device: Any = None) -> Any:
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

        return torch.load(f, weights_only=True,
                          map_location=str(device) if device is not None else None)
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
