"""Seeding: set the run's seed where a global generator exists, and record honestly
which libraries were seeded and which were not, and why.

At the start of a run (:func:`apply_seed`), with an int or ``"auto"`` seed:

* ``random`` is always seeded;
* numpy's global generator (``np.random.seed``), torch (``torch.manual_seed``, CUDA
  generators only if CUDA is already initialized, so capture never starts CUDA),
  TensorFlow (``tf.random.set_seed``) and Keras (``keras.utils.set_random_seed``) are
  seeded when the user has already imported them; nothing is imported here.

At the end (:func:`finish_seeds`), ``not_seeded`` says what the seed did not reach: a
library imported after the run started, numpy ``Generator`` objects
(``np.random.default_rng()`` ignores the global seed), and libraries that take their
seed as an argument (xgboost, lightgbm, jax). Give them ``current_run().seed``.
"""

from __future__ import annotations

import random
import secrets
import sys

import attrs

from .._errors import InvalidName
from .._records import Seeds

__all__ = ["apply_seed", "finish_seeds"]

_AFTER = "imported after the run started: not seeded"
# Libraries whose randomness the global seed does not reach, and what to do instead.
_BY_ARGUMENT = {
    "numpy": ("numpy.random.Generator", "np.random.default_rng() is not seeded by the "
              "global seed: pass np.random.default_rng(current_run().seed)"),
    "xgboost": ("xgboost", "takes its seed as a parameter: pass "
                "random_state=current_run().seed"),
    "lightgbm": ("lightgbm", "takes its seed as a parameter: pass seed=current_run().seed"),
    "jax": ("jax", "has no global generator: use jax.random.key(current_run().seed)"),
}
_GLOBAL = ("numpy", "torch", "tensorflow", "keras")


def apply_seed(seed: int | str | None) -> Seeds:
    """Seed the generators for ``seed`` (an int, ``"auto"`` or None) and record it."""
    if seed is None:
        return Seeds(seed=None, seeded=[])
    if seed == "auto":
        value = secrets.randbelow(2**32)
    elif isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32:
        value = seed
    else:
        raise InvalidName(f"seed must be an int in [0, 2**32), 'auto' or None, not {seed!r}")
    seeded = ["random"]
    random.seed(value)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(value)
        seeded.append("numpy")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(value)
        seeded.append("torch")
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_initialized():
            cuda.manual_seed_all(value)
            seeded.append("torch.cuda")
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(getattr(tf, "random", None), "set_seed"):
        tf.random.set_seed(value)
        seeded.append("tensorflow")
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(getattr(keras, "utils", None), "set_random_seed"):
        keras.utils.set_random_seed(value)  # Python, numpy and the backend framework
        seeded.append("keras")
    return Seeds(seed=value, seeded=seeded)


def finish_seeds(seeds: Seeds) -> Seeds:
    """``seeds`` with ``not_seeded`` filled from the libraries imported now."""
    if seeds.seed is None:
        return seeds
    not_seeded = dict(seeds.not_seeded)
    for module in _GLOBAL:
        if module in sys.modules and module not in seeds.seeded:
            not_seeded[module] = _AFTER
    for module, (what, why) in _BY_ARGUMENT.items():
        if module in sys.modules and what not in not_seeded:
            not_seeded[what] = why
    return attrs.evolve(seeds, not_seeded=not_seeded)
