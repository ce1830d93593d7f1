from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relaypass import (
    ClaimsPolicy,
    InvalidClaimError,
    Key,
    UnauthorizedPathError,
    Verifier,
    sign_jwt,
)
from relaypass.profiles.moq import MoqClaims, rebase_prefixes


def test_current_wire_names_round_trip() -> None:
    claims = MoqClaims(root="demo", publish=("my-stream",), subscribe=("",), expires=5, issued=1)
    wire = claims.to_wire()
    assert wire == {"root": "demo", "put": ["my-stream"], "get": [""], "exp": 5, "iat": 1}
    assert MoqClaims.from_wire(wire) == claims


def test_string_or_list_is_accepted_for_put_and_get() -> None:
    claims = MoqClaims.from_wire({"root": "demo", "put": "a", "get": ["b", "c"]})
    assert claims.publish == ("a",)
    assert claims.subscribe == ("b", "c")


def test_legacy_names_are_read_in_a_legacy_token() -> None:
    claims = MoqClaims.from_wire({"path": "demo", "pub": "alice", "sub": ["bob"]})
    assert claims == MoqClaims(root="demo", publish=("alice",), subscribe=("bob",))


def test_sub_is_the_subject_in_a_current_token() -> None:
    key = Key.generate("HS256", kid="k")
    token = sign_jwt({"root": "demo", "get": ["x"], "sub": "user-1"}, key)
    verified = Verifier(key, policy=ClaimsPolicy(require_exp=False)).verify(token)
    claims = MoqClaims.from_wire(verified.claims)
    assert claims.subscribe == ("x",)
    assert claims.grant("demo", verified).subject == "user-1"


def test_pattern_claims_are_read() -> None:
    claims = MoqClaims.from_wire({"root": "", "publish": ["rooms/*/cam"], "subscribe": "rooms/**"})
    grant = claims.grant("")
    assert grant.can_publish("rooms/r1/cam")
    assert not grant.can_publish("rooms/r1/mic")
    assert grant.can_subscribe("rooms/r1/anything/deep")


@pytest.mark.parametrize(
    "claims",
    [
        {"root": 5, "put": ["a"]},
        {"root": "demo", "put": [5]},
        {"root": "demo", "put": ["a*"]},
        {"root": "demo", "get": {"a": 1}},
        {"root": "demo", "put": ["a"], "cluster": "yes"},
        {"root": "../x", "put": ["a"]},
        {"root": "demo", "publish": ["a*b"]},
    ],
)
def test_malformed_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(InvalidClaimError):
        MoqClaims.from_wire(claims)


def test_grant_covers_prefixes_segment_wise() -> None:
    grant = MoqClaims(root="demo", publish=("my-stream",), subscribe=("",)).grant("demo")
    assert grant.can_publish("my-stream")
    assert grant.can_publish("my-stream/video")
    assert not grant.can_publish("my-stream2")
    assert grant.can_subscribe("anything/at/all")


def test_connection_path_extending_root_narrows_the_grant() -> None:
    claims = MoqClaims(root="demo", publish=("alice",), subscribe=("alice/cam/hd", "bob"))
    grant = claims.grant("demo/alice/cam")
    assert grant.can_publish("")
    assert grant.can_publish("anything")
    assert grant.can_subscribe("hd")
    assert not grant.can_subscribe("sd")
    assert not grant.can_subscribe("")


def test_connection_path_above_root_widens_paths_not_rights() -> None:
    grant = MoqClaims(root="demo/alice", publish=("cam",)).grant("demo")
    assert grant.can_publish("alice/cam")
    assert not grant.can_publish("cam")
    assert not grant.can_publish("bob/cam")


def test_unrelated_connection_path_is_refused() -> None:
    with pytest.raises(UnauthorizedPathError):
        MoqClaims(root="demo", publish=("a",)).grant("other")
    with pytest.raises(UnauthorizedPathError):
        MoqClaims(root="demo", publish=("a",)).grant("demox")


def test_cluster_flag_is_carried() -> None:
    claims = MoqClaims.from_wire({"root": "", "put": [""], "get": [""], "cluster": True})
    assert claims.grant("").cluster


segment = st.sampled_from(["a", "b", "c"])
path = st.lists(segment, max_size=4)


@given(path, path, st.lists(path, min_size=1, max_size=4), path)
def test_rebase_is_equivalent_to_joining_paths(
    root: list[str], suffix: list[str], prefixes: list[list[str]], rest: list[str]
) -> None:
    """A rebased grant allows path/x exactly when the original allows root/suffix/x."""
    connection = root + suffix
    rebased = rebase_prefixes("/".join(root), "/".join(connection), ["/".join(p) for p in prefixes])
    absolute = root + suffix + rest
    original = any(absolute[: len(root) + len(p)] == root + p for p in prefixes)
    via_rebase = any(rest[: len(r)] == list(r) for r in rebased)
    assert original == via_rebase


_seg = st.sampled_from(["a", "b", "live"])
_path = st.lists(_seg, max_size=3).map("/".join)


@settings(max_examples=300)
@given(
    root=_path,
    connection=_path,
    put=st.lists(_path, max_size=3),
    get=st.lists(_path, max_size=3),
    probe=_path,
)
def test_remembered_session_patterns_match_a_fresh_rebase(
    root: str, connection: str, put: list[str], get: list[str], probe: str
) -> None:
    """The grant's remembered sets answer as sets rebased and compiled afresh."""
    from relaypass._scopes import PatternSet
    from relaypass.errors import UnauthorizedPathError
    from relaypass.profiles.moq import _as_patterns

    claims = MoqClaims(root=root, publish=tuple(put), subscribe=tuple(get))
    try:
        fresh_pub = PatternSet(_as_patterns(rebase_prefixes(root, connection, put)))
        fresh_sub = PatternSet(_as_patterns(rebase_prefixes(root, connection, get)))
    except UnauthorizedPathError:
        for _ in range(2):  # a refusal is raised every time, never remembered
            with pytest.raises(UnauthorizedPathError):
                claims.grant(connection)
        return
    for _ in range(2):
        grant = claims.grant(connection)
        assert grant.publish.matches(probe) is fresh_pub.matches(probe)
        assert grant.subscribe.matches(probe) is fresh_sub.matches(probe)
