"""relaypass as moq-relay's auth server, held to the published contract and its vectors.

No moq-relay binary can be installed from the registries this suite reaches, so
the relay is played by the test: it POSTs the contract's requests and runs the
internal listener a push reaches (``POST /sessions/revalidate?id=``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relaypass import Key, KeySet, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_auth import (
    CertificateRules,
    MoqAuthServer,
    create_moq_auth_app,
    parse_request,
)
from tests._net import serve_in_thread
from tests.conftest import load_vectors

KEY = Key.generate("EdDSA", kid="moq-auth-k1")
CONTRACT = load_vectors("moq_auth_contract.json")


def moq_token(root: str = "demo", *, ttl: int | None = 300, jti: str = "j1", key: Key = KEY) -> str:
    claims: dict[str, Any] = {"root": root, "put": [""], "get": [""], "jti": jti}
    if ttl is not None:
        claims["exp"] = int(time.time()) + ttl
    return sign_jwt(claims, key)


def request(event: str = "connect", path: str = "/demo", **extra: Any) -> dict[str, Any]:
    return {"id": "00ff" + str(abs(hash(path)) % 10_000), "event": event, "node": "relay-1",
            "transport": "quic", "path": path, **extra}  # fmt: skip


def post(server: MoqAuthServer, body: dict[str, Any] | bytes) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def go() -> tuple[int, dict[str, Any]]:
        transport = httpx.ASGITransport(app=create_moq_auth_app(server))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post("/", content=raw)
            return answer.status_code, answer.json()

    return asyncio.run(go())


@pytest.fixture
def server() -> MoqAuthServer:
    return MoqAuthServer(Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq"))


def test_the_upstream_request_vector_parses() -> None:
    parsed = parse_request(CONTRACT["request_end"].encode())
    assert (parsed.id, parsed.event, parsed.node, parsed.transport) == (
        "00ff", "end", "relay-1", "websocket"
    )  # fmt: skip
    assert (parsed.path, parsed.query) == ("/demo/room", "jwt=abc")


def test_answers_use_the_upstream_grant_shape(server: MoqAuthServer) -> None:
    vector = json.loads(CONTRACT["grant"])
    status, grant = post(server, request(query=f"jwt={moq_token()}"))
    assert status == 200
    assert set(grant) <= set(vector) | {"mounts"}
    assert isinstance(grant["expires"], int)
    assert grant["revalidate"] == 30
    assert grant["expires"] > time.time()


@pytest.mark.parametrize("rule", CONTRACT["path_rules"], ids=lambda r: r["dialed"])
def test_the_contracts_path_rules(server: MoqAuthServer, rule: dict[str, Any]) -> None:
    status, grant = post(
        server, request(path=rule["dialed"], query=f"jwt={moq_token(rule['token_root'])}")
    )
    if "refused" in rule:
        assert status == rule["refused"]
        assert grant["code"] == "UNAUTHORIZED_PATH"
    else:
        assert status == 200, grant
        assert (grant["publish"], grant["subscribe"]) == (rule["publish"], rule["subscribe"])


def test_expires_is_the_tokens_own_and_never_later(server: MoqAuthServer) -> None:
    token = moq_token(ttl=120)
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    assert post(server, request(query=f"jwt={token}"))[1]["expires"] == exp
    status, grant = post(server, request(path="/demo/x", query=f"jwt={moq_token(ttl=None)}"))
    assert status == 200
    assert "expires" not in grant
    assert "revalidate" not in grant  # never a cadence without a bound


def test_credentials_are_evaluated_or_refused_never_ignored(server: MoqAuthServer) -> None:
    token = moq_token()
    setup = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    assert post(server, request(token={"kind": 0, "value": setup}))[0] == 200
    assert post(server, request(token={"kind": 1, "value": setup}))[0] == 401
    other = moq_token(jti="j2")
    both = request(query=f"jwt={other}", token={"kind": 0, "value": setup})
    assert post(server, both)[0] == 401
    twice = request(query=f"jwt={token}", token={"kind": 0, "value": setup})
    assert post(server, twice)[0] == 401  # as moq's server: two credentials, even the same
    tls = {"name": "edge0", "fingerprint": "ab" * 32, "issuer": "CN=cluster"}
    assert post(server, request(query=f"jwt={token}", tls=tls))[0] == 403  # JWT + certificate
    assert post(server, request(tls=tls))[0] == 401  # no certificate rules configured
    assert post(server, request())[0] == 401  # no token, no public prefix
    future = request(query=f"jwt={token}", transport="webtransport", surprise={"x": 1})
    assert post(server, future)[0] == 200  # unknown transports and fields are accepted
    status, refused = post(server, request(query="jwt=not.a.token"))
    assert status == 401
    assert refused["code"] == "INVALID_TOKEN"
    assert "signature" not in refused["reason"].lower() or "or" in refused["reason"]


def test_malformed_requests_are_400(server: MoqAuthServer) -> None:
    assert post(server, b"not json")[0] == 400
    assert post(server, {"event": "connect", "path": "/"})[0] == 400  # no id
    assert post(server, request(event="bogus"))[0] == 400
    assert post(server, b"x" * 70_000)[0] in {400, 413}


def test_a_grant_never_reaches_into_another_orgs_namespace() -> None:
    first = Key.generate("EdDSA", kid="first").bound(
        KeyBinding(org="org_first", scope=KeyScope.for_roots([""]))
    )
    later = Key.generate("EdDSA", kid="later").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    gate = Gate(StaticKeySource(KeySet([first.public(), later.public()])), profile="moq")
    server = MoqAuthServer(gate)
    everything = moq_token("", key=first)
    status, _ = post(server, request(path="/", query=f"jwt={everything}"))
    assert status == 403  # "**" would include bcorp/**, which a grant cannot subtract
    status, grant = post(server, request(path="/live", query=f"jwt={moq_token('live', key=first)}"))
    assert status == 200, grant
    assert grant["tier"] == "org_first"


class RelayDouble:
    """A relay's internal listener: records the pushes it gets."""

    def __init__(self) -> None:
        self.pushed: list[str] = []
        self.event = threading.Event()

        async def revalidate(request: Request) -> JSONResponse:
            self.pushed.append(request.query_params["id"])
            self.event.set()
            return JSONResponse({"ids": [request.query_params["id"]]}, status_code=202)

        self.app = Starlette(routes=[Route("/sessions/revalidate", revalidate, methods=["POST"])])


