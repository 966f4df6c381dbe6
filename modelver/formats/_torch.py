"""torch: ``safetensors`` (dicts of tensors), ``torch-state`` (checkpoints) and
``torch-module`` (an ``nn.Module``: safetensors weights, its class and how to build it).

Tensors are written from CPU memory (a tensor on a GPU is copied to the CPU first), so
nothing in an artifact names the device it was trained on; ``load(..., device=...)``
puts them where the caller asks (the CPU by default). Tensors that share memory (tied
weights) are stored once and shared again on load.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .._errors import ModelverError
from ._base import Format, class_path, import_class, type_module

__all__ = ["FORMATS", "model_init"]

T = TypeVar("T")
_PRIMITIVES = (int, float, str, bool, type(None))
_WEIGHTS = "model.safetensors"


def _is_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _cpu_tensors(tensors: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str],
                                                       list[str]]:
    """(tensors to write, alias → the key holding the same memory, devices they were on).

    Each tensor is detached, copied to the CPU if it is elsewhere and made contiguous;
    tensors sharing one storage and view are written once.
    """
    out: dict[str, Any] = {}
    shared: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...], str], str] = {}
    devices: set[str] = set()
    for key, tensor in tensors.items():
        t = tensor.detach()
        devices.add(str(t.device))
        if t.device.type != "cpu":
            t = t.to("cpu")
        identity = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape),
                    tuple(t.stride()), str(t.dtype)) if t.device.type == "cpu" else None
        if identity is not None and identity in seen and t.numel() > 0:
            shared[key] = seen[identity]
            continue
        if identity is not None:
            seen[identity] = key
        out[key] = t.contiguous()
    # safetensors refuses tensors that overlap in memory: copy any left overlapping.
    storages: dict[int, str] = {}
    for key, t in list(out.items()):
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in storages:
            out[key] = t.clone()
        storages.setdefault(ptr, key)
    return out, shared, sorted(devices)


def _load_safetensors(file: Path, device: Any) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(file), device=str(device) if device is not None else "cpu")


def _restore(loaded: dict[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The tensors in their original key order, shared ones shared again."""
    shared = dict(meta.get("shared") or {})
    keys = list(meta.get("keys") or loaded)
    return {k: loaded[shared[k]] if k in shared else loaded[k] for k in keys}


class SafetensorsFormat(Format):
    """A dict of torch tensors (a ``state_dict()``) or of numpy arrays, as safetensors."""

    name = "safetensors"
    modules = ("safetensors", "torch")
    options = frozenset({"device"})

    def claims(self, obj: Any) -> bool:
        """A non-empty dict of str keys whose values are all tensors, or all arrays."""
        if not isinstance(obj, dict) or not obj or not all(type(k) is str for k in obj):
            return False
        if all(_is_tensor(v) for v in obj.values()):
            return True
        np = sys.modules.get("numpy")
        return np is not None and all(type(v) is np.ndarray and not v.dtype.hasobject
                                      for v in obj.values())

    def requirements(self, obj: Any) -> tuple[str, ...]:
        """safetensors, and torch or numpy."""
        return ("safetensors", "torch") if _is_tensor(next(iter(obj.values()))) else (
            "safetensors", "numpy")

    def prepare(self) -> None:
        """Import safetensors' torch helpers."""
        import safetensors.torch  # noqa: F401

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """One ``.safetensors`` file; the key order and shared tensors in ``meta``."""
        if _is_tensor(next(iter(obj.values()))):
            from safetensors.torch import save_file

            tensors, shared, devices = _cpu_tensors(obj)
            save_file(tensors, str(dest / "tensors.safetensors"))
            return {"framework": "torch", "keys": list(obj), "shared": shared,
                    "devices": devices}
        import numpy as np
        from safetensors.numpy import save_file as save_numpy

        save_numpy({k: np.ascontiguousarray(v) for k, v in obj.items()},
                   str(dest / "tensors.safetensors"))
        return {"framework": "numpy", "keys": list(obj)}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """The dict, with tensors on ``device`` (the CPU by default)."""
        file = path / "tensors.safetensors"
        if meta.get("framework") == "numpy":
            from safetensors.numpy import load_file

            return _restore(load_file(str(file)), meta)
        return _restore(_load_safetensors(file, options.get("device")), meta)


