"""Input signatures: what a model was trained on, checked before it predicts.

A :class:`Signature` is derived when a version is registered, from the schemas its run
recorded for its data (:class:`~modelver.DataFingerprint`'s ``schema``): the ordered
columns and dtypes of a frame (pandas, polars, pyarrow, a parquet or Arrow file; a CSV
header gives the columns without dtypes), the dtype and trailing shape of an array or
tensor. Series, plain values, collections and datasets are not inputs. When the model
names the features it was fitted on (scikit-learn's ``feature_names_in_``) a frame's
columns are narrowed to those, so a training frame that also held the label does not
make every prediction fail.

:meth:`Signature.check` accepts pandas, polars and pyarrow frames, numpy arrays, torch
tensors (recognised by ``type(X).__module__``; none is imported here), anything with
``shape`` and ``dtype``, a dict of columns and a list of rows. Dtypes are compared by
family across libraries (``float64``, ``double`` and ``Float64`` are one dtype).

:mod:`modelver._checked` wraps a loaded model so that its ``predict`` checks first.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Mapping
from typing import Any

import attrs

from ._errors import ModelverError, SchemaMismatch

__all__ = ["InputSchema", "Signature", "derive", "from_given", "mismatch", "model_inputs"]

_SHOWN = 8  # how many names a message lists before "…"


def _family(dtype: str | None) -> str | None:
    """One name for a dtype across numpy, pandas, polars, pyarrow and torch."""
    if dtype is None:
        return None
    cached = _FAMILIES.get(dtype)
    if cached is not None:
        return cached
    text = dtype.strip()
    if text.startswith("torch."):
        text = text[6:]
    short = re.fullmatch(r"[<>|=]?([fiucbMmOUS])(\d*)(\[\w+\])?", text)
    if short:
        code, size = short[1], short[2]
        bits = int(size) * 8 if size else 0
        text = {"f": f"float{bits}", "i": f"int{bits}", "u": f"uint{bits}", "b": "bool",
                "c": f"complex{bits}", "M": "datetime", "m": "timedelta", "O": "object",
                "U": "string", "S": "bytes"}[code]
    low = text.lower()
    low = _ALIASES.get(low, low)
    if low.startswith(("datetime", "timestamp")):
        low = "datetime"
    elif low.startswith(("timedelta", "duration")):
        low = "timedelta"
    elif low.startswith(("dictionary", "categorical", "enum")):
        low = "category"
    if len(_FAMILIES) < 4096:
        _FAMILIES[dtype] = low
    return low


_FAMILIES: dict[str, str] = {}
_ALIASES = {"double": "float64", "float": "float32", "halffloat": "float16", "half": "float16",
            "float8": "float64", "float4": "float32", "bfloat16": "bfloat16",
            "str": "string", "utf8": "string", "large_string": "string", "string_view": "string",
            "large_utf8": "string", "object": "string", "string[python]": "string",
            "string[pyarrow]": "string", "boolean": "bool", "long": "int64", "int": "int32",
            "short": "int16", "uint8": "uint8", "int8": "int8", "binary": "bytes",
            "large_binary": "bytes", "null": "null"}


def _names(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:_SHOWN])
    return shown + (f", … {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


@attrs.frozen
class InputSchema:
    """The schema of one training input.

    ``kind`` is ``"frame"`` (``columns`` in order, with ``dtypes``: one per column,
    None where only the name is known, as from a CSV header) or ``"array"`` (a numpy
    array or torch tensor: ``dtype`` and ``shape``, the trailing shape after the rows).
    ``library`` says where it came from (``pandas``, ``numpy``, ``torch``, ``file``…).
    """

    key: str
    kind: str
    columns: tuple[str, ...] = ()
    dtypes: tuple[str | None, ...] = ()
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    library: str = ""

    def __str__(self) -> str:
        if self.kind == "frame":
            cols = ", ".join(c if d is None else f"{c}: {d}"
                             for c, d in zip(self.columns, self.dtypes, strict=False))
            return f"{self.library or 'frame'} frame ({len(self.columns)} columns: {cols})"
        shape = ", ".join(map(str, self.shape or ()))
        return f"{self.library or 'array'} array of {self.dtype}, shape (n, {shape})"

    def problems(self, x: Any) -> list[str]:
        """Every way ``x`` differs from this schema (empty when it matches)."""
        module = type(x).__module__.partition(".")[0]
        if module == "pandas" and self.kind == "frame" and hasattr(x, "columns"):
            return self._pandas_problems(x)
        if module == "numpy" and self.kind == "array" and hasattr(x, "dtype"):
            shape = x.shape  # dtype.str: no str() of the dtype object on the fast path
            if shape[1:] == self.shape and x.dtype.str == self.dtype:
                return []
            return self._array_problems(shape, str(x.dtype))
        # Frames only: a Series or an Arrow array falls through to shape and dtype.
        if (hasattr(x, "columns") and hasattr(x, "dtypes")) or (
                hasattr(x, "schema") and hasattr(x, "column_names")):
            columns, dtypes = _frame_columns(x, module)
            return self._frame_problems(columns, dtypes)
        if isinstance(x, Mapping):
            return self._frame_problems([str(k) for k in x], None)
        if isinstance(x, (list, tuple)):
            return self._rows_problems(x)
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is not None and dtype is not None:
            return self._array_problems(tuple(shape), str(dtype))
        raise ModelverError(f"cannot check an input of type {type(x).__module__}."
                            f"{type(x).__qualname__} against the signature: pass a frame, "
                            "an array or a tensor, or load with check_input=False")

    def _pandas_problems(self, x: Any) -> list[str]:
        """A pandas frame: what passed last time (the same columns object, the same dtype
        objects) is not checked again, so a serving loop pays a few microseconds."""
        columns = x.columns
        # ``_mgr.get_dtypes()`` is pandas' own array of the column dtypes, without the
        # Series that the public ``DataFrame.dtypes`` builds (~25 µs for 30 columns).
        get = getattr(getattr(x, "_mgr", None), "get_dtypes", None)
        dtypes = tuple(get() if get is not None else x.dtypes)
        memo = _PASSED.get(id(self))
        if memo is not None and memo[0]() is self and memo[2] == dtypes:
            if memo[1] is columns:
                return []
            try:  # another Index with the same names (a new frame per request)
                same = bool(columns.equals(memo[1]))
            except Exception:  # an odd Index subclass: check it the long way
                same = False
            if same:
                _PASSED[id(self)] = (memo[0], columns, dtypes)
                return []
        names = [c if type(c) is str else str(c) for c in columns.tolist()]
        found = self._frame_problems(names, [_dtype_text(d) for d in dtypes])
        if not found:
            if len(_PASSED) > 1024:
                _PASSED.clear()
            _PASSED[id(self)] = (weakref.ref(self), columns, dtypes)
        return found

    def _frame_problems(self, columns: list[str], dtypes: list[str] | None) -> list[str]:
        if self.kind != "frame":
            shape = self.shape or ()
            if len(shape) == 1 and len(columns) != shape[0]:
                return [f"expected {shape[0]} features, got a frame of {len(columns)} columns"]
            return []
        out: list[str] = []
        expected = self.columns
        if tuple(columns) != expected:
            have = set(columns)
            missing = [c for c in expected if c not in have]
            colset = frozenset(expected)
            extra = [c for c in columns if c not in colset]
            if missing:
                out.append(f"missing columns {_names(missing)}")
            if extra:
                out.append(f"extra columns {_names(extra)}")
            if not missing and not extra:
                out.append("columns in another order than in training: expected "
                           f"{_names(list(expected))}")
        if dtypes is None:
            return out
        families = [_family(d) for d in self.dtypes]  # each family is remembered
        position = dict(zip(expected, range(len(expected)), strict=True)) if out else None
        for i, (column, dtype) in enumerate(zip(columns, dtypes, strict=True)):
            j = i if position is None else position.get(column)
            if j is None or families[j] is None:
                continue
            if _family(dtype) != families[j]:
                out.append(f"column {column!r} has dtype {dtype}, expected {self.dtypes[j]}")
        return out

    def _array_problems(self, shape: tuple[Any, ...], dtype: str) -> list[str]:
        if self.kind == "frame":
            if len(shape) != 2 or int(shape[1]) != len(self.columns):
                return [f"expected {len(self.columns)} columns ({_names(list(self.columns))}),"
                        f" got an array of shape {tuple(int(s) for s in shape)}"]
            return []
        out = []
        tail = tuple(int(s) for s in shape[1:])
        if self.shape is not None and tail != self.shape:
            out.append(f"trailing shape {tail} (shape {tuple(int(s) for s in shape)}), "
                       f"expected {self.shape} (shape (n, {', '.join(map(str, self.shape))}))")
        if self.dtype is not None and _family(dtype) != _family(self.dtype):
            out.append(f"dtype {dtype}, expected {_family(self.dtype)}")
        return out

    def _rows_problems(self, rows: list[Any] | tuple[Any, ...]) -> list[str]:
        if not rows:
            return []
        first = rows[0]
        if isinstance(first, Mapping):
            return self._frame_problems([str(k) for k in first], None)
        width = len(first) if isinstance(first, (list, tuple)) else None
        want = len(self.columns) if self.kind == "frame" else (
            self.shape[0] if self.shape and len(self.shape) == 1 else None)
        if want is not None and width is not None and width != want:
            return [f"rows of {width} values, expected {want}"]
        if self.kind == "array" and self.shape == () and width is not None:
            return [f"rows of {width} values, expected one value per row"]
        return []


def _frame_columns(x: Any, module: str) -> tuple[list[str], list[str] | None]:
    """Column names and dtype texts of a pandas, polars or pyarrow frame."""
    if module == "pyarrow" or (hasattr(x, "schema") and hasattr(x, "column_names")):
        schema = x.schema
        return list(schema.names), [str(t) for t in schema.types]
    columns = x.columns
    names = columns if module == "polars" else [c if type(c) is str else str(c)
                                                 for c in columns]
    dtypes = x.dtypes
    return list(names), [_dtype_text(d) for d in dtypes]


_DTYPE_TEXT: dict[Any, str] = {}
# Per schema (by id, checked through a weak reference): the pandas columns object and
# dtypes that passed last; holding them keeps that Index alive, nothing more.
_PASSED: dict[int, tuple[weakref.ref[InputSchema], Any, tuple[Any, ...]]] = {}


def _dtype_text(dtype: Any) -> str:
    """``str(dtype)``, remembered per dtype object (numpy dtypes are few and hashable)."""
    try:
        return _DTYPE_TEXT[dtype]
    except (KeyError, TypeError):
        text = str(dtype)
    try:
        if len(_DTYPE_TEXT) < 1024:
            _DTYPE_TEXT[dtype] = text
    except TypeError:
        pass
    return text



def mismatch(key: str, found: list[str]) -> SchemaMismatch:
    """The error for an input that differs from the signature's input ``key``."""
    return SchemaMismatch(f"the input does not match the signature of {key!r}: "
                          + "; ".join(found), found)

