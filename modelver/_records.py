"""The records modelver writes: frozen attrs classes, each with a ``schema_version``.

Records are plain values. They are serialized to canonical JSON by the one converter
in :mod:`modelver._serde`; ``attrs.asdict()`` and the CLI's ``--json`` use the same
field names. Times are timezone-aware UTC datetimes. Their Jupyter HTML is drawn by
:mod:`modelver._render.html`, reached through the registry in :mod:`modelver._render`
(which imports nothing), so the renderers can import these classes without a cycle.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs

from ._render import render
from ._signature import Signature

__all__ = [
    "AliasEvent",
    "Annotation",
    "Approval",
    "Artifact",
    "CodeInfo",
    "DataFingerprint",
    "Environment",
    "GpuInfo",
    "Hardware",
    "Hold",
    "ModelVersion",
    "Protection",
    "Resources",
    "Run",
    "Seeds",
    "Tombstone",
    "utcnow",
]

SCHEMA_VERSION = 1
VERSION_SCHEMA = 2
"""``ModelVersion``'s record schema: 2 since an artifact is a manifest of blobs."""


def utcnow() -> datetime:
    """The current time in UTC, to the microsecond."""
    return datetime.now(timezone.utc)


@attrs.frozen
class DataFingerprint:
    """How a piece of data was identified.

    ``method`` says how the digest was made (``sha256``, ``sha256-merkle``,
    ``sha256-npy``, ``etag``, ``type-only``...); ``stable`` is False when the same
    data could get another digest in another process (e.g. an object hashed by repr).
    ``schema`` holds what decides a major bump: column names and dtypes of frames,
    dtype and trailing shape of arrays. ``snapshot`` names the manifest of the data's
    content stored in the store (``snapshot=`` on a run), or is None.
    """

    digest: str
    kind: str
    size: int | None = None
    method: str = "sha256"
    stable: bool = True
    schema: dict[str, Any] | None = None
    source: str | None = None
    snapshot: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class CodeInfo:
    """The code that ran: hashes of the function and its module, and git state.

    ``function_hash`` is the sha256 of the function's source (portable across Python
    versions); ``bytecode_hash`` is a fallback fingerprint tied to ``python``
    (major.minor). ``stable`` is False when only bytecode could be hashed.
    ``source_digest``/``module_digest``/``diff_digest`` name blobs in the store.
    ``user_code`` maps each user function, class and constant the function reaches
    (``"module:qualname"``) to the sha256 of its source text; ``sources_digest`` names
    the blob holding those texts (canonical JSON, key → text). ``user_code`` is None in
    records made before modelver followed helpers. ``files_digest`` names a blob of the
    whole files of the modules that code lives in (canonical JSON, path relative to
    the import root → text): what :func:`modelver.reproduce` runs outside git.
    """

    function: str | None = None
    module: str | None = None
    function_hash: str | None = None
    bytecode_hash: str | None = None
    closure_hash: str | None = None
    module_hash: str | None = None
    python: str | None = None
    stable: bool = True
    source_file: str | None = None
    source_digest: str | None = None
    module_digest: str | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    git_remote: str | None = None
    diff_digest: str | None = None
    user_code: dict[str, str] | None = None
    sources_digest: str | None = None
    files_digest: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Seeds:
    """The seed a run used, which generators were seeded with it, and which were not.

    ``not_seeded`` maps a library (or generator) to why it was not seeded, for example
    ``"torch": "imported after the run started"``.
    """

    seed: int | None = None
    seeded: list[str] = attrs.field(factory=list)
    not_seeded: dict[str, str] = attrs.field(factory=dict)
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Environment:
    """The Python environment: interpreter, platform, installed distributions."""

    python: str = ""
    implementation: str = ""
    platform: str = ""
    executable: str | None = None
    packages: dict[str, str] = attrs.field(factory=dict)
    packages_hash: str = ""
    variables: dict[str, str] = attrs.field(factory=dict)
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class GpuInfo:
    """One GPU as NVML reports it."""

    uuid: str
    name: str
    index: int | None = None
    memory_total: int | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    compute_capability: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Hardware:
    """The machine: CPU, memory and GPUs. ``gpus`` is empty when there is no usable GPU."""

    cpu: str | None = None
    arch: str | None = None
    cores_physical: int | None = None
    cores_logical: int | None = None
    cpu_freq_mhz: float | None = None
    memory_total: int | None = None
    gpus: list[GpuInfo] = attrs.field(factory=list)
    gpu_status: str = "no GPU"
    cuda_visible_devices: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Resources:
    """What the run used: wall and CPU seconds, peak RSS and peak GPU memory in bytes."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss: int | None = None
    peak_gpu_memory: int | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Run:
    """One execution of a training function or ``training()`` block.

    ``blobs`` lists the blobs its data snapshots are made of (manifests and files);
    ``cwd`` is the working directory it ran in; ``entry`` is the decorated function
    that ran (``module:qualname``; None for a ``training()`` block). A run made by
    :func:`modelver.reproduce` names the version it rebuilt in ``reproduces`` (it
    registers no version of its own) and holds the outcome in ``reproduction``:
    ``identical``, ``digest``, ``expected``, ``metric_deltas``, ``differences``.
    ``metric_series`` maps a metric logged with ``step=`` to its ``(step, value)``
    points in the order logged (a non-finite value is None); ``metrics`` holds the last
    value logged of each key.
    """

    id: str
    name: str
    status: str = "running"
    params: dict[str, Any] = attrs.field(factory=dict)
    data: dict[str, DataFingerprint] = attrs.field(factory=dict)
    code: CodeInfo | None = None
    seeds: Seeds = attrs.field(factory=Seeds)
    environment: Environment | None = None
    hardware: Hardware | None = None
    resources: Resources | None = None
    metrics: dict[str, Any] = attrs.field(factory=dict)
    error: str | None = None
    started_at: datetime = attrs.field(factory=utcnow)
    ended_at: datetime | None = None
    version: str | None = None
    parents: list[str] = attrs.field(factory=list)
    bump_rule: str | None = None
    warnings: list[str] = attrs.field(factory=list)
    blobs: list[str] = attrs.field(factory=list)
    reproduces: str | None = None
    reproduction: dict[str, Any] | None = None
    cwd: str | None = None
    entry: str | None = None
    metric_series: dict[str, list[tuple[int, float | None]]] = attrs.field(factory=dict)
    schema_version: int = SCHEMA_VERSION

    def metric_history(self, key: str) -> list[tuple[int, float]]:
        """The curve of metric ``key``: its ``(step, value)`` points, as logged with
        ``log_metrics(step=N, ...)`` (bounded: see ``docs/governance.md``); a NaN or
        infinite value reads back as ``nan``. :class:`~modelver.NotFound`, with the
        nearest keys, for a key logged without ``step=`` or never logged."""
        series = self.metric_series.get(key) if isinstance(key, str) else None
        if series is None:
            from ._errors import NotFound
            from ._names import closest

            why = ("was logged without step=, so it has no curve" if key in self.metrics
                   else "was not logged")
            raise NotFound(f"metric {key!r} of run {self.id[:12]} {why}",
                           closest(str(key), self.metric_series))
        return [(step, float("nan") if value is None else value) for step, value in series]

    def _repr_html_(self) -> str:
        """Jupyter: outcome, then a collapsible section per captured part, escaped."""
        return render("html", self)


@attrs.frozen
class Tombstone:
    """Why and when retention deleted a version's artifact."""

    at: datetime
    reason: str
    by: str
    rule: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Artifact:
    """One member of a bundle: the digest of its manifest, its format and its size."""

    digest: str
    format: str
    size: int


