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
    EnvironmentWarning,
    IntegrityError,
    InvalidName,
    ModelverError,
    NotFound,
    NotReproducible,
    Protected,
    QueryError,
    SchemaMismatch,
    StoreError,
    UnsafeFormat,
    VersionExists,
)

if TYPE_CHECKING:
    from . import formats
    from ._api import (
        alias_history,
        annotate,
        approve,
        audit,
        checkout_data,
        diff,
        export,
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
        protect,
        pull,
        push,
        register,
        release,
        reproduce,
        resolve,
        rollback,
        runs,
        search,
        use_lock,
        used_by,
        versions,
    )
    from ._audit import Audit
    from ._checked import CheckedModel
    from ._config import configure, configured
    from ._config import open_store as open
    from ._diff import Diff
    from ._gc import GcReport
    from ._lineage import Lineage, LineageEdge, LineageNode
    from ._lists import AliasHistory, RunList, VersionList
    from ._locking import LockEntry, LockFile, LockMove, pin
    from ._mlflow_import import ImportedVersion, ImportReport, import_mlflow
    from ._records import (
        AliasEvent,
        Annotation,
        Approval,
        Artifact,
        CodeInfo,
        DataFingerprint,
        Environment,
        GpuInfo,
        Hardware,
        Hold,
        ModelVersion,
        Protection,
        Resources,
        Run,
        Seeds,
        Tombstone,
    )
    from ._reproduce import Reproduction
    from ._resolve import split_ref
    from ._retention import PlannedDeletion, RetentionPlan, RetentionPolicy
    from ._run import ActiveRun, CaptureWarning, current_run
    from ._run_summary import RunSummary
    from ._signature import InputSchema, Signature
    from ._store import QuarantineWarning, StaleWarning, Store
    from ._training import training, versioned_training
    from ._transfer import TransferReport
    from ._verify import Problem, VerifyReport
    from .formats._torch import model_init

# Every public name but the exceptions is imported on first use (PEP 562), so that
# ``import modelver`` costs almost nothing: a serving process pays for the read path
# when it first calls ``load``, a training script for capture when a run starts.
_LAZY = {
    "alias_history": "_api",
    "annotate": "_api",
    "approve": "_api",
    "protect": "_api",
    "Annotation": "_records",
    "Approval": "_records",
    "Protection": "_records",
    "checkout_data": "_api",
    "export": "_api",
    "Signature": "_signature",
    "InputSchema": "_signature",
    "CheckedModel": "_checked",
    "reproduce": "_api",
    "audit": "_api",
    "Audit": "_audit",
    "Reproduction": "_reproduce",
    "diff": "_api",
    "fingerprint": "_api",
    "get_run": "_api",
    "hold": "_api",
    "lineage": "_api",
    "load": "_api",
    "lock": "_api",
    "log_data": "_api",
    "log_metrics": "_api",
    "log_params": "_api",
    "promote": "_api",
    "pull": "_api",
    "push": "_api",
    "register": "_api",
    "release": "_api",
    "resolve": "_api",
    "rollback": "_api",
    "runs": "_api",
    "search": "_api",
    "use_lock": "_api",
    "used_by": "_api",
    "versions": "_api",
    "configure": "_config",
    "configured": "_config",
    "open": "_config",
    "Diff": "_diff",
    "GcReport": "_gc",
    "Lineage": "_lineage",
    "LineageEdge": "_lineage",
    "LineageNode": "_lineage",
    "AliasHistory": "_lists",
    "RunList": "_lists",
    "RunSummary": "_run_summary",
    "VersionList": "_lists",
    "LockEntry": "_locking",
    "LockFile": "_locking",
    "LockMove": "_locking",
    "pin": "_locking",
    "AliasEvent": "_records",
    "CodeInfo": "_records",
    "DataFingerprint": "_records",
    "Environment": "_records",
    "GpuInfo": "_records",
    "Hardware": "_records",
    "Hold": "_records",
    "ModelVersion": "_records",
    "Resources": "_records",
    "Run": "_records",
    "Seeds": "_records",
    "Tombstone": "_records",
    "split_ref": "_resolve",
    "PlannedDeletion": "_retention",
    "RetentionPlan": "_retention",
    "RetentionPolicy": "_retention",
    "ActiveRun": "_run",
    "CaptureWarning": "_run",
    "current_run": "_run",
    "QuarantineWarning": "_store",
    "StaleWarning": "_store",
    "Store": "_store",
    "training": "_training",
    "versioned_training": "_training",
    "TransferReport": "_transfer",
    "Problem": "_verify",
    "VerifyReport": "_verify",
    "model_init": "formats._torch",
    "Artifact": "_records",
    "ImportReport": "_mlflow_import",
    "ImportedVersion": "_mlflow_import",
    "import_mlflow": "_mlflow_import",
}
# Public names that differ from the name in their module.
_RENAMED = {"open": "open_store"}

__all__ = [
    "ActiveRun",
    "AliasEvent",
    "AliasHistory",
    "Annotation",
    "Approval",
    "Artifact",
    "Audit",
    "CaptureError",
    "CaptureWarning",
    "CheckedModel",
    "CodeInfo",
    "Conflict",
    "DataFingerprint",
    "Diff",
    "Environment",
    "EnvironmentWarning",
    "GcReport",
    "GpuInfo",
    "Hardware",
    "Hold",
    "ImportReport",
    "ImportedVersion",
    "InputSchema",
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
    "NotReproducible",
    "PlannedDeletion",
    "Problem",
    "Protected",
    "Protection",
    "QuarantineWarning",
    "QueryError",
    "Reproduction",
    "Resources",
    "RetentionPlan",
    "RetentionPolicy",
    "Run",
    "RunList",
    "RunSummary",
    "SchemaMismatch",
    "Seeds",
    "Signature",
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
    "annotate",
    "approve",
    "audit",
    "checkout_data",
    "configure",
    "configured",
    "current_run",
    "diff",
    "export",
    "fingerprint",
    "formats",
    "get_run",
    "hold",
    "import_mlflow",
    "lineage",
    "load",
    "lock",
    "log_data",
    "log_metrics",
    "log_params",
    "model_init",
    "open",
    "pin",
    "promote",
    "protect",
    "pull",
    "push",
    "register",
    "release",
    "reproduce",
    "resolve",
    "rollback",
    "runs",
    "search",
    "split_ref",
    "training",
    "use_lock",
    "used_by",
    "versioned_training",
    "versions",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(f".{module}", __name__),
                        _RENAMED.get(name, name))
        globals()[name] = value
        return value
    if name == "formats":
        import importlib

        return importlib.import_module(".formats", __name__)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("modelver")
        except PackageNotFoundError:  # running from a source tree
            return "0.0.0+unknown"
    raise AttributeError(f"module 'modelver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
