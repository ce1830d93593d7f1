"""The session indexes against the straightforward scan they replace (Hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypass import Key, KeySet, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.testing import FrozenClock
from tests.conftest import NOW

_KEYS = [
    Key.generate("EdDSA", kid=f"k{i}").bound(
        KeyBinding(org=f"org{i % 2}", scope=KeyScope.for_roots([f"r{i % 2}"]))
    )
    for i in range(3)
]
_TOKEN = st.tuples(
    st.integers(0, 2),  # key
    st.sampled_from(["alice", "bob", "carol"]),  # subject (= tenant for relay tokens)
    st.sampled_from(["j1", "j2", "j3", "j4"]),  # jti
    st.integers(1, 4),  # seconds to exp
)
_REVOCATION = st.one_of(
    st.builds(lambda v: {"kind": "kid", "value": f"k{v}"}, st.integers(0, 2)),
    st.builds(
        lambda v, o: {"kind": "jti", "value": v, "org": o},
        st.sampled_from(["j1", "j2", "j3"]),
        st.sampled_from(["org0", "org1"]),
    ),
    st.builds(
        lambda v, o: {"kind": "tenant", "value": v, "org": o},
        st.sampled_from(["alice", "bob"]),
        st.sampled_from(["org0", "org1", None]),
    ),
    st.builds(lambda v: {"kind": "org", "value": v}, st.sampled_from(["org0", "org1"])),
    st.builds(lambda v: {"kind": "sub", "value": v}, st.sampled_from(["alice", "carol"])),
)


def _matches(event: dict[str, object], grant: object) -> bool:
    """The scan the index replaces, written out plainly."""
    g: object = grant
    kind, value, org = event["kind"], event["value"], event.get("org")
    if kind == "kid":
        return bool(g.kid == value)  # type: ignore[attr-defined]
    if kind == "jti":
        return bool(g.jti == value and (org is None or g.org == org))  # type: ignore[attr-defined]
    if kind == "tenant":
        return bool(g.tenant == value and (org is None or g.org == org))  # type: ignore[attr-defined]
    if kind == "org":
        return bool(g.org == value)  # type: ignore[attr-defined]
    return bool(g.subject == value)  # type: ignore[attr-defined]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.lists(_TOKEN, min_size=1, max_size=12),
    events=st.lists(_REVOCATION, max_size=4),
    advance=st.integers(0, 5),
)
def test_indexed_revocation_and_expiry_cut_exactly_what_a_scan_would(
    tokens: list[tuple[int, str, str, int]], events: list[dict[str, object]], advance: int
) -> None:
    clock = FrozenClock(NOW)
    gate = Gate(StaticKeySource(KeySet([k.public() for k in _KEYS])), clock=clock)
    sessions = []
    for key_no, subject, jti, ttl in tokens:
        claims = {"sub": subject, "jti": jti, "ns": [f"r{key_no % 2}/**"], "exp": NOW + ttl}
        sessions.append(gate.connect(sign_jwt(claims, _KEYS[key_no]), f"r{key_no % 2}"))
    expected_open = {s.id for s in sessions}
    for event in events:
        doomed = {s.id for s in sessions if s.id in expected_open and _matches(event, s.grant)}
        assert gate.apply_revocation(event) == len(doomed)
        expected_open -= doomed
        assert {s.id for s in gate.sessions} == expected_open
    clock.advance(advance)
    expired = {
        s.id
        for s in sessions
        if s.id in expected_open and s.grant.expires_at is not None
        and clock.now() >= s.grant.expires_at
    }  # fmt: skip
    assert gate.expire_sessions() == len(expired)
    assert {s.id for s in gate.sessions} == expected_open - expired


def test_a_refresh_refiles_the_session() -> None:
    clock = FrozenClock(NOW)
    key = _KEYS[0]
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)

    def token(jti: str, ttl: int) -> str:
        return sign_jwt({"sub": "alice", "jti": jti, "ns": ["r0/**"], "exp": NOW + ttl}, key)

    session = gate.connect(token("old", 2), "r0")
    session.refresh(token("new", 10))
    clock.advance(3)
    assert gate.expire_sessions() == 0  # the old exp no longer applies
    assert gate.apply_revocation({"kind": "jti", "value": "old", "org": "org0"}) == 0
    assert gate.apply_revocation({"kind": "jti", "value": "new", "org": "org0"}) == 1
    assert not session.open


@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 6), st.sampled_from(["a", "b"]))))
def test_index_entries_follow_adds_and_removes_like_a_dict_of_sets(
    steps: list[tuple[bool, int, str]],
) -> None:
    """One id is filed bare and several as a set; candidates see no difference."""
    from relaypass._grant import Grant
    from relaypass.gate.index import SessionIndex

    index, model, filed = SessionIndex(), {"a": set(), "b": set()}, {}  # type: ignore[var-annotated]
    for add, session_id, jti in steps:
        if add and session_id not in filed:
            filed[session_id] = Grant(profile="relay", jti=jti)
            index.add(session_id, filed[session_id])
            model[jti].add(session_id)
        elif not add and session_id in filed:
            grant = filed.pop(session_id)
            index.remove(session_id, grant)
            model[str(grant.jti)].discard(session_id)
        for value, ids in model.items():
            assert sorted(index.candidates("jti", value)) == sorted(ids)
