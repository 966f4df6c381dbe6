"""Arrow data by logical value: pyarrow tables, record batches and arrays, polars frames.

A column's digest depends on its type and its values only, not on how it is chunked,
on slice offsets, on dictionary encoding, or on what lies under a null: the same
table read back from parquet, or a slice of a larger one, gets the same digest as
the table built directly. Each column is hashed as up to three streams, fed chunk by
chunk so that chunk boundaries do not matter:

* values: the fixed-width values (zero-copy where there are no nulls; zeros under
  nulls), or the bytes of strings and binaries;
* lengths: the length of each string or binary value, as int64;
* validity: one byte per row, only when the column has nulls.

Nested types (lists, structs, maps…) are hashed row by row as canonical JSON. polars
frames and series go through ``to_arrow()`` (zero-copy for numeric columns).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelver._fingerprint._files import StatCache, _of_path
from modelver._fingerprint._objects import _header, _type_only
from modelver._records import DataFingerprint
from modelver._serde import json_digest

__all__ = ["of_arrow_dataset", "of_arrow_table", "of_arrow_values", "of_polars"]


def _width(pa: Any, kind: Any) -> int | None:
    """The byte width of a fixed-width type, None for variable-width and bit types."""
    if pa.types.is_boolean(kind):
        return None
    try:
        bits = kind.bit_width
    except ValueError:  # variable width
        return None
    return bits // 8 if bits % 8 == 0 else None


def _column_digest(pa: Any, np: Any, chunks: list[Any], kind: Any) -> str:
    values, lengths, validity = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    has_nulls = any(chunk.null_count for chunk in chunks)
    rows = 0
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        if len(chunk) == 0:
            continue
        rows += len(chunk)
        valid = None
        if has_nulls:
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            validity.update(valid.view(np.uint8))
        _update_values(pa, np, chunk, valid, values, lengths)
    h = hashlib.sha256(_header("arrow-column", type=str(kind), rows=rows, nulls=has_nulls))
    for stream in (values, lengths, validity):
        h.update(stream.digest())
    return "sha256:" + h.hexdigest()


def _update_values(pa: Any, np: Any, chunk: Any, valid: Any, values: Any, lengths: Any) -> None:
    kind = chunk.type
    if hasattr(pa.types, "is_string_view") and (pa.types.is_string_view(kind)
                                                 or pa.types.is_binary_view(kind)):
        chunk = chunk.cast(pa.large_string() if pa.types.is_string_view(kind)
                           else pa.large_binary())
        kind = chunk.type
    width = _width(pa, kind)
    if width is not None:
        buffer = chunk.buffers()[1]
        raw = np.frombuffer(buffer, dtype=np.uint8)
        part = raw[chunk.offset * width:(chunk.offset + len(chunk)) * width]
        if valid is not None and not valid.all():
            part = part.reshape(len(chunk), width).copy()
            part[~valid] = 0
        values.update(np.ascontiguousarray(part).reshape(-1))
        return
    if pa.types.is_boolean(kind):
        bools = chunk.fill_null(False).to_numpy(zero_copy_only=False)
        values.update(bools.astype(np.uint8))
        return
    if (pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_string(kind)
            or pa.types.is_large_binary(kind)):
        large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if large else np.int32)
        offsets = offsets[chunk.offset:chunk.offset + len(chunk) + 1].astype(np.int64)
        sizes = np.diff(offsets)
        data = chunk.buffers()[2]
        if valid is not None and not valid.all():
            sizes = np.where(valid, sizes, 0)
            raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
            for start, size in zip(offsets[:-1][valid], sizes[valid], strict=True):
                values.update(raw[start:start + size])
        elif data is not None:
            values.update(memoryview(data)[int(offsets[0]):int(offsets[-1])])
        lengths.update(sizes.astype("<i8"))
        return
    for row in chunk.to_pylist():  # nested and other types: row by row
        values.update(json.dumps(row, sort_keys=True, default=str).encode() + b"\n")


def of_arrow_table(pa: Any, table: Any, kind: str = "arrow-table",
                   method: str = "sha256-arrow") -> DataFingerprint:
    """The fingerprint of a pyarrow ``Table`` or ``RecordBatch`` by logical value."""
    import numpy as np

    names = [field.name for field in table.schema]
    types = [str(field.type) for field in table.schema]
    h = hashlib.sha256(_header("arrow-table", columns=names, types=types, rows=table.num_rows))
    for field, column in zip(table.schema, table.columns, strict=True):
        chunks = list(getattr(column, "chunks", [column]))
        h.update(_column_digest(pa, np, chunks, field.type).encode() + b"\n")
    schema = {"columns": dict(zip(names, types, strict=True))}
    return DataFingerprint("sha256:" + h.hexdigest(), kind, int(table.nbytes), method, True,
                           schema)


def of_arrow_values(pa: Any, array: Any) -> DataFingerprint:
    """The fingerprint of a pyarrow ``Array`` or ``ChunkedArray`` by logical value."""
    import numpy as np

    chunks = list(getattr(array, "chunks", [array]))
    digest = _column_digest(pa, np, chunks, array.type)
    schema = {"dtype": str(array.type)}
    return DataFingerprint(digest, "arrow-array", int(array.nbytes), "sha256-arrow", True,
                           schema)


def of_polars(pl: Any, obj: Any) -> DataFingerprint:
    """A polars ``DataFrame`` or ``Series`` through Arrow; columns keep polars dtypes in
    the schema."""
    import attrs
    import pyarrow as pa  # type: ignore[import-untyped]

    if isinstance(obj, pl.Series):
        fp = of_arrow_values(pa, obj.to_arrow())
        schema: dict[str, Any] = {"name": obj.name, "dtype": str(obj.dtype)}
        return attrs.evolve(fp, kind="polars-series", method="sha256-arrow", schema=schema)
    fp = of_arrow_table(pa, obj.to_arrow(), "polars-frame")
    schema = {"columns": {name: str(dtype) for name, dtype in obj.schema.items()}}
    return attrs.evolve(fp, schema=schema)


def of_arrow_dataset(ds: Any, cache: StatCache | None) -> DataFingerprint:
    """A local ``pyarrow.dataset`` by the content of its files, else by type."""
    files = getattr(ds, "files", None)
    filesystem = type(getattr(ds, "filesystem", None)).__name__
    if not isinstance(files, list) or filesystem != "LocalFileSystem":
        return _type_only(ds, "arrow-dataset")
    children = {path: _of_path(path, cache) for path in sorted(files)}
    digest = json_digest({"files": [[p, fp.digest] for p, fp in children.items()],
                          "schema": str(ds.schema)})
    sizes = [fp.size for fp in children.values() if fp.size is not None]
    schema = {"columns": {f.name: str(f.type) for f in ds.schema}}
    return DataFingerprint(digest, "arrow-dataset", sum(sizes), "sha256-merkle", True, schema)
