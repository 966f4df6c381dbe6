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
* ``user_code``: the snapshot's ``reach`` walks, when a run starts, to every user
  function, class and constant the code reaches (:mod:`modelver._capture.closure`);
  each one's digest is part of :func:`code_identity`.

Source is read at decoration time and cached per code object (see
:mod:`modelver._capture.source`); a block whose ``def`` is not the function's name is
not trusted (the file was edited before the snapshot) and the bytecode stands in.

No digest here uses ``hash()`` (salted per process) or pickles.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import os
import re
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._records import CodeInfo
from .._serde import canonical, json_digest
from .git import GitState, sanitize_url
from .source import Static, static

if TYPE_CHECKING:
    from .closure import Reached

__all__ = ["CodeSnapshot", "code_identity", "module_files", "module_path", "snapshot_caller",
           "snapshot_function", "with_git"]

_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+")  # the default repr's memory address
_MAX_DEPTH = 64  # nesting below this is hashed by repr (and marked unstable)


@attrs.frozen
class CodeSnapshot:
    """A function's :class:`~modelver._records.CodeInfo` and the blobs it names.

    ``info`` has its git fields left ``None`` (see :func:`with_git`); ``blobs`` maps
    ``"sha256:<hex>"`` digests to bytes to store: the function's source (UTF-8) under
    ``info.source_digest`` and the module file under ``info.module_digest``. ``reach``
    walks the user code the function reaches (see :mod:`modelver._capture.closure`);
    it is called when a run starts, since helpers may be defined after the decorator.
    """

    info: CodeInfo
    blobs: dict[str, bytes]
    reach: Callable[[], Reached] | None = attrs.field(default=None, eq=False)


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
    facts = static(target.__code__, target.__globals__)
    closure_hash, closure_stable = _closure_hash(target)
    info = CodeInfo(
        function=target.__qualname__,
        module=target.__module__,
        function_hash=facts.function_hash,
        bytecode_hash=facts.bytecode_hash,
        closure_hash=closure_hash,
        module_hash=facts.module_hash,
        python=_PYTHON,
        stable=facts.function_hash is not None and closure_stable,
        source_file=facts.source_file,
        source_digest=facts.function_hash,
        module_digest=facts.module_hash,
    )
    from .closure import reach_function

    return CodeSnapshot(info=info, blobs=_blobs(facts),
                        reach=functools.partial(reach_function, target))


def snapshot_caller(frame: types.FrameType) -> CodeSnapshot:
    """Hash the code running in ``frame``: the code around a ``with training(...)`` block.

    Inside a function this is that function's source, and the values of its free
    variables (read from the frame) as its closure; at module level, or in a notebook
    cell, it is the whole module or cell text. Never raises.
    """
    code = frame.f_code
    facts = static(code, frame.f_globals)
    walk = _Walk()
    closure_hash: str | None = None
    values: dict[str, Any] = {}
    if code.co_freevars:
        f_locals = frame.f_locals
        values = {name: f_locals[name] for name in code.co_freevars if name in f_locals}
        cells = [[name, _value_token(values[name], walk, 0) if name in values
                  else ["empty"]] for name in code.co_freevars]
        closure_hash = json_digest(cells)
    module = frame.f_globals.get("__name__")
    info = CodeInfo(
        function=getattr(code, "co_qualname", code.co_name),  # co_qualname is 3.11+
        module=module if isinstance(module, str) else None,
        function_hash=facts.function_hash,
        bytecode_hash=facts.bytecode_hash,
        closure_hash=closure_hash,
        module_hash=facts.module_hash,
        python=_PYTHON,
        stable=facts.function_hash is not None and walk.stable,
        source_file=facts.source_file,
        source_digest=facts.function_hash,
        module_digest=facts.module_hash,
    )
    from .closure import reach

    return CodeSnapshot(info=info, blobs=_blobs(facts),
                        reach=functools.partial(reach, code, frame.f_globals, values))


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


def module_path(module: str, file: str) -> str:
    """Where a module's file goes under its import root: ``pkg/mod.py``,
    ``pkg/__init__.py``, or the file's own name for ``__main__`` and notebooks."""
    name = os.path.basename(file)
    if module in ("__main__", "") or module.startswith("__"):
        return name
    parts = module.split(".")
    if name == "__init__.py":
        return "/".join([*parts, name])
    return "/".join([*parts[:-1], parts[-1] + os.path.splitext(name)[1]])


def module_files(info: CodeInfo, blobs: dict[str, bytes], modules: set[str]
                 ) -> dict[str, str]:
    """The whole files of the function's module (as read when it was decorated) and of
    the user modules its code reaches (as they are now), ``{module_path: text}``."""
    out: dict[str, str] = {}
    if info.module and info.source_file and info.module_digest in blobs:
        text = blobs[str(info.module_digest)].decode("utf-8", "surrogateescape")
        out[module_path(info.module, info.source_file)] = text
    for name in sorted(modules - {info.module or ""}):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        try:
            with open(file, encoding="utf-8", errors="surrogateescape") as f:
                out[module_path(name, file)] = f.read()
        except OSError:
            continue
    return out


def code_identity(info: CodeInfo, *, reached: bool = True) -> str:
    """The digest that says whether code changed: the function's source and its closure,
    and (with ``reached``, when recorded) the digest of every user function, class and
    constant it reaches.

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
    identity: dict[str, Any] = {"code": code, "closure": info.closure_hash}
    if reached and info.user_code is not None:
        identity["reached"] = info.user_code
    return json_digest(identity)


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


def _blobs(facts: Static) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    if facts.function_hash is not None and facts.source is not None:
        blobs[facts.function_hash] = facts.source
    if facts.module_hash is not None and facts.module_source is not None:
        blobs[facts.module_hash] = facts.module_source
    return blobs


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
        facts = static(value.__code__, value.__globals__)
        code = facts.function_hash or ["bytecode", _PYTHON, facts.bytecode_hash]
        if facts.function_hash is None:
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


