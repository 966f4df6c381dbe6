"""Artifacts as manifests of per-file blobs (a Merkle tree), in and out of a store.

In, :func:`store_artifact`: the chosen format writes the model as files into a
temporary folder in the store's staging area; each file is hashed once and published
as a blob (moved, not copied, into a local store; uploaded, in parallel, to a remote
one, skipping blobs it already has). A manifest, canonical JSON listing each file's
digest and size with the format and what it needs to load, is published last: its
digest is the version's digest. Files shared by two versions (a tokenizer, a base
model's weights) are one blob. A bundle's manifest lists its members' manifests.

Out, :func:`load_tree`: the manifest is read and hashed; its files are materialized
once into a read-only folder named by the manifest's digest, hard-linked from the blob
store where it can (copied otherwise), each file hashed on the way in; a folder
materialized earlier is hashed again on every load, and a file changed, added or
removed there is never served: the folder is materialized again from the blobs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._blobs import hash_stream
from ._errors import (
    EnvironmentWarning,
    IntegrityError,
    ModelverError,
    NotFound,
    StoreError,
    UnsafeFormat,
)
from ._materialize import Source, blob_file, parallel

if TYPE_CHECKING:
    from ._records import ModelVersion
    from .formats import Format

__all__ = ["MANIFEST_KIND", "Sink", "Stored", "check_safe", "load_tree", "put_manifest",
           "read_manifest", "store_artifact", "warn_environment"]

MANIFEST_KIND = "modelver-artifact/1"


class Sink(Protocol):
    """What storing needs from a backend."""

    @property
    def staging_dir(self) -> str:
        """A folder for files about to become blobs."""

    def put_file(self, path: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Store a file as a blob (``digest`` trusted; ``move`` hands the file over)."""


@attrs.frozen
class Stored:
    """An artifact written into a store: what its version records."""

    digest: str
    size: int
    format: str
    blobs: list[str] = attrs.field(factory=list)
    artifacts: dict[str, Any] = attrs.field(factory=dict)  # member -> Artifact
    requirements: dict[str, str] = attrs.field(factory=dict)
    inputs: dict[str, Any] | None = None  # what the model says it was fitted on (signatures)


def _module_version(module: str) -> str | None:
    mod = sys.modules.get(module)
    if mod is None:
        import importlib

        try:
            mod = importlib.import_module(module)
        except ImportError:
            return None
    version = getattr(mod, "__version__", None)
    return str(version) if version is not None else None


# -- in ------------------------------------------------------------------------------------

def store_artifact(obj: Any, sink: Sink, *, extras: Mapping[str, Any] | None = None
                   ) -> Stored:
    """Write ``obj`` (with ``extras`` as more bundle members) into ``sink``.

    Raises a ``ModelverError`` saying what to register instead when the format cannot
    write the object; nothing is published then.
    """
    from .formats import _registry

    if extras:
        from .formats._basic import member_name_ok

        if "model" in extras:
            raise ModelverError("log_artifact('model', ...) clashes with the run's model: "
                                "name the extra artifact otherwise")
        obj = {"model": obj, **extras}
        for key in obj:
            if not member_name_ok(key):
                raise ModelverError(f"cannot name an artifact {key!r}: use letters, digits, "
                                    "'_', '-' and '.'")
    fmt = _registry.choose(obj)
    if fmt.name != "bundle":
        return _store_one(obj, fmt, sink)
    from ._records import Artifact

    members = {key: _store_one(value, _registry.choose(value, member=True), sink)
               for key, value in obj.items()}
    manifest = {"kind": MANIFEST_KIND, "format": "bundle", "meta": {"order": list(obj)},
                "members": {k: [m.digest, m.format, m.size] for k, m in members.items()}}
    digest = put_manifest(manifest, sink)
    blobs = sorted({d for m in members.values() for d in (m.digest, *m.blobs)})
    requirements: dict[str, str] = {}
    for m in members.values():
        requirements.update(m.requirements)
    return Stored(digest, sum(m.size for m in members.values()), "bundle", blobs,
                  {k: Artifact(m.digest, m.format, m.size) for k, m in members.items()},
                  dict(sorted(requirements.items())))


