import { RelaypassError } from "./errors.js";
import type { Procedures } from "./procedures.js";

export type { Procedures } from "./procedures.js";

export interface RelaypassBackendOptions {
  /** The control plane, e.g. `https://relaypass.internal:8700`. */
  url: string;
  /** An API key with the scopes the calls need (`tokens:mint` to mint). Server-side only. */
  apiKey: string;
  /** The `fetch` to use (tests). */
  fetch?: typeof fetch;
}

type Input<N extends keyof Procedures> = Procedures[N]["input"];
type Output<N extends keyof Procedures> = Procedures[N]["output"];

/**
 * The control plane from a customer's Node backend: every procedure, typed from the procedure
 * table, over `POST /rpc/<name>`. Mints the browser and room tokens a page then uses; the API key
 * never leaves the backend.
 */
export class RelaypassBackend {
  readonly #url: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;

  constructor(options: RelaypassBackendOptions) {
    if (typeof window !== "undefined" && typeof document !== "undefined") {
      throw new Error("RelaypassBackend holds an API key: use it on your server, never in a page");
    }
    this.#url = options.url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Call any procedure by name; refusals reject with `RelaypassError`. */
  async call<N extends keyof Procedures>(name: N, ...input: Input<N> extends void ? [Input<N>?] : [Input<N>]): Promise<Output<N>> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.#url}/rpc/${name}`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.#apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(input[0] ?? {}),
      });
    } catch (error) {
      throw RelaypassError.network(error);
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      throw RelaypassError.fromResponse(response.status, body, response.headers.get("retry-after"));
    }
    return body as Output<N>;
  }

  /** A room token for a page (VideoSDK-style grant, lobby and tier). */
  mintRoomToken(input: Input<"tokens.room.mint">): Promise<Output<"tokens.room.mint">> {
    return this.call("tokens.room.mint", input);
  }

  /** A short-lived browser token for the voice bridge (ClutchCall). */
  mintBrowserToken(input: Input<"voice.audioBridge.mintBrowserToken">): Promise<Output<"voice.audioBridge.mintBrowserToken">> {
    return this.call("voice.audioBridge.mintBrowserToken", input);
  }
}
