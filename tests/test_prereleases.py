"""Pre-releases order by PEP 440 precedence everywhere: rc2 < rc10, a1 < b1 < rc1 < final."""

from __future__ import annotations

import pytest

import modelver
from modelver._versions import sort_key

ORDERED = ["0.9.0", "1.0.0a1", "1.0.0b1", "1.0.0rc1", "1.0.0rc2", "1.0.0rc10", "1.0.0",
           "1.2.0", "1.10.0", "2.0.0a1", "2.0.0rc2"]


def _register_shuffled(store: modelver.Store) -> None:
    for v in ("1.0.0rc10", "2.0.0rc2", "1.0.0", "0.9.0", "1.0.0rc2", "1.10.0", "1.0.0b1",
              "2.0.0a1", "1.0.0rc1", "1.2.0", "1.0.0a1"):
        store.register("fraud", v.encode(), version=v)


def test_sort_key_orders_like_pep_440() -> None:
    assert sorted(reversed(ORDERED), key=sort_key) == ORDERED


def test_versions_lists_pre_releases_in_precedence_order(store: modelver.Store) -> None:
    _register_shuffled(store)
    assert [mv.version for mv in store.versions("fraud")] == ORDERED


def test_latest_skips_pre_releases_unless_asked(store: modelver.Store) -> None:
    _register_shuffled(store)
    assert store.resolve("fraud", "latest").version == "1.10.0"
    assert store.resolve("fraud", "latest", prereleases=True).version == "2.0.0rc2"


def test_latest_with_pre_releases_prefers_rc10_over_rc2(store: modelver.Store) -> None:
    for v in ("1.0.0rc2", "1.0.0rc10", "1.0.0rc9"):
        store.register("fraud", v.encode(), version=v)
    assert store.resolve("fraud", "latest", prereleases=True).version == "1.0.0rc10"


def test_specifiers_pick_the_highest_matching_pre_release(store: modelver.Store) -> None:
    _register_shuffled(store)
    assert store.resolve("fraud", ">=1.0.0a1,<1.0.0rc99").version == "1.0.0rc10"
    assert store.resolve("fraud", "<1.0.0rc10", prereleases=True).version == "1.0.0rc2"
    assert store.resolve("fraud", "<2").version == "1.10.0"


def test_keep_last_keeps_the_highest_versions_by_precedence(store: modelver.Store) -> None:
    _register_shuffled(store)
    plan = store.plan_retention(modelver.RetentionPolicy(keep_last=3), "fraud")
    kept = [ref for ref, _ in plan.kept]
    assert kept == ["fraud@2.0.0rc2", "fraud@2.0.0a1", "fraud@1.10.0"]
    assert "fraud@1.0.0rc10" in [d.ref for d in plan.deletions]


def test_a_bump_after_a_pre_release_gives_its_release(store: modelver.Store) -> None:
    store.register("fraud", b"a", version="1.0.0rc10")
    store.register("fraud", b"b", version="1.0.0rc2")
    assert store.register("fraud", b"c", bump="patch").version == "1.0.0"


def test_version_numbers_longer_than_ten_digits_are_refused(store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="at most 10 digits"):
        store.register("fraud", b"x", version="99999999999999999999.0.0")
    assert store.names() == []
