"""A batch of 10 mints over /trpc beside 10 single /rpc calls, p50 and p99, in one run.

Starts `relaypass serve` (one uvicorn worker, SQLite in a temporary data
directory) and, from this process over one keep-alive connection, times each
round: one `POST /trpc/tokens.relay.mint,…?batch=1` carrying 10 inputs, and 10
sequential `POST /rpc/tokens.relay.mint`. Both do the same work on the server
(10 authentications, validations, EdDSA signatures and audit rows); the
difference is the round trips and per-request framing.

Run: .venv/bin/python bench/trpc.py [rounds]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _servers import control_plane

BATCH = 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with control_plane() as served:
        base, key = served.base, served.key
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            org = http.post("/rpc/auth.whoami").json()["orgId"]
            http.post("/rpc/streams.signingKeys.create", json={"orgId": org, "label": "b"})
            http.post("/rpc/tenants.create", json={"orgId": org, "tenantId": "tenant_abc"})
            body = {"orgId": org, "tenant": "tenant_abc", "ns": ["tenant_abc/*"], "ttlSeconds": 600}
            single = json.dumps(body).encode()
            paths = ",".join(["tokens.relay.mint"] * BATCH)
            batch = json.dumps({str(i): body for i in range(BATCH)}).encode()

            def rpc_round() -> None:
                for _ in range(BATCH):
                    http.post("/rpc/tokens.relay.mint", content=single).raise_for_status()

            def trpc_round() -> None:
                answer = http.post(f"/trpc/{paths}?batch=1", content=batch)
                answer.raise_for_status()
                assert all("result" in r for r in answer.json())

            timings: dict[str, list[float]] = {"rpc": [], "trpc": []}
            for _ in range(10):  # warm up both paths
                rpc_round()
                trpc_round()
            for _ in range(rounds):  # interleaved, so drift hits both alike
                for name, fn in (("rpc", rpc_round), ("trpc", trpc_round)):
                    started = time.perf_counter()
                    fn()
                    timings[name].append((time.perf_counter() - started) * 1000)
    rpc, trpc = timings["rpc"], timings["trpc"]
    print(f"{BATCH} relay mints per round, {rounds} rounds, one uvicorn worker, loopback")
    print(f"{'':34} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'10 x POST /rpc/tokens.relay.mint':34} {statistics.median(rpc):8.2f} "
          f"{percentile(rpc, 0.99):8.2f}")  # fmt: skip
    print(f"{'1 x /trpc batch of 10 mints':34} {statistics.median(trpc):8.2f} "
          f"{percentile(trpc, 0.99):8.2f}")  # fmt: skip
    print(f"batch / singles: p50 {statistics.median(trpc) / statistics.median(rpc):.2f}, "
          f"p99 {percentile(trpc, 0.99) / percentile(rpc, 0.99):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
