from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypass._scopes import PathError, PatternSet, compiled_patterns, split_path


def reference_match(pattern: str, path: str) -> bool:
    """Plain recursive matcher over segments: the specification."""
    pat = [s for s in pattern.split("/") if s]
    segs = [s for s in path.split("/") if s]

    def go(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(segs)
        if pat[i] == "**":
            return any(go(i + 1, k) for k in range(j, len(segs) + 1))
        if j == len(segs):
            return False
        return (pat[i] == "*" or pat[i] == segs[j]) and go(i + 1, j + 1)

    return go(0, 0)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("voice/sid_xyz/*", "voice/sid_xyz/audio", True),
        ("voice/sid_xyz/*", "voice/sid_xyz", False),
        ("voice/sid_xyz/*", "voice/sid_xyz/audio/track", False),
        ("playback/li_xyz", "playback/li_xyz", True),
        ("playback/li_xyz", "playback/li_xyzz", False),
        ("foo", "foobar", False),
        ("foo/**", "foo", True),
        ("foo/**", "foo/a/b/c", True),
        ("foo/**", "foobar/a", False),
        ("**", "", True),
        ("**", "anything/at/all", True),
        ("a/**/z", "a/z", True),
        ("a/**/z", "a/b/c/z", True),
        ("a/**/z", "a/b/c/y", False),
        ("*/cam", "alice/cam", True),
        ("/a//b/", "a/b", True),
        ("a/b", "//a/b//", True),
    ],
)
def test_pattern_examples(pattern: str, path: str, expected: bool) -> None:
    assert PatternSet([pattern]).matches(path) is expected
    assert reference_match(pattern, path) is expected


@pytest.mark.parametrize("bad", ["foo*", "a/b*c", "a/../b", "./a", "a\x00b", "x" * 1025])
def test_malformed_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PathError):
        PatternSet([bad])


@pytest.mark.parametrize("bad", ["a/../b", "a/./b", "a\nb", "x" * 1025])
def test_malformed_paths_never_match(bad: str) -> None:
    assert not PatternSet(["**"]).matches(bad)


def test_split_path_normalises() -> None:
    assert split_path("/a//b/") == ["a", "b"]
    assert split_path("") == []
    assert split_path("///") == []


def test_empty_set_matches_nothing() -> None:
    assert not PatternSet().matches("a")
    assert not PatternSet().matches("")


def test_duplicate_patterns_collapse() -> None:
    assert PatternSet(["a/b", "/a/b/", "a//b"]).patterns == ("a/b",)


def every_way(pats: list[str]) -> tuple[PatternSet, ...]:
    """The set searched as text always; searched for two paths, then a trie; a trie at once."""
    return (
        PatternSet(pats),
        PatternSet(pats, small_set=0, scan_paths=2),
        PatternSet(pats, small_set=0, scan_paths=0),
    )


segment = st.sampled_from(["a", "b", "c", "live", "x1"])
pattern_segment = st.one_of(segment, st.just("*"), st.just("**"))
patterns = st.lists(pattern_segment, max_size=5).map("/".join)
paths = st.lists(segment, max_size=6).map("/".join)


@settings(max_examples=400)
@given(st.lists(patterns, min_size=1, max_size=6), paths)
def test_compiled_set_agrees_with_the_reference(pats: list[str], path: str) -> None:
    expected = any(reference_match(p, path) for p in pats)
    for compiled in every_way(pats):
        assert compiled.matches(path) is expected
        assert compiled.matches(path) is expected  # memoised answer is the same


@settings(max_examples=300)
@given(st.lists(patterns, min_size=1, max_size=8), st.lists(paths, min_size=2, max_size=10))
def test_one_set_agrees_with_the_reference_path_after_path(
    pats: list[str], seen: list[str]
) -> None:
    """Later checks walk nodes earlier ones expanded (their tails let go), and must agree."""
    for compiled in every_way(pats):
        for path in seen:
            assert compiled.matches_segments(path.split("/") if path else []) is any(
                reference_match(p, path) for p in pats
            ), (pats, path)


def test_a_path_many_patterns_lead_goes_to_the_trie() -> None:
    """Forty lines start with the path's leading run: past the search's budget, the trie
    answers (built then), and agrees with the reference."""
    pats = [f"o/*/x{i}" for i in range(40)] + ["o/**/mic"]
    compiled = PatternSet(pats)
    assert compiled._root is None
    for path, expected in (("o/a/x39", True), ("o/a/b/mic", True), ("o/a/x40", False)):
        assert compiled.matches(path) is expected
        assert any(reference_match(p, path) for p in pats) is expected
    assert compiled._root is not None


