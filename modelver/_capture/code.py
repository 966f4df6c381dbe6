"""Code capture: which function ran, hashed so that the same code gets the same identity.

:func:`snapshot_function` is called once, when a training function is decorated:

* ``function_hash`` is the sha256 of the function's source text, decorator lines
  included, as ``inspect.getsource`` gives it (after ``inspect.unwrap``). It is portable
  across Python versions and processes, and works for IPython cells (their source is in
  ``linecache``).
* ``bytecode_hash`` is always recorded too, with ``python`` (major.minor) since bytecode
  changes between versions. When there is no source (``exec`` of a string) it is the
  only identity and ``stable`` is False.
* ``closure_hash`` covers the values a closure captured, so ``make_step(0.1)`` and
  ``make_step(0.01)`` differ although their source and bytecode are the same. Plain data
  is hashed by value, functions by their code (recursively), numpy arrays (only when
  numpy is already imported) by dtype, shape and bytes; any other object by type and
  repr with memory addresses removed, which also makes ``stable`` False.
* ``module_hash`` is the sha256 of the module file's bytes (``None`` without a file,
  e.g. in a notebook). It is recorded but is not part of :func:`code_identity`, because
  it changes whenever unrelated code in the module does.

Source is read at decoration time and cached per code object: ``inspect.getsource``
re-reads the file, so reading it later would describe the file as edited since, not the
code that runs (and a block whose ``def`` is not the function's name is not trusted:
the file was edited before the snapshot; the bytecode stands in). The cache is keyed
by the code object's ``id`` (holding the object so the id cannot be reused): code objects
compare equal across files, so a dict keyed by the code object itself would mix up two
identical functions from two modules.

No digest here uses ``hash()`` (salted per process) or pickles.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import linecache
import os
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import attrs

from .._records import CodeInfo
from .._serde import canonical, json_digest
from .git import GitState, sanitize_url

__all__ = ["CodeSnapshot", "code_identity", "snapshot_caller", "snapshot_function", "with_git"]

_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")  # the default repr's memory address
_MAX_DEPTH = 64  # nesting below this is hashed by repr (and marked unstable)


@attrs.frozen
class CodeSnapshot:
    """A function's :class:`~modelver._records.CodeInfo` and the blobs it names.

    ``info`` has its git fields left ``None`` (see :func:`with_git`); ``blobs`` maps
    ``"sha256:<hex>"`` digests to bytes to store: the function's source (UTF-8) under
    ``info.source_digest`` and the module file under ``info.module_digest``.
    """

    info: CodeInfo
    blobs: dict[str, bytes]


@attrs.frozen
class _Static:
    """What depends on the code object only, read once and cached."""

    function_hash: str | None
    bytecode_hash: str
    module_hash: str | None
    source_file: str | None
    source: bytes | None
    module_source: bytes | None


_STATIC: dict[int, tuple[types.CodeType, _Static]] = {}


def snapshot_function(func: Callable[..., Any]) -> CodeSnapshot:
    """Hash ``func``'s code: call it once, at decoration time. Never raises.

    Wrappers are followed (``__wrapped__``, ``functools.partial``, bound methods,
    callable instances) to the function whose code runs; its ``__qualname__`` and
    ``__module__`` are recorded. A callable without Python code (a builtin) gets only
    its names, with ``stable=False``.
    """
    target = _target(func)
    if not isinstance(target, types.FunctionType):
        info = CodeInfo(function=getattr(target, "__qualname__", type(target).__qualname__),
                        module=getattr(target, "__module__", None), python=_PYTHON,
                        stable=False)
        return CodeSnapshot(info=info, blobs={})
    static = _static(target.__code__, target.__globals__)
    closure_hash, closure_stable = _closure_hash(target)
    info = CodeInfo(
        function=target.__qualname__,
        module=target.__module__,
        function_hash=static.function_hash,
        bytecode_hash=static.bytecode_hash,
        closure_hash=closure_hash,
        module_hash=static.module_hash,
        python=_PYTHON,
        stable=static.function_hash is not None and closure_stable,
        source_file=static.source_file,
        source_digest=static.function_hash,
        module_digest=static.module_hash,
    )
    return CodeSnapshot(info=info, blobs=_blobs(static))


def snapshot_caller(frame: types.FrameType) -> CodeSnapshot:
    """Hash the code running in ``frame``: the code around a ``with training(...)`` block.

    Inside a function this is that function's source, and the values of its free
    variables (read from the frame) as its closure; at module level, or in a notebook
    cell, it is the whole module or cell text. Never raises.
    """
    code = frame.f_code
    static = _static(code, frame.f_globals)
    walk = _Walk()
    closure_hash: str | None = None
    if code.co_freevars:
        f_locals = frame.f_locals
        cells = [[name, _value_token(f_locals[name], walk, 0) if name in f_locals
                  else ["empty"]] for name in code.co_freevars]
        closure_hash = json_digest(cells)
    module = frame.f_globals.get("__name__")
    info = CodeInfo(
        function=getattr(code, "co_qualname", code.co_name),  # co_qualname is 3.11+
        module=module if isinstance(module, str) else None,
        function_hash=static.function_hash,
        bytecode_hash=static.bytecode_hash,
        closure_hash=closure_hash,
        module_hash=static.module_hash,
        python=_PYTHON,
        stable=static.function_hash is not None and walk.stable,
        source_file=static.source_file,
        source_digest=static.function_hash,
        module_digest=static.module_hash,
    )
    return CodeSnapshot(info=info, blobs=_blobs(static))


def with_git(info: CodeInfo, git: GitState | None, diff_digest: str | None) -> CodeInfo:
    """``info`` with the git fields filled from ``git`` (all ``None`` when ``git`` is).

    ``diff_digest`` names the blob holding ``git.diff``; the caller stores that blob.
    """
    if git is None:
        return attrs.evolve(info, git_commit=None, git_branch=None, git_dirty=None,
                            git_remote=None, diff_digest=diff_digest)
    return attrs.evolve(
        info,
        git_commit=git.commit,
        git_branch=git.branch,
        git_dirty=git.dirty,
        git_remote=None if git.remote is None else sanitize_url(git.remote),
        diff_digest=diff_digest,
    )


def code_identity(info: CodeInfo) -> str:
    """The digest that says whether code changed: the function's source and its closure.

    Uses ``function_hash`` when there was source, else ``bytecode_hash`` with the Python
    version (bytecode identities only compare within one minor version). The module
    hash and git state are left out: they change with code the function does not run.
    """
    code: list[Any]
    if info.function_hash is not None:
        code = ["source", info.function_hash]
    elif info.bytecode_hash is not None:
        code = ["bytecode", info.python, info.bytecode_hash]
    else:
        code = ["name", info.module, info.function]
    return json_digest({"code": code, "closure": info.closure_hash})


# -- the code object: source, module file, bytecode -------------------------------------


def _target(func: Callable[..., Any]) -> Any:
    """The object whose code runs when ``func`` is called."""
    obj: Any = func
    for _ in range(16):
        try:
            obj = inspect.unwrap(obj)
        except ValueError:  # a __wrapped__ cycle
            return obj
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, types.MethodType):
            obj = obj.__func__
        elif (callable(obj)
              and not isinstance(obj, (types.FunctionType, type, types.BuiltinFunctionType))
              and isinstance(type(obj).__call__, types.FunctionType)):
            obj = type(obj).__call__  # a callable instance
        else:
            return obj
    return obj


def _blobs(static: _Static) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    if static.function_hash is not None and static.source is not None:
        blobs[static.function_hash] = static.source
    if static.module_hash is not None and static.module_source is not None:
        blobs[static.module_hash] = static.module_source
    return blobs


def _static(code: types.CodeType, module_globals: dict[str, Any] | None = None) -> _Static:
    entry = _STATIC.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    source = _read_source(code, module_globals)
    module_file, module_source = _read_module(code.co_filename)
    static = _Static(
        function_hash=None if source is None else _digest(source),
        bytecode_hash=_bytecode_hash(code),
        module_hash=None if module_source is None else _digest(module_source),
        source_file=module_file,
        source=source,
        module_source=module_source,
    )
    _STATIC[id(code)] = (code, static)
    return static


def _read_source(code: types.CodeType, module_globals: dict[str, Any] | None) -> bytes | None:
    """The source text of ``code`` as UTF-8, or ``None`` when it cannot be trusted.

    This is ``inspect.getsource`` without its ``inspect.getmodule`` call, which scans every
    module in ``sys.modules`` on first use (milliseconds, more with large frameworks).
    ``linecache`` reads the file fresh, asks the module's loader (zip imports), or returns
    the text IPython registered for a cell.
    """
    filename = code.co_filename
    try:
        linecache.checkcache(filename)
        lines = linecache.getlines(filename, module_globals)
        if code.co_name == "<module>":  # a script, module or notebook cell: all its text
            return "".join(lines).encode("utf-8", "surrogatepass") if lines else None
        start = code.co_firstlineno - 1  # the first decorator's line since Python 3.8
        if not 0 <= start < len(lines):
            return None
        text = "".join(inspect.getblock(lines[start:]))
    except Exception:  # tokenize and syntax errors on odd files, a loader that fails
        return None
    # getsource cuts the block at co_firstlineno of the file as it is now: if lines were
    # inserted above the function since import, the block is some other code.
    name = code.co_name
    if name == "<lambda>":
        found = "lambda" in text
    else:
        found = re.search(rf"\bdef\s+{re.escape(name)}\s*[(\[]", text) is not None
    return text.encode("utf-8", "surrogatepass") if found else None


def _read_module(filename: str) -> tuple[str | None, bytes | None]:
    """``(path, bytes)`` of the file the code came from, ``(None, None)`` without one."""
    if not filename or filename.startswith("<"):
        return None, None
    try:
        path = os.path.abspath(filename)
        with open(path, "rb") as f:
            return path, f.read()
    except (OSError, ValueError):  # IPython cell files that do not exist, zip imports
        return None, None


def _bytecode_hash(code: types.CodeType) -> str:
    """sha256 over ``co_code``, ``co_consts`` (nested code by its own hash), names, varnames."""
    payload = {
        "co_code": code.co_code.hex(),
        "co_consts": [_const_token(c) for c in code.co_consts],
        "co_names": list(code.co_names),
        "co_varnames": list(code.co_varnames),
    }
    return _digest(canonical(payload).encode("utf-8", "surrogatepass"))


def _const_token(c: Any) -> Any:
    """A stable, JSON-able stand-in for a code constant (frozensets sorted, not hashed)."""
    if isinstance(c, types.CodeType):
        return ["code", _bytecode_hash(c)]
    if c is None or c is Ellipsis or isinstance(c, bool):
        return [repr(c)]
    if isinstance(c, int):
        return ["int", hex(c)]  # hex: no 4300-digit str() limit
    if isinstance(c, str):
        return ["str", c]
    if isinstance(c, bytes):
        return ["bytes", c.hex()]
    if isinstance(c, (float, complex)):
        return [type(c).__name__, repr(c)]  # repr keeps nan, inf and -0.0 apart
    if isinstance(c, tuple):
        return ["tuple", [_const_token(x) for x in c]]
    if isinstance(c, frozenset):  # iteration order depends on the hash seed: sort
        return ["frozenset", sorted((_const_token(x) for x in c), key=canonical)]
    return ["other", type(c).__qualname__, repr(c)]


# -- closures -----------------------------------------------------------------------------


class _Walk:
    """State of one closure walk: objects on the current path, and whether all is stable."""

    def __init__(self) -> None:
        self.active: set[int] = set()
        self.stable = True


def _closure_hash(func: types.FunctionType) -> tuple[str | None, bool]:
    """``(digest of the captured values, stable)``; ``(None, True)`` without a closure."""
    if not func.__closure__:
        return None, True
    walk = _Walk()
    walk.active.add(id(func))
    tokens = _cells(func, walk)
    return json_digest(tokens), walk.stable


def _cells(func: types.FunctionType, walk: _Walk) -> list[Any]:
    out: list[Any] = []
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not assigned yet
            out.append([name, ["empty"]])
            continue
        out.append([name, _value_token(value, walk, 0)])
    return out


def _value_token(value: Any, walk: _Walk, depth: int) -> Any:
    try:
        return _token(value, walk, depth)
    except Exception:  # a __repr__, property or array method that raises
        walk.stable = False
        return ["unstable", _type_name(value), None]


def _token(value: Any, walk: _Walk, depth: int) -> Any:
    kind = type(value)
    if value is None or kind is bool:
        return [repr(value)]
    if kind is int:
        return ["int", hex(value)]
    if kind is float:
        return ["float", repr(value)]
    if kind is str:
        return ["str", value]
    if kind in (bytes, bytearray):
        return [kind.__name__, hashlib.sha256(value).hexdigest()]
    if isinstance(value, enum.Enum):
        return ["enum", _type_name(value), value.name]
    if isinstance(value, type):
        return ["type", f"{value.__module__}.{value.__qualname__}"]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, types.BuiltinFunctionType):
        return ["builtin", getattr(value, "__module__", None), value.__qualname__]
    array = _numpy_token(value)
    if array is not None:
        return array
    if id(value) in walk.active:
        return ["cycle"]
    if depth >= _MAX_DEPTH:
        return _unstable(value, walk)
    walk.active.add(id(value))
    try:
        return _nested_token(value, walk, depth + 1)
    finally:
        walk.active.discard(id(value))


def _nested_token(value: Any, walk: _Walk, depth: int) -> Any:
    if isinstance(value, types.FunctionType):
        static = _static(value.__code__, value.__globals__)
        code = static.function_hash or ["bytecode", _PYTHON, static.bytecode_hash]
        if static.function_hash is None:
            walk.stable = False
        return ["function", code, _cells(value, walk) if value.__closure__ else None]
    if isinstance(value, types.MethodType):
        return ["method", _token(value.__func__, walk, depth), _token(value.__self__, walk, depth)]
    if isinstance(value, functools.partial):
        return ["partial", _token(value.func, walk, depth), _token(value.args, walk, depth),
                _token(value.keywords, walk, depth)]
    if isinstance(value, (list, tuple)):
        return [type(value).__qualname__, [_token(x, walk, depth) for x in value]]
    if isinstance(value, (set, frozenset)):
        items = sorted((_token(x, walk, depth) for x in value), key=canonical)
        return [type(value).__qualname__, items]
    if isinstance(value, dict):
        pairs = [[_token(k, walk, depth), _token(v, walk, depth)] for k, v in value.items()]
        return [type(value).__qualname__, sorted(pairs, key=lambda p: canonical(p[0]))]
    return _unstable(value, walk)


def _numpy_token(value: Any) -> list[Any] | None:
    """Arrays by dtype, shape and data; numpy scalars by value. Only if numpy is imported."""
    np = sys.modules.get("numpy")
    if np is None:
        return None
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return ["numpy-scalar", str(value.dtype), repr(value.item())]
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        data = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return ["ndarray", value.dtype.str, list(value.shape), data]
    return None


def _unstable(value: Any, walk: _Walk) -> list[Any]:
    """A value known only by type and repr (memory addresses removed): maybe not stable."""
    walk.stable = False
    try:
        text: str | None = _ADDRESS.sub("at 0x?", repr(value))
    except Exception:  # repr itself may fail, or recurse too deep
        text = None
    return ["unstable", _type_name(value), text]


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
