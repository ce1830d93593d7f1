import assert from "node:assert/strict";
import { test } from "node:test";

import { createTokenProvider, ErrorCode, ErrorKind, RelaypassError, TokenProvider } from "../src/index.js";

/** An unsigned JWT with these claims (the provider never verifies; it schedules). */
function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none" })}.${encode(claims)}.sig`;
}

class Clock {
  now = 1_000_000;
  read = (): number => this.now;
}

function provider(fetch: () => Promise<string>, clock: Clock): TokenProvider {
  return new TokenProvider(fetch, { clock: clock.read, random: () => 0.5 }); // no jitter
}

test("a token is cached until 80 % of its lifetime or exp - 60 s", async () => {
  const clock = new Clock();
  let fetched = 0;
  const p = provider(async () => jwt({ iat: clock.now, exp: clock.now + 3600, n: ++fetched }), clock);
  const first = await p.token();
  clock.now += 2879;
  assert.equal(await p.token(), first);
  assert.equal(fetched, 1);
  clock.now += 2; // past 80 % of 3600 s = 2880 s
  assert.notEqual(await p.token(), first);
  assert.equal(fetched, 2);
});

test("a long token refreshes 60 s before exp, a short one at half its lifetime", async () => {
  const clock = new Clock();
  const long = provider(async () => jwt({ iat: clock.now, exp: clock.now + 1000 }), clock);
  await long.token();
  assert.equal(long.refreshInSeconds, 800); // min(940, 800)
  const short = provider(async () => jwt({ iat: clock.now, exp: clock.now + 60 }), clock);
  await short.token();
  assert.equal(short.refreshInSeconds, 30); // exp - 60 s would be now: half-life
  const tiny = provider(async () => jwt({ iat: clock.now, exp: clock.now + 100 }), clock);
  await tiny.token();
  assert.equal(tiny.refreshInSeconds, 50); // exp - 60 s is before half-life: half-life
});

test("jitter moves the refresh by up to ±10 %", async () => {
  const clock = new Clock();
  for (const [random, expected] of [[0, 720], [0.999999, 880]] as const) {
    const p = new TokenProvider(async () => jwt({ iat: clock.now, exp: clock.now + 1000 }), {
      clock: clock.read,
      random: () => random,
    });
    await p.token();
    assert.ok(Math.abs(p.refreshInSeconds - expected) < 0.01, `${p.refreshInSeconds}`);
  }
});

test("one fetch at a time: concurrent callers share it", async () => {
  const clock = new Clock();
  let fetched = 0;
  let release: (() => void) | undefined;
  const p = provider(async () => {
    fetched += 1;
    await new Promise<void>((resolve) => (release = resolve));
    return jwt({ iat: clock.now, exp: clock.now + 600 });
  }, clock);
  const all = Promise.all([p.token(), p.token(), p.token()]);
  await new Promise((resolve) => setImmediate(resolve));
  release?.();
  const tokens = await all;
  assert.equal(fetched, 1);
  assert.equal(new Set(tokens).size, 1);
});

test("a transient failure keeps serving the valid token and retries 5-10 s later", async () => {
  const clock = new Clock();
  let fail = false;
  let fetched = 0;
  const p = provider(async () => {
    fetched += 1;
    if (fail) throw new RelaypassError(ErrorCode.UNAVAILABLE, "down", { status: 503 });
    return jwt({ iat: clock.now, exp: clock.now + 100 });
  }, clock);
  const first = await p.token();
  fail = true;
  clock.now += 60; // due (half-life 50 s)
  assert.equal(await p.token(), first);
  assert.equal(fetched, 2);
  clock.now += 5; // the retry is 7.5 s away (random 0.5)
  assert.equal(await p.token(), first);
  assert.equal(fetched, 2);
  clock.now += 3;
  assert.equal(await p.token(), first);
  assert.equal(fetched, 3);
  clock.now += 40; // expired, and no fresh token
  await assert.rejects(p.token(), (error: unknown) => {
    assert.ok(error instanceof RelaypassError);
    assert.equal(error.code, ErrorCode.TOKEN_EXPIRED);
    assert.equal(error.kind, ErrorKind.Auth);
    return true;
  });
  fail = false;
  clock.now += 10; // recovers once the backend answers again
  assert.notEqual(await p.token(), first);
});

test("401 and 403 are terminal: never fetched again", async () => {
  for (const status of [401, 403]) {
    const clock = new Clock();
    let fetched = 0;
    const p = provider(async () => {
      fetched += 1;
      throw RelaypassError.fromResponse(status, { code: "INVALID_API_KEY", detail: "revoked" });
    }, clock);
    await assert.rejects(p.token(), { code: ErrorCode.INVALID_API_KEY });
    clock.now += 3600;
    await assert.rejects(p.token(), { code: ErrorCode.INVALID_API_KEY });
    assert.equal(fetched, 1);
  }
});

test("createTokenProvider({url}) posts to the backend and reads {token}", async () => {
  const clock = new Clock();
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const answers = [
    new Response(JSON.stringify({ token: jwt({ iat: clock.now, exp: clock.now + 600 }) })),
    new Response(JSON.stringify({ code: "RATE_LIMITED", detail: "slow down" }), {
      status: 429,
      headers: { "retry-after": "7" },
    }),
  ];
  const fetch = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const answer = answers.shift();
    if (answer === undefined) throw new TypeError("offline");
    return answer;
  }) as typeof globalThis.fetch;
  const p = createTokenProvider({
    url: "https://app.example/api/token",
    body: { room: "standup" },
    credentials: "include",
    fetch,
    clock: clock.read,
    random: () => 0.5,
  });
  const token = await p.token();
  assert.equal(calls[0]?.init?.method, "POST");
  assert.equal(calls[0]?.init?.body, JSON.stringify({ room: "standup" }));
  assert.equal(calls[0]?.init?.credentials, "include");
  clock.now += 500;
  assert.equal(await p.token(), token); // 429: transient, the valid token serves
  clock.now += 200;
  await assert.rejects(p.token(), (error: unknown) => {
    assert.ok(error instanceof RelaypassError);
    assert.equal(error.code, ErrorCode.TOKEN_EXPIRED);
    const cause = error.cause as RelaypassError;
    assert.equal(cause.code, ErrorCode.UNAVAILABLE); // the network failure that kept it stale
    return true;
  });
});

test("VideoSDK's tokenProvider: () => Promise<string> works as its docs write it", async () => {
  const clock = new Clock();
  const tokenProvider: () => Promise<string> = provider(
    async () => jwt({ iat: clock.now, exp: clock.now + 600 }),
    clock,
  ).asFunction();
  assert.match(await tokenProvider(), /^[\w-]+\.[\w-]+\.sig$/);
});

test("keepFresh hands every new token over until aborted", async () => {
  let n = 0;
  const p = new TokenProvider(async () => {
    n += 1;
    const now = Date.now() / 1000;
    return jwt({ iat: now, exp: now + 0.2, n });
  });
  const seen: string[] = [];
  const stop = new AbortController();
  const running = p.keepFresh((token) => {
    seen.push(token);
    if (seen.length === 3) stop.abort();
  }, stop.signal);
  await running;
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen).size, 3);
});
