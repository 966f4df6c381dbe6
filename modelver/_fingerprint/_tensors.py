"""torch tensors and datasets, Hugging Face datasets: fingerprinted by content.

* A tensor: a header (dtype, shape) and the bytes of its contiguous CPU data, read
  in place when it is already contiguous on the CPU (no copy); a GPU tensor is copied
  to the CPU, a non-contiguous one made contiguous first.
* ``TensorDataset``: its tensors; ``Subset``: its dataset and indices; ``DataLoader``:
  its dataset, batch size, sampler type and ``drop_last``; a map-style ``Dataset``
  subclass: the tensors, arrays, frames and plain values among its attributes.
* A Hugging Face ``datasets.Dataset``: its Arrow table (by logical value) and the
  indices of a ``select``/``shuffle``.
* Anything else dataset-like (an ``IterableDataset``, a loader over a dataset whose
  attributes say nothing) is known only by type: ``method="type-only"``.

torch and ``datasets`` are never imported here: only objects of modules the caller
already imported are recognised.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from modelver._fingerprint._objects import _header, _type_only
from modelver._records import DataFingerprint
from modelver._serde import json_digest

__all__ = ["is_dataset", "of_dataset", "of_tensor"]


def of_tensor(torch: Any, tensor: Any) -> DataFingerprint:
    """dtype, shape and the bytes of the tensor's data (see the module text)."""
    t = tensor.detach()
    dtype, shape = str(t.dtype), list(t.shape)
    schema = {"dtype": dtype, "shape_tail": shape[1:]}
    try:
        if t.layout != torch.strided:
            t = t.to_dense()
        if t.is_quantized:
            t = t.int_repr()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.resolve_conj().resolve_neg().contiguous()
        h = hashlib.sha256(_header("tensor", dtype=dtype, shape=shape))
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    except (RuntimeError, TypeError, NotImplementedError):  # meta tensors, odd dtypes
        digest = json_digest({"type": "torch.Tensor", "dtype": dtype, "shape": shape})
        return DataFingerprint(digest, "tensor", None, "type-only", False, schema, "torch.Tensor")
    size = int(t.numel() * t.element_size())
    return DataFingerprint("sha256:" + h.hexdigest(), "tensor", size, "sha256-tensor", True,
                           schema)


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def is_dataset(obj: object) -> bool:
    """A torch ``Dataset``/``DataLoader`` or a Hugging Face dataset (already imported)."""
    data = sys.modules.get("torch.utils.data")
    if data is not None and isinstance(obj, (data.Dataset, data.DataLoader)):
        return True
    hf = sys.modules.get("datasets")
    return hf is not None and isinstance(obj, getattr(hf, "Dataset", ()))


def _combine(kind: str, method: str, parts: dict[str, DataFingerprint], source: str,
             extra: dict[str, Any] | None = None) -> DataFingerprint:
    digest = json_digest({"type": source, "parts": {k: fp.digest for k, fp in parts.items()},
                          **(extra or {})})
    sizes = [fp.size for fp in parts.values() if fp.size is not None]
    stable = all(fp.stable for fp in parts.values())
    if any(fp.method == "type-only" for fp in parts.values()):
        method = "type-only"
    schemas = {k: fp.schema for k, fp in parts.items() if fp.schema is not None}
    return DataFingerprint(digest, kind, sum(sizes) if sizes else None, method, stable,
                           schemas or None, source)


def of_dataset(obj: Any, fingerprint: Any, is_data: Any, depth: int = 0) -> DataFingerprint:
    """The fingerprint of a dataset-like object; ``fingerprint`` fingerprints its parts
    and ``is_data`` says which attributes of a custom dataset hold data."""
    data = sys.modules.get("torch.utils.data")
    hf = sys.modules.get("datasets")
    name = _type_name(obj)
    if depth > 8:
        return _type_only(obj, "dataset")
    if hf is not None and isinstance(obj, getattr(hf, "Dataset", ())):
        return _of_hf(obj, name)
    if data is None:
        return _type_only(obj, "dataset")
    if isinstance(obj, data.DataLoader):
        inner = of_dataset(obj.dataset, fingerprint, is_data, depth + 1)
        loader = {"batch_size": obj.batch_size, "drop_last": obj.drop_last,
                  "sampler": _type_name(obj.sampler)}
        return _combine("dataloader", "sha256-dataset", {"dataset": inner}, name, loader)
    if isinstance(obj, data.TensorDataset):
        parts = {str(i): fingerprint(t) for i, t in enumerate(obj.tensors)}
        return _combine("dataset", "sha256-dataset", parts, name)
    if isinstance(obj, data.Subset):
        parts = {"dataset": of_dataset(obj.dataset, fingerprint, is_data, depth + 1),
                 "indices": fingerprint(list(map(int, obj.indices)))}
        return _combine("dataset", "sha256-dataset", parts, name)
    if isinstance(obj, data.IterableDataset):
        return _type_only(obj, "dataset")
    return _of_attributes(obj, fingerprint, is_data, name)


def _of_attributes(obj: Any, fingerprint: Any, is_data: Any, name: str) -> DataFingerprint:
    """A custom map-style dataset by the data and plain values it holds (other
    attributes, such as transforms, by type)."""
    try:
        attributes = dict(vars(obj))
    except TypeError:
        return _type_only(obj, "dataset")
    parts: dict[str, DataFingerprint] = {}
    values: dict[str, Any] = {}
    for key, value in sorted(attributes.items()):
        if is_data(value):
            parts[key] = fingerprint(value)
        elif not key.startswith("_"):
            try:
                values[key] = json_digest(value)
            except (TypeError, ValueError, RecursionError):
                values[key] = _type_name(value)
    if not parts:  # nothing that holds the data itself: by type, and say so
        return _type_only(obj, "dataset")
    return _combine("dataset", "sha256-dataset", parts, name, {"values": values})


def _of_hf(obj: Any, name: str) -> DataFingerprint:
    import pyarrow as pa  # type: ignore[import-untyped]

    from ._arrow import of_arrow_table

    table = getattr(getattr(obj, "data", None), "table", None)
    if not isinstance(table, pa.Table):
        return _type_only(obj, "dataset")
    parts = {"table": of_arrow_table(pa, table)}
    indices = getattr(obj, "_indices", None)
    indices_table = getattr(indices, "table", None)
    if isinstance(indices_table, pa.Table):
        parts["indices"] = of_arrow_table(pa, indices_table)
    return _combine("dataset", "sha256-dataset", parts, name)
