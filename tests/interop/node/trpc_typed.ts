// A typed @trpc/client program against the generated router type, checked by strict tsc and run.
// argv: <trpc url> <api key> <another org's id>; stdout: what it saw, as JSON.
import { createTRPCClient, httpBatchStreamLink, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../../../clients/js/trpc/app-router.js";

declare const process: { argv: string[]; stdout: { write(text: string): void } };

const [url, key, otherOrg] = process.argv.slice(2);
const client = createTRPCClient<AppRouter>({
  links: [httpBatchStreamLink({ url, headers: () => ({ authorization: `Bearer ${key}` }) })],
});

const who = await client.auth.whoami.query();
const orgId: string = who.orgId;
const [minted, tenants] = await Promise.all([
  client.tokens.relay.mint.mutate({ ns: ["live/**"] }), // orgId and tenant may be left out
  client.tenants.list.query(),
]);
const expiresAt: number | null = minted.expiresAt;

// What the types refuse (tsc fails if any of these compiled):
// @ts-expect-error: ns is required
const noNs = () => client.tokens.relay.mint.mutate({});
// @ts-expect-error: no such procedure
const missing = () => client.tokens.nope.mutate({});
// @ts-expect-error: a query is not a mutation
const wrongKind = () => client.auth.whoami.mutate();
// @ts-expect-error: ttlSeconds is a number
const wrongType = () => client.tokens.moq.mint.mutate({ ttlSeconds: "1h" });
void [noNs, missing, wrongKind, wrongType];

let code: string | null = null;
try {
  await client.streams.apiKeys.list.query({ orgId: otherOrg });
} catch (error) {
  if (error instanceof TRPCClientError) {
    const typed = error as TRPCClientError<AppRouter>;
    code = typed.data?.relaypassCode ?? null;
  }
}
process.stdout.write(
  JSON.stringify({
    orgId,
    token: minted.token.split(".").length,
    expiresAt,
    tenants: tenants.tenants.map((t) => t.id),
    code,
  }),
);
