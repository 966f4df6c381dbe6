"""The ``modelver`` command line: a thin layer over the public API.

Every command accepts ``--store URI`` and ``--json``; errors print one line to
stderr and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

# Each command module registers its commands in _commands.COMMANDS as it is imported
# (here, after _commands' own); _main builds the parser from that list.
from . import (  # noqa: F401
    _artifact_commands,
    _governance_commands,
    _import_commands,
    _lineage_commands,
    _rebuild_commands,
    _runs_commands,
    _search_commands,
)
from ._main import main

__all__ = ["main"]
