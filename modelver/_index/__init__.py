"""The read model: a SQLite database of the log's entries and the rows derived from them.

* :mod:`.schema` creates and upgrades the tables (the version order is a PEP 440
  ``sort_key``);
* :mod:`.apply` turns one log entry into rows (each record stored once, in its entry);
* :mod:`.queries` holds every question asked of it, as typed methods;
* :mod:`.db` is the connection and its transactions; :mod:`.statcache` the
  fingerprint stat cache kept beside it.

Policy modules receive a :class:`Queries` (and the backend) and never write SQL.
"""

from __future__ import annotations

from .db import Index
from .queries import Queries
from .schema import DERIVED_TABLES, SCHEMA_USER_VERSION
from .statcache import IndexStatCache

__all__ = ["DERIVED_TABLES", "SCHEMA_USER_VERSION", "Index", "IndexStatCache", "Queries"]