@attrs.frozen
class Signature:
    """The input schema of a model version, from its training data.

    ``inputs`` holds one :class:`InputSchema` per data key of the run that is a frame,
    an array or a tensor; ``default`` is the key :meth:`check` uses when it is given
    none: the only input, or the one matching the model's features (``None`` when
    that is ambiguous; then pass ``key=``).
    """

    inputs: tuple[InputSchema, ...]
    default: str | None = None

    @property
    def keys(self) -> list[str]:
        """The data keys with a schema."""
        return [i.key for i in self.inputs]

    def input(self, key: str | None = None) -> InputSchema:
        """The schema of ``key`` (default: :attr:`default`)."""
        if key is None:
            if self.default is None:
                raise ModelverError(f"this signature has several inputs ({', '.join(self.keys)})"
                                    "; say which one to check with key=")
            key = self.default
        for schema in self.inputs:
            if schema.key == key:
                return schema
        raise ModelverError(f"this signature has no input {key!r}; it has "
                            f"{', '.join(self.keys) or 'none'}")

    def problems(self, x: Any, key: str | None = None) -> list[str]:
        """Every way ``x`` differs from input ``key`` (empty when it matches)."""
        return self.input(key).problems(x)

    def check(self, x: Any, key: str | None = None) -> None:
        """Raise :class:`~modelver.SchemaMismatch` naming every missing and extra column,
        every dtype mismatch and a wrong trailing shape; return None when ``x`` matches."""
        schema = self.input(key)
        found = schema.problems(x)
        if found:
            raise mismatch(schema.key, found)

    @classmethod
    def infer(cls, x: Any, key: str = "X") -> Signature:
        """The signature of one sample input: a pandas, polars or pyarrow frame, a numpy
        array or a torch tensor (anything with ``shape`` and ``dtype``)."""
        return cls((_infer(key, x),), key)

    def __str__(self) -> str:
        return "\n".join(f"{s.key}{' (default)' if s.key == self.default else ''}: {s}"
                         for s in self.inputs)


