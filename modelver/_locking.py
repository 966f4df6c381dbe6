"""Lock files: pin references to exact versions and digests for tests and serving.

``modelver.lock`` is TOML, sorted and diff-friendly::

    [models.fraud]
    ref = "prod"
    version = "1.0.0"
    digest = "sha256:…"

With a lock in force (``use_lock(path)``, ``MODELVER_LOCK``, or, while pytest runs a
test, a ``modelver.lock`` beside the project's ``pyproject.toml``) ``load(name, ref)``
returns the locked
version whatever the alias says now, and refuses names the lock does not pin.
``pin(fraud="1.2.0")`` does the same for a ``with`` block, in code, without a file
(the pytest plugin's ``@pytest.mark.modelver`` uses it); pins win over the lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping

import attrs

from ._errors import InvalidName, NotFound
from ._names import check_name
from ._records import ModelVersion

Resolve = Callable[[str, str], ModelVersion]
"""Resolves ``(name, ref)`` to a version: a store's ``resolve``."""

__all__ = [
    "LockEntry", "LockFile", "LockMove", "check_lock", "lock", "locked_ref", "pin", "read_lock",
    "use_lock", "write_lock",
]

LOCK_NAME = "modelver.lock"


@attrs.frozen
class LockEntry:
    """One pinned model: the reference it was locked from, the version and its digest."""

    name: str
    ref: str
    version: str
    digest: str


@attrs.frozen
class LockFile:
    """A parsed lock file."""

    path: str
    models: dict[str, LockEntry]


_explicit: dict[str, LockFile | None] = {}
_pins: list[dict[str, str]] = []


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_lock(path: str, entries: Iterable[LockEntry]) -> LockFile:
    """Write a lock file (sorted by name) atomically."""
    models = {e.name: e for e in entries}
    lines = ["# modelver lock file: exact versions and digests. Regenerate with `modelver lock`.",
             ""]
    for name in sorted(models):
        e = models[name]
        lines += [f"[models.{_toml_str(name)}]", f"ref = {_toml_str(e.ref)}",
                  f"version = {_toml_str(e.version)}", f"digest = {_toml_str(e.digest)}", ""]
    path = _lock_path(path)
    if os.path.isdir(path):
        raise InvalidName(f"lock file {path!r} is a folder; name a file such as "
                          f"{os.path.join(path, LOCK_NAME)!r}")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InvalidName(f"cannot write the lock file {path!r}: {exc}") from None
    return LockFile(os.path.abspath(path), models)


