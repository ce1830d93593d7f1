"""The NATS auth callout against real nats-server processes, and the subject mapping."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from relaypass import InvalidPermissionsError, Key, KeySet, PatternSet, sign_jwt
from relaypass._grant import Grant
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.nats import (
    NatsCallout,
    decode_nats_jwt,
    encode_nats_jwt,
    path_to_subject,
    pattern_subjects,
    permissions_for,
    subject_token,
)
from tests.gate._nats import ACCOUNTS, Broker, CalloutThread, broker, issuer

TIMEOUT = 5.0
CLI = [sys.executable, "-m", "relaypass"]


# ------------------------------------------------------------------ mapping


@pytest.mark.parametrize(
    ("pattern", "subjects"),
    [
        ("voice/sid_xyz/*", ["voice.sid_xyz.*"]),
        ("**", [">"]),
        ("voice/**", ["voice", "voice.>"]),
        ("a/*/b", ["a.*.b"]),
        ("a/*/**", ["a.*", "a.*.>"]),
        ("v1.2/x", ["v1%2E2.x"]),
        ("$SYS/x", ["%24SYS.x"]),
        ("100%/x", ["100%25.x"]),
        ("a b/c", ["a%20b.c"]),
        ("café", ["caf%C3%A9"]),
        ("gt>lt", ["gt%3Elt"]),
    ],
)
def test_every_line_of_the_mapping(pattern: str, subjects: list[str]) -> None:
    assert pattern_subjects(pattern) == subjects


def test_paths_escape_what_a_subject_token_cannot_hold() -> None:
    assert path_to_subject("voice/sid_xyz/mic") == "voice.sid_xyz.mic"
    assert path_to_subject("a/*/b") == "a.%2A.b"  # a literal '*' segment is not a wildcard
    assert subject_token("x.y*z>w$%") == "x%2Ey%2Az%3Ew%24%25"


def test_a_globstar_inside_a_pattern_has_no_subject_form() -> None:
    with pytest.raises(InvalidPermissionsError):
        pattern_subjects("a/**/b")


def test_publish_and_subscribe_stay_apart_and_inboxes_are_added() -> None:
    grant = Grant(
        profile="relay", publish=PatternSet(["chat/out"]), subscribe=PatternSet(["chat/**"])
    )
    permissions = permissions_for(grant)
    assert permissions["pub"] == {"allow": ["chat.out"]}
    assert permissions["sub"] == {"allow": ["chat", "chat.>", "_INBOX.>"]}
    assert permissions["resp"]["max"] == 1
    read_only = permissions_for(Grant(profile="relay", subscribe=PatternSet(["x"])))
    assert read_only["pub"] == {"deny": [">"]}


def nats_match(filter_: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` one or more trailing tokens."""
    want, got = filter_.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or (token not in ("*", got[i])):
            return False
    return len(want) == len(got)


_SEGMENTS = st.sampled_from(["a", "b", "c.d", "$x", "%", "é", "e f", "g>h"])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    segs = draw(st.lists(st.one_of(_SEGMENTS, st.just("*")), min_size=0, max_size=3))
    if draw(st.booleans()):
        segs.append("**")
    return "/".join(segs) if segs else "**"


@given(
    pattern=patterns(), path=st.lists(st.one_of(_SEGMENTS, st.just("*")), min_size=1, max_size=4)
)
@settings(max_examples=500, deadline=None)
def test_a_subject_is_allowed_exactly_when_its_path_is(pattern: str, path: list[str]) -> None:
    text = "/".join(path)
    by_path = PatternSet([pattern]).matches(text)
    subject = path_to_subject(text)
    by_subject = any(nats_match(f, subject) for f in pattern_subjects(pattern))
    assert by_path == by_subject, (pattern, text, subject, pattern_subjects(pattern))


def test_nats_jwts_round_trip_and_refuse_a_forged_signature() -> None:
    signer = issuer()
    token = encode_nats_jwt({"iss": signer.public_key.decode(), "sub": "x"}, signer)
    assert decode_nats_jwt(token)["sub"] == "x"
    forged = encode_nats_jwt({"iss": signer.public_key.decode(), "sub": "y"}, issuer())
    with pytest.raises(InvalidPermissionsError.__mro__[1]):  # RelaypassError: INVALID_TOKEN
        decode_nats_jwt(forged)


# ------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with broker(Path(tmp_path_factory.mktemp("nats")), websocket=True) as running:
        yield running


def relay_token(key: Key, tenant: str, ns: list[str], ttl: int = 300, **extra: object) -> str:
    claims = {"sub": tenant, "ns": ns, "exp": int(time.time()) + ttl, **extra}
    return sign_jwt(claims, key)