def _infer(key: str, x: Any) -> InputSchema:
    module = type(x).__module__.partition(".")[0]
    if module in ("pandas", "polars", "pyarrow") and (hasattr(x, "columns")
                                                       or hasattr(x, "column_names")):
        columns, dtypes = _frame_columns(x, module)
        return InputSchema(key, "frame", tuple(columns), tuple(dtypes or ()), library=module)
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None and dtype is not None and len(shape) >= 1:
        text = getattr(dtype, "str", None) if module == "numpy" else None
        return InputSchema(key, "array", dtype=str(text or dtype),
                           shape=tuple(int(s) for s in shape[1:]), library=module)
    raise ModelverError(f"cannot infer a signature from a {type(x).__module__}."
                        f"{type(x).__qualname__}: pass a frame, an array or a tensor")


_LIBRARIES = {"dataframe": "pandas", "polars-frame": "polars", "arrow-table": "pyarrow",
              "arrow-dataset": "pyarrow", "file": "file", "ndarray": "numpy",
              "tensor": "torch"}


def _schema_of(key: str, fp: Any) -> InputSchema | None:
    """The input schema of one recorded ``DataFingerprint``, None if it is no input."""
    schema = fp.schema
    if not schema or fp.kind not in _LIBRARIES:
        return None
    library = _LIBRARIES[fp.kind]
    columns = schema.get("columns")
    if isinstance(columns, Mapping):
        return InputSchema(key, "frame", tuple(map(str, columns)),
                           tuple(str(d) for d in columns.values()), library=library)
    if isinstance(columns, list):
        return InputSchema(key, "frame", tuple(map(str, columns)),
                           (None,) * len(columns), library=library)
    if "shape_tail" in schema and "dtype" in schema:
        return InputSchema(key, "array", dtype=str(schema["dtype"]),
                           shape=tuple(int(s) for s in schema["shape_tail"]), library=library)
    return None


