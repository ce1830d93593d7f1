// Drive relaypass's /trpc with the real @trpc/client v11.
// stdin: {url, link: "http"|"batch"|"stream", superjson: bool, groups: [[{path, kind, input?, key, headers?}]]}
// Calls in one group run concurrently (so httpBatchLink batches them); groups run in order.
// stdout: one result per call, in order: {path, data} or {path, error: {...}}.
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink } from "@trpc/client";
import superjson from "superjson";

const spec = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const clients = new Map();
function client(key, headers) {
  const id = JSON.stringify([key, headers ?? {}]);
  if (!clients.has(id)) {
    const options = {
      url: spec.url,
      headers: () => ({ authorization: `Bearer ${key}`, ...(headers ?? {}) }),
      ...(spec.superjson ? { transformer: superjson } : {}),
    };
    const makers = { http: httpLink, batch: httpBatchLink, stream: httpBatchStreamLink };
    const link = makers[spec.link](options);
    clients.set(id, createTRPCClient({ links: [link] }));
  }
  return clients.get(id);
}

async function run(call) {
  const procedure = call.path.split(".").reduce((node, part) => node[part], client(call.key, call.headers));
  try {
    const args = "input" in call ? [call.input] : [];
    const data = call.kind === "query" ? await procedure.query(...args) : await procedure.mutate(...args);
    return { path: call.path, data };
  } catch (error) {
    return {
      path: call.path,
      error: {
        name: error.name,
        message: error.message,
        code: error.data?.code ?? null,
        httpStatus: error.data?.httpStatus ?? null,
        relaypassCode: error.data?.relaypassCode ?? null,
        jsonRpcCode: error.shape?.code ?? null,
      },
    };
  }
}

const results = [];
for (const group of spec.groups) {
  results.push(...(await Promise.all(group.map(run))));
}
process.stdout.write(JSON.stringify(results));
