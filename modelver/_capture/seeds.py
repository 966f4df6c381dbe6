"""Seeding: set and record the seeds of ``random``, numpy and torch.

numpy and torch are seeded only if the user already imported them; torch's CUDA
generators only if CUDA is already initialized, so capture never starts CUDA.
"""

from __future__ import annotations

import random
import secrets
import sys

from .._errors import InvalidName
from .._records import Seeds

__all__ = ["apply_seed"]


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
    return Seeds(seed=value, seeded=seeded)
