"""Gate latency: connect (fresh verify + grant), per-operation authorize, and what a
revocation or an expiry sweep costs with 1k, 10k and 100k live sessions (indexed, beside
the full scan it replaced).

Run: .venv/bin/python bench/gate.py [max_sessions]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us
from relaypass import Key, KeySet
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.profiles.relay import RelayMinter


def main() -> None:
    key = Key.generate("EdDSA", kid="rk_bench")
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    minter = RelayMinter(key)
    namespaces = [f"voice/sid_{i}/*" for i in range(10)]
    token = minter.mint("tenant_bench", namespaces)
    session = gate.connect(token)

    def connect() -> object:
        s = gate.connect(token)
        s.close()
        return s

    def publish() -> None:
        session.authorize_publish("voice/sid_7/mic")

    def subscribe() -> None:
        session.authorize_subscribe("voice/sid_3/agent")

    # The same token on a shared gate: the key bound to its org's scope, a second org fenced.
    mine = key.bound(KeyBinding(org="org_a", scope=KeyScope.for_roots([""])))
    other = Key.generate("EdDSA", kid="rk_other").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    shared = Gate(StaticKeySource(KeySet([mine.public(), other.public()])))
    bound_token = RelayMinter(mine).mint("tenant_bench", namespaces)
    bound_session = shared.connect(bound_token)

    def connect_bound() -> object:
        s = shared.connect(bound_token)
        s.close()
        return s

    def publish_bound() -> None:
        bound_session.authorize_publish("voice/sid_7/mic")

    print("µs per call (best of 5), relay profile, EdDSA, 10 namespace patterns")
    print("                                     one org   two orgs (scope + fence)")
    print(
        f"connect (verify + grant + session): {per_call_us(connect):8.2f}  "
        f"{per_call_us(connect_bound):8.2f}"
    )
    print(
        f"authorize_publish:                  {per_call_us(publish):8.2f}  "
        f"{per_call_us(publish_bound):8.2f}"
    )
    print(f"authorize_subscribe:                {per_call_us(subscribe):8.2f}")


def revocation_costs(max_sessions: int) -> None:
    """One jti among N live sessions: the index against a scan of every session."""
    key = Key.generate("EdDSA", kid="rk_scale")
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    minter = RelayMinter(key)
    print("\nrevoke one jti among N live sessions (ms); target <= 0.1 ms at 100k")
    print(f"{'sessions':>10}{'indexed':>12}{'full scan':>12}{'ratio':>9}")
    made = 0
    for size in (1_000, 10_000, 100_000):
        if size > max_sessions:
            break
        while made < size:
            gate.connect(minter.mint(f"t{made % 97}", ["a/*"]))
            made += 1
        jtis = [s.grant.jti for s in gate.sessions[:50]]

        def scan(jti: str | None) -> int:  # the reference: what _cut did before the index
            return len([s for s in gate.sessions if s.grant.jti == jti])

        started = time.perf_counter()
        for jti in jtis[:25]:
            gate.revoke_jti(str(jti))
        indexed = (time.perf_counter() - started) / 25 * 1000
        started = time.perf_counter()
        for jti in jtis[25:]:
            scan(jti)
        scanned = (time.perf_counter() - started) / 25 * 1000
        made -= 25
        print(f"{size:>10}{indexed:>12.4f}{scanned:>12.3f}{scanned / indexed:>8.0f}x")


if __name__ == "__main__":
    main()
    revocation_costs(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
