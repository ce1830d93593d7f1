import { ErrorCode, HTTP_STATUS, RelaypassError } from "./errors.js";

/** Fetches a fresh token: your backend mints it (an API key never reaches a page). */
export type TokenFetch = () => Promise<string>;

export interface TokenProviderOptions {
  /** Refresh this long before `exp` at the latest (seconds; 60). */
  refreshMarginSeconds?: number;
  /** ...and no later than this fraction of the lifetime (0.8). */
  lifetimeFraction?: number;
  /** Move each refresh by up to this fraction of its delay, either way (0.1). */
  jitter?: number;
  /** After a transient failure, retry within this range of seconds ([5, 10]). */
  retrySeconds?: readonly [number, number];
  /** Seconds since the epoch (tests). */
  clock?: () => number;
  /** A number in [0, 1) (tests). */
  random?: () => number;
}

export interface UrlTokenProviderOptions extends TokenProviderOptions {
  /** Your backend's endpoint: `POST url` answers `{"token": "..."}`. */
  url: string;
  /** Sent as the JSON body (e.g. the room or the stream asked for). */
  body?: unknown;
  headers?: Record<string, string>;
  /** `include` sends your site's session cookie to your backend. */
  credentials?: RequestCredentials;
  /** The `fetch` to use (tests, or a Node backend). */
  fetch?: typeof fetch;
}

interface Token {
  value: string;
  issuedAt: number;
  expiresAt: number;
}

/** `iat` and `exp` read without verifying: the provider only schedules with them. */
function parse(value: string, now: number): Token {
  const payload = value.split(".")[1];
  let claims: Record<string, unknown> = {};
  if (payload !== undefined) {
    try {
      const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
      const parsed: unknown = JSON.parse(json);
      if (typeof parsed === "object" && parsed !== null) claims = parsed as Record<string, unknown>;
    } catch {
      // not a JWT we can read: served until a fetch replaces it
    }
  }
  const exp = typeof claims["exp"] === "number" ? claims["exp"] : Number.POSITIVE_INFINITY;
  const iat = typeof claims["iat"] === "number" && claims["iat"] <= now ? claims["iat"] : now;
  return { value, issuedAt: iat, expiresAt: exp };
}

function isTerminal(error: unknown): boolean {
  if (!(error instanceof RelaypassError)) return false;
  const status = error.status ?? HTTP_STATUS[error.code];
  return status === 401 || status === 403;
}

/**
 * A cached token from `fetch`, refreshed ahead of its expiry: the same rules as the Python SDK.
 *
 * - refreshed at min(`exp` − 60 s, 80 % of its lifetime), moved by up to ±10 % jitter; a token
 *   shorter than two minutes is refreshed at half its lifetime, never on every call;
 * - one fetch at a time: concurrent callers share its result;
 * - a transient failure (network, 5xx, 429) is retried 5–10 s later while the cached token, if
 *   still valid, keeps being served;
 * - a 401 or 403 from the fetch is terminal: every later call rejects with it;
 * - once the cached token has expired and no fresh one could be fetched, calls reject with
 *   `TOKEN_EXPIRED` (kind `auth`).
 *
 * `provider.asFunction()` is the `tokenProvider: () => Promise<string>` SDKs ask for.
 */
export class TokenProvider {
  readonly #fetch: TokenFetch;
  readonly #margin: number;
  readonly #fraction: number;
  readonly #jitter: number;
  readonly #retry: readonly [number, number];
  readonly #clock: () => number;
  readonly #random: () => number;
  #token: Token | undefined;
  #refreshAt = 0;
  #retryAt = 0;
  #terminal: unknown;
  #lastError: unknown;
  #inflight: Promise<string> | undefined;

  constructor(fetch: TokenFetch, options: TokenProviderOptions = {}) {
    this.#fetch = fetch;
    this.#margin = options.refreshMarginSeconds ?? 60;
    this.#fraction = options.lifetimeFraction ?? 0.8;
    this.#jitter = options.jitter ?? 0.1;
    this.#retry = options.retrySeconds ?? [5, 10];
    this.#clock = options.clock ?? (() => Date.now() / 1000);
    this.#random = options.random ?? Math.random;
  }

