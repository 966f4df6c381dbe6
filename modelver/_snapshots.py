"""Data snapshots: the content of a run's data, stored in the store, and written back.

A snapshot is an artifact manifest (``modelver-artifact/1``, the layout models use) of
per-file blobs, so a file shared by two snapshots, or by a snapshot and a model, is
stored once:

* a file: one blob, whose digest is the file's data fingerprint (plain sha256). A file
  the stat cache knows unchanged and the blob store already holds costs neither a read
  nor a copy; otherwise it is copied in once, hashed on the way.
* a folder: one blob per file (digests from the stat cache, as its fingerprint), and
  its symbolic links as they are; a folder where one file changed costs that file.
* a numpy array: ``npy``; a pandas or polars frame: parquet (pyarrow).

:func:`take` stores one; :func:`checkout` writes one back (files copied, each hashed
against its digest on the way); :func:`as_input` and :func:`read_input` give the value
a training function is called with when a version is reproduced: the path of the
checked-out file or folder, or the array or frame read from its file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._artifacts import MANIFEST_KIND, Sink, put_manifest, read_manifest
from ._errors import IntegrityError, ModelverError, NotFound
from ._materialize import Source, check_rel, copy_verified, parallel

if TYPE_CHECKING:
    from ._fingerprint._files import StatCache
    from ._records import DataFingerprint, ModelVersion, Run

__all__ = ["Snapshot", "SnapshotBackend", "as_input", "checkout", "checkout_data", "read_input",
           "take"]


class Snapshot:
    """A stored snapshot: its manifest's digest and every blob it is made of."""

    __slots__ = ("blobs", "digest")

    def __init__(self, digest: str, blobs: list[str]) -> None:
        self.digest = digest
        self.blobs = blobs


class SnapshotBackend(Sink, Source, Protocol):
    """What a snapshot needs of a backend: staging, publishing, reading blobs."""

    def has_blob(self, digest: str) -> bool:
        """Whether the blob is in the store."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes as a blob."""


def take(value: Any, fp: DataFingerprint, backend: SnapshotBackend, cache: StatCache | None
         ) -> Snapshot:
    """Store the content ``fp`` fingerprinted; ``ModelverError`` for what cannot be."""
    if fp.kind == "file" and fp.source and fp.method == "sha256":
        return _file(fp, backend)
    if fp.kind == "folder" and fp.source:
        return _folder(fp.source, backend, cache)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray) and not value.dtype.hasobject:
        from ._artifacts import store_artifact

        stored = store_artifact(np.asarray(value), backend)
        return Snapshot(stored.digest, [stored.digest, *stored.blobs])
    library = _frame_library(value)
    if library is not None:
        return _frame(value, library, backend)
    raise ModelverError(f"cannot snapshot a {type(value).__name__} ({fp.kind}): snapshots "
                        "hold local files, folders, numpy arrays and pandas or polars "
                        "frames; pass one of those, or leave this argument out of snapshot=")


def _file(fp: DataFingerprint, backend: SnapshotBackend) -> Snapshot:
    path = str(fp.source)
    name = os.path.basename(path) or "file"
    digest, size = backend.put_file(path, digest=fp.digest)  # kept as is when present
    if digest != fp.digest:  # pragma: no cover - put_file checks the expected digest
        raise IntegrityError(f"{path!r} changed while it was snapshotted; run it again")
    manifest = {"kind": MANIFEST_KIND, "format": "file", "meta": {"name": name},
                "files": {name: [digest, size]}, "dirs": []}
    return Snapshot(put_manifest(manifest, backend), [digest])


def _folder(path: str, backend: SnapshotBackend, cache: StatCache | None) -> Snapshot:
    from ._fingerprint._files import folder_entries

    files, links = folder_entries(path, cache)

    def put(rel: str) -> tuple[str, int]:
        full, digest, _ = files[rel]
        return backend.put_file(full, digest=digest)

    names = sorted(files)
    stored = dict(zip(names, parallel(put, names), strict=True))
    manifest = {"kind": MANIFEST_KIND, "format": "folder", "meta": {"links": links},
                "files": {rel: [d, s] for rel, (d, s) in stored.items()}, "dirs": []}
    return Snapshot(put_manifest(manifest, backend), sorted({d for d, _ in stored.values()}))


def _frame_library(value: Any) -> str | None:
    module = type(value).__module__.split(".")[0]
    name = type(value).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    return None


