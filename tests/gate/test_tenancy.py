"""The gate holds every token to its key's org and namespace scope (issue: tenancy)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypass import (
    InvalidApiKeyError,
    InvalidKeyError,
    InvalidPermissionsError,
    InvalidTokenError,
    Key,
    KeySet,
    RevokedTokenError,
    UnauthorizedPathError,
    UnauthorizedRoomError,
    sign_jwt,
)
from relaypass._b64 import b64encode
from relaypass._jws import sign_compact
from relaypass._keyscope import KeyBinding, KeyScope, pattern_within
from relaypass._keyset import issuer_digest
from relaypass._scopes import split_path
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.config import GateOptions, build_gate
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.relay import RelayMinter
from relaypass.profiles.room import RoomClaims, RoomMinter, role_preset
from relaypass.testing import FrozenClock
from tests.conftest import NOW

_KEY_A = Key.generate("EdDSA", kid="rk_a")
_KEY_B = Key.generate("EdDSA", kid="rk_b")
_FIRST = Key.generate("EdDSA", kid="rk_first")


def bound(key: Key, org: str, *roots: str) -> Key:
    return key.bound(KeyBinding(org=org, scope=KeyScope.for_roots(roots)))


def two_org_gate(profile: str = "relay", **kw: object) -> tuple[Gate, Key, Key, FrozenClock]:
    clock = FrozenClock(NOW)
    a, b = bound(_KEY_A, "org_a", "acme"), bound(_KEY_B, "org_b", "bcorp")
    keys = KeySet(
        [a.public(), b.public()],
        issuers={issuer_digest("key_a"): "org_a", issuer_digest("key_b"): "org_b"},
    )
    gate = Gate(StaticKeySource(keys), profile=profile, clock=clock, **kw)  # type: ignore[arg-type]
    return gate, a, b, clock


def test_jwk_carries_org_scope_and_issuer_and_reads_back() -> None:
    key = _KEY_A.bound(
        KeyBinding(org="org_a", scope=KeyScope(root=("acme",), put=(("live",),)), issuer="me")
    )
    jwk = key.public().to_jwk()
    assert jwk["org"] == "org_a"
    assert jwk["scope"] == {"root": "acme", "put": ["live"]}
    assert jwk["iss"] == "me"
    assert Key.from_jwk(jwk).binding == key.binding


@pytest.mark.parametrize(
    "scope",
    [
        {"root": "a/*"},
        {"root": 3},
        {"root": "a", "put": [1]},
        {"root": "a", "extra": []},
        {"root": "a/../b"},
        [],
    ],
)
def test_malformed_key_scopes_are_refused(scope: object) -> None:
    jwk = {**_KEY_A.public().to_jwk(), "scope": scope}
    with pytest.raises(InvalidKeyError):
        Key.from_jwk(jwk)


def test_a_key_bound_to_an_issuer_refuses_other_issuers() -> None:
    key = _KEY_A.bound(KeyBinding(issuer="relaypass"))
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=FrozenClock(NOW))
    clock = FrozenClock(NOW)
    good = RelayMinter(key, issuer="relaypass", clock=clock).mint("t", ["x/**"])
    bad = RelayMinter(key, issuer="someone-else", clock=clock).mint("t", ["x/**"])
    gate.connect(good, "x")
    with pytest.raises(InvalidTokenError):
        gate.connect(bad, "x")


def test_another_orgs_stream_is_refused_at_connect_not_narrowed() -> None:
    gate, a, _, clock = two_org_gate()
    everything = RelayMinter(a, clock=clock).mint("tenant_a", ["**"])
    with pytest.raises(UnauthorizedPathError):
        gate.connect(everything, "bcorp/live/bcam")
    foreign = RelayMinter(a, clock=clock).mint("tenant_a", ["bcorp/live/bcam"])
    with pytest.raises(UnauthorizedPathError):
        gate.connect(foreign, "bcorp/live/bcam")
    own = gate.connect(RelayMinter(a, clock=clock).mint("tenant_a", ["acme/live/*"]), "acme")
    own.authorize_publish("acme/live/cam")
    assert own.grant.org == "org_a"
    with pytest.raises(InvalidPermissionsError):
        own.authorize_subscribe("bcorp/live/cam")


def test_the_first_org_keeps_the_unprefixed_space_but_not_a_later_orgs() -> None:
    clock = FrozenClock(NOW)
    first = bound(_FIRST, "org_first", "")
    second = bound(_KEY_B, "org_b", "bcorp")
    alone = Gate(StaticKeySource(KeySet([first.public()])), clock=clock)
    token = RelayMinter(first, clock=clock).mint("t", ["**"])
    alone.connect(token, "").authorize_publish("bcorp/live/cam")  # one org: everything
    shared = Gate(StaticKeySource(KeySet([first.public(), second.public()])), clock=clock)
    session = shared.connect(token, "")
    session.authorize_publish("live/cam")
    for path in ("bcorp", "bcorp/live/cam"):
        with pytest.raises(InvalidPermissionsError):
            session.authorize_publish(path)
        with pytest.raises(InvalidPermissionsError):
            session.authorize_subscribe(path)
    assert session.grant.can_publish("bcorpx/cam")  # segment-aware: a sibling is not fenced


def test_moq_tokens_are_held_to_the_key_scope_and_fence() -> None:
    gate, a, _, clock = two_org_gate("moq")

    def moq(root: str, put: tuple[str, ...] = ("",), get: tuple[str, ...] = ("",)) -> str:
        wire = MoqClaims(root=root, publish=put, subscribe=get).to_wire()
        return sign_jwt({**wire, "exp": int(clock.now()) + 60}, a)

    gate.connect(moq("acme"), "acme").authorize_publish("cam")
    gate.connect(moq("acme/room"), "acme")
    with pytest.raises(UnauthorizedPathError):
        gate.connect(moq(""), "acme")  # the claim reaches everything, whatever the path
    with pytest.raises(UnauthorizedPathError):
        gate.connect(moq("bcorp"), "bcorp")


def test_moq_connection_inside_another_orgs_space_is_refused() -> None:
    clock = FrozenClock(NOW)
    first = bound(_FIRST, "org_first", "")
    second = bound(_KEY_B, "org_b", "bcorp")
    gate = Gate(
        StaticKeySource(KeySet([first.public(), second.public()])), profile="moq", clock=clock
    )
    wire = MoqClaims(root="", publish=("",), subscribe=("",)).to_wire()
    token = sign_jwt({**wire, "exp": int(clock.now()) + 60}, first)
    with pytest.raises(UnauthorizedPathError):
        gate.connect(token, "bcorp/room")
    session = gate.connect(token, "")
    with pytest.raises(InvalidPermissionsError):
        session.authorize_subscribe("bcorp/room/cam")
    session.authorize_subscribe("mine/cam")


def room_token(key: Key, issuer: str, room: str | None, clock: FrozenClock, ttl: int = 600) -> str:
    flags, viewer = role_preset("speaker")
    claims = RoomClaims(grant=flags, room_id=room, is_viewer=viewer)
    return RoomMinter(issuer, key, clock=clock).mint(claims, ttl_seconds=ttl)


def test_room_tokens_need_a_live_api_key_of_the_signing_keys_org() -> None:
    gate, a, _, clock = two_org_gate("room")
    session = gate.connect(room_token(a, "key_a", "standup", clock), "acme/standup")
    assert session.grant.room == "standup"  # the room lives at <org root>/<roomId>
    for issuer in ("key_b", "key_unknown"):  # another org's API key, an unknown one
        with pytest.raises(InvalidApiKeyError):
            gate.connect(room_token(a, issuer, "standup", clock), "acme/standup")
    with pytest.raises(UnauthorizedPathError):
        gate.connect(room_token(a, "key_a", "standup", clock), "bcorp/standup")
    with pytest.raises(UnauthorizedRoomError):
        gate.connect(room_token(a, "key_a", "standup", clock), "acme/other")


def test_room_tokens_without_iss_are_refused_for_an_orgs_key() -> None:
    gate, a, _, clock = two_org_gate("room")
    flags, _ = role_preset("viewer")
    wire = RoomClaims(grant=flags, room_id="r").to_wire()
    token = sign_jwt({**wire, "exp": int(clock.now()) + 60}, a)
    with pytest.raises(InvalidApiKeyError):
        gate.connect(token, "acme/r")


def test_revoking_an_api_key_cuts_its_room_sessions_and_refuses_its_tokens() -> None:
    closed: list[str] = []
    gate, a, _, clock = two_org_gate("room", on_close=lambda _s, reason: closed.append(reason))
    token = room_token(a, "key_a", "standup", clock)
    gate.connect(token, "acme/standup")
    assert gate.apply_revocation({"kind": "iss", "value": "key_a", "org": "org_a"}) == 1
    assert closed == ["revoked"]
    with pytest.raises(InvalidApiKeyError):
        gate.connect(token, "acme/standup")


def test_room_scoped_tokens_have_a_lifetime_ceiling_at_verify() -> None:
    gate, a, _, clock = two_org_gate("room")
    flags, _ = role_preset("viewer")
    wire = {**RoomClaims(grant=flags, room_id="r").to_wire(), "iss": "key_a"}
    ten_years = sign_jwt({**wire, "exp": int(clock.now()) + 10 * 365 * 86_400}, a)
    with pytest.raises(InvalidTokenError):
        gate.connect(ten_years, "acme/r")
    day = sign_jwt({**wire, "exp": int(clock.now()) + 86_000}, a)
    gate.connect(day, "acme/r")


def test_customer_room_secrets_are_chosen_by_iss() -> None:
    clock = FrozenClock(NOW)
    secret = Key.generate("HS256", kid="cust").bound(
        KeyBinding(org="org_c", scope=KeyScope.for_roots(["cust"]))
    )
    other = Key.generate("HS256", kid="other")
    gate = Gate(
        StaticKeySource(KeySet([bound(_KEY_A, "org_a", "acme").public()])),
        profile="room",
        clock=clock,
        room_issuers={"vsdk_live_cust": secret},
    )
    flags, _ = role_preset("viewer")
    wire = {**RoomClaims(grant=flags, room_id="r").to_wire(), "iss": "vsdk_live_cust"}

    def kidless(key: Key, claims: dict[str, object]) -> str:  # as a VideoSDK app's backend mints
        header = b64encode(b'{"alg":"HS256","typ":"JWT"}')
        payload = json.dumps({**claims, "exp": int(clock.now()) + 60}).encode()
        return sign_compact(payload, key, header)

    session = gate.connect(kidless(secret, wire), "cust/r")
    assert session.grant.org == "org_c"
    with pytest.raises(InvalidTokenError):
        gate.connect(kidless(other, wire), "cust/r")
    with pytest.raises(UnauthorizedPathError):
        gate.connect(kidless(secret, wire), "acme/r")


def test_disabling_an_org_cuts_its_sessions_and_refuses_its_tokens() -> None:
    closed: list[str] = []
    gate, a, b, clock = two_org_gate(on_close=lambda _s, reason: closed.append(reason))
    token_a = RelayMinter(a, clock=clock).mint("t", ["acme/**"])
    gate.connect(token_a, "acme")
    session_b = gate.connect(RelayMinter(b, clock=clock).mint("t", ["bcorp/**"]), "bcorp")
    assert gate.apply_revocation({"kind": "org", "value": "org_a"}) == 1
    assert closed == ["revoked"]
    assert session_b.open
    with pytest.raises(RevokedTokenError):
        gate.connect(token_a, "acme")


def test_revoking_a_tenant_of_one_org_leaves_the_same_name_in_another() -> None:
    gate, a, b, clock = two_org_gate()
    s_a = gate.connect(RelayMinter(a, clock=clock).mint("acme_t", ["acme/**"]), "acme")
    s_b = gate.connect(RelayMinter(b, clock=clock).mint("acme_t", ["bcorp/**"]), "bcorp")
    gate.apply_revocation({"kind": "tenant", "value": "acme_t", "org": "org_a"})
    assert not s_a.open
    assert s_b.open


# ---------------------------------------------------------------- properties

_SEG = st.sampled_from(["a", "b", "c", "live"])
_ROOT = st.lists(_SEG, max_size=3).map("/".join)
_PATTERN = st.lists(st.one_of(_SEG, st.just("*"), st.just("**")), max_size=4).map("/".join)
_PATH = st.lists(_SEG, max_size=5).map("/".join)


def _inside(path: str, roots: list[str]) -> bool:
    segments = split_path(path)
    return any(pattern_within(segments, tuple(split_path(r))) for r in roots)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    roots=st.lists(_ROOT, min_size=1, max_size=2),
    other=_ROOT,
    patterns=st.lists(_PATTERN, min_size=1, max_size=3),
    paths=st.lists(_PATH, min_size=1, max_size=6),
)
def test_relay_gate_never_authorizes_outside_the_key_scope(
    roots: list[str], other: str, patterns: list[str], paths: list[str]
) -> None:
    clock = FrozenClock(NOW)
    mine = bound(_KEY_A, "org_a", *roots)
    others = [other] if not any(other == r for r in roots) else []
    keys = [mine.public()]
    if others:
        keys.append(bound(_KEY_B, "org_b", *others).public())
    gate = Gate(StaticKeySource(KeySet(keys)), clock=clock)
    token = RelayMinter(mine, clock=clock).mint("t", patterns)
    try:
        session = gate.connect(token, "")
    except UnauthorizedPathError:
        return
    fenced = [o for o in others if not any(o == r for r in roots)]
    for path in paths:
        if session.grant.can_publish(path):
            assert _inside(path, roots)
            assert not any(
                _inside(path, [o]) and any(len(split_path(o)) > len(split_path(r)) for r in roots)
                for o in fenced
                if _inside(o, roots)
            )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scope_root=_ROOT,
    token_root=_ROOT,
    put=st.lists(_ROOT, min_size=1, max_size=2),
    connection=_ROOT,
    paths=st.lists(_PATH, min_size=1, max_size=6),
)
def test_moq_gate_never_authorizes_outside_the_key_scope(
    scope_root: str, token_root: str, put: list[str], connection: str, paths: list[str]
) -> None:
    clock = FrozenClock(NOW)
    key = bound(_KEY_A, "org_a", scope_root)
    gate = Gate(StaticKeySource(KeySet([key.public()])), profile="moq", clock=clock)
    wire = MoqClaims(root=token_root, publish=tuple(put)).to_wire()
    token = sign_jwt({**wire, "exp": int(clock.now()) + 60}, key)
    try:
        session = gate.connect(token, connection)
    except (UnauthorizedPathError, InvalidTokenError):
        return
    for path in paths:
        if session.grant.can_publish(path):
            absolute = "/".join(s for s in (connection, path) if s)
            assert _inside(absolute, [scope_root])


def test_build_gate_pins_issuer_and_audience(tmp_path: Path) -> None:
    key = bound(_KEY_A, "org_a", "acme")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([key.public()]).to_jwks()))
    gate, stop = build_gate(GateOptions(key_file=jwks, issuers=("relaypass",), audience="edge-eu1"))
    try:
        now = int(time.time())
        claims = {"sub": "t", "ns": ["acme/**"], "exp": now + 60}
        gate.connect(sign_jwt({**claims, "iss": "relaypass", "aud": "edge-eu1"}, key), "acme")
        for bad in (
            {**claims, "iss": "someone", "aud": "edge-eu1"},
            {**claims, "iss": "relaypass", "aud": "edge-us1"},
            {**claims, "iss": "relaypass"},
        ):
            with pytest.raises(InvalidTokenError):
                gate.connect(sign_jwt(bad, key), "acme")
    finally:
        stop()


def test_build_gate_loads_customer_room_secrets(tmp_path: Path) -> None:
    secret = Key.generate("HS256", kid="cust")
    path = tmp_path / "cust.jwk"
    secret.save(path)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([_KEY_A.public()]).to_jwks()))
    gate, stop = build_gate(
        GateOptions(profile="room", key_file=jwks, room_secrets={"vsdk_live_x": path})
    )
    try:
        flags, _ = role_preset("viewer")
        wire = {**RoomClaims(grant=flags, room_id="r").to_wire(), "iss": "vsdk_live_x"}
        header = b64encode(b'{"alg":"HS256","typ":"JWT"}')
        payload = json.dumps({**wire, "exp": int(time.time()) + 60}).encode()
        assert gate.connect(sign_compact(payload, secret, header), "r").grant.room == "r"
    finally:
        stop()


@settings(max_examples=200)
@given(
    connection=st.lists(st.sampled_from(["acme", "bcorp", "x"]), max_size=3).map("/".join),
    probe=st.lists(st.sampled_from(["acme", "bcorp", "x", "cam"]), max_size=4).map("/".join),
)
def test_remembered_fences_answer_as_fences_built_afresh(connection: str, probe: str) -> None:
    """The first org's fence, compiled once per path, against one rebuilt for the call."""
    from relaypass._scopes import PatternSet
    from relaypass.gate.tenancy import OrgFences, _rebase

    first, second = bound(_FIRST, "org_first", ""), bound(_KEY_B, "org_b", "bcorp")
    fences = OrgFences(KeySet([first.public(), second.public()]))
    fence = fences.for_org("org_first")
    absolute = PatternSet("/".join((*p, "**")) for p in fence)
    for _ in range(2):
        assert fences.fence_set("org_first", None).matches(probe) is absolute.matches(probe)
        try:
            fresh = _rebase(fence, connection)
        except UnauthorizedPathError:
            with pytest.raises(UnauthorizedPathError):  # refused every time, not remembered
                fences.fence_set("org_first", connection)
            continue
        assert fences.fence_set("org_first", connection).matches(probe) is fresh.matches(probe)


