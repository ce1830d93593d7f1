"""The honest peer `bench/mint.py` measures relaypass against: FastAPI + PyJWT, no more.

One endpoint, ``POST /mint``, as a team would write it without relaypass: the
API key checked against its stored SHA-256 (constant-time), the body validated
by pydantic (a tenant, namespace patterns, a lifetime), an EdDSA token signed by
PyJWT, and one row per token inserted into SQLite and committed before the
answer (WAL, ``synchronous=NORMAL``: the pragmas relaypass uses). No tenancy,
no scopes, no rate limit, no audit trail beyond that row. One uvicorn worker
with uvicorn's defaults (uvloop and httptools where installed).

The endpoint is ``async def`` with its SQLite calls on the event loop: of the two
ways to write it, the faster here (a plain ``def``, which FastAPI runs in its
thread pool, made about 2,400 tokens/s against this form's 5,000), so the peer
relaypass is measured against is the stronger one.

Run alone: .venv/bin/python bench/_mint_peer.py PORT DATA_DIR  (prints the API key)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field


class MintBody(BaseModel):
    """A relay token's claims, as relaypass's ``tokens.relay.mint`` takes them."""

    tenant: str = Field(default="default", min_length=1, max_length=200)
    ns: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(max_length=64)
    ttlSeconds: int = Field(default=600, ge=1, le=86_400)  # noqa: N815 - the wire name


def build(data: Path) -> tuple[FastAPI, str]:
    """The app and its one API key."""
    key = f"pk_{secrets.token_urlsafe(24)}"
    digest = hashlib.sha256(key.encode()).digest()
    signing = Ed25519PrivateKey.generate()
    database = data / "peer.db"
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(database, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            local.conn = conn
        return conn

    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS minted (jti TEXT PRIMARY KEY, tenant TEXT, "
                      "at REAL)")  # fmt: skip

    app = FastAPI()

    @app.post("/mint")
    async def mint(body: MintBody, authorization: Annotated[str, Header()] = "") -> dict[str, str]:
        given = authorization.removeprefix("Bearer ").encode()
        if not hmac.compare_digest(hashlib.sha256(given).digest(), digest):
            raise HTTPException(status_code=401, detail="invalid API key")
        now = int(time.time())
        jti = uuid.uuid4().hex
        claims = {"tenant": body.tenant, "ns": body.ns, "iat": now, "exp": now + body.ttlSeconds,
                  "jti": jti}  # fmt: skip
        token = jwt.encode(claims, signing, algorithm="EdDSA", headers={"kid": "peer"})
        conn = connection()
        conn.execute("INSERT INTO minted VALUES (?, ?, ?)", (jti, body.tenant, time.time()))
        conn.commit()
        return {"token": token}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, key


def main() -> None:
    port, data = int(sys.argv[1]), Path(sys.argv[2])
    app, key = build(data)
    sys.stdout.write(key + "\n")
    sys.stdout.flush()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
