"""Webhook delivery: event-to-receiver latency, and nothing lost across faults, in one run.

A real `relaypass serve` and a real receiver process (verifying every signature with the
`standardwebhooks` library, as a customer's would):

- **Latency**: messages queued one after another (``webhooks.test``), from the API's answer to
  the receiver's verified arrival, p50/p99 (the reference: Standard Webhooks asks for nothing;
  we print it beside the 1 s a customer would notice).
- **Faults**: messages queued while the receiver answers 500 (a minute, or a few seconds with
  ``--tiny``) and the control plane is killed with SIGKILL halfway and started again on the same
  data directory: the count the receiver verified against the count queued (target: 0 lost).

Run: .venv/bin/python bench/webhooks.py [--tiny]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port

ROOT = Path(__file__).parents[1]


def serve(data: Path, port: int, *, timeout: float) -> subprocess.Popen[str]:
    env = {
        **os.environ, "RELAYPASS_DATA_DIR": str(data), "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
        "RELAYPASS_MINT_RATE_PER_MINUTE": "0", "RELAYPASS_WEBHOOK_ALLOW_PRIVATE": "true",
        "RELAYPASS_WEBHOOK_RETRY_SECONDS": "[0.5, 1, 2, 4, 8, 15, 30, 60]",
        "RELAYPASS_WEBHOOK_TIMEOUT_SECONDS": str(timeout),
    }  # fmt: skip
    for name in ("RELAYPASS_DATABASE_URL", "RELAYPASS_REDIS_URL"):
        env.pop(name, None)
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def ready(base: str) -> None:
    for _ in range(200):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    sys.exit("the control plane did not start")


def received(out: Path) -> dict[str, float]:
    if not out.exists():
        return {}
    return {r["id"]: r["at"] for r in map(json.loads, out.read_text().splitlines())}


def main() -> None:  # noqa: PLR0915 - one scenario, start to end
    tiny = "--tiny" in sys.argv
    count, fail_seconds = (20, 3.0) if tiny else (300, 60.0)
    timeout = 1.0 if tiny else 10.0  # an attempt's limit, and with it the lease of a delivery
    data = Path(tempfile.mkdtemp(prefix="relaypass-bench-hooks-"))
    port, receiver_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(data, port, timeout=timeout)
    assert server.stdout is not None
    key = server.stdout.readline().strip()
    ready(base)
    auth = {"Authorization": f"Bearer {key}"}

    def rpc(name: str, body: dict[str, object]) -> dict[str, object]:
        answer = httpx.post(f"{base}/rpc/{name}", json=body, headers=auth, timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    created = rpc("webhooks.create", {"url": f"http://127.0.0.1:{receiver_port}/hooks",
                                      "eventTypes": ["webhook.test"]})  # fmt: skip
    endpoint = str(created["endpoint"]["id"])  # type: ignore[index]
    out, fail = data / "received.jsonl", data / "fail"
    receiver = subprocess.Popen(  # noqa: S603 - the receiver the suite uses
        [sys.executable, "-m", "tests.server._webhook_receiver", str(receiver_port),
         str(created["secret"]), str(out), str(fail)],
        cwd=ROOT,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        # Latency: one message at a time, healthy receiver.
        sent: dict[str, float] = {}
        for _ in range(count):
            message = str(rpc("webhooks.test", {"id": endpoint})["messageId"])
            sent[message] = time.time()
            deadline = time.monotonic() + 10
            while message not in received(out) and time.monotonic() < deadline:
                time.sleep(0.005)
        arrived = received(out)
        latencies = sorted((arrived[m] - t) * 1000 for m, t in sent.items() if m in arrived)
        # Faults: the receiver answers 500, the control plane is killed halfway.
        fail.touch()
        queued: list[str] = []
        started = time.monotonic()
        for n in range(count):
            if n == count // 2:
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=10)
                server = serve(data, port, timeout=timeout)
                ready(base)
            queued.append(str(rpc("webhooks.test", {"id": endpoint})["messageId"]))
        time.sleep(max(0.0, fail_seconds - (time.monotonic() - started)))
        fail.unlink()
        deadline = time.monotonic() + 180
        while not set(queued) <= set(received(out)) and time.monotonic() < deadline:
            time.sleep(0.2)
        got = set(received(out))
        lost = len(set(queued) - got)
    finally:
        receiver.terminate()
        server.terminate()
        server.wait(timeout=15)
    print("a real receiver verifying every signature with standardwebhooks; one `relaypass serve`")
    print(
        f"latency, API answer to verified arrival, {len(latencies)} messages one at a time: "
        f"p50 {statistics.median(latencies):.0f} ms, p99 "
        f"{latencies[max(0, int(len(latencies) * 0.99) - 1)]:.0f} ms "
        f"(beside 1000 ms: ratio {latencies[int(len(latencies) * 0.99) - 1] / 1000:.2f})"
    )
    print(f"faults: {count} messages queued while the receiver answered 500 for "
          f"{fail_seconds:.0f} s and the control plane was SIGKILLed and restarted halfway: "
          f"{count - lost} verified, {lost} lost (target 0)")  # fmt: skip


if __name__ == "__main__":
    main()