def put_manifest(manifest: dict[str, Any], sink: Sink) -> str:
    """Publish a manifest from a staged file, as the files were: a remote store keeps
    this machine's copy, from which a registration puts it back if a concurrent ``gc``
    took it before the version was recorded."""
    import hashlib

    from ._serde import canonical

    data = canonical(manifest).encode("utf-8")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        fd, tmp = tempfile.mkstemp(dir=sink.staging_dir, prefix="manifest-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise StoreError(f"cannot write to the staging folder {sink.staging_dir!r}: {exc}"
                         ) from None
    try:
        return sink.put_file(tmp, digest=digest, move=True)[0]
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _store_one(obj: Any, fmt: Format, sink: Sink) -> Stored:
    staging = sink.staging_dir
    try:
        tmp = tempfile.mkdtemp(dir=staging, prefix="save-")
    except OSError as exc:
        raise StoreError(f"cannot write to the staging folder {staging!r}: {exc}") from None
    try:
        try:
            meta = fmt.save(obj, Path(tmp))
            from ._serde import canonical

            canonical(meta or {})
        except (ModelverError, MemoryError):
            raise
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno is not None and exc.errno in (28, 122):
                raise StoreError(f"cannot write the model into the store's staging folder "
                                 f"{staging!r}: {exc}") from None
            hint = ("register bytes, a numpy array, a file or folder path, or a picklable "
                    "object" if fmt.name == "pickle" else
                    "register it in another way (its state_dict, a file it saves), or add "
                    "a format with modelver.formats.register")
            raise ModelverError(f"cannot store a {type(obj).__name__} as {fmt.name!r}: "
                                f"{type(exc).__name__}: {exc}; {hint}") from None
        files, dirs = _publish_tree(tmp, sink)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = {"kind": MANIFEST_KIND, "format": fmt.name, "meta": dict(meta or {}),
                "files": {rel: [d, size] for rel, (d, size) in files.items()}, "dirs": dirs}
    digest = put_manifest(manifest, sink)
    requirements = {m: v for m in fmt.requirements(obj) if (v := _module_version(m))}
    return Stored(digest, sum(size for _, size in files.values()), fmt.name,
                  sorted({d for d, _ in files.values()}), {}, dict(sorted(requirements.items())))


def _publish_tree(root: str, sink: Sink) -> tuple[dict[str, tuple[str, int]], list[str]]:
    """Publish every file under ``root`` as a blob: {relative path: (digest, size)}, and
    the folders that hold no file."""
    paths: list[str] = []
    dirs: list[str] = []
    for folder, subdirs, fnames in os.walk(root):
        subdirs.sort()
        rel = os.path.relpath(folder, root)
        if rel != "." and not fnames and not subdirs:
            dirs.append(rel.replace(os.sep, "/"))
        paths.extend(os.path.join(folder, f) for f in sorted(fnames))

    from .formats._base import written_digest

    def publish(path: str) -> tuple[str, int]:
        digest = written_digest(path)  # hashed while the format wrote it
        if digest is not None:
            return sink.put_file(path, digest=digest, move=True)
        try:
            with open(path, "rb") as f:
                digest, _ = hash_stream(f)
        except OSError as exc:
            raise StoreError(f"cannot read the staged file {path!r}: {exc}") from None
        return sink.put_file(path, digest=digest, move=True)

    results = parallel(publish, paths)
    files = {os.path.relpath(p, root).replace(os.sep, "/"): r
             for p, r in zip(paths, results, strict=True)}
    return files, dirs


# -- out -----------------------------------------------------------------------------------

def formats_of(mv: ModelVersion, artifact: str | None) -> list[str]:
    """The formats a load of ``mv`` (or one member) deserializes."""
    if mv.format != "bundle":
        if artifact is not None:
            raise NotFound(f"{mv.ref} is a single {mv.format!r} artifact, not a bundle: "
                           "load it without artifact=")
        return [mv.format]
    if artifact is None:
        return sorted({a.format for a in mv.artifacts.values()})
    if artifact not in mv.artifacts:
        from ._names import closest

        raise NotFound(f"{mv.ref} has no artifact {artifact!r}; it has "
                       f"{sorted(mv.artifacts)}{closest(artifact, list(mv.artifacts))}")
    return [mv.artifacts[artifact].format]


def check_safe(mv: ModelVersion, artifact: str | None) -> None:
    """Refuse, before anything is read, a load that would run code from the artifact."""
    from .formats import get

    unsafe = [f for f in formats_of(mv, artifact) if not get(f).safe]
    if unsafe:
        what = f"{mv.ref}" + (f" artifact {artifact!r}" if artifact else "")
        raise UnsafeFormat(f"{what} is stored as {', '.join(map(repr, unsafe))}, which runs "
                           "code when loaded; pass safe=False if you trust this store")


