"""Formats: how each kind of model is stored and given back.

``modelver.load`` gives back the kind of object that was registered, ready to use.
The format is chosen by the object's type; each says whether loading it can run code
(``safe``): ``load(..., safe=True)`` refuses those that can.

==================  ======================================================  =====
format              registered object                                       safe
==================  ======================================================  =====
``npy``             numpy array (memory-mapped on load)                     yes
``safetensors``     dict of torch tensors (a ``state_dict()``) or arrays   yes
``torch-state``     checkpoint: containers of tensors and plain values     yes
``torch-module``    ``torch.nn.Module`` (weights + class + init args)      yes
``hf``              objects with ``save_pretrained`` (transformers, …)     yes
``skops``           scikit-learn estimators and pipelines                  yes
``xgboost``         xgboost Booster and sklearn-style models               yes
``lightgbm``        LightGBM Booster and sklearn-style models              yes
``catboost``        CatBoost models                                         yes
``keras``           Keras models (``.keras``, ``safe_mode``)               yes
``onnx``            ONNX ``ModelProto``                                     yes
``file``            a path to a file (its name kept)                        yes
``folder``          a path to a folder (per-file blobs)                     yes
``bytes``           bytes                                                   yes
``json``            plain data JSON gives back exactly                      yes
``bundle``          dict of named members, each in its own format           if all are
``pickle``          anything else                                           no
==================  ======================================================  =====

Add a format by subclassing :class:`Format` and calling :func:`register` (asked before
every built-in), or by declaring it in the entry-point group ``modelver.formats``
(asked for objects no built-in format but ``pickle`` takes; read on the first save or
load that needs it, never at import)::

    class ParquetFrame(modelver.formats.Format):
        name = "parquet-frame"
        modules = ("pandas", "pyarrow")

        def claims(self, obj):
            return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"

        def save(self, obj, dest):
            obj.to_parquet(dest / "frame.parquet")

        def load(self, path, meta, **options):
            import pandas
            return pandas.read_parquet(path / "frame.parquet")

    modelver.formats.register(ParquetFrame())
"""

from __future__ import annotations

from ._base import Format
from ._registry import choose, get, names, register, unregister

__all__ = ["Format", "choose", "get", "names", "register", "unregister"]


def __dir__() -> list[str]:
    return sorted(__all__)