def _frame(value: Any, library: str, backend: SnapshotBackend) -> Snapshot:
    staging = tempfile.mkdtemp(dir=backend.staging_dir, prefix="snapshot-")
    try:
        file = os.path.join(staging, "frame.parquet")
        try:
            if library == "pandas":
                value.to_parquet(file)
            else:
                value.write_parquet(file)
        except ImportError as exc:
            raise ModelverError(f"snapshotting a {library} frame needs pyarrow: pip install "
                                f"pyarrow ({exc})") from None
        digest, size = backend.put_file(file, move=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {"kind": MANIFEST_KIND, "format": "parquet", "meta": {"library": library},
                "files": {"frame.parquet": [digest, size]}, "dirs": []}
    return Snapshot(put_manifest(manifest, backend), [digest])


# -- out ------------------------------------------------------------------------------------

def checkout(source: Source, digest: str, dest: str | os.PathLike[str], what: str) -> Path:
    """Write a snapshot back under ``dest``, every file verified; returns the path of
    the data (the file, the folder, or the ``.npy``/``.parquet`` file).

    ``dest`` must not exist, or be an empty folder (a file goes inside it under its own
    name); nothing already there is overwritten.
    """
    manifest = read_manifest(source, digest, what)
    fmt = manifest.get("format")
    files: dict[str, Any] = manifest.get("files") or {}
    target = Path(os.fspath(dest))
    if target.is_dir():
        if any(target.iterdir()):
            raise ModelverError(f"cannot write {what} into {str(target)!r}: the folder is not "
                                "empty; give a new path")
        if fmt == "file":
            target = target / str(manifest["meta"]["name"])
        elif fmt in ("npy", "parquet"):
            target = target / next(iter(files))
    elif target.exists() or target.is_symlink():
        raise ModelverError(f"cannot write {what} to {str(target)!r}: it exists; give a new "
                            "path (nothing is overwritten)")
    if fmt in ("file", "npy", "parquet"):
        ((_, (blob, _)),) = files.items()
        copy_verified(source, blob, str(target), what)
        return target
    if fmt != "folder":
        raise ModelverError(f"{what} is a snapshot of format {fmt!r}, which this modelver "
                            "cannot write back (upgrade modelver?)")
    target.mkdir(parents=True, exist_ok=True)
    names = sorted(files)
    parallel(lambda rel: copy_verified(source, files[rel][0],
                                        str(target / check_rel(rel, what)), what), names)
    links: dict[str, str] = (manifest.get("meta") or {}).get("links") or {}
    for rel, link in sorted(links.items()):
        path = target / check_rel(rel, what)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, path)
    return target


def checkout_data(source: Source, mv: ModelVersion, run: Run | None, key: str,
                  dest: str | os.PathLike[str]) -> Path:
    """Write the snapshot of data ``key`` of ``mv``'s run (see :func:`checkout`)."""
    if run is None:
        raise NotFound(f"{mv.ref} was registered without a run, so it has no data")
    fp = run.data.get(key) if isinstance(key, str) else None
    if fp is None:
        from ._names import closest

        near = closest(str(key), list(run.data))
        raise NotFound(f"{mv.ref} has no data {key!r}"
                       + (f"; did you mean {', '.join(near)}?" if near else "")
                       + f" (its data: {', '.join(sorted(run.data)) or 'none'})")
    if fp.snapshot is None:
        raise NotFound(f"{mv.ref} has no snapshot of its data {key!r}: it was trained without "
                       f"snapshot= (its fingerprint is {fp.digest}); train with "
                       "snapshot=True to keep the data")
    return checkout(source, fp.snapshot, dest, f"data {key!r} of {mv.ref}")


def as_input(path: Path, digest: str, source: Source, what: str) -> dict[str, str]:
    """How a training function gets a snapshot checked out at ``path`` back:
    ``{"kind": "path"}`` (a file or folder: its path), ``"npy"`` or ``"parquet"`` (the
    array or frame read from the file), with ``path`` (and ``library`` for a frame)."""
    manifest = read_manifest(source, digest, what)
    fmt = manifest.get("format")
    if not path.exists():
        raise NotFound(f"{what} was not written to {str(path)!r}")
    if fmt == "npy":
        return {"kind": "npy", "path": str(path)}
    if fmt == "parquet":
        library = str((manifest.get("meta") or {}).get("library") or "pandas")
        return {"kind": "parquet", "path": str(path), "library": library}
    return {"kind": "path", "path": str(path)}


def read_input(spec: dict[str, str]) -> Any:
    """The value :func:`as_input` describes: a path text, an array or a frame."""
    if spec["kind"] == "npy":
        import numpy as np

        return np.load(spec["path"], allow_pickle=False)
    if spec["kind"] == "parquet":
        if spec.get("library") == "polars":
            import polars

            return polars.read_parquet(spec["path"])
        import pandas

        return pandas.read_parquet(spec["path"])
    return spec["path"]
