"""Git state: HEAD read straight from ``.git`` files, status and diff from ``git`` in a thread.

Two speeds, on purpose:

* :func:`find_repo`, :func:`read_head` and :func:`read_remote` read files only (a few
  hundred microseconds at most) and never start a process.
* :class:`GitProbe` runs ``git status`` and ``git diff HEAD`` in a daemon thread, started
  at the beginning of a run so that training does not wait for it; ``result()`` joins it
  with a timeout. ``git`` with a timeout is the one subprocess modelver allows itself.

Nothing here raises for a missing ``git`` binary, a folder that is not a repository,
an unreadable ``.git`` or a timeout: what cannot be known is ``None``.
Remote URLs are stripped of credentials (:func:`sanitize_url`) before they are returned.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import attrs

__all__ = ["GitProbe", "GitState", "find_repo", "read_head", "read_remote", "sanitize_url"]

#: A diff larger than this is not kept (``diff=None``): it would be stored as a blob
#: with every run, and a diff that size is data checked into git, not code.
MAX_DIFF_BYTES = 64 * 1024 * 1024

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?\Z")  # sha1 or sha256 object names
_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')
_SECRET_KEY = re.compile(
    r"(?i)\A(?:x-amz-.*|(?:.*[_.-])?(?:token|password|passwd|pwd|secret|key|apikey|sig"
    r"|signature|auth|authorization|credentials?))\Z"
)
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
# Variables that would make git look at another repository than the one found from
# the path (they are set inside git hooks, e.g. when tests run from pre-commit).
_REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE")
_NO_WINDOW: int = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console flash on Windows


@attrs.frozen
class GitState:
    """What git says about a working tree; each field is ``None`` when unknown.

    ``dirty`` counts untracked files (``git status`` lines starting with ``?``) as well
    as tracked changes, but ``diff`` is ``git diff HEAD``: tracked changes only, staged
    or not, in binary-safe form (``--binary``), so an untracked file makes the tree dirty
    without appearing in the diff. ``remote`` is the ``origin`` URL (else the first
    remote), with credentials removed.
    """

    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    remote: str | None = None
    diff: bytes | None = attrs.field(default=None, repr=False)


def find_repo(path: str) -> str | None:
    """The root of the git worktree containing ``path`` (a file or folder), or ``None``.

    Walks up to the first folder holding a ``.git`` directory (with a ``HEAD``) or a
    ``.git`` file (worktrees and submodules). Reads the file system only.
    """
    try:
        current = os.path.abspath(path)
        if not os.path.isdir(current):
            current = os.path.dirname(current)
        while True:
            dotgit = os.path.join(current, ".git")
            if os.path.isfile(dotgit) or os.path.isfile(os.path.join(dotgit, "HEAD")):
                return current
            parent = os.path.dirname(current)
            if parent == current:
                return None
            current = parent
    except (OSError, ValueError):  # a deleted cwd, a NUL in the path
        return None


def read_head(repo: str) -> tuple[str | None, str | None]:
    """``(commit, branch)`` of the worktree at ``repo``, read from ``.git`` files.

    Follows ``HEAD`` to ``refs/heads/...`` (loose, then ``packed-refs``) and ``.git``
    files (``gitdir: ...``, with ``commondir`` for linked worktrees). A detached HEAD
    gives ``branch=None``; a branch with no commit yet gives ``commit=None``. Refs kept
    in a reftable (``extensions.refStorage``) cannot be read this way: ``(None, None)``,
    and :class:`GitProbe` gets them from ``git status`` instead.
    """
    dirs = _git_dirs(repo)
    if dirs is None:
        return None, None
    gitdir, common = dirs
    head = _read_text(os.path.join(gitdir, "HEAD"))
    if head is None:
        return None, None
    head = head.strip()
    if head.startswith("ref:"):
        ref = head[4:].strip()
        if ref == "refs/heads/.invalid":  # the stub HEAD of a reftable repository
            return None, None
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None
        return _resolve_ref(gitdir, common, ref), branch
    return (head, None) if _SHA.match(head) else (None, None)


def read_remote(repo: str) -> str | None:
    """The ``origin`` remote URL (else the first remote's) from the repo's config, sanitized.

    Parses ``config`` directly; ``include`` and ``insteadOf`` are not followed.
    """
    dirs = _git_dirs(repo)
    if dirs is None:
        return None
    text = _read_text(os.path.join(dirs[1], "config"))
    if text is None:
        return None
    remotes = _config_remote_urls(text)
    url = remotes.get("origin") or next(iter(remotes.values()), None)
    return None if url is None else sanitize_url(url)


def sanitize_url(url: str) -> str:
    """``url`` without credentials: user info and secret-looking query parameters.

    ``https://user:tok@host/x`` becomes ``https://host/x`` (over http a user name alone
    can be a token); ``ssh://git@host/x`` keeps the user name and drops a password;
    scp-like ``git@host:org/x`` and local paths are kept as they are; query parameters
    such as ``token=``, ``access_token=``, ``sig=`` or ``X-Amz-Signature=`` are removed.
    """
    try:
        return _sanitize(url)
    except ValueError:  # urlsplit refuses e.g. a broken IPv6 host; strip user info by hand
        return re.sub(r"//[^/]*@", "//", url)


class GitProbe:
    """Reads a worktree's git state in a daemon thread; :meth:`result` collects it.

    Started at the beginning of a run, off the critical path::

        probe = GitProbe(source_file)
        ...                      # training
        state = probe.result()   # GitState; never raises

    ``timeout`` bounds the whole probe: each ``git`` call gets the time left, and
    ``result()`` waits at most that long (plus a second for killed processes to exit).
    ``git`` runs with ``GIT_OPTIONAL_LOCKS=0`` (it does not write the index),
    ``LC_ALL=C``, no terminal prompt, stdin from ``/dev/null``, and
    ``core.fsmonitor=false`` (a repository's config must not start a daemon or run a
    hook command from inside training). Without a ``git`` binary, ``commit``, ``branch``
    and ``remote`` still come from the files; ``dirty`` and ``diff`` are ``None``.
    """

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self._path = path
        self._deadline = time.monotonic() + timeout
        self._state = GitState()
        self._thread = threading.Thread(target=self._run, name="modelver-git-probe", daemon=True)
        self._thread.start()

    def result(self) -> GitState:
        """The git state, waiting for the probe up to its timeout; never raises."""
        self._thread.join(max(self._deadline - time.monotonic(), 0.0) + 1.0)
        return self._state

    def _run(self) -> None:
        try:
            repo = find_repo(self._path)
            if repo is None:
                return
            commit, branch = read_head(repo)
            self._state = GitState(commit=commit, branch=branch, remote=read_remote(repo))
            status = self._git(repo, "status", "--porcelain=v2", "--branch", "-z")
            if status is None:
                return
            commit, branch, dirty, tracked = _parse_status(status)
            self._state = attrs.evolve(self._state, commit=commit, branch=branch, dirty=dirty)
            if commit is None:  # no commit yet: there is no HEAD to diff against
                return
            if not tracked:  # nothing tracked changed: git diff HEAD would print nothing
                self._state = attrs.evolve(self._state, diff=b"")
                return
            diff = self._git(repo, "diff", "HEAD", "--no-ext-diff", "--no-textconv",
                             "--no-color", "--binary")
            if diff is not None and len(diff) <= MAX_DIFF_BYTES:
                self._state = attrs.evolve(self._state, diff=diff)
        except Exception:  # noqa: S110  # recording git state must never break a run
            pass

    def _git(self, repo: str, *args: str) -> bytes | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return None
        env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
        env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C", GIT_TERMINAL_PROMPT="0")
        try:
            proc = subprocess.run(
                ["git", "-c", "core.fsmonitor=false", *args],
                cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, timeout=remaining, check=False,
                creationflags=_NO_WINDOW,
            )
        except (OSError, subprocess.SubprocessError, ValueError):  # no git, timeout
            return None
        return proc.stdout if proc.returncode == 0 else None


def _parse_status(out: bytes) -> tuple[str | None, str | None, bool, bool]:
    """``(commit, branch, dirty, tracked_changes)`` from ``git status --porcelain=v2 -z``."""
    commit: str | None = None
    branch: str | None = None
    dirty = tracked = False
    skip_next = False
    for entry in out.split(b"\0"):
        if skip_next:  # the original path of a rename, whatever it looks like
            skip_next = False
            continue
        if not entry:
            continue
        if entry.startswith(b"# "):
            key, _, value = entry[2:].decode("utf-8", "replace").partition(" ")
            if key == "branch.oid":
                commit = value if _SHA.match(value) else None
            elif key == "branch.head":
                branch = None if value == "(detached)" else value
            continue
        dirty = True
        if entry[:2] in (b"1 ", b"2 ", b"u "):
            tracked = True
            skip_next = entry.startswith(b"2 ")
    return commit, branch, dirty, tracked


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def _git_dirs(repo: str) -> tuple[str, str] | None:
    """``(gitdir, commondir)`` of a worktree: they differ for linked worktrees."""
    dotgit = os.path.join(repo, ".git")
    if os.path.isdir(dotgit):
        gitdir = dotgit
    else:
        text = _read_text(dotgit)
        if text is None or not text.startswith("gitdir:"):
            return None
        gitdir = os.path.normpath(os.path.join(repo, text[7:].strip().splitlines()[0]))
    common = _read_text(os.path.join(gitdir, "commondir"))
    if common is None or not common.strip():
        return gitdir, gitdir
    return gitdir, os.path.normpath(os.path.join(gitdir, common.strip()))


def _resolve_ref(gitdir: str, common: str, ref: str, depth: int = 0) -> str | None:
    if not ref.startswith("refs/") or ".." in ref or depth > 5:
        return None
    for base in dict.fromkeys((gitdir, common)):  # per-worktree refs first, then shared
        text = _read_text(os.path.join(base, *ref.split("/")))
        if text is not None:
            text = text.strip()
            if text.startswith("ref:"):
                return _resolve_ref(gitdir, common, text[4:].strip(), depth + 1)
            return text if _SHA.match(text) else None
    packed = _read_text(os.path.join(common, "packed-refs")) or ""
    for line in packed.splitlines():
        if line.startswith(("#", "^")):
            continue
        sha, _, name = line.partition(" ")
        if name.strip() == ref:
            return sha if _SHA.match(sha) else None
    return None


def _config_remote_urls(text: str) -> dict[str, str]:
    """``{remote name: url}`` from git config text, in file order, first url of each."""
    remotes: dict[str, str] = {}
    remote: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            remote = None
            if m is not None:
                section = m.group(1).lower()
                if section == "remote" and m.group(2) is not None:
                    remote = re.sub(r"\\(.)", r"\1", m.group(2))
                elif section.startswith("remote."):  # the old [remote.origin] form
                    remote = m.group(1)[len("remote."):].lower()
            continue
        key, sep, value = line.partition("=")
        if remote is not None and sep and key.strip().lower() == "url":
            remotes.setdefault(remote, _config_value(value))
    return remotes


def _config_value(value: str) -> str:
    """A git config value: quotes removed, escapes applied, trailing comment dropped."""
    out: list[str] = []
    quoted = escaped = False
    for ch in value.strip():
        if escaped:
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(ch, ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
    return "".join(out).strip()


def _sanitize(url: str) -> str:
    if "://" not in url:
        # scp-like [user@]host:path (a user name there is not a secret) or a local path;
        # a "user:password@" form is not valid ssh, but drop the password if present.
        return re.sub(r"\A([^/@:]+):[^/@]*@", r"\1@", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        keep_user = parts.scheme.lower() in _SSH_SCHEMES and user
        netloc = f"{user}@{hostport}" if keep_user else hostport
    query = "&".join(
        item for item in parts.query.split("&")
        if item and not _SECRET_KEY.match(item.partition("=")[0])
    )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
