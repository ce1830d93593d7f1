"""Mint throughput and latency on one worker: beside a trivial endpoint, an honest peer, the floor.

Starts `relaypass serve` (one uvicorn worker; SQLite in a temporary data
directory, then a fresh database on the PostgreSQL at 127.0.0.1:5432) and
drives it with wrk from a second process on loopback: GET /healthz (trivial)
and POST /rpc/tokens.relay.mint (API-key auth, body validation, EdDSA signing,
an audit row committed before the answer). Prints req/s, p50 and p99, the
mint/trivial ratio, and wrk's own share of the cores (the load generator
competes with the server on this machine). Needs wrk (apt-get install wrk).

Then, on SQLite at 16 connections, in alternated rounds (median, min..max):
relaypass beside the peer a team would write instead (`bench/_mint_peer.py`:
FastAPI + PyJWT EdDSA + an API-key check + one SQLite insert per token), and
both beside the floor (EdDSA sign and one SQLite insert and commit per token,
in process, no HTTP). Last, mints of one org against mints spread over 100, alternated too.

Run: .venv/bin/python bench/mint.py [seconds]
     .venv/bin/python bench/mint.py --orgs 1000   # one org beside 1,000, that section alone
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _servers import Served, control_plane, free_port, ready, stop
from _timing import TINY, sized
from relaypass import Key
from relaypass.profiles.relay import RelayMinter
from relaypass.server.db.changes import LONG_MS
from relaypass.server.db.refresh import CACHE_MS

CONNECTIONS = 16
CACHE_BOUND_S = CACHE_MS / 1000  # the caches' plain bound: the warm-up's window
KEPT_S = LONG_MS / 1000  # how long an entry is kept while the change feed is read
TARGET_PG_RPS = 3000
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    wrk_cpu: float  # share of all cores wrk used
    #: The server process's CPU time (user + system, all its threads) per request, µs; NaN
    #: where the server was not watched.
    server_us: float = math.nan


def _ms(out: str, label: str) -> float:
    found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
    assert found is not None, out
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def wrk(url: str, seconds: int, script: Path | None, *, pid: int | None = None) -> Run:
    """wrk's figures; with ``pid``, also that server's CPU time per request."""
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        argv[1:1] = ["-s", str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served_before = server_cpu_s(pid) if pid is not None else 0.0
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603
    wall = time.monotonic() - started
    served = server_cpu_s(pid) - served_before if pid is not None else math.nan
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert re.search(r"Non-2xx or 3xx responses: (\d+)", out) is None, out
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Run(rps, _ms(out, "50"), _ms(out, "99"), cpu / wall / (os.cpu_count() or 1),
               served / max(done, 1) * 1e6)  # fmt: skip


def _post_script(path: Path, body: dict[str, object], key: str) -> Path:
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    return path


def _mint_script(served: Served) -> Path:
    """A tenant and a signing key on the first org, and wrk's script to mint for it."""
    base, key = served.base, served.key
    auth = {"Authorization": f"Bearer {key}"}
    org = httpx.post(f"{base}/rpc/auth.whoami", headers=auth).json()["orgId"]
    for name, body in (
        ("streams.signingKeys.create", {"orgId": org, "label": "b"}),
        ("tenants.create", {"orgId": org, "tenantId": "tenant_abc"}),
    ):
        httpx.post(f"{base}/rpc/{name}", json=body, headers=auth).raise_for_status()
    body = {"orgId": org, "tenant": "tenant_abc", "ns": ["voice/sid_xyz/*"], "ttlSeconds": 600}
    httpx.post(f"{base}/rpc/tokens.relay.mint", json=body, headers=auth).raise_for_status()
    return _post_script(served.data / "mint.lua", body, key)


def measure(database_url: str | None, seconds: int) -> tuple[Run, Run]:
    with control_plane(database_url) as served:
        script = _mint_script(served)
        trivial = wrk(f"{served.base}/healthz", seconds, None)
        mint = wrk(f"{served.base}/rpc/tokens.relay.mint", seconds, script)
    return trivial, mint