def read_manifest(source: Source, digest: str, what: str) -> dict[str, Any]:
    """A verified manifest."""
    data = _verified_bytes(source, digest, what)
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise IntegrityError(f"the artifact of {what} is not a modelver manifest; it was "
                             "not written by this modelver (upgrade modelver?)")
    return manifest


def _verified_bytes(source: Source, digest: str, what: str) -> bytes:
    for attempt in (0, 1):
        path = blob_file(source, digest, what)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"the artifact of {what} ({digest}) is missing from "
                           f"{source.uri!r}; run `modelver verify`") from None
        except OSError as exc:
            raise StoreError(f"cannot read the artifact of {what} at {path!r}: {exc}") from None
        import hashlib

        if "sha256:" + hashlib.sha256(data).hexdigest() == digest:
            return data
        if attempt or not source.discard_cached(digest):
            break
    raise IntegrityError(f"the artifact of {what} is corrupted: its manifest {digest} does not "
                         "hash to its name. Run `modelver verify`")


def load_tree(source: Source, digest: str, what: str, *, artifact: str | None,
              options: Mapping[str, Any], expected: str) -> Any:
    """The object an artifact holds (a bundle: the dict of its members, or one member);
    ``expected`` is the format the version's record names."""
    manifest = read_manifest(source, digest, what)
    if manifest.get("format") != expected:
        raise IntegrityError(f"the manifest of {what} holds a {manifest.get('format')!r} "
                             f"artifact, its record says {expected!r}. Run `modelver verify`")
    if manifest["format"] != "bundle":
        return _load_one(source, digest, manifest, what, options)
    members: dict[str, Any] = manifest.get("members") or {}
    order = [k for k in (manifest.get("meta") or {}).get("order", members) if k in members]
    if artifact is not None:
        if artifact not in members:
            raise NotFound(f"{what} has no artifact {artifact!r}")
        order = [artifact]
    out = {}
    for key in order:
        member_digest, member_format = members[key][0], members[key][1]
        sub = read_manifest(source, member_digest, f"{what} artifact {key!r}")
        if sub.get("format") != member_format:
            raise IntegrityError(f"the manifest of {what} artifact {key!r} holds a "
                                 f"{sub.get('format')!r} artifact, not {member_format!r}")
        out[key] = _load_one(source, member_digest, sub, f"{what} artifact {key!r}",
                             _member_options(options, key, len(order) > 1))
    return out[artifact] if artifact is not None else out


def _member_options(options: Mapping[str, Any], key: str, several: bool) -> dict[str, Any]:
    """A bundle's load options, for one member: ``into`` goes to the member ``model``."""
    out = dict(options)
    if several and "into" in out and key != "model":
        del out["into"]
    return out


def _load_one(source: Source, digest: str, manifest: dict[str, Any], what: str,
              options: Mapping[str, Any]) -> Any:
    from .formats import get

    fmt = get(str(manifest["format"]))
    given = {k: v for k, v in options.items() if v is not None}
    extra = sorted(set(given) - fmt.options - {"artifact"})
    if extra:
        raise ModelverError(f"the {fmt.name!r} format of {what} takes no option "
                            f"{', '.join(extra)}" + (f"; it takes {sorted(fmt.options)}"
                                                     if fmt.options else ""))
    from ._materialize import materialize

    path = materialize(source, digest, manifest, what)
    try:
        return fmt.load(path, manifest.get("meta") or {}, **given)
    except (ModelverError, MemoryError):
        raise
    except ImportError as exc:
        raise ModelverError(f"cannot load {what} ({fmt.name!r}): {exc}; install the package "
                            "it needs in this environment") from exc
    except Exception as exc:
        raise IntegrityError(f"the artifact of {what} matches its digest but cannot be loaded "
                             f"as {fmt.name!r}: {type(exc).__name__}: {exc}. Was it "
                             "registered with another version of its library?") from exc


_warned: set[tuple[str, str, str]] = set()


def warn_environment(mv: ModelVersion) -> None:
    """Warn once per package when the installed major.minor differs from the recorded."""
    for module, recorded in mv.requirements.items():
        mod = sys.modules.get(module)
        installed = getattr(mod, "__version__", None) if mod is not None else None
        if installed is None or _major_minor(str(installed)) == _major_minor(recorded):
            continue
        key = (module, recorded, str(installed))
        if key in _warned:
            continue
        _warned.add(key)
        warnings.warn(f"{mv.ref} was registered with {module} {recorded}; this environment "
                      f"has {installed}. If it misbehaves, install {module}=="
                      f"{recorded}", EnvironmentWarning, stacklevel=4)


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split("+")[0].split(".")[:2])




