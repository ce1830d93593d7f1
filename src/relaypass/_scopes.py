"""Paths and the compiled pattern matcher.

Paths are ``/``-separated segments; leading, trailing and repeated slashes are
ignored, so ``/a//b/`` is ``a/b``. Matching is segment-aware: ``foo`` never
covers ``foobar``.

Patterns are literal segments plus two wildcards:

- ``*`` matches exactly one segment;
- ``**`` matches any number of segments, zero included, so ``live/**``
  covers ``live`` itself and its whole subtree.

A wildcard is a whole segment: ``foo*`` is refused, as are the segments ``.``
and ``..`` and non-printable characters anywhere. A :class:`PatternSet` keeps its
patterns as one string. A set of at most :data:`SMALL_SET` patterns (most tokens carry
a handful) tries each in turn, segment by segment, and never holds more. A larger set
answers its first :data:`SCAN_PATHS` distinct paths by searching that string: only a
pattern that is the path itself, or whose literal head (the segments before its first
wildcard) leads the path, can cover it, so each leading run of the path's segments is
one search and only the lines found are matched; building a set costs its validation
and a first check a few searches. After those paths (or for a path that too many
patterns lead) it compiles the patterns into one trie and walks it with a set of
states, so a check then costs about the same for 20 or 1,000 patterns. Results are
memoised per path (bounded), since a session checks the same few paths again and again.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, cast, final

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_PATTERNS",
    "SCAN_PATHS",
    "SMALL_SET",
    "PathError",
    "PatternSet",
    "compiled_patterns",
    "split_path",
]

MAX_PATH_CHARS: Final = 1024
MAX_SEGMENTS: Final = 64
MAX_PATTERNS: Final = 1024
#: A set of at most this many patterns tries them one by one and never builds a trie.
SMALL_SET: Final = 16
#: A larger set answers this many distinct paths by searching its text, then builds its trie.
SCAN_PATHS: Final = 8
#: A search that finds more candidate patterns than this leaves the path to the trie.
_SCAN_BUDGET: Final = 32
#: A set whose text is longer than this goes to its trie at once (a search reads the text
#: twice per segment of the path at the most: this bounds what one check may read).
_SCAN_TEXT_MAX: Final = 16_384
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


def _plainly_normal(items: list[str] | tuple[str, ...], joined: str | None = None) -> str | None:
    """The patterns joined by newlines if every one is already in normal form (C checks).

    No empty pattern or segment, no '.'/'..' segment, every '*' a whole segment,
    printable, within the size limits. ``None`` means "look closer" (the
    per-pattern path normalises or refuses), never "malformed".
    """
    if joined is None:
        joined = _joined(items)
        if joined is None:
            return None
    # Every pattern between slashes: "/p1/p2/.../pn/", so each segment has one on each side.
    slashed = f"/{joined}/".replace("\n", "/")
    if not slashed.isprintable() or "//" in slashed:  # an empty pattern or segment
        return None
    if max(map(len, items)) > _SHORT:  # long enough to hold too many segments: count them
        return None
    if "/." in slashed and ("/./" in slashed or "/../" in slashed):
        return None
    if "*" in slashed:  # each '*' in a segment of its own, alone or as '**'
        spaced = slashed.replace("/", "//")  # so neighbouring segments do not share a slash
        if spaced.count("*") != spaced.count("/*/") + 2 * spaced.count("/**/"):
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


def _normal_forms(
    patterns: Iterable[str], joined_as_given: str | None = None
) -> tuple[dict[str, None], str | None]:
    """The patterns in normal form, de-duplicated in first-seen order, and joined.

    Joined by newlines (``None`` for no pattern); malformed ones raise :class:`PathError`.
    ``joined_as_given``: the patterns already joined by newlines (by :func:`_joined`).
    """
    items = patterns if isinstance(patterns, list | tuple) else list(patterns)
    plain = _plainly_normal(items, joined_as_given)
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

    __slots__ = ("_first", "_memo", "_root", "_scans", "joined")

    def __init__(
        self,
        patterns: Iterable[str] = (),
        *,
        small_set: int = SMALL_SET,
        scan_paths: int = SCAN_PATHS,
    ) -> None:
        """A set of ``patterns``, malformed ones refused (:class:`PathError`).

        ``small_set``: up to how many patterns no trie is ever built; ``scan_paths``: how
        many distinct paths a larger set answers from its text before it builds its trie
        (tests walk every way).
        """
        self._build(patterns, None, small_set, scan_paths)

    def _build(
        self, patterns: Iterable[str], joined_as_given: str | None, small_set: int, scan_paths: int
    ) -> None:
        normalised, joined = _normal_forms(patterns, joined_as_given)
        #: The patterns in normal form joined by newlines; ``None`` for the empty set.
        self.joined: str | None = joined
        self._root: _Node | None = None
        # Paths still to answer by searching the text before the trie is built (-1: a
        # small set, whose patterns are tried one by one and never make a trie).
        if len(normalised) <= small_set:
            self._scans = -1
        else:
            self._scans = scan_paths if joined is None or len(joined) <= _SCAN_TEXT_MAX else 0
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
        joined = self.joined
        if joined is None:
            return False
        segs = segments if isinstance(segments, list) else list(segments)
        root = self._root
        if root is None:
            scans = self._scans
            if scans < 0:
                return _one_by_one(joined.split("\n"), segs)
            if scans:
                found = _scan(joined, segs)
                if found is not None:
                    self._scans = scans - 1  # a racing check may count the same scan
                    return found
            # A racing check may build its own root: both are the same trie.
            root = self._root = _Node(joined.split("\n"))
        return _walk(root, segs)


def _walk(root: _Node, segments: list[str]) -> bool:
    """Whether the trie under ``root`` reaches a pattern's end at the path's."""
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


def _scan(joined: str, segments: list[str]) -> bool | None:
    """Whether a pattern covers the path, found by searching the patterns' text.

    A pattern covers a path only if it is the path itself, or if its literal head (the
    segments before its first wildcard) is a leading run of the path's segments. So
    each leading run is one search of the text for the lines that start with it and a
    wildcard, and only the lines found are matched. ``None``: more lines were found
    than :data:`_SCAN_BUDGET` (a trie answers such a set better).
    """
    text = f"\n{joined}\n"
    if f"\n{'/'.join(segments)}\n" in text:
        return True
    budget = _SCAN_BUDGET
    head = "\n"
    needle = "\n*"
    at = text.find(needle)
    for seg in (*segments, None):
        while at >= 0:
            budget -= 1
            if budget < 0:
                return None
            end = text.index("\n", at + 1)
            if _covers(text[at + 1 : end].split("/"), segments):
                return True
            at = text.find(needle, end)  # the line's newline starts the next line
        if seg is None:
            break
        head = f"{head}{seg}/"
        at = text.find(head)
        if at < 0:  # no pattern starts with this run, so none with a longer one
            return False
        needle = f"{head}*"
        at = text.find(needle, at)
    return False


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


#: Pattern sets by their patterns joined, oldest first (see :func:`compiled_patterns`).
_SHARED: OrderedDict[str, PatternSet] = OrderedDict()
_SHARED_MAX: Final = 4096


def compiled_patterns(patterns: Iterable[str]) -> PatternSet:
    """A :class:`PatternSet`, shared with every other caller of the same patterns.

    Tokens of one tenant or room carry the same few pattern lists again and
    again: connecting with one reuses the compiled set (and its memo) instead
    of building it. Bounded (4,096 lists, the oldest let go first); a
    ``PatternSet`` is immutable, so sharing is safe. Malformed patterns raise
    :class:`PathError` as always. A list no one shared before costs one lookup:
    the set is built from the text the lookup already joined.
    """
    items = patterns if isinstance(patterns, list | tuple) else list(patterns)
    if not items:
        return EMPTY
    joined = _joined(items)
    if joined is None:  # not all strings, or one holds a newline: refused as ever
        return PatternSet(items)
    shared = _SHARED.get(joined)
    if shared is None:
        shared = PatternSet.__new__(PatternSet)
        shared._build(items, joined, SMALL_SET, SCAN_PATHS)  # noqa: SLF001 - its own module
        if len(_SHARED) >= _SHARED_MAX:
            with contextlib.suppress(KeyError):  # a racing caller emptied it
                _SHARED.popitem(last=False)
        _SHARED[joined] = shared
    return shared
