"""Data fingerprints: a ``sha256:`` digest that names a file, folder, array, frame or value.

Every fingerprint says how it was made (:class:`~modelver._records.DataFingerprint`'s
``method``) and whether the same data always gets the same digest (``stable``).

=============  ===============  ==========================================================
kind           method           digest over
=============  ===============  ==========================================================
file           sha256           the file's bytes
folder         sha256-merkle    UTF-8 lines ``relpath\\0digest\\n`` sorted by relative POSIX
                                path; a symlink is never followed, its line holds
                                ``symlink:<target text>``; empty folders add nothing
ndarray        sha256-array     a JSON header (dtype, shape) and the C-order buffer
tensor         sha256-tensor    a JSON header (dtype, shape) and the contiguous CPU bytes
dataframe      sha256-pandas    a JSON header (columns, dtypes, index) and the row hashes
/series                         of ``pandas.util.hash_pandas_object(obj, index=True)``
arrow-table    sha256-arrow     a JSON header and each column's logical values
/arrow-array                    (independent of chunks, offsets, dictionaries; see _arrow)
polars-frame   sha256-arrow     the same, through ``to_arrow()``
/polars-series
dataset        sha256-dataset   a torch TensorDataset's tensors, a Subset's dataset and
/dataloader                     indices, a DataLoader's dataset and batching, a custom
                                Dataset's data attributes, a Hugging Face dataset's table
arrow-dataset  sha256-merkle    the files of a local ``pyarrow.dataset`` (by content)
bytes          sha256           the bytes
remote-file    etag | sha256    the store's checksum field (no download), else the bytes
collection     sha256-merkle    the children's digests by key or index
value          sha256-json      canonical JSON (:func:`modelver._serde.json_digest`)
object         repr|type-only   the type name and repr; ``stable=False``
lazyframe,     type-only        the type name only (a LazyFrame, an IterableDataset, an
dataset, …                      iterator): the run warns that content changes will not show
=============  ===============  ==========================================================

A CSV/TSV file's header and a parquet or Arrow IPC file's schema (from its footer,
never a full read) are its ``schema``, so that a changed schema bumps major.

numpy, pandas, pyarrow, polars and torch are never imported here: their objects are
recognised only when the caller has already imported them. fsspec is imported only
for ``scheme://`` URLs. A :class:`StatCache` lets an unchanged file or folder be
fingerprinted from ``stat`` alone.

The parts: ``_files`` (files, folders, the stat cache), ``_schema`` (file headers),
``_objects`` (arrays, frames, values), ``_arrow`` (pyarrow and polars), ``_tensors``
(torch and datasets), ``_remote`` (fsspec URLs); this module dispatches. (A public-looking
``modelver/fingerprint/`` package would shadow the ``modelver.fingerprint`` function
the moment it is imported, hence the private name.)
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from typing import Any

from modelver._fingerprint._arrow import (
    of_arrow_dataset,
    of_arrow_table,
    of_arrow_values,
    of_polars,
)
from modelver._fingerprint._files import (
    RACY_WINDOW_NS,
    BatchStatCache,
    MemoryStatCache,
    StatCache,
    StatKey,
    _is_path,
    _of_path,
    hash_file,
)
from modelver._fingerprint._objects import _of_ndarray, _of_pandas, _of_value, _type_only
from modelver._fingerprint._remote import _URL, _is_fsspec_protocol, _is_fsspec_url, _of_remote
from modelver._fingerprint._tensors import is_dataset, of_dataset, of_tensor
from modelver._records import DataFingerprint
from modelver._serde import json_digest

__all__ = [
    "RACY_WINDOW_NS",
    "BatchStatCache",
    "MemoryStatCache",
    "StatCache",
    "StatKey",
    "fingerprint",
    "hash_file",
    "is_data",
    "is_inline_data",
]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _of_collection(obj: Any, cache: StatCache | None, seen: frozenset[int]) -> DataFingerprint:
    seen = seen | {id(obj)}
    if isinstance(obj, dict):
        items = sorted((str(key), value) for key, value in obj.items())
    else:
        items = [(str(i), value) for i, value in enumerate(obj)]
    children = [(key, _fingerprint(value, cache, seen)) for key, value in items]
    container = "dict" if isinstance(obj, dict) else "list"
    digest = json_digest({container: [[key, child.digest] for key, child in children]})
    sizes = [child.size for _, child in children if child.size is not None]
    schemas = {key: child.schema for key, child in children if child.schema is not None}
    return DataFingerprint(
        digest,
        "collection",
        sum(sizes) if sizes else None,
        "sha256-merkle",
        all(child.stable for _, child in children),
        schemas or None,
    )


def _holds_data(obj: Any, seen: frozenset[int]) -> bool:
    if not isinstance(obj, (list, tuple, dict)):
        return is_data(obj)
    if id(obj) in seen:
        return False
    seen = seen | {id(obj)}
    return any(_holds_data(v, seen) for v in (obj.values() if isinstance(obj, dict) else obj))


def is_data(obj: object) -> bool:
    """True if :func:`fingerprint` treats ``obj`` as data rather than as a plain value.

    Data: numpy arrays, pandas frames and series, pyarrow tables, bytes-like objects,
    :class:`DataFingerprint`, paths (``str`` or ``os.PathLike``) of existing files or
    folders, fsspec URLs other than ``http(s)://``, and non-empty lists, tuples and
    dicts whose items are all data. A path that does not exist is not data.
    """
    if isinstance(obj, (DataFingerprint, bytes, bytearray, memoryview)):
        return True
    if isinstance(obj, str):
        return _is_fsspec_url(obj) or (_URL.match(obj) is None and _is_path(obj))
    if isinstance(obj, os.PathLike):
        return _is_path(os.fsdecode(os.fspath(obj)))
    if isinstance(obj, (list, tuple, dict)):
        values = obj.values() if isinstance(obj, dict) else obj
        return bool(obj) and all(is_data(v) for v in values)
    return _is_library_data(obj)


def _library_object(obj: object) -> DataFingerprint | None:
    """The fingerprint of an array, frame, table, tensor or dataset from an already
    imported library, None for anything else."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return _of_ndarray(np, obj)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        return _of_pandas(pd, obj)
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        if isinstance(obj, (pa.Table, pa.RecordBatch)):
            return of_arrow_table(pa, obj)
        if isinstance(obj, (pa.Array, pa.ChunkedArray)):
            return of_arrow_values(pa, obj)
    pl = sys.modules.get("polars")
    if pl is not None:
        if isinstance(obj, (pl.DataFrame, pl.Series)):
            return of_polars(pl, obj)
        if isinstance(obj, pl.LazyFrame):
            return _type_only(obj, "lazyframe")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return of_tensor(torch, obj)
    return None


