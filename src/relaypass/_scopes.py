"""Paths and the compiled pattern matcher.

Paths are ``/``-separated segments; leading, trailing and repeated slashes are
ignored, so ``/a//b/`` is ``a/b``. Matching is segment-aware: ``foo`` never
covers ``foobar``.

Patterns are literal segments plus two wildcards:

- ``*`` matches exactly one segment;
- ``**`` matches any number of segments, zero included, so ``live/**``
  covers ``live`` itself and its whole subtree.

A wildcard is a whole segment: ``foo*`` is refused, as are the segments ``.``
and ``..`` and non-printable characters anywhere. A :class:`PatternSet` of more
than :data:`SMALL_SET` patterns compiles them into one trie and walks it with a
set of states, so a check costs about the same for 20 or 1,000 patterns; a
smaller set (most tokens carry a handful) keeps no more than its patterns and
matches each in turn, segment by segment, which costs less memory than a trie
and no more time at that size. Results are memoised per path (bounded), since a
session checks the same few paths again and again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final, cast, final

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_PATTERNS",
    "SMALL_SET",
    "PathError",
    "PatternSet",
    "compiled_patterns",
    "split_path",
]

MAX_PATH_CHARS: Final = 1024
MAX_SEGMENTS: Final = 64
MAX_PATTERNS: Final = 1024
#: A set of at most this many patterns matches them one by one, with no trie.
SMALL_SET: Final = 16
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


def _plainly_normal(items: list[str] | tuple[str, ...]) -> str | None:
    """The patterns joined by newlines if every one is already in normal form (C checks).

    No empty pattern or segment, no '.'/'..' segment, every '*' a whole segment,
    printable, within the size limits. ``None`` means "look closer" (the
    per-pattern path normalises or refuses), never "malformed".
    """
    joined = _joined(items)
    if joined is None or not joined.replace("\n", "").isprintable():
        return None
    if max(map(len, items)) > _SHORT:  # long enough to hold too many segments: count them
        return None
    text = f"\n{joined}\n"
    if "\n\n" in text or "//" in text or "\n/" in text or "/\n" in text:
        return None
    if "/." in text or "\n." in text:  # some segment starts with a dot: '.', '..' or fine
        edges = text.replace("\n", "/")
        if "/./" in edges or "/../" in edges:
            return None
    if "*" in text:  # strip the whole-segment wildcards; any '*' left is inside a segment
        edges = text.replace("\n", "//")
        for _ in range(2):  # the second pass catches neighbours the first one overlapped
            edges = edges.replace("/*/", "//").replace("/**/", "//")
        if "*" in edges:
            return None
    return joined


def _joined(items: list[str] | tuple[str, ...]) -> str | None:
    """The items joined by newlines, if there are some, each a string holding none."""
    if not items or set(map(type, items)) != {str}:
        return None
    joined = "\n".join(items)
    return joined if joined.count("\n") == len(items) - 1 else None


#: Patterns up to this length cannot exceed MAX_SEGMENTS (one-character segments).
_SHORT: Final = 2 * MAX_SEGMENTS - 1


def _normal_forms(patterns: Iterable[str]) -> tuple[dict[str, None], str | None]:
    """The patterns in normal form, de-duplicated in first-seen order, and joined.

    Joined by newlines (``None`` for no pattern); malformed ones raise :class:`PathError`.
    """
    items = patterns if isinstance(patterns, list | tuple) else list(patterns)
    plain = _plainly_normal(items)
    joined: str | None
    if plain is not None:
        normalised = dict.fromkeys(items)
        joined = plain if len(normalised) == len(items) else "\n".join(normalised)
    else:
        normalised = {}
        for pattern in items:
            normalised.setdefault("/".join(_pattern_segments(pattern)), None)
        joined = "\n".join(normalised) if normalised else None
    if len(normalised) > MAX_PATTERNS:
        msg = f"at most {MAX_PATTERNS} patterns"
        raise PathError(msg)
    return normalised, joined


@final
class _Node:
    """A trie node, expanded from the pattern tails below it the first time a walk reaches it.

    ``tails`` are the rest of each pattern that reached this node ("" ends here).
    Children stay lists of tails until a path steps into them, so building a set
    costs its validation and a check costs the nodes it visits.
    """

    __slots__ = ("children", "closure", "globstar", "star", "sticky", "tails", "terminal")

    def __init__(self, tails: list[str] | str, *, sticky: bool = False) -> None:
        self.tails = tails  # one tail is kept as itself, not in a list of one
        self.sticky = sticky  # a '**' node: consumes any segment and stays
        self.children: dict[str, _Node | list[str] | str] = {}
        self.star: _Node | None = None
        self.globstar: _Node | None = None
        self.terminal = False
        self.closure: tuple[_Node, ...] | None = None


#: An expanded node's tails: its edges hold them now (a node keeps no second copy).
_EXPANDED: Final[list[str]] = []


def _expand(node: _Node) -> tuple[_Node, ...]:
    """Build ``node``'s edges from its tails; its closure (itself and its '**' chain).

    The tails are let go once the closure is set: a racing walk that reads them
    before that builds the same edges again; one that reads them after finds
    the closure already there.
    """
    tails = node.tails
    if tails is _EXPANDED and node.closure is not None:
        return node.closure
    groups: dict[str, list[str] | str] = {}
    terminal = False
    for tail in (tails,) if isinstance(tails, str) else tails:
        if not tail:
            terminal = True
            continue
        head, _, rest = tail.partition("/")
        group = groups.get(head)
        if group is None:
            groups[head] = rest
        elif isinstance(group, str):
            groups[head] = [group, rest]
        else:
            group.append(rest)
    star, globstar = groups.pop("*", None), groups.pop("**", None)
    node.terminal = terminal
    node.star = None if star is None else _Node(star)
    node.globstar = None if globstar is None else _Node(globstar, sticky=True)
    # The groups become the edges as they are (no copy); a step replaces one with its node.
    node.children = cast("dict[str, _Node | list[str] | str]", groups)
    closure = [node]
    step = node.globstar
    while step is not None:  # '**/**' chains collapse into one closure
        closure.append(step)
        if step.closure is None:
            _expand(step)  # to learn its own '**' edge
        step = step.globstar
    node.closure = done = tuple(closure)
    node.tails = _EXPANDED
    return done


def _made(node: _Node, seg: str, tails: list[str] | str) -> _Node:
    """The child node for ``seg``, made from its tails on the first step into it."""
    made = _Node(tails)  # a racing walk may make its own; both are the same subtree
    node.children[seg] = made
    return made


def _step(states: tuple[_Node, ...] | list[_Node], seg: str) -> list[_Node]:
    """The live states after ``seg`` from several states (wildcards in play)."""
    following: list[_Node] = []
    for node in states:
        child = node.children.get(seg)
        if child is not None:
            if not isinstance(child, _Node):
                child = _made(node, seg, child)
            following.extend(child.closure or _expand(child))
        star = node.star
        if star is not None:
            following.extend(star.closure or _expand(star))
        if node.sticky:
            following.append(node)
    return following if len(following) < 8 else list(dict.fromkeys(following))  # noqa: PLR2004


@final
class PatternSet:
    """A compiled, immutable set of patterns.

    The patterns are held as one string, joined by newlines (which no pattern
    holds): a live session keeps its token's set, and ten short patterns cost
    about 700 bytes as ten strings in a tuple, 260 as one.
    """

    __slots__ = ("_first", "_memo", "_root", "joined")

    def __init__(self, patterns: Iterable[str] = (), *, small_set: int = SMALL_SET) -> None:
        """``small_set``: up to how many patterns no trie is built (tests walk both ways)."""
        normalised, joined = _normal_forms(patterns)
        #: The patterns in normal form joined by newlines; ``None`` for the empty set.
        self.joined: str | None = joined
        self._root = _Node(list(normalised)) if len(normalised) > small_set else None
        # The first path checked and its answer (one tuple: read and written at once),
        # then a memo of further paths: most sessions check one or two.
        self._first: tuple[str, bool] | None = None
        self._memo: dict[str, bool] | None = None

    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns in normal form, in first-seen order."""
        joined = self.joined
        return () if joined is None else tuple(joined.split("\n"))

    def __bool__(self) -> bool:
        return self.joined is not None

    def __repr__(self) -> str:
        return f"PatternSet({list(self.patterns)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PatternSet) and set(self.patterns) == set(other.patterns)

    def __hash__(self) -> int:
        return hash(frozenset(self.patterns))

    def matches(self, path: str) -> bool:
        """Whether some pattern covers ``path``. Malformed paths never match."""
        first = self._first
        if first is not None and first[0] == path:
            return first[1]
        memo = self._memo
        if memo is not None:
            hit = memo.get(path)
            if hit is not None:
                return hit
        try:
            segments = split_path(path)
        except PathError:
            return False
        result = self.matches_segments(segments)
        if first is None:
            self._first = (path, result)
        elif memo is None:
            self._memo = {path: result}
        else:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[path] = result
        return result

    def matches_segments(self, segments: Iterable[str]) -> bool:
        """Match already-normalised segments (no memo)."""
        root = self._root
        if root is None:
            joined = self.joined
            return joined is not None and _one_by_one(joined.split("\n"), segments)
        states: tuple[_Node, ...] | list[_Node] = root.closure or _expand(root)
        for seg in segments:
            if len(states) == 1:  # fast path: one live state, no wildcard at this step
                node = states[0]
                if node.star is None and not node.sticky:
                    child = node.children.get(seg)
                    if child is None:
                        return False
                    if not isinstance(child, _Node):
                        child = _made(node, seg, child)
                    states = child.closure or _expand(child)
                    continue
            following = _step(states, seg)
            if not following:
                return False
            states = following
        return any(node.terminal for node in states)


