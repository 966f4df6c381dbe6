"""Annotations, protected aliases and approvals: the policy.

Each is one append-only entry in the model's log, written through
:meth:`~modelver._chain.Chain.append` like every other record, so it is hash-chained,
signed when ``MODELVER_SIGNING_KEY`` is set, replayed by ``verify`` and seen by every
reader in log order.

* :func:`annotate` records a description (a model card) and tag changes of a version.
* :func:`protect` sets how many approvals moving an alias needs (0 lifts it).
* :func:`approve` records one user's approval of moving an alias to a version.
* :func:`check_move` is what ``promote`` and ``rollback`` ask inside their own append:
  a protected alias moves to a version only with that many approvals of it, by users
  other than the mover, recorded after the protection was set and after the alias last
  moved to that version (a move uses its approvals up). Because the check runs on the
  read model the append is built from, a protection or approval appended concurrently
  makes the move lose its race and be decided again: it cannot be bypassed by timing.

What this guards against is mistakes and unreviewed moves by users of the SDK and CLI.
It does not stop someone who can write to the store's files or bucket directly: that is
what storage permissions, the signing key and ``verify`` are for.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._chain import Chain
from ._errors import InvalidName, NotFound, Protected
from ._index import Queries
from ._log import Draft, entry_hash, sign, signing_key
from ._records import Annotation, Approval, ModelVersion, Protection, utcnow
from ._serde import record_data
from ._user import current_user

__all__ = ["MAX_APPROVALS", "MAX_DESCRIPTION", "annotate", "approve", "check_move",
           "protect"]

MAX_DESCRIPTION = 1_000_000
"""The longest description accepted, in characters (a model card, not a document store)."""
MAX_APPROVALS = 100
"""The most approvals a protection may ask for."""


def _checked_tags(tags: Mapping[str, str | None] | None) -> dict[str, str | None]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidName(f"tags must be a mapping of str to str (or None to remove a tag), "
                          f"not {type(tags).__name__}")
    out: dict[str, str | None] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidName(f"a tag key must be a non-empty text, not {key!r}")
        out[key] = None if value is None else str(value)
    return out


def annotate(chain: Chain, mv: ModelVersion, description: str | None,
             tags: Mapping[str, str | None] | None) -> Annotation:
    """Append an annotation of ``mv``: a description (``""`` clears it) and tag changes
    (a text sets a tag, None removes it)."""
    if description is not None and not isinstance(description, str):
        raise InvalidName(f"description must be a text (Markdown), not "
                          f"{type(description).__name__}")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidName(f"the description is {len(description):,} characters, more than the "
                          f"{MAX_DESCRIPTION:,} allowed: keep long documents as artifacts")
    tag_map = _checked_tags(tags)
    if description is None and not tag_map:
        raise InvalidName(f"nothing to annotate {mv.ref} with: pass description= or tags=")
    note = Annotation(name=mv.name, version=mv.version, at=utcnow(), by=current_user(),
                      description=description, tags=tag_map)
    chain.append(mv.name, lambda q: Draft("annotation", {"annotation": record_data(note)}))
    return note


def protect(chain: Chain, name: str, alias: str, approvals: int) -> Protection:
    """Append a protection of ``name@alias`` needing ``approvals`` approvals (0 lifts it:
    ``NotFound`` if the alias is not protected)."""
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not (
            0 <= approvals <= MAX_APPROVALS):
        raise InvalidName(f"approvals must be an int from 0 (unprotect) to {MAX_APPROVALS}, "
                          f"not {approvals!r}")
    guard = Protection(name=name, alias=alias, approvals=approvals, at=utcnow(),
                       by=current_user())

    def build(q: Queries) -> Draft:
        if not q.has_model(name):  # a typo would start a new model's log
            raise NotFound(f"no model {name!r} in this store: register a version first")
        if approvals == 0 and q.protection(name, alias) is None:
            raise NotFound(f"{name}@{alias} is not protected: nothing to unprotect")
        return Draft("protect", {"protection": record_data(guard)})

    chain.append(name, build)
    return guard


def approve(chain: Chain, mv: ModelVersion, alias: str, reason: str | None) -> Approval:
    """Append the current user's approval of moving ``alias`` to ``mv``; ``NotFound`` when
    the alias is not protected (an approval would count for nothing)."""
    if reason is not None and not isinstance(reason, str):
        raise InvalidName(f"reason must be a text, not {type(reason).__name__}")
    ok = Approval(name=mv.name, version=mv.version, alias=alias, at=utcnow(),
                  by=current_user(), reason=reason)

    def build(q: Queries) -> Draft:
        if q.protection(mv.name, alias) is None:
            raise NotFound(f"{mv.name}@{alias} is not protected, so it needs no approval: "
                           f"`modelver protect {mv.name} {alias}` first")
        return Draft("approval", {"approval": record_data(ok)})

    chain.append(mv.name, build)
    return ok


def check_move(q: Queries, name: str, alias: str, to: str, mover: str) -> None:
    """Raise ``Protected``, saying what is missing, unless ``mover`` may move ``alias`` to
    ``to`` now (see the module docstring). With ``MODELVER_SIGNING_KEY`` set, an approval
    whose entry is not signed with it does not count either."""
    guard = q.protection(name, alias)
    if guard is None:
        return
    needed, since = guard
    key = signing_key()
    approvers: list[str] = []
    unsigned = 0
    for user, text, sig in q.approval_entries(name, alias, to, after=since):
        if key is not None and sig != sign(entry_hash(text), key):
            unsigned += 1
        elif user not in approvers:
            approvers.append(user)
    others = [u for u in approvers if u != mover]
    if len(others) >= needed:
        return
    has = f"has {len(others)}" + (f" ({', '.join(others)})" if others else "")
    own = f"; {mover}'s own approval does not count" if mover in approvers else ""
    forged = (f"; {unsigned} approval(s) not signed with MODELVER_SIGNING_KEY do not count "
              "(run `modelver verify`)" if unsigned else "")
    raise Protected(
        f"{name}@{alias} is protected: moving it to {to} needs {needed} "
        f"approval{'s' if needed != 1 else ''} by users other than {mover}; {has}{own}"
        f"{forged}. Another user can run `modelver approve {name}@{to} {alias}`")