def test_a_set_too_long_to_search_goes_to_its_trie_at_once() -> None:
    from relaypass._scopes import _SCAN_TEXT_MAX

    pats = [f"o/{'x' * 60}/s{i}/*" for i in range(_SCAN_TEXT_MAX // 60)]
    assert len("\n".join(pats)) > _SCAN_TEXT_MAX
    compiled = PatternSet(pats)
    assert compiled.matches(f"o/{'x' * 60}/s3/mic")
    assert compiled._root is not None
    shorter = PatternSet(pats[:100])
    assert shorter.matches(f"o/{'x' * 60}/s3/mic")
    assert shorter._root is None


def test_a_larger_set_builds_its_trie_after_its_scanned_paths() -> None:
    pats = [f"o/voice/s{i}/*" for i in range(40)]
    compiled = PatternSet(pats, scan_paths=3)
    for n in range(3):
        assert compiled.matches(f"o/voice/s{n}/mic")
        assert compiled._root is None
    assert not compiled.matches("o/voice/s40/mic")
    assert compiled._root is not None
    assert compiled.matches("o/voice/s39/mic")
    small = PatternSet(pats[:10])
    for n in range(20):
        assert small.matches(f"o/voice/s{n % 10}/p{n}")
    assert small._root is None  # a small set never builds one


def test_a_small_set_stays_linear_however_many_globstars() -> None:
    """``**`` after ``**`` retries one at a time: a 64-segment path is checked at once."""
    import time

    pattern = "/".join(["**"] * 30 + ["x"])
    path = "/".join(["a"] * 63)
    started = time.perf_counter()
    assert PatternSet([pattern]).matches(path) is False
    assert PatternSet([pattern]).matches(path + "/x") is True
    assert time.perf_counter() - started < 0.5


def test_checks_racing_on_a_fresh_set_all_agree_with_the_reference() -> None:
    """Threads expanding the same nodes at once (the trie is built by the walks) never disagree."""

    pats = [f"o/voice/s{i}/*" for i in range(40)] + ["o/**/mic", "o/*/cam", "o/voice/s3/x/**"]
    probes = ["o/voice/s7/a", "o/voice/s39/b", "o/voice/s40/a", "o/x/y/mic", "o/z/cam",
              "o/voice/s3/x/y/z", "o/voice/s3/x"]  # fmt: skip
    expected = {p: any(reference_match(q, p) for q in pats) for p in probes}
    wrong: list[str] = []
    for _ in range(30):
        compiled = PatternSet(pats)
        start = threading.Barrier(4)
        threads = [
            threading.Thread(
                target=_walk, args=(compiled, start, probes[n:] + probes[:n], expected, wrong)
            )
            for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert wrong == []


def _walk(
    compiled: PatternSet,
    start: threading.Barrier,
    order: list[str],
    expected: dict[str, bool],
    wrong: list[str],
) -> None:
    start.wait()
    wrong.extend(p for p in order if compiled.matches_segments(p.split("/")) is not expected[p])


@given(paths, paths)
def test_literal_never_covers_a_sibling_prefix(a: str, b: str) -> None:
    compiled = PatternSet([a]) if a else PatternSet(["x"])
    if a and split_path(a) != split_path(b):
        assert not compiled.matches(b)


def test_duplicate_patterns_collapse_in_first_seen_order() -> None:
    patterns = PatternSet(["b/*", "a/**", "/b/*/", "a/**", "c"])
    assert patterns.patterns == ("b/*", "a/**", "c")
    assert patterns.matches("b/x")
    assert patterns.matches("a")
    assert not patterns.matches("b")


def test_compiled_patterns_are_shared_and_match_like_a_fresh_set() -> None:
    from relaypass._scopes import compiled_patterns

    first = compiled_patterns(["a/*", "b/**"])
    assert compiled_patterns(("a/*", "b/**")) is first  # one trie for every caller
    fresh = PatternSet(["a/*", "b/**"])
    for path in ("a/x", "a", "a/x/y", "b", "b/c/d", "c"):
        assert first.matches(path) == fresh.matches(path)
    with pytest.raises(PathError):
        compiled_patterns(["bad*"])


def test_a_newline_cannot_join_two_patterns_into_one_cached_set() -> None:
    """The cache is keyed on the patterns joined by newlines: a pattern holding one is refused,
    not answered with the set of the two patterns it would split into."""
    from relaypass._scopes import compiled_patterns

    assert compiled_patterns(["a/*", "b"]).matches("b")
    with pytest.raises(PathError):
        compiled_patterns(["a/*\nb"])
    with pytest.raises(PathError):
        compiled_patterns(["a/*", 7])  # type: ignore[list-item]


def test_the_empty_set_and_the_root_pattern_are_told_apart() -> None:
    from relaypass._scopes import EMPTY, compiled_patterns

    root = PatternSet([""])
    assert root.patterns == ("",)
    assert root
    assert root.matches("")
    assert not root.matches("a")
    assert PatternSet().patterns == ()
    assert not PatternSet()
    assert not PatternSet().matches("")
    assert compiled_patterns([]) is EMPTY
    assert compiled_patterns([""]).patterns == ("",)


def test_a_compiled_set_keeps_its_patterns_as_one_string() -> None:
    """What a live session holds: one string for its token's patterns, shared with the cache."""
    from relaypass._scopes import compiled_patterns

    pats = [f"o1/voice/s{i}/*" for i in range(10)]
    compiled = compiled_patterns(list(pats))
    assert compiled.joined == "\n".join(pats)
    assert compiled.patterns == tuple(pats)
    assert compiled_patterns(tuple(pats)).joined is compiled.joined


@settings(max_examples=300)
@given(st.lists(patterns, min_size=1, max_size=8), st.lists(paths, min_size=1, max_size=12))
def test_memoised_answers_agree_with_the_reference_path_after_path(
    pats: list[str], seen: list[str]
) -> None:
    """The first path's answer, then the memo of later ones, asked again in turn."""
    for compiled in every_way(pats):
        for path in seen + seen[::-1] + seen:
            assert compiled.matches(path) is any(reference_match(p, path) for p in pats)


messy_pattern = st.text(alphabet="ab.*/ \n\x00", max_size=12)


def _one_by_one(pats: list[str]) -> tuple[str, ...] | None:
    """The straightforward normalisation: each pattern split and checked alone."""
    from relaypass._scopes import _pattern_segments

    out: dict[str, None] = {}
    try:
        for p in pats:
            out.setdefault("/".join(_pattern_segments(p)), None)
    except PathError:
        return None
    return tuple(out)


normal_pattern = st.lists(pattern_segment, min_size=1, max_size=5).map("/".join)


@settings(max_examples=500)
@given(st.lists(normal_pattern, min_size=1, max_size=8))
def test_patterns_already_in_normal_form_take_the_bulk_check(pats: list[str]) -> None:
    """The bulk check never sends a normal set the slow way (wildcards side by side, '**')."""
    from relaypass._scopes import _plainly_normal

    assert _plainly_normal(pats) == "\n".join(pats)


@settings(max_examples=1500)
@given(st.lists(messy_pattern, max_size=6))
def test_bulk_normal_form_check_agrees_with_pattern_by_pattern(pats: list[str]) -> None:
    expected = _one_by_one(pats)
    if expected is None:
        with pytest.raises(PathError):
            PatternSet(pats)
    else:
        assert PatternSet(pats).patterns == expected
        assert PatternSet(pats).joined == ("\n".join(expected) if expected else None)


@pytest.mark.parametrize(
    "bad",
    [
        ["ok/*", "a/b*"],
        ["ok", "*a"],
        ["x/***"],
        ["a/*/*b"],
        ["ok", "a/./b"],
        ["a/.."],
        ["a", "b\nc"],
        ["/".join("s" * 65)],
        [("x/" * 64) + "y"],
        ["a" * 1025],
    ],
)
def test_one_bad_pattern_among_good_ones_is_refused(bad: list[str]) -> None:
    with pytest.raises(PathError):
        PatternSet(bad)


@pytest.mark.parametrize(
    ("pats", "normal"),
    [
        (["a/*/*/*/b", "**/**"], ("a/*/*/*/b", "**/**")),
        (["/a", "b/"], ("a", "b")),
        ([".hidden/x", "a/..b"], (".hidden/x", "a/..b")),
        (["", "a"], ("", "a")),
    ],
)
def test_normal_forms(pats: list[str], normal: tuple[str, ...]) -> None:
    assert PatternSet(pats).patterns == normal


def test_a_set_expands_only_what_checks_visit_and_agrees_across_many_patterns() -> None:
    pats = [f"voice/sid_{i}/*" for i in range(500)] + ["rooms/**/mic", "*/cam"]
    compiled = PatternSet(pats)
    for path in ("voice/sid_7/a", "voice/sid_499/b", "voice/sid_500/a", "rooms/x/y/mic", "z/cam"):
        assert compiled.matches(path) is any(reference_match(p, path) for p in pats), path


def test_shared_sets_are_bounded_and_let_the_oldest_go_first() -> None:
    from relaypass import _scopes

    first = compiled_patterns(["bound/first/*"])
    assert compiled_patterns(["bound/first/*"]) is first
    for n in range(_scopes._SHARED_MAX):
        compiled_patterns([f"bound/{n}/*"])
    assert len(_scopes._SHARED) == _scopes._SHARED_MAX
    assert compiled_patterns([f"bound/{_scopes._SHARED_MAX - 1}/*"]) is compiled_patterns(
        [f"bound/{_scopes._SHARED_MAX - 1}/*"]
    )
    again = compiled_patterns(["bound/first/*"])
    assert again is not first  # let go, built again, and equal
    assert again == first
    with pytest.raises(PathError):
        compiled_patterns(["bound/a*"])
    assert "bound/a*" not in _scopes._SHARED  # a refused list is never kept