async def gone(client: NatsClient, within: float = TIMEOUT) -> float:
    started = time.monotonic()
    while client.is_connected:
        assert time.monotonic() - started < within, "still connected"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def test_pub_sub_inside_the_grant_flows_and_outside_is_refused(single: Broker) -> None:
    async def go() -> None:
        token = relay_token(single.key, "acme", ["chat/**"])
        client = await nats.connect(single.urls[0], token=token, allow_reconnect=False)
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_message(msg: Msg) -> None:
            await got.put(msg.data)

        await client.subscribe("chat.room1", cb=on_message)
        await client.publish("chat.room1", b"hello")
        assert await asyncio.wait_for(got.get(), TIMEOUT) == b"hello"
        await client.publish("billing.x", b"no")
        await client.flush()
        await asyncio.sleep(0.2)
        assert "permissions violation" in str(client.last_error)
        await client.close()

    asyncio.run(go())


def test_request_reply_works_through_inboxes(single: Broker) -> None:
    async def go() -> None:
        server = await nats.connect(
            single.urls[0], token=relay_token(single.key, "acme", ["rpc/**"])
        )
        client = await nats.connect(
            single.urls[0], token=relay_token(single.key, "acme", ["rpc/**"])
        )

        async def answer(msg: Msg) -> None:
            await msg.respond(b"pong")

        try:
            await server.subscribe("rpc.ping", cb=answer)
            await server.flush()
            await client.flush()
            # Interest reaches the client's account moments after the flush on a loaded
            # machine: a bounded wait for it, then the request must be answered.
            for _ in range(20):
                try:
                    reply = await client.request("rpc.ping", b"ping", timeout=TIMEOUT)
                    break
                except nats.errors.NoRespondersError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("no responder became visible to the client's account")
            assert reply.data == b"pong"
        finally:
            await client.close()
            await server.close()

    asyncio.run(go())


@pytest.mark.parametrize("case", ["bad signature", "tenant without account", "expired"])
def test_refused_tokens_get_an_authorization_error_only(single: Broker, case: str) -> None:
    if case == "bad signature":
        token = relay_token(Key.generate("EdDSA", kid="nats-k1"), "acme", ["**"])
    elif case == "tenant without account":
        token = relay_token(single.key, "initech", ["**"])
    else:
        token = relay_token(single.key, "acme", ["**"], ttl=-10)

    async def go() -> None:
        client = NatsClient()
        with pytest.raises(NatsError) as refused:
            await client.connect(single.urls[0], token=token, allow_reconnect=False,
                                 max_reconnect_attempts=0, connect_timeout=2)  # fmt: skip
        await client.close()  # nats.py keeps the socket of a refused connect open otherwise
        assert "authorization" in str(refused.value).lower()

    asyncio.run(go())


def test_tenants_are_isolated_by_accounts(single: Broker) -> None:
    async def go() -> None:
        acme = await nats.connect(single.urls[0], token=relay_token(single.key, "acme", ["**"]))
        globex = await nats.connect(single.urls[0], token=relay_token(single.key, "globex", ["**"]))
        seen: list[bytes] = []

        async def on_message(msg: Msg) -> None:
            seen.append(msg.data)

        await globex.subscribe("chat.room1", cb=on_message)
        await globex.flush()
        await acme.publish("chat.room1", b"acme only")
        await acme.flush()
        await asyncio.sleep(0.3)
        assert seen == []
        await acme.close()
        await globex.close()

    asyncio.run(go())


def test_an_expired_token_is_disconnected_at_exp(single: Broker) -> None:
    async def go() -> float:
        token = relay_token(single.key, "acme", ["**"], ttl=2)
        client = await nats.connect(single.urls[0], token=token, allow_reconnect=False)
        elapsed = await gone(client, within=6)
        await client.close()
        return elapsed

    assert asyncio.run(go()) < 4


def test_a_revoked_token_is_cut_at_once(single: Broker) -> None:
    async def go() -> float:
        token = relay_token(single.key, "acme", ["**"], jti="revoke-me")
        client = await nats.connect(single.urls[0], token=token, allow_reconnect=False)
        started = time.monotonic()
        single.gate.revoke_jti("revoke-me")
        await gone(client)
        await client.close()
        return time.monotonic() - started

    assert asyncio.run(go()) < 1.0


def test_two_servers_in_a_cluster_both_cut_a_revoked_token(tmp_path: Path) -> None:
    with broker(tmp_path, servers=2) as cluster:

        async def go() -> None:
            token = relay_token(cluster.key, "acme", ["**"], jti="both")
            clients = [
                await nats.connect(url, token=token, allow_reconnect=False) for url in cluster.urls
            ]
            cluster.gate.revoke_jti("both")
            for client in clients:
                assert await gone(client) < 1.0
                await client.close()

        asyncio.run(go())


