"""The MoQ relay against real moq clients (moq-rs), over QUIC on loopback.

Every test starts its own relay on an ephemeral port and real ``moq.Client``
publishers and subscribers that exchange frames through it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import moq
import pytest

from relaypass import InvalidRequestError, InvalidTokenError, Key, KeySet, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_credentials import check_broadcast_path as check_path
from relaypass.gate.adapters.moq_relay import MoqRelay, token_from_query

TIMEOUT = 5.0


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid="relay_k1")


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


@asynccontextmanager
async def relay_for(key: Key, **gate_kw: object) -> AsyncIterator[MoqRelay]:
    gate = Gate(StaticKeySource(KeySet([key.public()])), profile="moq", **gate_kw)  # type: ignore[arg-type]
    async with MoqRelay(gate, bind="127.0.0.1:0") as relay:
        yield relay


def url(relay: MoqRelay, root: str, token: str | None) -> str:
    query = "" if token is None else f"?jwt={token}"
    return f"https://{relay.local_addr}/{root}{query}"


def client(relay: MoqRelay, root: str, token: str | None) -> moq.Client:
    return moq.Client(url(relay, root, token), tls_verify=False, reconnect=False)


class Publisher:
    """A broadcast with one track that writes a numbered frame every 20 ms."""

    def __init__(self, conn: moq.Client, path: str) -> None:
        self.broadcast = conn.create_broadcast(path)
        self.track = self.broadcast.publish_track("data")
        self.broadcast.announce()
        self._task = asyncio.create_task(self._write())

    async def _write(self) -> None:
        n = 0
        while True:
            self.track.write_frame(f"frame {n}".encode(), n)
            n += 1
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        self._task.cancel()


async def receive(conn: moq.Client, path: str, count: int = 3) -> list[bytes]:
    """Subscribe to ``path`` through the relay and read ``count`` frames."""
    broadcast = await asyncio.wait_for(conn.announced_broadcast(path), TIMEOUT)
    track = await broadcast.subscribe_track("data")
    got: list[bytes] = []
    while len(got) < count:
        frame = await asyncio.wait_for(track.read_frame(), TIMEOUT)
        assert frame is not None
        got.append(frame.payload)
    track.cancel()
    return got


async def unreachable(conn: moq.Client, path: str) -> bool:
    """``path`` is never announced to ``conn`` within a second, nor served to a request.

    Waiting on the announcement is what can fail: a bare ``request_broadcast`` was
    seen to time out even for a broadcast the session may reach.
    """
    try:
        await asyncio.wait_for(conn.announced_broadcast(path), 1.0)
    except (moq.Error, TimeoutError):
        pass
    else:
        return False
    try:
        await asyncio.wait_for(conn.request_broadcast(path), 0.5)
    except (moq.Error, TimeoutError):
        return True
    return False


async def refused(conn: moq.Client) -> bool:
    """The relay closed the session as unauthorized."""
    try:
        async with conn as c:
            assert c.session is not None
            await asyncio.wait_for(c.session.closed(), TIMEOUT)
    except moq.Error as exc:
        return moq.is_auth(exc)
    return False


def test_token_from_query_is_strict() -> None:
    assert token_from_query(None) is None
    assert token_from_query("") is None
    assert token_from_query("x=1") is None
    assert token_from_query("jwt=abc&x=1") == "abc"
    for bad in ("jwt=a&jwt=b", "jwt=", "jwt=" + "a" * 9000):
        with pytest.raises(InvalidTokenError):
            token_from_query(bad)


def test_publisher_and_subscriber_exchange_frames(key: Key) -> None:
    token = sign_jwt({"root": "room", "put": [""], "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room", token) as pub:
            publisher = Publisher(pub, "alice")
            async with client(relay, "room", token) as sub:
                frames = await receive(sub, "alice")
            publisher.stop()
        assert all(f.startswith(b"frame ") for f in frames)
        numbers = [int(f.split()[1]) for f in frames]
        assert numbers == sorted(numbers)

    run(body)


@pytest.mark.parametrize(
    "token_for",
    [
        lambda _key: None,
        lambda _key: "not-a-jwt",
        lambda _key: sign_jwt({"root": "room", "get": [""]}, Key.generate("EdDSA", kid="relay_k1")),
        lambda key: sign_jwt({"root": "room", "get": [""], "exp": int(time.time()) - 10}, key),
        lambda key: sign_jwt({"root": "elsewhere", "get": [""]}, key),
    ],
    ids=["no-token", "garbage", "wrong-key", "expired", "other-root"],
)
def test_bad_tokens_are_refused(key: Key, token_for: Callable[[Key], str | None]) -> None:
    async def body() -> None:
        async with relay_for(key) as relay:
            assert await refused(client(relay, "room", token_for(key)))
            assert relay.connections == 0

    run(body)


def test_public_prefix_admits_anonymous_subscribers_only_there(key: Key) -> None:
    token = sign_jwt({"root": "", "put": ["public", "private"]}, key)

    async def body() -> None:
        async with (
            relay_for(key, public_subscribe=["public"]) as relay,
            client(relay, "", token) as pub,
        ):
            publishers = [Publisher(pub, "public/news"), Publisher(pub, "private/memo")]
            async with client(relay, "", None) as anon:
                assert len(await receive(anon, "public/news")) == 3
                assert await unreachable(anon, "private/memo")
            for p in publishers:
                p.stop()

    run(body)


def test_read_only_session_cannot_publish(key: Key) -> None:
    reader = sign_jwt({"root": "room", "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room", reader) as mallory:
            forged = Publisher(mallory, "alice")
            async with client(relay, "room", reader) as sub:
                assert await unreachable(sub, "alice")
            forged.stop()

    run(body)


def test_write_only_session_cannot_subscribe(key: Key) -> None:
    writer = sign_jwt({"root": "room", "put": ["alice"]}, key)
    reader = sign_jwt({"root": "room", "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room", writer) as pub:
            publisher = Publisher(pub, "alice")
            async with client(relay, "room", reader) as sub:
                assert len(await receive(sub, "alice")) == 3
            async with client(relay, "room", writer) as other_writer:
                assert await unreachable(other_writer, "alice")
            publisher.stop()

    run(body)


def test_per_path_scoping_inside_a_root(key: Key) -> None:
    publisher_token = sign_jwt({"root": "room", "put": ["alice"]}, key)
    viewer = sign_jwt({"root": "room", "get": ["alice"]}, key)
    both = sign_jwt({"root": "room", "put": ["alice", "bob"]}, key)

    async def body() -> None:
        async with relay_for(key) as relay:
            async with client(relay, "room", publisher_token) as pub:
                alice = Publisher(pub, "alice")
                bob = Publisher(pub, "bob")  # not in this token's put: never forwarded
                async with client(relay, "room", viewer) as sub:
                    assert len(await receive(sub, "alice")) == 3
                    assert await unreachable(sub, "bob")
                alice.stop()
                bob.stop()
            async with client(relay, "room", both) as pub:
                bob = Publisher(pub, "bob")  # forwarded, but the viewer may not see it
                async with client(relay, "room", viewer) as sub:
                    assert await unreachable(sub, "bob")
                bob.stop()

    run(body)


def test_tenancy_one_orgs_tokens_never_reach_anothers_broadcasts() -> None:
    """Org A (the first org, unprefixed) and org B (root ``bcorp``) share one relay."""
    from relaypass._keyscope import KeyBinding, KeyScope

    key_a = Key.generate("EdDSA", kid="rk_org_a").bound(
        KeyBinding(org="org_a", scope=KeyScope.for_roots([""]))
    )
    key_b = Key.generate("EdDSA", kid="rk_org_b").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    gate = Gate(StaticKeySource(KeySet([key_a.public(), key_b.public()])), profile="moq")
    b_publisher = sign_jwt({"root": "bcorp", "put": [""], "get": [""]}, key_b)
    a_everything = sign_jwt({"root": "", "put": [""], "get": [""]}, key_a)
    a_into_b = sign_jwt({"root": "bcorp", "get": [""]}, key_a)
    b_outside = sign_jwt({"root": "", "get": [""]}, key_b)

    async def body() -> None:
        async with (
            MoqRelay(gate, bind="127.0.0.1:0") as relay,
            client(relay, "bcorp", b_publisher) as pub,
        ):
            cam = Publisher(pub, "live/cam")
            async with client(relay, "bcorp", b_publisher) as own:
                assert len(await receive(own, "live/cam")) == 3
            async with client(relay, "", a_everything) as sneak:
                # Never announced to A (a bare request is no evidence either way).
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(sneak.announced_broadcast("bcorp/live/cam"), 1.5)
            assert await refused(client(relay, "bcorp", a_everything))  # inside B's space
            assert await refused(client(relay, "bcorp", a_into_b))  # claims B's root
            assert await refused(client(relay, "", b_outside))  # beyond B's own scope
            cam.stop()

    run(body)


def test_ingest_refuses_dot_segments() -> None:
    """Defence in depth: moq-rs already keeps such paths from being announced (next test)."""
    check_path("a/b")
    check_path(".hidden/x")
    for bad in ("", "..", "a/../b", "./a", "a//b", "a/"):
        with pytest.raises(InvalidRequestError):
            check_path(bad)


def test_dot_segments_are_never_forwarded(key: Key) -> None:
    writer = sign_jwt({"root": "room/2", "put": [""]}, key)
    reader = sign_jwt({"root": "room", "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room/2", writer) as pub:
            sneaky = Publisher(pub, "../1/alice")
            plain = Publisher(pub, "bob")
            async with client(relay, "room", reader) as sub:
                assert len(await receive(sub, "2/bob")) == 3
                assert await unreachable(sub, "2/../1/alice")
                assert await unreachable(sub, "1/alice")
            sneaky.stop()
            plain.stop()

    run(body)


def test_connection_path_is_the_root(key: Key) -> None:
    """A publisher rooted at room/1 is visible at 1/alice to a subscriber rooted at room."""
    publisher_token = sign_jwt({"root": "room/1", "put": [""]}, key)
    viewer = sign_jwt({"root": "room", "get": [""]}, key)
    narrow = sign_jwt({"root": "room/2", "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room/1", publisher_token) as pub:
            publisher = Publisher(pub, "alice")
            async with client(relay, "room", viewer) as sub:
                assert len(await receive(sub, "1/alice")) == 3
            async with client(relay, "room/2", narrow) as sub:
                assert await unreachable(sub, "alice")
                assert await unreachable(sub, "../1/alice")
            publisher.stop()

    run(body)


def test_revocation_from_another_thread_cuts_live_sessions(key: Key) -> None:
    """As the Redis key source does: the gate's cutoff arrives on a foreign thread."""
    publisher_token = sign_jwt({"root": "room", "put": [""]}, key)
    viewer = sign_jwt({"root": "room", "get": [""], "jti": "viewer-1"}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room", publisher_token) as pub:
            publisher = Publisher(pub, "alice")
            async with client(relay, "room", viewer) as sub:
                assert len(await receive(sub, "alice")) == 3
                assert sub.session is not None
                closed = asyncio.ensure_future(sub.session.closed())
                started = time.monotonic()
                revoker = threading.Thread(target=relay.gate.revoke_jti, args=("viewer-1",))
                revoker.start()
                revoker.join()
                with pytest.raises(moq.Error) as cut:
                    await asyncio.wait_for(closed, TIMEOUT)
                assert moq.is_auth(cut.value)
                assert time.monotonic() - started < 1.0
            # The publisher's session was not touched, and the revoked token stays out.
            assert relay.connections == 1
            assert await refused(client(relay, "room", viewer))
            publisher.stop()

    run(body)


def test_revoking_a_publisher_withdraws_its_broadcasts(key: Key) -> None:
    publisher_token = sign_jwt({"root": "room", "put": [""], "sub": "alice"}, key)
    viewer = sign_jwt({"root": "room", "get": [""]}, key)

    async def body() -> None:
        async with relay_for(key) as relay, client(relay, "room", publisher_token) as pub:
            publisher = Publisher(pub, "alice")
            async with client(relay, "room", viewer) as sub:
                assert len(await receive(sub, "alice")) == 3
                assert relay.gate.revoke_subject("alice") == 1
                await asyncio.sleep(0.3)
                assert await unreachable(sub, "alice")
            publisher.stop()

    run(body)


def test_session_ends_at_exp(key: Key) -> None:
    async def body() -> None:
        async with relay_for(key) as relay:
            exp = int(time.time()) + 2
            token = sign_jwt({"root": "room", "get": [""], "exp": exp}, key)
            async with client(relay, "room", token) as sub:
                assert sub.session is not None
                with pytest.raises(moq.Error) as cut:
                    await asyncio.wait_for(sub.session.closed(), TIMEOUT)
                assert moq.is_auth(cut.value)
                assert exp <= time.time() < exp + 1.0
            assert relay.connections == 0

    run(body)


def test_relay_needs_the_moq_profile(key: Key) -> None:
    with pytest.raises(ValueError, match="profile"):
        MoqRelay(Gate(StaticKeySource(KeySet([key.public()]))))