@pytest.fixture
def relay() -> Iterator[tuple[RelayDouble, str]]:
    double = RelayDouble()
    with serve_in_thread(double.app) as address:
        yield double, f"http://{address}"


def test_a_revocation_pushes_the_relay_and_the_revalidate_closes(
    relay: tuple[RelayDouble, str],
) -> None:
    double, listener = relay
    gate = Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq")
    server = MoqAuthServer(gate, nodes={"relay-1": listener})
    with serve_in_thread(create_moq_auth_app(server)) as address:
        url = f"http://{address}/"
        body = {"id": "abcd", "event": "connect", "node": "relay-1", "transport": "quic",
                "path": "/demo", "query": f"jwt={moq_token(jti='cut-me')}"}  # fmt: skip
        assert httpx.post(url, json=body, timeout=5).status_code == 200
        again = httpx.post(url, json=body | {"event": "revalidate"}, timeout=5)
        assert again.status_code == 200
        started = time.monotonic()
        gate.revoke_jti("cut-me")
        assert double.event.wait(5), "the relay was not pushed"
        assert double.pushed == ["abcd"]
        closed = httpx.post(url, json=body | {"event": "revalidate"}, timeout=5)
        assert closed.status_code == 401
        assert time.monotonic() - started < 2.0  # the push, then the revalidate it asked for
        end = body | {"event": "end", "reason": "refused", "duration": 1.0,
                      "bytes": {"sent": 1, "received": 2}}  # fmt: skip
        assert httpx.post(url, json=end, timeout=5).status_code == 200


def test_the_cli_refuses_a_remote_address_without_the_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "relaypass", "moq-auth", "serve", "--key", "missing.jwk",
         "--listen", "0.0.0.0:8702"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr


def test_the_cli_refuses_caps_without_a_cadence(tmp_path: Path) -> None:
    public = tmp_path / "public.jwk"
    KEY.public().save(public, private=False)
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "relaypass", "moq-auth", "serve", "--key", str(public),
         "--limit-token", "2", "--revalidate", "0"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "need --revalidate" in done.stderr


def test_the_cli_serves_the_contract_on_a_unix_socket(tmp_path: Path) -> None:
    public = tmp_path / "public.jwk"
    KEY.public().save(public, private=False)
    sock = tmp_path / "moq-auth.sock"
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass", "moq-auth", "serve", "--key", str(public),
         "--listen", f"unix:{sock}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the socket did not appear"
            time.sleep(0.05)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as client:
            body = request(query=f"jwt={moq_token()}")
            answer = client.post("http://moq-auth/", json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["publish"] == ["**"]
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize(
    ("pattern", "reaches"),
    [("bcorp", True), ("bcorp/**", True), ("*", True), ("*/live", True), ("**", True),
     ("bcorpx/**", False), ("acme/**", False), ("acme/*", False)],
)  # fmt: skip
def test_the_fence_check_sees_every_path_a_pattern_shares_with_it(
    pattern: str, reaches: bool
) -> None:
    from relaypass._grant import Grant
    from relaypass._scopes import PatternSet
    from relaypass.errors import UnauthorizedPathError
    from relaypass.gate.adapters.moq_auth import grant_answer

    grant = Grant(profile="moq", subscribe=PatternSet([pattern]), fence=PatternSet(["bcorp/**"]))
    if reaches:
        with pytest.raises(UnauthorizedPathError):
            grant_answer(grant, revalidate_seconds=None)
    else:
        assert grant_answer(grant, revalidate_seconds=None)["subscribe"] == [pattern]


def test_client_certificates_get_the_configured_rules_rooted_at_the_top() -> None:
    rules = CertificateRules(publish=("peers/**",), subscribe=("**",), names=frozenset({"edge0"}))
    server = MoqAuthServer(
        Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq"), certificates=rules
    )
    later = int(time.time()) + 600
    tls = {"name": "edge0", "fingerprint": "ab" * 32, "issuer": "CN=cluster", "expires": later}
    status, grant = post(server, request(path="/", tls=tls))
    assert status == 200, grant
    assert (grant["publish"], grant["subscribe"], grant["expires"]) == (["peers/**"], ["**"], later)
    status, grant = post(server, request(path="/peers", tls=tls))
    assert (grant["publish"], grant["subscribe"]) == (["**"], ["**"])  # rebased on the dialed path
    assert post(server, request(tls=tls | {"name": "stranger"}))[0] == 403
    assert post(server, request(tls=tls | {"expires": int(time.time()) - 1}))[0] == 401
    assert post(server, request(query=f"jwt={moq_token()}", tls=tls))[0] == 403  # never both
