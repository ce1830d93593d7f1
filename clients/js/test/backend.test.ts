import assert from "node:assert/strict";
import { test } from "node:test";

import { ErrorCode, ErrorKind, RelaypassBackend, RelaypassError } from "../src/index.js";

test("calls POST /rpc/<name> with the API key and answers the typed output", async () => {
  const seen: { url: string; init: RequestInit | undefined }[] = [];
  const fetch = (async (url: string, init?: RequestInit) => {
    seen.push({ url, init });
    return new Response(JSON.stringify({ token: "t", expiresAt: 5, kid: "k" }));
  }) as typeof globalThis.fetch;
  const backend = new RelaypassBackend({ url: "http://cp:8700/", apiKey: "rp_live_x", fetch });
  const minted = await backend.mintRoomToken({ roomId: "standup", participantId: "alice" });
  assert.equal(minted.token, "t");
  assert.equal(seen[0]?.url, "http://cp:8700/rpc/tokens.room.mint");
  assert.deepEqual(JSON.parse(String(seen[0]?.init?.body)), { roomId: "standup", participantId: "alice" });
  assert.equal((seen[0]?.init?.headers as Record<string, string>)["authorization"], "Bearer rp_live_x");
});

test("a refusal is a RelaypassError with its stable code", async () => {
  const fetch = (async () =>
    new Response(JSON.stringify({ code: "INVALID_API_KEY", detail: "revoked" }), {
      status: 401,
    })) as typeof globalThis.fetch;
  const backend = new RelaypassBackend({ url: "http://cp", apiKey: "k", fetch });
  await assert.rejects(backend.call("tenants.list"), (error: unknown) => {
    assert.ok(error instanceof RelaypassError);
    assert.equal(error.code, ErrorCode.INVALID_API_KEY);
    assert.equal(error.kind, ErrorKind.Auth);
    return true;
  });
});

test("inputs are typed from the procedure table", () => {
  const backend = new RelaypassBackend({ url: "http://cp", apiKey: "k", fetch: globalThis.fetch });
  // @ts-expect-error - tokens.relay.mint needs its namespaces
  void backend.call("tokens.relay.mint", { tenant: "acme" }).catch(() => undefined);
  // @ts-expect-error - no such procedure
  void backend.call("tokens.nothing.mint", {}).catch(() => undefined);
});
