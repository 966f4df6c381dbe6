"""The schema of a data file, read without reading the data: a CSV or TSV header line,
a parquet footer, an Arrow IPC (feather) file's schema.

A file whose schema changed bumps major, as a frame's does. pyarrow is imported only
for parquet and Arrow files, and only if it is installed; a file that cannot be read
this way simply has no schema.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from typing import Any

__all__ = ["file_schema"]

_HEADER_BYTES = 1 << 20  # a header line longer than this is not read as one
_DELIMITERS = {".csv": ",", ".tsv": "\t"}


def file_schema(path: str) -> dict[str, Any] | None:
    """``{"columns": …}`` of a CSV/TSV, parquet or Arrow file, None for other files. A
    CSV whose first line is all numbers has no header: its schema is the field count."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in _DELIMITERS:
            return _csv_header(path, _DELIMITERS[ext])
        if ext in (".parquet", ".pq", ".arrow", ".feather", ".ipc"):
            if importlib.util.find_spec("pyarrow") is None:
                return None
            return _arrow_schema(path, ext)
    except (OSError, ValueError, UnicodeError, csv.Error):
        return None
    except Exception:  # pyarrow's ArrowInvalid on a file that only has the extension
        return None
    return None


def _csv_header(path: str, delimiter: str) -> dict[str, Any] | None:
    with open(path, "rb") as f:
        line = f.readline(_HEADER_BYTES)
    if not line or len(line) >= _HEADER_BYTES:
        return None
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    columns = next(csv.reader([text], delimiter=delimiter), [])
    if not columns:
        return None
    if all(_is_number(c) for c in columns if c.strip()):  # no header: data from line one
        return {"fields": len(columns)}
    return {"columns": columns}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _arrow_schema(path: str, ext: str) -> dict[str, Any]:
    import pyarrow as pa  # type: ignore[import-untyped]

    if ext in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        schema = pq.read_schema(path)
    else:
        with pa.memory_map(path) as source:
            schema = pa.ipc.open_file(source).schema
    return {"columns": {field.name: str(field.type) for field in schema}}
