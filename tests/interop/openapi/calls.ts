// Correct calls, typed by openapi-typescript's output with its default options: strict tsc must pass.
import type { components, paths } from "./.build/openapi.js";

type Body<P extends keyof paths> = paths[P] extends {
  post: { requestBody?: { content: { "application/json": infer B } } };
}
  ? B
  : never;
type Answer<P extends keyof paths> = paths[P] extends {
  post: { responses: { 200: { content: { "application/json": infer A } } } };
}
  ? A
  : never;

// Inputs with defaults may be left out, as the service allows.
export const relay: Body<"/rpc/tokens.relay.mint"> = { ns: ["live/**"] };
export const playback: Body<"/rpc/streams.signingKeys.mintPlaybackToken"> = { inputId: "li_xyz" };
export const browser: Body<"/rpc/voice.audioBridge.mintBrowserToken"> = { callSid: "sid_xyz" };
export const moq: components["schemas"]["MoqMint"] = {};
export const apiKey: Body<"/rpc/streams.apiKeys.create"> = { label: "ci", scopes: ["tokens:mint"] };
export const tenants: Body<"/rpc/tenants.list"> = {};
// Answers carry what the service always sends.
export function tokenOf(answer: Answer<"/rpc/tokens.relay.mint">): string {
  return answer.token;
}
// @ts-expect-error: ns is required
export const missing: Body<"/rpc/tokens.relay.mint"> = {};
