"""Keras 3: ``keras``, the ``.keras`` archive, loaded with ``safe_mode=True`` (no
lambda or other code deserialized). The archive's save time is dropped, the
``shared_object_id`` values (``id()`` of objects) are renumbered in order, and the zip
is rewritten, so one model saved twice, in two processes, gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._base import Format
from ._zips import rewrite

__all__ = ["FORMATS"]


def _renumber(node: Any, numbers: dict[int, int]) -> Any:
    """``node`` with each ``shared_object_id`` replaced by its order of first appearance."""
    if isinstance(node, dict):
        return {k: numbers.setdefault(v, len(numbers)) if k == "shared_object_id"
                and type(v) is int else _renumber(v, numbers) for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber(v, numbers) for v in node]
    return node


class KerasFormat(Format):
    """Keras models (any backend)."""

    name = "keras"
    modules = ("keras",)

    def claims(self, obj: Any) -> bool:
        """A ``keras.Model``."""
        import sys

        keras = sys.modules.get("keras")
        return keras is not None and isinstance(obj, keras.Model)

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """``model.save("model.keras")``, made reproducible."""
        import keras

        file = dest / "model.keras"
        obj.save(str(file))

        def metadata(data: bytes) -> bytes:
            meta = json.loads(data)
            meta.pop("date_saved", None)
            return json.dumps(meta, sort_keys=True).encode()

        rewrite(file, edit={"metadata.json": metadata, "config.json": lambda data: json.dumps(
            _renumber(json.loads(data), {})).encode()})
        return {"backend": keras.backend.backend()}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """``keras.saving.load_model(..., safe_mode=True)``."""
        import keras

        return keras.saving.load_model(str(path / "model.keras"), safe_mode=True)


FORMATS: dict[str, Format] = {"keras": KerasFormat()}