def _weights_only(obj: Any, depth: int = 0) -> tuple[bool, bool]:
    """(only tensors, containers and primitives in it, at least one tensor in it)."""
    if depth > 50:
        return False, False
    if _is_tensor(obj):
        return True, True
    if isinstance(obj, _PRIMITIVES):
        return True, False
    if type(obj) in (list, tuple) or (isinstance(obj, dict) and type(obj).__module__ in
                                      ("builtins", "collections")):
        values = obj.values() if isinstance(obj, dict) else obj
        if isinstance(obj, dict) and not all(isinstance(k, (*_PRIMITIVES,)) for k in obj):
            return False, False
        found = False
        for v in values:
            ok, has = _weights_only(v, depth + 1)
            if not ok:
                return False, False
            found = found or has
        return True, found
    return False, False


class TorchStateFormat(Format):
    """A checkpoint: dicts, lists and tuples of tensors and plain values (an optimizer's
    ``state_dict()``, ``{"model": sd, "epoch": 3}``), as ``torch.save``; loaded with
    ``weights_only=True``, which builds nothing but tensors and plain containers."""

    name = "torch-state"
    modules = ("torch",)
    options = frozenset({"device"})

    def claims(self, obj: Any) -> bool:
        """Containers of tensors and plain values only, with a tensor somewhere."""
        ok, has_tensor = _weights_only(obj)
        return ok and has_tensor

    def save(self, obj: Any, dest: Path) -> None:
        """``torch.save`` into ``state.pt``."""
        import torch

        torch.save(obj, str(dest / "state.pt"))

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """``torch.load(weights_only=True)``, memory-mapped, on ``device`` (CPU default)."""
        import torch

        device = options.get("device")
        return torch.load(str(path / "state.pt"), weights_only=True, mmap=True,
                          map_location=str(device) if device is not None else "cpu")


def model_init(target: T, *args: Any, **kwargs: Any) -> T:
    """Record how a model is built, so ``load`` can build it again without its caller.

    As a class decorator, ``@modelver.model_init`` records the arguments of every
    ``__init__`` call of that class (JSON-able values: numbers, strings, lists, dicts)::

        @modelver.model_init
        class Net(torch.nn.Module):
            def __init__(self, hidden=64): ...

    On an instance, ``modelver.model_init(net, hidden=64)`` records the given arguments
    and returns ``net``. A ``torch-module`` artifact stores them next to the weights.
    """
    if isinstance(target, type):
        cls: Any = target
        original: Callable[..., None] = cls.__init__

        @functools.wraps(original)
        def __init__(self: Any, *a: Any, **kw: Any) -> None:
            if "_modelver_init" not in self.__dict__:
                object.__setattr__(self, "_modelver_init", {"args": list(a), "kwargs": kw})
            original(self, *a, **kw)

        cls.__init__ = __init__
        return target
    object.__setattr__(target, "_modelver_init", {"args": list(args), "kwargs": kwargs})
    return target


def _json_or_none(value: Any) -> Any:
    from .._serde import canonical

    try:
        canonical(value)
    except (TypeError, ValueError):
        return None
    return value


