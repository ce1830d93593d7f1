"""Gate costs: connect against the verify inside it, per-operation authorize, memory per live
session, and what a revocation or an expiry sweep costs with 1k, 10k and 100k live sessions
(indexed, beside the full scan it replaced). The first tables are the case users run: a
distinct token per session with its own patterns, through its first authorize, and where the
connect's extra over its verify goes, step by step.

Run: .venv/bin/python bench/gate.py [max_sessions]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).parent))
from _timing import TINY, per_call_us, sized
from relaypass import Key, KeySet, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass._scopes import compiled_patterns
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.profiles import Connect
from relaypass.gate.usage import UsageEvents
from relaypass.profiles.relay import RelayMinter
from relaypass.testing import FrozenClock

NAMESPACES = [f"voice/sid_{i}/*" for i in range(10)]
PREFIXES = [f"voice/sid_{i}" for i in range(10)]


def connect_and_verify_us(
    gate: Gate, token: str, *, rounds: int = sized(9, 1), batch: int = sized(4000, 50)
) -> tuple[float, float]:
    """Best per-call verify and connect, measured in alternating rounds (same machine state).

    Connects accumulate live sessions as a gate does; they are closed outside the timed part.
    """
    verifier = gate._current_verifier()  # the verify the connect runs
    best_verify = best_connect = float("inf")
    for _ in range(rounds):
        gc.disable()
        started = time.perf_counter()
        for _ in range(batch):
            verifier.verify(token)
        best_verify = min(best_verify, (time.perf_counter() - started) / batch * 1e6)
        started = time.perf_counter()
        opened = [gate.connect(token) for _ in range(batch)]
        best_connect = min(best_connect, (time.perf_counter() - started) / batch * 1e6)
        gc.enable()
        for session in opened:
            session.close()
    return best_verify, best_connect


def connect_costs() -> None:
    print("connect = verify + grant + session, µs (best of 9, alternating rounds);")
    print("target: verify + 5 µs for a 10-pattern token")
    print(f"{'':34}{'verify':>9}{'connect':>9}{'extra':>8}{'target':>8}{'ratio':>7}")
    key = Key.generate("EdDSA", kid="rk_bench")
    relay = Gate(StaticKeySource(KeySet([key.public()])))
    relay_token = RelayMinter(key).mint("tenant_bench", NAMESPACES)
    mine = key.bound(KeyBinding(org="org_a", scope=KeyScope.for_roots([""])))
    other = Key.generate("EdDSA", kid="rk_other").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    shared = Gate(StaticKeySource(KeySet([mine.public(), other.public()])))
    shared_token = RelayMinter(mine).mint("tenant_bench", NAMESPACES)
    secret = Key.generate("HS256", kid="hs_bench")
    moq = Gate(StaticKeySource(KeySet([secret])), profile="moq")
    moq_token = sign_jwt(
        {"root": "", "put": PREFIXES[:5], "get": PREFIXES[5:], "exp": int(time.time()) + 3600},
        secret,
    )
    cases = [
        ("relay, EdDSA, one org", relay, relay_token),
        ("relay, EdDSA, two orgs (fenced)", shared, shared_token),
        ("moq, HS256", moq, moq_token),
    ]
    for name, gate, token in cases:
        v, c = connect_and_verify_us(gate, token)
        print(f"{name:34}{v:9.2f}{c:9.2f}{c - v:8.2f}{5.0:8.2f}{(c - v) / 5:7.2f}")
    session = relay.connect(relay_token)
    print(
        f"authorize_publish {per_call_us(lambda: session.authorize_publish('voice/sid_7/mic')):.2f}"
        f" µs, authorize_subscribe "
        f"{per_call_us(lambda: session.authorize_subscribe('voice/sid_3/agent')):.2f} µs"
    )


def own_tokens(count: int, *, shared: bool = False) -> tuple[Gate, list[str], list[str]]:
    """``count`` distinct relay tokens of 50 orgs, each with its own 10 namespaces (or, with
    ``shared``, all with the same 10), and the path each authorizes first."""
    keys = [
        Key.generate("EdDSA", kid=f"rk_own{i}").bound(
            KeyBinding(org=f"org_{i}", scope=KeyScope.for_roots([f"o{i}"]))
        )
        for i in range(50)
    ]
    minters = [RelayMinter(k) for k in keys]
    tokens, first = [], []
    for n in range(count):
        org = n % 50
        mine = [f"o{org}/voice/s{0 if shared else n}_{j}/*" for j in range(10)]
        tokens.append(minters[org].mint(f"t{n % 7}", mine))
        first.append(f"o{org}/voice/s{0 if shared else n}_7/mic")
    return Gate(StaticKeySource(KeySet([k.public() for k in keys]))), tokens, first


def connect_as_used(rounds: int = sized(7, 1), count: int = sized(3000, 50)) -> None:
    """The case users run: each session's own token and patterns, through its first authorize.

    In alternated rounds, each over tokens no earlier round used (so no cache of compiled
    patterns, scope checks or answers holds them): the verify a connect runs, then connect +
    the first ``authorize_publish`` + close; the extra is each round's connect less its
    verify. Median of the rounds, with min..max; target: verify + 10 µs for a token with its
    own 10 patterns.
    """
    for label, shared in (("own patterns (the normal case)", False),
                          ("one shared pattern set (a best case)", True)):  # fmt: skip
        gate, every, paths = own_tokens(count * rounds, shared=shared)
        verifier = gate._current_verifier()
        verifies, connects = [], []
        for n in range(rounds):
            tokens, first = every[n * count : (n + 1) * count], paths[n * count : (n + 1) * count]
            gc.disable()
            started = time.perf_counter()
            for token in tokens:
                verifier.verify(token)
            verifies.append((time.perf_counter() - started) / count * 1e6)
            started = time.perf_counter()
            for token, path in zip(tokens, first, strict=True):
                session = gate.connect(token, "")
                session.authorize_publish(path)
                session.close()
            connects.append((time.perf_counter() - started) / count * 1e6)
            gc.enable()
        extra = sorted(c - v for c, v in zip(connects, verifies, strict=True))  # per round
        verifies.sort()
        connects.sort()
        mid = rounds // 2
        print(
            f"  {label:38} verify {verifies[mid]:6.2f}  connect+authorize+close "
            f"{connects[mid]:6.2f}  extra {extra[mid]:5.2f} ({extra[0]:.2f}..{extra[-1]:.2f}) µs"
            f" (target 10, ratio {extra[mid] / 10:.2f})"
        )


def connect_parts(rounds: int = sized(5, 1), count: int = sized(4000, 50)) -> None:
    """Where a connect's extra over its verify goes: each step of ``Gate.grant_for`` and the
    session's life, run stage by stage over distinct tokens with their own 10 patterns.

    Each stage runs over the whole batch before the next (its inputs made by the stage before),
    less an empty loop's cost; median of the rounds, each over tokens no earlier round used.
    The steps are the gate's own methods, called as ``connect`` calls them; what the sum leaves
    out of the measured extra is the calls between them.
    """
    gate, every, paths = own_tokens(count * rounds)
    kind = gate.kind
    names = ("revoked", "tenancy", "grant", "scope", "standing", "file", "authorize", "close")
    parts: dict[str, list[float]] = {name: [] for name in (*names, "patterns")}

    def stage(name: str, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        gc.disable()
        started = time.perf_counter()
        out = [fn(item) for item in items]
        spent = (time.perf_counter() - started) / len(items) * 1e6
        started = time.perf_counter()
        for _ in items:
            pass
        spent -= (time.perf_counter() - started) / len(items) * 1e6
        gc.enable()
        if name:
            parts[name].append(spent)
        return out

    view = gate._current()  # the key view the connect reads (one key set: it does not change)
    for n in range(rounds):
        tokens, first = every[n * count : (n + 1) * count], paths[n * count : (n + 1) * count]
        verified = stage("", lambda token: kind.verify(gate, token), tokens)
        stage("revoked", lambda v: gate._check_revoked(v.token), verified)
        tenancies = stage(
            "tenancy", lambda v: kind.tenancy(v, "", view.keyset, view.fences), verified
        )
        grants = stage(
            "grant",
            lambda vt: kind.grant(Connect(gate, vt[0], "", None, vt[1])),
            list(zip(verified, tenancies, strict=True)),
        )
        # Of the grant, the patterns' validation: the same lists reversed (so no shared set
        # holds them), through the same shared builder.
        ns = [list(reversed(cast("list[str]", v.token.claims["ns"]))) for v in verified]
        stage("patterns", compiled_patterns, ns)
        stage("scope", lambda gv: kind.check_scope(gv[0], gv[1], ""),
              list(zip(grants, verified, strict=True)))  # fmt: skip
        stage("standing", gate._check_standing, grants)
        sessions = stage("file", lambda grant: gate._file(grant, "", None), grants)
        stage("authorize", lambda sp: sp[0].authorize_publish(sp[1]),
              list(zip(sessions, first, strict=True)))  # fmt: skip
        stage("close", lambda session: session.close(), sessions)
    medians = {name: sorted(values)[len(values) // 2] for name, values in parts.items()}
    print("where it goes, µs, median of rounds over distinct tokens (each step of the connect "
          "run alone):")  # fmt: skip
    print("  " + "  ".join(f"{name} {medians[name]:.1f}" for name in names)
          + f"  sum {sum(medians[name] for name in names):.1f}; of the grant, its patterns "
          f"{medians['patterns']:.1f}")  # fmt: skip


def memory_own_patterns(count: int = sized(20_000, 200)) -> None:
    """Bytes per live session whose token has its own 10 patterns, after one authorize."""
    gate, tokens, first = own_tokens(count)
    gate.connect(tokens[0], "").close()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    live = []
    for token, path in zip(tokens, first, strict=True):
        session = gate.connect(token, "")
        session.authorize_publish(path)
        live.append(session)
    gc.collect()
    held = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    print(f"memory per live session, own 10 patterns, after one authorize: {held:.0f} bytes "
          f"(target 1536, ratio {held / 1536:.2f})")  # fmt: skip
    del live


def usage_event_cost(rounds: int = sized(7, 1), batch: int = sized(3000, 50)) -> None:
    """A session's connect and close with usage events off and on, in alternating rounds.

    Each session emits two events (started, ended); distinct tokens of 50 orgs. The
    shipper's thread is not running: this is the cost on the connect path itself.
    """
    keys = [
        Key.generate("EdDSA", kid=f"rk_u{i}").bound(
            KeyBinding(org=f"org_{i}", scope=KeyScope.for_roots([f"o{i}"]))
        )
        for i in range(50)
    ]
    tokens = [
        RelayMinter(keys[i % 50]).mint(f"t{i % 7}", [f"o{i % 50}/live/*"]) for i in range(batch)
    ]
    off = Gate(StaticKeySource(KeySet([k.public() for k in keys])))
    on = Gate(StaticKeySource(KeySet([k.public() for k in keys])))
    on.usage = UsageEvents(capacity=10 * batch)

    def per_session(gate: Gate) -> float:
        gc.disable()
        started = time.perf_counter()
        for token in tokens:
            gate.connect(token).close()
        elapsed = (time.perf_counter() - started) / len(tokens) * 1e6
        gc.enable()
        if gate.usage is not None:
            gate.usage.take(10 * batch)
        return elapsed

    per_session(off), per_session(on)  # warm both
    offs, ons = [], []
    for _ in range(rounds):
        offs.append(per_session(off))
        ons.append(per_session(on))
    offs.sort()
    ons.sort()
    mid = rounds // 2
    extra = ons[mid] - offs[mid]
    print(
        f"\nusage events, connect+close of a distinct token (50 orgs), µs, median of {rounds}"
        f" alternated rounds (min..max):\n  off {offs[mid]:.2f} ({offs[0]:.2f}..{offs[-1]:.2f})"
        f"  on {ons[mid]:.2f} ({ons[0]:.2f}..{ons[-1]:.2f})  extra {extra:.2f} µs per session"
        f" = {extra / 2:.2f} µs per event (target 1.0, ratio {extra / 2:.2f})"
    )


def memory_per_session(count: int = sized(20_000, 200)) -> None:
    """Bytes held per live session (grant, indexes, expiry heap), tokens of 97 tenants."""
    key = Key.generate("EdDSA", kid="rk_mem")
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    minter = RelayMinter(key)
    tokens = [minter.mint(f"t{i % 97}", ["a/*"]) for i in range(count)]
    gate.connect(tokens[0]).close()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    live = [gate.connect(t) for t in tokens]
    gc.collect()
    held = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    print(f"\nmemory per live session: {held:.0f} bytes (target 1536, ratio {held / 1536:.2f})")
    del live


def _timed(fn: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1000


def revocation_costs(max_sessions: int) -> None:
    """One jti, one kid (10 sessions), an expiry sweep (1 % due) among N live sessions."""
    print("\nms among N live sessions, indexed against a full scan; target jti <= 0.1 ms at 100k")
    print("jti: cuts 1 session; kid: cuts 10; sweep: an expiry sweep with none due, then 1 % due")
    print(
        f"{'sessions':>9}{'jti':>9}{'scan':>8}{'ratio':>7}{'kid':>9}{'scan':>8}{'ratio':>7}"
        f"{'sweep':>9}{'scan':>8}{'ratio':>7}{'1% due':>9}{'µs/cut':>8}"
    )
    for size in (1_000, 10_000, 100_000):
        if size <= max_sessions:
            print(_one_size(size))


def _one_size(size: int) -> str:
    clock = FrozenClock(1_800_000_000)
    keys = [Key.generate("EdDSA", kid=f"rk_{i}") for i in range(3)]
    gate = Gate(StaticKeySource(KeySet([k.public() for k in keys])), clock=clock)
    minters = [RelayMinter(k, clock=clock) for k in keys]
    for i in range(size):  # exp spread over 100 s; 10 sessions on the third key
        minter = minters[2] if i % (size // 10) == 5 else minters[i % 2]
        gate.connect(minter.mint(f"t{i % 97}", ["a/*"], ttl_seconds=60 + i % 100))
    sessions = gate.sessions
    jtis = iter([str(s.grant.jti) for s in sessions[1:26]])

    def scan(field: str, value: object) -> int:  # what a revocation cost before the index
        return len([s for s in sessions if getattr(s.grant, field) == value])

    jti_ms = _timed(lambda: gate.revoke_jti(next(jtis)), 25)
    jti_scan = _timed(lambda: scan("jti", "absent"), 5)
    kid_ms = _timed(lambda: gate.revoke_kid("rk_2"), 1)
    kid_scan = _timed(lambda: scan("kid", "rk_2"), 5)
    now = clock.now()
    idle_ms = _timed(gate.expire_sessions, 5)
    exp_scan = _timed(lambda: [s for s in sessions if (s.grant.expires_at or now) <= now], 5)
    clock.advance(60)  # the exp values of 1 % of the sessions are due
    due = sum(1 for s in gate.sessions if (s.grant.expires_at or 0) <= clock.now())
    exp_ms = _timed(gate.expire_sessions, 1)
    return (
        f"{size:>9}{jti_ms:9.4f}{jti_scan:8.2f}{jti_scan / jti_ms:6.0f}x"
        f"{kid_ms:9.4f}{kid_scan:8.2f}{kid_scan / kid_ms:6.0f}x"
        f"{idle_ms:9.4f}{exp_scan:8.2f}{exp_scan / idle_ms:6.0f}x"
        f"{exp_ms:9.3f}{exp_ms * 1000 / max(due, 1):8.2f}"
    )


if __name__ == "__main__":
    print(f"distinct tokens of 50 orgs, {sized(3000, 50)} per round, as a gate meets them:")
    connect_as_used()
    connect_parts()
    memory_own_patterns()
    print("\nthe same token connected again and again (a cached best case, for comparison):")
    connect_costs()
    usage_event_cost()
    memory_per_session()
    revocation_costs(int(sys.argv[1]) if len(sys.argv) > 1 else (1_000 if TINY else 100_000))