@attrs.frozen
class Annotation:
    """One annotation of a version: a description (a model card, Markdown text) and tag
    changes, appended to the log after the version was registered.

    ``description`` None leaves the description as it was; ``""`` clears it. In
    ``tags`` a text sets a tag and None removes it; other tags stay as they were.
    """

    name: str
    version: str
    at: datetime
    by: str
    description: str | None = None
    tags: dict[str, str | None] = attrs.field(factory=dict)
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Protection:
    """An alias placed under protection: moving it needs ``approvals`` approvals of the
    target by users other than the mover. ``approvals`` 0 lifts the protection."""

    name: str
    alias: str
    approvals: int
    at: datetime
    by: str
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class Approval:
    """A user's approval of moving ``alias`` of a model to ``version``."""

    name: str
    version: str
    alias: str
    at: datetime
    by: str
    reason: str | None = None
    schema_version: int = SCHEMA_VERSION


@attrs.frozen
class ModelVersion:
    """An immutable, content-addressed model version.

    ``deleted``, ``reruns`` and ``reproductions`` are read from the store, not from the
    version's own record: the tombstone retention wrote, the ids of later runs that
    reproduced this version (same code, params, data, seed and artifact) without
    registering a new one, and the ids of the runs ``reproduce`` made of it (identical
    or not; each run's ``reproduction`` says). ``annotations`` (oldest first) are read
    from the store too: ``description`` is the latest description they set, and
    ``tags`` are the tags the version was registered with, changed by them in order.

    ``digest`` names the artifact's manifest (record schema 2; schema 1 versions name a
    single blob). ``artifacts`` maps each member of a bundle to its digest, format and
    size (empty for a single model); ``blobs`` lists every other blob the artifact is
    made of (its files, its members' manifests); ``requirements`` maps each module the
    format needs (``sklearn``, ``torch``…) to its version when the model was registered.
    ``signature`` is the input schema of its training data (:class:`~modelver.Signature`:
    frame columns and dtypes, array dtype and trailing shape), recorded when it was
    registered; None for versions registered without a run or a ``signature=``, and for
    versions recorded before signatures.
    """

    name: str
    version: str
    digest: str
    format: str
    size: int
    run_id: str | None = None
    parents: list[str] = attrs.field(factory=list)
    tags: dict[str, str] = attrs.field(factory=dict)
    created_at: datetime = attrs.field(factory=utcnow)
    created_by: str = ""
    deleted: Tombstone | None = None
    reruns: list[str] = attrs.field(factory=list, eq=False)
    artifacts: dict[str, Artifact] = attrs.field(factory=dict)
    blobs: list[str] = attrs.field(factory=list)
    requirements: dict[str, str] = attrs.field(factory=dict)
    reproductions: list[str] = attrs.field(factory=list, eq=False)
    description: str | None = attrs.field(default=None, eq=False)
    annotations: list[Annotation] = attrs.field(factory=list, eq=False)
    signature: Signature | None = None
    schema_version: int = VERSION_SCHEMA

    @property
    def ref(self) -> str:
        """The ``name@version`` text form of this version."""
        return f"{self.name}@{self.version}"

    def _repr_html_(self) -> str:
        """Jupyter: an escaped HTML summary (see :mod:`modelver._render.html`)."""
        return render("html", self)


@attrs.frozen
class AliasEvent:
    """One move of an alias; the history of an alias is a list of these, oldest first."""

    name: str
    alias: str
    from_version: str | None
    to_version: str
    at: datetime
    by: str
    reason: str | None = None
    kind: str = "promote"
    run_id: str | None = None
    schema_version: int = SCHEMA_VERSION

    def _repr_html_(self) -> str:
        """Jupyter: the move, who, when and why, escaped."""
        return render("html", self)


@attrs.frozen
class Hold:
    """A legal or operational hold that protects a version from retention."""

    name: str
    version: str
    reason: str
    at: datetime
    by: str
    released: bool = False
    schema_version: int = SCHEMA_VERSION
