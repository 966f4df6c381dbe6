"""In-memory data: numpy arrays, pandas frames and series, plain values, and the
pieces every in-memory fingerprint shares (the digest header, a type-only fingerprint).

No library is imported here: the caller passes the module it found in ``sys.modules``.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from modelver._records import DataFingerprint
from modelver._serde import canonical, json_digest

_COPY_BYTES = 64 << 20  # bound on the copy made to hash a non-contiguous array


def _header(kind: str, **fields: Any) -> bytes:
    """The first bytes hashed for an in-memory object: its kind and layout."""
    return f"modelver:{kind}:".encode() + canonical(fields).encode() + b"\n"


def _of_ndarray(np: Any, arr: Any) -> DataFingerprint:
    dtype = arr.dtype
    schema = {"dtype": dtype.str, "shape_tail": list(arr.shape[1:])}
    layout = dtype.str if dtype.names is None else str(dtype.descr)
    if dtype.hasobject:
        values = _of_value(arr.tolist())
        digest = json_digest({"dtype": layout, "shape": list(arr.shape), "values": values.digest})
        return DataFingerprint(
            digest, "ndarray", int(arr.nbytes), values.method, values.stable, schema
        )
    h = hashlib.sha256(_header("ndarray", dtype=layout, shape=list(arr.shape)))
    if arr.flags.c_contiguous:
        h.update(arr.reshape(-1).view(np.uint8))
    else:
        # Copy a bounded slab of rows at a time, never the whole array.
        row_bytes = max(1, arr[:1].nbytes)
        step = max(1, _COPY_BYTES // row_bytes)
        for start in range(0, arr.shape[0], step):
            h.update(np.ascontiguousarray(arr[start : start + step]).reshape(-1).view(np.uint8))
    masked = sys.modules.get("numpy.ma")
    if masked is not None and isinstance(arr, masked.MaskedArray):
        h.update(b"mask\n" + np.ascontiguousarray(masked.getmaskarray(arr)).tobytes())
    digest = "sha256:" + h.hexdigest()
    return DataFingerprint(digest, "ndarray", int(arr.nbytes), "sha256-array", True, schema)


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def _of_pandas(pd: Any, obj: Any) -> DataFingerprint:
    index = obj.index
    meta: dict[str, Any] = {
        "index": {"dtype": str(index.dtype), "names": [_label(n) for n in index.names]},
        "shape": list(obj.shape),
    }
    if isinstance(obj, pd.DataFrame):
        kind = "dataframe"
        meta["columns"] = [_label(c) for c in obj.columns]
        meta["dtypes"] = [str(d) for d in obj.dtypes]
        columns = dict(zip(map(str, obj.columns), meta["dtypes"], strict=True))
        schema: dict[str, Any] = {"columns": columns}
    else:
        kind = "series"
        meta["name"], meta["dtype"] = _label(obj.name), str(obj.dtype)
        schema = {"name": meta["name"], "dtype": meta["dtype"]}
    h = hashlib.sha256(_header(kind, **meta))
    method, stable = "sha256-pandas", True
    try:
        rows = pd.util.hash_pandas_object(obj, index=True)
        h.update(rows.to_numpy(dtype="uint64"))
    except TypeError:  # unhashable cells (lists, dicts): hash them as JSON, else by repr
        values = _of_value({"index": index.tolist(), "values": obj.to_numpy().tolist()})
        h.update(values.digest.encode())
        method, stable = values.method, values.stable
    usage = obj.memory_usage(index=True, deep=False)
    size = int(usage.sum() if kind == "dataframe" else usage)
    return DataFingerprint("sha256:" + h.hexdigest(), kind, size, method, stable, schema)


def _type_only(obj: object, kind: str) -> DataFingerprint:
    """A fingerprint of ``obj``'s type alone: content changes will not show."""
    name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    return DataFingerprint(json_digest({"type": name}), kind, None, "type-only", False, None,
                           name)


def _of_value(obj: object) -> DataFingerprint:
    try:
        return DataFingerprint(json_digest(obj), "value", None, "sha256-json")
    except (TypeError, ValueError, RecursionError):
        pass
    type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    try:
        text: str | None = repr(obj)
    except Exception:  # a broken __repr__ must not break a training run
        text = None
    if text is None or " at 0x" in text:  # a default repr names only a memory address
        return DataFingerprint(json_digest({"type": type_name}), "object", None, "type-only", False)
    digest = json_digest({"type": type_name, "repr": text})
    return DataFingerprint(digest, "object", None, "repr", False)
