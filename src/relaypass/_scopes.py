"""Paths and the compiled pattern matcher.

Paths are ``/``-separated segments; leading, trailing and repeated slashes are
ignored, so ``/a//b/`` is ``a/b``. Matching is segment-aware: ``foo`` never
covers ``foobar``.

Patterns are literal segments plus two wildcards:

- ``*`` matches exactly one segment;
- ``**`` matches any number of segments, zero included, so ``live/**``
  covers ``live`` itself and its whole subtree.

A wildcard is a whole segment: ``foo*`` is refused, as are the segments ``.``
and ``..`` and non-printable characters anywhere. A :class:`PatternSet` compiles
all of a token's patterns into one trie and walks it with a set of states, so
a check costs about the same for 1 or 1,000 patterns; results are memoised per
path (bounded), since a session checks the same few paths again and again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final, final

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_PATTERNS",
    "PathError",
    "PatternSet",
    "compiled_patterns",
    "split_path",
]

MAX_PATH_CHARS: Final = 1024
MAX_SEGMENTS: Final = 64
MAX_PATTERNS: Final = 1024
_MEMO_MAX: Final = 4096


class PathError(ValueError):
    """A path or pattern is malformed."""


def split_path(path: str) -> list[str]:
    """Normalise ``path`` into its segments, refusing malformed input."""
    if type(path) is not str or len(path) > MAX_PATH_CHARS:
        msg = f"a path is a string of at most {MAX_PATH_CHARS} characters"
        raise PathError(msg)
    if not path.isprintable():
        msg = "control characters are not allowed in paths"
        raise PathError(msg)
    stripped = path.strip("/")
    if not stripped:
        return []
    segments = stripped.split("/")
    if "" in segments:
        segments = [s for s in segments if s]
    if len(segments) > MAX_SEGMENTS:
        msg = f"a path has at most {MAX_SEGMENTS} segments"
        raise PathError(msg)
    if "." in segments or ".." in segments:
        msg = "'.' and '..' are not path segments"
        raise PathError(msg)
    return segments


def _pattern_segments(pattern: str) -> list[str]:
    segments = split_path(pattern)
    for seg in segments:
        if "*" in seg and seg not in ("*", "**"):
            msg = "a wildcard must be a whole segment ('*' or '**')"
            raise PathError(msg)
    return segments


@final
class _Node:
    __slots__ = ("children", "closure", "globstar", "star", "sticky", "terminal")

    def __init__(self, *, sticky: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.star: _Node | None = None
        self.globstar: _Node | None = None
        self.sticky = sticky  # a '**' node: consumes any segment and stays
        self.terminal = False
        self.closure: tuple[_Node, ...] = ()


def _step(node: _Node, seg: str, nodes: list[_Node]) -> _Node:
    """The trie node after ``seg``, created if new."""
    if seg == "**":
        if node.globstar is None:
            node.globstar = _Node(sticky=True)
            nodes.append(node.globstar)
        return node.globstar
    if seg == "*":
        if node.star is None:
            node.star = _Node()
            nodes.append(node.star)
        return node.star
    child = node.children.get(seg)
    if child is None:
        child = node.children[seg] = _Node()
        nodes.append(child)
    return child


@final
class PatternSet:
    """A compiled, immutable set of patterns."""

    __slots__ = ("_memo", "_root_closure", "patterns")

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        normalised: dict[str, None] = {}  # insertion-ordered set: O(1) de-duplication
        root = _Node()
        nodes = [root]
        for pattern in patterns:
            segments = _pattern_segments(pattern)
            text = "/".join(segments)
            if text in normalised:
                continue
            normalised[text] = None
            if len(normalised) > MAX_PATTERNS:
                msg = f"at most {MAX_PATTERNS} patterns"
                raise PathError(msg)
            node = root
            for seg in segments:
                node = _step(node, seg, nodes)
            node.terminal = True
        for node in nodes:
            closure = [node]
            step = node.globstar
            while step is not None:  # '**/**' chains collapse into one closure
                closure.append(step)
                step = step.globstar
            node.closure = tuple(closure)
        self._root_closure = root.closure
        self.patterns: tuple[str, ...] = tuple(normalised)
        self._memo: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"PatternSet({list(self.patterns)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PatternSet) and set(self.patterns) == set(other.patterns)

    def __hash__(self) -> int:
        return hash(frozenset(self.patterns))

    def matches(self, path: str) -> bool:
        """Whether some pattern covers ``path``. Malformed paths never match."""
        memo = self._memo
        hit = memo.get(path)
        if hit is not None:
            return hit
        try:
            segments = split_path(path)
        except PathError:
            return False
        result = self.matches_segments(segments)
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[path] = result
        return result

    def matches_segments(self, segments: Iterable[str]) -> bool:
        """Match already-normalised segments (no memo)."""
        states: tuple[_Node, ...] | list[_Node] = self._root_closure
        for seg in segments:
            if len(states) == 1:  # fast path: one live state, no wildcard at this step
                node = states[0]
                if node.star is None and not node.sticky:
                    child = node.children.get(seg)
                    if child is None:
                        return False
                    states = child.closure
                    continue
            following: list[_Node] = []
            for node in states:
                child = node.children.get(seg)
                if child is not None:
                    following.extend(child.closure)
                if node.star is not None:
                    following.extend(node.star.closure)
                if node.sticky:
                    following.append(node)
            if not following:
                return False
            states = following if len(following) < 8 else list(dict.fromkeys(following))  # noqa: PLR2004
        return any(node.terminal for node in states)


EMPTY: Final = PatternSet()


@functools.lru_cache(maxsize=4096)
def _compiled(patterns: tuple[str, ...]) -> PatternSet:
    return PatternSet(patterns)


def compiled_patterns(patterns: Iterable[str]) -> PatternSet:
    """A :class:`PatternSet`, shared with every other caller of the same patterns.

    Tokens of one tenant or room carry the same few pattern lists again and
    again: connecting with one reuses the compiled trie (and its memo) instead
    of building it. Bounded (4,096 lists); a ``PatternSet`` is immutable, so
    sharing is safe. Malformed patterns raise :class:`PathError` as always.
    """
    return _compiled(tuple(patterns))
