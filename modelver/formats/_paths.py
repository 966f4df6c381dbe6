"""Paths: ``file`` (one file, its name kept) and ``folder`` (a tree of files).

Both load as a read-only :class:`~pathlib.Path` into the store's materialized copy,
whose files are verified on every load. Symbolic links are followed when saving (a
Hugging Face snapshot is links into a blob folder): the artifact holds the bytes they
point to; a link loop or a broken link is refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ModelverError
from ._base import Format

__all__ = ["FORMATS"]


def _fspath(obj: Any) -> str:
    path = os.fspath(obj)
    return os.fsdecode(path) if isinstance(path, bytes) else path


def _copy(src: str, dst: str, what: str) -> None:
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        raise ModelverError(f"cannot register {what!r}: cannot read {src!r}: {exc}") from None


class FileFormat(Format):
    """A path to a file: its bytes, under its own name (``model.keras`` stays one)."""

    name = "file"

    def claims(self, obj: Any) -> bool:
        """A path-like object naming an existing file."""
        return isinstance(obj, os.PathLike) and os.path.isfile(_fspath(obj))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """A copy of the file, under its own name."""
        src = _fspath(obj)
        name = os.path.basename(src) or "file"
        _copy(src, str(dest / name), src)
        return {"name": name}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Path:
        """The read-only materialized file, with its original name."""
        return path / str(meta["name"])


class FolderFormat(Format):
    """A path to a folder: every file in it (links followed), and its empty folders."""

    name = "folder"

    def claims(self, obj: Any) -> bool:
        """A path-like object naming an existing folder."""
        return isinstance(obj, os.PathLike) and os.path.isdir(_fspath(obj))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """A copy of the tree."""
        src = _fspath(obj)
        seen: set[str] = set()
        for root, dirs, files in os.walk(src, followlinks=True):
            real = os.path.realpath(root)
            if real in seen:
                raise ModelverError(f"cannot register {src!r}: the folder {root!r} links "
                                    "back into itself")
            seen.add(real)
            dirs.sort()
            rel = os.path.relpath(root, src)
            target = dest if rel == "." else dest / rel
            target.mkdir(exist_ok=True)
            for fname in sorted(files):
                full = os.path.join(root, fname)
                if not os.path.exists(full):
                    raise ModelverError(f"cannot register {src!r}: {full!r} is a broken link")
                _copy(full, str(target / fname), src)
        return {"name": os.path.basename(os.path.normpath(src))}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Path:
        """The read-only materialized folder."""
        return path


FORMATS: dict[str, Format] = {f.name: f for f in (FileFormat(), FolderFormat())}
