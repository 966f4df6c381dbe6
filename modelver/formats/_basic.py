"""Formats of plain values: ``bytes``, ``npy``, ``json``, ``bundle`` and ``pickle``."""

from __future__ import annotations

import json
import math
import pickle
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import IntegrityError
from ._base import Format, hashed_file

__all__ = ["FORMATS", "member_name_ok"]

_MEMBER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)


def member_name_ok(key: object) -> bool:
    """Whether ``key`` can name a bundle member (a file-name-safe text)."""
    return isinstance(key, str) and _MEMBER.fullmatch(key) is not None and ".." not in key


class BytesFormat(Format):
    """``bytes``, ``bytearray`` and ``memoryview``, stored raw; loaded as ``bytes``."""

    name = "bytes"

    def claims(self, obj: Any) -> bool:
        """Bytes-like objects."""
        return isinstance(obj, (bytes, bytearray, memoryview))

    def save(self, obj: Any, dest: Path) -> None:
        """The bytes, as ``data.bin``."""
        with hashed_file(dest / "data.bin") as out:
            out.write(obj)

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> bytes:
        """The bytes."""
        return (path / "data.bin").read_bytes()


class NpyFormat(Format):
    """numpy arrays (no object dtype), as ``.npy``; loaded memory-mapped, read-only."""

    name = "npy"
    modules = ("numpy",)

    def claims(self, obj: Any) -> bool:
        """Plain numpy arrays and memory maps, without Python objects in them."""
        np = sys.modules.get("numpy")
        return (np is not None and type(obj) in (np.ndarray, np.memmap)
                and not obj.dtype.hasobject)

    def save(self, obj: Any, dest: Path) -> None:
        """``np.save`` with pickles refused."""
        import numpy as np

        with hashed_file(dest / "array.npy") as out:
            np.save(out, obj, allow_pickle=False)

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """A read-only array mapped from the verified file (copy it to write)."""
        import numpy as np

        file = path / "array.npy"
        fmt = np.lib.format
        with open(file, "rb") as f:
            version = fmt.read_magic(f)
            readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
            if version not in readers:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            shape, fortran, dtype = readers[version](f)
            offset = f.tell()
        if dtype.hasobject:
            raise IntegrityError("the 'npy' artifact holds Python objects, which modelver "
                                 "never writes; it may have been replaced. Run `modelver "
                                 "verify`")
        if int(np.prod(shape, dtype=np.int64)) == 0 or dtype.itemsize == 0:
            empty = np.load(file, allow_pickle=False)
            empty.flags.writeable = False
            return empty
        mapped = np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=shape,
                           order="F" if fortran else "C")
        return np.asarray(mapped)


def _exact_json(obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` comes back from JSON as an equal object of the same types."""
    if depth > 50:
        return False
    if obj is None or isinstance(obj, (bool, str)):
        return True
    if type(obj) is int:
        return True
    if type(obj) is float:
        return math.isfinite(obj)
    if type(obj) is list:
        return all(_exact_json(v, depth + 1) for v in obj)
    if type(obj) is dict:
        return all(type(k) is str and _exact_json(v, depth + 1) for k, v in obj.items())
    return False


class JsonFormat(Format):
    """Plain data that JSON gives back exactly: dicts of str keys, lists, str, int,
    finite floats, bool and None (tuples, sets and the like are not claimed)."""

    name = "json"

    def claims(self, obj: Any) -> bool:
        """Plain data, exactly representable in JSON."""
        return _exact_json(obj)

    def save(self, obj: Any, dest: Path) -> None:
        """Compact JSON, keys in the dict's own order (which ``load`` gives back)."""
        (dest / "value.json").write_text(
            json.dumps(obj, sort_keys=False, ensure_ascii=False, allow_nan=False,
                       separators=(",", ":")), encoding="utf-8")

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The value."""
        return json.loads((path / "value.json").read_text(encoding="utf-8"))


class BundleFormat(Format):
    """A dict of named members (``{"model": m, "tokenizer": t, "eval": path}``), each
    stored in its own format. Built by the store, not by :meth:`save`; safe when every
    member's format is."""

    name = "bundle"
    options = frozenset({"artifact"})

    def claims(self, obj: Any) -> bool:
        """A non-empty dict whose keys can name files (members are chosen one by one)."""
        return (type(obj) is dict and 0 < len(obj) <= 1000
                and all(member_name_ok(k) for k in obj))


class PickleFormat(Format):
    """Anything else, pickled (protocol 5). Loading a pickle can run any code."""

    name = "pickle"
    safe = False

    def claims(self, obj: Any) -> bool:
        """Every object (the last resort)."""
        return True

    def save(self, obj: Any, dest: Path) -> None:
        """``pickle.dump``, protocol 5."""
        with hashed_file(dest / "model.pkl") as out:
            pickle.dump(obj, out, protocol=5)

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The unpickled object (runs the code the pickle names)."""
        with open(path / "model.pkl", "rb") as f:
            return pickle.load(f)


FORMATS: dict[str, Format] = {
    f.name: f for f in (BytesFormat(), NpyFormat(), JsonFormat(), BundleFormat(),
                        PickleFormat())
}
