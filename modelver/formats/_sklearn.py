"""scikit-learn: ``skops``, a pickle-free archive of the estimator's state.

Loading builds only types that are trusted: those skops trusts by default, every type
of scikit-learn, numpy and scipy (the libraries that wrote the model), and those the
caller names with ``load(..., trusted=[...])``. Anything else is refused with the list
of untrusted types. skops names the arrays in its archive after ``id()`` of the
objects, so two saves of one model differ: :meth:`SkopsFormat.save` renumbers them in
the order the schema reaches them and rewrites the zip deterministically.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import UnsafeFormat
from ._base import Format, type_module
from ._zips import rewrite

__all__ = ["FORMATS"]

_FILE = "model.skops"
_TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.")
_ID_FILE = re.compile(r"(\d+)\.npy")


def _renumber(schema: Any) -> tuple[Any, dict[str, str]]:
    """The schema with every ``__id__`` and array file renumbered from 0, in the order a
    depth-first walk meets them (one id keeps one number), and the file renames."""
    numbers: dict[int, int] = {}
    renames: dict[str, str] = {}

    def number(old: int) -> int:
        return numbers.setdefault(old, len(numbers))

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "__id__" and type(value) is int:
                    out[key] = number(value)
                elif key == "file" and isinstance(value, str) and _ID_FILE.fullmatch(value):
                    new = f"{number(int(value[:-4]))}.npy"
                    renames[value] = new
                    out[key] = new
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema), renames


class SkopsFormat(Format):
    """scikit-learn estimators and pipelines (and other ``BaseEstimator`` objects)."""

    name = "skops"
    modules = ("sklearn", "skops")
    options = frozenset({"trusted"})

    def claims(self, obj: Any) -> bool:
        """An object of scikit-learn, or a scikit-learn ``BaseEstimator``."""
        if type_module(obj).startswith("sklearn."):
            return True
        base = sys.modules.get("sklearn.base")
        return base is not None and isinstance(obj, base.BaseEstimator)

    def prepare(self) -> None:
        """Import skops (about a second and more: it imports every scikit-learn module
        to list the types it trusts)."""
        import skops.io  # noqa: F401

    def save(self, obj: Any, dest: Path) -> None:
        """``skops.io.dump``, renumbered and rewritten so the bytes are reproducible."""
        import zipfile

        import skops.io as sio

        file = dest / _FILE
        sio.dump(obj, file)
        with zipfile.ZipFile(file) as z:
            schema, renames = _renumber(json.loads(z.read("schema.json")))
        text = json.dumps(schema, separators=(",", ":")).encode()
        rewrite(file, rename=lambda name: renames.get(name, name),
                edit={"schema.json": lambda _: text})

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The estimator, built from trusted types only."""
        import skops.io as sio

        file = path / _FILE
        trusted = list(options.get("trusted") or ())
        listed = sio.get_untrusted_types(file=file)
        untrusted = [t for t in listed if not t.startswith(_TRUSTED_MODULES) and t not in trusted]
        if untrusted:
            raise UnsafeFormat(
                f"the skops artifact builds types that are not trusted: {untrusted}. If you "
                f"trust them, load with trusted={untrusted!r}")
        return sio.load(file, trusted=listed)


FORMATS: dict[str, Format] = {"skops": SkopsFormat()}
