"""List results that know how to show themselves: in Jupyter, and as pandas frames."""

from __future__ import annotations

from typing import Any, TypeVar

from ._records import AliasEvent, ModelVersion, Run
from ._render import render
from ._serde import unstructure

__all__ = ["AliasHistory", "RunList", "VersionList"]

T = TypeVar("T")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        from ._errors import ModelverError

        raise ModelverError("to_pandas() needs pandas: pip install pandas") from None
    return pandas


class VersionList(list[ModelVersion]):
    """A list of :class:`ModelVersion` with ``to_pandas()`` and a Jupyter table."""

    def to_pandas(self) -> Any:
        """One row per version; tags become ``tag.<key>`` columns."""
        rows = []
        for mv in self:
            row = {k: v for k, v in unstructure(mv).items() if k not in ("tags", "deleted",
                                                                          "schema_version")}
            row["created_at"] = mv.created_at
            row["deleted"] = mv.deleted is not None
            row.update({f"tag.{k}": v for k, v in mv.tags.items()})
            rows.append(row)
        return _pandas().DataFrame(rows)

    def _repr_html_(self) -> str:
        """Jupyter: a table; a long list shows its first and last rows."""
        return render("html", self)


class RunList(list[Run]):
    """A list of :class:`Run` with ``to_pandas()`` (params and metrics as columns)."""

    def to_pandas(self) -> Any:
        """One row per run: id, name, status, version, times, ``param.*`` and ``metric.*``."""
        rows = []
        for run in self:
            row: dict[str, Any] = {
                "id": run.id, "name": run.name, "status": run.status, "version": run.version,
                "started_at": run.started_at, "ended_at": run.ended_at,
                "wall_s": run.resources.wall_s if run.resources else None,
            }
            row.update({f"param.{k}": v for k, v in run.params.items()})
            row.update({f"metric.{k}": v for k, v in run.metrics.items()})
            rows.append(row)
        return _pandas().DataFrame(rows)

    def _repr_html_(self) -> str:
        """Jupyter: a table; a long list shows its first and last rows."""
        return render("html", self)


class AliasHistory(list[AliasEvent]):
    """The events of one alias, oldest first."""

    def to_pandas(self) -> Any:
        """One row per move."""
        return _pandas().DataFrame([{k: v for k, v in unstructure(e).items()
                                     if k != "schema_version"} for e in self])

    def _repr_html_(self) -> str:
        """Jupyter: a table; a long list shows its first and last rows."""
        return render("html", self)
