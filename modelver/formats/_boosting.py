"""Gradient-boosting libraries in their own formats: ``xgboost`` (UBJSON), ``lightgbm``
(its text model) and ``catboost`` (``.cbm``). Both the Booster and the scikit-learn
style wrappers load back as the class that was registered."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ModelverError
from ._base import Format, class_path, import_class, type_module

__all__ = ["FORMATS"]


class XGBoostFormat(Format):
    """``xgboost.Booster`` and ``XGBModel`` wrappers (``XGBClassifier``, …)."""

    name = "xgboost"
    modules = ("xgboost",)

    def claims(self, obj: Any) -> bool:
        """An xgboost Booster or scikit-learn style model."""
        xgb = sys.modules.get("xgboost")
        return xgb is not None and isinstance(obj, (xgb.Booster, xgb.XGBModel))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """``save_model`` as UBJSON (the wrapper's own settings included)."""
        obj.save_model(str(dest / "model.ubj"))
        return {"class": class_path(type(obj))}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """A new object of the registered class, ``load_model`` from the file."""
        cls = import_class(str(meta["class"]), "the xgboost model")
        model = cls()
        model.load_model(str(path / "model.ubj"))
        return model


# What LGBMModel.fit sets besides the booster, rebuilt from the booster on load.
_LGB_FITTED = ("_n_features", "_n_features_in", "_n_classes", "_objective", "_classes",
               "fitted_", "_best_iteration", "_best_score", "_evals_result")


class LightGBMFormat(Format):
    """``lightgbm.Booster`` and ``LGBMModel`` wrappers (``LGBMClassifier``, …)."""

    name = "lightgbm"
    modules = ("lightgbm",)

    def claims(self, obj: Any) -> bool:
        """A LightGBM Booster or scikit-learn style model."""
        lgb = sys.modules.get("lightgbm")
        return lgb is not None and isinstance(obj, (lgb.Booster, lgb.LGBMModel))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """The booster's text model; for a wrapper, its parameters and classes too."""
        import lightgbm as lgb

        meta: dict[str, Any] = {"class": class_path(type(obj))}
        booster = obj if isinstance(obj, lgb.Booster) else obj.booster_
        booster.save_model(str(dest / "model.txt"))
        if not isinstance(obj, lgb.Booster):
            from .._serde import canonical

            params = obj.get_params()
            try:
                canonical(params)
            except (TypeError, ValueError):
                raise ModelverError(f"cannot store this {type(obj).__name__} as 'lightgbm': "
                                    "its parameters are not plain values (a callable "
                                    "objective?); register obj.booster_ instead") from None
            meta["params"] = params
            classes = getattr(obj, "classes_", None)
            if classes is not None:
                meta["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
            names = getattr(obj, "feature_names_in_", None)
            if names is not None:
                meta["feature_names_in"] = [str(n) for n in names]
        return meta

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """The Booster, or the wrapper rebuilt around it with its parameters."""
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(path / "model.txt"))
        cls = import_class(str(meta["class"]), "the LightGBM model")
        if issubclass(cls, lgb.Booster):
            return booster
        import numpy as np

        model = cls(**meta.get("params", {}))
        model._Booster = booster
        model.fitted_ = True
        model._n_features = model._n_features_in = booster.num_feature()
        model._objective = booster.params.get("objective", model.objective)
        model._best_iteration = booster.best_iteration
        model._best_score = dict(booster.best_score)
        model._evals_result = {}
        if "classes" in meta:
            from lightgbm.compat import _LGBMLabelEncoder

            classes = np.array(meta["classes"])
            model._le = _LGBMLabelEncoder().fit(classes)
            model._classes = model._le.classes_
            model._n_classes = len(classes)
        if "feature_names_in" in meta:
            model.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
        return model


class CatBoostFormat(Format):
    """CatBoost models (``CatBoost``, ``CatBoostClassifier``, ``CatBoostRegressor``, …)."""

    name = "catboost"
    modules = ("catboost",)

    def claims(self, obj: Any) -> bool:
        """A CatBoost model."""
        cb = sys.modules.get("catboost")
        return (cb is not None and type_module(obj).startswith("catboost")
                and isinstance(obj, cb.CatBoost))

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        """``.cbm``, with the training time and random model id CatBoost stamps in it
        replaced by fixed values (on a copy), so a retrained model has the same bytes."""
        file = dest / "model.cbm"
        obj.save_model(str(file))
        copy = type(obj)()
        copy.load_model(str(file))
        info = copy.get_metadata()
        for key, fixed in (("model_guid", "0" * 8 + "-" + "-".join(["0" * 8] * 3)),
                           ("train_finish_time", "1970-01-01T00:00:00Z")):
            if key in info:
                info[key] = fixed
        copy.save_model(str(file))
        return {"class": class_path(type(obj))}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        """A new object of the registered class, ``load_model`` from the file."""
        cls = import_class(str(meta["class"]), "the CatBoost model")
        model = cls()
        model.load_model(str(path / "model.cbm"))
        return model


FORMATS: dict[str, Format] = {
    f.name: f for f in (XGBoostFormat(), LightGBMFormat(), CatBoostFormat())
}
