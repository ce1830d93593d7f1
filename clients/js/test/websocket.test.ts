import assert from "node:assert/strict";
import { test } from "node:test";

import { ErrorCode, ErrorKind, GatedSocket, RelaypassError, SUBPROTOCOL, TokenProvider } from "../src/index.js";

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none" })}.${encode(claims)}.sig`;
}

/** A WebSocket double that records what the package sends and lets the test play the gate. */
class FakeSocket extends EventTarget {
  static last: FakeSocket | undefined;
  readonly sent: Record<string, unknown>[] = [];
  readonly url: string;
  readonly protocols: string[];

  constructor(url: string, protocols: string[]) {
    super();
    this.url = url;
    this.protocols = protocols;
    FakeSocket.last = this;
    queueMicrotask(() => this.dispatchEvent(new Event("open")));
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code = 1000, reason = ""): void {
    this.gateCloses(code, reason);
  }

  gateSays(frame: Record<string, unknown>): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(frame) }));
  }

  gateCloses(code: number, reason: string): void {
    const event = new Event("close") as Event & { code: number; reason: string };
    Object.assign(event, { code, reason });
    this.dispatchEvent(event);
  }
}

function socketFor(participant?: string): GatedSocket {
  const now = Math.floor(Date.now() / 1000);
  const provider = new TokenProvider(async () => jwt({ iat: now, exp: now + 3600 }));
  return new GatedSocket({
    url: "ws://gate.test/standup",
    provider,
    ...(participant === undefined ? {} : { participant }),
    WebSocket: FakeSocket as unknown as typeof WebSocket,
  });
}

async function connected(socket: GatedSocket, welcome: Record<string, unknown>): Promise<FakeSocket> {
  const opening = socket.connect();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const fake = FakeSocket.last;
  assert.ok(fake);
  fake.gateSays({ type: "relaypass.welcome", ...welcome });
  await opening;
  return fake;
}

test("connect resolves on the gate's welcome, with the identity it joined as", async () => {
  const socket = socketFor("ada");
  const fake = await connected(socket, { exp: 123, participant: "ada", state: "waiting", tier: "viewer" });
  assert.equal(new URL(fake.url).searchParams.get("participant"), "ada");
  assert.equal(fake.protocols[0], SUBPROTOCOL);
  assert.ok(fake.protocols[1]?.startsWith("relaypass.jwt."));
  assert.equal(socket.participant, "ada");
  assert.equal(socket.state, "waiting");
  assert.equal(socket.tier, "viewer");
  assert.equal(socket.expiresAt, 123);
  fake.gateSays({ type: "relaypass.admitted" });
  assert.equal(socket.state, "admitted");
  socket.close();
});

test("a refused connect rejects with the code the gate closed with", async () => {
  const socket = socketFor("hal");
  const opening = socket.connect();
  await new Promise((resolve) => setTimeout(resolve, 5));
  FakeSocket.last?.gateCloses(4401, "UNAUTHORIZED_PARTICIPANT");
  await assert.rejects(opening, (error: unknown) => {
    assert.ok(error instanceof RelaypassError);
    assert.equal(error.code, ErrorCode.UNAUTHORIZED_PARTICIPANT);
    assert.equal(error.kind, ErrorKind.Permission);
    return true;
  });
});

test("moderate and participants are answered by id; a refusal carries its code", async () => {
  const socket = socketFor();
  const fake = await connected(socket, { exp: 1, participant: "hal", state: "admitted", tier: "speaker" });
  const removing = socket.moderate({ action: "remove", participant: "vic" });
  const asked = fake.sent.at(-1);
  assert.deepEqual({ ...asked, id: undefined }, {
    type: "relaypass.moderate", action: "remove", participant: "vic", id: undefined,
  });
  fake.gateSays({ type: "relaypass.moderated", id: asked?.["id"], action: "remove" });
  await removing;

  const listing = socket.participants({ tier: "viewer" });
  const query = fake.sent.at(-1);
  assert.equal(query?.["tier"], "viewer");
  const listed = [{ participant: "vic", tier: "viewer", state: "admitted", since: 1 }];
  fake.gateSays({ type: "relaypass.participants", id: query?.["id"], participants: listed });
  assert.deepEqual(await listing, listed);

  const ending = socket.moderate({ action: "end" });
  fake.gateSays({ type: "relaypass.moderate_failed", id: fake.sent.at(-1)?.["id"], code: "INVALID_PERMISSIONS" });
  await assert.rejects(ending, (error: unknown) => error instanceof RelaypassError && error.code === ErrorCode.INVALID_PERMISSIONS);

  const pending = socket.participants();
  fake.gateCloses(4404, "ROOM_ENDED");
  await assert.rejects(pending, (error: unknown) => error instanceof RelaypassError && error.code === ErrorCode.UNAVAILABLE);
});

test("a frame with an unknown id is an event, not an answer", async () => {
  const events: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  const socket = new GatedSocket({
    url: "ws://gate.test/standup",
    provider: new TokenProvider(async () => jwt({ iat: now, exp: now + 3600 })),
    onEvent: (event) => events.push(event.type),
    WebSocket: FakeSocket as unknown as typeof WebSocket,
  });
  const fake = await connected(socket, { exp: 1 });
  fake.gateSays({ type: "relaypass.participant-waiting", id: "nobody-asked", participant: "eve" });
  assert.deepEqual(events, ["participant-waiting"]);
  socket.close();
});