def test_the_cli_serves_the_callout(tmp_path: Path) -> None:
    """``relaypass nats-callout issuer`` then ``serve``, configured from the environment."""
    from tests._net import free_port
    from tests.gate._nats import config, nats_server
    from tests.relay.test_system import process

    seed = tmp_path / "issuer.nk"
    done = subprocess.run(  # noqa: S603 - our own CLI
        [*CLI, "nats-callout", "issuer", "--out", str(seed), "--json"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    public = json.loads(done.stdout)["issuer"]
    assert stat.S_IMODE(seed.stat().st_mode) == 0o600
    key = Key.generate("EdDSA", kid="cli-k1")
    key.save(tmp_path / "public.jwk", private=False)
    port = free_port()
    with nats_server(tmp_path, config(port, public), port, "cli"):
        env = {
            **os.environ,
            "RELAYPASS_NATS_URL": f"nats://127.0.0.1:{port}",
            "RELAYPASS_NATS_ISSUER_SEED": str(seed),
            "RELAYPASS_NATS_CALLOUT_USER": "callout:callout-pw",
            "RELAYPASS_NATS_SYSTEM_USER": "sys:sys-pw",
            "RELAYPASS_NATS_ACCOUNT": "acme=ACME",
            "RELAYPASS_KEY": str(tmp_path / "public.jwk"),
        }
        env.pop("RELAYPASS_REDIS_URL", None)
        with process(["nats-callout", "serve", "--json"], env, tmp_path / "callout.log") as proc:
            assert proc.stdout is not None
            assert json.loads(proc.stdout.readline())["accounts"] == {"acme": "ACME"}

            async def go() -> bytes:
                token = relay_token(key, "acme", ["chat/**"])
                client = await nats.connect(f"nats://127.0.0.1:{port}", token=token)
                sub = await client.subscribe("chat.x")
                await client.publish("chat.x", b"via the cli")
                message = await sub.next_msg(timeout=TIMEOUT)
                await client.close()
                return bytes(message.data)

            assert asyncio.run(go()) == b"via the cli"


def test_a_restarted_callout_cuts_a_client_revoked_while_it_was_away(tmp_path: Path) -> None:
    """The callout is down when a token is revoked; its successor kicks the client in <= 2 s."""
    with broker(tmp_path) as b:
        first, account = b.runner, b.issuer
        assert first is not None
        assert account is not None

        async def go() -> tuple[float, float]:
            url = b.urls[0]
            doomed = await nats.connect(
                url, token=relay_token(b.key, "acme", ["**"], jti="gone-1"), allow_reconnect=False
            )
            kept = await nats.connect(
                url, token=relay_token(b.key, "acme", ["**"], jti="kept-1"), allow_reconnect=False
            )
            await asyncio.to_thread(first.stop)  # the callout goes away
            # Its successor starts with what the control plane now says: gone-1 was revoked.
            successor_gate = Gate(StaticKeySource(KeySet([b.key.public()])))
            successor_gate.revoke_jti("gone-1")
            successor = NatsCallout(
                successor_gate, issuer=account, accounts=ACCOUNTS, servers=b.urls[:1],
                callout_user=("callout", "callout-pw"), system_user=("sys", "sys-pw"),
            )  # fmt: skip
            started = time.monotonic()
            runner = await asyncio.to_thread(CalloutThread, successor)
            try:
                cut = await gone(doomed, within=5) + (time.monotonic() - started)
                assert kept.is_connected  # not revoked: filed again, not kicked
                revoked_at = time.monotonic()
                successor_gate.revoke_jti("kept-1")  # and later revocations reach it
                await gone(kept, within=5)
                later = time.monotonic() - revoked_at
            finally:
                await asyncio.to_thread(runner.stop)
                await doomed.close()
                await kept.close()
            return cut, later

        cut, later = asyncio.run(go())
        assert cut <= 2.0
        assert later < 1.0


def test_the_user_name_carries_the_identity_and_never_the_token() -> None:
    from relaypass.gate.adapters.nats import grant_from_name, identity_name

    key = Key.generate("EdDSA", kid="k-name")
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    token = relay_token(key, "acme", ["**"], jti="j-1")
    session = gate.connect(token)
    name = identity_name(session.grant)
    assert token not in name
    assert token.split(".")[2] not in name
    grant = grant_from_name(name)
    assert grant is not None
    assert (grant.jti, grant.kid, grant.subject, grant.tenant) == ("j-1", "k-name", "acme", "acme")
    assert grant_from_name("acme") is None
    assert grant_from_name("relaypass1.!!!") is None