@settings(max_examples=200, deadline=None)
@given(
    roots=st.lists(_ROOT, min_size=1, max_size=2),
    publish=st.lists(_PATTERN, max_size=3),
    subscribe=st.lists(_PATTERN, max_size=3),
)
def test_a_scope_checks_compiled_sets_as_it_checks_their_patterns(
    roots: list[str], publish: list[str], subscribe: list[str]
) -> None:
    """The connect path asks with compiled sets (their joined text, not each pattern split)."""
    from relaypass._scopes import PatternSet

    scope = KeyScope.for_roots(roots)
    pub, sub = PatternSet(publish), PatternSet(subscribe)
    try:
        scope.check(pub.patterns, sub.patterns)
        by_patterns = True
    except UnauthorizedPathError:
        by_patterns = False
    try:
        scope.check_sets(pub, sub)
        by_sets = True
    except UnauthorizedPathError:
        by_sets = False
    assert by_sets is by_patterns


@pytest.mark.parametrize(
    ("scope", "patterns", "inside"),
    [
        (KeyScope.for_roots(["acme"]), ["acme/*", "acme", "acme/**"], True),
        (KeyScope.for_roots(["acme"]), ["acme/*", "acmex/*"], False),  # a sibling sharing a head
        (KeyScope.for_roots(["acme"]), ["acme/a", "acm"], False),
        (KeyScope.for_roots(["acme"]), ["**"], False),
        (KeyScope.for_roots(["acme"]), [""], False),
        (KeyScope.for_roots(["acme", "acme/b"]), ["acme/b/c", "acme/x"], True),
        (KeyScope.for_roots(["a/b", "c"]), ["a/b/x", "c", "a/*"], False),
        (KeyScope.for_roots([""]), ["**", "x/y"], True),
        # A scope built by hand with a segment no parser yields: walked segment by segment.
        (KeyScope(root=("a/b",), put=((),), get=((),)), ["a/b/x"], False),
    ],
)
def test_a_scope_check_of_compiled_sets_by_example(
    scope: KeyScope, patterns: list[str], inside: bool
) -> None:
    from relaypass._scopes import PatternSet

    compiled = PatternSet(patterns)
    if inside:
        scope.check_sets(compiled, compiled)
        scope.check(compiled.patterns, compiled.patterns)
    else:
        with pytest.raises(UnauthorizedPathError):
            scope.check_sets(compiled, compiled)
        with pytest.raises(UnauthorizedPathError):
            scope.check(compiled.patterns, compiled.patterns)
