"""One algorithm table, the same verdict everywhere: every algorithm x every profile.

For each signing-key algorithm an org may hold, and each profile the control
plane mints, the token is minted through the HTTP API (or refused with a 400 that
names the algorithms the profile takes), then verified with the library verifier
and at the gate. Verdicts must agree with ``PROFILE_ALGORITHMS``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaypass import InvalidTokenError, Key, KeySet, Verifier, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.profiles.algorithms import PROFILE_ALGORITHMS, accepts
from relaypass.profiles.room import RoomClaims, RoomVerifier, role_preset
from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store

SIGNING_ALGS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")
MINTED: dict[str, tuple[str, dict[str, Any]]] = {
    "relay": ("tokens.relay.mint", {"tenant": "t", "ns": ["live/**"]}),
    "moq": ("tokens.moq.mint", {"root": "live", "subscribe": [""]}),
    "room": ("tokens.room.mint", {"roomId": "r", "role": "viewer"}),
}


class ControlPlane:
    def __init__(self, tmp_path: Path) -> None:
        self.store = sqlite_store(tmp_path, key_propagation_seconds=0)
        first = bootstrap(self.store)
        assert first is not None
        self.org, self.key = first
        self.store.create_tenant(self.org, "t", "t", actor="test")
        self.app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), self.store)

    def rpc(self, name: str, body: dict[str, Any]) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cp") as c:
                return await c.post(
                    f"/rpc/{name}", json=body, headers={"Authorization": f"Bearer {self.key}"}
                )

        return asyncio.run(go())

    def jwks(self) -> KeySet:
        return self.store.published_keys(self.org)


@pytest.fixture
def cp(tmp_path: Path) -> ControlPlane:
    return ControlPlane(tmp_path)


@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_every_algorithm_against_every_profile(cp: ControlPlane, alg: str) -> None:
    created = cp.rpc(
        "streams.signingKeys.create", {"orgId": cp.org, "label": alg, "algorithm": alg}
    ).json()
    assert created["algorithm"] == alg
    assert created["profiles"] == [p for p, algs in PROFILE_ALGORITHMS.items() if alg in algs]
    for profile, (procedure, body) in MINTED.items():
        minted = cp.rpc(procedure, {"orgId": cp.org, **body})
        expected = accepts(profile, alg)
        assert (minted.status_code == 200) is expected, (alg, profile, minted.text)
        if not expected:
            assert minted.status_code == 400
            for name in PROFILE_ALGORITHMS[profile]:
                assert str(name) in minted.json()["detail"]
            continue
        token = minted.json()["token"]
        keyset = cp.jwks()
        Verifier(keyset, policy=_lenient()).verify(token)  # the library verifier
        gate = Gate(StaticKeySource(keyset), profile=profile)
        gate.connect(token, "live" if profile != "room" else "r")  # the gate
        if profile == "room":  # RoomVerifier: a key or the key set, one verdict
            single = keyset.get(minted.json()["kid"])
            assert single is not None
            for resolved in (single, keyset):
                RoomVerifier(lambda _iss, k=resolved: k).verify(token)  # type: ignore[misc]
    session = cp.rpc(
        "SessionAuth",
        {"tenant_id": "t", "subject": "u", "ttl_seconds": 60, "scope": "call.dial",
         "origin": "https://app.example"},
    )  # fmt: skip
    if accepts("session", alg):
        token = session.json()["token"]
        Gate(StaticKeySource(cp.jwks()), profile="session").connect(
            token, "", "https://app.example"
        )
    else:
        assert session.status_code == 400


@pytest.mark.parametrize("profile", ["relay", "moq", "room", "session"])
@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "RS256", "PS256", "HS256"])
def test_the_gate_and_room_verifier_refuse_what_the_table_refuses(profile: str, alg: str) -> None:
    key = Key.generate(alg, kid="k")
    claims: dict[str, object] = {  # type: ignore[assignment]
        "relay": {"sub": "t", "ns": ["live/**"]},
        "moq": {"root": "live", "get": [""]},
        "room": {**RoomClaims(grant=role_preset("viewer")[0], room_id="r").to_wire(), "iss": "i"},
        "session": {
            "sub": "u", "tenant": "t", "scope": "call.dial", "origin": "https://a.example"
        },
    }[profile]  # fmt: skip
    token = sign_jwt({**claims, "exp": int(time.time()) + 600}, key)
    keyset = KeySet([key if key.is_symmetric else key.public()])
    gate = Gate(StaticKeySource(keyset), profile=profile)
    try:
        gate.connect(token, "live" if profile != "room" else "r", "https://a.example")
        verdict = True
    except InvalidTokenError:
        verdict = False
    assert verdict is accepts(profile, alg), (profile, alg)
    if profile == "room":
        for resolved in (key if key.is_symmetric else key.public(), keyset):
            try:
                RoomVerifier(lambda _iss, k=resolved: k).verify(token)  # type: ignore[misc]
                room_verdict = True
            except InvalidTokenError:
                room_verdict = False
            assert room_verdict is accepts("room", alg), alg


def test_rotating_from_eddsa_to_es256_and_back_never_fails_a_mint(cp: ControlPlane) -> None:
    def mint_all() -> None:
        for procedure, body in MINTED.values():
            response = cp.rpc(procedure, {"orgId": cp.org, **body})
            assert response.status_code == 200, (procedure, response.text)

    ed = cp.rpc("streams.signingKeys.create", {"orgId": cp.org, "label": "ed"}).json()
    mint_all()
    live = Gate(StaticKeySource(cp.jwks())).connect(
        cp.rpc("tokens.relay.mint", {"orgId": cp.org, **MINTED["relay"][1]}).json()["token"],
        "live",
    )
    es = cp.rpc(
        "streams.signingKeys.create", {"orgId": cp.org, "label": "es", "algorithm": "ES256"}
    ).json()
    mint_all()  # both active: each profile signs with its newest fitting key
    relay = cp.rpc("tokens.relay.mint", {"orgId": cp.org, **MINTED["relay"][1]}).json()
    assert relay["kid"] == es["id"]
    assert cp.rpc("streams.signingKeys.retire", {"orgId": cp.org, "id": ed["id"]}).is_success
    mint_all()
    back = cp.rpc("streams.signingKeys.create", {"orgId": cp.org, "label": "ed2"}).json()
    assert cp.rpc("streams.signingKeys.retire", {"orgId": cp.org, "id": es["id"]}).is_success
    mint_all()
    relay = cp.rpc("tokens.relay.mint", {"orgId": cp.org, **MINTED["relay"][1]}).json()
    assert relay["kid"] == back["id"]
    assert live.open  # the session opened under the first key lives on through the rotation
    Gate(StaticKeySource(cp.jwks())).connect(relay["token"], "live")


def _lenient() -> Any:
    from relaypass import ClaimsPolicy

    return ClaimsPolicy(require_exp=False)