@contextmanager
def peer() -> Iterator[tuple[str, str, Path]]:
    """`bench/_mint_peer.py` on a free port: its base URL, API key and data directory."""
    data = Path(tempfile.mkdtemp(prefix="relaypass-peer-"))
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own benchmark's peer
        [sys.executable, str(Path(__file__).parent / "_mint_peer.py"), str(port), str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        yield base, ready(proc, base), data
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def floor(count: int) -> float:
    """Tokens per second for an EdDSA sign and one SQLite insert and commit each, in process."""
    data = Path(tempfile.mkdtemp(prefix="relaypass-floor-"))
    try:
        conn = sqlite3.connect(data / "floor.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE minted (jti TEXT PRIMARY KEY, tenant TEXT, at REAL)")
        minter = RelayMinter(Key.generate("EdDSA", kid="floor"))
        started = time.perf_counter()
        for n in range(count):
            minter.mint("tenant_abc", ["voice/sid_xyz/*"], ttl_seconds=600)
            conn.execute(
                "INSERT INTO minted VALUES (?, ?, ?)", (f"j{n}", "tenant_abc", time.time())
            )
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return count / elapsed


def against_peer(rounds: int, seconds: int) -> tuple[list[Run], list[Run]]:
    """relaypass and the peer on SQLite, alternated round by round, which goes first too.

    Each measured round follows 1 s of the same load unmeasured, as :func:`across_orgs`'
    do: a side idle through the other's round starts warm, not past its caches' bounds.
    """
    ours, theirs = [], []
    with control_plane(None) as served, peer() as (peer_base, peer_key, peer_data):
        mine = (f"{served.base}/rpc/tokens.relay.mint", _mint_script(served))
        other = (f"{peer_base}/mint", _post_script(peer_data / "mint.lua",
                                                   {"tenant": "tenant_abc",
                                                    "ns": ["voice/sid_xyz/*"],
                                                    "ttlSeconds": 600}, peer_key))  # fmt: skip
        for n in range(rounds):
            order = (mine, other) if n % 2 == 0 else (other, mine)
            runs = {side: _warm(*side, 1, seconds) for side in order}
            ours.append(runs[mine])
            theirs.append(runs[other])
    return ours, theirs


def _rows(sides: tuple[tuple[str, list[Run]], ...]) -> None:
    """Each side's throughput, p50 and p99 over the rounds, median (min..max)."""
    for label, runs in sides:
        print(
            f"{'':12} {label:10} req/s {_spread([r.rps for r in runs])}  p50 ms "
            f"{_spread([r.p50_ms for r in runs])}  p99 ms {_spread([r.p99_ms for r in runs])}"
        )


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:8.2f} ({ordered[0]:.2f}..{ordered[-1]:.2f})"


def _orgs(served_base: str, key: str, prefix: str, orgs: int) -> list[tuple[str, str]]:
    """``orgs`` new orgs, each with its own admin key and signing key: (key, mint body) each."""
    auth = {"Authorization": f"Bearer {key}"}
    pairs = []
    for n in range(orgs):
        root = f"{prefix}{n}"
        made = httpx.post(f"{served_base}/rpc/orgs.create", headers=auth, timeout=30,
                          json={"name": root, "namespaces": [root]}).json()  # fmt: skip
        own = {"Authorization": f"Bearer {made['adminKey']['key']}"}
        httpx.post(f"{served_base}/rpc/streams.signingKeys.create", headers=own, timeout=30,
                   json={"label": "b"}).raise_for_status()  # fmt: skip
        body = {"ns": [f"{root}/voice/sid_xyz/*"], "ttlSeconds": 600}
        pairs.append((made["adminKey"]["key"], json.dumps(body)))
    return pairs


def _org_script(path: Path, pairs: list[tuple[str, str]]) -> Path:
    """A wrk script that rotates over the orgs, each minting with its own admin key."""
    keys = ", ".join(json.dumps(f"Bearer {k}") for k, _ in pairs)
    bodies = ", ".join(json.dumps(b) for _, b in pairs)
    path.write_text(
        f"keys = {{{keys}}}\nbodies = {{{bodies}}}\ni = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #keys + 1\n"
        '  wrk.headers["Authorization"] = keys[i]\n'
        '  return wrk.format("POST", "/rpc/tokens.relay.mint", wrk.headers, bodies[i])\nend\n'
    )
    return path


