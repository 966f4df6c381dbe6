"""``load(..., check_input=True)``: a loaded model whose predictions check their input.

:class:`CheckedModel` wraps the model: ``predict``, ``predict_proba``,
``predict_log_proba``, ``decision_function``, ``transform`` and ``__call__`` check their
first argument against the version's :class:`~modelver.Signature` first; every other
attribute is the model's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._errors import ModelverError
from ._signature import InputSchema, Signature, mismatch

__all__ = ["CheckedModel", "check_key", "checked"]

_CHECKED = ("predict", "predict_proba", "predict_log_proba", "decision_function",
            "transform")


class CheckedModel:
    """A loaded model whose ``predict``, ``predict_proba``, ``predict_log_proba``,
    ``decision_function``, ``transform`` and ``__call__`` check their first argument
    against the version's :class:`Signature` first (:class:`~modelver.SchemaMismatch`).

    Every other attribute is the model's own (setting one sets the model's; a method
    that returns the model itself, such as ``eval()`` or ``to("cpu")``, returns this
    wrapper, so the checks stay on). It is not an instance of the model's class:
    ``.model`` is the model itself, ``.signature`` the signature checked. It pickles,
    copies and (for scikit-learn) clones as a ``CheckedModel`` of the pickled, copied
    or cloned model.
    """

    __slots__ = ("_schema", "key", "model", "signature")

    def __init__(self, model: Any, signature: Signature, key: str | None = None) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "signature", signature)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "_schema", signature.input(key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Looked up on the model each time, so a copy checks its own model's methods.
        model = object.__getattribute__(self, "model")
        found = getattr(model, name)
        if not callable(found) or isinstance(found, type):
            return found
        if name in _CHECKED:
            return _checking(found, object.__getattribute__(self, "_schema"))
        return _keeping(self, model, found)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in CheckedModel.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self.model, name, value)

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """Check ``x``, then call the model (a torch module, a callable pipeline)."""
        if not callable(self.model):
            raise TypeError(f"{type(self.model).__name__} object is not callable")
        return _checking(self.model, self._schema)(x, *args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (CheckedModel, (self.model, self.signature, self.key))

    def __sklearn_clone__(self) -> CheckedModel:
        """``sklearn.base.clone``: the same check around a clone of the model."""
        from sklearn.base import clone  # type: ignore[import-untyped]

        return CheckedModel(clone(self.model), self.signature, self.key)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.model)) | {"model", "signature", "key"})

    def __repr__(self) -> str:
        return f"<modelver.CheckedModel of {self.model!r}>"


def _keeping(wrapper: CheckedModel, model: Any, method: Callable[..., Any]
             ) -> Callable[..., Any]:
    """``method`` of the model, returning the wrapper where it returns the model itself
    (``module.eval()``, ``.to("cpu")``, ``estimator.fit(X, y)``): the checks stay on."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        return wrapper if result is model else result

    call.__name__ = getattr(method, "__name__", "call")
    call.__doc__ = getattr(method, "__doc__", None)
    return call


def _checking(method: Callable[..., Any], schema: InputSchema) -> Callable[..., Any]:
    problems = schema.problems
    key = schema.key

    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        found = problems(x)
        if found:
            raise mismatch(key, found)
        return method(x, *args, **kwargs)

    call.__name__ = getattr(method, "__name__", "call")
    call.__doc__ = getattr(method, "__doc__", None)
    return call


def check_key(check_input: bool | str, signature: Signature | None, ref: str
              ) -> tuple[Signature, str | None]:
    """The signature and data key ``load(..., check_input=…)`` checks (None: the
    default), refused before anything is loaded when it cannot be checked."""
    if not isinstance(check_input, (bool, str)):
        raise ModelverError(f"check_input must be True, False or a data key, not "
                            f"{check_input!r}")
    if signature is None:
        raise ModelverError(f"{ref} has no input signature (its run recorded no frame or "
                            "array, or it was registered directly): load it with "
                            "check_input=False, or register it with signature=<a sample input>")
    key = check_input if isinstance(check_input, str) else None
    signature.input(key)
    return signature, key


def checked(obj: Any, signature: Signature, ref: str, key: str | None = None
            ) -> CheckedModel:
    """``load(..., check_input=True)`` of version ``ref`` (whose signature
    :func:`check_key` accepted): ``obj`` wrapped in a :class:`CheckedModel`."""
    wrapper = CheckedModel(obj, signature, key)
    if not any(callable(getattr(obj, name, None)) for name in _CHECKED) and not callable(obj):
        raise ModelverError(f"{ref} loads as a {type(obj).__name__}, which has no predict, "
                            "transform or __call__ to check: load it with check_input=False"
                            + (" (or pick the member with artifact=)"
                               if isinstance(obj, dict) else ""))
    return wrapper
