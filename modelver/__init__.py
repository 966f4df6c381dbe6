"""modelver: version machine-learning models with everything needed to rebuild them.

>>> import modelver
>>> @modelver.versioned_training("fraud")          # doctest: +SKIP
... def train(train_path, n_estimators=100): ...
>>> model = modelver.load("fraud", "prod")         # doctest: +SKIP

Heavy libraries (numpy, pandas, fsspec, psutil, NVML) are imported
only when a feature needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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
    from ._config import configure, configured
    from ._config import open_store as open
    from ._diff import Diff
    from ._gc import GcReport
    from ._lineage import Lineage, LineageEdge, LineageNode
    from ._lists import AliasHistory, RunList, VersionList
    from ._locking import LockEntry, LockFile, LockMove, pin
    from ._records import (
        AliasEvent,
        CodeInfo,
        DataFingerprint,
        Environment,
        GpuInfo,
        Hardware,
        Hold,
        ModelVersion,
        Resources,
        Run,
        Seeds,
        Tombstone,
    )
    from ._resolve import split_ref
    from ._retention import PlannedDeletion, RetentionPlan, RetentionPolicy
    from ._run import ActiveRun, CaptureWarning, current_run
    from ._store import QuarantineWarning, StaleWarning, Store
    from ._training import training, versioned_training
    from ._transfer import TransferReport
    from ._verify import Problem, VerifyReport

# Every public name but the exceptions is imported on first use (PEP 562), so that
# ``import modelver`` costs almost nothing: a serving process pays for the read path
# when it first calls ``load``, a training script for capture when a run starts.
_LAZY = {
    "alias_history": ("_api", "alias_history"),
    "diff": ("_api", "diff"),
    "fingerprint": ("_api", "fingerprint"),
    "get_run": ("_api", "get_run"),
    "hold": ("_api", "hold"),
    "lineage": ("_api", "lineage"),
    "load": ("_api", "load"),
    "lock": ("_api", "lock"),
    "log_data": ("_api", "log_data"),
    "log_metrics": ("_api", "log_metrics"),
    "log_params": ("_api", "log_params"),
    "promote": ("_api", "promote"),
    "pull": ("_api", "pull"),
    "push": ("_api", "push"),
    "register": ("_api", "register"),
    "release": ("_api", "release"),
    "resolve": ("_api", "resolve"),
    "rollback": ("_api", "rollback"),
    "runs": ("_api", "runs"),
    "use_lock": ("_api", "use_lock"),
    "used_by": ("_api", "used_by"),
    "versions": ("_api", "versions"),
    "configure": ("_config", "configure"),
    "configured": ("_config", "configured"),
    "open": ("_config", "open_store"),
    "Diff": ("_diff", "Diff"),
    "GcReport": ("_gc", "GcReport"),
    "Lineage": ("_lineage", "Lineage"),
    "LineageEdge": ("_lineage", "LineageEdge"),
    "LineageNode": ("_lineage", "LineageNode"),
    "AliasHistory": ("_lists", "AliasHistory"),
    "RunList": ("_lists", "RunList"),
    "VersionList": ("_lists", "VersionList"),
    "LockEntry": ("_locking", "LockEntry"),
    "LockFile": ("_locking", "LockFile"),
    "LockMove": ("_locking", "LockMove"),
    "pin": ("_locking", "pin"),
    "AliasEvent": ("_records", "AliasEvent"),
    "CodeInfo": ("_records", "CodeInfo"),
    "DataFingerprint": ("_records", "DataFingerprint"),
    "Environment": ("_records", "Environment"),
    "GpuInfo": ("_records", "GpuInfo"),
    "Hardware": ("_records", "Hardware"),
    "Hold": ("_records", "Hold"),
    "ModelVersion": ("_records", "ModelVersion"),
    "Resources": ("_records", "Resources"),
    "Run": ("_records", "Run"),
    "Seeds": ("_records", "Seeds"),
    "Tombstone": ("_records", "Tombstone"),
    "split_ref": ("_resolve", "split_ref"),
    "PlannedDeletion": ("_retention", "PlannedDeletion"),
    "RetentionPlan": ("_retention", "RetentionPlan"),
    "RetentionPolicy": ("_retention", "RetentionPolicy"),
    "ActiveRun": ("_run", "ActiveRun"),
    "CaptureWarning": ("_run", "CaptureWarning"),
    "current_run": ("_run", "current_run"),
    "QuarantineWarning": ("_store", "QuarantineWarning"),
    "StaleWarning": ("_store", "StaleWarning"),
    "Store": ("_store", "Store"),
    "training": ("_training", "training"),
    "versioned_training": ("_training", "versioned_training"),
    "TransferReport": ("_transfer", "TransferReport"),
    "Problem": ("_verify", "Problem"),
    "VerifyReport": ("_verify", "VerifyReport"),
}

__all__ = [
    "ActiveRun",
    "AliasEvent",
    "AliasHistory",
    "CaptureError",
    "CaptureWarning",
    "CodeInfo",
    "Conflict",
    "DataFingerprint",
    "Diff",
    "Environment",
    "GcReport",
    "GpuInfo",
    "Hardware",
    "Hold",
    "IntegrityError",
    "InvalidName",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LockEntry",
    "LockFile",
    "LockMove",
    "ModelVersion",
    "ModelverError",
    "NotFound",
    "PlannedDeletion",
    "Problem",
    "Protected",
    "QuarantineWarning",
    "Resources",
    "RetentionPlan",
    "RetentionPolicy",
    "Run",
    "RunList",
    "Seeds",
    "StaleWarning",
    "Store",
    "StoreError",
    "Tombstone",
    "TransferReport",
    "UnsafeFormat",
    "VerifyReport",
    "VersionExists",
    "VersionList",
    "__version__",
    "alias_history",
    "configure",
    "configured",
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
    "pin",
    "promote",
    "pull",
    "push",
    "register",
    "release",
    "resolve",
    "rollback",
    "runs",
    "split_ref",
    "training",
    "use_lock",
    "used_by",
    "versioned_training",
    "versions",
]


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is not None:
        import importlib

        value = getattr(importlib.import_module(f".{where[0]}", __name__), where[1])
        globals()[name] = value
        return value
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("modelver")
        except PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    raise AttributeError(f"module 'modelver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
