import assert from "node:assert/strict";
import { test } from "node:test";

import { ErrorCode, ErrorKind, HTTP_STATUS, isErrorCode, RelaypassError } from "../src/index.js";

test("every code has a kind and a status", () => {
  for (const code of Object.values(ErrorCode)) {
    const error = new RelaypassError(code);
    assert.ok(Object.values(ErrorKind).includes(error.kind), code);
    assert.equal(typeof HTTP_STATUS[code], "number");
    assert.ok(error.publicMessage.length > 0);
  }
});

test("a problem+json refusal becomes its code, kind and status", () => {
  const error = RelaypassError.fromResponse(403, {
    type: "https://relaypass.dev/errors/unauthorized_path",
    code: "UNAUTHORIZED_PATH",
    detail: "outside the token's root",
  });
  assert.equal(error.code, ErrorCode.UNAUTHORIZED_PATH);
  assert.equal(error.kind, ErrorKind.Permission);
  assert.equal(error.status, 403);
  assert.equal(error.message, "outside the token's root");
  assert.ok(error instanceof Error);
});

test("a gate's {code, reason} and bare statuses are read too", () => {
  assert.equal(RelaypassError.fromResponse(401, { code: "INVALID_TOKEN", reason: "x" }).kind, ErrorKind.Auth);
  assert.equal(RelaypassError.fromResponse(401, "not json").code, ErrorCode.INVALID_TOKEN);
  assert.equal(RelaypassError.fromResponse(503, {}).kind, ErrorKind.Network);
  assert.equal(RelaypassError.fromResponse(418, { code: "TEAPOT" }).code, ErrorCode.INVALID_REQUEST);
  const limited = RelaypassError.fromResponse(429, { code: "RATE_LIMITED" }, "12");
  assert.equal(limited.retryAfterSeconds, 12);
  assert.equal(limited.kind, ErrorKind.Limit);
});

test("isErrorCode accepts only the service's codes", () => {
  assert.ok(isErrorCode("ROOM_ENDED"));
  assert.ok(!isErrorCode("room_ended"));
  assert.ok(!isErrorCode(7));
});
