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
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ._errors import IntegrityError, ModelverError

__all__ = ["check_magic", "deserialize", "serialize"]

_MAGIC = {
    "npy": (0, b"\x93NUMPY"),
    "pickle": (0, b"\x80\x05"),
    "folder": (257, b"ustar"),
    "torch-state": (0, b"PK\x03\x04"),
}


def serialize(obj: Any) -> tuple[str, bytes | str]:
    """Pick a format for ``obj``; returns (format, bytes) or (format, path of a file)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "bytes", bytes(obj)
    if isinstance(obj, os.PathLike):
        path = os.fspath(obj)
        if os.path.isdir(path):
            return "folder", _tar_folder(str(path))
        if os.path.isfile(path):
            return "file", str(path)
        raise ModelverError(f"cannot register {path!r}: no such file or folder")
    np = sys.modules.get("numpy")
    if np is not None and type(obj) is np.ndarray and obj.dtype != object:
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return "npy", buf.getvalue()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        buf = io.BytesIO()
        torch.save(obj.state_dict(), buf)
        return "torch-state", buf.getvalue()
    try:
        return "pickle", pickle.dumps(obj, protocol=5)
    except Exception as exc:
        raise ModelverError(
            f"cannot serialize a {type(obj).__name__}: {exc}; register bytes, a numpy array, "
            "a file or folder path, or a picklable object"
        ) from None


def _tar_folder(path: str) -> str:
    """A tar of a folder with sorted entries and no times or owners: same files, same bytes."""
    fd, out = tempfile.mkstemp(prefix="modelver-", suffix=".tar")
    os.close(fd)

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    # Symlinks are followed (a Hugging Face snapshot is all links into a blob folder):
    # the artifact holds the bytes they point to, and a link loop is refused.
    seen_dirs: set[str] = set()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT, dereference=True) as tar:
        for root, dirs, files in os.walk(path, followlinks=True):
            real = os.path.realpath(root)
            if real in seen_dirs:
                os.unlink(out)
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
                    os.unlink(out)
                    raise ModelverError(f"cannot register {path!r}: {full!r} is a broken link")
                tar.add(full, arcname=os.path.relpath(full, path), recursive=False, filter=clean)
    return out


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


def deserialize(fmt: str, data: bytes, blob_path: str, extract_dir: str) -> Any:
    """Turn verified bytes back into the model."""
    check_magic(fmt, data[:512])
    if fmt == "pickle":
        return pickle.loads(data)
    if fmt == "bytes":
        return data
    if fmt == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "file":
        return Path(blob_path)
    if fmt == "folder":
        return _extract(data, extract_dir)
    if fmt == "torch-state":
        import torch

        return torch.load(io.BytesIO(data), weights_only=True)
    raise ModelverError(f"unknown artifact format {fmt!r}; upgrade modelver to load it")


def _extract(data: bytes, target: str) -> Path:
    """Extract a folder artifact once into ``target`` (named by digest) and return it."""
    if os.path.isdir(target):
        return Path(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".extract-")
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():  # modelver writes only files and folders
                unsafe = member.name.startswith("/") or ".." in member.name.split("/")
                if unsafe or not (member.isfile() or member.isdir()):
                    raise IntegrityError(f"folder artifact has an unsafe member "
                                         f"{member.name!r}; it was not written by modelver")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python < 3.10.12 has no extraction filters
                tar.extractall(tmp)  # noqa: S202 - every member checked above
    except tarfile.TarError as exc:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise IntegrityError(f"folder artifact cannot be unpacked: {exc}") from None
    for root, _, files in os.walk(tmp):  # the extracted model is read-only, like its blob
        for fname in files:
            os.chmod(os.path.join(root, fname), 0o444)
    try:
        os.rename(tmp, target)
    except OSError:  # another process extracted it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return Path(target)