def model_inputs(obj: Any) -> dict[str, Any] | None:
    """What a fitted model says about its inputs: ``feature_names_in_`` and
    ``n_features_in_`` (scikit-learn and compatible), else None."""
    if isinstance(obj, Mapping):
        obj = obj.get("model")
    out: dict[str, Any] = {}
    try:
        names = getattr(obj, "feature_names_in_", None)
        count = getattr(obj, "n_features_in_", None)
    except Exception:  # a property that raises on an unfitted model
        return None
    if names is not None:
        with contextlib.suppress(TypeError):
            out["names"] = [str(n) for n in names]
    if isinstance(count, int) and not isinstance(count, bool):
        out["count"] = count
    return out or None


def _matches(schema: InputSchema, hints: Mapping[str, Any]) -> bool:
    names, count = hints.get("names"), hints.get("count")
    if schema.kind == "frame":
        if names is not None:
            return set(names) <= set(schema.columns)
        return count is None or len(schema.columns) in (count, count + 1)
    return count is None or schema.shape == (count,)


def derive(data: Mapping[str, Any], hints: Mapping[str, Any] | None = None
           ) -> Signature | None:
    """The signature of a run's data (key → ``DataFingerprint``: its frames, arrays and
    tensors), narrowed to the
    model's features where it names them; None when no input has a schema."""
    schemas = [s for k, fp in data.items() if (s := _schema_of(k, fp)) is not None]
    if not schemas:
        return None
    hints = hints or {}
    names = hints.get("names")
    if names is not None:  # the columns the model was fitted on, in its order
        schemas = [_narrow(s, names) if s.kind == "frame" and set(names) <= set(s.columns)
                   else s for s in schemas]
    default = None
    candidates = schemas
    if len(candidates) > 1 and hints:
        candidates = [s for s in candidates if _matches(s, hints)] or candidates
    if len(candidates) > 1:  # 1-D arrays beside others are labels
        candidates = [s for s in candidates if s.kind == "frame" or s.shape] or candidates
    if len(candidates) == 1:
        default = candidates[0].key
    return Signature(tuple(schemas), default)


def _narrow(schema: InputSchema, names: list[str]) -> InputSchema:
    dtypes = dict(zip(schema.columns, schema.dtypes, strict=True))
    return attrs.evolve(schema, columns=tuple(names), dtypes=tuple(dtypes[n] for n in names))


def from_given(value: Any) -> Signature:
    """``register(..., signature=…)``: a :class:`Signature`, or a sample input."""
    return value if isinstance(value, Signature) else Signature.infer(value)