  /** A valid token, fetching a fresh one when it is due. */
  token(): Promise<string> {
    let cached: string | undefined;
    try {
      cached = this.#cached();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (cached !== undefined) return Promise.resolve(cached);
    if (this.#inflight === undefined) {
      this.#inflight = this.#refresh().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  /** `() => provider.token()`, for SDKs that take a `tokenProvider` function. */
  asFunction(): () => Promise<string> {
    return () => this.token();
  }

  /** Seconds until the next refresh (or retry) is due. */
  get refreshInSeconds(): number {
    const due = this.#retryAt || this.#refreshAt;
    return Math.max(due - this.#clock(), 0);
  }

  /**
   * Until `signal` aborts: hand every new token to `onToken` as soon as it is fetched (for a
   * session that refreshes in-band). Rejects when the token expired beyond recovery or the fetch
   * was refused (401/403).
   */
  async keepFresh(onToken: (token: string) => void | Promise<void>, signal: AbortSignal): Promise<void> {
    let current: string | undefined;
    while (!signal.aborted) {
      const value = await this.token();
      if (value !== current) {
        await onToken(value);
        current = value;
      }
      await sleep(Math.min(this.refreshInSeconds, 60) * 1000 + 10, signal);
    }
  }

  #cached(): string | undefined {
    if (this.#terminal !== undefined) throw this.#terminal;
    const now = this.#clock();
    const token = this.#token;
    if (token !== undefined && now < this.#refreshAt) return token.value;
    if (token !== undefined && now < this.#retryAt) {
      if (now < token.expiresAt) return token.value; // a retry is pending; the old token works
      throw this.#expired();
    }
    return undefined;
  }

  async #refresh(): Promise<string> {
    let value: string;
    try {
      value = await this.#fetch();
    } catch (error) {
      return this.#failed(error);
    }
    return this.#accept(value);
  }

  #accept(value: string): string {
    const now = this.#clock();
    const token = parse(value, now);
    const lifetime = Math.max(token.expiresAt - token.issuedAt, 0);
    let lead = Math.min(token.expiresAt - this.#margin, token.issuedAt + this.#fraction * lifetime);
    lead = Math.max(lead, token.issuedAt + lifetime / 2); // short tokens: not before half-life
    const spread = 1 + (this.#random() * 2 - 1) * this.#jitter;
    const delay = Math.max(lead - token.issuedAt, 0) * spread;
    this.#token = token;
    this.#refreshAt = token.issuedAt + delay;
    this.#retryAt = 0;
    this.#lastError = undefined;
    return value;
  }

  #failed(error: unknown): string {
    if (isTerminal(error)) {
      this.#terminal = error;
      throw error;
    }
    const now = this.#clock();
    this.#lastError = error;
    const [low, high] = this.#retry;
    this.#retryAt = now + low + this.#random() * (high - low);
    const token = this.#token;
    if (token === undefined) throw error;
    if (now < token.expiresAt) return token.value;
    throw this.#expired();
  }

  #expired(): RelaypassError {
    return new RelaypassError(ErrorCode.TOKEN_EXPIRED, "the token expired and no fresh one could be fetched", {
      cause: this.#lastError,
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A provider over your own fetch function (`tokenProvider: () => Promise<string>`). */
export function tokenProvider(fetch: TokenFetch, options: TokenProviderOptions = {}): TokenProvider {
  return new TokenProvider(fetch, options);
}

/** A provider over your backend's token endpoint, or over a fetch function of yours. */
export function createTokenProvider(
  options: UrlTokenProviderOptions | ({ fetch: TokenFetch } & TokenProviderOptions),
): TokenProvider {
  if (!("url" in options)) return new TokenProvider(options.fetch, options);
  const { url, body, headers, credentials } = options;
  const request = options.fetch ?? globalThis.fetch.bind(globalThis);
  return new TokenProvider(async () => {
    let response: Response;
    try {
      response = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body ?? {}),
        ...(credentials ? { credentials } : {}),
      });
    } catch (error) {
      throw RelaypassError.network(error);
    }
    const answer: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      throw RelaypassError.fromResponse(response.status, answer, response.headers.get("retry-after"));
    }
    const token = typeof answer === "object" && answer !== null ? (answer as { token?: unknown }).token : undefined;
    if (typeof token !== "string" || token === "") {
      throw new RelaypassError(ErrorCode.INVALID_REQUEST, "the token endpoint answered without a token", {
        status: response.status,
      });
    }
    return token;
  }, options);
}