def _lock_path(path: object) -> str:
    """A lock file path: a string or ``os.PathLike`` (not a file descriptor)."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path or "\0" in path:
        raise InvalidName(f"a lock file path must be a non-empty string, not {path!r}")
    return path


_PARSED: dict[str, tuple[int, LockFile]] = {}


def read_lock(path: str) -> LockFile:
    """Parse a lock file (cached while its mtime holds); a malformed one raises
    ``InvalidName`` saying where."""
    path = _lock_path(path)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = -1
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    lock = _parse_lock(path)
    _PARSED[path] = (mtime, lock)
    return lock


def _parse_lock(path: str) -> LockFile:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise NotFound(f"lock file {path!r} does not exist; create it with `modelver lock`"
                       ) from None
    except IsADirectoryError:
        raise InvalidName(f"lock file {path!r} is a folder, not a file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidName(f"lock file {path!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InvalidName(f"cannot read the lock file {path!r}: {exc}") from None
    models: dict[str, LockEntry] = {}
    table = data.get("models", {})
    if not isinstance(table, dict):
        raise InvalidName(f"lock file {path!r}: 'models' must be a table of [models.NAME]")
    for name, entry in table.items():
        try:
            models[check_name(name)] = LockEntry(check_name(name), str(entry["ref"]),
                                                 str(entry["version"]), str(entry["digest"]))
        except (KeyError, TypeError):
            raise InvalidName(f"lock file {path!r}: [models.{name}] needs ref, version and "
                              "digest") from None
    return LockFile(os.path.abspath(path), models)


def use_lock(path: str | None) -> LockFile | None:
    """Put a lock file in force for this process (None turns locking off)."""
    if path is None:
        _explicit.clear()
        _explicit["off"] = None
        return None
    lock = read_lock(_lock_path(path))
    _explicit.clear()
    _explicit["lock"] = lock
    return lock


@contextlib.contextmanager
def pin(refs: Mapping[str, str] | None = None, /, **more: str) -> Iterator[dict[str, str]]:
    """Pin models to versions (or any reference) for the body of a ``with`` block.

    Inside it, ``load(name, ref)`` of a pinned name loads the pinned version whatever
    ``ref`` says (an exact version or digest is still loaded as given)::

        with modelver.pin(fraud="1.2.0", **{"fraud-ft": "0.3.0"}):
            model = modelver.load("fraud", "prod")     # 1.2.0

    Pins nest (the innermost wins) and take precedence over a lock file; they hold for
    the whole process, not one thread. Names are checked and made canonical (lowercase);
    yields the pins in force for this block.
    """
    pins = {check_name(name): str(ref) for name, ref in {**(refs or {}), **more}.items()}
    _pins.append(pins)
    try:
        yield dict(pins)
    finally:
        for i in reversed(range(len(_pins))):
            if _pins[i] is pins:
                del _pins[i]
                break


def _find_lock() -> LockFile | None:
    if "off" in _explicit:
        return None
    if "lock" in _explicit:
        return _explicit["lock"]
    env = os.environ.get("MODELVER_LOCK")
    if env:
        return read_lock(env)
    if "PYTEST_CURRENT_TEST" not in os.environ:
        # A serving process that runs from the project folder must follow promote and
        # rollback: the lock beside pyproject.toml pins tests, nothing else.
        return None
    here = os.getcwd()
    while True:
        if os.path.exists(os.path.join(here, "pyproject.toml")):
            candidate = os.path.join(here, LOCK_NAME)
            return read_lock(candidate) if os.path.exists(candidate) else None
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def active_lock() -> LockFile | None:
    """The lock file in force, if any."""
    return _find_lock()


def locked_ref(name: str, ref: str, *, lock_file: bool = True) -> LockEntry | None:
    """The pinned entry for a load of ``name``, or None when no lock/pin is in force
    (``lock_file=False``: pins only)."""
    for pins in reversed(_pins):
        if name in pins:
            return LockEntry(name, ref, pins[name], "")
    lock = _find_lock() if lock_file else None
    if lock is None:
        return None
    entry = lock.models.get(name)
    if entry is None:
        raise NotFound(f"{name!r} is not pinned in the lock file {lock.path}; add it with "
                       f"`modelver lock {name}@{ref}` or turn the lock off")
    return entry


def lock(resolve: Resolve, refs: Iterable[str], path: str = LOCK_NAME) -> LockFile:
    """Resolve ``name@ref`` references to exact versions and digests and write a lock.

    With no references, the references already in the lock file are resolved again.
    """
    from ._resolve import split_ref

    path = _lock_path(path)
    refs = list(refs)
    if not refs and os.path.exists(path):
        refs = [f"{e.name}@{e.ref}" for e in read_lock(path).models.values()]
    entries: dict[str, LockEntry] = {}
    for text in refs:
        name, ref = split_ref(text)
        if name in entries and entries[name].ref != ref:
            raise InvalidName(f"{name!r} is named twice ({name}@{entries[name].ref} and "
                              f"{text}); a lock pins one reference per model")
        mv = resolve(name, ref)
        entries[name] = LockEntry(name, ref, mv.version, mv.digest)
    if not entries:
        raise InvalidName("nothing to lock: name at least one NAME@REF")
    return write_lock(path, entries.values())


@attrs.frozen
class LockMove:
    """A locked reference that now resolves elsewhere."""

    name: str
    ref: str
    locked: str
    now: str

    def __str__(self) -> str:
        return f"{self.name}@{self.ref}: locked {self.locked}, now {self.now}"


def check_lock(resolve: Resolve, path: str = LOCK_NAME) -> list[LockMove]:
    """The locked references that resolve to another version (or digest) today."""
    moves = []
    for name, entry in sorted(read_lock(path).models.items()):
        mv = resolve(name, entry.ref)
        if mv.version != entry.version or mv.digest != entry.digest:
            now = mv.version if mv.version != entry.version else f"{mv.version} ({mv.digest})"
            moves.append(LockMove(name, entry.ref, entry.version, now))
    return moves
