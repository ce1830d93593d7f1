"""Gate latency: connect (fresh verify + grant) and per-operation authorize.

Run: .venv/bin/python bench/gate.py
"""

from __future__ import annotations

import sys
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


if __name__ == "__main__":
    main()