def _one_by_one(patterns: list[str], segments: Iterable[str]) -> bool:
    """Whether one of a small set's patterns covers the path, tried in turn."""
    segs = segments if isinstance(segments, list) else list(segments)
    text = "/".join(segs)
    for pattern in patterns:
        star = pattern.find("*")
        if star < 0:  # no wildcard: the path itself, or nothing
            if pattern == text:
                return True
        # The literal head first (less its slash: a '**' may match nothing): most stop there.
        elif (star == 0 or text.startswith(pattern[: star - 1])) and _covers(
            pattern.split("/"), segs
        ):
            return True
    return False


def _covers(pattern: list[str], segments: list[str]) -> bool:
    """Whether one pattern's segments cover a path's, in O(len(pattern) * len(segments)).

    ``**`` spans any run of segments: on a mismatch the walk goes back to the last
    ``**`` and lets it take one more segment (the classic glob matcher; a later
    ``**`` supersedes an earlier one, so no more than one is ever retried).
    """
    i = j = 0
    resume_i, resume_j = -1, 0
    while j < len(segments):
        if i < len(pattern) and pattern[i] == "**":
            resume_i, resume_j = i, j
            i += 1
        elif i < len(pattern) and (pattern[i] == "*" or pattern[i] == segments[j]):
            i += 1
            j += 1
        elif resume_i >= 0:
            i, resume_j = resume_i + 1, resume_j + 1
            j = resume_j
        else:
            return False
    while i < len(pattern) and pattern[i] == "**":
        i += 1
    return i == len(pattern)


EMPTY: Final = PatternSet()


@functools.lru_cache(maxsize=4096)
def _compiled(joined: str) -> PatternSet:
    made = PatternSet(joined.split("\n"))
    if made.joined == joined:
        made.joined = joined  # the cache's key itself: equal, and one string fewer to keep
    return made


def compiled_patterns(patterns: Iterable[str]) -> PatternSet:
    """A :class:`PatternSet`, shared with every other caller of the same patterns.

    Tokens of one tenant or room carry the same few pattern lists again and
    again: connecting with one reuses the compiled trie (and its memo) instead
    of building it. Bounded (4,096 lists); a ``PatternSet`` is immutable, so
    sharing is safe. Malformed patterns raise :class:`PathError` as always.
    """
    items = patterns if isinstance(patterns, list | tuple) else list(patterns)
    if not items:
        return EMPTY
    joined = _joined(items)
    if joined is None:  # not all strings, or one holds a newline: refused as ever
        return PatternSet(items)
    return _compiled(joined)
