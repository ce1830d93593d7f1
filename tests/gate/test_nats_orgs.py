"""Two orgs behind one NATS callout, sharing one NATS account: the fence holds at the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from relaypass import Key, sign_jwt
from relaypass._grant import Grant
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass._scopes import PatternSet
from relaypass.gate.adapters.nats import permissions_for
from tests.gate._nats import Broker, broker

# The first org keeps the unprefixed namespace; a later org owns `org_B/`.
FIRST = Key.generate("EdDSA", kid="rk_first").bound(
    KeyBinding(org="org_first", scope=KeyScope.for_roots([""]))
)
SECOND = Key.generate("EdDSA", kid="rk_b").bound(
    KeyBinding(org="org_b", scope=KeyScope.for_roots(["org_B"]))
)
ACCOUNTS = {"org_first/t0": "ACME", "org_b/shared_t": "ACME", "shared_t": "GLOBEX"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    directory = Path(tmp_path_factory.mktemp("nats-orgs"))
    with broker(directory, keys=[FIRST, SECOND], accounts=ACCOUNTS) as running:
        yield running


def token(key: Key, tenant: str, ns: list[str]) -> str:
    return sign_jwt({"sub": tenant, "ns": ns, "exp": int(time.time()) + 300}, key)


async def _collect(client: NatsClient, subject: str, seen: list[str]) -> None:
    async def on_message(msg: Msg) -> None:
        seen.append(f"{msg.subject}:{msg.data.decode()}")

    await client.subscribe(subject, cb=on_message)
    await client.flush()


def test_the_fence_is_a_deny_list_on_both_sides() -> None:
    grant = Grant(
        profile="relay",
        publish=PatternSet(["**"]),
        subscribe=PatternSet(["**"]),
        fence=PatternSet(["org_B/**"]),
    )
    permissions = permissions_for(grant)
    assert permissions["pub"] == {"allow": [">"], "deny": ["org_B", "org_B.>"]}
    assert permissions["sub"] == {"allow": [">", "_INBOX.>"], "deny": ["org_B", "org_B.>"]}


def test_the_first_orgs_wildcard_token_never_reaches_another_orgs_subjects(
    shared: Broker,
) -> None:
    async def go() -> tuple[list[str], list[str], list[str]]:
        url = shared.urls[0]
        first = await nats.connect(url, token=token(FIRST, "t0", ["**"]))
        first_peer = await nats.connect(url, token=token(FIRST, "t0", ["**"]))
        victim = await nats.connect(url, token=token(SECOND, "shared_t", ["org_B/**"]))
        at_victim: list[str] = []
        at_first: list[str] = []
        at_peer: list[str] = []
        await _collect(victim, "org_B.chat.room1", at_victim)
        await _collect(first, ">", at_first)
        await _collect(first_peer, "lobby.>", at_peer)
        await first.publish("org_B.chat.room1", b"intrusion")  # denied: never delivered
        await first.publish("lobby.news", b"own space")  # control: delivered
        await victim.publish("org_B.chat.room1", b"private")  # never reaches the first org
        for client in (first, first_peer, victim):
            await client.flush()
        deadline = time.monotonic() + 5  # bounded: the deliveries that must arrive, then a margin
        while time.monotonic() < deadline and not (  # noqa: ASYNC110 - three subscribers' lists
            at_victim and at_peer and any(m.startswith("lobby.") for m in at_first)
        ):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # time for a delivery that must not come to show up if it would
        for client in (first, first_peer, victim):
            await client.close()
        return at_victim, at_first, at_peer

    at_victim, at_first, at_peer = asyncio.run(go())
    assert at_victim == ["org_B.chat.room1:private"]
    assert at_peer == ["lobby.news:own space"], (at_first, at_victim)
    assert all(not seen.startswith("org_B.") for seen in at_first), at_first
    assert "lobby.news:own space" in at_first


def test_a_bare_tenant_account_maps_no_orgs_tenant(shared: Broker) -> None:
    """`shared_t=GLOBEX` must not map tenant `shared_t` of org_first (any org may create it)."""

    async def go() -> None:
        client = NatsClient()
        with pytest.raises(NatsError) as refused:
            await client.connect(
                shared.urls[0],
                token=token(FIRST, "shared_t", ["**"]),
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
            )
        await client.close()
        assert "authorization" in str(refused.value).lower()

    asyncio.run(go())
