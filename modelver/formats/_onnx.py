"""ONNX: ``onnx``, a serialized ``ModelProto`` (a protobuf: data, never code)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._base import Format, type_module

__all__ = ["FORMATS"]


class OnnxFormat(Format):
    """An ``onnx.ModelProto``."""

    name = "onnx"
    modules = ("onnx",)

    def claims(self, obj: Any) -> bool:
        """An ONNX ``ModelProto``."""
        return type_module(obj).startswith("onnx") and type(obj).__name__ == "ModelProto"

    def save(self, obj: Any, dest: Path) -> None:
        """``model.onnx``, its protobuf bytes."""
        (dest / "model.onnx").write_bytes(obj.SerializeToString(deterministic=True))

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """``onnx.load``."""
        import onnx

        return onnx.load(str(path / "model.onnx"))


FORMATS: dict[str, Format] = {"onnx": OnnxFormat()}
