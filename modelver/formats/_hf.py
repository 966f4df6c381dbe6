"""Hugging Face: ``hf``, the folder ``save_pretrained`` writes, loaded with
``from_pretrained`` of the registered class.

That covers transformers models, tokenizers, processors and configs, diffusers
pipelines and models, and sentence-transformers models (loaded by their constructor).
A peft adapter is loaded onto its base model: ``load(..., into=base_model)``.
transformers saves weights as safetensors, so loading runs no pickle.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ModelverError
from ._base import Format, class_path, import_class, type_module

__all__ = ["FORMATS"]

_LIBRARIES = ("transformers", "diffusers", "sentence_transformers", "peft")


class HFFormat(Format):
    """Objects with ``save_pretrained`` whose class loads with ``from_pretrained``."""

    name = "hf"
    modules = ("transformers",)
    options = frozenset({"device", "into"})

    def claims(self, obj: Any) -> bool:
        """An object of a Hugging Face library that can ``save_pretrained``."""
        if not callable(getattr(obj, "save_pretrained", None)):
            return False
        return type_module(obj).split(".")[0] in _LIBRARIES or callable(
            getattr(type(obj), "from_pretrained", None))

    def requirements(self, obj: Any) -> tuple[str, ...]:
        """The library the object comes from, and torch when it is a torch module."""
        top = type_module(obj).split(".")[0]
        mods = [top if top in _LIBRARIES else "transformers"]
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.nn.Module):
            mods.append("torch")
        return tuple(dict.fromkeys(mods))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """``obj.save_pretrained(dest)``."""
        obj.save_pretrained(str(dest))
        return {"class": class_path(type(obj))}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """``from_pretrained`` of the registered class (in eval mode), on ``device``."""
        cls = import_class(str(meta["class"]), "the Hugging Face object")
        into = options.get("into")
        if str(meta["class"]).startswith("peft"):
            if into is None:
                raise ModelverError("this is a peft adapter: load it onto its base model "
                                    "with load(..., into=base_model)")
            obj = cls.from_pretrained(into, str(path))
        elif into is not None:
            raise ModelverError("into= is only for peft adapters here: a Hugging Face "
                                "object loads with from_pretrained of its own class")
        elif callable(getattr(cls, "from_pretrained", None)):
            obj = cls.from_pretrained(str(path))
        else:  # sentence-transformers: the constructor takes the folder
            obj = cls(str(path))
        device = options.get("device")
        if device is not None and callable(getattr(obj, "to", None)):
            obj = obj.to(device)
        if callable(getattr(obj, "eval", None)):
            obj.eval()
        return obj


FORMATS: dict[str, Format] = {"hf": HFFormat()}