_INLINE = (("numpy", ("ndarray",)), ("pandas", ("DataFrame", "Series")),
           ("pyarrow", ("Table", "RecordBatch", "Array", "ChunkedArray")),
           ("polars", ("DataFrame", "Series", "LazyFrame")), ("torch", ("Tensor",)),
           ("torch.utils.data", ("Dataset", "DataLoader")), ("datasets", ("Dataset",)),
           ("pyarrow.dataset", ("Dataset",)))


def _is_library_data(obj: object) -> bool:
    """An array, frame, table, tensor or dataset of an already imported library."""
    for module, names in _INLINE:
        lib = sys.modules.get(module)
        if lib is None:
            continue
        kinds = tuple(k for k in (getattr(lib, n, None) for n in names) if isinstance(k, type))
        if kinds and isinstance(obj, kinds):
            return True
    return False


def is_inline_data(obj: object) -> bool:
    """True for what is data wherever it is passed: arrays, frames, tables, tensors and
    datasets of already imported libraries, and non-empty lists, tuples and dicts of
    them. A text or path is data only where ``data=`` names it."""
    if isinstance(obj, (list, tuple, dict)):
        values = obj.values() if isinstance(obj, dict) else obj
        return bool(obj) and len(obj) <= 10_000 and all(is_inline_data(v) for v in values)
    return _is_library_data(obj)


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or bool(os.altsep and os.altsep in text) or (
        text.startswith("~")
    )


def fingerprint(obj: object, *, cache: StatCache | None = None) -> DataFingerprint:
    """The :class:`DataFingerprint` of a path, URL, array, frame, table, bytes or value.

    ``cache`` remembers file digests by ``stat`` so that unchanged files are not read
    again. A string that looks like a path (it holds a separator or starts with ``~``)
    but names nothing raises :class:`~modelver.NotFound`; other strings are values.
    A ``DataFingerprint`` is returned unchanged and a ``"sha256:<hex>"`` string becomes
    one of kind ``"fingerprint"``.
    """
    return _fingerprint(obj, cache, frozenset())


def _fingerprint(obj: object, cache: StatCache | None, seen: frozenset[int]) -> DataFingerprint:
    if isinstance(obj, DataFingerprint):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        view = memoryview(obj)
        data = view if view.c_contiguous else view.tobytes()
        return DataFingerprint("sha256:" + hashlib.sha256(data).hexdigest(), "bytes", view.nbytes)
    if isinstance(obj, str):
        if _DIGEST.fullmatch(obj):
            return DataFingerprint(obj, "fingerprint")
        url = _URL.match(obj)
        if url is not None:  # a URL fsspec cannot open (``postgresql://…``) is a value
            return _of_remote(obj, cache) if _is_fsspec_protocol(url[1].lower()) else _of_value(obj)
        if _looks_like_path(obj) or _is_path(obj):
            return _of_path(obj, cache)
        return _of_value(obj)
    if isinstance(obj, os.PathLike):
        return _of_path(os.fsdecode(os.fspath(obj)), cache)
    found = _library_object(obj)
    if found is not None:
        return found
    if is_dataset(obj):
        return of_dataset(obj, lambda o: _fingerprint(o, cache, seen), is_inline_data)
    arrow_dataset = sys.modules.get("pyarrow.dataset")
    if arrow_dataset is not None and isinstance(obj, arrow_dataset.Dataset):
        return of_arrow_dataset(obj, cache)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.generic):
        return _of_value(obj.item())
    if isinstance(obj, (list, tuple, dict)) and id(obj) not in seen and _holds_data(obj, seen):
        return _of_collection(obj, cache, seen)
    return _of_value(obj)
