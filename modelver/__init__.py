"""modelver: version machine-learning models with everything needed to rebuild them.

>>> import modelver
>>> @modelver.versioned_training("fraud")          # doctest: +SKIP
... def train(train_path, n_estimators=100): ...
>>> model = modelver.load("fraud", "prod")         # doctest: +SKIP

Heavy libraries (numpy, pandas, sqlite-utils, fsspec, psutil, NVML) are imported
only when a feature needs them.
"""

from __future__ import annotations

from typing import Any

from ._api import (
    alias_history,
    diff,
    fingerprint,
    get_run,
    hold,
    lineage,
    load,
    lock,
    log_data,
    log_metrics,
    log_params,
    promote,
    pull,
    push,
    register,
    release,
    resolve,
    rollback,
    runs,
    use_lock,
    used_by,
    versions,
)
from ._config import configure
from ._config import open_store as open
from ._errors import (
    CaptureError,
    Conflict,
    IntegrityError,
    InvalidName,
    ModelverError,
    NotFound,
    Protected,
    StoreError,
    UnsafeFormat,
    VersionExists,
)
from ._records import (
    AliasEvent,
    CodeInfo,
    DataFingerprint,
    Environment,
    GpuInfo,
    Hardware,
    ModelVersion,
    Resources,
    Run,
    Seeds,
)
from ._retention import RetentionPolicy
from ._run import ActiveRun, CaptureWarning, current_run
from ._store import StaleWarning, Store
from ._training import training, versioned_training

__all__ = [
    "ActiveRun",
    "AliasEvent",
    "CaptureError",
    "CaptureWarning",
    "CodeInfo",
    "Conflict",
    "DataFingerprint",
    "Environment",
    "GpuInfo",
    "Hardware",
    "IntegrityError",
    "InvalidName",
    "ModelVersion",
    "ModelverError",
    "NotFound",
    "Protected",
    "Resources",
    "RetentionPolicy",
    "Run",
    "Seeds",
    "StaleWarning",
    "Store",
    "StoreError",
    "UnsafeFormat",
    "VersionExists",
    "__version__",
    "alias_history",
    "configure",
    "current_run",
    "diff",
    "fingerprint",
    "get_run",
    "hold",
    "lineage",
    "load",
    "lock",
    "log_data",
    "log_metrics",
    "log_params",
    "open",
    "promote",
    "pull",
    "push",
    "register",
    "release",
    "resolve",
    "rollback",
    "runs",
    "training",
    "use_lock",
    "used_by",
    "versioned_training",
    "versions",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("modelver")
        except PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    raise AttributeError(f"module 'modelver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