def cold_mints(base: str, pairs: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    """One mint per org after every org sat idle for two of the caches' bounds, then one each.

    Milliseconds per request, one at a time: what an org that mints now and then pays.
    """
    # An entry used during its life is reloaded once more near its bound; then, unused, it
    # expires: two bounds (kept while the change feed is read) and a margin.
    time.sleep(sized(2 * KEPT_S + 1.0, 0.0))
    cold: list[float] = []
    warm: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for into in (cold, warm):
            for key, body in pairs:
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                started = time.perf_counter()
                client.post(
                    "/rpc/tokens.relay.mint", content=body, headers=headers
                ).raise_for_status()
                into.append((time.perf_counter() - started) * 1000)
    return cold, warm


def across_orgs(
    rounds: int, seconds: int, orgs: int, *, idle: bool
) -> tuple[list[Run], list[Run], tuple[list[float], list[float]]]:
    """Mints of one org and mints spread over ``orgs`` orgs, alternated, on one SQLite service.

    Alternated rounds, because the database grows under both: whichever ran second would pay
    for the rows the first one wrote. Each round starts warm, as steady traffic is: a side
    idle for a round (longer than the store's 5 s cache bound) would start with every org's
    entries gone, so it runs unmeasured until it is steady (:func:`_until_steady`); what an
    idle org pays is measured apart, last (:func:`cold_mints`).
    """
    with control_plane(None) as served:
        one = _org_script(served.data / "one.lua", _orgs(served.base, served.key, "one", 1))
        spread = _orgs(served.base, served.key, "many", orgs)
        many = _org_script(served.data / "many.lua", spread)
        url = f"{served.base}/rpc/tokens.relay.mint"
        ones: list[Run] = []
        manys: list[Run] = []
        for n in range(rounds):
            first, second = (one, many) if n % 2 == 0 else (many, one)
            runs = {}
            for script in (first, second):
                WARMED[script is many].append(_until_steady(served.base, script))
                runs[script] = wrk(url, seconds, script, pid=served.pid)
            ones.append(runs[one])
            manys.append(runs[many])
        return ones, manys, cold_mints(served.base, spread[:100]) if idle else ([], [])


#: Seconds each side of :func:`across_orgs` ran before it was steady: [one org, many orgs].
WARMED: Final[dict[bool, list[int]]] = {False: [], True: []}
_MISSES = re.compile(r'relaypass_cache_misses_total\{cache="\w+"\} ([\d.]+)')


def _until_steady(base: str, script: Path, most: int = sized(60, 2)) -> int:
    """Run ``script`` unmeasured, a second at a time, until the store read under one entry per
    100 mints on a cache miss over the last :data:`CACHE_BOUND_S` seconds
    (``relaypass_cache_misses_total``); at most ``most`` seconds. The seconds it took.

    A whole bound, not one second: a side idle through the other's round still holds entries
    that are about to expire all at once, and a quiet first second would not show it.
    """

    def moved() -> float:
        text = httpx.get(f"{base}/metrics", timeout=30).text
        return sum(float(found.group(1)) for found in _MISSES.finditer(text))

    window = max(1, int(sized(CACHE_BOUND_S, 1)))
    seconds: list[tuple[float, float]] = []  # (moved, mints) per second
    for elapsed in range(1, most + 1):
        before = moved()
        run = wrk(f"{base}/rpc/tokens.relay.mint", 1, script)
        seconds.append((moved() - before, run.rps))
        last = seconds[-window:]
        if len(last) == window and sum(m for m, _ in last) < 0.01 * sum(r for _, r in last):
            return elapsed
    return most


def _warm(url: str, script: Path, warm_up: int, seconds: int) -> Run:
    """``warm_up`` seconds of ``script`` unmeasured, then ``seconds`` of it measured."""
    wrk(url, warm_up, script)
    return wrk(url, seconds, script)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if sys.argv[1:2] == ["--orgs"]:  # that section alone: --orgs N
        orgs_section(sized(5, 1), sized(4, 1), int(sys.argv[2]), idle=False)
        return
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    name = f"relaypass_bench_{secrets.token_hex(4)}"
    with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        results = {
            "SQLite": measure(None, seconds),
            "PostgreSQL": measure(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", seconds),
        }
    finally:
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"one uvicorn worker, wrk -t2 -c{CONNECTIONS} -d{seconds}s on loopback, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'':12} {'endpoint':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'wrk cpu':>8}")
    for store, (trivial, mint) in results.items():
        for label, run in (("GET /healthz (trivial)", trivial), ("POST tokens.relay.mint", mint)):
            print(f"{store:12} {label:24} {run.rps:8.0f} {run.p50_ms:8.2f} {run.p99_ms:8.2f} "
                  f"{run.wrk_cpu:8.0%}")  # fmt: skip
        print(f"{store:12} mint / trivial throughput: {mint.rps / trivial.rps:.2f} (target 0.80)")
    pg_mint = results["PostgreSQL"][1].rps
    ratio = pg_mint / TARGET_PG_RPS
    print(f"PostgreSQL mint against the target of {TARGET_PG_RPS} req/s: {ratio:.2f}")
    rounds, round_seconds = sized(5, 1), sized(4, 1)
    ours, theirs = against_peer(rounds, round_seconds)
    floor_rate = floor(sized(20_000, 200))
    print(f"\nSQLite, {rounds} alternated rounds of {round_seconds} s, median (min..max): "
          "relaypass beside FastAPI + PyJWT + one SQLite insert (bench/_mint_peer.py)")  # fmt: skip
    _rows((("relaypass", ours), ("peer", theirs)))
    ratio_rps = [o.rps / t.rps for o, t in zip(ours, theirs, strict=True)]
    ratio_p50 = [o.p50_ms / t.p50_ms for o, t in zip(ours, theirs, strict=True)]
    print(f"{'':12} relaypass / peer, per round: throughput {_spread(ratio_rps)} (target at "
          f"least 1.2), p50 {_spread(ratio_p50)} (target at most 1.2)")  # fmt: skip
    mid = sorted(r.rps for r in ours)[len(ours) // 2]
    print(
        f"{'':12} the floor (EdDSA sign + one SQLite insert and commit, in process): "
        f"{floor_rate:.0f} tokens/s; relaypass over HTTP reaches {mid / floor_rate:.2f} of it"
    )
    sizes = (10,) if TINY else (100, 1000)
    for orgs in sizes:
        cold, warm = orgs_section(rounds, round_seconds, orgs, idle=orgs == sizes[-1])
    print(
        f"\nSQLite, one mint at a time for each of {len(cold)} orgs idle for two of the caches' "
        f"{KEPT_S:.0f} s bounds, then again: cold p50 {_pct(cold, 50):.2f} ms, p99 "
        f"{_pct(cold, 99):.2f} ms; warm p50 {_pct(warm, 50):.2f} ms, p99 {_pct(warm, 99):.2f} ms; "
        f"cold / warm p50 {_pct(cold, 50) / _pct(warm, 50):.2f}"
    )


def orgs_section(
    rounds: int, round_seconds: int, orgs: int, *, idle: bool
) -> tuple[list[float], list[float]]:
    """Print one org's mints beside mints spread over ``orgs`` orgs; the idle orgs' mints."""
    ones, manys, (cold, warm) = across_orgs(rounds, round_seconds, orgs, idle=idle)
    warmed = {side: sorted(WARMED[side]) for side in WARMED}
    print(
        f"\nSQLite, mints of 1 org beside mints spread over {orgs} orgs (each its own key "
        f"and key set), {rounds} alternated rounds of {round_seconds} s, each after running "
        f"unmeasured until its last {CACHE_BOUND_S:.0f} s read under one cache entry per "
        f"100 mints (median "
        f"{warmed[False][len(warmed[False]) // 2]} s for 1 org, "
        f"{warmed[True][len(warmed[True]) // 2]} s for {orgs}), median (min..max)"
    )
    for side in WARMED.values():
        side.clear()
    _rows((("1 org", ones), (f"{orgs} orgs", manys)))
    ratio_rps = [m.rps / o.rps for o, m in zip(ones, manys, strict=True)]
    ratio_p99 = [m.p99_ms / o.p99_ms for o, m in zip(ones, manys, strict=True)]
    target = 0.95 if orgs <= 100 else 0.9
    print(f"{'':12} {orgs} orgs / 1 org, per round: throughput {_spread(ratio_rps)} (target "
          f"at least {target}), p99 {_spread(ratio_p99)} (target at most 1.5)")  # fmt: skip
    # What a mint costs the service itself (its CPU time, every thread, over the mints it
    # answered): wrk shares the two cores, so throughput moves with the machine; this less so.
    cpu_ratio = [m.server_us / o.server_us for o, m in zip(ones, manys, strict=True)]
    print(f"{'':12} the service's CPU per mint, µs: 1 org {_spread([o.server_us for o in ones])}"
          f", {orgs} orgs {_spread([m.server_us for m in manys])}; {orgs} orgs / 1 org, per "
          f"round {_spread(cpu_ratio)}")  # fmt: skip
    return cold, warm


def _pct(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)]


if __name__ == "__main__":
    main()
