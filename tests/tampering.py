"""Editing a store's database the way a careful attacker would, for the tests that check
``verify`` catches it: drop the immutability triggers, change rows, put them back.

Log entries are stored packed (``modelver._index.packing``), so the statements can call
``entry_json(data)`` (an entry's JSON text), ``pack_entry(text)`` and
``entry_hash(data)`` (the hash of a stored entry).
"""

from __future__ import annotations

import sqlite3

import modelver
from modelver._index.packing import pack_entry, unpack_entry_text
from modelver._log import entry_hash


def tamper(store: modelver.Store, *sql: str, keep_triggers_dropped: bool = False) -> None:
    """Run ``sql`` on a local store's database past its immutability triggers."""
    conn = sqlite3.connect(store.backend.db_path)  # type: ignore[attr-defined]
    conn.create_function("entry_json", 1, unpack_entry_text)
    conn.create_function("pack_entry", 1, pack_entry)
    conn.create_function("entry_hash", 1, lambda data: entry_hash(unpack_entry_text(data) or ""))
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                            ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in sql:
        conn.execute(statement)
    if not keep_triggers_dropped:
        for _, create in triggers:
            conn.execute(create)
    conn.commit()
    conn.close()