def _init_of(module: Any) -> tuple[Any, str]:
    """How to build ``module`` again (plain data or None) and where that came from."""
    recorded = module.__dict__.get("_modelver_init")
    if recorded is not None:
        return _json_or_none(recorded), "modelver.model_init"
    if any(type_module(c).split(".")[0] in ("lightning", "pytorch_lightning")
           for c in type(module).__mro__):
        hparams = getattr(module, "hparams", None)
        if isinstance(hparams, Mapping):
            return _json_or_none({"args": [], "kwargs": dict(hparams)}), "Lightning hparams"
    config = getattr(module, "config", None)
    if config is not None and callable(getattr(config, "to_dict", None)) and callable(
            getattr(type(config), "from_dict", None)):
        return _json_or_none({"config_class": class_path(type(config)),
                              "config": config.to_dict()}), "config"
    try:
        params = list(inspect.signature(type(module).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None, ""
    # A class built from arguments it does not keep (nn.Sequential's *modules, a
    # required size) cannot be built again from nothing.
    if any(p.default is p.empty or p.kind is p.VAR_POSITIONAL for p in params
           if p.kind is not p.VAR_KEYWORD):
        return None, ""
    return {"args": [], "kwargs": {}}, "no arguments"


def _build(cls: Any, init: Mapping[str, Any]) -> Any:
    if "config_class" in init:
        config_cls = import_class(str(init["config_class"]), "the model's config")
        return cls(config_cls.from_dict(init["config"]))
    return cls(*init.get("args", ()), **init.get("kwargs", {}))


class TorchModuleFormat(Format):
    """A ``torch.nn.Module``: its weights as safetensors, its class's import path and its
    constructor arguments (``modelver.model_init``, Lightning ``hparams``, an HF-style
    ``config``, or none needed); loaded as the module, in eval mode, on ``device``."""

    name = "torch-module"
    modules = ("torch", "safetensors")
    options = frozenset({"device", "into"})

    def claims(self, obj: Any) -> bool:
        """An ``nn.Module``."""
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(obj, torch.nn.Module)

    def prepare(self) -> None:
        """Import safetensors' torch helpers."""
        import safetensors.torch  # noqa: F401

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """``model.safetensors`` and the class, the arguments and the key order."""
        from safetensors.torch import save_file

        state = obj.state_dict()
        odd = [k for k, v in state.items() if not _is_tensor(v)]
        if odd:
            raise ModelverError(f"cannot store a {type(obj).__name__} as 'torch-module': its "
                                f"state_dict holds non-tensor entries {odd[:5]}; register "
                                "obj.state_dict() (stored as 'torch-state') instead")
        tensors, shared, devices = _cpu_tensors(state)
        save_file(tensors, str(dest / _WEIGHTS))
        init, source = _init_of(obj)
        cls = type(obj)
        if init is None:
            warnings.warn(f"modelver does not know how to build a {cls.__name__} again (its "
                          "__init__ takes arguments): load it with load(..., into=model), "
                          "or decorate the class with @modelver.model_init", UserWarning,
                          stacklevel=6)
        return {"class": class_path(cls), "init": init, "init_from": source,
                "keys": list(state), "shared": shared, "devices": devices}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The module (built from its class, or ``into``), weights loaded, in eval mode."""
        device = options.get("device")
        into = options.get("into")
        state = _restore(_load_safetensors(path / _WEIGHTS, device), meta)
        if into is not None:
            _fill(into, state)
            if device is not None:
                into.to(device)
            return into.eval()
        init = meta.get("init")
        if init is None:
            raise ModelverError(f"this {meta.get('class')} was registered without its "
                                "constructor arguments: build one and pass it with "
                                "load(..., into=model), or decorate its class with "
                                "@modelver.model_init before training")
        cls = import_class(str(meta["class"]), "the torch module")
        module = self._fast_build(cls, init, state, bool(meta.get("shared")))
        if module is None:
            module = _build(cls, init)
            _fill(module, state)
        if device is not None:
            module.to(device)
        return module.eval()

    @staticmethod
    def _fast_build(cls: Any, init: Mapping[str, Any], state: dict[str, Any],
                    shared: bool) -> Any:
        """Build on the ``meta`` device and take the loaded tensors as they are (no
        random init, no copy); None where that cannot give a complete module."""
        import torch

        if shared:  # tied weights must stay tied: build for real and copy into them
            return None
        try:
            with torch.device("meta"):
                module = _build(cls, init)
            module.load_state_dict(state, strict=True, assign=True)
        except Exception:  # a class that does not build on 'meta': build it for real
            return None
        if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
            return None  # a buffer outside the state dict: build for real
        return module


def _fill(module: Any, state: dict[str, Any]) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelverError(f"the stored weights do not fit this {type(module).__name__}: "
                            f"{str(exc).splitlines()[0]}") from None


FORMATS: dict[str, Format] = {
    f.name: f for f in (SafetensorsFormat(), TorchStateFormat(), TorchModuleFormat())
}
