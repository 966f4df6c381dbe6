"""Exporting an artifact: a version's files, written out in their native form.

``modelver get NAME@REF -o PATH`` (:meth:`Store.export <modelver.Store.export>`) writes
the files a format saved, exactly as its manifest lists them, into the folder ``PATH``:
a ``file`` artifact is its one file under its original name, a ``folder`` its tree, a
``skops``/``hf``/``safetensors``/``npy``… artifact the files the format wrote (a
``model.skops``, a ``save_pretrained`` folder), a bundle one subfolder per member.

Every file is copied from its blob while being hashed, into a temporary name beside
its destination, and renamed into place only when it hashes to the manifest's digest;
the files are the caller's own (writable), not the store's read-only materialized
copy. A non-empty ``PATH`` is refused unless ``force=True``, which replaces the files
of the same names and leaves the others alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ModelverError, NotFound, StoreError
from ._materialize import Source, check_rel, copy_verified

if TYPE_CHECKING:
    from ._records import ModelVersion

__all__ = ["export_artifact"]


def export_artifact(mv: ModelVersion, source: Source, dest: str | os.PathLike[str], *,
                    artifact: str | None = None, force: bool = False) -> Path:
    """Write the files of ``mv``'s artifact (or of one bundle member) into the folder
    ``dest``; returns the path written: the file of a ``file`` artifact, else ``dest``."""
    from ._artifacts import read_manifest

    if mv.deleted is not None:
        raise NotFound(f"{mv.ref} was deleted by retention at {mv.deleted.at.isoformat()} "
                       f"({mv.deleted.reason}); export another version")
    if mv.schema_version < 2:
        raise ModelverError(f"{mv.ref} was registered by an older modelver as one blob, "
                            "not as files: load it with modelver.load and register it again")
    if not isinstance(force, bool):
        raise ModelverError(f"force must be True or False, not {force!r}")
    target = _prepare(dest, force)
    manifest = read_manifest(source, mv.digest, mv.ref)
    if manifest.get("format") == "bundle":
        members: dict[str, Any] = manifest.get("members") or {}
        if artifact is not None:
            if artifact not in members:
                raise NotFound(f"{mv.ref} has no artifact {artifact!r}; it has "
                               f"{', '.join(sorted(members))}")
            sub = read_manifest(source, members[artifact][0], f"{mv.ref} artifact {artifact!r}")
            return _write(source, sub, target, f"{mv.ref} artifact {artifact!r}")
        for key in members:
            check_rel(key, mv.ref)
        for key, (digest, *_rest) in members.items():
            what = f"{mv.ref} artifact {key!r}"
            _write(source, read_manifest(source, digest, what), target / key, what)
        return target
    if artifact is not None:
        raise NotFound(f"{mv.ref} is a single {mv.format!r} artifact, not a bundle: export "
                       "it without artifact=")
    return _write(source, manifest, target, mv.ref)


def _prepare(dest: str | os.PathLike[str], force: bool) -> Path:
    try:
        target = Path(os.fspath(dest)).expanduser()
    except TypeError:
        raise ModelverError(f"dest must be a path, not {dest!r}") from None
    if target.exists() and not target.is_dir():
        raise ModelverError(f"{str(target)!r} is a file: name a new or empty folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ModelverError(f"{str(target)!r} is not empty: name a new or empty folder, or "
                            "pass force=True (--force) to replace the files of the same names")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {str(target)!r}: {exc}") from None
    return target


def _write(source: Source, manifest: dict[str, Any], folder: Path, what: str) -> Path:
    files: dict[str, Any] = manifest.get("files") or {}
    dirs: list[str] = manifest.get("dirs") or []
    root = folder.resolve()
    for rel in [*files, *dirs]:
        check_rel(rel, what)
        # A symbolic link already in the folder (with force=True) must not lead outside it.
        if not (root / rel).resolve().is_relative_to(root):
            raise ModelverError(f"{str(folder / rel)!r} leads outside {str(folder)!r} "
                                "(a symbolic link in the way): remove it, or name a new folder")
    for rel in dirs:
        try:
            (folder / rel).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {str(folder / rel)!r}: {exc}") from None
    for rel in sorted(files):
        copy_verified(source, str(files[rel][0]), str(folder / rel), what)
    if manifest.get("format") == "file":
        name = (manifest.get("meta") or {}).get("name")
        if isinstance(name, str) and name in files:
            return folder / name
    return folder


